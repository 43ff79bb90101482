"""Clocks that pause: a ticket's status history stops and restarts its service commitments' clocks.

A ticket's history is its events (`ticket_id, at, status`, status one of `TicketStatus`). Before its first
event a ticket is `open`; between two events it has the status of the earlier one. The rules, with the
clocks themselves (policy/commitments.py), are the whole computation: due times are recomputed from the
facts on every run, so a corrected calendar, a corrected event or a new rule never leaves a stale due time.

- **Pause.** The terms' `pause_on` rows say which clock stands still on which statuses (by default the
  first response and the delivery wait while the ticket is `waiting_customer`). While a clock stands still
  no working time counts against it: its due time moves by exactly the working time it stood still
  (`paused`, working minutes: a weekend or a holiday inside a pause moves nothing). A pause that starts
  after the clock was due does not save it (it was late already).
- **Reopen.** A `resolved` event stops the clocks that `resolved_at` stops, a `closed` event (or the
  ticket's `closed_at`) every clock, as the ticket's columns do. A `reopened` event after such a stop
  restarts those clocks where they stopped: the time between the stop and the reopening is not counted,
  and the clock stops again at the next resolution. A first response or a workaround stops for good.
- **Rule changes.** The pause rule in force at a moment is the latest of its history (`pause_history`:
  `(effective_from, rows)`, recorded by the ledger when a run first sees the rule change) that took effect
  by then; before the first entry, the first entry's. So a change applies from the moment it takes effect:
  time already paused stays paused, and nothing is counted twice. The working calendar is not history: a
  corrected calendar or holiday list applies to the whole of it.
- Events after `now` are not known yet and are left out. At one moment, several events apply in the order
  of `TicketStatus` (open, waiting_customer, in_progress, resolved, closed, reopened).

No I/O; every datetime is aware and compared as an instant.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from policy.calendar import PARIS
from policy.commitments import (WORKING_UNITS, Clock, Commitment, Ticket, WorkingCalendar, add_working_hours,
                                allowance, applies, clock_start, clock_state, deadline, limit_for,
                                working_time_between)
from policy.text import plain
from policy.vocabulary import TicketStatus

if TYPE_CHECKING:
    from policy.terms import Terms

#: the statuses a clock may stand still on (a resolution, a close and a reopening stop and restart clocks)
PAUSABLE = (TicketStatus.OPEN, TicketStatus.WAITING_CUSTOMER, TicketStatus.IN_PROGRESS)
_ORDER = {status: rank for rank, status in enumerate(TicketStatus)}


class PauseRule(BaseModel):
    """One clock that stands still while the ticket has one of these statuses, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    clock: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="The commitment's name (its clock).")
    statuses: list[Literal["open", "waiting_customer", "in_progress"]] = Field(
        min_length=1, description="The statuses on which the clock stands still.")
    reason: Annotated[str, plain(500)] = Field(min_length=3, description="The seed clause or the stated reason for the pause.")

    @field_validator("statuses")
    @classmethod
    def _no_repeats(cls, values: list) -> list:
        if len(set(values)) != len(values):
            raise ValueError(f"a status is repeated: {values}")
        return values


def default_pause_on() -> list[PauseRule]:
    """The response and delivery clocks wait for the customer; a blocking bug's never does."""
    return [
        PauseRule(clock="first_response", statuses=["waiting_customer"], reason=(
            "003: 'Afin que nous puissions résoudre vos questions, nous vous prions de bien vouloir partager les "
            "informations de connexion requises' and 'Fournissez autant d'informations que possible sur votre "
            "problème': while the vendor waits for what it asked the customer, the time is the customer's.")),
        PauseRule(clock="delivery", statuses=["waiting_customer"], reason=(
            "000: 'la mise à jour est faite dans les 15 jours ouvrés' counts the vendor's working days; 003 asks "
            "the customer for the access needed to resolve: days spent waiting for the customer's answer are not "
            "the vendor's. A blocking bug's workaround (000 'immédiatement') never waits.")),
    ]


def unique_clocks(rules: list[PauseRule]) -> list[PauseRule]:
    names = [rule.clock for rule in rules]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"a clock has one pause rule: {', '.join(repeated)} repeated")
    return rules


