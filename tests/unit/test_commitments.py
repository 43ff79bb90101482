"""The service commitments' clocks (policy/commitments.py): working time, deadlines, states.

Every expected datetime is computed by hand in the comments, in Paris wall-clock time, then written as
UTC (CET = UTC+1 in winter, CEST = UTC+2 from the last Sunday of March to the last Sunday of October).
"""

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from policy.calendar import PARIS
from policy.commitments import (
    ClockState,
    Commitment,
    Limit,
    Ticket,
    WorkingCalendar,
    add_calendar_days,
    add_calendar_months,
    add_working_days,
    add_working_hours,
    clock_state,
    clocks_under,
    due_at,
    next_working_moment,
    ticket_state,
    working_time_between,
    worst,
)
from policy.terms import Terms

CAL = WorkingCalendar()
TERMS = Terms()
COMMITMENTS = {commitment.name: commitment for commitment in TERMS.commitments}


def paris(*parts) -> datetime:
    return datetime(*parts, tzinfo=PARIS)


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


def clocks(ticket: Ticket, now: datetime, terms: Terms = TERMS) -> dict:
    return {clock.name: clock for clock in clocks_under(terms, ticket, now)}


# --- the working calendar ---------------------------------------------------------------------------

@pytest.mark.parametrize("arrival, starts", [
    (paris(2026, 5, 7, 17, 59), utc(2026, 5, 7, 15, 59)),   # Thursday 17:59 is working time: itself
    (paris(2026, 5, 7, 18, 0), utc(2026, 5, 11, 7, 0)),     # 18:00 is closed; Fri 8 May (Victoire) off -> Mon 09:00
    (paris(2026, 5, 7, 18, 1), utc(2026, 5, 11, 7, 0)),     # same
    (paris(2026, 5, 9, 11, 0), utc(2026, 5, 11, 7, 0)),     # Saturday -> Monday 09:00 CEST
    (paris(2026, 5, 12, 8, 59), utc(2026, 5, 12, 7, 0)),    # before opening -> 09:00 the same day
    (paris(2026, 5, 1, 10, 0), utc(2026, 5, 4, 7, 0)),      # Friday 1 May (Labour Day) -> Monday 4 May 09:00
    (paris(2027, 5, 5, 18, 30), utc(2027, 5, 7, 7, 0)),     # Wed evening; Thu 6 May 2027 Ascension -> Fri 7 May 09:00
    (paris(2026, 7, 13, 18, 30), utc(2026, 7, 15, 7, 0)),   # Mon evening; Tue 14 July off -> Wed 15 July 09:00
    (paris(2026, 12, 24, 19, 0), utc(2026, 12, 28, 8, 0)),  # Thu 24 Dec evening; Fri 25 Dec off -> Mon 28 09:00 CET
    (utc(2026, 5, 7, 23, 0), utc(2026, 5, 11, 7, 0)),       # 23:00 UTC is Fri 8 May 01:00 in Paris -> Monday 09:00
    (utc(2026, 5, 12, 8, 0), utc(2026, 5, 12, 8, 0)),       # 08:00 UTC is 10:00 in Paris: working time
])
def test_a_clock_starts_at_the_next_working_moment(arrival, starts):
    moment = next_working_moment(arrival, CAL)
    assert moment == starts
    assert moment.tzinfo == PARIS   # outputs are Paris-aware


def test_french_public_holidays_are_not_working_days_and_the_day_after_ascension_is():
    assert not CAL.is_working_day(date(2026, 5, 1))      # Labour Day (a Friday)
    assert not CAL.is_working_day(date(2027, 5, 6))      # Ascension Thursday 2027
    assert CAL.is_working_day(date(2027, 5, 7))          # the Friday after: a working day ("pont" or not)
    assert not CAL.is_working_day(date(2026, 7, 14))     # a Tuesday
    assert not CAL.is_working_day(date(2026, 12, 25))    # a Friday
    assert CAL.is_working_day(date(2025, 12, 26))        # St Stephen: only in Alsace-Moselle
    moselle = WorkingCalendar(subdivision="57")
    assert not moselle.is_working_day(date(2025, 12, 26)) and not moselle.is_working_day(date(2026, 4, 3))
    assert CAL.is_working_day(date(2026, 4, 3))          # Good Friday 2026 in metropolitan France


