"""Service commitments as data and one small engine: the clocks a support ticket runs against.

The seeds promise times. Seed 000 (001 says the same in English): "Correction de bugs bloquants : la
mise à jour est faite immédiatement dès la constatation et la résolution du bug. Correction de bugs non
bloquants et évolutions : la mise à jour est faite dans les 15 jours ouvrés. Développement de nouvelles
fonctionnalités : la mise à jour est faite au minimum dans un délai d'un mois selon notre roadmap
produit." Seed 003: "Nous répondons aux e-mails avec nos réponses dans les 48 heures" and "CRMJetty traite
les e-mails du week-end le lundi suivant". Seed 004: "Les jalons de traitement de l'incident sont fonction
de la sévérité de l'anomalie" and "Une solution de contournement peut être mise en place en attendant de
parvenir à une résolution définitive". Seed 002: level 1 by Customer Services, level 2 by Consulting.

Each promise is a `Commitment` row (like the arrears ladder's rows): which tickets it applies to, what
starts its clock, what stops it, and its limit. The rows are a field of `Terms` (edited in the
`PolicyTerms` block); this module evaluates them. No I/O.

Conventions (docs/reference/policy.md "Service commitments"):
- Working time is Paris wall-clock time: [opens, closes) (default 09:00-18:00) on working days
  (Monday-Friday by default) that are not French public holidays (`holidays.France`). A working day is
  9 hours on the DST change days too, whatever the UTC offset does.
- A working-time clock that starts outside working time (evening, weekend, holiday, 18:00 sharp)
  starts at the next opening: 09:00 of the next working day. Calendar clocks start at the arrival.
- `working_days`: due the same wall-clock time of day N working days after the day the clock starts
  (a mail on Friday 17:00 is due Tuesday 17:00 for 2 working days; on Saturday, Wednesday 09:00).
- `working_days_close`: due at closing time (18:00) of the Nth working day *after* the day the clock
  starts (the start day itself is not counted).
- `working_hours`: N hours of working time from the clock's start; a deadline that falls exactly at
  closing time stays at 18:00 of that day (it is not moved to the next morning).
- `calendar_days` / `calendar_months`: the same Paris wall-clock time N days / months later, the month
  clipped to its end (31 Jan + 1 month = 28 Feb); a time the spring change skips is moved forward.
- A clock stops at the earliest of its `stopped_by` moments; a ticket closed before any of them stops
  every clock still running at `closed_at`. A stop after `now` is not known yet: the clock runs.
- Every datetime returned is timezone-aware in Europe/Paris (`policy.calendar.PARIS`); inputs may be
  any aware datetime and are compared as instants. Naive datetimes are refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Literal

import holidays
from pydantic import BaseModel, ConfigDict, Field, field_validator

from policy.calendar import PARIS, add_months
from policy.text import plain
from policy.vocabulary import Severity, TicketChannel, TicketType

if TYPE_CHECKING:  # the terms import this module for the rows' model
    from policy.terms import Terms

# ---------------------------------------------------------------------------------------------------
# The rows (the data of `Terms.commitments`)

Unit = Literal["working_hours", "working_days", "working_days_close", "calendar_days", "calendar_months"]
StopField = Literal["first_response_at", "workaround_at", "resolved_at"]
WORKING_UNITS = frozenset({"working_hours", "working_days", "working_days_close"})


class Limit(BaseModel):
    """How long a clock may run: an amount of a unit (see the module's conventions)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: int = Field(ge=0, le=10_000, description="How many units the clock allows.")
    unit: Unit = Field(description="working_hours | working_days (same time of day, N working days later) | "
                       "working_days_close (closing time of the Nth working day after the start day) | "
                       "calendar_days | calendar_months.")

    def describe(self) -> str:
        return f"{self.amount} {self.unit.replace('_', ' ')}"


class Commitment(BaseModel):
    """One promise: the tickets it applies to, what starts and stops its clock, its limit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="The clock's name, shown to ops and finance.")
    ticket_types: list[TicketType] = Field(min_length=1, description="Ticket types the clock runs on.")
    channels: list[TicketChannel] = Field(
        default_factory=list, description="Channels it applies to; empty: every channel (and tickets without one).")
    levels: list[Literal[1, 2]] = Field(
        default_factory=list, description="Support levels it applies to (seed 002: 1 Customer Services, 2 "
        "Consulting); empty: every level. A ticket without a level is level 1 (level 2 is an escalation).")
    starts: Literal["received_at"] = Field("received_at", description="The moment that starts the clock.")
    stopped_by: list[StopField] = Field(
        min_length=1, description="The clock stops at the earliest of these moments (or when the ticket is closed).")
    limit: Limit = Field(description="The limit when no severity milestone overrides it.")
    by_severity: dict[Severity, Limit] = Field(
        default_factory=dict, description="Milestones by severity (seed 004: 'Les jalons de traitement de "
        "l'incident sont fonction de la sévérité de l'anomalie'): a severity's own limit.")
    informational: bool = Field(
        False, description="A floor, not a deadline: the due date is shown, the clock is never at risk, "
        "breached nor missed.")
    seed: Annotated[str, plain(500)] = Field(min_length=3, description="The seed clause the promise comes from.")

    @field_validator("ticket_types", "channels", "levels", "stopped_by")
    @classmethod
    def _no_repeats(cls, values: list) -> list:
        if len(set(values)) != len(values):
            raise ValueError(f"a value is repeated: {values}")
        return values


def default_commitments() -> list[Commitment]:
    """The promises of the seeds, read as docs/reference/policy.md "Service commitments" reads them."""
    return [
        Commitment(
            name="first_response", ticket_types=list(TicketType), stopped_by=["first_response_at"],
            limit=Limit(amount=2, unit="working_days"),
            seed="003: 'Nous répondons aux e-mails avec nos réponses dans les 48 heures' and 'CRMJetty traite les "
            "e-mails du week-end le lundi suivant': 48 hours read as 2 working days, at the same time of day.",
        ),
        Commitment(
            name="blocking_workaround", ticket_types=[TicketType.BLOCKING_BUG],
            stopped_by=["workaround_at", "resolved_at"], limit=Limit(amount=1, unit="working_days"),
            by_severity={Severity.CRITICAL: Limit(amount=4, unit="working_hours")},
            seed="000: 'Correction de bugs bloquants : la mise à jour est faite immédiatement dès la constatation et "
            "la résolution du bug'; 004: 'Une solution de contournement peut être mise en place en attendant de "
            "parvenir à une résolution définitive' and milestones by severity. 'Immediately' read as a workaround "
            "or fix within 1 working day, 4 working hours when critical.",
        ),
        Commitment(
            name="delivery", ticket_types=[TicketType.BUG, TicketType.EVOLUTION], stopped_by=["resolved_at"],
            limit=Limit(amount=15, unit="working_days_close"),
            seed="000: 'Correction de bugs non bloquants et évolutions : la mise à jour est faite dans les 15 jours "
            "ouvrés'; 001: 'Evolution of existing functionalities: the update is made within 15 working days'.",
        ),
        Commitment(
            name="new_feature", ticket_types=[TicketType.NEW_FEATURE], stopped_by=["resolved_at"],
            limit=Limit(amount=1, unit="calendar_months"), informational=True,
            seed="000: 'Développement de nouvelles fonctionnalités : la mise à jour est faite au minimum dans un "
            "délai d'un mois selon notre roadmap produit': a floor (not before one month), shown for information.",
        ),
    ]


def unique_names(commitments: list[Commitment]) -> list[Commitment]:
    names = [commitment.name for commitment in commitments]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"commitment names must be unique: {', '.join(repeated)} repeated")
    return commitments


# ---------------------------------------------------------------------------------------------------
# The working calendar

@lru_cache(maxsize=256)
def _public_holidays(subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays.France(subdiv=subdivision, years=year).keys())


@dataclass(frozen=True)
class WorkingCalendar:
    """When the support works, in Paris wall-clock time."""

    opens: time = time(9, 0)
    closes: time = time(18, 0)
    weekdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})   # ISO: 1 = Monday
    subdivision: str | None = None                           # None: metropolitan France
    closed_days: frozenset[date] = frozenset()
    open_days: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if not self.opens < self.closes:
            raise ValueError(f"working hours must open before they close: {self.opens}-{self.closes}")
        if not self.weekdays or not self.weekdays <= {1, 2, 3, 4, 5, 6, 7}:
            raise ValueError(f"working weekdays must be ISO weekdays 1-7: {sorted(self.weekdays)}")

    @classmethod
    def of(cls, terms: Terms) -> WorkingCalendar:
        return cls(terms.working_hours_start, terms.working_hours_end, frozenset(terms.working_weekdays),
                   terms.public_holidays_subdivision, frozenset(terms.extra_closed_days),
                   frozenset(terms.extra_working_days))

    @property
    def day_length(self) -> timedelta:
        return datetime.combine(date.min, self.closes) - datetime.combine(date.min, self.opens)

    def is_holiday(self, day: date) -> bool:
        return day in _public_holidays(self.subdivision, day.year)

    def is_working_day(self, day: date) -> bool:
        if day in self.open_days:
            return True
        if day in self.closed_days:
            return False
        return day.isoweekday() in self.weekdays and not self.is_holiday(day)

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after `day`."""
        for _ in range(3700):
            day += timedelta(days=1)
            if self.is_working_day(day):
                return day
        raise ValueError(f"no working day within ten years after {day}")


def _local(instant: datetime) -> datetime:
    """An aware instant as a naive Paris wall-clock time."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"a time zone is needed: {instant.isoformat()}")
    return instant.astimezone(PARIS).replace(tzinfo=None)


def _paris(local: datetime) -> datetime:
    """A Paris wall-clock time as an aware Paris datetime: the first occurrence of an ambiguous time, a
    time the spring change skips moved forward by the change (02:30 becomes 03:30). Working hours are
    never in either case."""
    return local.replace(tzinfo=PARIS, fold=0).astimezone(timezone.utc).astimezone(PARIS)


def _instant(moment: datetime) -> datetime:
    """For comparisons: two datetimes with the same tzinfo compare by wall clock, not as instants."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a time zone is needed: {moment.isoformat()}")
    return moment.astimezone(timezone.utc)