@dataclass(frozen=True)
class Event:
    """One status of a ticket from a moment on (aware datetime)."""

    at: datetime
    status: str


#: a pause rule's history: (effective from, its rows), oldest first; None: since always
PauseHistory = Sequence[tuple[datetime | None, Sequence[PauseRule]]]


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a time zone is needed: {moment.isoformat()}")
    return moment.astimezone(timezone.utc)


def known_events(events: Iterable[Event], now: datetime) -> list[tuple[datetime, str]]:
    """The events up to `now`, as (UTC instant, status), in the order they apply."""
    now_i = _utc(now)
    known = [(_utc(event.at), str(event.status)) for event in events if _utc(event.at) <= now_i]
    return sorted(known, key=lambda item: (item[0], _ORDER[TicketStatus(item[1])]))


def status_spans(events: list[tuple[datetime, str]], start: datetime, end: datetime) -> list[tuple[datetime, datetime, str]]:
    """[a, b, status) pieces of [start, end): `open` before the first event, then each event's status."""
    spans, current, cursor = [], TicketStatus.OPEN.value, start
    for at, status in events:
        if at > cursor:
            if cursor < end:
                spans.append((cursor, min(at, end), current))
            cursor = at
        current = status
    if cursor < end:
        spans.append((cursor, end, current))
    return spans


def _rules_at(history: list[tuple[datetime | None, dict[str, frozenset[str]]]], moment: datetime) -> dict:
    if not history:
        return {}
    chosen = history[0][1]
    for effective, rules in history:
        if effective is None or effective <= moment:
            chosen = rules
    return chosen


