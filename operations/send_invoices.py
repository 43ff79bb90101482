"""Sending the invoices again: a customer lost the mail, or its address changed.

The documents are the ones the close stored (never rendered again); each sending is a mail of its own in
the outbox, so the ledger knows how many times and to whom an invoice went. A document a failed close never
stored, or one issued before documents existed, is rendered first; those of other months that earlier runs
left unrendered or unsent are finished on the way. What the mail server took is sent; a mail it did not take
(down, a refused recipient) waits in the ledger for the next run, said as such, never as sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from operations import dispatch, invoice_documents
from operations.results import RunResult
from policy.calendar import parse_month
from policy.refusals import Refusal
from policy.vocabulary import NoticeStatus


class NothingToSend(Refusal):
    """No issued invoice matches."""


@dataclass(frozen=True)
class SentInvoices(RunResult):
    """The send-invoices run's result."""
    flow: ClassVar[str] = "send-invoices"
    month: str
    sent: list[str]       # numbers the mail server took
    waiting: list[str]    # numbers whose mail waits for the next run
    pending: list[str]    # what the outbox left undone, and the documents held (a rule broken), one line a reason
    through_platform: list[str] = field(default_factory=list)  # not mailed: deposited on the e-invoicing platform
    deposit: str = ""     # what the deposit of those not deposited yet did (operations.einvoicing_documents)


@dataclass(frozen=True)
class Sending:
    """What a run of send-invoices did: its result, and each invoice's document and mail (the run's table)."""
    result: SentInvoices
    rows: list[dict]

    def line(self, customer_id: str | None, new_only: bool) -> str:
        result = self.result
        return (f"{result.month}: {len(result.sent)} invoice(s) sent" + ("" if new_only else " again")
                + (f" to {customer_id}" if customer_id else "")
                + (f"; {len(result.waiting)} not sent yet, pending: {', '.join(result.waiting)}" if result.waiting
                   else "")
                + (f"; {'; '.join(result.pending)}" if result.pending else ""))


def check_month(month: str) -> None:
    """A month that is no YYYY-MM month is refused in one line (before a run loads its settings)."""
    try:
        parse_month(month)
    except ValueError as error:
        raise NothingToSend(f"--month: {error}") from None


def send_invoices(settings, *, month: str, customer_id: str | None = None, new_only: bool = False, actor: str,
                  flow_run_id: str | None = None, issue=invoice_documents.issue_documents,
                  deliver=dispatch.deliver) -> Sending:
    """Mail the invoices of `month` again (of one customer; `new_only`: only the documents never sent, rendered
    and mailed once), with `settings`' seller, terms, storage and outbox. `issue` and `deliver` are the
    operations' own, or in a run their tasks (tasks.invoice_documents, tasks.dispatch)."""
    check_month(month)
    platform = settings.einvoicing
    issued = issue(settings.seller, settings.terms, settings.storage, month=month, customer_id=customer_id,
                   include_earlier=not new_only, actor=actor, flow_run_id=flow_run_id, platform=platform)
    through = list(issued.through_platform)
    sent = [] if new_only else invoice_documents.resend(settings.seller, settings.terms, month=month,
                                                        customer_id=customer_id, actor=actor, flow_run_id=flow_run_id,
                                                        skip=set(issued.mails), platform=platform, deposited=through)
    through = sorted(set(through))
    deposit = _deposit(settings, through, actor=actor, flow_run_id=flow_run_id) if through else ""
    sent = sorted(sent + issued.mails)
    held = [f"not issued, held until corrected: {why}" for why in issued.refused]  # e.g. a French rule, named
    # then those of any other month that earlier runs left unrendered or unsent (this month's are done above)
    tried = set(sent) | {why.split(": ", 1)[0] for why in issued.refused}  # a held one is not tried twice a run
    leftovers = invoice_documents.finish_documents(settings, actor=actor, flow_run_id=flow_run_id, skip=tried,
                                                   deliver_now=not sent,  # else their mails go with this run's
                                                   deliver=deliver)
    if not sent and (new_only or through):
        return Sending(SentInvoices(month, [], [], held, through, deposit), [])
    if not sent and held:
        raise NothingToSend(f"no invoice sent for {month}: " + "; ".join(held))
    if not sent:
        raise NothingToSend(f"no issued invoice for {month}" + (f" and customer {customer_id}" if customer_id else ""))
    undone = deliver(settings)
    leftovers.conclude()
    rows = invoice_documents.documents_table(settings.storage, sent)
    return Sending(SentInvoices(month, sent=[row["number"] for row in rows if row["mail"] == NoticeStatus.SENT],
                                waiting=[row["number"] for row in rows if row["mail"] != NoticeStatus.SENT],
                                pending=undone + held, through_platform=through, deposit=deposit),
                   rows)


def _deposit(settings, numbers: list[str], *, actor: str, flow_run_id: str | None) -> str:
    """Documents that go through the e-invoicing platform are deposited (once: those deposited already are
    left as they are), never mailed; the platform down leaves them for the e-invoicing run, said."""
    from lifecycle_config.conditions import is_world_condition, one_line
    from operations.einvoicing_documents import deposit_documents

    try:
        done = deposit_documents(settings, actor=actor, flow_run_id=flow_run_id, numbers=numbers)
        return "deposited already" if done.nothing_done() else done.line()
    except Exception as error:  # noqa: BLE001 - only the world's conditions wait for the e-invoicing run
        if not is_world_condition(error):
            raise
        return f"not deposited now ({one_line(error)}): the e-invoicing run deposits them"
