"""What a ledger written by an older release holds that today's import rules refuse (`lifecycle db check`).

An older release let in what the imports now refuse: ids equal ignoring case (`C020` and `c020`), an
imported invoice whose id has the form of the product's own numbers (`2026-000123`), a monthly fee beyond
what an invoice can hold, a period longer than the rules allow, a control character in a name, a date
outside the terms' window. Nothing here changes a row: each stored row is read through the import's own
rules (the columns' parsers of ledger.imports.schemas, the window of policy.window, the period rules of
policy.billed_through and policy.standby, the case rule of ledger.imports.rows), and what they refuse is
said once per row and rule, for a person to correct (docs/how-to/moving-in-from-an-older-release.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.id_indexes import IDS
from ledger.imports.invoices import product_number_problem
from ledger.imports.rows import clash_reason
from ledger.imports.schemas import schemas
from ledger.models import Customer, CustomerCredit, Intervention, Invoice, Payment, StandbyPeriod, Ticket
from ledger.terms_copies import latest_terms
from policy.billed_through import cycle_problems, period_problems
from policy.invoicing import subscription_problems
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
#: outside, and which import column each stored attribute was read from
TABLES = (
    ("customers", "customers", Customer, "customer_id", None,
     {"customer_id": "customer_id", "name": "name", "email": "email", "monthly_fee": "monthly_fee",
      "contract_start": "contract_start", "vat_rate": "vat_rate", "included_minutes": "included_minutes",
      "billing_address": "billing_address", "siren": "siren", "vat_number": "vat_number"}),
    ("invoices", "invoices", Invoice, "external_id", Invoice.external_id.is_not(None),
     {"invoice_id": "external_id", "issued_on": "issued_on", "due_on": "due_on", "description": "description",
      "period_start": "period_start", "period_end": "period_end"}),
    ("payments", "payments", Payment, "payment_id", Payment.kind == SettlementKind.PAYMENT,
     {"payment_id": "payment_id", "paid_on": "paid_on"}),
    ("interventions", "interventions", Intervention, "intervention_id", None,
     {"intervention_id": "intervention_id", "started_at": "started_at", "minutes": "minutes", "ticket": "ticket",
      "engineer": "engineer", "description": "description"}),
    ("tickets", "tickets", Ticket, "ticket_id", None,
     {"ticket_id": "ticket_id", "received_at": "received_at", "level": "level",
      "first_response_at": "first_response_at", "workaround_at": "workaround_at", "resolved_at": "resolved_at",
      "closed_at": "closed_at", "customization_delivered_on": "customization_delivered_on"}),
    ("refunds", "refunds", CustomerCredit, "refund_id", CustomerCredit.refund_id.is_not(None),
     {"refund_id": "refund_id", "refunded_on": "on", "reference": "reference"}),
    ("standby", "standby", StandbyPeriod, "id", None, {"start_on": "start_on", "end_on": "end_on"}),
)


def stored_problems(session: Session, terms: Terms | None = None, today: date | None = None) -> list[Flag]:
    """Every stored row today's import rules would refuse, with the rule: in table order, then by row."""
    terms = terms or latest_terms(session)
    window = DateWindow.of(terms, today)
    columns = schemas(terms)
    flags: list[Flag] = []
    for table, kind, model, key, only, attributes in TABLES:
        parsers = {column.name: column for column in columns[kind]}
        query = select(model) if only is None else select(model).where(only)
        for row in session.scalars(query.order_by(getattr(model, key))):
            shown = str(getattr(row, key)) if key != "id" else f"{row.customer_id} #{row.id}"
            for name, attribute in attributes.items():
                value = getattr(row, attribute)
                problem = _cell_problem(parsers[name], value, window) if value is not None else None
                if problem:
                    flags.append(Flag(table, shown, f"{name}: {problem}"))
            flags += [Flag(table, shown, rule) for rule in _row_rules(session, table, row, terms)]
    flags += _case_clashes(session)
    return flags


def _cell_problem(column, value: Any, window: DateWindow) -> str | None:
    """Why the import would refuse this stored value in its column: its parser's reason, or the window's."""
    if isinstance(value, (date, datetime)):  # stored typed: only the window applies (the parsers read text)
        return window.problem(value, past_only=column.past)
    try:
        column.parse(value)
    except ValueError as error:
        return str(error)
    return None


def _row_rules(session: Session, table: str, row, terms: Terms) -> list[str]:
    """The rules that read a whole row: a subscription's contract, an invoice's period and id, a standby's length."""
    if table == "customers":
        return [f"{field}: {reason}" for field, reason in
                subscription_problems(row.payment_method, row.billing_cycle, row.contract_start, terms)]
    if table == "invoices":
        rules = [f"{column}: {reason}" for column, reason in
                 period_problems(row.period_start, row.period_end, row.issued_on)]
        if not rules and row.bills_subscription and None not in (row.period_start, row.period_end, row.issued_on):
            cycle = session.scalar(select(Customer.billing_cycle).where(Customer.customer_id == row.customer_id))
            rules += [f"{column}: {reason}" for column, reason in
                      cycle_problems(row.period_start, row.period_end, row.issued_on, cycle)]
        if row.number != row.external_id and product_number_problem(row.external_id):
            rules.append(f"invoice_id: {product_number_problem(row.external_id)}")
        return rules
    if table == "standby":
        return [f"end_on: {reason}" for reason in
                standby_problems(row.reason, row.start_on, row.end_on, terms.standby_max_months)]
    return []


def _case_clashes(session: Session) -> list[Flag]:
    """Ids equal ignoring case, which the imports now refuse: each is flagged, naming the other(s)."""
    flags = []
    for column in IDS:
        table = column.class_.__tablename__
        lowered = select(func.lower(column)).where(column.is_not(None)).group_by(func.lower(column)).having(
            func.count() > 1)
        for folded in session.scalars(lowered):
            spellings = sorted(session.scalars(select(column).where(func.lower(column) == folded)))
            for spelled in spellings:
                other = next(other for other in spellings if other != spelled)
                flags.append(Flag(table, spelled, f"{column.key}: {clash_reason(spelled, other)}"))
    return flags
