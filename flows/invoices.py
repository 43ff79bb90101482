"""Sending the invoices again: a customer lost the mail, or its address changed (operations/send_invoices.py).

The documents are the ones the close stored (never rendered again); each sending is a mail of its
own in the outbox, so the ledger knows how many times and to whom an invoice went.
"""

from __future__ import annotations

from typing import Optional

from prefect import flow
from prefect.artifacts import create_table_artifact

from operations import send_invoices as sending
from tasks.dispatch import deliver
from tasks.invoice_documents import issue_documents_task
from tasks.runtime import check_ids, check_month_form, actor, check_month_window, flow_run_id, refusals_fail_quietly
from tasks.settings import load_run_settings
from policy.text import markdown_cells


@flow(name="send-invoices", log_prints=True, persist_result=True, result_serializer="json")
@refusals_fail_quietly
def send_invoices(month: str, customer_id: Optional[str] = None, new_only: bool = False) -> dict:
    """Mail the invoices of a month again (of one customer), each with its stored Factur-X PDF.

    Args:
        month: the month billed, YYYY-MM (a credit note's: the month it was issued).
        customer_id: only this customer's invoices.
        new_only: only the documents never sent (credit notes just imported): render, store and mail them once.
    """
    check_month_form(month)
    check_ids(customer_id=customer_id)  # as the CLI's options
    settings = load_run_settings("send-invoices")
    check_month_window(settings.terms, month)  # as --month
    done = sending.send_invoices(settings, month=month, customer_id=customer_id, new_only=new_only, actor=actor(),
                                 flow_run_id=flow_run_id(), issue=issue_documents_task, deliver=deliver)
    if not done.rows:
        print(f"{month}: no document waits to be sent")
        return done.result.summary()
    create_table_artifact(markdown_cells(done.rows, links=("document",)), key="send-invoices",
                          description=f"Invoices of {month} mailed again")
    print(done.line(customer_id, new_only))
    return done.result.summary()
