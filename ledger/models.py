"""The ledger: the vendor's record of customers, money, support time, access and backups.

Idempotency lives here, in unique keys: a re-run of any flow finds its earlier work by key and does
nothing twice (an invoice per customer and month, a notice per event, a stage change per day...).
Amounts are `Numeric` read back as `Decimal`; instants are UTC; days are Paris dates.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Optional

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ledger.column_types import UtcDateTime, Vocabulary
from policy.arrears import Stage
from policy.categories import CATEGORIES
from policy.einvoicing import BuyerKind
from policy.standby import StandbyReason
from policy.vocabulary import (BackupKind, BackupStatus, BillingCycle, CancellationStatus, CloseStatus, CreditMovement, DeletionStatus,
                               EffectStatus, InterventionSource, NoticeStatus, SettlementKind,
                               InvoiceKind, InvoiceStatus, NoticeTransport, PaymentMethod, RestoreStatus, RestoreTarget,
                               Severity, StandbySource, StandbyStatus, TicketChannel, TicketSource, TicketType)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

def one_of(column: str, values) -> CheckConstraint:
    """The column holds one of `values` (an enumeration of policy) or NULL; named ck_<table>_<column>."""
    listed = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({listed})", name=column)


MONEY = Numeric(14, 2)
RATE = Numeric(6, 4)
QUANTITY = Numeric(12, 4)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        datetime: UtcDateTime(),
        Decimal: MONEY,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (one_of("payment_method", PaymentMethod), one_of("billing_cycle", BillingCycle),
                      one_of("stage", Stage), one_of("deletion_status", DeletionStatus),
                      one_of("buyer_kind", BuyerKind))

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    monthly_fee: Mapped[Decimal]
    payment_method: Mapped[PaymentMethod] = mapped_column(Vocabulary(PaymentMethod, 32))
    billing_cycle: Mapped[BillingCycle] = mapped_column(Vocabulary(BillingCycle, 16), default=BillingCycle.MONTHLY)
    contract_start: Mapped[Optional[date]]
    vat_rate: Mapped[Decimal] = mapped_column(RATE)
    included_minutes: Mapped[Optional[int]]
    dunning_exempt: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[Optional[str]] = mapped_column(String(2))  # fr | en; None: the terms' invoice_language
    commitment_tier: Mapped[Optional[str]] = mapped_column(String(32))  # a tier of the terms; None: the default set
    subscription_start: Mapped[Optional[date]]  # no subscription day before it is billed; None: no bound
    # what its invoices say of it (French law: the buyer's address; a company's SIREN and VAT number)
    billing_address: Mapped[Optional[str]] = mapped_column(Text)
    delivery_address: Mapped[Optional[str]] = mapped_column(Text)  # where services go, when not billed there
    siren: Mapped[Optional[str]] = mapped_column(String(14))
    vat_number: Mapped[Optional[str]] = mapped_column(String(20))
    # for the e-invoicing reform (policy.einvoicing): a French business's documents go through the platform
    buyer_kind: Mapped[BuyerKind] = mapped_column(Vocabulary(BuyerKind, 20), default=BuyerKind.PRIVATE,
                                                  server_default=BuyerKind.PRIVATE.value)
    # what the flows decided, kept here so `show` never needs the platform database
    stage: Mapped[Stage] = mapped_column(Vocabulary(Stage, 32), default=Stage.CURRENT)
    deletion_status: Mapped[Optional[DeletionStatus]] = mapped_column(Vocabulary(DeletionStatus, 32))
    deletion_due_on: Mapped[Optional[date]]
    deletion_flow_run_id: Mapped[Optional[str]] = mapped_column(String(64))  # the run waiting for approval
    admin_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    platform_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    operations_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    cancelled_on: Mapped[Optional[date]]   # the day its cancellation took effect: nothing runs for it after
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Invoice(Base):
    """A monthly, penalty, imported invoice or a credit note. `invoice_key` makes each one exist once:
    `monthly:<customer>:<YYYY-MM>`, `penalty:<invoice id>`, `imported:<external id>`,
    `credit-note:<request>`."""

    __tablename__ = "invoices"
    __table_args__ = (one_of("kind", InvoiceKind), one_of("status", InvoiceStatus))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    invoice_key: Mapped[str] = mapped_column(String(160), unique=True)
    number: Mapped[Optional[str]] = mapped_column(String(16), unique=True)
    external_id: Mapped[Optional[str]] = mapped_column(String(64), unique=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    kind: Mapped[InvoiceKind] = mapped_column(Vocabulary(InvoiceKind, 16))
    month: Mapped[str] = mapped_column(String(7), index=True)
    status: Mapped[InvoiceStatus] = mapped_column(Vocabulary(InvoiceStatus, 16), default=InvoiceStatus.DRAFT)
    issued_on: Mapped[Optional[date]]
    due_on: Mapped[Optional[date]]
    total_ht: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))
    total_vat: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))
    total_ttc: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))
    description: Mapped[Optional[str]] = mapped_column(Text)
    penalty_for_id: Mapped[Optional[int]] = mapped_column(ForeignKey("invoices.id"), unique=True)
    close_month: Mapped[Optional[str]] = mapped_column(String(7))
    created_at: Mapped[datetime]
    finalised_at: Mapped[Optional[datetime]]
    flow_run_id: Mapped[Optional[str]] = mapped_column(String(64))
    document_key: Mapped[Optional[str]] = mapped_column(Text)  # its Factur-X PDF in object storage, once rendered
    document_sha256: Mapped[Optional[str]] = mapped_column(String(64))
    credits_id: Mapped[Optional[int]] = mapped_column(ForeignKey("invoices.id"), index=True)  # a credit note's invoice
    # the subscription service period it billed (inclusive): the customer's billed-through day comes from these
    period_start: Mapped[Optional[date]]
    period_end: Mapped[Optional[date]]
    bills_subscription: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    lines: Mapped[list["InvoiceLine"]] = relationship(
        back_populates="invoice", order_by="InvoiceLine.position", cascade="all, delete-orphan"
    )
    payments: Mapped[list["Payment"]] = relationship(back_populates="invoice", foreign_keys="Payment.invoice_id")


class Cancellation(Base):
    """A customer's cancellation, from the registered letter's receipt to its balance statement. At most one
    is `received` at a time per customer (checked under the customer's row lock)."""

    __tablename__ = "cancellations"
    __table_args__ = (UniqueConstraint("customer_id", "received_on"), one_of("status", CancellationStatus))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    received_on: Mapped[date]
    effective_on: Mapped[date]
    status: Mapped[CancellationStatus] = mapped_column(Vocabulary(CancellationStatus, 16), default=CancellationStatus.RECEIVED)
    requested_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime]
    withdrawn_at: Mapped[Optional[datetime]]
    effective_at: Mapped[Optional[datetime]]
    closed_at: Mapped[Optional[datetime]]
    final_backup_id: Mapped[Optional[str]] = mapped_column(String(80))
    flow_run_id: Mapped[Optional[str]] = mapped_column(String(64))


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (UniqueConstraint("invoice_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32))
    service_month: Mapped[Optional[str]] = mapped_column(String(7))
    quantity: Mapped[Decimal] = mapped_column(QUANTITY)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    amount_ht: Mapped[Decimal]
    vat_rate: Mapped[Decimal] = mapped_column(RATE)
    credited_position: Mapped[Optional[int]]  # on a credit note: the line of its invoice this one credits whole

    invoice: Mapped[Invoice] = relationship(back_populates="lines")


class InvoiceSequence(Base):
    """One gapless number sequence per calendar year (French law), advanced inside the
    transaction that finalises invoices."""

    __tablename__ = "invoice_sequences"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer, default=0)
    last_issued_on: Mapped[Optional[date]]


class Payment(Base):
    """What settles an invoice: a customer's payment (its full amount, even beyond the balance: the
    excess is a customer credit), a credit note, or a customer credit applied at a close. Settlements
    that are not payments have ids outside the grammar of imported ids (`~credit-note:<number>`)."""

    __tablename__ = "payments"
    __table_args__ = (one_of("kind", SettlementKind),)

    payment_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    paid_on: Mapped[date]
    amount: Mapped[Decimal]
    created_at: Mapped[datetime]
    kind: Mapped[SettlementKind] = mapped_column(Vocabulary(SettlementKind, 16), default=SettlementKind.PAYMENT,
                                                server_default="payment")
    credit_note_id: Mapped[Optional[int]] = mapped_column(ForeignKey("invoices.id"))

    invoice: Mapped[Invoice] = relationship(back_populates="payments", foreign_keys=[invoice_id])


class CustomerCredit(Base):
    """One movement of the money the vendor owes a customer; the credit is their sum. `movement_key`
    makes each exist once (`overpayment:<payment>`, `credit-note:<number>`, `applied:<number>`,
    `refund:<refund id>`)."""

    __tablename__ = "customer_credits"
    __table_args__ = (one_of("kind", CreditMovement),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    movement_key: Mapped[str] = mapped_column(String(160), unique=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    kind: Mapped[CreditMovement] = mapped_column(Vocabulary(CreditMovement, 16))
    amount: Mapped[Decimal]                # + owed to the customer, - used or paid back
    on: Mapped[date]
    payment_id: Mapped[Optional[str]] = mapped_column(ForeignKey("payments.payment_id"))
    invoice_id: Mapped[Optional[int]] = mapped_column(ForeignKey("invoices.id"))   # the credit note, or the invoice it settled
    refund_id: Mapped[Optional[str]] = mapped_column(String(64), unique=True)
    reference: Mapped[Optional[str]] = mapped_column(String(120))                  # the refund's bank reference
    created_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(120))
    flow_run_id: Mapped[Optional[str]] = mapped_column(String(64))


class Intervention(Base):
    __tablename__ = "interventions"
    __table_args__ = (Index("ix_interventions_customer_month", "customer_id", "month"),
                      one_of("category", CATEGORIES), one_of("source", InterventionSource))

    intervention_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"))
    started_at: Mapped[datetime]
    month: Mapped[str] = mapped_column(String(7), index=True)  # the Paris month of started_at
    minutes: Mapped[int]
    category: Mapped[str] = mapped_column(String(32))
    ticket: Mapped[Optional[str]] = mapped_column(String(64))
    engineer: Mapped[Optional[str]] = mapped_column(String(120))
    description: Mapped[Optional[str]] = mapped_column(Text)
    source: Mapped[InterventionSource] = mapped_column(Vocabulary(InterventionSource, 16), default=InterventionSource.IMPORT)
    # set by the monthly close
    free_minutes: Mapped[Optional[int]]
    billed_minutes: Mapped[Optional[int]]
    amount_ht: Mapped[Optional[Decimal]]
    invoice_id: Mapped[Optional[int]] = mapped_column(ForeignKey("invoices.id"), index=True)
    close_month: Mapped[Optional[str]] = mapped_column(String(7), index=True)  # the close that priced it
    created_at: Mapped[datetime]


class Ticket(Base):
    """A support request from the helpdesk (imported or pushed by its webhook), with the moments that stop
    the clocks of the service commitments. Its credentials, when a customer gave some, are kept only as a
    Fernet token (the key is in a Prefect Secret block) and purged within a day of its close."""

    __tablename__ = "tickets"
    __table_args__ = (one_of("type", TicketType), one_of("channel", TicketChannel), one_of("severity", Severity),
                      one_of("source", TicketSource), CheckConstraint("level IN (1, 2)", name="level"))

    ticket_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    received_at: Mapped[datetime]
    type: Mapped[TicketType] = mapped_column(Vocabulary(TicketType, 32))
    channel: Mapped[Optional[TicketChannel]] = mapped_column(Vocabulary(TicketChannel, 16))
    severity: Mapped[Optional[Severity]] = mapped_column(Vocabulary(Severity, 16))
    level: Mapped[Optional[int]]
    first_response_at: Mapped[Optional[datetime]]
    workaround_at: Mapped[Optional[datetime]]
    resolved_at: Mapped[Optional[datetime]]
    closed_at: Mapped[Optional[datetime]] = mapped_column(UtcDateTime(), index=True)
    customization_delivered_on: Mapped[Optional[date]]
    credentials_token: Mapped[Optional[str]] = mapped_column(Text)       # Fernet token, never the secret
    credentials_purged_at: Mapped[Optional[datetime]]
    source: Mapped[TicketSource] = mapped_column(Vocabulary(TicketSource, 16), default=TicketSource.IMPORT)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TicketAlert(Base):
    """An ops alert on a ticket's clock: a warning before its due time (once per ticket, clock and offset,
    `offset_minutes`) or its breach (once per ticket, clock and state; older ledgers also hold `at_risk`
    alerts), under `alert_key`. Recorded before it is sent, held until `deliver_after` (the next opening of
    the working calendar when computed outside service hours; NULL: at once), and sent again by the next
    run until it went."""

    __tablename__ = "ticket_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_key: Mapped[str] = mapped_column(String(160), unique=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.ticket_id"))
    clock: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime]
    created_at: Mapped[datetime]
    sent_at: Mapped[Optional[datetime]]
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    flow_run_id: Mapped[Optional[str]] = mapped_column(String(64))
    offset_minutes: Mapped[Optional[int]]
    computed_at: Mapped[Optional[datetime]]
    deliver_after: Mapped[Optional[datetime]]


