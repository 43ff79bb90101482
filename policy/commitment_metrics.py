"""The service commitments in numbers: per customer, request type and severity, how many tickets, how many
clocks met and missed, the rate, and the median and 90th percentile of the working time to first response
and to resolution, and the time paused.

Each ticket is measured once (`measure`): its working hours (policy.commitments.working_time_between, less
the working time its clocks stood still, policy.pauses) from its arrival to its first response and to its resolution, empty
when that moment is not there, each rounded half-up to 1/10,000 of an hour; its clocks met and missed
(informational ones left out). The groups' figures (`metrics`) are computed over those values as the
workbook's formulas compute them over its cells: MEDIAN, and PERCENTILE (inclusive: linear between the two
nearest ranks, rank p x (n - 1) from 0), over the tickets that have the value. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable

from policy.commitments import Clock, ClockState, Ticket, WorkingCalendar, working_time_between

HOURS = Decimal("0.0001")
#: the order groups are given in (the vocabulary's), a type or severity outside it after, by name
TYPES = ("blocking_bug", "bug", "evolution", "new_feature", "question", "assistance", "customization", "other")
SEVERITIES = ("critical", "major", "minor")


def hours(span: timedelta) -> Decimal:
    """A span as hours, to 1/10,000 of an hour (half-up)."""
    seconds = Decimal(span.days * 86_400 + span.seconds) + Decimal(span.microseconds) / 1_000_000
    return (seconds / 3600).quantize(HOURS, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Measured:
    ticket_id: str
    customer_id: str
    type: str
    severity: str | None
    met: int
    missed: int
    response_hours: Decimal | None
    resolution_hours: Decimal | None
    paused_hours: Decimal


def measure(ticket_id: str, customer_id: str, ticket: Ticket, clocks: Iterable[Clock],
            calendar: WorkingCalendar) -> Measured:
    """One ticket's figures (its clocks evaluated by the caller, as of the moment it looks from)."""
    clocks = list(clocks)
    # the working time the clocks stood still (policy.pauses): the first response's own pause for the time to
    # answer, the longest for the time to resolve (clocks pause together) and the time paused
    paused = max((clock.paused for clock in clocks), default=timedelta(0))
    answering = next((clock.paused for clock in clocks if clock.name == "first_response"), paused)
    counted = [clock for clock in clocks if not clock.informational]

    def to(moment, less: timedelta) -> Decimal | None:
        if moment is None:
            return None
        return hours(max(working_time_between(ticket.received_at, moment, calendar) - less, timedelta(0)))

    return Measured(ticket_id, customer_id, ticket.type, ticket.severity,
                    sum(clock.state == ClockState.MET for clock in counted),
                    sum(clock.state == ClockState.MISSED for clock in counted),
                    to(ticket.first_response_at, answering), to(ticket.resolved_at, paused), hours(paused))


def percentile(values: list[Decimal], share: Decimal) -> Decimal | None:
    """Excel's PERCENTILE (PERCENTILE.INC) of the values: None when there is none."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = share * (len(ordered) - 1)
    low = int(rank)
    if low + 1 >= len(ordered):
        return ordered[-1]
    return ordered[low] + (rank - low) * (ordered[low + 1] - ordered[low])


def group_key(item: Measured) -> tuple:
    """Customer, then type and severity in the vocabulary's order."""
    return (item.customer_id, TYPES.index(item.type) if item.type in TYPES else len(TYPES), item.type,
            SEVERITIES.index(item.severity) if item.severity in SEVERITIES else len(SEVERITIES), item.severity or "")


def ordered(items: Iterable[Measured]) -> list[Measured]:
    """The tickets grouped (each group's rows together, as the workbook's formulas need them), then by id."""
    return sorted(items, key=lambda item: (group_key(item), item.ticket_id.encode()))


def metrics(items: Iterable[Measured]) -> list[dict]:
    """One row per customer, type and severity: tickets, met, missed, rate (met / (met + missed), None when
    neither), median and 90th percentile of the hours to first response and to resolution, hours paused."""
    groups: dict[tuple, list[Measured]] = {}
    for item in ordered(items):
        groups.setdefault(group_key(item), []).append(item)
    rows = []
    for group in groups.values():
        first = group[0]
        met, missed = sum(item.met for item in group), sum(item.missed for item in group)
        response = [item.response_hours for item in group if item.response_hours is not None]
        resolution = [item.resolution_hours for item in group if item.resolution_hours is not None]
        rows.append({"customer_id": first.customer_id, "type": first.type, "severity": first.severity,
                     "tickets": len(group), "met": met, "missed": missed,
                     "rate": Decimal(met) / Decimal(met + missed) if met + missed else None,
                     "median_response": percentile(response, Decimal("0.5")),
                     "p90_response": percentile(response, Decimal("0.9")),
                     "median_resolution": percentile(resolution, Decimal("0.5")),
                     "p90_resolution": percentile(resolution, Decimal("0.9")),
                     "paused_hours": sum((item.paused_hours for item in group), Decimal("0.0000"))})
    return rows