@pytest.mark.parametrize("received, limit, expected", [
    # Thu 30 Apr 17:00 + 2 working days: Fri 1 May off, Mon 4 (1), Tue 5 (2) -> Tue 5 May 17:00 CEST
    (paris(2026, 4, 30, 17, 0), Limit(amount=2, unit="working_days"), utc(2026, 5, 5, 15, 0)),
    # Wed 5 May 2027 10:00 + 1 working day: Thu 6 Ascension off -> Fri 7 May 10:00 CEST
    (paris(2027, 5, 5, 10, 0), Limit(amount=1, unit="working_days"), utc(2027, 5, 7, 8, 0)),
    # Mon 13 July 10:00 + 1 working day: Tue 14 July off -> Wed 15 July 10:00 CEST
    (paris(2026, 7, 13, 10, 0), Limit(amount=1, unit="working_days"), utc(2026, 7, 15, 8, 0)),
    # Thu 24 Dec 16:00 + 4 working hours: 2 h to 18:00, Fri 25 off, weekend, Mon 28 09:00 + 2 h -> 11:00 CET
    (paris(2026, 12, 24, 16, 0), Limit(amount=4, unit="working_hours"), utc(2026, 12, 28, 10, 0)),
])
def test_holidays_push_deadlines(received, limit, expected):
    commitment = Commitment(name="probe", ticket_types=["other"], stopped_by=["resolved_at"], limit=limit,
                            seed="test")
    assert due_at(commitment, received, CAL) == expected


# --- DST: working hours are Paris wall-clock hours ------------------------------------------------------

def test_the_march_change_keeps_working_hours_on_the_wall_clock():
    # Sunday 29 March 2026 01:30 CET (00:30 UTC) -> Monday 30 March 09:00 CEST = 07:00 UTC
    assert next_working_moment(utc(2026, 3, 29, 0, 30), CAL) == utc(2026, 3, 30, 7, 0)
    # Fri 27 March 16:00 CET + 4 working hours: 16:00-18:00 Friday, 09:00-11:00 Monday -> Mon 11:00 CEST = 09:00 UTC
    # (counting in UTC would give 10:00 UTC)
    assert add_working_hours(paris(2026, 3, 27, 16, 0), 4, CAL) == utc(2026, 3, 30, 9, 0)
    # Fri 27 March 17:00 CET + 2 working days -> Tue 31 March 17:00 CEST = 15:00 UTC
    assert add_working_days(paris(2026, 3, 27, 17, 0), 2, CAL) == utc(2026, 3, 31, 15, 0)
    # Fri 09:00 CET to Mon 18:00 CEST: two 9-hour days
    assert working_time_between(paris(2026, 3, 27, 9, 0), paris(2026, 3, 30, 18, 0), CAL) == timedelta(hours=18)


def test_the_october_change_keeps_working_hours_on_the_wall_clock():
    # Fri 23 Oct 17:00 CEST (15:00 UTC) + 2 working days -> Tue 27 Oct 17:00 CET = 16:00 UTC
    assert add_working_days(paris(2026, 10, 23, 17, 0), 2, CAL) == utc(2026, 10, 27, 16, 0)
    # Fri 23 Oct 14:00 CEST + 9 working hours: 4 h Friday, 5 h Monday -> Mon 26 Oct 14:00 CET = 13:00 UTC
    assert add_working_hours(paris(2026, 10, 23, 14, 0), 9, CAL) == utc(2026, 10, 26, 13, 0)
    # Sunday 25 Oct 02:30 happens twice (00:30 UTC in CEST, 01:30 UTC in CET): both start Mon 26 09:00 CET
    assert next_working_moment(utc(2026, 10, 25, 0, 30), CAL) == utc(2026, 10, 26, 8, 0)
    assert next_working_moment(utc(2026, 10, 25, 1, 30), CAL) == utc(2026, 10, 26, 8, 0)


def test_a_working_day_is_nine_hours_on_the_dst_change_days_too():
    every_day = WorkingCalendar(weekdays=frozenset(range(1, 8)))
    # Sunday 29 March 2026: 00:00 CET (23:00 UTC the day before) to Monday 00:00 CEST (22:00 UTC) is 23 real hours
    assert working_time_between(utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 22, 0), every_day) == timedelta(hours=9)
    # 09:00 CEST (07:00 UTC) + 9 working hours -> 18:00 CEST = 16:00 UTC
    assert add_working_hours(utc(2026, 3, 29, 7, 0), 9, every_day) == utc(2026, 3, 29, 16, 0)
    # Sunday 25 October 2026 (25 real hours): 09:00 CET (08:00 UTC) + 9 -> 18:00 CET = 17:00 UTC
    assert working_time_between(utc(2026, 10, 24, 22, 0), utc(2026, 10, 25, 23, 0), every_day) == timedelta(hours=9)
    assert add_working_hours(utc(2026, 10, 25, 8, 0), 9, every_day) == utc(2026, 10, 25, 17, 0)


