"""Warnings before a breach, and alerts in service hours: when ops hear about a ticket's clock.

The terms list warning offsets in working time before each due time (`Terms.warnings`, default 4 and 1
working hours). A running clock is warned once per offset, the moment the working time left to its due
time is no more than the offset; the breach alert (once the due time is passed) stays. No I/O.

Conventions (docs/reference/policy.md "Warnings and service hours"):
- A warning's moment is its due time minus the offset, counted back in working time (the working
  calendar of policy/commitments.py): a clock due Monday 10:00 is warned 4 working hours before on
  Friday 15:00. Informational clocks are never warned; an offset not shorter than the clock's own
  allowance (working time from its start to its due time) is skipped: the clock starts already that
  close to its due time, and the breach alert says the rest.
- A run that finds several offsets passed warns for the tightest only (a run after a night warns "1 h
  left", not also "4 h left"); a clock already breached or stopped is not warned.
- An alert is delivered at once when the run's moment is service time (the working calendar's hours),
  else at the next opening; a blocking bug's alert is delivered at once, day or night.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from policy.calendar import PARIS
from policy.commitments import (Clock, WorkingCalendar, _instant, _local, _paris, next_working_moment,
                                working_time_between)
from policy.vocabulary import TicketType


class Offset(BaseModel):
    """How long before a due time, in working time, ops are warned."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: int = Field(ge=1, le=100_000, description="How many units before the due time.")
    unit: Literal["working_hours", "working_minutes"] = Field(
        description="working_hours | working_minutes: working time, counted back from the due time in the "
        "working calendar (weekends, public holidays and nights do not count).")

    @property
    def minutes(self) -> int:
        return self.amount * 60 if self.unit == "working_hours" else self.amount

    @property
    def span(self) -> timedelta:
        return timedelta(minutes=self.minutes)

    def describe(self) -> str:
        if self.unit == "working_hours":
            return f"{self.amount} working hour{'s' if self.amount > 1 else ''}"
        return f"{self.amount} working minute{'s' if self.amount > 1 else ''}"


def default_warnings() -> list[Offset]:
    """4 working hours, then 1 working hour, before each due time."""
    return [Offset(amount=4, unit="working_hours"), Offset(amount=1, unit="working_hours")]


def distinct_offsets(offsets: list[Offset]) -> list[Offset]:
    """The terms' validator: two offsets of the same working time would warn twice at once."""
    minutes = [offset.minutes for offset in offsets]
    repeated = sorted({m for m in minutes if minutes.count(m) > 1})
    if repeated:
        raise ValueError(f"a warning offset is repeated: {', '.join(f'{m} working minutes' for m in repeated)}")
    return offsets


def subtract_working_time(due: datetime, span: timedelta, calendar: WorkingCalendar) -> datetime:
    """The moment `span` of working time before `due` (Paris): working_time_between(result, due) == span.

    Counted back from the last working moment at or before `due`; a result that lands exactly at an
    opening stays there (09:00), never the previous evening.
    """
    if span < timedelta(0):
        raise ValueError(f"an offset cannot be negative: {span}")
    current = _local(due)
    day = current.date()
    opens_at, closes_at = (datetime.combine(day, calendar.opens), datetime.combine(day, calendar.closes))
    if not calendar.is_working_day(day) or current <= opens_at:
        current = None
    elif current > closes_at:
        current = closes_at
    remaining = span
    for _ in range(400_000):
        if current is None:
            day = _previous_working_day(day, calendar)
            current = datetime.combine(day, calendar.closes)
        available = current - datetime.combine(current.date(), calendar.opens)
        if remaining <= available:
            return _paris(current - remaining)
        remaining -= available
        day, current = current.date(), None
    raise ValueError(f"{span} of working time is too long an offset")


def _previous_working_day(day: date, calendar: WorkingCalendar) -> date:
    for _ in range(3700):
        day -= timedelta(days=1)
        if calendar.is_working_day(day):
            return day
    raise ValueError(f"no working day within ten years before {day}")


def warned(clock: Clock) -> bool:
    """Whether a clock is ever warned: a deadline (not informational)."""
    return not clock.informational


def warning_moments(clock: Clock, offsets: Iterable[Offset], calendar: WorkingCalendar) -> list[tuple[Offset, datetime]]:
    """Each offset the clock is warned at, with its moment (Paris), earliest first; offsets not shorter than
    the clock's allowance in working time are left out (see the module's conventions)."""
    if not warned(clock):
        return []
    allowed = working_time_between(clock.started_at, clock.due_at, calendar)
    moments = [(offset, subtract_working_time(clock.due_at, offset.span, calendar))
               for offset in offsets if offset.span < allowed]
    return sorted(moments, key=lambda pair: _instant(pair[1]))


def running(clock: Clock, at: datetime) -> bool:
    """Not stopped as of `at`, and not past its due time (a breached clock is the breach alert's)."""
    stopped = clock.stopped_at is not None and _instant(clock.stopped_at) <= _instant(at)
    return not stopped and _instant(at) <= _instant(clock.due_at)


def due_warning(clock: Clock, offsets: Iterable[Offset], at: datetime,
                calendar: WorkingCalendar) -> tuple[Offset, datetime] | None:
    """The warning a run at `at` records for the clock: the tightest offset whose moment has come, while the
    clock runs and is not yet due; None when there is none."""
    if not warned(clock) or not running(clock, at):
        return None
    passed = [pair for pair in warning_moments(clock, offsets, calendar) if _instant(pair[1]) <= _instant(at)]
    return passed[-1] if passed else None


def next_warning_at(clocks: Iterable[Clock], offsets: Iterable[Offset], at: datetime,
                    calendar: WorkingCalendar) -> datetime | None:
    """The earliest warning moment after `at` among the ticket's running clocks (Paris), or None."""
    offsets = list(offsets)
    ahead = [moment for clock in clocks if warned(clock) and running(clock, at)
             for _, moment in warning_moments(clock, offsets, calendar) if _instant(moment) > _instant(at)]
    return min(ahead, key=_instant) if ahead else None


def urgent(ticket_type: str) -> bool:
    """A blocking bug's alerts go at once, day or night (seed 000: 'immédiatement dès la constatation')."""
    return ticket_type == TicketType.BLOCKING_BUG


def delivery_moment(at: datetime, ticket_type: str, calendar: WorkingCalendar) -> datetime:
    """When an alert computed at `at` may go to ops (Paris): at once in service time or for a blocking bug,
    else at the next opening of the working calendar."""
    if urgent(ticket_type):
        return at.astimezone(PARIS)
    return next_working_moment(at, calendar)