def _next_opening(local: datetime, calendar: WorkingCalendar) -> datetime:
    day, at = local.date(), local.time()
    if calendar.is_working_day(day):
        if at < calendar.opens:
            return datetime.combine(day, calendar.opens)
        if at < calendar.closes:
            return local
    return datetime.combine(calendar.next_working_day(day), calendar.opens)


def next_working_moment(t: datetime, calendar: WorkingCalendar) -> datetime:
    """`t` itself when it is working time, else the next opening (09:00 of the next working day).

    Working time is [opens, closes): 17:59 is in it, 18:00 and 18:01 start the next working morning.
    """
    return _paris(_next_opening(_local(t), calendar))


def add_working_hours(start: datetime, hours: float | int | Decimal | timedelta,
                      calendar: WorkingCalendar) -> datetime:
    """The moment `hours` of working time after `start` (counted from its next working moment).

    Wall-clock hours: a working day is `closes - opens` long even on a DST change day. A result that
    falls exactly at closing time stays there (18:00), never the next morning.
    """
    if isinstance(hours, timedelta):
        remaining = hours
    elif isinstance(hours, Decimal):
        remaining = timedelta(microseconds=int(hours * 3_600_000_000))
    else:
        remaining = timedelta(hours=hours)
    if remaining < timedelta(0):
        raise ValueError(f"a limit cannot be negative: {hours}")
    current = _next_opening(_local(start), calendar)
    for _ in range(400_000):
        available = datetime.combine(current.date(), calendar.closes) - current
        if remaining <= available:
            return _paris(current + remaining)
        remaining -= available
        current = datetime.combine(calendar.next_working_day(current.date()), calendar.opens)
    raise ValueError(f"{hours} working hours is too long a limit")


