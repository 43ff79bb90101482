"""Questions the flows and the CLI ask the ledger, answered in SQL rather than row by row."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.models import Customer, Intervention, Invoice, Payment, StandbyPeriod
from policy.balances import balance, counts_for_arrears
from policy.ids import id_problem
from policy.vocabulary import NoticeStatus, SettlementKind, StandbyStatus

def paid_by_invoice(session: Session, invoice_ids: list[int] | None = None) -> dict[int, Decimal]:
    query = select(Payment.invoice_id, func.sum(Payment.amount)).group_by(Payment.invoice_id)
    if invoice_ids is not None:
        query = query.where(Payment.invoice_id.in_(invoice_ids))
    return {invoice_id: Decimal(total).quantize(Decimal("0.01")) for invoice_id, total in session.execute(query)}


def overdue_invoices(session: Session, customer_id: str, day: date) -> list[Invoice]:
    """Non-penalty invoices owed and past due on `day`: what "in arrears" means (docs/reference/policy.md "Standby")."""
    invoices = session.scalars(
        select(Invoice).where(Invoice.customer_id == customer_id, Invoice.due_on < day)
        .order_by(Invoice.due_on, Invoice.id)
    ).all()
    invoices = [invoice for invoice in invoices if counts_for_arrears(invoice.kind, invoice.status)]
    paid = paid_by_invoice(session, [invoice.id for invoice in invoices])
    return [invoice for invoice in invoices
            if balance(invoice.total_ttc, invoice.status, paid.get(invoice.id, Decimal("0.00"))) > 0]


def unsafe_ids(session: Session) -> list[tuple[str, str, str]]:
    """Ids in the ledger outside the one grammar (written by an older release that did not check them):
    (what, id, why). Backups skip such a customer; `db upgrade` and `show customers` say so."""
    found = []
    for what, column, only in (("customer", Customer.customer_id, None), ("invoice", Invoice.external_id, None),
                               ("payment", Payment.payment_id, Payment.kind == SettlementKind.PAYMENT),
                               ("intervention", Intervention.intervention_id, None)):
        # settlements that are not payments carry ids of their own (ledger.keys), never from outside
        query = select(column).where(column.is_not(None))
        for value in session.scalars(query if only is None else query.where(only)):
            problem = id_problem(value)
            if problem:
                found.append((what, value, problem))
    return found


def invoice_label(invoice: Invoice) -> str:
    return invoice.number or invoice.external_id or invoice.invoice_key


def active_standby_customers(session: Session) -> set[str]:
    return set(session.scalars(select(StandbyPeriod.customer_id).where(StandbyPeriod.status == StandbyStatus.ACTIVE)))




def where_it_stands(session: Session, invoice: Invoice) -> str:
    """Where an issued document stands, in words a user acts on: its issue day, whether its Factur-X PDF
    is stored and its mail sent, and, while it is not, what will finish it."""
    from ledger.models import Notice

    said = f"issued {invoice.issued_on}"
    if not invoice.document_key:
        state = "document not rendered yet"
    else:
        mail = session.execute(select(Notice.status, Notice.sent_at, Notice.last_error)
                               .where(Notice.invoice_id == invoice.id).order_by(Notice.id.desc()).limit(1)).first()
        if mail is None or mail.status == NoticeStatus.PENDING:
            state = "document stored, not mailed yet" + (f" (last try: {mail.last_error.splitlines()[0]})"
                                                         if mail is not None and mail.last_error else "")
        elif mail.status == NoticeStatus.FAILED:
            return (f"{said}, its mail failed ({(mail.last_error or '').splitlines()[0] if mail.last_error else 'refused'}): "
                    f"correct the customer's address, then `lifecycle run send-invoices --month {invoice.month}`")
        else:
            return f"{said}, mailed {mail.sent_at:%Y-%m-%d}" if mail.sent_at else f"{said}, mailed"
    return (f"{said}, {state}; it will be sent by the next run that issues documents (or the daily arrears sweep), "
            f"or by `lifecycle run send-invoices --month {invoice.month} --new-only`")
