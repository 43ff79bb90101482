"""Imports of the files of docs/reference/import-formats.md: all or nothing.

A file is read whole, every cell checked (types, enums, references, duplicates, the seed's rules),
compared with what the ledger already holds, and only then written in one transaction. A bad file
yields every error as `file:row:column: reason` and writes nothing. Re-importing a file is a
no-op; a changed customer row updates the customer (and the audit says what changed); a changed
row of any other file is an error, because invoices, payments and support time are history. The
one exception is an unpaid invoice's status: a dispute or a write-off comes after the invoice, and
re-importing its row with the new status is how ops record it (arrears then leave it aside).

One module per file kind checks its rows against the ledger and returns the write to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from sqlalchemy.orm import Session

from ledger.db import session_scope
from ledger.imports import (credit_notes, customers, interventions, invoices, payments, refunds, standby, ticket_events,
                            tickets)
from ledger.imports.rows import ImportRejected, ImportResult, Problems, parse_sheet
from ledger.imports.schemas import schemas
from ledger.readers import Limits, Sheet, read_sheet
from lifecycle_config import clock
from policy.terms import Terms
from policy.window import DateWindow

KINDS = ("customers", "invoices", "payments", "interventions", "standby", "credit-notes", "refunds", "tickets",
         "ticket-events")
HANDLERS = {"customers": customers.check, "invoices": invoices.check, "payments": payments.check,
            "interventions": interventions.check, "standby": standby.check, "credit-notes": credit_notes.check,
            "refunds": refunds.check, "tickets": tickets.check, "ticket-events": ticket_events.check}

__all__ = ["KINDS", "ImportRejected", "ImportResult", "import_batches", "import_file", "import_records"]


def import_file(
    kind: str,
    path: Path | str,
    *,
    terms: Terms | None = None,
    engine=None,
    actor: str = "cli:import",
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    sealer: Callable[[str], str] | None = None,
) -> ImportResult:
    """Check the whole file, then write it in one transaction; `ImportRejected` lists every error."""
    if kind not in HANDLERS:
        raise ValueError(f"unknown import {kind!r}; expected one of {', '.join(KINDS)}")
    path = Path(path)
    terms = terms or Terms()
    sheet = read_sheet(path, Limits.of(terms))
    return _import_sheet(kind, sheet, path.name, terms=terms, engine=engine, actor=actor, progress=progress,
                         on_total=on_total, sealer=sealer)


def import_records(kind: str, records: list[dict[str, Any]], *, label: str, terms: Terms | None = None, engine=None,
                   actor: str, sealer: Callable[[str], str] | None = None,
                   also: Callable[[Session], None] | None = None) -> ImportResult:
    """The same checks and write as `import_file`, for records that came another way (a helpdesk's webhook):
    record N is row N + 1 of an imaginary file named `label`, so errors read like a file's. `also` runs in
    the transaction that writes them (a webhook's request recorded as taken): it raises, nothing is written."""
    if kind not in HANDLERS:
        raise ValueError(f"unknown import {kind!r}; expected one of {', '.join(KINDS)}")
    terms = terms or Terms()
    return _import_sheet(kind, _records_sheet(records, label, terms), label, terms=terms, engine=engine, actor=actor,
                         sealer=sealer, also=also)


def import_batches(batches: list[tuple[str, str, list[dict[str, Any]]]], *, terms: Terms | None = None, engine=None,
                   actor: str, sealer: Callable[[str], str] | None = None,
                   also: Callable[[Session], None] | None = None) -> list[ImportResult]:
    """Several `(kind, label, records)` in one transaction, in order (a helpdesk's tickets, then their events):
    each kind is checked against what the ones before it wrote, and the first kind with errors rejects the
    whole (ImportRejected, its lines named by its label); `also` runs last in the transaction."""
    terms = terms or Terms()
    for kind, _, _ in batches:
        if kind not in HANDLERS:
            raise ValueError(f"unknown import {kind!r}; expected one of {', '.join(KINDS)}")
    sheets = [(kind, label, _records_sheet(records, label, terms)) for kind, label, records in batches]
    results = []
    with session_scope(engine, write=True) as session:
        for kind, label, sheet in sheets:
            write, result = _checked(session, kind, sheet, label, terms=terms, actor=actor, sealer=sealer)
            write()
            session.flush()
            results.append(result)
        if also is not None:
            also(session)
    return results


def _records_sheet(records: list[dict[str, Any]], label: str, terms: Terms) -> Sheet:
    """Records as the rows of an imaginary file: record N is row N + 1."""
    if len(records) > terms.import_max_rows:
        raise ImportRejected([f"{label}: more than {terms.import_max_rows:,} records (import_max_rows)"])
    header = list(dict.fromkeys(str(name).strip().lower()[:100] for record in records for name in record))
    repeated = set()  # `Amount` and `amount` in one record: told as a repeated column, never last-wins
    for record in records:
        names = [str(name).strip().lower()[:100] for name in record]
        repeated.update(name for name in names if names.count(name) > 1)
    header += sorted(repeated)
    rows, oversized, nested = [], [], Problems(label)
    for number, record in enumerate(records, start=2):
        cells = {}
        for name, value in record.items():
            key = str(name).strip().lower()[:100]
            value = value.strip() or None if isinstance(value, str) else value
            if isinstance(value, (dict, list)):  # a column holds one value: never an object's text, sealed or kept
                nested.add(number, key, f"a JSON {'object' if isinstance(value, dict) else 'list'} is no value of a "
                                        f"column: send text, a number, true/false or null")
                continue
            if isinstance(value, str) and len(value) > terms.import_max_cell_chars:
                oversized.append((number, key))
                value = None
            cells[key] = value
        rows.append((number, cells))
    if nested:
        raise nested.rejected()
    return Sheet(header=header, rows=rows, oversized=oversized)


def _checked(session: Session, kind: str, sheet: Sheet, name: str, *, terms: Terms, actor: str,
             progress: Callable[[int], None] | None = None,
             sealer: Callable[[str], str] | None = None) -> tuple[Callable[[], None], ImportResult]:
    """The sheet parsed and checked against the ledger: the write to do and its result, or ImportRejected."""
    problems = Problems(name)
    for number, column in sheet.oversized:
        problems.add(number, column, f"longer than {terms.import_max_cell_chars} characters (import_max_cell_chars)")
    rows = parse_sheet(sheet, schemas(terms)[kind], problems, progress, window=DateWindow.of(terms, now=clock.now()))
    result = ImportResult(kind=kind, file=name, rows=len(rows))
    if problems and not rows:
        raise problems.rejected()
    extra = {"sealer": sealer} if kind == "tickets" else {}   # a ticket's credentials, sealed by the caller
    write = HANDLERS[kind](session, rows, problems, terms, actor, result, **extra)
    if problems:
        raise problems.rejected()
    return write, result


def _import_sheet(kind: str, sheet: Sheet, name: str, *, terms: Terms, engine, actor: str,
                  progress: Callable[[int], None] | None = None, on_total: Callable[[int], None] | None = None,
                  sealer: Callable[[str], str] | None = None,
                  also: Callable[[Session], None] | None = None) -> ImportResult:
    if on_total:
        on_total(len(sheet.rows))
    with session_scope(engine, write=True) as session:
        write, result = _checked(session, kind, sheet, name, terms=terms, actor=actor, progress=progress,
                                 sealer=sealer)
        if also is not None:
            also(session)
        write()
    return result
