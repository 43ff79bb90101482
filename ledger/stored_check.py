"""What a ledger written by an older release holds that today's import rules refuse (`lifecycle db check`).

An older release let in what the imports now refuse: ids equal ignoring case (`C020` and `c020`), an
imported invoice whose id has the form of the product's own numbers (`2026-000123`), a monthly fee beyond
what an invoice can hold, a period longer than the rules allow, a control character in a name, a date
outside the terms' window. Nothing here changes a row: each stored row is read through the import's own
rules (the columns' parsers of ledger.imports.schemas, the window of policy.window, the period rules of
policy.billed_through and policy.standby, the case rule of ledger.imports.rows), and what they refuse is
said on a line of its own for every rule a row breaks, for a person to correct
(docs/how-to/moving-in-from-an-older-release.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.id_indexes import IDS
from ledger.imports.cells import shown as shown_moment
from ledger.imports.invoices import product_number_problem
from ledger.imports.rows import clash_reason
from ledger.imports.schemas import schemas
from ledger.imports.tickets import ORDER as TICKET_ORDER
from ledger.models import Customer, CustomerCredit, Intervention, Invoice, Payment, StandbyPeriod, Ticket
from ledger.terms_copies import latest_terms
from lifecycle_config import clock
from policy.billed_through import cycle_problems, period_problems
from policy.calendar import paris_date
from policy.chronology import paid_before_issued_problem
from policy.einvoicing import buyer_kind_problem
from policy.invoicing import UNIT_PRICE_LIMIT, subscription_problems
from policy.standby import period_problems as standby_problems
from policy.terms import Terms
from policy.vocabulary import SettlementKind
from policy.window import DateWindow


@dataclass(frozen=True)
class Flag:
    table: str
    id: str
    rule: str

    def line(self) -> str:
        return f"{self.table} {self.id!r}: {self.rule}"


#: each table an import writes: its import, its model, the attribute naming a row, which rows came from
#: outside, and how each import column is read from a stored row (an attribute's name, or a function of the row).
#: Not here: an invoice's vat_rate (kept on its line, and a customer's rate when the file gave none), a customer's
#: dunning_exempt, language and commitment_tier (their columns refuse nothing a stored value can break: a tier the
#: terms dropped is the terms' change, told where the terms are read), a ticket's credentials (sealed: only their
#: token is stored). Credit notes are documents the product numbers and issues, checked as they are issued; a
#: ticket's events are the helpdesk's, kept as it sent them (their import's rules: a known ticket, no event before
#: it arrived or after now, are kept by the database's key and by the tickets' own moments checked here).
TABLES = (
    ("customers", "customers", Customer, "customer_id", None,
     {"customer_id": "customer_id", "name": "name", "email": "email", "monthly_fee": "monthly_fee",
      "payment_method": "payment_method", "billing_cycle": "billing_cycle",
      "contract_start": "contract_start", "vat_rate": "vat_rate", "included_minutes": "included_minutes",
      "billing_address": "billing_address", "siren": "siren", "vat_number": "vat_number",
      "buyer_kind": "buyer_kind", "delivery_address": "delivery_address"}),
    ("invoices", "invoices", Invoice, "external_id", Invoice.external_id.is_not(None),
     {"invoice_id": "external_id", "issued_on": "issued_on", "due_on": "due_on", "amount_ht": "total_ht",
      "description": "description", "period_start": "period_start", "period_end": "period_end"}),
    ("payments", "payments", Payment, "payment_id", Payment.kind == SettlementKind.PAYMENT,
     {"payment_id": "payment_id", "paid_on": "paid_on", "amount": "amount"}),
    ("interventions", "interventions", Intervention, "intervention_id", None,
     {"intervention_id": "intervention_id", "started_at": "started_at", "minutes": "minutes", "category": "category",
      "ticket": "ticket", "engineer": "engineer", "description": "description"}),
    ("tickets", "tickets", Ticket, "ticket_id", None,
     {"ticket_id": "ticket_id", "received_at": "received_at", "type": "type", "channel": "channel",
      "severity": "severity", "level": "level", "first_response_at": "first_response_at",
      "workaround_at": "workaround_at", "resolved_at": "resolved_at", "closed_at": "closed_at",
      "customization_delivered_on": "customization_delivered_on"}),
    # a refund is stored as the credit it took away (a negative movement): the file gave it positive
    ("refunds", "refunds", CustomerCredit, "refund_id", CustomerCredit.refund_id.is_not(None),
     {"refund_id": "refund_id", "amount": lambda row: -row.amount, "refunded_on": "on", "reference": "reference"}),
    ("standby", "standby", StandbyPeriod, "id", None,
     {"reason": "reason", "start_on": "start_on", "end_on": "end_on"}),
)


def stored_problems(session: Session, terms: Terms | None = None, today: date | None = None,
                    now: datetime | None = None) -> list[Flag]:
    """Every stored row today's import rules would refuse, each rule it breaks on a line of its own: in table
    order, then by row, then its columns in the file's order (every rule a cell breaks), then the rules of the
    whole row, then an id equal to another ignoring case."""
    terms = terms or latest_terms(session)
    window = DateWindow.of(terms, today, now or clock.now())  # a moment of the past: no later than now, as imported
    columns = schemas(terms)
    clashes = _case_clashes(session)
    flags: list[Flag] = []
    for table, kind, model, key, only, attributes in TABLES:
        order = [column.name for column in columns[kind]]
        parsers = {column.name: column for column in columns[kind]}
        query = select(model) if only is None else select(model).where(only)
        for row in session.scalars(query.order_by(getattr(model, key))):
            shown = str(getattr(row, key)) if key != "id" else f"{row.customer_id} #{row.id}"
            for name in sorted(attributes, key=order.index):
                attribute = attributes[name]
                value = attribute(row) if callable(attribute) else getattr(row, attribute)
                if value is not None:
                    flags += [Flag(table, shown, f"{name}: {problem}")
                              for problem in cell_problems(parsers[name], value, window)]
            flags += [Flag(table, shown, rule) for rule in _row_rules(session, table, row, terms)]
            flags += clashes.pop((table, shown), [])
    flags += [flag for rest in clashes.values() for flag in rest]  # a table no import writes (none today)
    return flags


def cell_problems(column, value: Any, window: DateWindow) -> list[str]:
    """Every reason the import would refuse this stored value in its column: its parser's, or the window's.
    A date is stored typed, so only the window applies, past-only as the column says (`Column.past`: as the
    import reads it), a moment said in Paris time as the import says it; an amount stored negative is told so, and its size too (the parser read without the sign)."""
    if isinstance(value, (date, datetime)):
        problem = window.problem(value, past_only=column.past, to_the_minute=column.past, shown=shown_moment(value))
        return [problem] if problem else []
    if isinstance(value, Enum):
        value = value.value
    reasons = _parser_reasons(column, value)
    if isinstance(value, Decimal) and value < 0:
        reasons += [reason for reason in _parser_reasons(column, -value) if reason not in reasons]
    return reasons


def _parser_reasons(column, value: Any) -> list[str]:
    try:
        column.parse(value)
    except ValueError as error:
        return list(getattr(error, "reasons", None) or [str(error)])
    return []


def _row_rules(session: Session, table: str, row, terms: Terms) -> list[str]:
    """The rules an import applies to a whole row, read on the stored row. The rules that compare a row with
    another one of the ledger as it then was (a customer's subscription start, an invoice's status when it was
    paid, a customer's credit before a refund, a standby beside another) are not read again: what they compared
    has moved since, by design (a later invoice, a correction), and the row was right when it came in."""
    if table == "customers":
        rules = [f"{field}: {reason}" for field, reason in
                 subscription_problems(row.payment_method, row.billing_cycle, row.contract_start, terms)]
        kind = buyer_kind_problem(row.buyer_kind, row.siren)
        return rules + ([f"buyer_kind: {kind}"] if kind else [])
    if table == "invoices":
        rules = []
        if row.issued_on is not None and row.due_on is not None and row.due_on < row.issued_on:
            rules.append(f"due_on: due {row.due_on} before it was issued ({row.issued_on})")
        if row.total_ht is not None and abs(row.total_ht) > UNIT_PRICE_LIMIT:
            rules.append(f"amount_ht: {row.total_ht} is more than an invoice line keeps ({UNIT_PRICE_LIMIT})")
        told = period_problems(row.period_start, row.period_end, row.issued_on)
        rules += [f"{column}: {reason}" for column, reason in told]
        if not told and row.bills_subscription and None not in (row.period_start, row.period_end, row.issued_on):
            cycle = session.scalar(select(Customer.billing_cycle).where(Customer.customer_id == row.customer_id))
            rules += [f"{column}: {reason}" for column, reason in
                      cycle_problems(row.period_start, row.period_end, row.issued_on, cycle)]
        if row.number != row.external_id and product_number_problem(row.external_id):
            rules.append(f"invoice_id: {product_number_problem(row.external_id)}")
        return rules
    if table == "payments":
        invoice = row.invoice
        early = paid_before_issued_problem(row.paid_on, invoice.issued_on, invoice.external_id or invoice.number)
        return [f"paid_on: {early}"] if early else []
    if table == "tickets":
        arrived = paris_date(row.received_at)
        rules = []
        delivered = row.customization_delivered_on
        if delivered is not None and delivered < arrived:
            rules.append(f"customization_delivered_on: {delivered} is before the ticket arrived ({arrived}): a "
                         f"customization is delivered after it")
        for name in TICKET_ORDER:
            if getattr(row, name) is not None and getattr(row, name) < row.received_at:
                rules.append(f"{name}: {shown_moment(getattr(row, name))} is before the ticket arrived "
                             f"({shown_moment(row.received_at)})")
        return rules
    if table == "standby":
        return [f"end_on: {reason}" for reason in
                standby_problems(row.reason, row.start_on, row.end_on, terms.standby_max_months)]
    return []


def _case_clashes(session: Session) -> dict[tuple[str, str], list[Flag]]:
    """Ids equal ignoring case, which the imports now refuse: each is flagged, naming the other(s), by (table, id)."""
    flags: dict[tuple[str, str], list[Flag]] = {}
    for column in IDS:
        table = column.class_.__tablename__
        lowered = select(func.lower(column)).where(column.is_not(None)).group_by(func.lower(column)).having(
            func.count() > 1)
        for folded in session.scalars(lowered):
            spellings = sorted(session.scalars(select(column).where(func.lower(column) == folded)))
            for spelled in spellings:
                other = next(other for other in spellings if other != spelled)
                flags.setdefault((table, spelled), []).append(
                    Flag(table, spelled, f"{column.key}: {clash_reason(spelled, other)}"))
    return flags
