"""What each customer's subscription was billed through, and where it starts, as the ledger holds them.

The service periods are columns of the invoices (`period_start`, `period_end`, `bills_subscription`):
an imported invoice gets its period at import (given, or its default), the product's monthly invoice the
days its close billed. Migration 0012 gave the invoices from before their periods, so a null period here
means an invoice that billed no subscription. The rules (what a close may bill) are policy.billed_through.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.models import Customer, Intervention, Invoice, StageChange, Ticket
from policy.billed_through import BilledPeriod, subscription_start
from policy.calendar import paris_date
from policy.chronology import deletion_moment
from policy.vocabulary import InvoiceKind, InvoiceStatus, Stage

#: invoices that bill nothing: a draft is not issued yet, a void one was cancelled
NOT_BILLED = (InvoiceStatus.DRAFT, InvoiceStatus.VOID)
CHUNK = 900   # ids per IN (...): SQLite's bound on parameters


def chunks(ids: list[str]) -> list[list[str]]:
    return [ids[start:start + CHUNK] for start in range(0, len(ids), CHUNK)]


def _billing(*, imported_only: bool = False, except_close: str | None = None) -> list:
    """The conditions of an invoice that billed a subscription period (and counts for the question asked)."""
    conditions = [Invoice.bills_subscription.is_(True), Invoice.period_end.is_not(None),
                  Invoice.status.not_in(NOT_BILLED)]
    if imported_only:
        conditions.append(Invoice.kind == InvoiceKind.IMPORTED)
    if except_close is not None:
        conditions.append(Invoice.close_month.is_(None) | (Invoice.close_month != except_close))
    return conditions


def _period(row) -> BilledPeriod:
    label = row.external_id if row.kind == InvoiceKind.IMPORTED else (row.number or "a draft")
    return BilledPeriod(row.period_start, row.period_end, label)


COLUMNS = (Invoice.customer_id, Invoice.period_start, Invoice.period_end, Invoice.kind, Invoice.number,
           Invoice.external_id)


def billed_through(session: Session, *, except_close: str | None = None,
                   between: tuple[str, str] | None = None) -> dict[str, BilledPeriod]:
    """Each customer's latest billed subscription period, by any invoice issued (not drafted, not void),
    leaving out the invoices of the close of `except_close` (a close never counts its own drafts). Only
    the latest period of each customer is read (a ledger holds years of monthly invoices); only those of
    customers whose ids lie `between` the two given, both included, in the database's order, when given (the
    close asks a batch of customers at a time, so it never holds them all)."""
    conditions = _billing(except_close=except_close)
    if between is not None:
        conditions += [Invoice.customer_id >= between[0], Invoice.customer_id <= between[1]]
    return _billed_through(session, conditions)


def _billed_through(session: Session, conditions: list) -> dict[str, BilledPeriod]:
    ends = (select(Invoice.customer_id, func.max(Invoice.period_end).label("end")).where(*conditions)
            .group_by(Invoice.customer_id).subquery())
    found: dict[str, BilledPeriod] = {}
    for row in session.execute(select(*COLUMNS).join(ends, (Invoice.customer_id == ends.c.customer_id)
                                                     & (Invoice.period_end == ends.c.end))
                               .where(*conditions).order_by(Invoice.customer_id, Invoice.id)):
        found.setdefault(row.customer_id, _period(row))   # on a tie, the first invoice recorded
    return found


def billed_through_days(session: Session, customer_ids: Iterable[str]) -> dict[str, date]:
    """The last day each of these customers' subscription is billed through (only those billed at all)."""
    found = {}
    for chunk in chunks(sorted(set(customer_ids))):
        for customer_id, day in session.execute(select(Invoice.customer_id, func.max(Invoice.period_end))
                                                .where(*_billing(), Invoice.customer_id.in_(chunk))
                                                .group_by(Invoice.customer_id)):
            found[customer_id] = day
    return found


def deletions(session: Session, customer_ids: Iterable[str] | None = None,
              since: date | None = None) -> dict[str, tuple[date, datetime]]:
    """The customers whose data was deleted (of `customer_ids`, or on or after `since`, when given): the day and
    the moment (policy.chronology.deletion_moment) after which nothing of theirs is billed."""
    query = select(StageChange.customer_id, StageChange.effective_on, StageChange.recorded_at).where(
        StageChange.stage == Stage.DATA_DELETED)
    if since is not None:
        query = query.where(StageChange.effective_on >= since)
    found: dict[str, tuple[date, datetime]] = {}
    for chunk in [None] if customer_ids is None else chunks(sorted(set(customer_ids))):
        for customer_id, day, recorded_at in session.execute(
                query if chunk is None else query.where(StageChange.customer_id.in_(chunk))):
            if customer_id not in found or day < found[customer_id][0]:
                found[customer_id] = (day, deletion_moment(day, recorded_at))
    return found


