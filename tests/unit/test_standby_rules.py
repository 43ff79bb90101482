from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from policy.access import Flags
from policy.arrears import flags_for
from policy.standby import Period, default_end, period_problems, refusals, sweep


def test_access_flags_follow_stage_and_standby():
    assert flags_for("current", False) == Flags(True, True, True)
    assert flags_for("current", True) == Flags(True, True, False)
    assert flags_for("admin_disabled", False) == Flags(False, True, True)
    assert flags_for("admin_disabled", True) == Flags(False, True, False)
    assert flags_for("platform_disabled", False) == Flags(False, False, False)
    assert flags_for("data_deleted", True) == Flags(False, False, False)


def test_a_standby_defaults_to_three_months_and_cannot_exceed_them():
    start = date(2026, 11, 30)
    assert default_end(start, 3) == date(2027, 2, 28)
    assert period_problems("awaiting_approval", start, date(2027, 2, 28), 3) == []
    [problem] = period_problems("awaiting_approval", start, date(2027, 3, 1), 3)
    assert "cannot exceed 3 months" in problem


def test_only_the_three_reasons_of_the_seed_are_accepted():
    [problem] = period_problems("holidays", date(2026, 1, 1), date(2026, 2, 1), 3)
    assert "temporary_inactivity, awaiting_approval, third_party_integration" in problem


def test_an_end_before_the_start_is_refused():
    [problem] = period_problems("temporary_inactivity", date(2026, 5, 1), date(2026, 5, 1), 3)
    assert "must be after" in problem


def test_refused_in_arrears_and_when_already_on_standby():
    existing = [Period(date(2026, 1, 1), date(2026, 3, 1), "active")]
    reasons = refusals("temporary_inactivity", date(2026, 2, 1), date(2026, 4, 1), max_months=3, existing=existing,
                       overdue_invoices=["2026-000012"], stage="current")
    assert any("in arrears" in reason and "2026-000012" in reason for reason in reasons)
    assert any("already on standby" in reason for reason in reasons)


def test_accepted_right_after_a_finished_standby():
    existing = [Period(date(2026, 1, 1), date(2026, 3, 1), "ended")]
    assert refusals("temporary_inactivity", date(2026, 3, 1), date(2026, 4, 1), max_months=3, existing=existing,
                    overdue_invoices=[], stage="current") == []


def test_the_sweep_starts_warns_and_ends_in_order():
    periods = {1: Period(date(2026, 1, 10), date(2026, 3, 10), "scheduled")}
    assert [s.action for s in sweep(periods, date(2026, 1, 9), notice_days=14, noticed=set())] == []
    assert [s.action for s in sweep(periods, date(2026, 1, 10), notice_days=14, noticed=set())] == ["start"]
    active = {1: Period(date(2026, 1, 10), date(2026, 3, 10), "active")}
    assert [s.action for s in sweep(active, date(2026, 2, 23), notice_days=14, noticed=set())] == []
    assert [s.action for s in sweep(active, date(2026, 2, 24), notice_days=14, noticed=set())] == ["expiry_notice"]
    assert [s.action for s in sweep(active, date(2026, 2, 25), notice_days=14, noticed={1})] == []
    assert [s.action for s in sweep(active, date(2026, 3, 10), notice_days=14, noticed={1})] == ["end"]


def test_a_late_sweep_catches_up_a_whole_missed_period():
    periods = {7: Period(date(2026, 1, 10), date(2026, 2, 10), "scheduled")}
    assert [s.action for s in sweep(periods, date(2026, 3, 1), notice_days=14, noticed=set())] == ["start", "end"]


@given(st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 1, 1)), st.integers(1, 92), st.integers(-100, 200),
       st.sampled_from(["scheduled", "active", "ended"]))
def test_the_sweep_never_acts_before_a_period_is_due(start, length, offset, status):
    end = start + timedelta(days=length)
    day = start + timedelta(days=offset)
    actions = [s.action for s in sweep({1: Period(start, end, status)}, day, notice_days=14, noticed=set())]
    if "start" in actions:
        assert status == "scheduled" and start <= day
    if "end" in actions:
        assert end <= day and status != "ended"
    if "expiry_notice" in actions:
        assert end - timedelta(days=14) <= day < end
    if status == "ended":
        assert actions == []


def test_standby_states_say_what_runs_and_what_the_customer_is_told():
    from decimal import Decimal

    from policy.standby import STANDBY_ENDING, STANDBY_STATES
    from policy.terms import Terms

    assert not STANDBY_STATES["active"].operations and STANDBY_STATES["ended"].operations
    assert [state.notice.kind for state in STANDBY_STATES.values() if state.notice] == ["standby_started",
                                                                                        "standby_ended"]
    from datetime import date

    facts = dict(name="ACME", start_on=date(2026, 3, 2), end_on=date(2026, 6, 2), reason="temporary inactivity")
    _, body = STANDBY_STATES["active"].notice.render(Terms(standby_price_factor=Decimal("0.40")), "en", **facts)
    assert "billed at 40% of your subscription" in body and "from March 2, 2026 until June 2, 2026" in body
    _, body = STANDBY_ENDING.render(Terms(standby_expiry_notice_days=21), "en", **facts)
    assert "in 21 days at most" in body
    # the same notices to a French customer, with French dates and percentages
    subject, body = STANDBY_STATES["active"].notice.render(Terms(standby_price_factor=Decimal("0.40")), "fr",
                                                           **{**facts, "reason": "inactivité temporaire"})
    assert subject == "Votre plateforme est en veille jusqu'au 2 juin 2026"
    assert "facturée à 40\u00a0% de votre abonnement" in body and "du 2 mars 2026 au 2 juin 2026" in body
    _, body = STANDBY_ENDING.render(Terms(standby_expiry_notice_days=21), "fr", **facts)
    assert "dans 21 jours au plus" in body