def add_working_days(start: datetime, days: int, calendar: WorkingCalendar, *, at_close: bool = False) -> datetime:
    """N working days after the day the clock starts (`start` moved to its next working moment).

    Same time of day by default: Friday 17:00 + 2 = Tuesday 17:00; Saturday 11:00 starts Monday 09:00, + 2 =
    Wednesday 09:00. With `at_close`, the closing time (18:00) of the Nth working day after the start day.
    """
    if days < 0:
        raise ValueError(f"a limit cannot be negative: {days}")
    begun = _next_opening(_local(start), calendar)
    day = begun.date()
    for _ in range(days):
        day = calendar.next_working_day(day)
    return _paris(datetime.combine(day, calendar.closes if at_close else begun.time()))


def add_calendar_days(start: datetime, days: int) -> datetime:
    """The same Paris wall-clock time `days` later (a day is 23 or 25 hours on the DST change days)."""
    return _paris(_local(start) + timedelta(days=days))


def add_calendar_months(start: datetime, months: int) -> datetime:
    """The same Paris wall-clock time `months` later, the day clipped to the month's end."""
    local = _local(start)
    return _paris(datetime.combine(add_months(local.date(), months), local.time()))


def working_time_between(start: datetime, end: datetime, calendar: WorkingCalendar) -> timedelta:
    """The working time in [start, end) (zero when end is not after start), in wall-clock hours."""
    a, b = _local(start), _local(end)
    if _instant(end) <= _instant(start):
        return timedelta(0)
    total = timedelta(0)
    day = a.date()
    while day <= b.date():
        if calendar.is_working_day(day):
            lo = max(a, datetime.combine(day, calendar.opens))
            hi = min(b, datetime.combine(day, calendar.closes))
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return total


