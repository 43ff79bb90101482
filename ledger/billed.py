"""What each customer's subscription was billed through, and where it starts, as the ledger holds them.

The service periods are columns of the invoices (`period_start`, `period_end`, `bills_subscription`):
an imported invoice gets its period at import (given, or its default), the product's monthly invoice the
days its close billed. Migration 0012 gave the invoices from before their periods, so a null period here
means an invoice that billed no subscription. The rules (what a close may bill) are policy.billed_through.
"""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.models import Customer, Invoice
from policy.billed_through import BilledPeriod, latest, subscription_start
from policy.vocabulary import InvoiceKind, InvoiceStatus

#: invoices that bill nothing: a draft is not issued yet, a void one was cancelled
NOT_BILLED = (InvoiceStatus.DRAFT, InvoiceStatus.VOID)
CHUNK = 900   # ids per IN (...): SQLite's bound on parameters


def chunks(ids: list[str]) -> list[list[str]]:
    return [ids[start:start + CHUNK] for start in range(0, len(ids), CHUNK)]


def _periods(session: Session, *, imported_only: bool = False, except_close: str | None = None,
             customer_ids: Iterable[str] | None = None):
    query = (select(Invoice.customer_id, Invoice.period_start, Invoice.period_end, Invoice.kind, Invoice.number,
                    Invoice.external_id)
             .where(Invoice.bills_subscription.is_(True), Invoice.period_end.is_not(None),
                    Invoice.status.not_in(NOT_BILLED))
             .order_by(Invoice.customer_id, Invoice.period_end, Invoice.id))
    if imported_only:
        query = query.where(Invoice.kind == InvoiceKind.IMPORTED)
    if except_close is not None:
        query = query.where((Invoice.close_month.is_(None)) | (Invoice.close_month != except_close))
    batches = [query] if customer_ids is None else [query.where(Invoice.customer_id.in_(chunk))
                                                   for chunk in chunks(sorted(set(customer_ids)))]
    for batch in batches:
        for row in session.execute(batch):
            label = row.external_id if row.kind == InvoiceKind.IMPORTED else (row.number or "a draft")
            yield row.customer_id, BilledPeriod(row.period_start, row.period_end, label)


def billed_through(session: Session, *, except_close: str | None = None) -> dict[str, BilledPeriod]:
    """Each customer's latest billed subscription period, by any invoice issued (not drafted, not void),
    leaving out the invoices of the close of `except_close` (a close never counts its own drafts)."""
    found: dict[str, BilledPeriod] = {}
    for customer_id, period in _periods(session, except_close=except_close):
        found[customer_id] = latest([found[customer_id], period]) if customer_id in found else period
    return found


def refresh_subscription_starts(session: Session, customer_ids: Iterable[str]) -> None:
    """Each customer's `subscription_start`: its `contract_start`, else the first day of its earliest
    imported subscription invoice's period (earlier as earlier history is imported)."""
    ids = sorted(set(customer_ids))
    if not ids:
        return
    session.flush()
    imported: dict[str, list[BilledPeriod]] = {}
    for customer_id, period in _periods(session, imported_only=True, customer_ids=ids):
        imported.setdefault(customer_id, []).append(period)
    for chunk in chunks(ids):
        for customer in session.scalars(select(Customer).where(Customer.customer_id.in_(chunk))):
            start = subscription_start(customer.contract_start, imported.get(customer.customer_id, []))
            if customer.subscription_start != start:
                customer.subscription_start = start
