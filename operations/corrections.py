"""Corrections: a credit note on an issued invoice, a refund of a customer's credit.

An issued invoice never changes; finance corrects it with a credit note, which the customer receives
like an invoice (a Factur-X PDF, type 381, by mail: the caller issues its document). A customer who paid
twice is refunded (seed 003: "if you pay accidentally twice, we will refund your extra payment"): the
refund is recorded with the bank's reference, and never exceeds what the vendor owes.

One module for both: they share their refusal (CorrectionNotMade), how an amount typed by a person is read,
and the ledger's side of moving a customer's money (ledger/credits.py: settling, the credit, the numbered
note), which the imports of credit notes and refunds use too, row by row, in their own transaction. Each
public function here is the whole of one command, in its own transaction, and returns the ledger's result
(CreditNoteResult, RefundResult: their `summary()` is what the run returns).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import ClassVar

from ledger.credits import CreditNoteResult, RefundResult
from ledger.credits import issue_credit_note as issue_in
from ledger.credits import record_refund as record_in
from ledger.db import session_scope
from operations.results import RunResult
from policy.calendar import today_paris
from policy.corrections import CorrectionRefused
from policy.ids import id_problem
from policy.money import parse_amount
from policy.refusals import Refusal
from policy.terms import Terms
from policy.text import quoted


class CorrectionNotMade(Refusal):
    """The correction was refused as asked; nothing was written."""


def amount_of(text: str, what: str) -> Decimal:
    """An amount in EUR as a person typed it (`120.00`, `120,00`), or a refusal naming the option."""
    try:
        return parse_amount(text)
    except (ValueError, InvalidOperation) as error:
        raise CorrectionNotMade(f"{what}: {error}") from None  # the error quotes the text, cut short


def issue_credit_note(invoice: str, reason: str, requested_by: str, *, amount_ttc: str | None = None,
                      lines: list[int] | None = None, again: bool = False, wanted_on: date | None = None,
                      invoice_language: str = Terms().invoice_language, request: str | None = None, actor: str,
                      flow_run_id: str | None) -> CreditNoteResult:
    """Credit the issued invoice `invoice` (a number, or an imported invoice's id) by whole `lines` or an
    `amount_ttc`: the note is numbered and settled (off the invoice's balance, the rest the customer's credit).
    `request` keys it (default the run, so the same run never issues two); the same request asked again
    returns the note it issued, `created` False."""
    amount = amount_of(amount_ttc, "--amount") if amount_ttc not in (None, "") else None
    try:
        with session_scope(write=True) as session:
            return issue_in(session, invoice, request=request or flow_run_id or f"cli:{invoice}:{reason}",
                            reason=reason, requested_by=requested_by, positions=lines or None, amount=amount,
                            wanted_on=wanted_on, again=again, invoice_language=invoice_language, actor=actor,
                            flow_run_id=flow_run_id)
    except CorrectionRefused as refused:
        raise CorrectionNotMade(f"credit note on {invoice}: {refused}") from None


def record_refund(customer_id: str, amount: str, reference: str, refunded_on: date | None = None, *, actor: str,
                  flow_run_id: str | None) -> RefundResult:
    """Money paid back to a customer out of its credit (never more), on `refunded_on` (default today); the bank
    transfer's `reference` is the refund's id, so recording it twice is harmless."""
    problem = id_problem(reference)
    if problem:
        raise CorrectionNotMade(f"--reference {quoted(reference)}: {problem}")
    value = amount_of(amount, "--amount")
    try:
        with session_scope(write=True) as session:
            return record_in(session, customer_id, value, refund_id=reference, reference=reference,
                             refunded_on=refunded_on or today_paris(), actor=actor, flow_run_id=flow_run_id)
    except CorrectionRefused as refused:
        raise CorrectionNotMade(str(refused)) from None


@dataclass(frozen=True)
class CreditNoted(RunResult):
    """The credit-note run's result (CreditNoteResult.summary, and what the outbox left)."""
    flow: ClassVar[str] = "credit-note"
    number: str
    credits: str
    customer_id: str
    total_ttc: Decimal
    to_invoice: Decimal
    to_credit: Decimal
    balance: Decimal
    created: bool                    # False: the same request had issued it already
    pending: list[str]               # what the outbox left to the next run, one line a reason


@dataclass(frozen=True)
class Refunded(RunResult):
    """The refund run's result (RefundResult.summary)."""
    flow: ClassVar[str] = "refund"
    refund_id: str
    customer_id: str
    amount: Decimal
    credit_left: Decimal
    created: bool