def paused_intervals(clock: str, events: list[tuple[datetime, str]], history: PauseHistory,
                     start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The pieces of [start, end) during which the clock stands still on the ticket's status, each under the
    rule in force at that moment."""
    rules = [(None if effective is None else _utc(effective),
              {rule.clock: frozenset(rule.statuses) for rule in rows}) for effective, rows in history]
    rules.sort(key=lambda item: item[0] or datetime.min.replace(tzinfo=timezone.utc))
    changes = sorted({effective for effective, _ in rules if effective is not None})
    intervals = []
    for a, b, status in status_spans(events, start, end):
        cuts = [a, *(moment for moment in changes if a < moment < b), b]
        for lo, hi in zip(cuts, cuts[1:]):
            if status in _rules_at(rules, lo).get(clock, ()):
                intervals.append((lo, hi))
    return intervals


def stop_and_gaps(commitment: Commitment, ticket: Ticket, events: list[tuple[datetime, str]]
                  ) -> tuple[datetime | None, list[tuple[datetime, datetime]]]:
    """The clock's stop (None: running) and the gaps a reopening leaves (a stop, then a reopening)."""
    final = [_utc(getattr(ticket, name)) for name in commitment.stopped_by
             if name != "resolved_at" and getattr(ticket, name) is not None]
    resolves = "resolved_at" in commitment.stopped_by
    moments = [(_utc(ticket.closed_at), 0)] if ticket.closed_at is not None else []
    if resolves and ticket.resolved_at is not None:
        moments.append((_utc(ticket.resolved_at), 0))
    for at, status in events:
        if status == TicketStatus.CLOSED or (resolves and status == TicketStatus.RESOLVED):
            moments.append((at, 0))
        elif status == TicketStatus.REOPENED:
            moments.append((at, 1))
    running, since, gaps = True, None, []
    for at, kind in sorted(moments):
        if kind == 0 and running:
            running, since = False, at
        elif kind == 1 and not running:
            gaps.append((since, at))
            running = True
    stops = final + ([since] if not running else [])
    return (min(stops) if stops else None), gaps


def _merged(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for a, b in sorted(interval for interval in intervals if interval[0] < interval[1]):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def moved_due(base_due: datetime, start: datetime, still: list[tuple[datetime, datetime]], working: bool,
              calendar: WorkingCalendar) -> tuple[datetime, timedelta]:
    """The due time once the clock stood still during `still` (merged, inside [start, ...)), and the working time
    it stood still before it. The clock runs its allowance (`base_due` - `start` in its measure) outside
    `still`; its due time is `base_due` moved by exactly the time it stood still (working time for a
    working-time clock, elapsed time for a calendar one); a pause from the (moved) due time on moves nothing."""
    def measure(a: datetime, b: datetime) -> timedelta:
        return working_time_between(a, b, calendar) if working else max(_utc(b) - _utc(a), timedelta(0))

    remaining, cursor, moved, paused = measure(start, base_due), _utc(start), timedelta(0), timedelta(0)
    for a, b in still:
        run = measure(cursor, a)
        if run >= remaining:
            break
        remaining -= run
        moved += measure(a, b)
        paused += working_time_between(a, b, calendar)
        cursor = b
    if moved == timedelta(0):
        return base_due.astimezone(PARIS), paused
    if working:
        return add_working_hours(base_due, moved, calendar), paused
    return (_utc(base_due) + moved).astimezone(PARIS), paused


def timed_clock(commitment: Commitment, ticket: Ticket, now: datetime, calendar: WorkingCalendar, threshold,
                events: list[tuple[datetime, str]], history: PauseHistory) -> Clock | None:
    """The commitment's clock on the ticket as of `now` (None when it does not apply), paused and restarted by
    the ticket's known `events` under the pause rule's `history`."""
    if not applies(commitment, ticket):
        return None
    limit = limit_for(commitment, ticket.severity)
    working = limit.unit in WORKING_UNITS
    start = clock_start(limit, ticket.received_at, calendar)
    base_due = deadline(limit, ticket.received_at, calendar)
    allowed = allowance(limit, start, base_due, calendar)
    stopped, gaps = stop_and_gaps(commitment, ticket, events)
    end = min(_utc(now), stopped) if stopped is not None else _utc(now)
    start_i = _utc(start)
    still = [(max(a, start_i), min(b, end)) for a, b in
             paused_intervals(commitment.name, events, history, start_i, end) + gaps]
    due, paused = moved_due(base_due, start, _merged(still), working, calendar)
    state = clock_state(None if commitment.informational else due, stopped, now, allowed, threshold,
                        calendar if working else None)
    return Clock(commitment.name, due, stopped.astimezone(PARIS) if stopped is not None else None, state, start,
                 allowed, commitment.informational, paused)


def commitments_for(terms: Terms, tier: str | None) -> list[Commitment]:
    """The customer's tier's commitment set, else (no tier, or one the terms no longer have) the default set."""
    if tier and tier in terms.tiers:
        return terms.tiers[tier]
    return terms.commitments


def timed_clocks(terms: Terms, ticket: Ticket, now: datetime, *, events: Iterable[Event] = (),
                 pause_history: PauseHistory | None = None, tier: str | None = None) -> list[Clock]:
    """Every clock of the ticket as of `now`: the tier's commitments (else the default set) with the terms'
    calendar and threshold, paused by the `pause_history` (default: the terms' own `pause_on` since always)."""
    calendar = WorkingCalendar.of(terms)
    history = pause_history if pause_history else [(None, terms.pause_on)]
    known = known_events(events, now)
    clocks = (timed_clock(commitment, ticket, now, calendar, terms.commitment_at_risk_share, known, history)
              for commitment in commitments_for(terms, tier))
    return [clock for clock in clocks if clock is not None]


def reopened_at(closed_at: datetime, events: Iterable[Event], now: datetime) -> bool:
    """Whether a ticket closed at `closed_at` is open again at `now`: its last close or reopening known by then
    is a reopening."""
    moments = [(_utc(closed_at), 0)] + [(at, 0 if status == TicketStatus.CLOSED else 1)
                                        for at, status in known_events(events, now)
                                        if status in (TicketStatus.CLOSED, TicketStatus.REOPENED)]
    return max(moments)[1] == 1


def paused_minutes(clocks: Iterable[Clock]) -> int:
    """The working minutes the ticket's clocks stood still: the longest of them (clocks pause together)."""
    return max((int(clock.paused.total_seconds()) // 60 for clock in clocks), default=0)
