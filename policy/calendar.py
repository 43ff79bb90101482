"""Dates as the policy means them: local days and calendar months in Europe/Paris."""

from __future__ import annotations

import functools

import calendar
import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from lifecycle_config import clock
from policy.digits import digits_problem
from policy.text import quoted

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


_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: the ISO 8601 moments the product reads: a day, or a day and a time to the minute, second or microsecond,
#: with an offset (Z, +HH:MM or +HHMM) or without one; no week dates, no ordinal dates, no basic 20261101 form,
#: no offset with seconds
_MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
                     r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?")


#: the form of `run commitments --as-of` and of its deployment's moment: a Paris wall-clock time to the minute
_MINUTE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}")
#: the offsets real places use: from UTC-12:00 (Baker Island) to UTC+14:00 (the Line Islands)
OFFSETS = (timedelta(hours=-12), timedelta(hours=14))


def offset_problem(at: datetime) -> str | None:
    """Why the offset of `at` is none a place uses (-23:59 was read as a moment two days apart); None if it is
    one, or if `at` has none."""
    offset = at.utcoffset()
    if offset is None or OFFSETS[0] <= offset <= OFFSETS[1]:
        return None
    minutes = int(abs(offset).total_seconds()) // 60
    return (f"its offset {'-' if offset < timedelta(0) else '+'}{minutes // 60:02d}:{minutes % 60:02d} is none a "
            f"place uses (from -12:00 to +14:00)")


@functools.lru_cache(maxsize=4096)   # pure; a close reads the same few months for every customer
def parse_month(text: str) -> tuple[int, int]:
    """'YYYY-MM' to (year, month), with a reason when it is not one: digits 0-9 only (`٢٠٢٦-١١` would be
    read as November 2026 by int() but is another text, so another month to the ledger), no space."""
    problem = digits_problem(text)
    if problem:
        raise ValueError(f"not a month (YYYY-MM): {problem}")
    match = _MONTH.fullmatch(text)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"not a month (YYYY-MM): {quoted(text)}")
    return int(match.group(1)), int(match.group(2))


class YearZero(ValueError):
    """A date in its right form whose year is 0000 (`0000-01-01`): no calendar here holds it, but it is no typo
    of the form; a caller with a window says it lies before it, as it says of 0001-01-01."""


def _iso(text: str, form: re.Pattern, read, label: str):
    """`text` read by `read` once it is written in digits 0-9 and in `form` (one ISO 8601 form, not the others
    Python's fromisoformat also takes); ValueError `not <label>: <why>` otherwise (YearZero for year 0000)."""
    problem = digits_problem(text)
    if problem:
        raise ValueError(f"not {label}: {problem}")
    try:
        if not form.fullmatch(text):
            raise ValueError
        return read(text)
    except ValueError:
        if form.fullmatch(text) and text.startswith("0000"):
            try:
                read("2000" + text[4:])  # a leap year, so that 0000-02-29 is a day of the form too
            except ValueError:
                pass
            else:
                raise YearZero(f"not {label}: {quoted(text)}") from None
        raise ValueError(f"not {label}: {quoted(text)}") from None


def parse_day(text: str) -> date:
    """'YYYY-MM-DD' to a date, with a reason when it is not one (digits 0-9 only, no other ISO form)."""
    return _iso(text, _DAY, date.fromisoformat, "a date (YYYY-MM-DD)")


def parse_moment(text: str, form: str = "YYYY-MM-DDTHH:MM", *, what: str | None = None) -> datetime:
    """An ISO 8601 date-time in its extended form (`_MOMENT`), written with digits 0-9 only; `what` names it in
    the refusal (default: a moment in `form`)."""
    label = what or f"a moment ({form})"
    read = _iso(text, _MOMENT, lambda text: datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z")
                                                                   else text), label)
    problem = offset_problem(read)
    if problem:
        raise ValueError(f"not {label}: {text!r}: {problem}")
    return read


def parse_paris_minute(text: str) -> datetime:
    """`YYYY-MM-DDTHH:MM`, a Paris wall-clock time (naive), as `run commitments --as-of` documents it: no bare
    day, no offset, no seconds (ValueError `not a moment ...`); a time the spring DST change skips is refused
    as an import refuses it (NonexistentLocalTime, paris_instant's words)."""
    local = _iso(text, _MINUTE, datetime.fromisoformat, "a moment (YYYY-MM-DDTHH:MM, Europe/Paris)")
    try:
        paris_instant(local)
    except OverflowError:  # year 1 or 9999 cannot cross time zones: the caller's window check says it
        pass
    return local


@functools.lru_cache(maxsize=4096)
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


def taken_day_problem(day: date, today: date, what: str) -> str | None:
    """Why a copy of data must not be labelled `day` on `today`: it holds the data of the moment it is taken,
    so a day ahead dates it in the future and a day behind names older data than it holds (a restore of
    `C001-20251210` would bring back today's data under last year's name, and retention would count it as
    old). Only today is right; anything else is a typo until someone says otherwise."""
    if day > today:
        return f"{what} {day} is after today ({today})"
    if day < today:
        return f"{what} {day} is before today ({today}): a backup holds the data of the moment it is taken, " \
               f"so its id names today"
    return None


def unfinished_month_problem(month: str, today: date) -> str | None:
    """Why a month cannot be closed on `today`: it has not ended, so its interventions are not all in."""
    first, after = month_bounds(month)
    if after > today:
        return f"the month {month} has not ended (it ends on {after - timedelta(days=1)}; today is {today})"
    return None


def unbegun_month_problem(month: str, today: date) -> str | None:
    """Why a month has nothing to export on `today`: it has not begun (its workbook would be empty, a typo)."""
    first, _ = month_bounds(month)
    if first > today:
        return f"the month {month} has not begun (it begins on {first}; today is {today})"
    return None


def closed_after_problem(month: str, later_closed: str | None) -> str | None:
    """Why a month must not be closed now that a later month is (`later_closed`, the latest one): its work
    would be billed after the later month's invoices, a catch-up nobody meant by a mistyped --month."""
    if later_closed is None or later_closed <= month:
        return None
    return f"the month {month} comes before {later_closed}, which is already closed"