class QuotaPeriod(Base):
    """A customer's support quota for one month: what was included, used and billed beyond."""

    __tablename__ = "quota_periods"
    __table_args__ = (UniqueConstraint("customer_id", "month"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"))
    month: Mapped[str] = mapped_column(String(7))
    included_minutes: Mapped[int]
    used_minutes: Mapped[int] = mapped_column(Integer, default=0)
    over_minutes: Mapped[int] = mapped_column(Integer, default=0)
    standby_days: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[Optional[datetime]]


class MonthlyClose(Base):
    """A month's close, with the copy of the terms it used."""

    __tablename__ = "monthly_closes"
    __table_args__ = (one_of("status", CloseStatus),)

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    status: Mapped[CloseStatus] = mapped_column(Vocabulary(CloseStatus, 16))
    terms: Mapped[dict[str, Any]]
    started_at: Mapped[datetime]
    finished_at: Mapped[Optional[datetime]]
    flow_run_id: Mapped[Optional[str]] = mapped_column(String(64))


class TermsCopy(Base):
    """Every distinct set of terms a run used, newest last: what `show terms` prints without a server."""

    __tablename__ = "terms_copies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    terms: Mapped[dict[str, Any]]
    first_used_at: Mapped[datetime]
    last_used_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(64))


class StandbyPeriod(Base):
    __tablename__ = "standby_periods"
    __table_args__ = (UniqueConstraint("customer_id", "start_on"), one_of("status", StandbyStatus),
                      one_of("source", StandbySource), one_of("reason", StandbyReason))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    reason: Mapped[StandbyReason] = mapped_column(Vocabulary(StandbyReason, 32))
    start_on: Mapped[date]
    end_on: Mapped[date]
    status: Mapped[StandbyStatus] = mapped_column(Vocabulary(StandbyStatus, 16), default=StandbyStatus.SCHEDULED)
    requested_by: Mapped[Optional[str]] = mapped_column(String(120))
    source: Mapped[StandbySource] = mapped_column(Vocabulary(StandbySource, 16), default=StandbySource.IMPORT)
    started_at: Mapped[Optional[datetime]]
    ended_at: Mapped[Optional[datetime]]
    created_at: Mapped[datetime]


class Installation(Base):
    """This ledger's identity (one row): every run carries it, and a run meant for another ledger is refused
    (lifecycle_config/installation.py). `only_row` keeps it one row even when two first uses race."""

    __tablename__ = "installation"
    __table_args__ = (CheckConstraint("only_row", name="only_row"),)

    only_row: Mapped[bool] = mapped_column(Boolean, primary_key=True, default=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    created_at: Mapped[datetime]
    #: the fingerprint of the key that seals ticket credentials (lifecycle_config/keyfile.py): every process
    #: that seals for this ledger must hold that key, so none seals with a key of its own
    credentials_key_id: Mapped[Optional[str]] = mapped_column(String(64))


class LedgerClaim(Base):
    """Which home serves this ledger (one row): the LIFECYCLE_HOME, on which host, whose `lifecycle up` last
    started on it. A ledger that lives outside a home (PostgreSQL, a SQLite file given by URL) cannot say by
    where it is which home's settings, keys and storage go with it; this row says, so another home's `up`, run or
    command refuses it in one line naming the home that holds it (`lifecycle db adopt` moves it, on purpose)."""

    __tablename__ = "ledger_claim"
    __table_args__ = (CheckConstraint("only_row", name="only_row"),)

    only_row: Mapped[bool] = mapped_column(Boolean, primary_key=True, default=True)
    home: Mapped[str] = mapped_column(Text)
    host: Mapped[str] = mapped_column(String(255))
    #: the server `up` started for that home, and its process: what `lifecycle db adopt` asks before moving it
    api_url: Mapped[Optional[str]] = mapped_column(Text)
    pid: Mapped[Optional[int]] = mapped_column(Integer)
    claimed_at: Mapped[datetime]
    #: how: "up" (its `lifecycle up` started here) or "adopt" (moved here by `lifecycle db adopt`)
    how: Mapped[str] = mapped_column(String(16))


class DeletionIntent(Base):
    """An approved deletion about to shred a customer's data keys, recorded (with its approval and the keys it
    destroys) before any key is touched. A run killed between the shred and the certificate leaves this row
    without `completed_at`: its keys already count as shredded (no backup of them is read again), and the next
    deletion run or arrears sweep completes it with the same approval, so a shred never stays without its
    certificate, nor a certificate without its shred."""

    __tablename__ = "deletion_intents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), unique=True)
    day: Mapped[date]
    recorded_at: Mapped[datetime]
    approved_by: Mapped[str] = mapped_column(String(120))
    comment: Mapped[Optional[str]] = mapped_column(Text)
    key_ids: Mapped[list[Any]]
    flow_run_id: Mapped[Optional[str]] = mapped_column(String(64))
    completed_at: Mapped[Optional[datetime]]


class WebhookReceipt(Base):
    """A served webhook's request taken (its timestamped signature), kept while a replay of it would still
    be fresh: the same request seen again is refused, whichever server process receives it."""

    __tablename__ = "webhook_receipts"

    signature: Mapped[str] = mapped_column(String(80), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(40))
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ArrearsSweep(Base):
    """A business day the arrears sweep ran for: a sweep for an earlier day changes nothing after it."""

    __tablename__ = "arrears_sweeps"

    day: Mapped[date] = mapped_column(primary_key=True)
    first_run_at: Mapped[datetime]
    forced_reason: Mapped[Optional[str]] = mapped_column(Text)  # a day ahead of its date, swept on purpose
    flow_run_id: Mapped[Optional[str]] = mapped_column(String(64))


class StageChange(Base):
    """Arrears stage history: one row per stage a customer entered, on the day it applied."""

    __tablename__ = "stage_changes"
    __table_args__ = (UniqueConstraint("customer_id", "effective_on", "stage"), one_of("previous_stage", Stage),
                      one_of("stage", Stage))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    previous_stage: Mapped[Stage] = mapped_column(Vocabulary(Stage, 32))
    stage: Mapped[Stage] = mapped_column(Vocabulary(Stage, 32))
    effective_on: Mapped[date]
    anchor_due_on: Mapped[Optional[date]]
    recorded_at: Mapped[datetime]
    flow_run_id: Mapped[Optional[str]] = mapped_column(String(64))


class Backup(Base):
    """A backup of one customer's platform data (or of the ledger itself, customer_id NULL).
    It is `good` only once its manifest is written."""

    __tablename__ = "backups"
    __table_args__ = (one_of("kind", BackupKind), one_of("status", BackupStatus))

    backup_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    customer_id: Mapped[Optional[str]] = mapped_column(String(64), index=True)
    kind: Mapped[BackupKind] = mapped_column(Vocabulary(BackupKind, 16), default=BackupKind.TENANT)
    created_at: Mapped[datetime]
    status: Mapped[BackupStatus] = mapped_column(Vocabulary(BackupStatus, 16), default=BackupStatus.RUNNING)
    rows: Mapped[Optional[int]] = mapped_column(BigInteger)
    bytes: Mapped[Optional[int]] = mapped_column(BigInteger)
    schema_fingerprint: Mapped[Optional[str]] = mapped_column(String(64))
    manifest_key: Mapped[Optional[str]] = mapped_column(Text)
    manifest: Mapped[Optional[dict[str, Any]]]
    verified_at: Mapped[Optional[datetime]]
    error: Mapped[Optional[str]] = mapped_column(Text)
    deleted_at: Mapped[Optional[datetime]]  # NULL on a `deleted` backup: its objects wait for their lock to pass
    flow_run_id: Mapped[Optional[str]] = mapped_column(String(64))
    lock_mode: Mapped[Optional[str]] = mapped_column(String(16))  # governance or compliance; NULL: not locked
    locked_until: Mapped[Optional[datetime]]


class RestoreJob(Base):
    """One restore request. `request_key` (the flow run) makes a re-run bill nothing more."""

    __tablename__ = "restore_jobs"
    __table_args__ = (one_of("target", RestoreTarget), one_of("status", RestoreStatus))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_key: Mapped[str] = mapped_column(String(120), unique=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    backup_id: Mapped[str] = mapped_column(ForeignKey("backups.backup_id"))
    target: Mapped[RestoreTarget] = mapped_column(Vocabulary(RestoreTarget, 16))
    requested_by: Mapped[str] = mapped_column(String(120))
    ticket: Mapped[str] = mapped_column(String(64))
    status: Mapped[RestoreStatus] = mapped_column(Vocabulary(RestoreStatus, 16), default=RestoreStatus.RUNNING)
    started_at: Mapped[datetime]
    finished_at: Mapped[Optional[datetime]]
    seconds: Mapped[Optional[Decimal]] = mapped_column(Numeric(12, 3))
    intervention_id: Mapped[Optional[str]] = mapped_column(ForeignKey("interventions.intervention_id"))
    safety_backup_id: Mapped[Optional[str]] = mapped_column(String(80))
    error: Mapped[Optional[str]] = mapped_column(Text)


class CustomerLock(Base):
    """Who holds a customer's data right now (backup, restore, purge): two never overlap."""

    __tablename__ = "customer_locks"

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(160))
    acquired_at: Mapped[datetime]
    heartbeat_at: Mapped[Optional[datetime]]      # renewed while held: a holder that stops beating is gone
    host: Mapped[Optional[str]] = mapped_column(String(255))
    pid: Mapped[Optional[int]] = mapped_column(Integer)
    flow_run_id: Mapped[Optional[str]] = mapped_column(String(64))


class Notice(Base):
    """A message to a customer. `notice_key` makes each notice go out once. It is recorded `pending` in the
    transaction of its cause and sent afterwards by the dispatcher (operations.dispatch)."""

    __tablename__ = "notices"
    __table_args__ = (one_of("transport", NoticeTransport), one_of("status", NoticeStatus))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notice_key: Mapped[str] = mapped_column(String(160), unique=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    sent_at: Mapped[Optional[datetime]]
    to: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    transport: Mapped[Optional[NoticeTransport]] = mapped_column(Vocabulary(NoticeTransport, 16))  # once sent
    location: Mapped[Optional[str]] = mapped_column(Text)
    flow_run_id: Mapped[Optional[str]] = mapped_column(String(64))
    status: Mapped[NoticeStatus] = mapped_column(Vocabulary(NoticeStatus, 16), default=NoticeStatus.SENT,
                                              server_default="sent")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="1")
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[Optional[datetime]]
    claimed_at: Mapped[Optional[datetime]]
    claimed_by: Mapped[Optional[str]] = mapped_column(String(255))   # host:pid of the dispatcher sending it
    attachment_key: Mapped[Optional[str]] = mapped_column(Text)      # a document in object storage, attached
    invoice_id: Mapped[Optional[int]] = mapped_column(ForeignKey("invoices.id"), index=True)  # the invoice it carries


class PlatformEffect(Base):
    """An access change to apply to the platform, recorded with the stage or standby that causes it."""

    __tablename__ = "platform_effects"
    __table_args__ = (one_of("status", EffectStatus),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    effect_key: Mapped[str] = mapped_column(String(160), unique=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    admin_enabled: Mapped[bool] = mapped_column(Boolean)
    platform_enabled: Mapped[bool] = mapped_column(Boolean)
    operations_enabled: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[EffectStatus] = mapped_column(Vocabulary(EffectStatus, 16), default=EffectStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime]
    claimed_at: Mapped[Optional[datetime]]
    claimed_by: Mapped[Optional[str]] = mapped_column(String(255))
    applied_at: Mapped[Optional[datetime]]
    flow_run_id: Mapped[Optional[str]] = mapped_column(String(64))


class DeletionCertificate(Base):
    __tablename__ = "deletion_certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), unique=True)
    deleted_at: Mapped[datetime]
    approved_by: Mapped[str] = mapped_column(String(120))
    comment: Mapped[Optional[str]] = mapped_column(Text)
    deleted: Mapped[dict[str, Any]]
    flow_run_id: Mapped[Optional[str]] = mapped_column(String(64))


class Export(Base):
    """A workbook finance can download. One row per distinct content of a month: the fingerprint of
    what it says (not of its bytes, which carry a generation time) decides whether a new version is due."""

    __tablename__ = "exports"
    __table_args__ = (UniqueConstraint("month", "fingerprint"), UniqueConstraint("month", "version"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    month: Mapped[str] = mapped_column(String(7))
    version: Mapped[int]
    key: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int]
    bytes: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    flow_run_id: Mapped[Optional[str]] = mapped_column(String(64))
    #: the SHA-256 of the file as written (the downloads server serves only that file); None: exported before it
    #: was recorded (migration 0024)
    sha256: Mapped[Optional[str]] = mapped_column(String(64))


class AuditEntry(Base):
    """Every state change: who (actor), which flow run, what it was and what it became."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    customer_id: Mapped[Optional[str]] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(60))
    before: Mapped[Optional[dict[str, Any]]]
    after: Mapped[Optional[dict[str, Any]]]
    actor: Mapped[str] = mapped_column(String(120))
    flow_run_id: Mapped[Optional[str]] = mapped_column(String(64))


from ledger import id_indexes  # noqa: E402,F401  (lower(id) indexed: ids are unique ignoring case, migration 0016)


from ledger.ticket_history import PauseRuleChange, TicketEvent  # noqa: E402,F401 - their tables are the ledger's too
from ledger.service_credits import ServiceCredit  # noqa: E402,F401 - a close's credits for missed clocks
from ledger.einvoicing import EinvoiceFlow, EinvoiceStatus  # noqa: E402,F401 - what the e-invoicing platform knows
