"""The refunds file: money paid back to customers out of their credit, with the bank's reference.

Keyed by `refund_id`: imported again, a row changes nothing; a changed row is an error. Rows are
recorded in file order, each against the credit the rows above it left, inside the import's one
transaction: a refund beyond a customer's credit writes nothing at all.
"""

from __future__ import annotations

from typing import Callable

from sqlalchemy.orm import Session

from ledger.credits import record_refund
from ledger.imports.rows import (ImportResult, Problems, Row, by_key, case_clashes, complete, duplicates,
                                 require_customers)
from ledger.imports.schemas import SCHEMAS
from ledger.models import CustomerCredit
from policy.corrections import CorrectionRefused
from policy.terms import Terms


def check(session: Session, rows: list[Row], problems: Problems, terms: Terms, actor: str,
          result: ImportResult) -> Callable[[], None]:
    duplicates(rows, lambda row: row.values.get("refund_id"), "refund_id", problems)
    known = require_customers(session, rows, problems)
    existing = by_key(session, CustomerCredit, CustomerCredit.refund_id,
                      [row.values["refund_id"] for row in rows if row.values.get("refund_id")])
    case_clashes(session, rows, "refund_id", CustomerCredit.refund_id, existing, problems)
    for row in rows:
        values = row.values
        if not complete(row, SCHEMAS["refunds"]) or values["customer_id"] not in known:
            continue
        stored = existing.get(values["refund_id"])
        if stored is not None:
            was = {"customer_id": stored.customer_id, "amount": -stored.amount, "refunded_on": stored.on,
                   "reference": stored.reference}
            changed = [name for name, value in was.items() if values.get(name) != value]
            for name in changed:
                problems.add(row.number, name, f"{values['refund_id']!r} was already imported with {name} "
                             f"{was[name]!r}: a refund is history")
            result.unchanged += not changed
            continue
        try:
            with session.begin_nested():
                done = record_refund(session, values["customer_id"], values["amount"], refund_id=values["refund_id"],
                                     reference=values["reference"], refunded_on=values["refunded_on"], actor=actor,
                                     flow_run_id=None)
        except CorrectionRefused as refused:
            column = {"customer": "customer_id", "reference": "reference", "refunded_on": "refunded_on"}.get(refused.about, "amount")
            problems.add(row.number, column, str(refused))
            continue
        result.inserted += 1
        result.notes.append(done.sentence())

    return lambda: None
