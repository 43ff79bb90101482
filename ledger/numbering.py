"""Invoice numbers: `YYYY-NNNNNN`, one gapless sequence per calendar year, shared by every invoice the
product issues (monthly and penalty), given at finalisation inside the caller's transaction.

French law wants numbers gapless and chronological: the sequence row is locked for the whole
transaction (SQLite's write lock, PostgreSQL's row lock), so a rolled-back finalisation leaves no
gap, and an invoice is never dated before the one numbered just before it.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.db import insert_if_missing
from ledger.models import InvoiceSequence
from policy.calendar import today_paris


def _sequence(session: Session, year: int) -> InvoiceSequence:
    insert_if_missing(session, InvoiceSequence, year=year, last_number=0, last_issued_on=None)
    return session.scalar(select(InvoiceSequence).where(InvoiceSequence.year == year).with_for_update()
                          .execution_options(populate_existing=True))


def issue_date(session: Session, wanted: date, today: date | None = None) -> date:
    """The issue date to use: `wanted`, unless the sequence already issued a later one; never after
    today (Paris), whatever day a forced run works for: no invoice is dated after the day it is issued."""
    wanted = min(wanted, today or today_paris())
    sequence = _sequence(session, wanted.year)
    if sequence.last_issued_on and sequence.last_issued_on > wanted:
        return sequence.last_issued_on
    return wanted


def next_numbers(session: Session, issued_on: date, count: int) -> list[str]:
    """`count` consecutive numbers for invoices issued on `issued_on` (see `issue_date`)."""
    sequence = _sequence(session, issued_on.year)
    if sequence.last_issued_on and sequence.last_issued_on > issued_on:
        raise ValueError(f"cannot issue on {issued_on}: number {sequence.last_number} was issued on "
                         f"{sequence.last_issued_on}")
    first = sequence.last_number + 1
    sequence.last_number += count
    if count:
        sequence.last_issued_on = issued_on
    return [f"{issued_on.year:04d}-{number:06d}" for number in range(first, first + count)]
