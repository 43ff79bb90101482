"""Arrears escalation (seed 001 "Late payment of my subscription?"), every day.

Penalties on overdue invoices, the admin area off after 1 month, the platform off after 2, and after
6 months a deletion that is announced 30 days ahead and waits for a person's approval in a flow
run of its own, so the daily sweep never blocks. Everything is recomputed from the invoices and
payments on the day, so a payment brings access back at the next run.
"""

from __future__ import annotations

from lifecycle_config.conditions import Reported
from datetime import date
from typing import Optional

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.exceptions import FlowPauseTimeout
from prefect.states import Completed

from policy.calendar import future_day_problem, today_paris
from policy.text import markdown_cells, markdown_literal
from tasks.approval import answered, decided, pause_key, run_url, wait_for_decision
from tasks.arrears import sweep_task
from tasks.dispatch import deliver
from tasks.einvoicing import deposit_issued
from tasks.invoice_documents import finish_documents, issue_documents_task
from policy.vocabulary import InvoiceKind
from operations.deletion import (approval_form, certificate_markdown, check_due, complete_interrupted, execute,
                                 mark_awaiting, pending_run, plan_purge, refuse)
from tasks.runtime import (check_ids, COMMENT_LENGTH, NAME_LENGTH, Refusal, actor, business_date, check_approval_hours,
                           check_date, check_texts, check_window, flow_run_id, installation_tags, log_bug,
                           refusals_fail_quietly)
from tasks.settings import load_run_settings

DELETION_DEPLOYMENT = "data-deletion/data-deletion"


class SweepIncomplete(Reported):
    """Some customers could not be handled; they are tried again on the next run."""


class SweepRefused(Refusal):
    """Some customers' work was refused by a rule (a penalty that would be dated after the day it is issued,
    the clock set back): the run ends Refused with each reason; they are tried again on the next run."""


class DeletionRefused(Refusal):
    """Ops refused the deletion in the form (or did not answer in time); nothing was deleted."""


@flow(name="arrears-escalation", log_prints=True, persist_result=True, result_serializer="json")
@refusals_fail_quietly
def arrears_escalation(
    as_of: Optional[date] = None,
    approve_deletion: bool = False,
    dry_run: bool = False,
    force_reason: Optional[str] = None,
) -> dict:
    """The daily arrears sweep: penalties, stage changes with their platform effects and notices, and
    deletions that are due (each in its own run, waiting for approval).

    Args:
        as_of: the business day; empty means the Paris date of the run's scheduled time.
        approve_deletion: approve the deletions that are due now, without a form (the CLI's --approve-deletion).
        dry_run: report what would happen and change nothing (no platform call, no notice, no invoice).
        force_reason: sweep a day after today anyway, and say why (kept in the audit log); a dry run needs none.
    """
    day = business_date(as_of)
    settings = load_run_settings("arrears-escalation")
    check_window(settings.terms, as_of=day)  # forced, or a dry run, or not: as --as-of
    if not dry_run:
        check_date(future_day_problem(day, today_paris(), "the arrears day"), force_reason=force_reason,
                   what="arrears-escalation")
    # the daily sweep of documents: every invoice or credit note an earlier run (of any flow) left unrendered
    # or unsent is finished here at the latest; what still cannot be finished fails the run, so ops hear of it
    leftovers = None if dry_run else finish_documents(settings, actor=actor(), flow_run_id=flow_run_id(),
                                                      deliver_now=False)  # their mails go with the outbox below
    # a deletion a killed run left between its intent and its certificate: completed with its own approval
    # (each on its own: one that cannot be completed now is a failed line of the sweep, which runs all the same)
    unfinished: list[str] = []
    completed = [] if dry_run else complete_interrupted(settings, actor=actor(), flow_run_id=flow_run_id(),
                                                        failed=unfinished, on_bug=log_bug)
    report = sweep_task(day, settings, dry_run=dry_run, actor=actor(), flow_run_id=flow_run_id(),
                        forced_reason=force_reason if day > today_paris() else None)
    report.failed += unfinished
    if not dry_run:  # the notices and access changes recorded with their stages (and any left by earlier runs)
        # each penalty invoice's PDF, stored and mailed like the close's (and one a killed run left without)
        issued = issue_documents_task(settings.seller, settings.terms, settings.storage, kinds=(InvoiceKind.PENALTY,),
                                      actor=actor(), flow_run_id=flow_run_id(), platform=settings.einvoicing)
        deposit_issued(settings, issued.through_platform, actor=actor(), flow_run_id=flow_run_id())
        report.failed += [f"invoice document {why}" for why in issued.refused]
        report.failed += deliver(settings)
        if leftovers.conclude().problems:  # a document still not stored (a mail waits its alert time, above)
            report.failed.append(leftovers.sentence())
    deletions = [f"{certificate['customer_id']}: deleted (an approved deletion a stopped run left unfinished, "
                 f"approved by {certificate['approved_by']})" for certificate in completed]
    for customer_id in report.deletions_due:
        if dry_run:
            deletions.append(f"{customer_id}: would wait for approval")
        elif day > today_paris():  # a forced sweep ahead of time never deletes ahead of time
            deletions.append(f"{customer_id}: due by {day}; not started before that day")
        elif approve_deletion:
            result = delete_customer_data(customer_id, as_of=day, approved_by=f"{actor()} (--approve-deletion)")
            deletions.append(f"{customer_id}: {'deleted' if result['deleted'] else result['why']}")
        else:
            deletions.append(f"{customer_id}: {_request_deletion(customer_id, day)}")
    report.deletions_due = deletions
    left = (f"\n\n## Documents left by earlier runs\n\n{markdown_literal(leftovers.sentence())}\n"
            if leftovers and (leftovers.finished or leftovers.waiting) else "")
    create_markdown_artifact(report.markdown() + left,
                             key="arrears-escalation", description=f"Arrears for {day}")
    create_table_artifact(markdown_cells(report.transitions)
                          or [{"customer_id": None, "from": None, "to": "no change"}],
                          key="arrears-transitions", description=f"Stage changes on {day}")
    print(f"{day}{' (dry run)' if dry_run else ''}: {len(report.transitions)} stage change(s), "
          f"{len(report.penalties)} penalty invoice(s), {len(report.deletion_notices)} deletion notice(s), "
          f"{len(deletions)} deletion(s) due"
          + (f"; {report.superseded()}" if report.superseded_by else ""))
    if report.failed:  # a failure of the world or a bug outweighs a refusal: both are told
        raise SweepIncomplete("; ".join(report.failed + report.refused))
    if report.refused:
        raise SweepRefused("; ".join(report.refused))
    return report.result(deletions).summary()