def test_calendar_units_keep_the_paris_wall_clock_time():
    # 1 March 10:00 CET + 1 month -> 1 April 10:00 CEST = 08:00 UTC
    assert add_calendar_months(paris(2026, 3, 1, 10, 0), 1) == utc(2026, 4, 1, 8, 0)
    # 31 Jan 10:00 CET + 1 month -> clipped to 28 Feb 10:00 CET = 09:00 UTC
    assert add_calendar_months(paris(2026, 1, 31, 10, 0), 1) == utc(2026, 2, 28, 9, 0)
    # 29 Jan 02:30 CET + 2 months -> 29 March 02:30 does not exist -> 03:30 CEST = 01:30 UTC
    assert add_calendar_months(paris(2026, 1, 29, 2, 30), 2) == utc(2026, 3, 29, 1, 30)
    # Sat 28 March 12:00 CET + 1 day -> Sun 29 March 12:00 CEST = 10:00 UTC (23 real hours later)
    assert add_calendar_days(paris(2026, 3, 28, 12, 0), 1) == utc(2026, 3, 29, 10, 0)


# --- the default commitments -------------------------------------------------------------------------

def test_design_examples_of_the_first_response():
    first = COMMITMENTS["first_response"]
    # a mail on Friday 5 June 17:00 is due Tuesday 9 June 17:00 CEST = 15:00 UTC
    assert due_at(first, paris(2026, 6, 5, 17, 0), CAL) == utc(2026, 6, 9, 15, 0)
    # on Saturday 6 June: starts Monday 8 09:00 -> Wednesday 10 June 09:00 CEST = 07:00 UTC
    assert due_at(first, paris(2026, 6, 6, 11, 0), CAL) == utc(2026, 6, 10, 7, 0)


def test_arrivals_just_before_and_after_closing_time():
    first, delivery = COMMITMENTS["first_response"], COMMITMENTS["delivery"]
    # Thu 7 May 17:59: + 2 working days, Fri 8 May off -> Mon 11 (1), Tue 12 (2) -> Tue 12 May 17:59 CEST
    assert due_at(first, paris(2026, 5, 7, 17, 59), CAL) == utc(2026, 5, 12, 15, 59)
    # Thu 7 May 18:01: starts Mon 11 09:00 -> Tue 12 (1), Wed 13 (2) -> Wed 13 May 09:00 CEST
    assert due_at(first, paris(2026, 5, 7, 18, 1), CAL) == utc(2026, 5, 13, 7, 0)
    # Saturday 9 May: starts Mon 11 09:00 -> Wed 13 May 09:00 CEST
    assert due_at(first, paris(2026, 5, 9, 10, 0), CAL) == utc(2026, 5, 13, 7, 0)
    # the delivery of an evolution: see the next test for the count
    assert due_at(delivery, paris(2026, 5, 7, 17, 59), CAL) == utc(2026, 6, 2, 16, 0)
    assert due_at(delivery, paris(2026, 5, 7, 18, 1), CAL) == utc(2026, 6, 3, 16, 0)
    assert due_at(delivery, paris(2026, 5, 9, 10, 0), CAL) == utc(2026, 6, 3, 16, 0)


def test_fifteen_working_days_across_the_may_long_weekends():
    delivery = COMMITMENTS["delivery"]
    # Received Thursday 7 May 2026 10:00; the working days after that day:
    # Fri 8 May (Victoire) off, Mon 11 (1), Tue 12 (2), Wed 13 (3), Thu 14 (Ascension) off, Fri 15 (4),
    # Mon 18 (5), Tue 19 (6), Wed 20 (7), Thu 21 (8), Fri 22 (9), Mon 25 (Whit Monday) off, Tue 26 (10),
    # Wed 27 (11), Thu 28 (12), Fri 29 (13), Mon 1 June (14), Tue 2 June (15) -> 18:00 CEST = 16:00 UTC
    assert due_at(delivery, paris(2026, 5, 7, 10, 0), CAL) == utc(2026, 6, 2, 16, 0)
    # Whit Monday worked (journée de solidarité): Mon 25 is (10), ... Fri 29 (14), Mon 1 June (15)
    worked = WorkingCalendar.of(Terms(extra_working_days=[date(2026, 5, 25)]))
    assert due_at(delivery, paris(2026, 5, 7, 10, 0), worked) == utc(2026, 6, 1, 16, 0)
    # a bridge day closed on Friday 15 May pushes it one working day: Wed 3 June
    bridged = WorkingCalendar.of(Terms(extra_closed_days=[date(2026, 5, 15)]))
    assert due_at(delivery, paris(2026, 5, 7, 10, 0), bridged) == utc(2026, 6, 3, 16, 0)


