"""A fact is never dated before what it depends on.

A payment pays an invoice that exists: it is not paid before it was issued. A refund pays back credit the
customer had on that day. Every dated fact of a customer (support time, a ticket, a standby, an invoice's
service period, a cancellation letter) lies on or after the customer's start: its `contract_start`, else
the first day of its earliest imported subscription period (`subscription_start`; none known: no bound).
A cancellation letter received long ago is not a typo the window catches (2000-01-01 is inside it) but
would give back every invoice billed since its last day: past `LATE_LETTER_DAYS` it needs a reason.

Each rule says, in one line, the date refused and the date it depends on; None when the fact may stand.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Iterable

#: a letter recorded later than this after it was received needs --force with a reason: a year, the longest
#: contract period (an annual contract's year), beyond which every month since would be credited back
LATE_LETTER_DAYS = 366


def _day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def before_start_problem(value: date | datetime, start: date | None, what: str) -> str | None:
    """`what` dated `value` lies before the customer's start (None: it does not, or no start is known)."""
    if start is None or _day(value) >= start:
        return None
    shown = value.isoformat() if isinstance(value, date) else str(value)
    return (f"{what} {shown} is before the customer's start ({start}): no fact of a customer lies before it "
            f"(if it started earlier, give its contract_start in the customers file)")


def deletion_moment(day: date, recorded_at: datetime) -> datetime:
    """When a customer's data was deleted on `day` (DESIGN: nothing is billed after `data_deleted`): the moment
    the deletion was recorded when that lies on `day` (Paris), else the end of `day` (a run dated by
    LIFECYCLE_TODAY, or recorded after midnight: the day stands, the whole of it served)."""
    from datetime import time, timedelta, timezone

    from policy.calendar import PARIS, paris_date

    if paris_date(recorded_at) == day:
        return recorded_at.astimezone(timezone.utc)
    return datetime.combine(day + timedelta(days=1), time(0), PARIS).astimezone(timezone.utc)


def after_deletion_problem(value: datetime, deleted: tuple[date, datetime] | None) -> str | None:
    """A fact dated `value` lies after the customer's data was deleted (`deleted`: its day and moment, as
    `deletion_moment`; None: not deleted): nothing is billed after `data_deleted`. The time is said in Paris."""
    from policy.calendar import PARIS

    if deleted is None or value <= deleted[1]:
        return None
    return (f"{value.astimezone(PARIS).isoformat()} is after the customer's data was deleted on {deleted[0]}: "
            f"nothing is billed after the deletion")


def paid_before_issued_problem(paid_on: date, issued_on: date | None, invoice: str) -> str | None:
    """A payment dated before the invoice it pays was issued."""
    if issued_on is None or paid_on >= issued_on:
        return None
    return f"paid on {paid_on}, before invoice {invoice} was issued ({issued_on}): a payment is never dated before its invoice"


def credit_on(movements: Iterable[tuple[date, Decimal]], day: date) -> Decimal:
    """The credit on `day`: the sum of the movements dated on or before it."""
    return sum((amount for on, amount in movements if on <= day), Decimal("0.00"))


def refund_before_credit_problem(refunded_on: date, amount: Decimal,
                                 movements: Iterable[tuple[date, Decimal]]) -> str | None:
    """A refund dated before the customer had the credit it pays back (`movements`: its credit's, dated)."""
    movements = sorted(movements)
    held = credit_on(movements, refunded_on)
    if amount <= held:
        return None
    running, since = Decimal("0.00"), None
    for on, change in movements:
        running += change
        if running >= amount and since is None:
            since = on
        elif running < amount:
            since = None
    when = f"; it had it from {since}" if since is not None and since > refunded_on else ""
    return (f"refunded on {refunded_on}, when the customer's credit was {held} EUR (less than {amount} EUR){when}: "
            f"a refund is never dated before the credit it pays back")


def late_letter_problem(received_on: date, today: date, last_day: date) -> str | None:
    """A cancellation letter recorded more than `LATE_LETTER_DAYS` after it was received: refused unless a
    reason is given (its last day lies so far back that every invoice since would be credited)."""
    late = (today - received_on).days
    if late <= LATE_LETTER_DAYS:
        return None
    return (f"--received-on {received_on} is {late} days ago (more than {LATE_LETTER_DAYS}): its last day of "
            f"service would be {last_day}, and every invoice billed after it would be credited back")
