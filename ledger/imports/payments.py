"""The payments file: each payment of an imported invoice or an issued number, never beyond what the
invoice asks."""

from __future__ import annotations

from decimal import Decimal
from typing import Callable

from sqlalchemy.orm import Session

from ledger import audit
from ledger.db import now
from ledger.imports.rows import ImportResult, Problems, Row, by_key, complete, duplicates, history_row
from ledger.imports.schemas import SCHEMAS
from ledger.models import Invoice, Payment
from ledger.queries import paid_by_invoice
from policy.terms import Terms
from policy.vocabulary import InvoiceStatus


def _find_invoices(session: Session, references: set[str]) -> dict[str, Invoice]:
    found = by_key(session, Invoice, Invoice.external_id, sorted(references))
    missing = references - set(found)
    found.update(by_key(session, Invoice, Invoice.number, sorted(missing)))
    return found


def check(session: Session, rows: list[Row], problems: Problems, terms: Terms, actor: str,
          result: ImportResult) -> Callable[[], None]:
    duplicates(rows, lambda row: row.values.get("payment_id"), "payment_id", problems)
    invoices = _find_invoices(session, {row.values["invoice_id"] for row in rows if row.values.get("invoice_id")})
    existing = by_key(session, Payment, Payment.payment_id,
                      [row.values["payment_id"] for row in rows if row.values.get("payment_id")])
    paid = paid_by_invoice(session, [invoice.id for invoice in invoices.values()])
    new_rows = []
    for row in rows:
        values = row.values
        invoice = invoices.get(values.get("invoice_id"))
        if values.get("invoice_id") and invoice is None:
            problems.add(row.number, "invoice_id", f"no invoice {values['invoice_id']!r} (an imported id or an issued number)")
            continue
        stored = existing.get(values.get("payment_id"))
        if stored is not None:
            reference = stored.invoice.external_id or stored.invoice.number
            comparable = {"invoice_id": values["invoice_id"] if invoice is stored.invoice else reference,
                          "paid_on": stored.paid_on, "amount": stored.amount}
            if history_row(row, comparable, problems, "payment_id", "payment"):
                result.unchanged += 1
            continue
        if invoice is None or not complete(row, SCHEMAS["payments"]):
            continue
        if invoice.status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
            problems.add(row.number, "invoice_id", f"invoice {values['invoice_id']!r} is {invoice.status}: it cannot be paid")
            continue
        already = paid.get(invoice.id, Decimal("0.00"))
        if already + values["amount"] > invoice.total_ttc:
            problems.add(row.number, "amount",
                         f"{values['amount']} would overpay invoice {values['invoice_id']!r} "
                         f"(total {invoice.total_ttc} TTC, already paid {already})")
            continue
        paid[invoice.id] = already + values["amount"]
        new_rows.append((row, invoice))

    def write() -> None:
        stamp = now()
        settled = []
        for row, invoice in new_rows:
            session.add(Payment(payment_id=row.values["payment_id"], invoice_id=invoice.id,
                                paid_on=row.values["paid_on"], amount=row.values["amount"], created_at=stamp))
        for invoice in {invoice.id: invoice for _, invoice in new_rows}.values():
            if invoice.status == InvoiceStatus.OPEN and paid[invoice.id] >= invoice.total_ttc:
                invoice.status = InvoiceStatus.PAID
                settled.append(invoice.external_id or invoice.number)
        result.inserted += len(new_rows)
        if new_rows:
            audit.record(session, "payments_imported", customer_id=None, before=None, actor=actor,
                         after={"file": result.file, "payments": [row.values["payment_id"] for row, _ in new_rows],
                                "invoices_settled": settled})

    return write
