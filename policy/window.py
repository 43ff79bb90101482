"""The plausible window of a date that comes from outside (a file, the helpdesk, a command's option).

A date like 0001-01-01 or 9999-12-31 is a typo or an attack: it overflows date arithmetic, bills months
nobody meant, or cuts a paying customer's access on a letter "received" two thousand years ago. Every
date from outside lies between the terms' `earliest_date` and `horizon_days` after today; a fact that
cannot lie ahead (a payment, a refund, a ticket's moment, a letter received) lies no later than today.
The window is the same for every customer: it never depends on when a customer was imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from policy.calendar import paris_date, today_paris
from policy.terms import Terms


def earliest_date_problem(earliest: date, today: date) -> str | None:
    """Why the terms' `earliest_date` leaves no window (None: it does): a first day after today would refuse
    every date of the past, today's included, and blame each of them rather than itself."""
    if earliest > today:
        return (f"{earliest} lies after today ({today}): no date of the past would fit the window; set a day "
                f"before it (default 2000-01-01)")
    return None


@dataclass(frozen=True)
class DateWindow:
    earliest: date
    today: date
    latest: date
    now: datetime | None = None  # the current instant (aware): an instant of the past lies no later than it

    @classmethod
    def of(cls, terms: Terms, today: date | None = None, now: datetime | None = None) -> DateWindow:
        today = today or today_paris(now)
        try:
            latest = today + timedelta(days=terms.horizon_days)
        except OverflowError:  # a today near year 9999 (a test clock) keeps the window valid
            latest = date.max
        return cls(terms.earliest_date, today, latest, now)

    def describe(self, *, past_only: bool = False) -> str:
        """The window in words that do not change with the day (an error line a test can hold)."""
        if past_only:
            return f"from {self.earliest} (earliest_date) to today"
        return f"from {self.earliest} (earliest_date) to {self.horizon} days after today (horizon_days)"

    @property
    def horizon(self) -> int:
        return (self.latest - self.today).days

    def problem(self, value: date | datetime, *, past_only: bool = False, shown: str | None = None,
                to_the_minute: bool = False) -> str | None:
        """Why `value` is refused, naming the window; None when it lies in it. An instant counts by its
        Paris day, or (`to_the_minute`, with the window's `now`) by the instant itself: work that has not
        started yet is no fact; `shown` is how the user wrote it (a cell, an option)."""
        day = value
        if isinstance(value, datetime):
            try:
                day = paris_date(value) if value.tzinfo is not None else value.date()
            except OverflowError:
                day = value.date()
        shown = shown or value.isoformat()
        if day < self.earliest:
            return f"{shown} is before {self.earliest}: a date here lies {self.describe(past_only=past_only)}"
        if past_only and day > self.today:
            return f"{shown} is after today: it cannot lie ahead; a date here lies " \
                   f"{self.describe(past_only=True)}"
        if past_only and to_the_minute and isinstance(value, datetime) and value.tzinfo is not None \
                and self.now is not None and value > self.now:
            return f"{shown} is later than now: it cannot lie ahead (what has not happened yet is not a fact); an " \
                   f"instant here lies {self.describe(past_only=True)}, no later than now"
        if day > self.latest:
            return f"{shown} is too far ahead: a date here lies {self.describe()}"
        return None

    def month_problem(self, month: str) -> str | None:
        """Why a month (YYYY-MM, already checked for its form) is refused: it must overlap the window."""
        from policy.calendar import parse_month

        year, number = parse_month(month)
        where = f"a month here lies from {self.earliest:%Y-%m} (earliest_date) to {self.horizon} days after " \
                f"today (horizon_days)"
        if (year, number) < (self.earliest.year, self.earliest.month):
            return f"the month {month} is before {self.earliest:%Y-%m}: {where}"
        if (year, number) > (self.latest.year, self.latest.month):
            return f"the month {month} is too far ahead: {where}"
        return None

