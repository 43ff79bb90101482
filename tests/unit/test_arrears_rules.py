"""The arrears engine: stages from facts, late runs, moves down, the deletion plan, penalties."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policy.arrears import Owed, Stage, anchor, deletion_due_on, deletion_plan, implied_stage, ladder, penalty_for, transitions
from policy.terms import Terms

TERMS = Terms()
RULES = ladder(TERMS)


def invoice(ref, due, total="120.00", payments=(), kind="monthly", status="open"):
    return Owed(ref, kind, status, due, Decimal(total), tuple((d, Decimal(a)) for d, a in payments))


def test_31_january_plus_one_month_is_the_last_day_of_february():
    assert implied_stage(date(2026, 1, 31), date(2026, 2, 27), RULES) is Stage.CURRENT
    assert implied_stage(date(2026, 1, 31), date(2026, 2, 28), RULES) is Stage.ADMIN_DISABLED
    assert implied_stage(date(2026, 1, 31), date(2026, 3, 31), RULES) is Stage.PLATFORM_DISABLED


def test_the_anchor_is_the_oldest_unpaid_overdue_invoice_and_ignores_excluded_ones():
    invoices = [invoice("disputed", date(2026, 1, 1), status="disputed"),
                invoice("written", date(2026, 1, 2), status="written_off"),
                invoice("penalty", date(2026, 1, 3), kind="penalty"),
                invoice("paid", date(2026, 2, 1), payments=[(date(2026, 2, 1), "120.00")]),
                invoice("partial", date(2026, 3, 1), payments=[(date(2026, 3, 5), "100.00")]),
                invoice("later", date(2026, 4, 1))]
    assert anchor(invoices, date(2026, 5, 1)) == date(2026, 3, 1)     # a partial payment moves nothing
    assert anchor(invoices, date(2026, 3, 1)) is None                  # due today is not yet overdue


def test_a_late_run_records_every_stage_it_passed_in_order():
    steps = transitions(Stage.CURRENT, date(2026, 1, 31), date(2026, 4, 10), RULES)
    assert [(s.stage, s.effective_on) for s in steps] == [(Stage.ADMIN_DISABLED, date(2026, 2, 28)),
                                                         (Stage.PLATFORM_DISABLED, date(2026, 3, 31))]


def test_a_payment_brings_the_stage_down_today_and_nothing_reaches_deletion_by_itself():
    assert [(s.stage, s.effective_on) for s in transitions(Stage.PLATFORM_DISABLED, None, date(2026, 5, 2), RULES)] == [
        (Stage.CURRENT, date(2026, 5, 2))]
    assert [s.stage for s in transitions(Stage.PLATFORM_DISABLED, date(2026, 4, 1), date(2026, 5, 2), RULES)] == [
        Stage.ADMIN_DISABLED]
    assert [s.stage for s in transitions(Stage.CURRENT, date(2025, 1, 1), date(2026, 5, 2), RULES)] == [
        Stage.ADMIN_DISABLED, Stage.PLATFORM_DISABLED]
    assert transitions(Stage.DATA_DELETED, None, date(2026, 5, 2), RULES) == []
    assert transitions(Stage.ADMIN_DISABLED, date(2025, 1, 1), date(2026, 5, 2), RULES, exempt=True)[0].stage is Stage.CURRENT


def test_the_deletion_needs_its_full_notice():
    plan = deletion_plan(date(2026, 1, 31), TERMS)
    assert plan.earliest == date(2026, 7, 31) and plan.notice_on == date(2026, 7, 1)
    assert deletion_due_on(plan, date(2026, 7, 1), TERMS) == date(2026, 7, 31)
    assert deletion_due_on(plan, date(2026, 7, 20), TERMS) == date(2026, 8, 19)  # a late notice pushes it back


def test_penalty_is_ten_percent_of_the_balance_at_the_due_date_plus_forty():
    late = invoice("F", date(2026, 3, 31), "1188.00", payments=[(date(2026, 3, 31), "188.00"), (date(2026, 4, 5), "1000.00")])
    penalty = penalty_for(late, date(2026, 4, 1), TERMS, exempt=False)
    assert (penalty.base, penalty.penalty, penalty.indemnity) == (Decimal("1000.00"), Decimal("100.00"), Decimal("40.00"))
    assert penalty_for(late, date(2026, 3, 31), TERMS, exempt=False) is None                 # not before the day after
    assert penalty_for(late, date(2026, 4, 1), TERMS, exempt=True) is None
    assert penalty_for(invoice("P", date(2026, 1, 1), kind="penalty"), date(2026, 5, 1), TERMS, False) is None
    assert penalty_for(invoice("D", date(2026, 1, 1), status="disputed"), date(2026, 5, 1), TERMS, False) is None
    on_time = invoice("OK", date(2026, 3, 31), payments=[(date(2026, 3, 31), "120.00")])
    assert penalty_for(on_time, date(2026, 6, 1), TERMS, False) is None


@given(st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 12, 31)),
       st.integers(0, 400), st.sampled_from([Stage.CURRENT, Stage.ADMIN_DISABLED, Stage.PLATFORM_DISABLED]))
def test_applying_the_transitions_lands_on_the_implied_stage_capped_before_deletion(anchor_on, days_later, current):
    day = date.fromordinal(anchor_on.toordinal() + days_later)
    steps = transitions(current, anchor_on, day, RULES)
    final = steps[-1].stage if steps else current
    implied = implied_stage(anchor_on, day, RULES)
    assert final is (Stage.PLATFORM_DISABLED if implied is Stage.DATA_DELETED else implied)
    assert [s.effective_on for s in steps] == sorted(s.effective_on for s in steps)
    assert all(s.effective_on <= day for s in steps)


def test_each_stage_is_one_state_with_its_threshold_access_and_notice():
    from policy.arrears import STATES, Entry, state
    from policy.access import Flags

    assert [item.stage for item in STATES] == list(Stage)
    assert [(rule.stage, rule.months) for rule in RULES] == [
        (Stage.ADMIN_DISABLED, 1), (Stage.PLATFORM_DISABLED, 2), (Stage.DATA_DELETED, 6)]
    assert state(Stage.ADMIN_DISABLED).access == Flags(False, True, True)
    assert state(Stage.PLATFORM_DISABLED).access == Flags(False, False, False)
    assert [item.notice.kind for item in STATES] == ["access_restored", "admin_disabled", "platform_disabled",
                                                     "data_deleted"]
    assert state(Stage.DATA_DELETED).warning.kind == "deletion_notice"
    assert [item.entry for item in STATES] == [Entry.AUTOMATIC] * 3 + [Entry.APPROVED]


def test_the_engine_reads_the_thresholds_of_the_terms_ops_set():
    strict = ladder(Terms(admin_disabled_after_months=2, platform_disabled_after_months=3, data_deleted_after_months=9))
    assert [(rule.stage, rule.months) for rule in strict] == [
        (Stage.ADMIN_DISABLED, 2), (Stage.PLATFORM_DISABLED, 3), (Stage.DATA_DELETED, 9)]
    anchor_on = date(2026, 1, 31)
    assert implied_stage(anchor_on, date(2026, 3, 30), strict) is Stage.CURRENT       # 1 month: nothing yet
    assert [(s.stage, s.effective_on) for s in transitions(Stage.CURRENT, anchor_on, date(2026, 11, 2), strict)] == [
        (Stage.ADMIN_DISABLED, date(2026, 3, 31)), (Stage.PLATFORM_DISABLED, date(2026, 4, 30))]
    assert implied_stage(anchor_on, date(2026, 10, 31), strict) is Stage.DATA_DELETED  # implied, never entered here


def test_a_state_entered_on_approval_stops_the_engine_below_it_wherever_it_stands():
    from dataclasses import replace

    from policy.arrears import Entry, Ladder

    # the same ladder, with the platform's switch-off made a person's decision: the engine stops at the admin area
    rungs = tuple(replace(rung, state=replace(rung.state, entry=Entry.APPROVED))
                  if rung.stage is Stage.PLATFORM_DISABLED else rung for rung in RULES)
    steps = transitions(Stage.CURRENT, date(2026, 1, 31), date(2026, 9, 1), Ladder(rungs))
    assert [s.stage for s in steps] == [Stage.ADMIN_DISABLED]


def test_notices_follow_the_terms_ops_set():
    from policy.arrears import state

    facts = dict(name="ACME", anchor=date(2026, 1, 31), on=date(2026, 3, 31), owed=Decimal("1120.00"),
                 due=date(2026, 9, 30), unpaid_for="8 months", contact="01 23 45 67 89")
    _, body = state(Stage.PLATFORM_DISABLED).notice.render(TERMS, "en", **facts)
    assert "(2 months of delay)" in body and "After 6 months of delay" in body and "01 23 45 67 89" in body
    assert "settle €1,120.00" in body and "due on January 31, 2026" in body
    strict = Terms(admin_disabled_after_months=2, platform_disabled_after_months=3, data_deleted_after_months=9)
    _, body = state(Stage.PLATFORM_DISABLED).notice.render(strict, "en", **facts)
    assert "(3 months of delay)" in body and "After 9 months of delay" in body
    _, body = state(Stage.ADMIN_DISABLED).notice.render(strict, "en", **facts)
    assert "(2 months of delay)" in body
    subject, body = state(Stage.DATA_DELETED).warning.render(strict, "en", **facts)
    assert subject == "Your platform's data will be deleted on September 30, 2026" and "unpaid for 8 months" in body
    with pytest.raises(KeyError):  # a placeholder nobody fills is a bug, never a notice with a hole
        state(Stage.ADMIN_DISABLED).notice.render(TERMS, "en", name="ACME")


def test_a_french_customer_reads_the_notices_in_french_with_french_amounts_and_dates():
    from policy.arrears import state

    facts = dict(name="ACME", anchor=date(2026, 1, 31), on=date(2026, 3, 31), owed=Decimal("1120.00"),
                 due=date(2026, 9, 30), unpaid_for="8 mois", contact="01 23 45 67 89")
    subject, body = state(Stage.PLATFORM_DISABLED).notice.render(TERMS, "fr", **facts)
    assert subject == "Retard de paiement : votre plateforme est désactivée"
    assert "Votre facture échue le 31 janvier 2026 est toujours impayée" in body
    assert "(2 mois de retard)" in body and "Après 6 mois de retard" in body and "régler 1\u00a0120,00\u00a0€" in body
    subject, body = state(Stage.DATA_DELETED).warning.render(TERMS, "fr", **facts)
    assert subject == "Les données de votre plateforme seront supprimées le 30 septembre 2026"
    assert "impayée depuis 8 mois" in body


def test_the_deletion_notice_says_how_long_the_invoice_is_really_unpaid():
    """Sent late (6 months and 6 days after the due date), it says so, never "close to 6 months"."""
    from policy.arrears import unpaid_for
    from policy.language import speak
    from policy.notices import duration

    assert unpaid_for(date(2026, 1, 31), date(2026, 7, 6)) == (5, 6)      # 31 Jan + 5 months = 30 Jun (clipped)
    assert unpaid_for(date(2026, 1, 15), date(2026, 7, 21)) == (6, 6)
    assert unpaid_for(date(2026, 1, 15), date(2026, 7, 15)) == (6, 0)
    assert unpaid_for(date(2026, 6, 15), date(2026, 7, 14)) == (0, 29)
    english, french = speak("en"), speak("fr")
    assert duration(6, 6, english) == "6 months and 6 days" and duration(6, 6, french) == "6 mois et 6 jours"
    assert duration(6, 0, english) == "6 months" and duration(1, 1, english) == "1 month and 1 day"
    assert duration(0, 12, french) == "12 jours" and duration(1, 1, french) == "1 mois et 1 jour"
