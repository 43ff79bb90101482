"""Depositing flows on the vendor's approved e-invoicing platform once, and keeping what it says of them.

Every flow this product sends (a document, a status it owes such as 212 Encaissée, a period's e-reporting) goes
through `deposit_once`: the flow is recorded PENDING under its tracking id (ledger.keys) in its own transaction,
then sent, then recorded DEPOSITED with the platform's flowId. A run killed after sending finds it PENDING and
sends it again; the platform answers 409 with the flowId it already gave, which is taken as the deposit: a
document is never deposited twice. A network that refuses leaves it PENDING for the next run (said, never a
failed run); a deposit the platform itself refuses (4xx) is kept REFUSED with its reason, for someone to look at.

A run's deposits go `side_by_side`, the e-invoicing block's `parallel_deposits` at a time: each deposit is its own
transactions and its own request (a thread waiting on the platform), so one deposit failing never loses or doubles
another, and each is kept once by its tracking id as when they went one after the other.

Statuses the platform gives (polled, or pushed to the webhook) are kept by `record_statuses`, each once.
"""

from __future__ import annotations

import contextvars
import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Callable, Optional, TypeVar

from sqlalchemy import select

from blocks.einvoicing import DepositRefused, EInvoicing, PlatformSilent, PlatformStatus, PlatformUnreachable
from ledger import audit
from ledger.db import now, one_at_a_time, session_scope
from ledger.einvoicing import EinvoiceFlow, EinvoiceStatus, last_statuses  # noqa: F401 - one name for the operations
from lifecycle_config.conditions import one_line
from lifecycle_config.failpoints import failpoint
from operations.bugs import log_to_python
from policy.einvoicing import FlowKind, FlowState, ProcessingRule, Syntax, label_of


@dataclass
class Deposited:
    """What `deposit_once` did with one flow."""
    tracking_id: str
    state: FlowState
    flow_id: str | None = None
    reason: str | None = None      # why it was refused, or why it waits (the network)
    already: bool = False          # it was deposited before (this run found it done, or the platform knew it)
    silent: bool = False           # the platform did not answer at all: the run leaves the rest for the next run


@dataclass
class FlowSpec:
    """A flow to deposit: its tracking id, what it carries, and how its content is made (called only when it is
    actually sent, so nothing is rendered for a flow already deposited)."""
    tracking_id: str
    kind: FlowKind
    syntax: Syntax
    rule: ProcessingRule
    name: str
    content: Callable[[], bytes]
    invoice_id: int | None = None
    customer_id: str | None = None
    deposit: int = 0
    payment_id: str | None = None
    period: str | None = None


def recorded(session, spec: FlowSpec, flow_run_id: str | None) -> EinvoiceFlow:
    """The flow of `spec`, recorded pending when it is not yet: one transaction at a time per tracking id (two runs
    depositing the same document together both saw none, and the second died on the unique tracking id)."""
    one_at_a_time(session, f"einvoice-flow:{spec.tracking_id}")
    flow = session.scalar(select(EinvoiceFlow).where(EinvoiceFlow.tracking_id == spec.tracking_id))
    if flow is None:
        flow = EinvoiceFlow(tracking_id=spec.tracking_id, kind=spec.kind, invoice_id=spec.invoice_id,
                            customer_id=spec.customer_id, deposit=spec.deposit, payment_id=spec.payment_id,
                            period=spec.period, syntax=spec.syntax, processing_rule=spec.rule, name=spec.name,
                            state=FlowState.PENDING, attempts=0, created_at=now(), flow_run_id=flow_run_id)
        session.add(flow)
        session.flush()
    return flow


