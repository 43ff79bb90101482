"""The interventions file: support time, in the month of its Paris date, written in batches."""

from __future__ import annotations

from typing import Callable

from sqlalchemy import insert
from sqlalchemy.orm import Session

from ledger import audit
from ledger.billed import deletions
from ledger.db import now
from ledger.imports.rows import (ImportResult, Problems, Row, by_key, case_clashes, duplicates, history_row,
                                 require_customers)
from ledger.models import Intervention
from policy.calendar import month_key, paris_date
from policy.chronology import after_deletion_problem, before_start_problem
from policy.terms import Terms
from policy.vocabulary import InterventionSource


def check(session: Session, rows: list[Row], problems: Problems, terms: Terms, actor: str,
          result: ImportResult) -> Callable[[], None]:
    duplicates(rows, lambda row: row.values.get("intervention_id"), "intervention_id", problems)
    customers = require_customers(session, rows, problems)
    deleted = deletions(session, customers)
    for row in rows:  # support time is never given before the customer's start, nor after its data was deleted
        customer = customers.get(row.values.get("customer_id"))
        if customer is not None and row.values.get("started_at") is not None:
            problem = before_start_problem(paris_date(row.values["started_at"]), customer.subscription_start,
                                           "started_at") \
                or after_deletion_problem(row.values["started_at"], deleted.get(customer.customer_id))
            if problem:
                problems.add(row.number, "started_at", problem)
    existing = by_key(session, Intervention, Intervention.intervention_id,
                      [row.values["intervention_id"] for row in rows if row.values.get("intervention_id")])
    clashed = case_clashes(session, rows, "intervention_id", Intervention.intervention_id, existing, problems)
    new_rows = []
    for row in rows:
        if row.number in clashed:
            continue
        stored = existing.get(row.values.get("intervention_id"))
        if stored is None:
            new_rows.append(row)
            continue
        comparable = {name: getattr(stored, name) for name in
                      ("customer_id", "started_at", "minutes", "category", "ticket", "engineer", "description")}
        if history_row(row, comparable, problems, "intervention_id", "intervention"):
            result.unchanged += 1

    def write() -> None:
        stamp = now()
        batch = []
        for row in new_rows:
            values = row.values
            batch.append({
                "intervention_id": values["intervention_id"], "customer_id": values["customer_id"],
                "started_at": values["started_at"], "month": month_key(paris_date(values["started_at"])),
                "minutes": values["minutes"], "category": values["category"], "ticket": values.get("ticket"),
                "engineer": values.get("engineer"), "description": values.get("description"),
                "source": InterventionSource.IMPORT, "created_at": stamp,
            })
            if len(batch) >= 5000:
                session.execute(insert(Intervention), batch)
                batch = []
        if batch:
            session.execute(insert(Intervention), batch)
        result.inserted += len(new_rows)
        if new_rows:
            months = sorted({month_key(paris_date(row.values["started_at"])) for row in new_rows})
            audit.record(session, "interventions_imported", customer_id=None, before=None, actor=actor,
                         after={"file": result.file, "count": len(new_rows), "months": months})

    return write
