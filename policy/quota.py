"""The monthly support quota: who pays for which minutes (docs/reference/policy.md "Support quota and categories").

Seed 000: "une assistance et une intervention gratuite sur vos plateformes dans une limite de 2h
par mois. Toute autre demande d'assistance sera soumise à facturation". Quota categories draw on
the month's included minutes in chronological order; what is left over is billed, rounded up to
the increment per intervention. Always-billed categories never touch the quota; free ones cost
nothing. Days on standby carry no included minutes (seed 001: support is limited during standby).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from datetime import date, datetime, timedelta
from decimal import Decimal

from policy.calendar import add_months, days_in_month, month_bounds, paris_date
from policy.categories import Charge, charge_of, fixed_fee
from policy.money import cents
from policy.terms import Terms


@dataclass(frozen=True)
class Work:
    """An intervention as the quota sees it."""

    intervention_id: str
    started_at: datetime  # an instant (time-zone aware)
    minutes: int
    category: str
    beyond_support: bool = False  # on a customization more than a month after its delivery: never from the quota


@dataclass(frozen=True)
class Allocation:
    intervention_id: str
    category: str
    free_minutes: int
    billed_minutes: int
    amount_ht: Decimal
    drawn: int  # quota minutes this intervention used


def standby_dates(periods: list[tuple[date, date]], month: str) -> set[date]:
    """The days of the month covered by standby; a period covers [start_on, end_on)."""
    first, after = month_bounds(month)
    covered = set()
    for start_on, end_on in periods:
        day = max(start_on, first)
        while day < min(end_on, after):
            covered.add(day)
            day += timedelta(days=1)
    return covered


def standby_days(periods: list[tuple[date, date]], month: str) -> int:
    """How many days of the month are covered by standby."""
    return len(standby_dates(periods, month))


def included_minutes(base: int, month: str, standby: int) -> int:
    """floor(included x days not on standby / days in the month)."""
    year, number = (int(part) for part in month.split("-"))
    total = days_in_month(year, number)
    return base * (total - standby) // total


def round_up(minutes: int, increment: int) -> int:
    return -(-minutes // increment) * increment


def hourly_rate(category: str, terms: Terms) -> Decimal:
    """The hourly rate an invoice line and finance's workbook show: the category's rate, halved for
    `feature_urgent`, to the cent (half-up, like every amount). Amounts are priced from the exact
    rate by `price`, so a line's amount never carries this rounding."""
    factor = terms.feature_urgent_factor if charge_of(category) is Charge.DISCOUNTED else None
    return _shown_rate(terms.rate_for(category), factor)


@lru_cache(maxsize=256)   # a few rates, asked for on every invoice line
def _shown_rate(rate: Decimal, factor: Decimal | None) -> Decimal:
    return cents(rate if factor is None else rate * factor)


def price(category: str, billed_minutes: int, terms: Terms) -> Decimal:
    """amount_ht = billed/60 x rate (x the urgent factor), plus the category's fixed fee, half-up to the cent."""
    factor = terms.feature_urgent_factor if charge_of(category) is Charge.DISCOUNTED else None
    return _priced(billed_minutes, terms.rate_for(category), factor, fixed_fee(category, terms))


@lru_cache(maxsize=4096)
def _priced(billed_minutes: int, rate: Decimal, factor: Decimal | None, fee: Decimal) -> Decimal:
    """The arithmetic of `price`, remembered: a month's interventions have a few dozen distinct prices, and
    the close prices each of its (up to millions of) interventions."""
    amount = Decimal(billed_minutes) / 60 * rate
    if factor is not None:
        amount *= factor
    return cents(amount + fee)


@dataclass(frozen=True)
class CentsFormula:
    """`price` in integer arithmetic, for a database that prices a month set-based (ledger/pricing.py):
    amount in cents = (billed_minutes x per_minute + constant) // divisor, exactly `price` (half-up included)
    for every billed_minutes >= 0. The rule stays here; the SQL only evaluates it."""

    charge: Charge
    per_minute: int
    constant: int
    divisor: int

    def cents(self, billed_minutes: int) -> int:
        if self.charge is Charge.FREE:
            return 0
        return (billed_minutes * self.per_minute + self.constant) // self.divisor


def cents_formula(category: str, terms: Terms) -> CentsFormula:
    """The category's `price` as exact integers: rate x factor / 60 x 100 = n/d cents a minute, the fee f/g
    cents, so cents = floor(billed x n/d + f/g + 1/2) = (2ngb + 2fd + dg) // 2dg (no amount is negative).
    A free category costs nothing; billed 0 with no fee costs nothing (as `allocate` says)."""
    charge = charge_of(category)
    if charge is Charge.FREE:
        return CentsFormula(charge, 0, 0, 1)
    rate = terms.rate_for(category) * (terms.feature_urgent_factor if charge is Charge.DISCOUNTED else 1)
    n, d = (rate * 100).as_integer_ratio()
    d *= 60
    f, g = (fixed_fee(category, terms) * 100).as_integer_ratio()
    return CentsFormula(charge, 2 * n * g, 2 * f * d + d * g, 2 * d * g)


def recovery_minutes(seconds: float) -> int:
    """docs/reference/policy.md "Backups, restores and drills": a restore on request bills max(1, ceil(seconds / 60)) minutes; its category's fixed
    fee comes on top at the close."""
    return max(1, math.ceil(seconds / 60))


def chronological(work: Work) -> tuple[datetime, bytes]:
    """The quota's order: the instant, then the id compared byte by byte (not by a database collation)."""
    return work.started_at, work.intervention_id.encode("utf-8")


def beyond_support(started_at: datetime, delivered_on: date | None) -> bool:
    """Seed 003: support on a customization lasts one month after its delivery. An intervention on it that
    starts (Paris day) more than one calendar month after `delivered_on` is billed even where the quota
    would cover it; on the day one month after, it is still within."""
    return delivered_on is not None and paris_date(started_at) > add_months(delivered_on, 1)


def allocate(interventions: list[Work], available: int, terms: Terms) -> list[Allocation]:
    """Share `available` quota minutes among the interventions, in chronological order.

    `available` is what the month still has: all of it at the close, what is left for an
    intervention that arrives after its month was closed. The sum of `drawn` never exceeds it.
    """
    increment = terms.billing_increment_minutes
    allocations = []
    for work in sorted(interventions, key=chronological):
        charge = charge_of(work.category)
        if charge is Charge.FREE:
            allocations.append(Allocation(work.intervention_id, work.category, work.minutes, 0, Decimal("0.00"), 0))
            continue
        drawn = min(available, work.minutes) if charge is Charge.QUOTA and not work.beyond_support else 0
        available -= drawn
        billed = round_up(work.minutes - drawn, increment)
        amount = price(work.category, billed, terms) if billed or fixed_fee(work.category, terms) else Decimal("0.00")
        allocations.append(Allocation(work.intervention_id, work.category, drawn, billed, amount, drawn))
    return allocations
