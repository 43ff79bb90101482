"""Service credits at the month's close: what missed commitments earn, less what earlier closes applied.

The months looked at are the closed month and every earlier month whose finalised close had service
credits on (under that close's own terms): a month's misses are recomputed from the ticket's moments as
they stand, so a re-import that moves a moment after the month's close changes what the month earned, and
the difference goes on this close's invoice as a correction. What a close applied is kept in
`service_credits`, one row per miss and close (`credit_key`): a close run again discards its drafts and
their rows and computes the same again; a finalised close is never drafted again; nothing is applied twice.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal

from pydantic import ValidationError
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ledger import keys
from ledger.models import Customer, MonthlyClose, ServiceCredit, Ticket
from ledger.ticket_history import clock_facts
from ledger.views import ticket_clocks
from policy.calendar import PARIS, month_bounds, parse_month
from policy.commitments import ClockState
from policy.invoicing import Line
from policy.service_credits import Miss, ServiceCredits, correction_text, credit_text, month_credits
from policy.terms import Terms
from policy.vocabulary import CloseStatus

CATEGORY = "service_credit"
MISSED = (ClockState.MISSED, ClockState.BREACHED)


@dataclass(frozen=True)
class Pending:
    """One credit (or correction) this close applies: its invoice line and the row that records it."""

    line: Line
    month: str
    ticket_id: str
    clock: str
    share: Decimal
    amount: Decimal    # given back (a correction taking back part of an earlier credit is negative)


def _instant(day) -> datetime:
    return datetime.combine(day, time(0), tzinfo=PARIS)


def months_to_credit(session: Session, month: str, terms: Terms) -> dict[str, ServiceCredits]:
    """The closed month (under `terms`) and each earlier finalised month whose close had credits on."""
    found: dict[str, ServiceCredits] = {}
    for earlier, document in session.execute(select(MonthlyClose.month, MonthlyClose.terms).where(
            MonthlyClose.month < month, MonthlyClose.status == CloseStatus.FINALISED)):
        settings = (document or {}).get("service_credits")
        if not settings or not settings.get("enabled"):
            continue
        try:
            found[earlier] = Terms.model_validate(document).service_credits
        except ValidationError:   # terms an older release wrote: the month's credits as the current terms say
            found[earlier] = terms.service_credits
    if terms.service_credits.enabled:
        found[month] = terms.service_credits
    return found


def misses(session: Session, month: str, terms: Terms) -> dict[str, list[Miss]]:
    """Per customer, the clocks missed in `month`: due in it (Paris) and not stopped by then, as of its end."""
    first, after = (_instant(day) for day in month_bounds(month))
    found: dict[str, list[Miss]] = defaultdict(list)
    tickets = session.execute(
        select(Ticket.ticket_id, Ticket.customer_id, Ticket.type, Ticket.channel, Ticket.severity, Ticket.level,
               Ticket.received_at, Ticket.first_response_at, Ticket.workaround_at, Ticket.resolved_at,
               Ticket.closed_at)
        .where(Ticket.received_at < after, or_(Ticket.closed_at.is_(None), Ticket.closed_at >= first))
        .order_by(Ticket.ticket_id)).all()
    facts = clock_facts(session, [ticket.ticket_id for ticket in tickets])  # pauses move due times; tiers set them
    for ticket in tickets:
        try:
            clocks = ticket_clocks(ticket, terms, after, **facts.of(ticket))
        except (OverflowError, ValueError):  # a due time past year 9999: not due in any month we close
            continue
        for clock in clocks:
            if clock.informational or clock.state not in MISSED or not first <= clock.due_at < after:
                continue
            found[ticket.customer_id].append(Miss(ticket.ticket_id, clock.name, ticket.severity, clock.due_at))
    return found


def pending_credits(session: Session, month: str, terms: Terms, customers: dict[str, Customer],
                    subscriber) -> dict[str, list[Pending]]:
    """Per customer, the credits and corrections the close of `month` applies: what each miss earns now
    less what finalised closes applied for it (this close's own rows were discarded with its drafts)."""
    pending: dict[str, list[Pending]] = defaultdict(list)
    months = months_to_credit(session, month, terms)
    if not months:
        return pending
    applied: dict[tuple[str, str, str, str], tuple[Decimal, Decimal]] = {}
    for row in session.execute(
            select(ServiceCredit.customer_id, ServiceCredit.month, ServiceCredit.ticket_id, ServiceCredit.clock,
                   func.sum(ServiceCredit.amount), func.max(ServiceCredit.share))
            .where(ServiceCredit.close_month != month)
            .group_by(ServiceCredit.customer_id, ServiceCredit.month, ServiceCredit.ticket_id, ServiceCredit.clock)):
        applied[tuple(row[:4])] = (Decimal(row[4]).quantize(Decimal("0.01")), row[5])
    for missed_month, credits in sorted(months.items()):
        earned = {}
        for customer_id, found in misses(session, missed_month, terms.model_copy(
                update={"service_credits": credits})).items():
            customer = customers.get(customer_id)
            if customer is None:
                continue
            for item in month_credits(found, customer.monthly_fee, credits):
                earned[(customer_id, missed_month, item.miss.ticket_id, item.miss.clock)] = item
        keys_now = set(earned) | {key for key in applied if key[1] == missed_month}
        for key in sorted(keys_now):
            customer_id, _, ticket_id, clock = key
            customer = customers.get(customer_id)
            if customer is None:
                continue
            item = earned.get(key)
            before, before_share = applied.get(key, (Decimal("0.00"), Decimal(0)))
            amount = (item.amount if item else Decimal("0.00")) - before
            if amount == 0:
                continue
            words = subscriber(customer).words(terms)
            month_name = words.month(*parse_month(missed_month))
            if before == 0 and item is not None:
                text = credit_text(words, clock, ticket_id, month_name, item.share, item.capped)
            else:
                text = correction_text(words, clock, ticket_id, month_name)
            share = item.share if item else before_share
            line = Line(text, CATEGORY, Decimal(1), -amount, -amount, customer.vat_rate, missed_month)
            pending[customer_id].append(Pending(line, missed_month, ticket_id, clock, share, amount))
    return pending


def rows(customer_id: str, close_month: str, pending: list[Pending], invoice_id: int) -> list[dict]:
    """The ledger rows of the credits a document carries."""
    return [{"credit_key": keys.service_credit(customer_id, item.month, item.ticket_id, item.clock, close_month),
             "customer_id": customer_id, "month": item.month, "ticket_id": item.ticket_id, "clock": item.clock,
             "share": item.share, "amount": item.amount, "close_month": close_month, "invoice_id": invoice_id}
            for item in pending]


def by_ticket(session: Session, ticket_ids) -> dict[tuple[str, str], Decimal]:
    """What finalised or drafted closes gave back per (ticket, clock), corrections netted."""
    ids = list(ticket_ids)
    if not ids:
        return {}
    found = session.execute(select(ServiceCredit.ticket_id, ServiceCredit.clock, func.sum(ServiceCredit.amount))
                            .where(ServiceCredit.ticket_id.in_(ids))
                            .group_by(ServiceCredit.ticket_id, ServiceCredit.clock))
    return {(ticket_id, clock): Decimal(amount).quantize(Decimal("0.01")) for ticket_id, clock, amount in found}