def _request_deletion(customer_id: str, day: date) -> str:
    """Start the customer's deletion run (it pauses for approval in the UI) unless one already waits."""
    from prefect.deployments import run_deployment

    waiting = pending_run(customer_id)
    if waiting and _still_waiting(waiting):
        return f"waiting for approval in {run_url(waiting)}"
    tags = installation_tags()  # the worker refuses it unless it serves this ledger
    try:
        run = run_deployment(DELETION_DEPLOYMENT, parameters={"customer_id": customer_id, "as_of": day.isoformat()},
                             timeout=0, as_subflow=False, tags=tags)
    except Exception as error:  # no such deployment: a bare server, not `lifecycle up`
        mark_awaiting(customer_id, None, actor())
        return (f"awaiting approval ({type(error).__name__}: the data-deletion deployment is not available); approve "
                f"with `lifecycle run arrears --as-of {day} --approve-deletion` or from the UI of `lifecycle up`")
    mark_awaiting(customer_id, str(run.id), actor())
    return f"awaiting approval in {run_url(str(run.id))}"


def _still_waiting(run_id: str) -> bool:
    from prefect import get_client

    try:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(run_id).state
    except Exception:  # noqa: BLE001 - unknown run: start a new one
        return False
    return state is not None and not state.is_final()


