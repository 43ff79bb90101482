"""Standby: a customer's platform put to sleep for at most three months at half price (seed 001).

`request_standby` is the on-demand form ops fill in; `standby_expiry` is the daily sweep that
starts the periods whose day has come and ends those that are over, with a notice before the end.
"""

from __future__ import annotations

from lifecycle_config.conditions import Reported
from datetime import date
from typing import Optional

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from policy.calendar import future_day_problem, today_paris
from policy.standby import StandbyReason
from tasks.runtime import (check_ids, NAME_LENGTH, Refusal, actor, business_date, check_date, check_texts, check_window,
                           flow_run_id, refusals_fail_quietly)
from tasks.settings import load_run_settings
from operations.standby import StandbyAsked, StandbySwept
from tasks.standby import request_task, sweep_standby_task
from tasks.dispatch import deliver
from tasks.invoice_documents import finish_documents


class StandbyRefused(Refusal):
    """The request breaks a rule; the message lists every reason."""


class SweepIncomplete(Reported):
    """Some periods could not be switched; they are tried again on the next run."""


@flow(name="standby-request", log_prints=True, persist_result=True, result_serializer="json")
@refusals_fail_quietly
def request_standby(
    customer_id: str,
    reason: StandbyReason,
    start_on: Optional[date] = None,
    end_on: Optional[date] = None,
    requested_by: str = "ops",
) -> dict:
    """Put a customer's platform on standby: operations off, admin and platform stay on, licence at 50 %.

    Args:
        customer_id: the customer (its id in the ledger and the platform's tenant id).
        reason: temporary_inactivity, awaiting_approval or third_party_integration (seed 001).
        start_on: first day of standby; empty means today. A future day is started by the daily sweep.
        end_on: the day full service resumes; empty means start + 3 months, the longest allowed.
        requested_by: who asked, for the audit trail.
    """
    check_ids(customer_id=customer_id)  # as the CLI's options
    check_texts(requested_by=(requested_by, NAME_LENGTH))  # as --requested-by: it goes into the audit log
    day = business_date(None)
    settings = load_run_settings("standby-request")
    check_window(settings.terms, start_on=start_on, end_on=end_on)  # as --start-on and --end-on
    finish_documents(settings, actor=actor(), flow_run_id=flow_run_id())  # documents earlier runs left unsent
    outcome = request_task(customer_id, StandbyReason(reason).value, start_on, end_on, requested_by, day, settings,
                           actor=actor(), flow_run_id=flow_run_id())
    create_markdown_artifact(outcome.markdown(), key="standby-request", description="What the standby request did")
    if not outcome.accepted:
        raise StandbyRefused(f"standby refused for {customer_id}: " + "; ".join(outcome.reasons))
    undone = deliver(settings, [customer_id])
    if undone:
        raise SweepIncomplete(f"standby of {customer_id} recorded; not all of it reached the platform or the "
                              f"customer yet (the daily sweep tries again): " + "; ".join(undone))
    print(f"standby for {customer_id}: {outcome.start_on} to {outcome.end_on}, started={outcome.started}")
    return StandbyAsked(customer_id, outcome.start_on, outcome.end_on, outcome.started).summary()


@flow(name="standby-expiry", log_prints=True, persist_result=True, result_serializer="json")
@refusals_fail_quietly
def standby_expiry(as_of: Optional[date] = None, force_reason: Optional[str] = None) -> dict:
    """The daily standby sweep: start the periods whose start day has come, warn 14 days before the end,
    and switch platforms back to full service when their standby is over. Running it twice for the
    same day changes nothing the second time.

    Args:
        as_of: the business day; empty means the Paris date of the run's scheduled time.
        force_reason: sweep a day after today anyway, and say why (kept in the audit log).
    """
    day = business_date(as_of)
    settings = load_run_settings("standby-expiry")
    check_window(settings.terms, as_of=day)  # forced or not, as --as-of
    check_date(future_day_problem(day, today_paris(), "the standby day"), force_reason=force_reason,
               what="standby-expiry")
    # documents earlier runs left unrendered; their mails go with the outbox below
    leftovers = finish_documents(settings, actor=actor(), flow_run_id=flow_run_id(), deliver_now=False)
    report = sweep_standby_task(day, settings, actor=actor(), flow_run_id=flow_run_id())
    report.failed += deliver(settings)
    leftovers.conclude()
    create_markdown_artifact(report.markdown(), key="standby-expiry", description=f"Standby sweep for {day}")
    print(f"{day}: {len(report.started)} started, {len(report.ended)} ended, {len(report.noticed)} warned, "
          f"{len(report.failed)} failed")
    if report.failed:
        raise SweepIncomplete("; ".join(report.failed))
    return StandbySwept(day, report.started, report.ended, report.noticed).summary()
