"""The payments file: each payment of an imported invoice or an issued number. A payment beyond what
is left to pay (or a second payment of a paid invoice) is kept whole, as the bank saw it; the excess
becomes the customer's credit, which finance applies at the next close or refunds (seed 003)."""

from __future__ import annotations

from decimal import Decimal
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import audit
from ledger.db import now
from ledger.imports.rows import (ImportResult, Problems, Row, by_key, by_key_ignoring_case, case_clashes, complete,
                                 duplicates, history_row, unknown_reference)
from ledger.imports.schemas import SCHEMAS
from ledger.models import Invoice, Payment
from ledger.queries import paid_by_invoice
from policy.balances import balance
from policy.chronology import paid_before_issued_problem
from policy.corrections import settle
from policy.terms import Terms
from policy.vocabulary import InvoiceKind, InvoiceStatus
from ledger.credits import record_overpayment


def _find_invoices(session: Session, references: set[str]) -> dict[str, Invoice]:
    """The invoices paid, locked (in id order) for the import's transaction: what is left to pay on each,
    hence the excess that becomes credit, cannot change under it (a credit note issued meanwhile)."""
    found = by_key(session, Invoice, Invoice.external_id, sorted(references))
    missing = references - set(found)
    found.update(by_key(session, Invoice, Invoice.number, sorted(missing)))
    ids = sorted(invoice.id for invoice in found.values())
    for start in range(0, len(ids), 500):
        session.execute(select(Invoice.id).where(Invoice.id.in_(ids[start:start + 500])).order_by(Invoice.id)
                        .with_for_update())
    for invoice in found.values():
        session.refresh(invoice)
    return found


def check(session: Session, rows: list[Row], problems: Problems, terms: Terms, actor: str,
          result: ImportResult) -> Callable[[], None]:
    duplicates(rows, lambda row: row.values.get("payment_id"), "payment_id", problems)
    invoices = _find_invoices(session, {row.values["invoice_id"] for row in rows if row.values.get("invoice_id")})
    existing = by_key(session, Payment, Payment.payment_id,
                      [row.values["payment_id"] for row in rows if row.values.get("payment_id")])
    clashed = case_clashes(session, rows, "payment_id", Payment.payment_id, existing, problems)
    paid = paid_by_invoice(session, [invoice.id for invoice in invoices.values()])
    unknown = {row.values["invoice_id"] for row in rows if row.values.get("invoice_id") not in (None, *invoices)}
    spelled = {**by_key_ignoring_case(session, Invoice.number, unknown),
               **by_key_ignoring_case(session, Invoice.external_id, unknown)}
    new_rows = []
    for row in rows:
        values = row.values
        invoice = invoices.get(values.get("invoice_id"))
        if values.get("invoice_id") and invoice is None:
            given = values["invoice_id"]
            problems.add(row.number, "invoice_id", unknown_reference("no invoice", given, spelled.get(given),
                                                                     "an imported id or an issued number"))
            continue
        if row.number in clashed:
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
        if invoice.status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID) or invoice.kind == InvoiceKind.CREDIT_NOTE:
            what = "a credit note" if invoice.kind == InvoiceKind.CREDIT_NOTE else invoice.status
            problems.add(row.number, "invoice_id", f"invoice {values['invoice_id']!r} is {what}: it cannot be paid")
            continue
        if values["amount"] <= 0:
            problems.add(row.number, "amount", f"{values['amount']}: a payment is a positive amount")
            continue
        early = paid_before_issued_problem(values["paid_on"], invoice.issued_on, values["invoice_id"])
        if early:
            problems.add(row.number, "paid_on", early)
            continue
        already = paid.get(invoice.id, Decimal("0.00"))
        left = balance(invoice.total_ttc, invoice.status, already)
        paid[invoice.id] = already + values["amount"]
        new_rows.append((row, invoice, settle(values["amount"], left).to_credit))

    def write() -> None:
        stamp = now()
        settled, overpaid = [], {}
        for row, invoice, excess in new_rows:
            payment = Payment(payment_id=row.values["payment_id"], invoice_id=invoice.id, paid_on=row.values["paid_on"],
                              amount=row.values["amount"], created_at=stamp)
            session.add(payment)
            if excess > 0:
                session.flush()
                record_overpayment(session, payment, invoice.customer_id, excess, actor=actor)
                overpaid[payment.payment_id] = excess
        for invoice in {invoice.id: invoice for _, invoice, _ in new_rows}.values():
            if invoice.status == InvoiceStatus.OPEN and paid[invoice.id] >= invoice.total_ttc:
                invoice.status = InvoiceStatus.PAID
                settled.append(invoice.external_id or invoice.number)
        result.inserted += len(new_rows)
        if new_rows:
            audit.record(session, "payments_imported", customer_id=None, before=None, actor=actor,
                         after={"file": result.file, "payments": [row.values["payment_id"] for row, _, _ in new_rows],
                                "invoices_settled": settled, "overpaid": overpaid})

    return write
