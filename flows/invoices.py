"""Sending the invoices again: a customer lost the mail, or its address changed.

The documents are the ones the close stored (never rendered again); each sending is a mail of its
own in the outbox, so the ledger knows how many times and to whom an invoice went.
"""

from __future__ import annotations

from typing import Optional

from prefect import flow
from prefect.artifacts import create_table_artifact

from tasks.dispatch import deliver
from tasks.invoice_documents import documents_table, finish_documents, issue_documents_task, resend
from tasks.runtime import Refusal, actor, check_month_window, flow_run_id, refusals_fail_quietly
from tasks.settings import load_run_settings
from policy.calendar import parse_month


class NothingToSend(Refusal):
    """No issued invoice matches."""


@flow(name="send-invoices", log_prints=True, persist_result=True, result_serializer="json")
@refusals_fail_quietly
def send_invoices(month: str, customer_id: Optional[str] = None, new_only: bool = False) -> dict:
    """Mail the invoices of a month again (of one customer), each with its stored Factur-X PDF.

    Args:
        month: the month billed, YYYY-MM (a credit note's: the month it was issued).
        customer_id: only this customer's invoices.
        new_only: only the documents never sent (credit notes just imported): render, store and mail them once.
    """
    try:
        parse_month(month)
    except ValueError as error:
        raise NothingToSend(f"--month: {error}") from None
    settings = load_run_settings("send-invoices")
    check_month_window(settings.terms, month)  # as --month
    # an invoice whose document a failed close never stored, or issued before documents existed, gets it now
    issued = issue_documents_task(settings.seller, settings.terms, settings.storage, month=month,
                                  customer_id=customer_id, include_earlier=not new_only, actor=actor(),
                                  flow_run_id=flow_run_id())
    sent = [] if new_only else resend(settings.seller, settings.terms, month=month, customer_id=customer_id,
                                      actor=actor(), flow_run_id=flow_run_id(), skip=set(issued.mails))
    sent = sorted(sent + issued.mails)
    # then those of any other month that earlier runs left unrendered or unsent (this month's are done above)
    leftovers = finish_documents(settings, actor=actor(), flow_run_id=flow_run_id(), skip=set(sent),
                                 deliver_now=not sent)  # else their mails go with this run's, below
    if not sent and new_only:
        print(f"{month}: no document waits to be sent")
        return {"month": month, "sent": [], "waiting": [], "pending": []}
    if not sent:
        raise NothingToSend(f"no issued invoice for {month}" + (f" and customer {customer_id}" if customer_id else ""))
    undone = deliver(settings)
    leftovers.conclude()
    rows = documents_table(settings.storage, sent)
    create_table_artifact(rows, key="send-invoices", description=f"Invoices of {month} mailed again")
    # what the mail server took is sent; a mail it did not take (down, a refused recipient) waits in the
    # ledger for the next run: said as such, never as sent
    went = [row["number"] for row in rows if row["mail"] == "sent"]
    waiting = [row["number"] for row in rows if row["mail"] != "sent"]
    print(f"{month}: {len(went)} invoice(s) sent" + ("" if new_only else " again") + (f" to {customer_id}" if customer_id else "")
          + (f"; {len(waiting)} not sent yet, pending: {', '.join(waiting)}" if waiting else "")
          + (f"; {'; '.join(undone)}" if undone else ""))
    return {"month": month, "sent": went, "waiting": waiting, "pending": undone}
