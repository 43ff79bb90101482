"""The customers file: a new row creates a customer, a changed row updates it (audited, with what
changed), an unchanged row changes nothing."""

from __future__ import annotations

from typing import Any, Callable

from sqlalchemy.orm import Session

from ledger import audit
from ledger.billed import earliest_fact, refresh_subscription_starts
from ledger.db import now
from ledger.imports.rows import (ImportResult, Problems, Row, case_clashes, complete, customers_known, describe_change,
                                 duplicates)
from ledger.imports.schemas import SCHEMAS
from ledger.models import Customer
from policy.einvoicing import BuyerKind, buyer_kind_of, buyer_kind_problem
from policy.invoicing import subscription_problems
from policy.terms import Terms
from policy.vocabulary import BillingCycle


CUSTOMER_FIELDS = ("name", "email", "monthly_fee", "payment_method", "billing_cycle", "contract_start",
                   "vat_rate", "included_minutes", "dunning_exempt", "billing_address", "siren", "vat_number",
                   "language", "commitment_tier", "buyer_kind", "delivery_address")


def _customer_values(row: Row, current: Customer | None, terms: Terms) -> dict[str, Any]:
    """The customer's fields from a row: an empty cell means the default, a column left out of the
    file keeps what the ledger has."""
    defaults = {"billing_cycle": BillingCycle.MONTHLY, "contract_start": None, "vat_rate": terms.vat_rate,
                "included_minutes": None, "dunning_exempt": False, "billing_address": None, "siren": None,
                "vat_number": None, "language": None, "commitment_tier": None, "buyer_kind": None,
                "delivery_address": None}  # language None: the terms' invoice_language
    values = {}
    for name in CUSTOMER_FIELDS:
        if name in row.values:
            value = row.values[name]
            values[name] = defaults[name] if value is None and name in defaults else value
        elif current is not None:
            values[name] = getattr(current, name)
        else:
            values[name] = defaults[name]
    if values["buyer_kind"] is None:  # the reform's default: a SIREN, a foreign VAT number, else a private person
        values["buyer_kind"] = buyer_kind_of(values["siren"], values["vat_number"])
    values["buyer_kind"] = BuyerKind(values["buyer_kind"])
    return values


def check(session: Session, rows: list[Row], problems: Problems, terms: Terms, actor: str,
          result: ImportResult) -> Callable[[], None]:
    duplicates(rows, lambda row: row.values.get("customer_id"), "customer_id", problems)
    existing = customers_known(session, {row.values["customer_id"] for row in rows if row.values.get("customer_id")})
    case_clashes(session, rows, "customer_id", Customer.customer_id, existing, problems)
    plans: list[tuple[str, Row, Customer | None, dict[str, Any]]] = []
    for row in rows:
        if not complete(row, SCHEMAS["customers"]):
            continue
        customer_id = row.values["customer_id"]
        current = existing.get(customer_id)
        values = _customer_values(row, current, terms)
        tier = values["commitment_tier"]
        if tier is not None and tier not in terms.tiers and (current is None or tier != current.commitment_tier):
            problems.add(row.number, "commitment_tier", f"unknown tier {tier!r}: the terms' tiers are "
                         f"{', '.join(sorted(terms.tiers)) or 'none'} (add it to the terms' tiers first)")
        kind_problem = buyer_kind_problem(values["buyer_kind"], values["siren"])
        if kind_problem and not (problems.at(row.number, "siren") or problems.at(row.number, "buyer_kind")):
            problems.add(row.number, "buyer_kind" if "buyer_kind" in row.values else "siren", kind_problem)
        for column, reason in subscription_problems(values["payment_method"], values["billing_cycle"],
                                                    values["contract_start"], terms):
            problems.add(row.number, column, reason)
        if current is None:
            plans.append(("insert", row, None, values))
            continue
        changes = {name: (getattr(current, name), values[name]) for name in CUSTOMER_FIELDS
                   if getattr(current, name) != values[name]}
        if "contract_start" in changes and values["contract_start"] is not None:
            earliest = earliest_fact(session, customer_id)
            if earliest is not None and values["contract_start"] > earliest[1]:
                problems.add(row.number, "contract_start", f"{values['contract_start']} is after {customer_id}'s "
                             f"{earliest[0]} ({earliest[1]}): no fact of a customer lies before its start")
        plans.append(("update" if changes else "same", row, current, changes))

    def write() -> None:
        stamp = now()
        for action, row, current, values in plans:
            if action == "insert":
                customer = Customer(customer_id=row.values["customer_id"], created_at=stamp, updated_at=stamp, **values)
                session.add(customer)
                audit.record(session, "customer_created", customer_id=customer.customer_id, before=None,
                             after=values, actor=actor)
                result.inserted += 1
            elif action == "update":
                for name, (_, new) in values.items():
                    setattr(current, name, new)
                current.updated_at = stamp
                audit.record(session, "customer_updated", customer_id=current.customer_id,
                             before={name: old for name, (old, _) in values.items()},
                             after={name: new for name, (_, new) in values.items()}, actor=actor)
                result.updated += 1
                result.notes.append(f"updated {current.customer_id}: {describe_change(values)}")
            else:
                result.unchanged += 1
        # the start follows contract_start, else the imported history (ledger.billed)
        refresh_subscription_starts(session, [row.values["customer_id"] for action, row, _, _ in plans
                                              if action != "same"])

    return write
