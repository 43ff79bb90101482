"""Clocks that pause (policy/pauses.py), as pure rules: a ticket waiting for its customer over a weekend and
holidays moves its due times by exactly the working time it waited, to the minute; a pause rule changed after
the fact keeps the time already paused; a reopened ticket restarts its delivery clock where it stopped; a
premium tier's tighter clock. Every moment is given: nothing here depends on today."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from policy.calendar import PARIS
from policy.commitments import Ticket, clocks_under, working_time_between, WorkingCalendar
from policy.pauses import Event, PauseRule, paused_minutes, reopened_at, timed_clocks
from policy.terms import Terms


def paris(*parts) -> datetime:
    return datetime(*parts, tzinfo=PARIS)


#: a bug received Wednesday 6 May 2026 10:00; Friday 8 May (Victoire 1945), Thursday 14 May (Ascension) and
#: Monday 25 May (Whit Monday) are French public holidays
BUG = Ticket(type="bug", received_at=paris(2026, 5, 6, 10, 0), severity="major", channel="mail")
#: it waits for the customer from Thursday 7 May 16:00 to Tuesday 12 May 11:00: 2 h on Thursday, nothing on the
#: holiday and the weekend, 9 h on Monday, 2 h on Tuesday = 13 working hours (4 days 19 hours of wall clock)
WAITING = [Event(paris(2026, 5, 7, 16, 0), "waiting_customer"), Event(paris(2026, 5, 12, 11, 0), "in_progress")]


def by_name(clocks):
    return {clock.name: clock for clock in clocks}


def test_without_events_the_clocks_are_todays():
    clocks = by_name(clocks_under(Terms(), BUG, paris(2026, 5, 7, 12, 0)))
    # 2 working days at the same time of day: Thursday 7, (Friday 8 a holiday), Monday 11 at 10:00
    assert clocks["first_response"].due_at == paris(2026, 5, 11, 10, 0)
    # 18:00 of the 15th working day after 6 May, Ascension and Whit Monday left out: Monday 1 June
    assert clocks["delivery"].due_at == paris(2026, 6, 1, 18, 0)
    assert paused_minutes(clocks.values()) == 0


def test_a_wait_over_a_holiday_and_a_weekend_moves_the_due_times_by_the_working_time_waited():
    clocks = by_name(clocks_under(Terms(), BUG, paris(2026, 5, 12, 12, 0), events=WAITING))
    # 15 of its 18 working hours ran before the wait (Wednesday 10-18, Thursday 9-16); 3 left from Tuesday 11:00
    assert clocks["first_response"].due_at == paris(2026, 5, 12, 14, 0)
    # Monday 1 June 18:00 + 13 working hours: Tuesday 2 June 09:00-18:00, Wednesday 3 June 09:00-13:00
    assert clocks["delivery"].due_at == paris(2026, 6, 3, 13, 0)
    assert clocks["first_response"].paused == clocks["delivery"].paused == timedelta(hours=13)
    assert paused_minutes(clocks.values()) == 780
    calendar = WorkingCalendar.of(Terms())
    for name, base in (("first_response", paris(2026, 5, 11, 10, 0)), ("delivery", paris(2026, 6, 1, 18, 0))):
        assert working_time_between(base, clocks[name].due_at, calendar) == timedelta(hours=13)
    # 2 of its 18 working hours left: at risk (less than 20 % left), not breached
    assert clocks["first_response"].state == "at_risk"


def test_a_clock_waiting_now_is_never_breached_and_counts_only_what_is_known():
    # Tuesday 12 May 10:00: the wait is still on (its end, at 11:00, is not known yet): 2 + 9 + 1 = 12 working
    # hours so far; Monday 11 May 10:00 + 12 working hours = Tuesday 13:00
    clocks = by_name(clocks_under(Terms(), BUG, paris(2026, 5, 12, 10, 0), events=WAITING))
    assert clocks["first_response"].paused == timedelta(hours=12)
    assert clocks["first_response"].due_at == paris(2026, 5, 12, 13, 0)
    assert clocks["first_response"].state == "at_risk"  # 15 of 18 hours used, none running while it waits


def test_a_blocking_bug_never_waits_by_default():
    blocking = Ticket(type="blocking_bug", received_at=paris(2026, 5, 6, 10, 0), severity="major")
    clocks = by_name(clocks_under(Terms(), blocking, paris(2026, 5, 12, 12, 0), events=WAITING))
    assert clocks["blocking_workaround"].due_at == paris(2026, 5, 7, 10, 0)
    assert clocks["blocking_workaround"].paused == timedelta(0)
    assert clocks["first_response"].paused == timedelta(hours=13)


def test_a_wait_that_starts_after_the_due_time_saves_nothing():
    late = [Event(paris(2026, 5, 11, 11, 0), "waiting_customer")]
    clocks = by_name(clocks_under(Terms(), BUG, paris(2026, 5, 12, 12, 0), events=late))
    assert clocks["first_response"].due_at == paris(2026, 5, 11, 10, 0)
    assert clocks["first_response"].state == "breached"
    assert clocks["first_response"].paused == timedelta(0)


NO_PAUSE: list[PauseRule] = []


def test_a_pause_rule_changed_after_the_fact_keeps_the_time_already_paused():
    # the vendor stops pausing on Monday 11 May 12:00: what the ticket waited until then stays waited
    history = [(paris(2026, 5, 1, 0, 0), Terms().pause_on), (paris(2026, 5, 11, 12, 0), NO_PAUSE)]
    before = by_name(clocks_under(Terms(), BUG, paris(2026, 5, 11, 11, 0), events=WAITING, pause_history=history))
    assert before["first_response"].paused == timedelta(hours=4)    # Thursday 16-18, Monday 9-11
    after = by_name(clocks_under(Terms(), BUG, paris(2026, 5, 20, 9, 0), events=WAITING, pause_history=history))
    assert after["first_response"].paused == timedelta(hours=5)     # Thursday 16-18, Monday 9-12, not a minute more
    assert after["first_response"].due_at == paris(2026, 5, 11, 15, 0)   # 3 hours left from Monday 12:00
    assert after["delivery"].due_at == paris(2026, 6, 2, 14, 0)          # Monday 1 June 18:00 + 5 working hours
    # the same facts looked at again later give the same answer: nothing lost, nothing counted twice
    assert by_name(clocks_under(Terms(), BUG, paris(2026, 7, 1, 9, 0), events=WAITING,
                                pause_history=history))["delivery"].due_at == paris(2026, 6, 2, 14, 0)


def test_a_corrected_holiday_list_applies_to_the_whole_history():
    # Monday 11 May declared closed (a bridge day): the wait holds 4 working hours, and the first response's
    # due time moves with the calendar too
    terms = Terms(extra_closed_days=["2026-05-11"])
    clocks = by_name(clocks_under(terms, BUG, paris(2026, 5, 12, 12, 0), events=WAITING))
    assert clocks["first_response"].paused == timedelta(hours=4)
    # 2 working days: Thursday 7, Tuesday 12 at 10:00; 15 hours ran before the wait, 3 left from Tuesday 11:00
    assert clocks["first_response"].due_at == paris(2026, 5, 12, 14, 0)


def test_a_reopened_ticket_restarts_its_delivery_clock_where_it_stopped():
    # resolved Friday 15 May 18:00 sharp, reopened Monday 18 May 14:00, resolved again Wednesday 20 May 10:00
    history = [Event(paris(2026, 5, 15, 18, 0), "resolved"), Event(paris(2026, 5, 18, 14, 0), "reopened")]
    reopened = by_name(clocks_under(Terms(), BUG, paris(2026, 5, 19, 9, 0), events=history))
    assert reopened["delivery"].stopped_at is None and reopened["delivery"].state == "on_track"
    # Monday 9-14 did not count: the due time moves by 5 working hours, Monday 1 June 18:00 -> Tuesday 2 June 14:00
    assert reopened["delivery"].due_at == paris(2026, 6, 2, 14, 0)
    assert reopened["first_response"].due_at == paris(2026, 5, 11, 10, 0)  # not stopped by a resolution
    done = history + [Event(paris(2026, 5, 20, 10, 0), "resolved")]
    resolved = by_name(clocks_under(Terms(), BUG, paris(2026, 5, 21, 9, 0), events=done))
    assert (resolved["delivery"].stopped_at, resolved["delivery"].state) == (paris(2026, 5, 20, 10, 0), "met")


def test_a_closed_ticket_reopened_is_open_until_it_closes_again():
    closed = paris(2026, 5, 15, 18, 0)
    events = [Event(paris(2026, 5, 18, 14, 0), "reopened")]
    assert reopened_at(closed, events, paris(2026, 5, 19, 9, 0))
    assert not reopened_at(closed, events, paris(2026, 5, 18, 13, 0))      # the reopening is not known yet
    assert not reopened_at(closed, events + [Event(paris(2026, 5, 19, 10, 0), "closed")], paris(2026, 5, 20, 9, 0))
    ticket = Ticket(type="bug", received_at=BUG.received_at, closed_at=closed)
    clocks = by_name(clocks_under(Terms(), ticket, paris(2026, 5, 19, 9, 0), events=events))
    assert clocks["delivery"].stopped_at is None and clocks["delivery"].due_at == paris(2026, 6, 2, 14, 0)


PREMIUM = {"premium": [{"name": "first_response", "ticket_types": ["bug", "question"],
                        "stopped_by": ["first_response_at"], "limit": {"amount": 4, "unit": "working_hours"},
                        "seed": "the premium contract: a first response within 4 working hours"}]}


def test_a_premium_tier_runs_its_own_tighter_clock():
    terms = Terms(tiers=PREMIUM)
    assert Terms(**terms.model_dump(mode="json")) == terms
    premium = by_name(timed_clocks(terms, BUG, paris(2026, 5, 6, 15, 0), tier="premium"))
    assert list(premium) == ["first_response"]
    assert premium["first_response"].due_at == paris(2026, 5, 6, 14, 0)
    assert premium["first_response"].state == "breached"
    default = by_name(timed_clocks(terms, BUG, paris(2026, 5, 6, 15, 0)))
    assert default["first_response"].due_at == paris(2026, 5, 11, 10, 0) and "delivery" in default
    # a tier the terms no longer have: the default set
    assert by_name(timed_clocks(terms, BUG, paris(2026, 5, 6, 15, 0), tier="gold")).keys() == default.keys()
    # it pauses under the rule for its name: waiting since 11:00, at 12:00 its 14:00 is 15:00
    waiting = by_name(timed_clocks(terms, BUG, paris(2026, 5, 6, 12, 0), tier="premium",
                                   events=[Event(paris(2026, 5, 6, 11, 0), "waiting_customer")]))
    assert waiting["first_response"].due_at == paris(2026, 5, 6, 15, 0) and waiting["first_response"].paused == \
        timedelta(hours=1)


@pytest.mark.parametrize("terms, error", [
    ({"pause_on": [{"clock": "delivery", "statuses": ["resolved"], "reason": "why not"}]}, "statuses"),
    ({"pause_on": [{"clock": "delivery", "statuses": ["waiting_customer"], "reason": "one"},
                   {"clock": "delivery", "statuses": ["in_progress"], "reason": "two"}]}, "one pause rule"),
    ({"pause_on": [{"clock": "delivery", "statuses": ["waiting_customer"]}]}, "reason"),
    ({"tiers": {"Premium!": PREMIUM["premium"]}}, "tiers"),
    ({"tiers": {"premium": []}}, "no commitment"),
])
def test_terms_refuse_a_pause_rule_or_tier_that_means_nothing(terms, error):
    with pytest.raises(ValueError, match=error):
        Terms(**terms)


def test_the_default_pause_rules_cite_their_reason():
    rules = {rule.clock: rule for rule in Terms().pause_on}
    assert {name: rule.statuses for name, rule in rules.items()} == {
        "first_response": ["waiting_customer"], "delivery": ["waiting_customer"]}
    assert all(rule.reason[:3] in {"000", "003"} for rule in rules.values())
