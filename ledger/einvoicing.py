"""What the vendor's approved e-invoicing platform (PA) knows of the documents this product issues.

A flow is recorded PENDING before it is sent, under a tracking id built by ledger.keys (the document's number;
`<number>-r<k>` for its k-th new deposit; `<number>-212-<payment>` for a payment's status): a run killed between
sending and recording finds it PENDING, sends it again, and the platform's answer for a tracking id it already
knows (409 with its flowId) is taken as the deposit. Statuses are kept as the platform gave them, each once, with
its time; an invoice's last status is the latest of its documents' flows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from ledger.column_types import Vocabulary
from ledger.models import Base, one_of
from policy.einvoicing import FlowKind, FlowState, ProcessingRule, Syntax


class EinvoiceFlow(Base):
    """One flow deposited (or to deposit) on the platform: a document, a status the vendor sends, a period's
    e-reporting."""

    __tablename__ = "einvoice_flows"
    __table_args__ = (one_of("kind", FlowKind), one_of("state", FlowState), one_of("syntax", Syntax),
                      one_of("processing_rule", ProcessingRule))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tracking_id: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[FlowKind] = mapped_column(Vocabulary(FlowKind, 16))
    invoice_id: Mapped[Optional[int]] = mapped_column(ForeignKey("invoices.id"), index=True)
    customer_id: Mapped[Optional[str]] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    deposit: Mapped[int] = mapped_column(Integer, default=0)      # 0: the first deposit; k: `<number>-r<k>`
    payment_id: Mapped[Optional[str]] = mapped_column(String(64))  # a status's payment (212), when it has one
    period: Mapped[Optional[str]] = mapped_column(String(16))      # an e-reporting flow's period
    syntax: Mapped[Syntax] = mapped_column(Vocabulary(Syntax, 16))
    processing_rule: Mapped[ProcessingRule] = mapped_column(Vocabulary(ProcessingRule, 8))
    name: Mapped[str] = mapped_column(String(200))                  # the file name sent
    state: Mapped[FlowState] = mapped_column(Vocabulary(FlowState, 16), default=FlowState.PENDING)
    flow_id: Mapped[Optional[str]] = mapped_column(String(200))    # the platform's id, once deposited
    reason: Mapped[Optional[str]] = mapped_column(Text)            # why the platform refused the deposit
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    content_sha256: Mapped[Optional[str]] = mapped_column(String(64))
    created_at: Mapped[datetime]
    deposited_at: Mapped[Optional[datetime]]
    flow_run_id: Mapped[Optional[str]] = mapped_column(String(64))


class EinvoiceStatus(Base):
    """A life-cycle status of a flow (XP Z12-012's code), as the platform gave it (polled or pushed), kept once."""

    __tablename__ = "einvoice_statuses"
    __table_args__ = (UniqueConstraint("flow_pk", "code", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flow_pk: Mapped[int] = mapped_column(ForeignKey("einvoice_flows.id"), index=True)
    code: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime]                                            # when the platform says it happened
    reason: Mapped[Optional[str]] = mapped_column(Text)
    received_at: Mapped[datetime]
    handled: Mapped[bool] = mapped_column(default=False)            # its effects (alerts, arrears hold) were applied


def last_statuses(session, invoice_ids: list[int]) -> dict[int, EinvoiceStatus]:
    """Each invoice's last status on the platform (the latest of all its documents' flows), by invoice id."""
    if not invoice_ids:
        return {}
    rows = session.execute(select(EinvoiceFlow.invoice_id, EinvoiceStatus)
                           .join(EinvoiceStatus, EinvoiceStatus.flow_pk == EinvoiceFlow.id)
                           .where(EinvoiceFlow.invoice_id.in_(invoice_ids), EinvoiceFlow.kind == FlowKind.DOCUMENT)
                           .order_by(EinvoiceStatus.at, EinvoiceStatus.id))
    last: dict[int, EinvoiceStatus] = {}
    for invoice_id, status in rows:
        last[invoice_id] = status
    return last
