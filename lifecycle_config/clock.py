"""What day it is, for the whole product: the machine's clock, unless `LIFECYCLE_TODAY` names the day.

Every "what day / what time is it" of the business (the day a run works for, the months a close may
bill, the demo's history, a ticket's clocks) reads `now()` or `today()` here, so that one variable moves
them all together: a test, a rehearsal or a demo can be set on any calendar day without touching the
machine's clock. `LIFECYCLE_TODAY=YYYY-MM-DD` keeps the current Paris time of day on that day (the
clock still ticks); unset or empty, the real clock is read. A day outside 2000-01-01..2099-12-31 is
refused like a malformed one (0001-01-01 or 9999-12-31 overflow date arithmetic and bill centuries). Record timestamps (created_at, locks'
heartbeats, measurements) stay on the real clock: they say when something happened on this machine.
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

VARIABLE = "LIFECYCLE_TODAY"
PARIS = ZoneInfo("Europe/Paris")
#: digits 0-9 only (`\d` also matches other scripts' digits: LIFECYCLE_TODAY=٢٠٢٦-١١-٠١ is no day of ours)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: the days LIFECYCLE_TODAY may name: a business day of this product (no terms allow an earlier earliest_date),
#: not one that overflows date arithmetic (0001-01-01, 9999-12-31) or dates documents centuries ahead
EARLIEST = date(2000, 1, 1)
LATEST = date(2099, 12, 31)


class MalformedToday(ValueError):
    """LIFECYCLE_TODAY is set to something that is not a day: the user's to fix, in one line."""


def set_day() -> date | None:
    """The day LIFECYCLE_TODAY names, or None when it is unset (or empty)."""
    raw = os.environ.get(VARIABLE, "").strip()
    if not raw:
        return None
    try:
        if not _DAY.fullmatch(raw):
            raise ValueError
        day = date.fromisoformat(raw)
    except ValueError:
        from lifecycle_config import escaped

        form = "YYYY-MM-DD" if raw.isascii() else "YYYY-MM-DD, write digits 0-9"
        raise MalformedToday(f"{VARIABLE}={escaped(raw)} is not a day ({form}); unset it to use the machine's "
                             f"clock") from None
    if not EARLIEST <= day <= LATEST:
        raise MalformedToday(f"{VARIABLE}={raw!r} is not a plausible day: it lies from {EARLIEST} to {LATEST}; "
                             f"unset it to use the machine's clock")
    return day


def moved(instant: datetime) -> datetime:
    """A real instant as this clock reads it: the same Paris time of day, moved by as many days as
    LIFECYCLE_TODAY is from the machine's Paris day (unchanged when the variable is unset). A run
    scheduled by the real clock (Prefect's) thus works for the day the product believes it is."""
    day = set_day()
    if day is None:
        return instant
    if instant.tzinfo is None:
        raise ValueError("an instant needs a time zone")
    real_today = datetime.now(timezone.utc).astimezone(PARIS).date()
    local = instant.astimezone(PARIS)
    # wall-clock arithmetic: 10:00 stays 10:00 across a DST change; a time the spring change skips
    # (02:30) reads as 03:30 that day, never a day off, whichever of its two names the real one was
    naive = datetime.combine(local.date() + (day - real_today), local.time())
    shifted = naive.replace(tzinfo=PARIS, fold=local.fold)
    if shifted.astimezone(timezone.utc).astimezone(PARIS).replace(tzinfo=None) != naive:
        shifted = naive.replace(tzinfo=PARIS, fold=0)
    return shifted.astimezone(timezone.utc)


def now() -> datetime:
    """The current instant (aware, UTC), on LIFECYCLE_TODAY's day when it is set."""
    return moved(datetime.now(timezone.utc))


def today() -> date:
    """Today's date in Europe/Paris (the policy's days are Paris days)."""
    return now().astimezone(PARIS).date()


def check() -> None:
    """Refuse a malformed LIFECYCLE_TODAY before any work starts (the CLI calls this first)."""
    set_day()


__all__ = ["EARLIEST", "LATEST", "MalformedToday", "VARIABLE", "check", "moved", "now", "today", "set_day"]
