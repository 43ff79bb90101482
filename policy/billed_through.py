"""Billed through, and a customer's start (DESIGN "Billed through, and a customer's start").

A vendor moving in brings invoices its old system issued. Each billed the subscription for a service
period; the product's own monthly invoices record theirs too. A customer's subscription is *billed
through* the last day of the latest of those periods (billing systems call it the "charged through
date"), and a close of month M bills only the days of M after it, and on or after the customer's start,
so no subscription day is ever billed twice, nor before the customer started.

Plain functions of dates: the close (operations/close.py) reads the periods from the ledger and asks
these what is left to bill.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterable

from policy.calendar import add_months, month_bounds
from policy.vocabulary import BillingCycle

#: the longest service period one imported invoice may bill: a year, and a month of slack for a year
#: that starts mid-month (what a longer one says is more likely a typing error than a contract)
MAX_PERIOD_MONTHS = 13
#: how far a period may lie from its invoice's issue date (an invoice billed in advance, or late)
MAX_MONTHS_FROM_ISSUE = 24


@dataclass(frozen=True)
class BilledPeriod:
    """A subscription service period an invoice billed (inclusive), and that invoice as a user names it."""

    start: date
    end: date
    invoice: str


def default_period(issued_on: date, billing_cycle: str) -> tuple[date, date]:
    """The period of an imported invoice that does not say: a monthly customer's invoice covers the
    calendar month before `issued_on` (billed at the month's end), an annual one the twelve months from
    the month of `issued_on` (billed in advance)."""
    first_of_issue = issued_on.replace(day=1)
    if billing_cycle == BillingCycle.ANNUAL:
        return first_of_issue, add_months(first_of_issue, 12) - timedelta(days=1)
    return add_months(first_of_issue, -1), first_of_issue - timedelta(days=1)


def period_problems(start: date | None, end: date | None, issued_on: date | None) -> list[tuple[str, str]]:
    """What is wrong with an imported invoice's period, as (column, reason) pairs."""
    if (start is None) != (end is None):
        given, missing = ("period_start", "period_end") if end is None else ("period_end", "period_start")
        return [(missing, f"{given} is given: give {missing} too (both or neither)")]
    if start is None or end is None:
        return []
    if end < start:
        return [("period_end", f"the period ends ({end}) before it starts ({start})")]
    if end >= add_months(start, MAX_PERIOD_MONTHS):
        return [("period_end", f"a period of more than {MAX_PERIOD_MONTHS} months ({start} to {end}): "
                               f"one invoice bills at most a year")]
    if issued_on is not None:
        if start < add_months(issued_on, -MAX_MONTHS_FROM_ISSUE) or end > add_months(issued_on, MAX_MONTHS_FROM_ISSUE):
            return [("period_start", f"the period {start} to {end} is more than {MAX_MONTHS_FROM_ISSUE} months "
                                     f"from the invoice's issue date ({issued_on})")]
    return []


def cycle_last_day(start: date, billing_cycle: str) -> date:
    """The last day of one billing cycle from `start`: a month (16 Sep to 15 Oct, 1 Oct to 31 Oct) or a year
    (an annual contract's year from its anniversary, as `contract_year`). A start with no same day in the
    month it ends in (31 January) runs to that month's last day (28 February)."""
    months = 12 if billing_cycle == BillingCycle.ANNUAL else 1
    after = add_months(start, months)
    if after.day != start.day:   # clipped to the month's end: the cycle runs through that last day
        after += timedelta(days=1)
    return after - timedelta(days=1)


def latest_start(issued_on: date) -> date:
    """The latest first day of the period an invoice issued on `issued_on` may bill: the product bills a month
    at its close (after it) and an annual year in the month it starts; another system billing in advance bills
    the next month at most, so a period starts by the last day of the month after the issue month."""
    return add_months(issued_on.replace(day=1), 2) - timedelta(days=1)


def cycle_problems(start: date, end: date, issued_on: date, billing_cycle: str) -> list[tuple[str, str]]:
    """What is wrong with the period of an imported invoice that bills a customer's subscription, beyond
    `period_problems`: it bills one cycle of that customer at most (a monthly customer's invoice for a year
    would leave eleven months unbilled by every close), and starts no later than `latest_start` (a period
    months after the invoice would stop the closes in between)."""
    cycle = "annual" if billing_cycle == BillingCycle.ANNUAL else "monthly"
    last = cycle_last_day(start, billing_cycle)
    if end > last:
        return [("period_end", f"the period {start} to {end} is longer than one billing cycle of this {cycle} "
                               f"customer: a period from {start} ends by {last} at the latest")]
    if start > latest_start(issued_on):
        return [("period_start", f"the period starts {start}, past the month after the invoice's issue "
                                 f"({issued_on}): an invoice bills ahead one month at most, so its period starts "
                                 f"by {latest_start(issued_on)} at the latest")]
    return []


def overlap_problem(start: date, end: date, billed: Iterable[BilledPeriod]) -> str | None:
    """Why a subscription period `start`..`end` may not be billed: it shares days with a period billed
    already (the earliest such one named, with the days both hold); None when it shares none. No
    subscription day is ever billed twice, whichever of the product and an import billed it first."""
    shared = sorted((period for period in billed if period.start <= end and period.end >= start),
                    key=lambda period: (period.start, period.end))
    if not shared:
        return None
    first = shared[0]
    days = max(first.start, start), min(first.end, end)
    said = str(days[0]) if days[0] == days[1] else f"{days[0]} to {days[1]}"
    return (f"the service period {start} to {end} bills {said} again: {first.invoice} billed {first.start} to "
            f"{first.end} already (no subscription day is billed twice; subscription=false for an invoice that "
            f"did not bill it)")


def latest(periods: Iterable[BilledPeriod]) -> BilledPeriod | None:
    """The period that bills the customer through the latest day (the first one named, on a tie)."""
    found = None
    for period in periods:
        if found is None or period.end > found.end:
            found = period
    return found


def subscription_start(contract_start: date | None, imported: Iterable[BilledPeriod]) -> date | None:
    """`contract_start` when given, else the first day of the earliest imported period; None: no bound."""
    if contract_start is not None:
        return contract_start
    return min((period.start for period in imported), default=None)


@dataclass(frozen=True)
class Unbilled:
    """What a close may bill of a subscription: the days of a span not billed yet and not before the start.

    `days` (U) and `standby` (S, among those days) price the line; `first`/`last` are the period the new
    invoice records; `billed` is what was billed before when it reaches into the span (the close says so)."""

    span_days: int
    days: int
    standby: int
    first: date | None
    last: date | None
    billed: BilledPeriod | None
    before_start: int          # days of the span before the customer's start
    already_billed: int        # days of the span (on or after the start) a previous invoice billed

    @property
    def whole(self) -> bool:
        return self.days == self.span_days


def unbilled(first: date, last: date, *, start: date | None, billed: BilledPeriod | None,
             standby: Iterable[date] = (), last_service_day: date | None = None) -> Unbilled:
    """The days of `first`..`last` after the billed-through day, on or after `start`, and served (up to
    `last_service_day`, when a cancellation ends the service), with the standby days among them."""
    span = (last - first).days + 1
    begin = first
    before_start = 0
    if start is not None and start > first:
        before_start = min(span, (start - first).days)
        begin = max(begin, start)
    touching = billed if billed is not None and billed.end >= first else None
    already = 0
    if touching is not None:
        already = max(0, (min(last, touching.end) - begin).days + 1)
        begin = max(begin, touching.end + timedelta(days=1))
    end = last if last_service_day is None else min(last, last_service_day)
    if begin > end:
        return Unbilled(span, 0, 0, None, None, touching, before_start, already)
    days = (end - begin).days + 1
    off = sum(1 for day in set(standby) if begin <= day <= end)
    return Unbilled(span, days, off, begin, end, touching, before_start, already)


def month_unbilled(month: str, **facts) -> Unbilled:
    """`unbilled` for the days of a calendar month."""
    first, after = month_bounds(month)
    return unbilled(first, after - timedelta(days=1), **facts)


def contract_year(month: str, contract_start: date) -> tuple[date, date]:
    """The year an annual customer is billed for in the month its contract year starts: from the contract's
    own day in that month (a contract of 15 March runs 15 March to 14 March, as its cancellation counts it;
    the 31st in a shorter month is its last day) for twelve months."""
    first, after = month_bounds(month)
    year_first = min(first.replace(day=1) + timedelta(days=contract_start.day - 1), after - timedelta(days=1))
    return year_first, add_months(year_first, 12) - timedelta(days=1)