def deposit_once(platform: EInvoicing, spec: FlowSpec, *, actor: str, flow_run_id: str | None = None,
                 engine=None) -> Deposited:
    """Deposit the flow `spec` unless it is deposited (or refused) already; see the module's docstring."""
    with session_scope(engine, write=True) as session:
        flow = recorded(session, spec, flow_run_id)
        if flow.state != FlowState.PENDING:
            return Deposited(flow.tracking_id, flow.state, flow.flow_id, flow.reason, already=True)
        flow.attempts += 1
    failpoint("einvoicing.recorded")
    content = spec.content()
    try:
        answer = platform.deposit(tracking_id=spec.tracking_id, name=spec.name, syntax=spec.syntax, rule=spec.rule,
                                  content=content)
    except PlatformUnreachable as error:
        return Deposited(spec.tracking_id, FlowState.PENDING, reason=str(error),
                         silent=isinstance(error, PlatformSilent))
    except DepositRefused as error:
        with session_scope(engine, write=True) as session:
            flow = session.scalar(select(EinvoiceFlow).where(EinvoiceFlow.tracking_id == spec.tracking_id))
            flow.state, flow.reason = FlowState.REFUSED, error.reason
            audit.record(session, "einvoice_refused", customer_id=flow.customer_id, before=None,
                         after={"tracking_id": flow.tracking_id, "reason": error.reason}, actor=actor,
                         flow_run_id=flow_run_id)
        return Deposited(spec.tracking_id, FlowState.REFUSED, reason=error.reason)
    failpoint("einvoicing.sent")
    with session_scope(engine, write=True) as session:
        other = session.scalar(select(EinvoiceFlow.tracking_id).where(EinvoiceFlow.flow_id == answer.flow_id,
                                                                      EinvoiceFlow.tracking_id != spec.tracking_id))
        if other is not None:  # one flowId never stands for two documents: the platform is wrong about one
            return Deposited(spec.tracking_id, FlowState.PENDING,
                             reason=f"the platform gave flow {answer.flow_id[:40]!r} for {spec.tracking_id}, "
                                    f"already {other}'s: it stays pending; ask the platform")
        flow = session.scalar(select(EinvoiceFlow).where(EinvoiceFlow.tracking_id == spec.tracking_id))
        flow.state, flow.flow_id, flow.deposited_at = FlowState.DEPOSITED, answer.flow_id, now()
        flow.content_sha256 = hashlib.sha256(content).hexdigest()
        audit.record(session, "einvoice_deposited", customer_id=flow.customer_id, before=None,
                     after={"tracking_id": flow.tracking_id, "flow_id": answer.flow_id, "syntax": str(flow.syntax),
                            "processing_rule": str(flow.processing_rule), "known_before": answer.already_known},
                     actor=actor, flow_run_id=flow_run_id)
    return Deposited(spec.tracking_id, FlowState.DEPOSITED, answer.flow_id, already=answer.already_known)


Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


def side_by_side(work: Callable[[Item], Outcome], items: list[Item], at_once: int, *,
                 halts: Callable[[Outcome], bool] = lambda outcome: False) -> list[Optional[Outcome]]:
    """`work(item)` for each item, `at_once` at a time, in the items' order; the outcomes in that order.

    Why: a deposit is 0.3 s of which most is waiting on the platform's HTTPS answer, so a month's thousands of
    documents one after the other took longer than the night (benchmarks/RESULTS.md); threads waiting side by side
    cost nothing more. Each item runs in its own thread with a copy of the caller's context (the run's logger,
    its settings), and must make its own transactions (`deposit_once` does: one short transaction each).

    An outcome for which `halts` is true (the platform silent) starts no further item: those not started yet get
    None (left for the next run), the ones already waiting finish and are kept. An error of one item starts no
    further item either; once every started item has finished (its deposit recorded, or left pending by its own
    transaction), the first error in the items' order is raised, one that stops the process (KeyboardInterrupt,
    SystemExit) before any other, with the others named in its notes and their tracebacks in Python's log:
    nothing half-done, nothing lost, nothing silent. A stop of the caller itself (Ctrl-C, a cancellation's
    signal while it waits) starts no further item either: the ones already waiting finish, then it goes on."""
    if not items:
        return []
    stop = threading.Event()

    def one(item: Item) -> Optional[Outcome]:
        if stop.is_set():
            return None
        try:
            outcome = work(item)
        except BaseException:
            stop.set()
            raise
        if halts(outcome):
            stop.set()
        return outcome

    pool = ThreadPoolExecutor(max_workers=max(1, min(at_once, len(items))), thread_name_prefix="einvoicing-deposit")
    try:
        futures = [pool.submit(contextvars.copy_context().run, one, item) for item in items]
        wait(futures)
    except BaseException:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    errors = [future.exception() for future in futures if future.exception() is not None]
    if errors:
        first = next((error for error in errors if not isinstance(error, Exception)), errors[0])
        for error in errors:
            if error is not first:
                first.add_note(f"and beside it: {type(error).__name__}: {one_line(error)}")
                log_to_python("a deposit side by side with another that failed", error)
        raise first
    return [future.result() for future in futures]


def record_statuses(session, flow: EinvoiceFlow, statuses: list[PlatformStatus]) -> list[EinvoiceStatus]:
    """Keep the statuses of `flow` not kept yet (a status is its code at its time); returns the new ones, oldest
    first, unhandled: their effects (policy.einvoicing.effects_of) are applied once by whoever reads them next."""
    known = {(code, at) for code, at in session.execute(
        select(EinvoiceStatus.code, EinvoiceStatus.at).where(EinvoiceStatus.flow_pk == flow.id))}
    new = []
    for status in statuses:
        if (status.code, status.at) in known:
            continue
        known.add((status.code, status.at))
        row = EinvoiceStatus(flow_pk=flow.id, code=status.code, label=label_of(status.code, status.label),
                             at=status.at, reason=status.reason, received_at=now(), handled=False)
        session.add(row)
        new.append(row)
    session.flush()
    return new
