"""Dates as the policy means them: local days and calendar months in Europe/Paris."""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from lifecycle_config import clock

PARIS = ZoneInfo("Europe/Paris")


def add_months(day: date, months: int) -> date:
    """`day` moved by whole calendar months, clipped to the month's end (31 Jan + 1 = 28/29 Feb).

    docs/reference/policy.md "Arrears": months are added to the original date, never step by step, so 31 Jan + 2
    months is 31 Mar, not 28 Mar.
    """
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def days_in_month(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def parse_month(text: str) -> tuple[int, int]:
    """'YYYY-MM' to (year, month), with a reason when it is not one."""
    try:
        year_text, month_text = text.split("-")
        year, month = int(year_text), int(month_text)
        if len(year_text) != 4 or len(month_text) != 2 or not 1 <= month <= 12:
            raise ValueError
    except ValueError:
        raise ValueError(f"not a month (YYYY-MM): {text!r}") from None
    return year, month


def month_bounds(text: str) -> tuple[date, date]:
    """First day of the month and first day of the next one."""
    year, month = parse_month(text)
    first = date(year, month, 1)
    return first, add_months(first, 1)


def paris_date(instant: datetime) -> date:
    if instant.tzinfo is None:
        raise ValueError("an instant needs a time zone")
    return instant.astimezone(PARIS).date()


class NonexistentLocalTime(ValueError):
    """A wall-clock time skipped by the spring DST change."""


def paris_instant(local: datetime) -> datetime:
    """A Paris wall-clock time as a UTC instant.

    docs/reference/policy.md "Precise rules of the quota": an ambiguous time (the October change) is its first occurrence; one that
    does not exist (the March change) is an error, never silently shifted.
    """
    if local.tzinfo is not None:
        return local.astimezone(timezone.utc)
    aware = local.replace(tzinfo=PARIS, fold=0)
    utc = aware.astimezone(timezone.utc)
    if utc.astimezone(PARIS).replace(tzinfo=None) != local:
        raise NonexistentLocalTime(f"{local.isoformat()} does not exist in Europe/Paris (DST change)")
    return utc


def today_paris(now: datetime | None = None) -> date:
    """The Paris day of `now`; without an instant, of the product's one clock (lifecycle_config.clock:
    the machine's, or the day LIFECYCLE_TODAY names). The rules themselves always take their day as an
    argument: this is for the callers that ask what day it is."""
    return paris_date(now or clock.now())


def future_day_problem(day: date, today: date, what: str) -> str | None:
    """Why a run for `day` must not go ahead on `today`: a business day after today is a typo until
    someone says otherwise (it would switch access, bill and date invoices ahead of time)."""
    if day > today:
        return f"{what} {day} is after today ({today})"
    return None


def unfinished_month_problem(month: str, today: date) -> str | None:
    """Why a month cannot be closed on `today`: it has not ended, so its interventions are not all in."""
    first, after = month_bounds(month)
    if after > today:
        return f"the month {month} has not ended (it ends on {after - timedelta(days=1)}; today is {today})"
    return None
