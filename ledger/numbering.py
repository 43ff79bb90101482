"""Invoice numbers: `YYYY-NNNNNN`, one gapless sequence per calendar year, shared by every document the
product issues (monthly and penalty invoices, credit notes), given at finalisation inside the caller's
transaction.

French law wants numbers gapless and chronological: the sequence rows are locked for the whole
transaction (SQLite's write lock, PostgreSQL's row locks), so a rolled-back finalisation leaves no
gap. Chronological holds across years too: no document is dated before the latest issue date already
numbered in any year (a 2020 date after 2026 numbers would open a 2020 series six years late; a
2026 date after 2027 numbers would do the same at the year's turn), nor before the document it
corrects (a credit note's invoice, a penalty's). `next_numbers` is the one place a number is given,
and it refuses such a date whoever asks; the paths that choose their own date (the close, the
arrears sweep, a cancellation's credit note) take `issue_date`, which moves it forward instead, up to
today and never past it (a document is never dated after the day it is issued: with the clock set back
before the latest number, they are refused like `run credit-note`); the paths where a person chose it
(an import row, a CLI option) check `chronology_problem` first and say it in their own words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.db import insert_if_missing
from ledger.models import InvoiceSequence
from policy.calendar import today_paris
from policy.refusals import Refusal


class OutOfOrder(Refusal, ValueError):
    """A number asked for a date before one already numbered, or before the document it corrects."""


@dataclass(frozen=True)
class Latest:
    """The latest issue date numbered in any year, and the last number given that day's year."""
    on: date
    number: str


def _lock_all(session: Session) -> None:
    """Every year's sequence locked, in year order (the same order in every transaction: no deadlock),
    so no other finalisation numbers a later date in another year meanwhile."""
    session.execute(select(InvoiceSequence.year).order_by(InvoiceSequence.year).with_for_update())


def _sequence(session: Session, year: int) -> InvoiceSequence:
    insert_if_missing(session, InvoiceSequence, year=year, last_number=0, last_issued_on=None)
    return session.scalar(select(InvoiceSequence).where(InvoiceSequence.year == year).with_for_update()
                          .execution_options(populate_existing=True))


def latest_issued(session: Session) -> Latest | None:
    """The latest issue date numbered in any year (read afresh: a statement of its own sees what committed
    before it), or None before the first number."""
    row = session.scalar(select(InvoiceSequence).where(InvoiceSequence.last_issued_on.is_not(None))
                         .order_by(InvoiceSequence.last_issued_on.desc(), InvoiceSequence.year.desc()).limit(1)
                         .execution_options(populate_existing=True))
    return Latest(row.last_issued_on, f"{row.year:04d}-{row.last_number:06d}") if row else None


@dataclass(frozen=True)
class Corrects:
    """The document a new one corrects (or follows from): its label and its issue date."""
    label: str
    issued_on: date | None
    what: str = "invoice"


def chronology_problem(session: Session, issued_on: date, corrects: Corrects | None = None, *,
                       said: str | None = None) -> str | None:
    """Why a document may not be dated `issued_on` (one line naming the date and the limit), or None;
    `said` names the date otherwise (\"today (2026-11-03)\")."""
    said = said or str(issued_on)
    limits = []  # (the day, why): the later one is named, as it is the one to move to
    latest = latest_issued(session)
    if latest is not None and issued_on < latest.on:
        limits.append((latest.on, f"{said} is before {latest.on}, the day number {latest.number} was issued: numbering "
                                   f"is chronological, so no document is dated before the latest one numbered (in any "
                                   f"year)"))
    if corrects is not None and corrects.issued_on is not None and issued_on < corrects.issued_on:
        limits.append((corrects.issued_on, f"{said} is before {corrects.issued_on}, the day {corrects.what} "
                                           f"{corrects.label} it corrects was issued: a document is never dated "
                                           f"before the one it corrects"))
    return max(limits, key=lambda limit: limit[0])[1] if limits else None


def issue_date(session: Session, wanted: date, today: date | None = None, *,
               corrects: Corrects | None = None) -> date:
    """The issue date to use when the product chooses it: `wanted`, never after today (Paris), whatever
    day a forced run works for; moved forward to the latest date already numbered in any year, and to the
    day of the document it follows from (`corrects`), but never past today: no document is dated after the
    day it is issued. When those lie after today (a clock set back), refused (`OutOfOrder`) in the words
    `run credit-note` uses: "today (D) is before ..."."""
    today = today or today_paris()
    wanted = min(wanted, today)
    _lock_all(session)
    latest = latest_issued(session)
    on = max([wanted] + ([latest.on] if latest else [])
             + ([corrects.issued_on] if corrects and corrects.issued_on else []))
    if on > today:
        raise OutOfOrder(chronology_problem(session, today, corrects, said=f"today ({today})"))
    return on


def next_numbers(session: Session, issued_on: date, count: int, *, corrects: Corrects | None = None,
                 said: str | None = None) -> list[str]:
    """`count` consecutive numbers for documents issued on `issued_on`; refused (`OutOfOrder`) for a date
    before the latest already numbered in any year, or before the document it corrects."""
    def refuse_out_of_order() -> None:
        problem = chronology_problem(session, issued_on, corrects, said=said)
        if problem:
            raise OutOfOrder(problem)

    _lock_all(session)
    refuse_out_of_order()  # before a year's sequence is opened for nothing
    sequence = _sequence(session, issued_on.year)
    refuse_out_of_order()  # again once it is locked: a year another transaction opened meanwhile is seen now
    first = sequence.last_number + 1
    sequence.last_number += count
    if count:
        sequence.last_issued_on = issued_on
    return [f"{issued_on.year:04d}-{number:06d}" for number in range(first, first + count)]