def test_a_blocking_bug_needs_a_workaround_within_its_severity_milestone():
    blocking = COMMITMENTS["blocking_workaround"]
    # critical, Mon 8 June 15:00: 3 h to 18:00 + 1 h Tuesday -> Tue 9 June 10:00 CEST = 08:00 UTC
    assert due_at(blocking, paris(2026, 6, 8, 15, 0), CAL, severity="critical") == utc(2026, 6, 9, 8, 0)
    # major (or none): 1 working day -> Tue 9 June 15:00 CEST = 13:00 UTC
    assert due_at(blocking, paris(2026, 6, 8, 15, 0), CAL, severity="major") == utc(2026, 6, 9, 13, 0)
    assert due_at(blocking, paris(2026, 6, 8, 15, 0), CAL) == utc(2026, 6, 9, 13, 0)
    ticket = Ticket("blocking_bug", paris(2026, 6, 8, 15, 0), severity="critical",
                    first_response_at=paris(2026, 6, 8, 15, 10), workaround_at=paris(2026, 6, 9, 9, 30),
                    resolved_at=paris(2026, 6, 12, 11, 0))
    found = clocks(ticket, paris(2026, 6, 15, 12, 0))
    assert list(found) == ["first_response", "blocking_workaround"]
    assert found["blocking_workaround"].stopped_at == utc(2026, 6, 9, 7, 30)   # the workaround came first
    assert found["blocking_workaround"].state is ClockState.MET
    assert found["blocking_workaround"].allowed == timedelta(hours=4)


def test_which_clocks_run_on_which_ticket_types():
    received = paris(2026, 6, 8, 10, 0)
    expected = {
        "blocking_bug": ["first_response", "blocking_workaround"],
        "bug": ["first_response", "delivery"],
        "evolution": ["first_response", "delivery"],
        "new_feature": ["first_response", "new_feature"],
        "question": ["first_response"], "assistance": ["first_response"],
        "customization": ["first_response"], "other": ["first_response"],
    }
    for ticket_type, names in expected.items():
        assert list(clocks(Ticket(ticket_type, received), received)) == names, ticket_type


def test_a_new_feature_is_promised_not_before_a_month_and_is_never_late():
    # Sat 31 Jan 10:00 CET + 1 calendar month -> 28 Feb 10:00 CET = 09:00 UTC (no working-time shift)
    ticket = Ticket("new_feature", paris(2026, 1, 31, 10, 0), first_response_at=paris(2026, 2, 2, 9, 30))
    clock = clocks(ticket, paris(2026, 6, 1, 12, 0))["new_feature"]
    assert clock.due_at == utc(2026, 2, 28, 9, 0) and clock.informational
    assert clock.state is ClockState.ON_TRACK   # months after its date, still running: never breached
    done = Ticket("new_feature", paris(2026, 1, 31, 10, 0), resolved_at=paris(2026, 5, 4, 10, 0))
    assert clocks(done, paris(2026, 6, 1, 12, 0))["new_feature"].state is ClockState.MET


# --- states ----------------------------------------------------------------------------------------------

# First response to a mail received Monday 8 June 2026 09:00 CEST: due Wednesday 10 June 09:00 CEST,
# allowed 18 working hours (Mon 9 h + Tue 9 h).
MONDAY_MAIL = Ticket("question", paris(2026, 6, 8, 9, 0))