@flow(name="data-deletion", log_prints=True, persist_result=True, result_serializer="json")
@refusals_fail_quietly
def delete_customer_data(
    customer_id: str,
    as_of: Optional[date] = None,
    approved_by: Optional[str] = None,
    comment: str = "",
    approval_timeout_hours: float = 168.0,
) -> dict:
    """Delete a customer's platform data and every backup after six months of arrears, once approved.

    Shows exactly what will be deleted, waits for the resume form (approve, reviewer, comment) unless
    `approved_by` is given, then purges and leaves a deletion certificate. Invoices, payments and the
    audit trail are kept.

    Args:
        customer_id: the customer whose data is deleted.
        as_of: the business day; empty means today in Paris.
        approved_by: who approved beforehand (the CLI's --approve-deletion); empty means ask in the UI.
        comment: why, for the certificate.
        approval_timeout_hours: how long the form may wait, from 0.0167 (one minute) to 2160 (90 days); then
            nothing is deleted.
    """
    check_ids(customer_id=customer_id)  # as the CLI's options
    check_approval_hours(approval_timeout_hours)  # before anything: -1 or NaN failed at the pause, infinity waited forever
    # they go into the deletion certificate and the audit log
    check_texts(approved_by=(approved_by, NAME_LENGTH), comment=(comment, COMMENT_LENGTH))
    day = business_date(as_of)
    if day > today_paris():
        raise DeletionRefused(f"{customer_id}: a deletion never runs for a day ahead of today ({day}); nothing was deleted")
    settings = load_run_settings("data-deletion")
    check_window(settings.terms, as_of=day)
    run_id = flow_run_id()
    # this customer's deletion, approved and begun by a run that was stopped before its certificate: finished
    # with that approval, never asked again (its keys count as shredded already)
    for certificate in complete_interrupted(settings, actor=actor(), flow_run_id=run_id, customer_id=customer_id):
        create_markdown_artifact(certificate_markdown(certificate), key="deletion-certificate",
                                 description=f"Deletion certificate of {markdown_literal(customer_id)}")
        print(f"{customer_id}: data deleted, completing the deletion approved by {certificate['approved_by']}")
        undone = deliver(settings, [customer_id])
        if undone:
            raise SweepIncomplete(f"{customer_id}: data deleted and recorded; still to do (the daily sweep tries "
                                  f"again): " + "; ".join(undone))
        return {"customer_id": customer_id, "deleted": True, "certificate": certificate}
    due = check_due(customer_id, day, settings)
    if not due.due:
        if due.unknown:  # a typo in the form: the asker's mistake, refused as every unknown id is
            raise DeletionRefused(f"{customer_id}: {due.why}; nothing was deleted")
        # nothing to delete is no failure, but a run that only said "Completed" hid it: the state says why
        print(f"{customer_id}: not deleted: {due.why}")
        return Completed(message=f"{customer_id}: not deleted: {due.why}",
                         data={"customer_id": customer_id, "deleted": False, "why": due.why})
    plan = plan_purge(customer_id, settings.platform, settings.storage)
    create_markdown_artifact(plan.markdown(f"Deletion of {customer_id}: what will be deleted"), key="deletion-plan",
                             description=f"What deleting {markdown_literal(customer_id)} removes")
    if approved_by:
        approval = {"reviewer": approved_by, "comment": comment}
    else:
        decision = answered(pause_key("delete", customer_id))  # this run resumed with the answer
        if decision is None:
            mark_awaiting(customer_id, run_id, actor())
            print(f"waiting for approval to delete {customer_id}'s data: {run_url(run_id)}")
            try:
                decision = wait_for_decision(approval_form(due, plan, customer_id),
                                             key=pause_key("delete", customer_id), timeout_hours=approval_timeout_hours)
            except FlowPauseTimeout as error:
                raise DeletionRefused(f"{customer_id}: no approval in time; nothing was deleted") from error
        print(decided(decision, f"the deletion of {customer_id}'s data"))
        if not decision.approve:
            refuse(customer_id, decision.reviewer, decision.comment, actor=actor(), flow_run_id=run_id)
            raise DeletionRefused(f"{customer_id}: deletion refused by {decision.reviewer} ({decision.comment}); "
                                  f"nothing was deleted")
        approval = {"reviewer": decision.reviewer, "comment": decision.comment}
    certificate = execute(customer_id, day, settings, approval, actor=actor(), flow_run_id=run_id)
    create_markdown_artifact(certificate_markdown(certificate), key="deletion-certificate",
                             description=f"Deletion certificate of {markdown_literal(customer_id)}")
    print(f"{customer_id}: data deleted, approved by {approval['reviewer']}")
    undone = deliver(settings, [customer_id])
    if undone:  # the deletion is done and recorded; its notice or switch waits for the next sweep
        raise SweepIncomplete(f"{customer_id}: data deleted and recorded; still to do (the daily sweep tries "
                              f"again): " + "; ".join(undone))
    return {"customer_id": customer_id, "deleted": True, "certificate": certificate}