# ---------------------------------------------------------------------------------------------------
# Clocks

class ClockState(StrEnum):
    MET = "met"
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    MISSED = "missed"
    BREACHED = "breached"


#: from best to worst: a ticket is as bad as its worst clock. A breached clock (late and still running,
#: ops can act) ranks above a missed one (late, over).
SEVERITY_ORDER: tuple[ClockState, ...] = (ClockState.MET, ClockState.ON_TRACK, ClockState.AT_RISK,
                                          ClockState.MISSED, ClockState.BREACHED)
_RANK = {state: rank for rank, state in enumerate(SEVERITY_ORDER)}


@dataclass(frozen=True)
class Ticket:
    """A ticket as the clocks see it: its kind and the moments that start and stop them (aware datetimes)."""

    type: str
    received_at: datetime
    severity: str | None = None
    level: int | None = None
    channel: str | None = None
    first_response_at: datetime | None = None
    workaround_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None


@dataclass(frozen=True)
class Clock:
    """One commitment's clock on one ticket, as of a moment."""

    name: str
    due_at: datetime          # Paris; for an informational clock, the earliest date promised
    stopped_at: datetime | None
    state: ClockState
    started_at: datetime      # Paris: the arrival moved to the next working moment for working-time clocks
    allowed: timedelta        # working time for working units, elapsed time for calendar units
    informational: bool = False
    paused: timedelta = timedelta(0)   # working time the clock stood still (policy.pauses): due_at moved by it


def applies(commitment: Commitment, ticket: Ticket) -> bool:
    """Whether the commitment's clock runs on the ticket (type, channel and level filters)."""
    if ticket.type not in commitment.ticket_types:
        return False
    if commitment.channels and ticket.channel not in commitment.channels:
        return False
    return not commitment.levels or (ticket.level or 1) in commitment.levels


def limit_for(commitment: Commitment, severity: str | None) -> Limit:
    """The severity's milestone when the commitment has one, else its limit."""
    if severity is not None and severity in commitment.by_severity:
        return commitment.by_severity[Severity(severity)]
    return commitment.limit


def clock_start(limit: Limit, received_at: datetime, calendar: WorkingCalendar) -> datetime:
    """Working-time clocks start at the next working moment; calendar clocks at the arrival."""
    if limit.unit in WORKING_UNITS:
        return next_working_moment(received_at, calendar)
    return received_at.astimezone(PARIS)


def deadline(limit: Limit, received_at: datetime, calendar: WorkingCalendar) -> datetime:
    """When a clock with this limit started by `received_at` is due (Paris)."""
    if limit.unit == "working_hours":
        return add_working_hours(received_at, limit.amount, calendar)
    if limit.unit == "working_days":
        return add_working_days(received_at, limit.amount, calendar)
    if limit.unit == "working_days_close":
        return add_working_days(received_at, limit.amount, calendar, at_close=True)
    if limit.unit == "calendar_days":
        return add_calendar_days(received_at, limit.amount)
    return add_calendar_months(received_at, limit.amount)


def due_at(commitment: Commitment, received_at: datetime, calendar: WorkingCalendar,
           severity: str | None = None) -> datetime:
    """When the commitment's clock on a ticket received at `received_at` is due (Paris)."""
    return deadline(limit_for(commitment, severity), received_at, calendar)


