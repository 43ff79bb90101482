"""Monthly close: on the 1st, reset every customer's support quota and bill the month before.

Seed 000: two hours of free intervention a month, everything beyond billed; seed 001: standby at
50 %, payment-method surcharges. The month's interventions are priced against the quota, one
invoice is drafted per customer, finance may approve the drafts in the UI, and finalising gives
them gapless numbers. A month already closed is never billed twice.
"""

from __future__ import annotations

from typing import Literal

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run

from flows.exports import billable_export
from tasks.approval import Approval, pause_key, run_url
from tasks.monthly_close import discard_task, draft_task, finalise_task, previous_month
from tasks.runtime import actor, business_date, flow_run_id
from tasks.settings import load_run_settings


class CloseRefused(Exception):
    """Finance refused the drafts (or did not answer in time); nothing was kept."""


@flow(name="monthly-close", log_prints=True)
def monthly_close(
    month: str | None = None,
    approve: Literal["auto", "ui"] = "auto",
    approval_timeout_hours: float = 72.0,
) -> dict:
    """Close a month: price its interventions against each customer's quota and issue the invoices.

    Args:
        month: the month to close, YYYY-MM; empty means the month before the run's scheduled day.
        approve: `auto` finalises at once; `ui` pauses for finance to approve the drafts in the UI.
        approval_timeout_hours: how long a `ui` approval may wait before the drafts are discarded.
    """
    day = business_date(None)
    month = month or previous_month(day)
    settings = load_run_settings("monthly-close")
    run_id = flow_run_id()
    drafted = draft_task(month, settings.terms, actor=actor(), flow_run_id=run_id)
    if drafted.status == "already_finalised":
        print(f"{month} was already closed: nothing changed")
        billable_export(month)  # finishes an export a failed run may have missed; unchanged writes nothing
        return _result(drafted)
    create_markdown_artifact(drafted.markdown(f"Draft invoices for {month}"), key="monthly-close-drafts",
                             description=f"Drafts of the {month} close, before approval")

    approval = None
    if approve == "ui":
        print(f"waiting for finance to approve the {len(drafted.invoices)} draft invoice(s) of {month}: "
              f"{run_url(run_id)}")
        try:
            decision = pause_flow_run(wait_for_input=Approval, timeout=int(approval_timeout_hours * 3600),
                                      key=pause_key("approve", month))
        except FlowPauseTimeout as error:  # nobody answered in time: keep nothing
            discard_task(month, why=f"no approval: {error}", actor=actor(), flow_run_id=run_id)
            raise CloseRefused(f"{month}: no approval in time; the drafts were discarded") from error
        if not decision.approve:
            discard_task(month, why=f"refused by {decision.reviewer}: {decision.comment}", actor=actor(),
                         flow_run_id=run_id)
            raise CloseRefused(f"{month}: refused by {decision.reviewer or 'finance'}"
                               + (f" ({decision.comment})" if decision.comment else "") + "; nothing was issued")
        print(f"approved by {decision.reviewer}" + (f": {decision.comment}" if decision.comment else ""))
        approval = {"reviewer": decision.reviewer, "comment": decision.comment}

    closed = finalise_task(month, day, settings.terms, actor=actor(), flow_run_id=run_id, approval=approval)
    create_markdown_artifact(closed.markdown(f"Monthly close {month}"), key="monthly-close",
                             description=f"The {month} close")
    create_table_artifact(
        [{"number": item.number, "customer": item.customer_id, "name": item.name, "total_ht": str(item.total_ht),
          "total_vat": str(item.total_vat), "total_ttc": str(item.total_ttc),
          "due_on": item.due_on.isoformat() if item.due_on else None} for item in closed.invoices],
        key="monthly-close-invoices", description=f"Invoices issued for {month}")
    print(f"{month}: {len(closed.invoices)} invoice(s), {closed.total_ttc} EUR TTC, issued {closed.issued_on}")
    billable_export(month)
    return _result(closed)


def _result(report) -> dict:
    return {"month": report.month, "status": report.status, "invoices": len(report.invoices),
            "total_ht": str(report.total_ht), "total_vat": str(report.total_vat), "total_ttc": str(report.total_ttc),
            "issued_on": report.issued_on.isoformat() if report.issued_on else None}