@pytest.mark.parametrize("now, expected", [
    (paris(2026, 6, 8, 12, 0), ClockState.ON_TRACK),
    # 20 % of 18 h = 3 h 36 min left at Tuesday 14:24 (to 18:00): exactly the threshold is still on track
    (paris(2026, 6, 9, 14, 24, 0), ClockState.ON_TRACK),
    (paris(2026, 6, 9, 14, 24, 1), ClockState.AT_RISK),
    (paris(2026, 6, 9, 20, 0), ClockState.AT_RISK),       # no working time left, not due yet
    (paris(2026, 6, 10, 9, 0, 0), ClockState.AT_RISK),    # due itself is still in time
    (paris(2026, 6, 10, 9, 0, 1), ClockState.BREACHED),
])
def test_the_at_risk_threshold_counts_working_time_left(now, expected):
    clock = clocks(MONDAY_MAIL, now)["first_response"]
    assert clock.due_at == utc(2026, 6, 10, 7, 0) and clock.allowed == timedelta(hours=18)
    assert clock.state is expected


@pytest.mark.parametrize("now, expected", [
    # 25 % of 18 h = 4 h 30 min left at Tuesday 13:30
    (paris(2026, 6, 9, 13, 30, 0), ClockState.ON_TRACK),
    (paris(2026, 6, 9, 13, 30, 1), ClockState.AT_RISK),
])
def test_the_threshold_is_a_term(now, expected):
    terms = Terms(commitment_at_risk_share=Decimal("0.75"))
    assert clocks(MONDAY_MAIL, now, terms)["first_response"].state is expected


def test_clock_state_on_elapsed_time():
    due, allowed = utc(2026, 1, 11), timedelta(days=10)
    # 2 days of 10 left = 20 % left: on track at 0.8, at risk one second later
    assert clock_state(due, None, utc(2026, 1, 9), allowed, Decimal("0.8")) is ClockState.ON_TRACK
    assert clock_state(due, None, utc(2026, 1, 9, 0, 0, 1), allowed, Decimal("0.8")) is ClockState.AT_RISK
    assert clock_state(due, None, utc(2026, 1, 9, 0, 0, 1), allowed, 0.75) is ClockState.AT_RISK
    assert clock_state(due, None, utc(2026, 1, 8, 12), allowed, "0.75") is ClockState.ON_TRACK  # 2.5 days left
    assert clock_state(due, utc(2026, 1, 11), utc(2026, 2, 1), allowed, "0.8") is ClockState.MET
    assert clock_state(due, utc(2026, 1, 11, 0, 0, 1), utc(2026, 2, 1), allowed, "0.8") is ClockState.MISSED
    assert clock_state(None, None, utc(2027, 1, 1), allowed, "0.8") is ClockState.ON_TRACK


@pytest.mark.parametrize("response, expected", [
    (paris(2026, 6, 10, 9, 0, 0), ClockState.MET),       # at the due moment
    (paris(2026, 6, 9, 17, 0), ClockState.MET),          # in the at-risk zone, but in time
    (paris(2026, 6, 10, 9, 0, 1), ClockState.MISSED),
])
def test_a_stopped_clock_is_met_or_missed(response, expected):
    ticket = Ticket("question", paris(2026, 6, 8, 9, 0), first_response_at=response)
    clock = clocks(ticket, paris(2026, 6, 30, 12, 0))["first_response"]
    assert clock.stopped_at == response and clock.state is expected


def test_a_stop_after_now_is_not_known_yet_and_closing_stops_every_clock():
    answered_late = Ticket("question", paris(2026, 6, 8, 9, 0), first_response_at=paris(2026, 6, 11, 10, 0))
    assert clocks(answered_late, paris(2026, 6, 9, 10, 0))["first_response"].state is ClockState.ON_TRACK
    assert clocks(answered_late, paris(2026, 6, 10, 12, 0))["first_response"].state is ClockState.BREACHED
    assert clocks(answered_late, paris(2026, 6, 11, 12, 0))["first_response"].state is ClockState.MISSED
    # an evolution received Thu 7 May 10:00 (delivery due Tue 2 June 18:00 CEST), closed without delivery
    withdrawn = Ticket("evolution", paris(2026, 5, 7, 10, 0), first_response_at=paris(2026, 5, 7, 11, 0),
                       closed_at=paris(2026, 5, 20, 10, 0))
    delivery = clocks(withdrawn, paris(2026, 7, 1))["delivery"]
    assert delivery.stopped_at == utc(2026, 5, 20, 8, 0) and delivery.state is ClockState.MET
    # delivered at 18:00 sharp on the 15th working day: met; a second later: missed
    for resolved, state in ((paris(2026, 6, 2, 18, 0, 0), ClockState.MET),
                            (paris(2026, 6, 2, 18, 0, 1), ClockState.MISSED)):
        ticket = Ticket("evolution", paris(2026, 5, 7, 10, 0), first_response_at=paris(2026, 5, 7, 11, 0),
                        resolved_at=resolved)
        assert clocks(ticket, paris(2026, 7, 1))["delivery"].state is state