def billed_periods(session: Session, customer_ids: Iterable[str]) -> dict[str, list[BilledPeriod]]:
    """Every subscription period billed to these customers, by the product or an import: the invoices
    issued (and the drafts of a close not approved yet, which bill them once approved), never a void one
    nor a credit note (a credit note gives money back; the days stay billed by the invoice it credits)."""
    found: dict[str, list[BilledPeriod]] = {}
    for chunk in chunks(sorted(set(customer_ids))):
        for row in session.execute(select(*COLUMNS, Invoice.status, Invoice.close_month).where(
                Invoice.bills_subscription.is_(True), Invoice.period_end.is_not(None),
                Invoice.status != InvoiceStatus.VOID, Invoice.kind != InvoiceKind.CREDIT_NOTE,
                Invoice.customer_id.in_(chunk)).order_by(Invoice.id)):
            period = _period(row)
            if row.status == InvoiceStatus.DRAFT:
                period = BilledPeriod(row.period_start, row.period_end,
                                      f"the draft of the {row.close_month or row.period_start} close")
            found.setdefault(row.customer_id, []).append(period)
    return found


def refresh_subscription_starts(session: Session, customer_ids: Iterable[str]) -> None:
    """Each customer's `subscription_start`: its `contract_start`, else the first day of its earliest
    imported subscription invoice's period (earlier as earlier history is imported)."""
    ids = sorted(set(customer_ids))
    if not ids:
        return
    session.flush()
    imported: dict[str, list[BilledPeriod]] = {}
    for chunk in chunks(ids):
        for row in session.execute(select(*COLUMNS).where(*_billing(imported_only=True),
                                                          Invoice.customer_id.in_(chunk))):
            imported.setdefault(row.customer_id, []).append(_period(row))
    for chunk in chunks(ids):
        for customer in session.scalars(select(Customer).where(Customer.customer_id.in_(chunk))):
            start = subscription_start(customer.contract_start, imported.get(customer.customer_id, []))
            if customer.subscription_start != start:
                customer.subscription_start = start


def covering(session: Session, customer_id: str, first, last) -> Invoice | None:
    """The issued invoice whose subscription period reaches furthest among those that billed any day of
    `first`..`last` (an annual customer's year): what a credit note giving those days back credits."""
    return session.scalar(select(Invoice).where(*_billing(), Invoice.kind != InvoiceKind.CREDIT_NOTE,
                                                Invoice.customer_id == customer_id, Invoice.period_start <= last,
                                                Invoice.period_end >= first)
                          .order_by(Invoice.period_end.desc(), Invoice.id).limit(1))


def billed_after(session: Session, customer_id: str, last_day) -> list[Invoice]:
    """The customer's issued invoices that billed subscription days after `last_day` (a cancellation's last
    day of service), oldest first."""
    return list(session.scalars(select(Invoice).where(*_billing(), Invoice.kind != InvoiceKind.CREDIT_NOTE,
                                                      Invoice.customer_id == customer_id,
                                                      Invoice.period_end > last_day)
                                .order_by(Invoice.period_start, Invoice.id)))


def earliest_fact(session: Session, customer_id: str) -> tuple[str, date] | None:
    """The customer's earliest dated fact the ledger holds, named (`service period of invoice X`, `support time
    W-1`, `ticket T-1`) with its Paris day: a contract_start moved after it would put history before the start."""
    found = []
    invoice = session.execute(select(Invoice.number, Invoice.external_id, Invoice.period_start)
                              .where(Invoice.customer_id == customer_id, Invoice.period_start.is_not(None))
                              .order_by(Invoice.period_start).limit(1)).first()
    if invoice is not None:
        found.append((f"service period of invoice {invoice.external_id or invoice.number}", invoice.period_start))
    for model, moment, key, what in ((Intervention, Intervention.started_at, Intervention.intervention_id,
                                      "support time"), (Ticket, Ticket.received_at, Ticket.ticket_id, "ticket")):
        row = session.execute(select(key, moment).where(model.customer_id == customer_id)
                              .order_by(moment).limit(1)).first()
        if row is not None:
            found.append((f"{what} {row[0]}", paris_date(row[1])))
    return min(found, key=lambda item: item[1]) if found else None
