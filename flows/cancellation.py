"""Cancellation: the registered letter, the last day of service, the final balance.

Seed 001: "Send your request by registered letter with acknowledgment of receipt ... Once the request
is received, a balance of any account will be communicated to you according to the terms of your
contract." Ops record the letter (the `cancellation-request` form, or `lifecycle run cancel`); the
customer gets an acknowledgment with its effective date and balance. Each morning `cancellations`
ends the service of those whose last day is over (access off, a final backup kept, the deletion
announced after the retention of the terms) and, once the last month is billed for good (its close, or
an imported invoice before the product's first close), sends the balance statement. The deletion itself
follows arrears' notice-and-approval path.
"""

from __future__ import annotations

from datetime import date
from typing import Optional

from prefect import flow
from prefect.artifacts import create_table_artifact

from operations.cancellation import CancellationsDone, LetterRecorded, final_backups_missing, late_letter, record_letter
from policy.calendar import future_day_problem, today_paris
from policy.text import markdown_cells
from policy.vocabulary import BackupOutcomeStatus
from tasks.cancellation import end_services_task, keep_final_backup_task, send_statements_task
from tasks.dispatch import deliver
from operations.invoice_documents import issue_documents
from tasks.einvoicing import deposit_issued
from tasks.invoice_documents import finish_documents
from tasks.runtime import (check_ids, NAME_LENGTH, REASON_LENGTH, actor, business_date, check_date, check_texts,
                           check_window, flow_run_id, refusals_fail_quietly)
from tasks.settings import load_run_settings


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
    check_ids(customer_id=customer_id)  # as the CLI's options
    check_texts(requested_by=(requested_by, NAME_LENGTH), force_reason=(force_reason, REASON_LENGTH))
    settings = load_run_settings("cancellation-request")
    if not withdraw_it:  # never before the customer's start; more than a year ago only with a reason
        check_date(late_letter(customer_id, received_on or today_paris(), settings.terms),
                   force_reason=force_reason, what="cancellation-request")
    finish_documents(settings, actor=actor(), flow_run_id=flow_run_id())  # documents earlier runs left unsent
    # called, not a task run: a refusal is the run's one line (a task run's would add Prefect's own)
    step = record_letter(customer_id, received_on, effective_on, settings, withdraw_it=withdraw_it,
                         requested_by=requested_by, actor=actor(), flow_run_id=flow_run_id())
    pending = deliver(settings, [customer_id])
    print(f"{customer_id}: cancellation {step.sentence}"
          + (f"; balance on {step.statement.day}: {step.statement.total} EUR" if step.statement else ""))
    return LetterRecorded(customer_id, step.received_on, step.effective_on, step.status, step.sentence,
                          step.statement.total if step.statement else None, pending).summary()


@flow(name="cancellations", log_prints=True, persist_result=True, result_serializer="json")
@refusals_fail_quietly
def cancellations(as_of: Optional[date] = None, force_reason: Optional[str] = None) -> dict:
    """The morning's cancellations: end the service of those whose last day is over (access off, a final
    backup kept, the deletion announced), and send the final balance once the last month is billed for good.

    Args:
        as_of: the business day; empty means the Paris date of the run's scheduled time.
        force_reason: work for a day after today anyway, and say why (kept in the audit log).
    """
    from tasks.backups import backup_customer

    day = business_date(as_of)
    settings = load_run_settings("cancellations")
    check_window(settings.terms, as_of=day)  # forced or not, as --as-of
    check_date(future_day_problem(day, today_paris(), "the cancellations day"), force_reason=force_reason,
               what="cancellations")
    finish_documents(settings, actor=actor(), flow_run_id=flow_run_id())  # documents earlier runs left unsent
    rows = []
    # the mail goes out today, whatever day the run works for
    for step in end_services_task(day, settings, actor=actor(), flow_run_id=flow_run_id(), today=today_paris()):
        rows.append({"customer": step.customer_id, "step": "effective", "detail": step.sentence, "final backup": ""})
        if step.credit_notes:   # the days billed after the last day, given back: documents and mails like any note
            issued = issue_documents(settings.seller, settings.terms, settings.storage, numbers=list(step.credit_notes),
                                     actor=actor(), flow_run_id=flow_run_id(), platform=settings.einvoicing)
            deposit_issued(settings, issued.through_platform, actor=actor(), flow_run_id=flow_run_id())
            for refused in issued.refused:
                print(f"credit note document not stored: {refused}")
    # the last picture of each cancelled customer's data, taken after its access went off; retried by the next
    # run until it is good (a killed run, a failed backup)
    deliver(settings)
    for cancellation_id, customer_id in final_backups_missing():
        # labelled today, whatever day the run works for: a backup's id names the day its data was taken
        backup = backup_customer(customer_id, today_paris(), settings.platform, settings.storage,
                                 flow_run_id=flow_run_id(), terms=settings.terms)
        if backup.status in (BackupOutcomeStatus.GOOD, BackupOutcomeStatus.SKIPPED):
            keep_final_backup_task(cancellation_id, backup.backup_id)
        row = next((row for row in rows if row["customer"] == customer_id and row["step"] == "effective"), None)
        if row is None:
            row = {"customer": customer_id, "step": "final backup", "detail": "taken again", "final backup": ""}
            rows.append(row)
        row["final backup"] = f"{backup.backup_id} ({backup.status})"
    for step in send_statements_task(day, settings, actor=actor(), flow_run_id=flow_run_id()):
        rows.append({"customer": step.customer_id, "step": "closed", "detail": step.sentence, "final backup": ""})
    pending = deliver(settings)
    create_table_artifact(markdown_cells(rows) or [{"customer": None, "step": "nothing to do", "detail": "",
                                                    "final backup": ""}],
                          key="cancellations", description=f"Cancellations on {day}")
    print(f"{day}: {sum(1 for row in rows if row['step'] == 'effective')} service(s) ended, "
          f"{sum(1 for row in rows if row['step'] == 'closed')} final statement(s) sent")
    return CancellationsDone(day, rows, pending).summary()
