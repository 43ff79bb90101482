"""Monthly close: on the 1st, reset every customer's support quota and bill the month before.

Seed 000: two hours of free intervention a month, everything beyond billed; seed 001: standby at
50 %, payment-method surcharges. The month's interventions are priced against the quota, one
invoice is drafted per customer, finance may approve the drafts in the UI, and finalising gives
them gapless numbers. A month already closed is never billed twice.
"""

from __future__ import annotations

from typing import Literal, Optional

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.exceptions import FlowPauseTimeout

from flows.exports import billable_export
from tasks.approval import answered, artifact_url, decided, pause_key, run_url, wait_for_decision
from tasks.dispatch import deliver
from operations.invoice_documents import documents_table
from tasks.einvoicing import deposit_issued
from tasks.invoice_documents import finish_documents, issue_documents_task
from operations.close import later_closed_month, previous_month
from tasks.monthly_close import discard_task, draft_task, finalise_task
from tasks.runtime import (check_month_form, Refusal, actor, business_date, check_approval_hours, check_date,
                           check_month_window, flow_run_id, refusals_fail_quietly)
from tasks.settings import load_run_settings
from policy.calendar import closed_after_problem, today_paris, unfinished_month_problem
from policy.text import markdown_cells
from policy.vocabulary import CloseOutcome, NoticeStatus
from lifecycle_config.conditions import Reported
from lifecycle_config.failpoints import failpoint


class CloseRefused(Refusal):
    """Finance refused the drafts (or did not answer in time); nothing was kept."""


@flow(name="monthly-close", log_prints=True, persist_result=True, result_serializer="json")
@refusals_fail_quietly
def monthly_close(
    month: Optional[str] = None,
    approve: Literal["auto", "ui"] = "auto",
    approval_timeout_hours: float = 72.0,
    force_reason: Optional[str] = None,
) -> dict:
    """Close a month: price its interventions against each customer's quota and issue the invoices.

    Args:
        month: the month to close, YYYY-MM; empty means the month before the run's scheduled day.
        approve: `auto` finalises at once; `ui` waits (suspended, holding no worker) for finance's answer in the UI.
        approval_timeout_hours: how long a `ui` approval may wait, from 0.0167 (one minute) to 2160 (90 days);
            then nothing is issued.
        force_reason: close a month that has not ended yet, or one before a month already closed, anyway, and say
            why (kept in the audit log).
    """
    check_month_form(month)  # as the CLI's options
    check_approval_hours(approval_timeout_hours)  # before anything: -1 or NaN failed at the pause, infinity waited forever
    day = business_date(None)
    month = month or previous_month(day)
    settings = load_run_settings("monthly-close")
    check_month_window(settings.terms, month)  # forced or not, as --month: 0001-01 or 9999-12 is a typo
    check_date(unfinished_month_problem(month, today_paris()), force_reason=force_reason,
               what=f"monthly-close {month}")
    # a month before the last closed one would bill its work after that month's invoices: only when meant
    check_date(closed_after_problem(month, later_closed_month(month)), force_reason=force_reason,
               what=f"monthly-close {month}")
    run_id = flow_run_id()
    finished = finish_documents(settings, actor=actor(), flow_run_id=run_id)  # what earlier runs left unsent
    drafted = draft_task(month, settings.terms, actor=actor(), flow_run_id=run_id)
    failpoint("close.drafted")
    if drafted.status == CloseOutcome.ALREADY_FINALISED:
        print(f"{month} was already closed: nothing billed again")
        send_documents(month, settings, run_id)  # what a failed run may have left unrendered or unsent
        billable_export(month)  # finishes an export a failed run may have missed; unchanged writes nothing
        # a run killed while sending: what this one finished is said, not "nothing changed"
        return {**drafted.summary(), "documents_finished": len(finished.finished)}
    drafts = create_markdown_artifact(drafted.markdown(f"Draft invoices for {month}"), key="monthly-close-drafts",
                                      description=f"Drafts of the {month} close, before approval")
    if drafted.subscription_summary():
        print(f"{month}: {drafted.subscription_summary()}")
    for line in drafted.not_billed:  # one customer left out; every other one is billed
        print(f"not billed: {line}")

    approval = None
    if approve == "ui":
        decision = answered(pause_key("approve", month))  # this run resumed with finance's answer
        if decision is None:
            print(f"waiting for finance to approve the {drafted.invoices} draft invoice(s) of {month}: "
                  f"{run_url(run_id)}")
            try:
                decision = wait_for_decision(drafted.approval_form(artifact_url(drafts)),
                                             key=pause_key("approve", month), timeout_hours=approval_timeout_hours)
            except FlowPauseTimeout as error:  # nobody answered in time: keep nothing
                discard_task(month, why=f"no approval: {error}", actor=actor(), flow_run_id=run_id)
                raise CloseRefused(f"{month}: no approval in time; the drafts were discarded") from error
        print(decided(decision, "finance"))
        if not decision.approve:
            discard_task(month, why=f"refused by {decision.reviewer}: {decision.comment}", actor=actor(),
                         flow_run_id=run_id)
            raise CloseRefused(f"{month}: refused by {decision.reviewer} ({decision.comment}); nothing was issued")
        approval = {"reviewer": decision.reviewer, "comment": decision.comment}

    closed = finalise_task(month, day, settings.terms, actor=actor(), flow_run_id=run_id, approval=approval)
    failpoint("close.finalised")
    create_markdown_artifact(closed.markdown(f"Monthly close {month}"), key="monthly-close",
                             description=f"The {month} close")
    create_table_artifact(markdown_cells(
        [{"number": item.number, "customer": item.customer_id, "name": item.name, "total_ht": str(item.total_ht),
          "total_vat": str(item.total_vat), "total_ttc": str(item.total_ttc),
          "due_on": item.due_on.isoformat() if item.due_on else None} for item in closed.listed]),
        key="monthly-close-invoices", description=f"Invoices issued for {month}" + (
            f": the first {len(closed.listed)} of {closed.invoices} by number; `lifecycle show invoices --month "
            f"{month}` lists every one" if len(closed.listed) < closed.invoices else ""))
    print(f"{month}: {closed.invoices} invoice(s), {closed.total_ttc} EUR TTC, issued {closed.issued_on}")
    if closed.credit_notes:
        print(f"{month}: {closed.credit_notes_sentence()}")
    deposit = send_documents(month, settings, run_id)
    billable_export(month)
    return {**closed.summary(), "einvoicing": deposit or ""}


