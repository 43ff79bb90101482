"""E-reporting's calendar: which periods a vendor reports, and what each one covers.

Outside domestic B2B (a foreign business, a private person) invoices are mailed as before, and their figures go
to the tax administration through the vendor's platform: the transaction data (invoices and credit notes issued)
and the payment data (what was cashed on them, for services whose VAT is due on receipt). For a company under the
normal VAT regime with monthly returns, the cadence is: transactions every ten days (the 1st-10th, the 11th-20th,
the 21st-end of month), payments once a month; each is sent in the days after its period ends. This module knows
those periods; a quarterly or simplified regime would be another calendar, not implemented here.

A period is written `YYYY-MM-D1`, `-D2`, `-D3` (a decade's transactions) or `YYYY-MM` (a month's payments).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class ReportKind(StrEnum):
    TRANSACTIONS = "transactions"   # invoices and credit notes issued in the period
    PAYMENTS = "payments"           # payments received in the period


@dataclass(frozen=True)
class Period:
    name: str
    kind: ReportKind
    first: date
    last: date

    def covers(self, day: date) -> bool:
        return self.first <= day <= self.last


_PERIOD = re.compile(r"([0-9]{4})-([0-9]{2})(?:-D([1-3]))?")
#: a period's form, as an option is checked against it before its month's window (lifecycle.cli)
PERIOD_FORM = _PERIOD
FORMS = "YYYY-MM-D1, YYYY-MM-D2, YYYY-MM-D3 (a decade's transactions) or YYYY-MM (a month's payments)"


def period(name: str) -> Period:
    """The period `name` names; ValueError (saying the forms) for anything else."""
    match = _PERIOD.fullmatch(name.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"{name!r} is no e-reporting period: write {FORMS}")
    year, month = int(match.group(1)), int(match.group(2))
    end = calendar.monthrange(year, month)[1]
    if match.group(3) is None:
        return Period(f"{year:04d}-{month:02d}", ReportKind.PAYMENTS, date(year, month, 1), date(year, month, end))
    decade = int(match.group(3))
    first = date(year, month, 1 + 10 * (decade - 1))
    last = date(year, month, end if decade == 3 else 10 * decade)
    return Period(f"{year:04d}-{month:02d}-D{decade}", ReportKind.TRANSACTIONS, first, last)


def decade_of(day: date) -> Period:
    return period(f"{day:%Y-%m}-D{min(3, (day.day - 1) // 10 + 1)}")


def month_of(day: date) -> Period:
    return period(f"{day:%Y-%m}")


def ended_before(today: date, *, looking_back_days: int = 45) -> list[Period]:
    """The periods ended before `today` and not longer ago than `looking_back_days`, oldest first: what a run
    sends (each once: a period already sent is not sent again), so a run missed is made up by the next."""
    found: dict[str, Period] = {}
    day = today - timedelta(days=looking_back_days)
    while day < today:
        for candidate in (decade_of(day), month_of(day)):
            if candidate.last < today and candidate.last >= today - timedelta(days=looking_back_days):
                found[candidate.name] = candidate
        day += timedelta(days=1)
    return sorted(found.values(), key=lambda item: (item.last, item.kind != ReportKind.TRANSACTIONS))
