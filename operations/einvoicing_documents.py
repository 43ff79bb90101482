"""The documents this product issues, deposited on the vendor's approved e-invoicing platform (PA).

Once the e-invoicing block names a platform, an issued invoice or credit note of a French business customer is
no longer mailed (operations.invoice_documents records no mail for it): it is deposited here, once, through
operations.einvoicing.deposit_once (recorded pending, sent, recorded deposited: a kill in between never deposits
it twice). A document mailed before the platform was set is not deposited behind the customer's back: it was
delivered. The platform down leaves the document pending, said, for the next run; a deposit the platform refuses
is kept with its reason for someone to look at.

A document the platform rejected (213 Rejetée, 221, 501: policy.einvoicing's REDEPOSIT_ALLOWED) is deposited again
with `redeposit` once finance corrected the customer's data: rendered again from the ledger as it is now, stored
next to the original (which is never written over) and deposited under the tracking id `<number>-r<k>`.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Callable, ClassVar, Optional

from sqlalchemy import exists, func, select

from blocks.storage import MissingObject
from ledger import audit, keys
from ledger.db import ledger_engine, one_at_a_time, session_scope
from ledger.einvoicing import EinvoiceFlow, EinvoiceStatus
from ledger.models import Customer, Invoice, Notice
from lifecycle_config.failpoints import failpoint
from operations.einvoicing import Deposited, FlowSpec, deposit_once, recorded, side_by_side
from operations.invoice_documents import RENDERED_KINDS, _document
from operations.results import RunResult
from policy.einvoicing import (ROUTES, BuyerKind, Effect, FlowKind, FlowState, Syntax, effects_of, label_of,
                               needs_attention)
from policy.calendar import PARIS
from policy.refusals import Refusal
from reports.invoice_document import check_facturx, cii_xml, facturx_pdf, ubl_xml

NOT_SET = "no e-invoicing platform is set: documents are mailed"


class ChangedSinceIssued(ValueError):
    """A document asked for in UBL whose ledger data no longer write what its stored PDF says: held, said."""


class RedepositRefused(Refusal):
    """A document that may not be deposited again (its last status does not allow it, no such document...)."""


@dataclass
class DocumentsDeposited:
    """What one pass of `deposit_documents` did: numbers (tracking ids), and "number: why" lines."""
    configured: bool = True
    deposited: list[str] = field(default_factory=list)   # taken by the platform now
    already: list[str] = field(default_factory=list)     # the platform had them (a run killed after sending)
    waiting: list[str] = field(default_factory=list)     # not taken (the network, storage): the next run tries
    refused: list[str] = field(default_factory=list)     # refused by the platform: kept, not tried again
    silent: bool = False                                 # the platform did not answer: the rest are not tried
    left: list[str] = field(default_factory=list)        # not tried, the platform silent: the next run tries

    def nothing_done(self) -> bool:
        return not (self.deposited or self.already or self.waiting or self.refused or self.left)

    def line(self) -> str:
        """What a run (the e-invoicing run, or a close's hook) says of it."""
        if not self.configured:
            return NOT_SET
        said = f"{len(self.deposited) + len(self.already)} document(s) deposited on the e-invoicing platform"
        said += f" ({', '.join(self.deposited + self.already)})" if self.deposited or self.already else ""
        if self.waiting:
            said += f"; {len(self.waiting)} pending, deposited by the next run: {'; '.join(self.waiting)}"
        if self.refused:
            said += f"; {len(self.refused)} refused by the platform: {'; '.join(self.refused)}"
        if self.left:
            said += f"; the platform did not answer: {len(self.left)} left pending for the next run"
        return said


def _syntax(settings) -> Syntax:
    return Syntax(settings.einvoicing.format)


def _content(settings, invoice_id: int, key: str, syntax: Syntax, engine=None, store=None) -> Callable[[], bytes]:
    """The file deposited, read when it is sent: the stored Factur-X PDF as it is, the CII XML it embeds, or the
    UBL of the same document. `store`: one made for the whole run (deposits side by side share it: an S3 client
    is safe to share between threads, while boto3's default session that would make one per deposit is not)."""

    def read() -> bytes:
        with (store or settings.storage.store()).open(key) as handle:
            pdf = handle.read()
        if syntax == Syntax.FACTUR_X:
            return pdf
        cii = check_facturx(pdf)
        return cii if syntax == Syntax.CII else _ubl(settings, invoice_id, cii, engine)

    return read


class _RunStore:
    """The run's object store, made once when the first deposit reads its document (a store that cannot be made
    fails that deposit as it did alone, and the next one tries again), then shared by the deposits side by side."""

    def __init__(self, settings):
        self.settings, self.store, self.lock = settings, None, threading.Lock()

    def open(self, key: str):
        with self.lock:
            if self.store is None:
                self.store = self.settings.storage.store()
        return self.store.open(key)


def _ubl(settings, invoice_id: int, stored_cii: bytes, engine=None) -> bytes:
    """The UBL of the document as it was stored. UBL is written from the ledger's document (the same figures as the
    stored PDF's CII), so it is given only when that document still writes the very CII the stored PDF carries:
    the UBL then says what the issued document says. A document whose data changed since it was stored is held
    (`ChangedSinceIssued`, said as the deposit's reason) rather than deposited saying something else."""
    with session_scope(engine) as session:
        doc = _document(session, session.get(Invoice, invoice_id), settings.seller, settings.terms)
    if cii_xml(doc) != stored_cii:
        raise ChangedSinceIssued("held: its data (customer, seller or terms) changed since it was issued, so its "
                                 "UBL would not say what the issued document says: deposit it as Factur-X or CII "
                                 "(the e-invoicing block's format)")
    return ubl_xml(doc)


def _file_name(key: str, syntax: Syntax) -> str:
    name = key.rsplit("/", 1)[-1]
    return name if syntax == Syntax.FACTUR_X else name.removesuffix(".pdf") + ".xml"


def _spec(invoice: Invoice, customer: Customer, key: str, syntax: Syntax, settings, deposit: int = 0,
          engine=None, store=None) -> FlowSpec:
    return FlowSpec(tracking_id=keys.einvoice_document(invoice.number, deposit), kind=FlowKind.DOCUMENT,
                    syntax=syntax, rule=ROUTES[BuyerKind(customer.buyer_kind)], name=_file_name(key, syntax),
                    content=_content(settings, invoice.id, key, syntax, engine, store), invoice_id=invoice.id,
                    customer_id=customer.customer_id, deposit=deposit)


def _first_deposit_settled(invoice_id):
    """The document's first deposit was taken or refused (a pending one is still to send)."""
    return exists().where(EinvoiceFlow.invoice_id == invoice_id, EinvoiceFlow.kind == FlowKind.DOCUMENT,
                          EinvoiceFlow.deposit == 0, EinvoiceFlow.state != FlowState.PENDING)


def _to_deposit(session, numbers: list[str] | None) -> list[Invoice]:
    """Issued documents of customers whose documents go through the platform, stored, never mailed (a document
    mailed before the platform was set was delivered), whose first deposit is not settled yet."""
    query = (select(Invoice).join(Customer, Customer.customer_id == Invoice.customer_id)
             .where(Invoice.number.is_not(None), Invoice.kind.in_(RENDERED_KINDS),
                    Invoice.document_key.is_not(None), Invoice.document_key != "",
                    Customer.buyer_kind == BuyerKind.FR_BUSINESS,
                    ~exists().where(Notice.invoice_id == Invoice.id), ~_first_deposit_settled(Invoice.id))
             .order_by(Invoice.number))
    if numbers is not None:
        query = query.where(Invoice.number.in_(numbers))
    return list(session.scalars(query))


def _pending_redeposits(session, numbers: list[str] | None) -> list[tuple[Invoice, int]]:
    """New deposits a run recorded and did not finish (a kill, the network): (invoice, k)."""
    query = (select(Invoice, EinvoiceFlow.deposit).join(EinvoiceFlow, EinvoiceFlow.invoice_id == Invoice.id)
             .where(EinvoiceFlow.kind == FlowKind.DOCUMENT, EinvoiceFlow.deposit > 0,
                    EinvoiceFlow.state == FlowState.PENDING).order_by(Invoice.number, EinvoiceFlow.deposit))
    if numbers is not None:
        query = query.where(Invoice.number.in_(numbers))
    return [(invoice, deposit) for invoice, deposit in session.execute(query)]


def _deposit_one(settings, spec: FlowSpec, result: DocumentsDeposited, *, actor: str, flow_run_id: str | None,
                 engine=None) -> None:
    from lifecycle_config.conditions import is_world_condition, one_line

    try:
        done = deposit_once(settings.einvoicing, spec, actor=actor, flow_run_id=flow_run_id, engine=engine)
    except ChangedSinceIssued as error:
        result.waiting.append(f"{spec.tracking_id}: {error}")
        return
    except (MissingObject, ValueError) as error:  # its stored file gone or no Factur-X: said, tried again
        result.waiting.append(f"{spec.tracking_id}: its stored document cannot be read ({one_line(error)})")
        return
    except Exception as error:  # noqa: BLE001 - storage down: the world's conditions wait for the next run
        if not is_world_condition(error):
            raise
        result.waiting.append(f"{spec.tracking_id}: {one_line(error)}")
        return
    _tell(done, result)


def _tell(done: Deposited, result: DocumentsDeposited) -> None:
    if done.state == FlowState.DEPOSITED:
        (result.already if done.already else result.deposited).append(done.tracking_id)
    elif done.state == FlowState.REFUSED:
        if not done.already:  # refused before: in the artifact, not said again by each run
            result.refused.append(f"{done.tracking_id}: {done.reason}")
    else:
        result.waiting.append(f"{done.tracking_id}: {done.reason or 'not sent yet'}")
        result.silent = result.silent or done.silent


def deposit_documents(settings, *, actor: str, flow_run_id: str | None, numbers: list[str] | None = None,
                      engine=None) -> DocumentsDeposited:
    """Deposit every issued document (of these `numbers`) that goes through the platform and is not deposited
    yet, and finish the new deposits an earlier run left pending. Nothing without a platform set.

    The documents go the e-invoicing block's `parallel_deposits` at a time (operations.einvoicing.side_by_side),
    said in the documents' order as when they went one after the other; once the platform did not answer, the
    documents not started yet are left for the next run (a run waits one request's time-outs, not one per
    document)."""
    if not settings.einvoicing.configured():
        return DocumentsDeposited(configured=False)
    engine = engine or ledger_engine()   # one engine for every thread, not one looked up in each
    store = _RunStore(settings)          # and one store
    syntax = _syntax(settings)
    with session_scope(engine) as session:
        specs = [_spec(invoice, session.get(Customer, invoice.customer_id), invoice.document_key, syntax, settings,
                       engine=engine, store=store) for invoice in _to_deposit(session, numbers)]
        specs += [_spec(invoice, session.get(Customer, invoice.customer_id),
                        keys.invoice_document_redeposit(invoice.number, invoice.issued_on, deposit), syntax, settings,
                        deposit, engine, store) for invoice, deposit in _pending_redeposits(session, numbers)]

    def one(spec: FlowSpec) -> DocumentsDeposited:
        own = DocumentsDeposited()
        _deposit_one(settings, spec, own, actor=actor, flow_run_id=flow_run_id, engine=engine)
        return own

    result = DocumentsDeposited()
    outcomes = side_by_side(one, specs, settings.einvoicing.parallel_deposits, halts=lambda own: own.silent)
    for spec, own in zip(specs, outcomes):
        if own is None:  # not started: the platform did not answer another document
            result.left.append(spec.tracking_id)
            continue
        result.deposited += own.deposited
        result.already += own.already
        result.waiting += own.waiting
        result.refused += own.refused
        result.silent = result.silent or own.silent
    return result


# --- a rejected document, corrected and deposited again ---------------------------------------------------

def _latest_flow(session, invoice_id: int) -> EinvoiceFlow | None:
    return session.scalar(select(EinvoiceFlow).where(EinvoiceFlow.invoice_id == invoice_id,
                                                     EinvoiceFlow.kind == FlowKind.DOCUMENT)
                          .order_by(EinvoiceFlow.deposit.desc()).limit(1))


def _last_status(session, flow: EinvoiceFlow) -> EinvoiceStatus | None:
    return session.scalar(select(EinvoiceStatus).where(EinvoiceStatus.flow_pk == flow.id)
                          .order_by(EinvoiceStatus.at.desc(), EinvoiceStatus.id.desc()).limit(1))


def _why_not_again(flow: EinvoiceFlow | None, status: EinvoiceStatus | None, number: str) -> str | None:
    """Why `number` may not be deposited again (None: it may): only a document whose latest deposit the platform
    rejected (213 Rejetée, 221, 501) or refused outright."""
    if flow is None:
        return f"invoice {number} was never deposited on the e-invoicing platform: the e-invoicing run deposits it"
    tracking = flow.tracking_id
    if flow.state == FlowState.REFUSED:
        return None
    if flow.state == FlowState.PENDING:
        return f"{tracking} is not deposited yet (pending): the e-invoicing run deposits it"
    if status is None:
        return f"{tracking} is deposited and has no status yet: only a rejected document (213, 221, 501) is " \
               f"deposited again"
    if Effect.REDEPOSIT_ALLOWED in effects_of(status.code):
        return None
    return f"{tracking}'s last status is {status.code} {status.label}: only a rejected document (213, 221, 501) " \
           f"is deposited again"


def redeposit(settings, number: str, *, actor: str, flow_run_id: str | None, engine=None) -> Deposited:
    """Deposit the document `number` again after its rejection: rendered from the ledger's current data (finance
    corrected them), stored as `<number>-r<k>.pdf` beside the original, deposited as `<number>-r<k>`, audited.
    Refused in one line when no platform is set or its last status does not allow it."""
    if not settings.einvoicing.configured():
        raise RedepositRefused(f"--redeposit {number}: {NOT_SET}")
    syntax = _syntax(settings)
    with session_scope(engine) as session:
        invoice = session.scalar(select(Invoice).where(Invoice.number == number, Invoice.kind.in_(RENDERED_KINDS)))
        if invoice is None:
            raise RedepositRefused(f"--redeposit {number}: no document issued under this number")
        flow = _latest_flow(session, invoice.id)
        problem = _why_not_again(flow, _last_status(session, flow) if flow else None, number)
        if problem:
            raise RedepositRefused(f"--redeposit {number}: {problem}")
        deposit = flow.deposit + 1
        customer = session.get(Customer, invoice.customer_id)
        pdf = facturx_pdf(_document(session, invoice, settings.seller, settings.terms))
    key = keys.invoice_document_redeposit(number, invoice.issued_on, deposit)
    store = settings.storage.store()
    store.claim()  # another installation's store: refused before its document at this key is taken as ours
    try:
        store.open(key).close()  # an earlier run killed after storing it: the same render, kept
    except MissingObject:
        store.put_stream(key, io.BytesIO(pdf))
    spec = _spec(invoice, customer, key, syntax, settings, deposit, engine)
    failpoint("einvoicing.redeposit-stored")
    with session_scope(engine, write=True) as session:
        # the new deposit is claimed and audited in one transaction, one claim at a time per document: two
        # redeposits asked together both saw the rejected deposit, both audited, and the platform got one deposit
        # (one tracking id) behind two audit lines; the second now finds deposit k claimed, and its audit line
        one_at_a_time(session, f"einvoice-redeposit:{number}")
        if (_latest_flow(session, invoice.id).deposit or 0) < deposit:
            recorded(session, spec, flow_run_id)
            audit.record(session, "einvoice_redeposit", customer_id=customer.customer_id, before=None,
                         after={"number": number, "tracking_id": spec.tracking_id, "document": key,
                                "previous": flow.tracking_id}, actor=actor, flow_run_id=flow_run_id)
    return deposit_once(settings.einvoicing, spec, actor=actor, flow_run_id=flow_run_id, engine=engine)


# --- what ops see ---------------------------------------------------------------------------------------------

def attention_rows(*, engine=None) -> list[dict]:
    """The run's artifact: documents not deposited yet, deposits refused, and documents whose last status needs
    someone (213 Rejetée, 210 Refusée, 207 En litige...), each with number, customer, status, since, reason."""
    rows: list[dict] = []
    with session_scope(engine) as session:
        for invoice in _to_deposit(session, None):
            pending = session.scalar(select(EinvoiceFlow).where(EinvoiceFlow.invoice_id == invoice.id,
                                                                 EinvoiceFlow.deposit == 0))
            rows.append(_row(invoice.number, invoice.customer_id, "not deposited yet",
                             pending.created_at if pending else invoice.issued_on,
                             f"{pending.attempts} attempt(s)" if pending else None))
        for flow in session.scalars(select(EinvoiceFlow).where(EinvoiceFlow.kind == FlowKind.DOCUMENT,
                                                               EinvoiceFlow.state == FlowState.REFUSED)
                                    .order_by(EinvoiceFlow.tracking_id)):
            if flow.deposit == _latest_deposit(session, flow.invoice_id):
                rows.append(_row(flow.tracking_id, flow.customer_id, "deposit refused", flow.created_at, flow.reason))
        for flow in _latest_deposits(session):
            status = _last_status(session, flow)   # a document deposited again is judged by its new deposit
            if status is not None and needs_attention(status.code):
                said = f"{status.code} {label_of(status.code, status.label)}"
                rows.append(_row(flow.tracking_id, flow.customer_id, said, status.at, status.reason))
    return rows


def _latest_deposits(session) -> list[EinvoiceFlow]:
    """Each document's latest deposit, taken by the platform (its first, or its latest new deposit)."""
    flows = session.scalars(select(EinvoiceFlow).where(EinvoiceFlow.kind == FlowKind.DOCUMENT,
                                                       EinvoiceFlow.invoice_id.is_not(None))
                            .order_by(EinvoiceFlow.invoice_id, EinvoiceFlow.deposit))
    latest: dict[int, EinvoiceFlow] = {}
    for flow in flows:
        latest[flow.invoice_id] = flow
    return [flow for flow in sorted(latest.values(), key=lambda flow: flow.tracking_id)
            if flow.state == FlowState.DEPOSITED]


def _latest_deposit(session, invoice_id: int | None) -> int:
    return session.scalar(select(func.max(EinvoiceFlow.deposit)).where(EinvoiceFlow.invoice_id == invoice_id,
                                                                       EinvoiceFlow.kind == FlowKind.DOCUMENT)) or 0


def _row(number: str, customer: str | None, status: str, since, reason: str | None) -> dict:
    # a moment as ops read every other one, in Paris time (a day, for a document not deposited yet, as it is)
    since_text = since.astimezone(PARIS).strftime("%Y-%m-%d %H:%M %Z") if isinstance(since, datetime) \
        else since.isoformat()
    return {"number": number, "customer": customer, "status": status, "since": since_text, "reason": reason or ""}


# --- the e-invoicing run's result -------------------------------------------------------------------------------

@dataclass(frozen=True)
class EinvoicingDone(RunResult):
    """The e-invoicing run's result: what it deposited, read, sent, and what needs someone (the artifact's rows)."""
    flow: ClassVar[str] = "e-invoicing"
    day: date
    configured: bool
    deposited: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    redeposited: Optional[str] = None
    statuses: str = ""
    effects: str = ""
    cashed: str = ""
    attention: list[dict] = field(default_factory=list)

    def line(self) -> str:
        if not self.configured:
            return NOT_SET
        return "; ".join(part for part in (
            f"{len(self.deposited)} document(s) deposited" + (f" ({', '.join(self.deposited)})" if self.deposited
                                                              else ""),
            f"{len(self.waiting)} pending, deposited by the next run" if self.waiting else "",
            f"{len(self.refused)} refused by the platform" if self.refused else "",
            self.statuses, self.effects, self.cashed,
            f"{len(self.attention)} document(s) need someone (the run's artifact)" if self.attention else "") if part)
