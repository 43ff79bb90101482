"""The service credits' and the commitment metrics' arithmetic (policy/service_credits.py,
policy/commitment_metrics.py), to the cent and to the hundredth of an hour."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from policy.calendar import PARIS
from policy.commitment_metrics import Measured, hours, metrics, percentile
from policy.commitments import Ticket
from policy.service_credits import CreditRate, Miss, ServiceCredits, month_credits, share_for

DUE = datetime(2026, 10, 14, 10, 0, tzinfo=PARIS)


def test_each_miss_earns_its_share_to_the_cent_and_the_month_stops_at_the_cap():
    terms = ServiceCredits(enabled=True, monthly_cap=Decimal("0.25"))
    misses = [Miss("T-3", "delivery", "major", DUE + timedelta(days=2)),
              Miss("T-1", "first_response", None, DUE),
              Miss("T-2", "blocking_workaround", "critical", DUE + timedelta(days=1))]
    # fee 333.33: 2 % = 6.6666 -> 6.67; 10 % = 33.333 -> 33.33; 5 % = 16.6665 -> 16.67; the cap 25 % = 83.33
    earned = month_credits(misses, Decimal("333.33"), terms)
    assert [(item.miss.ticket_id, item.amount, item.capped) for item in earned] == [
        ("T-1", Decimal("6.67"), False), ("T-2", Decimal("33.33"), False), ("T-3", Decimal("16.67"), False)]
    # a tighter cap, 10 % = 33.33: served by due time, T-2 gets what is left (33.33 - 6.67), T-3 nothing
    tight = month_credits(misses, Decimal("333.33"), terms.model_copy(update={"monthly_cap": Decimal("0.10")}))
    assert [(item.miss.ticket_id, item.amount, item.capped) for item in tight] == [
        ("T-1", Decimal("6.67"), False), ("T-2", Decimal("26.66"), True)]


def test_the_first_matching_rate_applies_a_severity_before_the_clocks_general_row():
    rates = [CreditRate(clock="blocking_workaround", severity="critical", share=Decimal("0.10")),
             CreditRate(clock="blocking_workaround", share=Decimal("0.05"))]
    assert share_for(rates, "blocking_workaround", "critical") == Decimal("0.10")
    assert share_for(rates, "blocking_workaround", "minor") == Decimal("0.05")
    assert share_for(rates, "delivery", None) == Decimal(0)
    assert not ServiceCredits().enabled  # off unless the vendor turns it on


@pytest.mark.parametrize(("values", "share", "expected"), [
    ([], "0.9", None), (["4"], "0.9", "4"), (["2", "8"], "0.5", "5"), (["2", "8"], "0.9", "7.4"),
    (["1", "2", "3", "4", "10"], "0.9", "7.6"), (["3", "1", "2"], "0.5", "2")])
def test_percentile_is_excels_inclusive_one(values, share, expected):
    result = percentile([Decimal(value) for value in values], Decimal(share))
    assert result == (Decimal(expected) if expected is not None else None)


def test_metrics_group_by_customer_type_and_severity():
    assert hours(timedelta(hours=19, minutes=20)) == Decimal("19.3333")
    items = [Measured("A", "ACME", "question", None, 1, 0, Decimal("2"), None, Decimal(0)),
             Measured("B", "ACME", "question", None, 0, 1, Decimal("8"), Decimal("9"), Decimal(0)),
             Measured("C", "ACME", "blocking_bug", "critical", 2, 0, None, None, Decimal(0))]
    rows = metrics(items)
    assert [(row["type"], row["tickets"], row["met"], row["missed"], row["rate"]) for row in rows] == [
        ("blocking_bug", 1, 2, 0, Decimal(1)), ("question", 2, 1, 1, Decimal("0.5"))]
    assert (rows[1]["median_response"], rows[1]["p90_response"], rows[1]["median_resolution"]) == (
        Decimal("5"), Decimal("7.4"), Decimal("9"))
    assert rows[0]["median_response"] is None


def test_a_ticket_is_measured_less_the_working_time_its_clocks_stood_still():
    # Monday 2 November 2026: received 09:00, answered 17:00 (8 working hours) after waiting 2 working hours
    # for the customer; resolved Tuesday 12:00 (12 working hours) with 3 working hours paused in all
    from policy.commitment_metrics import measure
    from policy.commitments import Clock, ClockState, WorkingCalendar
    from policy.terms import Terms

    received = datetime(2026, 11, 2, 9, 0, tzinfo=PARIS)
    ticket = Ticket(type="bug", received_at=received, severity="major",
                    first_response_at=received + timedelta(hours=8), resolved_at=datetime(2026, 11, 3, 12, 0, tzinfo=PARIS))
    clocks = [Clock("first_response", received + timedelta(days=2), ticket.first_response_at, ClockState.MET, received,
                    timedelta(hours=18), paused=timedelta(hours=2)),
              Clock("delivery", received + timedelta(days=20), ticket.resolved_at, ClockState.MET, received,
                    timedelta(hours=135), paused=timedelta(hours=3))]
    figures = measure("T-P", "ACME", ticket, clocks, WorkingCalendar.of(Terms()))
    assert (figures.response_hours, figures.resolution_hours, figures.paused_hours, figures.met) == (
        Decimal("6.0000"), Decimal("9.0000"), Decimal("3.0000"), 2)
