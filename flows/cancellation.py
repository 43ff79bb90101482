"""Cancellation: the registered letter, the last day of service, the final balance.

Seed 001: "Send your request by registered letter with acknowledgment of receipt ... Once the request
is received, a balance of any account will be communicated to you according to the terms of your
contract." Ops record the letter (the `cancellation-request` form, or `lifecycle run cancel`); the
customer gets an acknowledgment with its effective date and balance. Each morning `cancellations`
ends the service of those whose last day is over (access off, a final backup kept, the deletion
announced after the retention of the terms) and, once the final close has billed the last month,
sends the balance statement. The deletion itself follows arrears' notice-and-approval path.
"""

from __future__ import annotations

from datetime import date
from typing import Optional

from prefect import flow
from prefect.artifacts import create_table_artifact

from ledger import keys
from ledger.cancellations import (CancellationRefused, close, due_for_statement, due_to_take_effect, on_standby,
                                  receive, take_effect, withdraw, without_final_backup)
from ledger.db import session_scope
from ledger.models import Cancellation, Customer
from policy.calendar import future_day_problem, today_paris
from policy.window import DateWindow
from policy.cancellation import NOTICES, earliest_effective
from policy.chronology import before_start_problem, late_letter_problem
from policy.language import language_of
from tasks.dispatch import deliver
from tasks.invoice_documents import finish_documents
from tasks.effects import record_notice, record_switch
from tasks.invoice_documents import issue_documents
from tasks.runtime import Refusal, actor, business_date, check_date, flow_run_id, refusals_fail_quietly
from tasks.settings import load_run_settings


class CancellationNotRecorded(Refusal):
    """The request was refused as asked; nothing changed."""


def _notify(session, customer, step: str, cancellation_id: int, settings, **facts) -> None:
    language = language_of(customer.language, settings.terms.invoice_language)
    if "statement" in facts:
        facts["statement"] = facts["statement"].text(language)
    subject, body = NOTICES[step].render(settings.terms, language, name=customer.name,
                                         contact=settings.notifications.support_phone, **facts)
    record_notice(session, customer, kind=NOTICES[step].kind, key=keys.cancellation_notice(step, cancellation_id),
                  subject=subject, body=body, flow_run_id=flow_run_id())


@flow(name="cancellation-request", log_prints=True, persist_result=True, result_serializer="json")
@refusals_fail_quietly
def cancellation_request(customer_id: str, received_on: Optional[date] = None, effective_on: Optional[date] = None,
                         withdraw_it: bool = False, requested_by: str = "ops",
                         force_reason: Optional[str] = None) -> dict:
    """Record a customer's cancellation letter (or withdraw its cancellation before it takes effect).

    Args:
        customer_id: who cancels.
        received_on: the day the registered letter was received (default today).
        effective_on: the last day of service asked for; empty means the earliest the contract's terms allow.
        withdraw_it: withdraw the customer's cancellation instead (only before its effective date).
        requested_by: who records it (audit).
        force_reason: record a letter received more than a year ago anyway, and say why (kept in the audit log).
    """
    day = received_on or today_paris()
    if day > today_paris():
        raise CancellationNotRecorded(f"{customer_id}: received_on {day} is after today: a letter is recorded once received")
    settings = load_run_settings("cancellation-request")
    finish_documents(settings, actor=actor(), flow_run_id=flow_run_id())  # documents earlier runs left unsent
    window = DateWindow.of(settings.terms)  # the UI's form too: 0001-01-01 would cut access with no notice
    for name, value in (("received_on", received_on), ("effective_on", effective_on)):
        problem = window.problem(value) if value else None
        if problem:
            raise CancellationNotRecorded(f"{customer_id}: {name} {problem}")
    if not withdraw_it:
        _received_in_time(customer_id, day, settings.terms, force_reason)
    try:
        with session_scope(write=True) as session:
            if withdraw_it:
                step, customer = withdraw(session, customer_id, today_paris(), requested_by=requested_by,
                                          actor=actor(), flow_run_id=flow_run_id())
                _notify(session, customer, "withdrawn", step.cancellation_id, settings, received_on=step.received_on)
            else:
                step, customer, new = receive(session, customer_id, day, effective_on, settings.terms,
                                              requested_by=requested_by, actor=actor(), flow_run_id=flow_run_id(),
                                              today=today_paris())
                if new:
                    _notify(session, customer, "received", step.cancellation_id, settings,
                            received_on=step.received_on, effective_on=step.effective_on,
                            statement=step.statement)
    except CancellationRefused as refused:
        said = str(refused)  # named once: most reasons start with the customer already
        raise CancellationNotRecorded(said if said.startswith(customer_id) else f"{customer_id}: {said}") from None
    pending = deliver(settings, [customer_id])
    print(f"{customer_id}: cancellation {step.sentence}"
          + (f"; balance on {step.statement.day}: {step.statement.total} EUR" if step.statement else ""))
    return {"customer_id": customer_id, "received_on": step.received_on.isoformat(),
            "effective_on": step.effective_on.isoformat(), "status": step.status, "sentence": step.sentence,
            "balance": str(step.statement.total) if step.statement else None, "pending": pending}