class DocumentsRefused(Reported):
    """An invoice document could not be stored (its number already has another one); the artifact says which."""


def send_documents(month: str, settings, run_id: str | None) -> str | None:
    """Each issued invoice's Factur-X PDF, stored and mailed to its customer. A mail that cannot go out
    now stays pending and goes with the next run: it never fails the close."""
    issued = issue_documents_task(settings.seller, settings.terms, settings.storage, month=month, actor=actor(),
                                  flow_run_id=run_id, platform=settings.einvoicing)
    # French business customers' documents go through the e-invoicing platform (when set): deposited now, or
    # pending for the e-invoicing run when it is down (never a failed close)
    deposit = deposit_issued(settings, issued.through_platform, actor=actor(), flow_run_id=run_id)
    if issued.sample_seller:
        print("note: the invoices carry the SAMPLE seller (a SPECIMEN band, a test IBAN): fill in the `seller` "
              "block in the UI (Blocks) before invoices go to customers")
    for waiting in deliver(settings):
        print(f"not sent yet, tried again by the next run: {waiting}")
    rows = documents_table(settings.storage, month=month)
    create_table_artifact(markdown_cells(rows, links=("document",)) or [{"number": "none"}],
                          key="monthly-close-documents",
                          description=f"The {month} invoices as customers receive them: PDF (Factur-X) and mail")
    print(f"{month}: {len(issued.stored)} invoice document(s) stored, {len(issued.mails)} mail(s) recorded; "
          f"{sum(1 for row in rows if row['mail'] == NoticeStatus.SENT)} of {len(rows)} sent")
    if issued.refused:
        raise DocumentsRefused("; ".join(issued.refused))
    return deposit
