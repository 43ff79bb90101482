"""The e-invoicing run, every quarter of an hour in working hours: documents of French business customers
deposited on the vendor's approved platform, their statuses read and acted on, the statuses the vendor owes sent.

Without a platform set (the e-invoicing block's base_url, or LIFECYCLE_EINVOICING_URL) it says so and ends: the
documents are mailed. A rejection, a refusal by the buyer or a dispute is news for ops and finance (alerted, and
listed in the run's artifact), never a failed run.
"""

from __future__ import annotations

from datetime import date
from typing import Optional

from prefect import flow
from prefect.artifacts import create_table_artifact

from operations import einvoicing_documents as documents
from operations.einvoicing_documents import NOT_SET, EinvoicingDone, attention_rows
from tasks.einvoicing import apply_effects_task, deposit_documents_task, poll_statuses_task, send_cashed_task
from tasks.runtime import actor, business_date, check_ids, check_window, flow_run_id, refusals_fail_quietly
from tasks.settings import load_run_settings
from policy.text import markdown_cells


@flow(name="e-invoicing", log_prints=True, persist_result=True, result_serializer="json")
@refusals_fail_quietly
def einvoicing(as_of: Optional[date] = None, redeposit: Optional[str] = None) -> dict:
    """Deposit the issued documents not deposited yet, read their statuses and act on them (alerts, arrears held),
    send the 212 Encaissée statuses owed, and list what needs someone.

    Args:
        as_of: the business day the run works for (YYYY-MM-DD); empty means today in Paris.
        redeposit: the number of a rejected document to deposit again, rendered from the corrected data.
    """
    check_ids(redeposit=redeposit)  # as the CLI's --redeposit
    day = business_date(as_of)
    settings = load_run_settings("e-invoicing")
    check_window(settings.terms, as_of=day)
    if not settings.einvoicing.configured():
        if redeposit:  # asked for and not done: a refusal, never a run that ends well
            raise documents.RedepositRefused(f"--redeposit {redeposit}: {NOT_SET}, nothing was deposited again")
        print(NOT_SET)
        return EinvoicingDone(day, configured=False).summary()
    # a corrected document first: refused in one line (its status does not allow it) before anything is done;
    # called, not a task run: a refusal is the run's one line (a task run's would add Prefect's own)
    again = documents.redeposit(settings, redeposit, actor=actor(), flow_run_id=flow_run_id()) if redeposit else None
    deposited = deposit_documents_task(settings, actor=actor(), flow_run_id=flow_run_id())
    read = poll_statuses_task(settings, actor=actor(), flow_run_id=flow_run_id())
    applied = apply_effects_task(settings, actor=actor(), flow_run_id=flow_run_id())  # alerts ops on a rejection
    cashed = send_cashed_task(settings, actor=actor(), flow_run_id=flow_run_id())
    rows = attention_rows()
    create_table_artifact(markdown_cells(rows) or [{"number": None, "status": "nothing waits"}], key="e-invoicing",
                          description=f"E-invoicing on {day}: documents not deposited yet, deposits refused, "
                                      f"rejected (213), refused by the buyer (210), in dispute (207)")
    done = EinvoicingDone(day, True, deposited=deposited.deposited + deposited.already, waiting=deposited.waiting + [
                              f"{left}: not tried, the platform did not answer" for left in deposited.left],
                          refused=deposited.refused,
                          redeposited=f"{again.tracking_id}: {again.state}" if again else None,
                          statuses=read.line(), effects=applied.line(), cashed=cashed.line(), attention=rows)
    print(done.line())
    return done.summary()