def test_a_ticket_is_as_bad_as_its_worst_clock():
    # critical blocking bug, Mon 8 June 15:00: answered at once, no workaround by Tue 9 June 10:00 (its due)
    ticket = Ticket("blocking_bug", paris(2026, 6, 8, 15, 0), severity="critical",
                    first_response_at=paris(2026, 6, 8, 15, 5))
    found = clocks_under(TERMS, ticket, paris(2026, 6, 9, 11, 0))
    assert [clock.state for clock in found] == [ClockState.MET, ClockState.BREACHED]
    assert ticket_state(found) is ClockState.BREACHED
    assert worst(["met", "on_track", "at_risk"]) is ClockState.AT_RISK
    assert worst([ClockState.MET, ClockState.MISSED, ClockState.AT_RISK]) is ClockState.MISSED
    assert worst([ClockState.MISSED, ClockState.BREACHED]) is ClockState.BREACHED
    assert ticket_state([]) is None


def test_level_and_channel_filters():
    level_one = Commitment(name="maintenance", ticket_types=["bug"], levels=[1], stopped_by=["resolved_at"],
                           limit=Limit(amount=15, unit="working_days_close"), seed="002: niveau 1")
    mail_only = Commitment(name="mail", ticket_types=["bug"], channels=["mail"], stopped_by=["first_response_at"],
                           limit=Limit(amount=48, unit="calendar_days"), seed="003: e-mails")
    terms = Terms(commitments=[level_one, mail_only])
    received = paris(2026, 6, 8, 10, 0)
    assert list(clocks(Ticket("bug", received), received, terms)) == ["maintenance"]   # no level: level 1
    assert list(clocks(Ticket("bug", received, level=2, channel="mail"), received, terms)) == ["mail"]


# --- the terms ----------------------------------------------------------------------------------------

def test_the_commitments_are_terms_that_survive_json():
    terms = Terms()
    assert (terms.working_hours_start, terms.working_hours_end) == (time(9, 0), time(18, 0))
    assert terms.working_weekdays == [1, 2, 3, 4, 5] and terms.commitment_at_risk_share == Decimal("0.80")
    assert [commitment.name for commitment in terms.commitments] == [
        "first_response", "blocking_workaround", "delivery", "new_feature"]
    assert all(commitment.seed[:3] in {"000", "003"} for commitment in terms.commitments)
    assert Terms(**terms.model_dump(mode="json")) == terms
    edited = Terms(commitments=[{"name": "first_response", "ticket_types": ["question"],
                                 "stopped_by": ["first_response_at"], "limit": {"amount": 4, "unit": "working_hours"},
                                 "seed": "003: 'dans les 48 heures'"}])
    assert edited.commitments[0].limit == Limit(amount=4, unit="working_hours")


@pytest.mark.parametrize("change", [
    {"commitments": [{"name": "a", "ticket_types": ["bug"], "stopped_by": ["resolved_at"],
                      "limit": {"amount": 1, "unit": "working_days"}, "seed": "000"}] * 2},   # same name twice
    {"commitments": [{"name": "a", "ticket_types": ["incident"], "stopped_by": ["resolved_at"],
                      "limit": {"amount": 1, "unit": "working_days"}, "seed": "000"}]},       # unknown type
    {"commitments": [{"name": "a", "ticket_types": ["bug"], "stopped_by": ["resolved_at"],
                      "limit": {"amount": 1, "unit": "fortnights"}, "seed": "000"}]},         # unknown unit
    {"commitments": [{"name": "a", "ticket_types": ["bug"], "stopped_by": ["closed"],
                      "limit": {"amount": 1, "unit": "working_days"}, "seed": "000"}]},       # unknown stop
    {"working_hours_start": "18:00", "working_hours_end": "09:00"},
    {"working_weekdays": [1, 8]},
    {"working_weekdays": []},
    {"public_holidays_subdivision": "XX"},
    {"commitment_at_risk_share": "1.5"},
])
def test_bad_commitment_terms_are_refused(change):
    with pytest.raises(ValidationError):
        Terms(**change)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        next_working_moment(datetime(2026, 6, 8, 10, 0), CAL)