def _received_in_time(customer_id: str, day: date, terms, force_reason: Optional[str]) -> None:
    """A letter is never received before the customer's start; one received more than a year ago needs a
    reason (policy.chronology): its last day would credit back every invoice since."""
    with session_scope() as session:
        customer = session.get(Customer, customer_id)
        if customer is None:
            return  # receive() says so
        problem = before_start_problem(day, customer.subscription_start, "received_on")
        if problem:
            raise CancellationNotRecorded(f"{customer_id}: {problem}")
        last_day = earliest_effective(day, customer.billing_cycle, customer.contract_start, terms)
    check_date(late_letter_problem(day, today_paris(), last_day), force_reason=force_reason,
               what="cancellation-request")


@flow(name="cancellations", log_prints=True, persist_result=True, result_serializer="json")
@refusals_fail_quietly
def cancellations(as_of: Optional[date] = None, force_reason: Optional[str] = None) -> dict:
    """The morning's cancellations: end the service of those whose last day is over (access off, a final
    backup kept, the deletion announced), and send the final balance once the last month is closed.

    Args:
        as_of: the business day; empty means the Paris date of the run's scheduled time.
        force_reason: work for a day after today anyway, and say why (kept in the audit log).
    """
    from tasks.backups import backup_customer

    day = business_date(as_of)
    check_date(future_day_problem(day, today_paris(), "the cancellations day"), force_reason=force_reason,
               what="cancellations")
    settings = load_run_settings("cancellations")
    finish_documents(settings, actor=actor(), flow_run_id=flow_run_id())  # documents earlier runs left unsent
    rows = []
    with session_scope() as session:
        ending = due_to_take_effect(session, day)
    for cancellation_id in ending:
        with session_scope(write=True) as session:
            done = take_effect(session, cancellation_id, day, settings.terms, actor=actor(), flow_run_id=flow_run_id(),
                               today=today_paris())  # the mail goes out today, whatever day it works for
            if done is None:
                continue
            step, customer = done
            record_switch(session, customer, on_standby=on_standby(session, customer.customer_id),
                          reason="cancellation", key=keys.cancellation_notice("off", cancellation_id), actor=actor(),
                          flow_run_id=flow_run_id())
            _notify(session, customer, "effective", cancellation_id, settings, effective_on=step.effective_on,
                    deletion_due_on=customer.deletion_due_on)
        rows.append({"customer": step.customer_id, "step": "effective", "detail": step.sentence, "final backup": ""})
        if step.credit_notes:   # the days billed after the last day, given back: documents and mails like any note
            issued = issue_documents(settings.seller, settings.terms, settings.storage, numbers=step.credit_notes,
                                     actor=actor(), flow_run_id=flow_run_id())
            for refused in issued.refused:
                print(f"credit note document not stored: {refused}")
    # the last picture of each cancelled customer's data, taken after its access went off; retried by the next
    # run until it is good (a killed run, a failed backup)
    deliver(settings)
    with session_scope() as session:
        missing = without_final_backup(session)
    for cancellation_id, customer_id in missing:
        backup = backup_customer(customer_id, day, settings.platform, settings.storage, flow_run_id=flow_run_id())
        if backup.status == "good" or backup.status == "skipped":
            with session_scope(write=True) as session:
                session.get(Cancellation, cancellation_id).final_backup_id = backup.backup_id
        row = next((row for row in rows if row["customer"] == customer_id and row["step"] == "effective"), None)
        if row is None:
            row = {"customer": customer_id, "step": "final backup", "detail": "taken again", "final backup": ""}
            rows.append(row)
        row["final backup"] = f"{backup.backup_id} ({backup.status})"
    with session_scope() as session:
        closing = due_for_statement(session)
    for cancellation_id in closing:
        with session_scope(write=True) as session:
            done = close(session, cancellation_id, day, actor=actor(), flow_run_id=flow_run_id())
            if done is None:
                continue
            step, customer = done
            _notify(session, customer, "statement", cancellation_id, settings, balance=step.statement.total,
                    statement=step.statement)
        rows.append({"customer": step.customer_id, "step": "closed", "detail": step.sentence, "final backup": ""})
    pending = deliver(settings)
    create_table_artifact(rows or [{"customer": None, "step": "nothing to do", "detail": "", "final backup": ""}],
                          key="cancellations", description=f"Cancellations on {day}")
    print(f"{day}: {sum(1 for row in rows if row['step'] == 'effective')} service(s) ended, "
          f"{sum(1 for row in rows if row['step'] == 'closed')} final statement(s) sent")
    return {"day": day.isoformat(), "steps": rows, "pending": pending}