def allowance(limit: Limit, start: datetime, due: datetime, calendar: WorkingCalendar) -> timedelta:
    """The time the clock allows, in its own measure: working time, or elapsed time for calendar units."""
    if limit.unit in WORKING_UNITS:
        return working_time_between(start, due, calendar)
    return _instant(due) - _instant(start)


def clock_state(due: datetime | None, stopped_at: datetime | None, now: datetime, allowed: timedelta,
                threshold: Decimal | float | str, calendar: WorkingCalendar | None = None) -> ClockState:
    """The state of a clock as of `now`.

    - stopped (a `stopped_at` not after `now`): `met` when stopped at or before `due`, else `missed`;
    - running: `breached` once `now` is after `due` (due itself is still in time); `at_risk` when the
      time left is less than (1 - threshold) of `allowed`, i.e. more than `threshold` of it is used
      (exactly at the threshold is still `on_track`); else `on_track`.
    Time left is working time from `now` to `due` when a `calendar` is given, else elapsed time; `allowed`
    must be in the same measure. `due` None is a clock without deadline (informational): `on_track`, then `met`.
    The threshold is compared exactly (as a decimal), never as a float.
    """
    now_i = _instant(now)
    if stopped_at is not None and _instant(stopped_at) <= now_i:
        if due is None or _instant(stopped_at) <= _instant(due):
            return ClockState.MET
        return ClockState.MISSED
    if due is None:
        return ClockState.ON_TRACK
    if now_i > _instant(due):
        return ClockState.BREACHED
    left = working_time_between(now, due, calendar) if calendar is not None else _instant(due) - now_i
    share = Decimal(str(threshold))
    if not Decimal(0) <= share <= Decimal(1):
        raise ValueError(f"the at-risk threshold is a share of the allowance (0-1): {threshold}")
    if Decimal(_microseconds(left)) < (Decimal(1) - share) * Decimal(_microseconds(allowed)):
        return ClockState.AT_RISK
    return ClockState.ON_TRACK


def _microseconds(span: timedelta) -> int:
    return (span.days * 86_400 + span.seconds) * 1_000_000 + span.microseconds


def stop_of(commitment: Commitment, ticket: Ticket) -> datetime | None:
    """The earliest of the commitment's stop moments on the ticket, else its closing, else None; a closed
    ticket's clocks stop at the latest at its close (a reply recorded afterwards does not reopen them)."""
    moments = [getattr(ticket, name) for name in commitment.stopped_by if getattr(ticket, name) is not None]
    if ticket.closed_at is not None:
        moments.append(ticket.closed_at)
    return min(moments, key=_instant) if moments else None


def clock_for(commitment: Commitment, ticket: Ticket, now: datetime, calendar: WorkingCalendar,
              threshold: Decimal | float | str) -> Clock | None:
    """The commitment's clock on the ticket as of `now`, or None when it does not apply (a ticket without a
    status history: policy.pauses computes both)."""
    from policy.pauses import timed_clock

    return timed_clock(commitment, ticket, now, calendar, threshold, [], [])


def ticket_clocks(ticket: Ticket, now: datetime, *, commitments: Iterable[Commitment], calendar: WorkingCalendar,
                  threshold: Decimal | float | str) -> list[Clock]:
    """Every clock of the ticket as of `now`, in the order of the commitments."""
    clocks = (clock_for(commitment, ticket, now, calendar, threshold) for commitment in commitments)
    return [clock for clock in clocks if clock is not None]


def clocks_under(terms: Terms, ticket: Ticket, now: datetime, *, events: Iterable = (), pause_history=None,
                 tier: str | None = None) -> list[Clock]:
    """Every clock of the ticket as of `now`, with the terms' commitments (the tier's set when the customer has
    one), calendar and threshold; the ticket's status history (`events`) pauses and restarts them
    (policy.pauses)."""
    from policy.pauses import timed_clocks

    return timed_clocks(terms, ticket, now, events=events, pause_history=pause_history, tier=tier)


def worst(states: Iterable[ClockState | str]) -> ClockState | None:
    """The worst of the states (see SEVERITY_ORDER); None when there is none."""
    ranked = [ClockState(state) for state in states]
    return max(ranked, key=_RANK.__getitem__) if ranked else None


def ticket_state(clocks: Iterable[Clock]) -> ClockState | None:
    """A ticket's overall state: the worst of its clocks (None for a ticket no commitment applies to)."""
    return worst(clock.state for clock in clocks)
