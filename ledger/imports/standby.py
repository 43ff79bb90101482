"""The standby file: planned or past standby periods, checked against the rules and one another."""

from __future__ import annotations

from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import audit
from ledger.db import now
from ledger.imports.rows import CHUNK, ImportResult, Problems, Row, complete, duplicates, history_row, require_customers
from ledger.imports.schemas import SCHEMAS
from ledger.models import StandbyPeriod
from ledger.queries import invoice_label, overdue_invoices
from ledger.models import Customer
from policy.calendar import today_paris
from policy.chronology import before_start_problem
from policy.standby import Period, arrears_refusal, default_end, default_end_problem, overlapping, period_problems
from policy.terms import Terms
from policy.window import DateWindow
from policy.vocabulary import StandbySource, StandbyStatus


def check(session: Session, rows: list[Row], problems: Problems, terms: Terms, actor: str,
          result: ImportResult) -> Callable[[], None]:
    duplicates(rows, lambda row: (row.values.get("customer_id"), row.values.get("start_on")), "start_on", problems)
    customers = require_customers(session, rows, problems)
    today = today_paris()
    window = DateWindow.of(terms, today=today)
    customer_ids = {row.values["customer_id"] for row in rows if row.values.get("customer_id")}
    stored_periods: dict[str, list[StandbyPeriod]] = {}
    for start in range(0, len(customer_ids), CHUNK):
        chunk = sorted(customer_ids)[start:start + CHUNK]
        for period in session.scalars(select(StandbyPeriod).where(StandbyPeriod.customer_id.in_(chunk))):
            stored_periods.setdefault(period.customer_id, []).append(period)
    planned: dict[str, list[Period]] = {}
    new_rows = []
    for row in rows:
        values = row.values
        if not complete(row, SCHEMAS["standby"]):
            continue
        if problems.at(row.number, "end_on"):
            continue  # an end written wrong is told as written, not replaced by the default
        if not values.get("end_on"):
            problem = default_end_problem(values["start_on"], terms.standby_max_months, window)
            if problem:
                problems.add(row.number, "end_on", problem)
                continue
        end_on = values.get("end_on") or default_end(values["start_on"], terms.standby_max_months)
        values["end_on"] = end_on
        same = next((period for period in stored_periods.get(values["customer_id"], [])
                     if period.start_on == values["start_on"]), None)
        if same is not None:
            if history_row(row, {"reason": same.reason, "end_on": same.end_on}, problems, "start_on", "standby"):
                result.unchanged += 1
            continue
        for problem in period_problems(values["reason"], values["start_on"], end_on, terms.standby_max_months):
            problems.add(row.number, "end_on", problem)
        customer = customers.get(values["customer_id"])
        if customer is not None:
            _anchored(session, row, customer, end_on, today, problems)
        others = [Period(period.start_on, period.end_on, period.status)
                  for period in stored_periods.get(values["customer_id"], [])] + planned.get(values["customer_id"], [])
        clash = overlapping(values["start_on"], end_on, others)
        if clash is not None:
            problems.add(row.number, "start_on", f"overlaps the standby {clash.start_on} to {clash.end_on}")
        planned.setdefault(values["customer_id"], []).append(Period(values["start_on"], end_on))
        new_rows.append(row)

    def write() -> None:
        stamp = now()
        for row in new_rows:
            values = row.values
            period = StandbyPeriod(customer_id=values["customer_id"], reason=values["reason"],
                                   start_on=values["start_on"], end_on=values["end_on"], status=StandbyStatus.SCHEDULED,
                                   source=StandbySource.IMPORT, requested_by=actor, created_at=stamp)
            session.add(period)
            audit.record(session, "standby_scheduled", customer_id=values["customer_id"], before=None,
                         after={"reason": values["reason"], "start_on": values["start_on"],
                                "end_on": values["end_on"], "source": result.file}, actor=actor)
        result.inserted += len(new_rows)

    return write


def _anchored(session: Session, row: Row, customer: Customer, end_on, today, problems: Problems) -> None:
    """A period never starts before the customer's start; one not over yet is refused while the customer is in
    arrears, by the rule and in the words of a request (`run standby-request`): never a way round a suspension.
    A period over already is history, imported as it was."""
    problem = before_start_problem(row.values["start_on"], customer.subscription_start, "start_on")
    if problem:
        problems.add(row.number, "start_on", problem)
    if end_on > today:
        overdue = [invoice_label(invoice) for invoice in overdue_invoices(session, customer.customer_id, today)]
        refused = arrears_refusal(overdue, customer.stage)
        if refused:
            problems.add(row.number, "customer_id", f"{customer.customer_id}: standby {refused}")
