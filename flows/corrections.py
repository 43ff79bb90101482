"""Corrections: a credit note on an issued invoice, a refund of a customer's credit.

An issued invoice never changes; finance corrects it with a credit note, which the customer receives
like an invoice (a Factur-X PDF, type 381, by mail). A customer who paid twice is refunded (seed 003:
"if you pay accidentally twice, we will refund your extra payment"): the refund is recorded with the
bank's reference, and never exceeds what the vendor owes.
"""

from __future__ import annotations

from datetime import date
from typing import Optional

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from lifecycle_config.conditions import Unavailable, is_world_condition, one_line
from lifecycle_config.failpoints import failpoint
from operations.corrections import CreditNoted, Refunded, issue_credit_note as credit_note, record_refund
from tasks.dispatch import deliver
from operations.invoice_documents import documents_table, standing
from tasks.einvoicing import deposit_issued
from tasks.invoice_documents import finish_documents, issue_documents_task
from tasks.runtime import (check_ids, NAME_LENGTH, REASON_LENGTH, actor, check_texts, check_window, flow_run_id,
                           refusals_fail_quietly)
from tasks.settings import load_run_settings
from policy.text import markdown_cells, markdown_literal


@flow(name="credit-note", log_prints=True, persist_result=True, result_serializer="json")
@refusals_fail_quietly
def issue_credit_note(invoice: str, reason: str, requested_by: str, amount_ttc: Optional[str] = None,
                      lines: Optional[list[int]] = None, again: bool = False) -> dict:
    """Credit an issued invoice, partly or wholly: a credit note numbered in the invoice series, mailed with
    its Factur-X PDF; it lowers the invoice's balance, and what was paid beyond becomes the customer's credit.

    Args:
        invoice: the number of the invoice to credit (or an imported invoice's id).
        reason: why (printed on the credit note).
        requested_by: who asks (kept in the audit log).
        amount_ttc: an amount TTC in EUR to credit, e.g. 120.00 (or give `lines`).
        lines: the invoice's lines to credit whole, by position as `show invoices` lists them (or give `amount_ttc`).
        again: issue it although a credit note of this amount and reason is on the invoice already (a second on purpose).
    """
    # as --reason and --requested-by: the reason is printed on the credit note, who asks goes into the audit log
    check_ids(invoice=invoice)  # as the CLI's options
    check_texts(reason=(reason, REASON_LENGTH), requested_by=(requested_by, NAME_LENGTH))
    settings = load_run_settings("credit-note")
    run_id = flow_run_id()
    # what an earlier run left unrendered or unsent (a run killed after its write, storage read-only) first:
    # a credit note asked again then finds its twin finished, and the refusal says so
    finish_documents(settings, actor=actor(), flow_run_id=run_id)
    # called, not a task run: a refusal is the run's one line (a task run's would add Prefect's own)
    made = credit_note(invoice, reason, requested_by, amount_ttc=amount_ttc, lines=lines, again=again,
                       invoice_language=settings.terms.invoice_language, actor=actor(), flow_run_id=run_id)
    print(made.sentence())
    failpoint("credit-note.issued")
    try:
        issued = issue_documents_task(settings.seller, settings.terms, settings.storage, numbers=[made.number],
                                      actor=actor(), flow_run_id=run_id, platform=settings.einvoicing)
    except Exception as error:  # noqa: BLE001 - the world's conditions said with the note's own state
        if not is_world_condition(error):
            raise
        raise Unavailable(f"credit note {made.number} on invoice {made.credits} is issued, but its document could not "
                          f"be stored ({one_line(error)}): {standing(made.number)}") from None
    deposit_issued(settings, issued.through_platform, actor=actor(), flow_run_id=run_id)  # never fails the note
    pending = deliver(settings, [made.customer_id])
    create_table_artifact(markdown_cells(documents_table(settings.storage, [made.number]), links=("document",)),
                          key="credit-note", description=markdown_literal(
                              f"Credit note {made.number} on invoice {made.credits}: {reason}"))
    return CreditNoted(made.number, made.credits, made.customer_id, made.total_ttc, made.to_invoice, made.to_credit,
                       made.balance, made.created, pending).summary()


@flow(name="refund", log_prints=True, persist_result=True, result_serializer="json")
@refusals_fail_quietly
def refund(customer_id: str, amount: str, reference: str, refunded_on: Optional[date] = None) -> dict:
    """Record money paid back to a customer out of its credit (an overpayment, a credit note beyond what was
    left to pay); never more than the credit.

    Args:
        customer_id: whose credit.
        amount: EUR paid back, e.g. 150.00.
        reference: the bank transfer's reference; it is also the refund's id, so recording it twice is harmless.
        refunded_on: the day the money left (default today).
    """
    check_ids(customer_id=customer_id)  # as the CLI's options
    settings = load_run_settings("refund")
    check_window(settings.terms, past_only=True, refunded_on=refunded_on)  # money that left lies no later than today
    done = record_refund(customer_id, amount, reference, refunded_on, actor=actor(), flow_run_id=flow_run_id())
    print(done.sentence())
    create_markdown_artifact(f"# Refund {markdown_literal(done.refund_id)}\n\n- customer: "
                             f"**{markdown_literal(done.customer_id)}**\n- amount: "
                             f"**{done.amount} EUR**\n- credit left: **{done.credit_left} EUR**\n",
                             key="refund",
                             description=markdown_literal(f"Refund {done.refund_id} to {done.customer_id}"))
    return Refunded(done.refund_id, done.customer_id, done.amount, done.credit_left, done.created).summary()
