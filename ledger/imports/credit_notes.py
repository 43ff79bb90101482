"""The credit-notes file: finance's corrections in a batch, each issued as `run credit-note` issues one.

A row is a request keyed by its `credit_note_id`: imported again, the same row finds its credit note
and changes nothing; a changed row is an error (a credit note is history). Rows are issued in file
order, each against what the rows above it left to credit, inside the import's one transaction: one
refused row (past what is left, an unknown invoice) writes nothing at all. `issued_on` is the date
the credit note carries (a date after today is refused at its row). Numbering is chronological in every year, so a
row dated before the invoice it credits, or before the latest date already numbered in any year
(rows above it included: then the row above and its date are named), is refused at its row, naming the
date and the limit: a credit note dated
2020-01-01 would open a 2020 series years after 2026's. The documents are rendered and mailed right
after the import (`lifecycle import` starts `run send-invoices --new-only`), and any the import could
not finish by the next run that issues documents or by the daily arrears sweep.
"""

from __future__ import annotations

from datetime import date
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import keys
from ledger.credits import issue_credit_note
from ledger.imports.rows import (ImportResult, Problems, Row, by_key, by_key_ignoring_case, clash_reason, complete,
                                 duplicates)
from ledger.imports.schemas import SCHEMAS
from ledger.models import Invoice
from ledger.queries import invoice_label, where_it_stands
from policy.corrections import CorrectionRefused
from policy.terms import Terms


def check(session: Session, rows: list[Row], problems: Problems, terms: Terms, actor: str,
          result: ImportResult) -> Callable[[], None]:
    duplicates(rows, lambda row: row.values.get("credit_note_id"), "credit_note_id", problems)
    _case_clashes(session, rows, problems)
    # the numbers the rows above were given here: kept only if the whole file is, so a refusal they cause
    # names the row and its date, never a number that will not be issued
    numbered: dict[str, tuple[int, date]] = {}
    for row in rows:
        values = row.values
        if not complete(row, SCHEMAS["credit-notes"]):
            continue
        done = session.scalar(select(Invoice).where(Invoice.invoice_key == keys.credit_note(values["credit_note_id"])))
        if done is not None:
            credited = session.get(Invoice, done.credits_id)
            if invoice_label(credited) != values["invoice_number"] or -done.total_ttc != values["amount_ttc"] \
                    or done.description != values["reason"]:
                problems.add(row.number, "credit_note_id", f"{values['credit_note_id']!r} was already imported as "
                             f"credit note {done.number} ({-done.total_ttc} TTC on {invoice_label(credited)}): "
                             f"a credit note is history; correct it with another one")
            else:
                result.unchanged += 1
                result.notes.append(f"{values['credit_note_id']}: credit note {done.number} already exists "
                                    f"({where_it_stands(session, done)})")
            continue
        try:
            with session.begin_nested():
                # a note alike (same invoice, amount and reason) to one issued, or to a row above, is a row typed
                # twice under two ids unless its `again` says it is meant, as `run credit-note --again`
                made = issue_credit_note(session, values["invoice_number"], request=values["credit_note_id"],
                                         again=bool(values.get("again")), again_said="give the row again=true",
                                         reason=values["reason"], requested_by=actor,
                                         amount=values["amount_ttc"], wanted_on=values["issued_on"], actor=actor,
                                         flow_run_id=None, invoice_language=terms.invoice_language)
        except CorrectionRefused as refused:
            column = {"invoice": "invoice_number", "reason": "reason", "issued_on": "issued_on"}.get(refused.about,
                                                                                                 "amount_ttc")
            problems.add(row.number, column, _rows_above(str(refused), numbered))
            continue
        numbered[made.number] = (row.number, values["issued_on"])
        result.inserted += 1
        result.notes.append(made.sentence())

    return lambda: None


def _case_clashes(session: Session, rows: list[Row], problems: Problems) -> None:
    """A `credit_note_id` the ledger holds in another case (`C020` when `c020` was imported): refused at its
    row, as every id of every import (ledger.imports.rows.case_clashes); the same id re-imported stays a no-op."""
    ids = {keys.credit_note(row.values["credit_note_id"]): row for row in rows
           if row.values.get("credit_note_id") and not row.repeated}
    exact = by_key(session, Invoice, Invoice.invoice_key, sorted(ids))
    for key, stored in by_key_ignoring_case(session, Invoice.invoice_key, sorted(ids), exact).items():
        row, stored_id = ids[key], stored.removeprefix(keys.credit_note(""))
        problems.add(row.number, "credit_note_id", clash_reason(row.values["credit_note_id"], stored_id))
        row.repeated = True


def _rows_above(said: str, numbered: dict[str, tuple[int, date]]) -> str:
    """A chronology refusal whose limit is a row above in the same file: that row and its date, not its number."""
    for number, (line, on) in numbered.items():
        said = said.replace(f"{on}, the day number {number} was issued", f"{on}, the date of row {line} above")
    return said
