"""The life of a deposited document: its statuses read from the platform, and what each one makes the product do.

`poll_statuses` asks the platform for the statuses of every deposited flow still alive and keeps the new ones
(operations.einvoicing.record_statuses: a status is its code at its time, kept once, so a status polled twice,
or pushed to the webhook and polled, is one row). A flow is alive until it reached an end:
- a document (an invoice, a credit note) until 210 Refusée, 212 Encaissée, 213 Rejetée, 220 Annulée,
  221 Erreur de routage or 501 Irrecevable (after those the platform says nothing more of that flow: a rejected
  document lives on in its new deposit `<number>-r<k>`), or until a later deposit of the same document
  superseded it. 207 En litige is no end: a dispute settles into 205 Approuvée, 210 Refusée or 212 Encaissée.
- a flow the vendor sends (a 212 Encaissée status, a period's e-reporting) until the platform said anything past
  200 Déposée (its receipt, or its rejection): what follows does not drive anything here.
A platform that does not answer is said in the result and the flows are read by the next run: never a failure.

`apply_effects` applies each status's effects once (policy.einvoicing.effects_of), whoever kept it (a poll or
the webhook): 213/221/501 alert ops with the platform's reason and the command that deposits the corrected
document again; 210 Refusée and 207 En litige stop the arrears escalation on the invoice as a dispute does (its
status becomes `disputed`, which the sweep skips: policy.balances.NOT_OWED), audited with the status named, and
alert finance. A status is applied under its row's lock and marked handled in the same transaction, after its
alert went out: two runs at once apply it once, and an alert that could not be sent is tried by the next run
(the arrears hold, once made, is not made again).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from blocks.einvoicing import PlatformSilent, PlatformUnreachable
from ledger import audit
from ledger.db import session_scope
from ledger.einvoicing import EinvoiceFlow, EinvoiceStatus
from ledger.models import Invoice
from operations.einvoicing import record_statuses
from policy.calendar import PARIS
from policy.einvoicing import Effect, FlowKind, FlowState, effects_of
from policy.text import control_problem, invisible
from policy.vocabulary import InvoiceKind, InvoiceStatus

#: the statuses after which the platform says nothing more of a document's flow
DOCUMENT_ENDS = frozenset({210, 212, 213, 220, 221, 501})
#: the statuses of a vendor's flow (a 212 it sends, an e-reporting) that say the platform took it or did not
RECEIPT = 200
#: how much of the platform's reason an alert quotes
REASON_CHARACTERS = 500


@dataclass(frozen=True)
class StatusesRead:
    """What `poll_statuses` did: the flows asked about, the statuses new to the ledger (`<tracking id> <code>
    <label>`), and the flows the platform did not answer for (read again by the next run)."""
    flows_read: int = 0
    new: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    not_understood: int = 0        # statuses the platform gave that are no status (left out, never kept)

    def line(self) -> str:
        said = f"{len(self.new)} new status(es) read on {self.flows_read} flow(s)"
        if self.not_understood:
            said += f"; {self.not_understood} status(es) the platform gave were not understood"
        if self.unreachable:
            said += f" ({len(self.unreachable)} not answered: read again by the next run)"
        return said


@dataclass(frozen=True)
class EffectsApplied:
    """What `apply_effects` did: the alerts sent to ops and finance (their subjects), the invoices taken out of
    the arrears escalation, and the alerts that could not be sent (tried again by the next run)."""
    ops_alerts: list[str] = field(default_factory=list)
    finance_alerts: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        said = f"{len(self.ops_alerts) + len(self.finance_alerts)} alert(s) sent"
        if self.held:
            said += f", {len(self.held)} invoice(s) out of the arrears escalation ({', '.join(self.held)})"
        if self.problems:
            said += f"; {len(self.problems)} alert(s) not sent yet: {'; '.join(self.problems)}"
        return said


def _alive(session) -> list[EinvoiceFlow]:
    """The deposited flows whose statuses may still change (see the module's docstring), oldest first."""
    later = aliased(EinvoiceFlow)
    superseded = (select(later.id).where(later.kind == FlowKind.DOCUMENT, later.invoice_id == EinvoiceFlow.invoice_id,
                                         later.deposit > EinvoiceFlow.deposit, later.state == FlowState.DEPOSITED)
                  .exists())
    flows = session.scalars(select(EinvoiceFlow).where(EinvoiceFlow.state == FlowState.DEPOSITED,
                                                       EinvoiceFlow.flow_id.is_not(None), ~superseded)
                            .order_by(EinvoiceFlow.id)).all()
    codes: dict[int, set[int]] = {}
    for flow_pk, code in session.execute(select(EinvoiceStatus.flow_pk, EinvoiceStatus.code)
                                         .where(EinvoiceStatus.flow_pk.in_([flow.id for flow in flows]))
                                         .group_by(EinvoiceStatus.flow_pk, EinvoiceStatus.code)):
        codes.setdefault(flow_pk, set()).add(code)
    return [flow for flow in flows if not ended(flow.kind, codes.get(flow.id, set()))]


def ended(kind: FlowKind, codes: set[int]) -> bool:
    """Whether a flow that has had these statuses is at its end (no need to ask the platform again)."""
    if kind == FlowKind.DOCUMENT:
        return bool(codes & DOCUMENT_ENDS)
    return any(code != RECEIPT for code in codes)


#: flows in a row whose status poll the platform answered with 5xx before a run stops asking about the rest
FAILING_IN_A_ROW = 3


def poll_statuses(settings, *, actor: str, flow_run_id: str | None, engine=None) -> StatusesRead:
    """Read the statuses of every deposited flow still alive and keep the new ones (their effects are applied
    by `apply_effects`). Without a platform set, nothing is read."""
    platform = settings.einvoicing
    if not platform.configured():
        return StatusesRead()
    with session_scope(engine) as session:
        flows = [(flow.id, flow.tracking_id, flow.flow_id) for flow in _alive(session)]
    new, unreachable, not_understood, failing = [], [], 0, 0
    for index, (flow_pk, tracking_id, flow_id) in enumerate(flows):
        try:
            given = platform.statuses(flow_id, tracking_id)
            not_understood += getattr(given, "not_understood", 0)
            statuses = [_shown_label(status) for status in given]
            failing = 0
        except PlatformUnreachable as error:
            unreachable.append(f"{tracking_id}: {error}")
            failing += isinstance(error, PlatformSilent)
            # one request's time-outs per run: the next run reads the rest. A platform that answers 5xx for one
            # flow is asked about the next ones (a broken flow never hid every later document's statuses, run
            # after run), until FAILING_IN_A_ROW flows in a row failed so: then it is down for all of them
            if isinstance(error, PlatformSilent) and (not error.answered or failing >= FAILING_IN_A_ROW):
                left = [tracking for _, tracking, _ in flows[index + 1:]]
                unreachable += [f"{tracking}: not asked, the platform did not answer" for tracking in left]
                break
            continue
        for attempt in range(2):
            try:
                new += _keep(flow_pk, tracking_id, statuses, actor=actor, flow_run_id=flow_run_id, engine=engine)
                break
            except IntegrityError:  # the webhook kept one of them at the same moment: read again what is known
                if attempt:
                    raise
    return StatusesRead(len(flows), new, unreachable, not_understood)


def _shown_label(status):
    """A status whose label (kept for a code XP Z12-012 does not list, and shown by `show invoices`) holds a control
    or invisible character is kept with none: it shows as `status <code>`."""
    if status.label and control_problem(status.label) is not None:
        return replace(status, label=None)
    return status


def _keep(flow_pk: int, tracking_id: str, statuses, *, actor: str, flow_run_id: str | None, engine) -> list[str]:
    with session_scope(engine, write=True) as session:
        flow = session.get(EinvoiceFlow, flow_pk)
        kept = record_statuses(session, flow, statuses)
        if kept:
            audit.record(session, "einvoice_statuses_read", customer_id=flow.customer_id, before=None,
                         after={"tracking_id": tracking_id, "statuses": [status.code for status in kept]},
                         actor=actor, flow_run_id=flow_run_id)
        return [f"{tracking_id} {status.code} {status.label}" for status in kept]


def shown_reason(reason: str | None) -> str:
    """The platform's reason as an alert quotes it: one line, at most REASON_CHARACTERS, every control or
    invisible character written as its code (`\\u202e`), so that a reason never reorders or hides the mail's
    text; 'no reason given' when there is none."""
    if not reason or not reason.strip():
        return "no reason given"
    text = " ".join(reason.split())
    if control_problem(text) is not None:
        text = "".join(f"\\u{ord(char):04x}" if ord(char) < 32 or 0x7F <= ord(char) <= 0x9F or invisible(char)
                       or 0xD800 <= ord(char) <= 0xDFFF else char for char in text)
    return text if len(text) <= REASON_CHARACTERS else text[:REASON_CHARACTERS] + "…"


def _paris(moment: datetime) -> str:
    return moment.astimezone(PARIS).strftime("%Y-%m-%d %H:%M %Z")


def _document_name(invoice: Invoice | None, flow: EinvoiceFlow) -> str:
    if invoice is None:
        return f"flow {flow.tracking_id}"
    word = "credit note" if invoice.kind == InvoiceKind.CREDIT_NOTE else "invoice"
    return f"{word} {invoice.number or invoice.external_id or flow.tracking_id} of customer {invoice.customer_id}"


def _hold(session, invoice: Invoice, status: EinvoiceStatus, *, actor: str, flow_run_id: str | None) -> bool:
    """Take an open invoice out of the arrears escalation as a dispute does; False when it was not open (paid,
    disputed already, written off, void: nothing to stop)."""
    if invoice.status != InvoiceStatus.OPEN or invoice.kind == InvoiceKind.CREDIT_NOTE:
        return False  # a credit note is owed by the vendor: no escalation to stop, and its credit stays counted
    label = invoice.number or invoice.external_id
    audit.record(session, "invoice_status_changed", customer_id=invoice.customer_id, actor=actor,
                 flow_run_id=flow_run_id, before={"invoice": label, "status": invoice.status},
                 after={"invoice": label, "status": InvoiceStatus.DISPUTED,
                        "einvoice_status": f"{status.code} {status.label}", "at": status.at})
    invoice.status = InvoiceStatus.DISPUTED
    return True


def alert_text(flow: EinvoiceFlow, invoice: Invoice | None, status: EinvoiceStatus, effect: Effect,
               held: bool) -> tuple[str, str]:
    """The subject and body of the alert a status gives (ops for a rejection, finance for a refusal or a
    dispute)."""
    name = _document_name(invoice, flow)
    said = f"{status.code} {status.label}"
    reason = shown_reason(status.reason)
    if effect == Effect.ALERT_OPS:
        subject = f"e-invoicing: {name} rejected by the platform ({said})"
        if invoice is not None and flow.kind == FlowKind.DOCUMENT:
            number = invoice.number or invoice.external_id
            body = (f"{name} rejected by the platform ({said}, {_paris(status.at)}): {reason}; correct the data "
                    f"and run `lifecycle run e-invoicing --redeposit {number}`")
        else:
            body = (f"{name} ({flow.kind}) rejected by the platform ({said}, {_paris(status.at)}): {reason}; "
                    f"see with the platform what it expects")
        return subject, body
    what = "refused by the buyer" if status.code == 210 else "in dispute"
    subject = f"e-invoicing: {name} {what} ({said})"
    if invoice is None:
        return subject, f"{name} {what} ({said}, {_paris(status.at)}): {reason}"
    hold = ("its arrears escalation is stopped (status disputed), as for any dispute" if held else
            f"its status stays {invoice.status} (no arrears escalation to stop)")
    if invoice.kind == InvoiceKind.CREDIT_NOTE:
        hold = "a credit note has no arrears escalation: its status stays as it is"
    body = (f"{name} {what} on the e-invoicing platform ({said}, {_paris(status.at)}): {reason}. "
            f"{hold}; settle it with the customer (a credit note, or the invoice's status set back to open "
            f"through the invoices import once resolved)")
    return subject, body


def _unhandled(session) -> list[int]:
    return list(session.scalars(select(EinvoiceStatus.id).where(EinvoiceStatus.handled.is_(False))
                                .order_by(EinvoiceStatus.at, EinvoiceStatus.id)))


def apply_effects(settings, *, actor: str, flow_run_id: str | None, engine=None) -> EffectsApplied:
    """Apply each unhandled status's effects once (see the module's docstring)."""
    notifications = settings.notifications
    result = EffectsApplied()
    with session_scope(engine) as session:
        pending = _unhandled(session)
    for status_id in pending:
        with session_scope(engine, write=True) as session:
            status = session.scalar(select(EinvoiceStatus).where(EinvoiceStatus.id == status_id,
                                                                 EinvoiceStatus.handled.is_(False))
                                    .with_for_update())
            if status is None:  # another run applied it meanwhile
                continue
            flow = session.get(EinvoiceFlow, status.flow_pk)
            invoice = session.get(Invoice, flow.invoice_id) if flow.invoice_id is not None else None
            effects = effects_of(status.code)
            held = False
            if Effect.HOLD_ARREARS in effects and invoice is not None and flow.kind == FlowKind.DOCUMENT:
                held = _hold(session, invoice, status, actor=actor, flow_run_id=flow_run_id)
                if held:
                    result.held.append(f"{invoice.number or invoice.external_id} ({status.code} {status.label})")
            sent = True
            for effect, send, kept in ((Effect.ALERT_OPS, notifications.alert_ops, result.ops_alerts),
                                       (Effect.ALERT_FINANCE, notifications.alert_finance, result.finance_alerts)):
                if effect not in effects:
                    continue
                subject, body = alert_text(flow, invoice, status, effect,
                                           held or (invoice is not None and invoice.status == InvoiceStatus.DISPUTED))
                try:
                    send(subject, body)
                    kept.append(subject)
                except Exception as error:  # noqa: BLE001 - kept unhandled: the next run sends it
                    sent = False
                    result.problems.append(f"{subject}: {type(error).__name__}: {str(error)[:200]}")
            if sent:
                status.handled = True
    return result

