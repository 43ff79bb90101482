"""Warnings before a breach and alerts in service hours (policy/warnings.py): each offset's moment counted back
in working time, the tightest passed offset only, no warning once stopped or breached, and an alert computed
outside service hours held until the next opening, a blocking bug's not. Expected moments are worked out by
hand in the comments, Paris wall-clock time (November 2026: Wednesday 11 is Armistice Day)."""

from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from policy.calendar import PARIS
from policy.commitments import Ticket, WorkingCalendar, clocks_under, working_time_between
from policy.terms import Terms
from policy.warnings import Offset, delivery_moment, due_warning, next_warning_at, subtract_working_time, \
    warning_moments

CAL = WorkingCalendar()
TERMS = Terms()


def paris(*parts) -> datetime:
    return datetime(*parts, tzinfo=PARIS)


def test_the_terms_warn_4_then_1_working_hours_before_by_default_and_refuse_an_offset_twice():
    assert [(offset.amount, offset.unit, offset.minutes) for offset in TERMS.warnings] == [
        (4, "working_hours", 240), (1, "working_hours", 60)]
    with pytest.raises(ValidationError, match="a warning offset is repeated: 240 working minutes"):
        Terms(warnings=[{"amount": 4, "unit": "working_hours"}, {"amount": 240, "unit": "working_minutes"}])
    with pytest.raises(ValidationError):
        Terms(warnings=[{"amount": 0, "unit": "working_hours"}])


@pytest.mark.parametrize(("due", "span", "expected"), [
    (paris(2026, 11, 23, 10, 0), timedelta(hours=4), paris(2026, 11, 20, 15, 0)),   # Mon 10:00: 1 h Mon + 3 h Fri
    (paris(2026, 11, 12, 10, 0), timedelta(hours=4), paris(2026, 11, 10, 15, 0)),   # Thu 10:00: Wed 11 a holiday
    (paris(2026, 11, 23, 9, 0), timedelta(hours=1), paris(2026, 11, 20, 17, 0)),    # at the opening: Fri 17:00
    (paris(2026, 11, 18, 13, 0), timedelta(hours=4), paris(2026, 11, 18, 9, 0)),    # lands at the opening: stays
    (paris(2026, 11, 21, 12, 0), timedelta(hours=1), paris(2026, 11, 20, 17, 0)),   # due on a Saturday
    (paris(2026, 11, 18, 20, 0), timedelta(minutes=30), paris(2026, 11, 18, 17, 30)),  # due in the evening
])
def test_an_offset_is_counted_back_in_working_time(due, span, expected):
    moment = subtract_working_time(due, span, CAL)
    assert moment == expected and moment.tzinfo is PARIS
    assert working_time_between(moment, due, CAL) == span


def test_a_clock_is_warned_at_each_offset_the_tightest_passed_only_and_not_once_breached_or_stopped():
    # a question received Monday 16 Nov 09:00: first response due Wednesday 18 Nov 09:00 (2 working days)
    ticket = Ticket(type="question", received_at=paris(2026, 11, 16, 9, 0))
    [clock] = clocks_under(TERMS, ticket, paris(2026, 11, 16, 9, 0))
    assert [(offset.minutes, moment) for offset, moment in warning_moments(clock, TERMS.warnings, CAL)] == [
        (240, paris(2026, 11, 17, 14, 0)), (60, paris(2026, 11, 17, 17, 0))]

    def warning(at):
        [clock] = clocks_under(TERMS, ticket, at)
        found = due_warning(clock, TERMS.warnings, at, CAL)
        return found[0].minutes if found else None

    assert [warning(at) for at in (paris(2026, 11, 17, 13, 59), paris(2026, 11, 17, 14, 0),
                                   paris(2026, 11, 17, 16, 59), paris(2026, 11, 17, 17, 0),
                                   paris(2026, 11, 17, 23, 0), paris(2026, 11, 18, 9, 0),
                                   paris(2026, 11, 18, 9, 1))] == [None, 240, 240, 60, 60, 60, None]
    assert next_warning_at(clocks_under(TERMS, ticket, paris(2026, 11, 17, 14, 0)), TERMS.warnings,
                           paris(2026, 11, 17, 14, 0), CAL) == paris(2026, 11, 17, 17, 0)
    answered = Ticket(type="question", received_at=paris(2026, 11, 16, 9, 0),
                      first_response_at=paris(2026, 11, 17, 12, 0))
    [clock] = clocks_under(TERMS, answered, paris(2026, 11, 17, 15, 0))
    assert due_warning(clock, TERMS.warnings, paris(2026, 11, 17, 15, 0), CAL) is None
    assert next_warning_at([clock], TERMS.warnings, paris(2026, 11, 17, 15, 0), CAL) is None


def test_an_offset_not_shorter_than_the_allowance_is_skipped():
    # a critical blocking bug has 4 working hours: warned 1 h before only (4 h before is its arrival)
    ticket = Ticket(type="blocking_bug", severity="critical", received_at=paris(2026, 11, 18, 10, 0))
    clocks = {clock.name: clock for clock in clocks_under(TERMS, ticket, paris(2026, 11, 18, 10, 0))}
    moments = warning_moments(clocks["blocking_workaround"], TERMS.warnings, CAL)
    assert [(offset.minutes, moment) for offset, moment in moments] == [(60, paris(2026, 11, 18, 13, 0))]


@pytest.mark.parametrize(("at", "kind", "goes"), [
    (paris(2026, 11, 20, 19, 0), "bug", paris(2026, 11, 23, 9, 0)),             # Friday evening: Monday's opening
    (paris(2026, 11, 21, 10, 0), "question", paris(2026, 11, 23, 9, 0)),        # Saturday
    (paris(2026, 11, 11, 10, 0), "bug", paris(2026, 11, 12, 9, 0)),             # Armistice Day: Thursday
    (paris(2026, 11, 18, 8, 59), "evolution", paris(2026, 11, 18, 9, 0)),       # before the opening
    (paris(2026, 11, 18, 18, 0), "bug", paris(2026, 11, 19, 9, 0)),             # 18:00 sharp is closed
    (paris(2026, 11, 18, 17, 59), "bug", paris(2026, 11, 18, 17, 59)),          # in service hours: at once
    (paris(2026, 11, 21, 3, 0), "blocking_bug", paris(2026, 11, 21, 3, 0)),     # a blocking bug: at once, at night
])
def test_an_alert_waits_for_the_opening_except_a_blocking_bugs(at, kind, goes):
    assert delivery_moment(at, kind, CAL) == goes


def test_offsets_describe_themselves():
    assert Offset(amount=1, unit="working_hours").describe() == "1 working hour"
    assert Offset(amount=90, unit="working_minutes").describe() == "90 working minutes"
