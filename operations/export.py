"""The month's billable-interventions workbook: gathered from the ledger, written, kept in object storage.

docs/reference/policy.md "Exports": the workbook of month M holds M's monthly invoices (with the late lines they carry)
and the penalty invoices issued in M, with the credit notes issued in M and the movements of the customers'
credit dated in M beside them, and the service commitments of the tickets closed in M (their clocks as of
the close, under the close's terms); it is refused while M has drafts; an export whose content is unchanged
writes no new version (but its file is written again when it is missing from storage: deleted by someone,
a lost bucket), and a changed one never overwrites the previous (a version suffix). Its language
is the close's terms' `workbook_language` (a close stored before the setting existed: French).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timezone
from decimal import Decimal
from pathlib import Path
from typing import ClassVar, Iterator

from sqlalchemy import func, or_, select, union

import lifecycle_config
from blocks.storage import ObjectStorage
from blocks.storage_deadlines import progress
from ledger import audit, keys
from ledger.db import now, one_at_a_time, session_scope
from ledger.einvoicing import last_statuses
from ledger.models import (Customer, CustomerCredit, Export, Intervention, Invoice, InvoiceLine, MonthlyClose,
                           QuotaPeriod, Ticket)
from ledger.queries import invoice_label, paid_by_invoice
from ledger.ticket_history import clock_facts
from ledger.views import clocked_ticket, ticket_clocks
from operations.results import RunResult
from operations.service_credits import by_ticket
from policy.commitment_metrics import Measured, measure, ordered
from policy.commitments import WorkingCalendar
from policy.balances import balance
from policy.calendar import PARIS, month_bounds, parse_month
from policy.categories import CATEGORIES, Charge, fixed_fee
from policy.quota import hourly_rate
from policy.refusals import Refusal
from policy.terms import Terms
from policy.vocabulary import InvoiceKind, InvoiceStatus
from reports.billable_workbook import write_workbook
from lifecycle_config.scratch import scratch_folder
from lifecycle_config.failpoints import failpoint

ZERO = Decimal("0.00")
CENT = Decimal("0.01")


class ExportRefused(Refusal):
    """An export that cannot be written as asked (its target, its month)."""


@dataclass(frozen=True)
class Exported(RunResult):
    """The billable-export run's result: where the workbook is, and whether this run wrote it."""
    flow: ClassVar[str] = "billable-export"
    month: str
    key: str
    version: int
    new: bool          # a new version; else the content was unchanged
    link: str          # what finance clicks (download_link)
    storage: str       # the object storage's URL, where `--out` copies it from
    rows: int
    rewritten: bool    # unchanged, but its file was missing from storage and was written again

    def state(self) -> str:
        return "new version" if self.new else ("unchanged, missing from storage: written again" if self.rewritten
                                               else "unchanged")


@dataclass
class ExportResult:
    month: str
    key: str
    version: int
    new: bool
    rows: int
    fingerprint: str
    customers: list[dict]  # the Summary sheet's first rows (PREVIEW), one a customer
    totals: dict
    interventions: int = 0
    rewritten: bool = False  # unchanged, but its file was missing from storage and is written again

    def exported(self, link: str, storage: str) -> Exported:
        """The billable-export run's result, given the workbook's link and the storage's URL."""
        return Exported(self.month, self.key, self.version, self.new, link, storage, self.rows, self.rewritten)


file_name = keys.workbook_file


def object_key(month: str, version: int) -> str:
    year, number = parse_month(month)
    return f"exports/{year:04d}/{number:02d}/{file_name(month, version)}"


def _invoices_of(month: str):
    return or_((Invoice.kind == InvoiceKind.MONTHLY) & (Invoice.close_month == month),
               (Invoice.kind == InvoiceKind.PENALTY) & (Invoice.month == month))


#: the customers (Summary) or invoices (Invoices) read and held at once: the export's memory is bounded by a
#: batch, not by the month's customers (50,000 at scale L held 595 MB when both sheets were built whole)
BATCH = 1000
#: the Summary's first rows the run's result keeps (the flow's preview artifact shows them)
PREVIEW = 100


def _by_code_point(column, session):
    """`column` ordered and compared as Python orders text (by code point), whatever the database's collation:
    PostgreSQL's "C" collation on UTF-8 is that order, SQLite's default (BINARY) already is."""
    return column.collate("C") if session.get_bind().dialect.name == "postgresql" else column


def _summary(engine, month: str, preview: list[dict]) -> Iterator[dict]:
    """The Summary's rows, one a customer with a quota period or an invoice of the month, in the order of
    their ids (by code point), read BATCH customers at a time (keyset on the id); the first PREVIEW rows
    are also kept in `preview`."""
    kind_of = {}
    for name, row in CATEGORIES.items():
        kind_of[name] = "overage" if row.charge is Charge.QUOTA else "always_billed"
    # a service credit gives back part of the subscription: the Summary's subscription is net of it
    kind_of.update({"subscription": "subscription", "service_credit": "subscription", "surcharge": "surcharge",
                    "penalty": "penalties", "indemnity": "penalties"})
    last = None
    while True:
        with session_scope(engine) as session:
            key_of_period = _by_code_point(QuotaPeriod.customer_id, session)
            key_of_invoice = _by_code_point(Invoice.customer_id, session)
            periods = select(QuotaPeriod.customer_id.label("customer_id")).where(QuotaPeriod.month == month)
            invoiced = select(Invoice.customer_id.label("customer_id")).where(_invoices_of(month))
            if last is not None:
                periods, invoiced = periods.where(key_of_period > last), invoiced.where(key_of_invoice > last)
            either = union(periods, invoiced).subquery()
            ids = list(session.scalars(select(either.c.customer_id)
                                       .order_by(_by_code_point(either.c.customer_id, session)).limit(BATCH)))
            if not ids:
                return
            names = dict(session.execute(select(Customer.customer_id, Customer.name)
                                         .where(Customer.customer_id.in_(ids))).all())
            rows = {customer_id: {"customer_id": customer_id, "name": names.get(customer_id, ""),
                                  "included_minutes": 0, "used_minutes": 0, "over_minutes": 0, "subscription": ZERO,
                                  "overage": ZERO, "always_billed": ZERO, "surcharge": ZERO, "penalties": ZERO,
                                  "invoices": [], "total_ht": ZERO, "total_vat": ZERO, "total_ttc": ZERO}
                    for customer_id in ids}
            for customer_id, included, used, over in session.execute(
                    select(QuotaPeriod.customer_id, QuotaPeriod.included_minutes, QuotaPeriod.used_minutes,
                           QuotaPeriod.over_minutes).where(QuotaPeriod.month == month,
                                                           QuotaPeriod.customer_id.in_(ids))):
                record = rows[customer_id]
                record["included_minutes"], record["used_minutes"], record["over_minutes"] = included, used, over
            for customer_id, category, amount in session.execute(
                    select(Invoice.customer_id, InvoiceLine.category, func.sum(InvoiceLine.amount_ht))
                    .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
                    .where(_invoices_of(month), Invoice.customer_id.in_(ids))
                    .group_by(InvoiceLine.invoice_id, Invoice.customer_id, InvoiceLine.category)):
                # each invoice's sum per category to the cent, as its own lines add up
                rows[customer_id][kind_of.get(category, "always_billed")] += Decimal(amount).quantize(CENT)
            for customer_id, number, total_ht, total_vat, total_ttc in session.execute(
                    select(Invoice.customer_id, Invoice.number, Invoice.total_ht, Invoice.total_vat, Invoice.total_ttc)
                    .where(_invoices_of(month), Invoice.customer_id.in_(ids)).order_by(Invoice.number)):
                record = rows[customer_id]
                record["invoices"].append(number)
                record["total_ht"] += total_ht
                record["total_vat"] += total_vat
                record["total_ttc"] += total_ttc
        for customer_id in ids:
            record = rows[customer_id]
            record["invoices"] = ", ".join(record["invoices"])
            if len(preview) < PREVIEW:
                preview.append(record)
            yield record
        last = ids[-1]


def _invoices(engine, month: str) -> Iterator[dict]:
    """The Invoices sheet's rows, the month's monthly and penalty invoices by number, read BATCH invoices at
    a time (keyset on the number: an invoice of a month without drafts is numbered), each with what is left
    to pay and its last status on the e-invoicing platform."""
    last = None
    while True:
        with session_scope(engine) as session:
            query = (select(Invoice.id, Invoice.number, Invoice.customer_id, Customer.name, Invoice.kind,
                            Invoice.month, Invoice.status, Invoice.issued_on, Invoice.due_on, Invoice.total_ht,
                            Invoice.total_vat, Invoice.total_ttc, Invoice.document_key)
                     .outerjoin(Customer, Customer.customer_id == Invoice.customer_id)
                     .where(_invoices_of(month)).order_by(Invoice.number).limit(BATCH))
            invoices = session.execute(query if last is None else query.where(Invoice.number > last)).all()
            if not invoices:
                return
            ids = [invoice.id for invoice in invoices]
            paid = paid_by_invoice(session, ids)
            platform = last_statuses(session, ids)
            rows = [{"number": invoice.number, "customer_id": invoice.customer_id, "customer_name": invoice.name or "",
                     "kind": invoice.kind, "month": invoice.month, "status": invoice.status,
                     "issued_on": invoice.issued_on, "due_on": invoice.due_on, "total_ht": invoice.total_ht,
                     "total_vat": invoice.total_vat, "total_ttc": invoice.total_ttc,
                     "balance": balance(invoice.total_ttc, invoice.status, paid.get(invoice.id, ZERO)),
                     "einvoice_status": (f"{platform[invoice.id].code} {platform[invoice.id].label}"
                                         if invoice.id in platform else ""),
                     "document": invoice.document_key or ""} for invoice in invoices]
        yield from rows
        last = invoices[-1].number


def _credit_notes(session, month: str, names: dict[str, str]) -> list[dict]:
    """The credit notes issued in the month, their totals negative as the ledger holds them."""
    notes = session.scalars(select(Invoice).where(Invoice.kind == InvoiceKind.CREDIT_NOTE, Invoice.month == month,
                                                  Invoice.number.is_not(None))
                            .order_by(Invoice.number)).all()
    credited = _labels(session, {note.credits_id for note in notes})
    return [{"number": note.number, "customer_id": note.customer_id, "customer_name": names.get(note.customer_id, ""),
             "credits": credited.get(note.credits_id, ""), "issued_on": note.issued_on,
             "reason": note.description or "", "total_ht": note.total_ht, "total_vat": note.total_vat,
             "total_ttc": note.total_ttc, "document": note.document_key or ""} for note in notes]


def _labels(session, invoice_ids: set[int | None]) -> dict[int, str]:
    """Each invoice's label (its number, or an imported invoice's id)."""
    ids = sorted(invoice_id for invoice_id in invoice_ids if invoice_id is not None)
    if not ids:
        return {}
    invoices = session.scalars(select(Invoice).where(Invoice.id.in_(ids)))
    return {invoice.id: invoice_label(invoice) for invoice in invoices}


def _credit_movements(session, month: str, names: dict[str, str]) -> list[dict]:
    """The movements of the customers' credit dated in the month (+ owed to the customer, - used or paid
    back), each with what finance looks up: the refund's bank reference, else the payment, else the invoice."""
    first, following = month_bounds(month)
    movements = session.scalars(select(CustomerCredit).where(CustomerCredit.on >= first, CustomerCredit.on < following)
                                .order_by(CustomerCredit.on, CustomerCredit.id)).all()
    labels = _labels(session, {movement.invoice_id for movement in movements})
    return [{"on": movement.on, "customer_id": movement.customer_id,
             "customer_name": names.get(movement.customer_id, ""), "kind": movement.kind, "amount": movement.amount,
             "reference": movement.reference or movement.payment_id or labels.get(movement.invoice_id, "")}
            for movement in movements]


def _naive_paris(instant: datetime | None) -> datetime | None:
    """An instant as Excel holds a time: Paris wall-clock time, without a zone."""
    return instant.astimezone(PARIS).replace(tzinfo=None) if instant is not None else None


EARLIEST = datetime(1, 1, 2, tzinfo=timezone.utc)


def _commitments(session, month: str, names: dict[str, str], terms: Terms) -> tuple[list[dict], list[Measured]]:
    """One row per clock of each ticket closed in the month (the Paris calendar month of `closed_at`), in
    the order of the close then the ticket id (as text, byte by byte, whatever the database's collation).
    Each clock is evaluated as of the ticket's close, under `terms` (the close's): a moment recorded after
    the close (a reply sent once the ticket was closed) was not known then, so every clock has stopped, at
    its own stop or at the close, and is met or missed; `result` is that state, or `information` for an
    informational clock; `service_credit` what the closes gave back for that clock (operations/service_credits.py,
    corrections netted). With them, each ticket measured once (policy.commitment_metrics), grouped.

    Only the columns the clocks and the sheet need are read: a ticket's credentials (its token) never
    leave the ledger."""
    first, following = month_bounds(month)
    # bounded to what UTC can hold: Paris midnight of 1 January of year 1 is in year 0 in UTC
    start, end = (max(datetime.combine(day, time(0), tzinfo=PARIS), EARLIEST) for day in (first, following))
    tickets = session.execute(
        select(Ticket.ticket_id, Ticket.customer_id, Ticket.type, Ticket.channel, Ticket.severity, Ticket.level,
               Ticket.received_at, Ticket.first_response_at, Ticket.workaround_at, Ticket.resolved_at,
               Ticket.closed_at)
        .where(Ticket.closed_at >= start, Ticket.closed_at < end)).all()
    records, measured = [], []
    calendar = WorkingCalendar.of(terms)
    credited = by_ticket(session, {ticket.ticket_id for ticket in tickets})
    facts = clock_facts(session, [ticket.ticket_id for ticket in tickets])  # their pauses and customers' tiers
    for ticket in sorted(tickets, key=lambda ticket: (ticket.closed_at, ticket.ticket_id.encode())):
        clocked = clocked_ticket(ticket, known_until=ticket.closed_at)
        clocks = ticket_clocks(ticket, terms, ticket.closed_at, known_until=ticket.closed_at, **facts.of(ticket))
        measured.append(measure(ticket.ticket_id, ticket.customer_id, clocked, clocks, calendar))
        for clock in clocks:
            records.append({"ticket_id": ticket.ticket_id, "customer_id": ticket.customer_id,
                            "customer_name": names.get(ticket.customer_id, ""), "type": ticket.type,
                            "severity": ticket.severity, "level": ticket.level,
                            "received_at": _naive_paris(ticket.received_at),
                            "closed_at": _naive_paris(ticket.closed_at),
                            "clock": clock.name, "due_at": _naive_paris(clock.due_at),
                            "stopped_at": _naive_paris(clock.stopped_at),
                            "result": "information" if clock.informational else str(clock.state),
                            "service_credit": credited.get((ticket.ticket_id, clock.name))})
    return records, ordered(measured)


def _interventions(engine, month: str, names: dict[str, str], terms: Terms) -> Iterator[list]:
    """The interventions the month's close priced, oldest first, streamed in batches.

    Core rows read by position, not ORM rows by name: this loop runs once per intervention
    (200,000 in a large month) and was a tenth of the export's time.

    Each row recomputes from itself: amount_ht = billed_minutes / 60 x the hourly rate applied (after the
    urgent discount; shown only where minutes were billed) + the category's fixed fee (shown where it was
    charged), to the cent (policy.quota.price)."""
    rates = {name: hourly_rate(name, terms) for name, row in CATEGORIES.items() if row.charge is not Charge.FREE}
    fees = {name: fee for name in CATEGORIES if (fee := fixed_fee(name, terms))}
    query = (select(Intervention.started_at, Intervention.month, Intervention.customer_id, Intervention.ticket,
                    Intervention.engineer, Intervention.category, Intervention.minutes, Intervention.free_minutes,
                    Intervention.billed_minutes, Intervention.amount_ht,
                    func.coalesce(Invoice.number, Invoice.external_id))
             .outerjoin(Invoice, Invoice.id == Intervention.invoice_id)
             .where(Intervention.close_month == month)
             .order_by(Intervention.started_at, Intervention.intervention_id))
    name_of, rate_of, fee_of = names.get, rates.get, fees.get
    with session_scope(engine) as session:
        rows = session.connection().execution_options(stream_results=True, yield_per=5000).execute(query)
        # in the Interventions sheet's column order (reports.billable_workbook.INTERVENTIONS)
        for started_at, service_month, customer_id, ticket, engineer, category, minutes, free, billed, amount, \
                invoice in rows:
            yield [started_at.astimezone(PARIS).replace(tzinfo=None), service_month, customer_id,
                   name_of(customer_id, ""), ticket, engineer, category, minutes, free, billed,
                   rate_of(category) if billed else None, fee_of(category) if amount else None, amount, invoice]


def export_month(month: str, storage: ObjectStorage, fallback_terms: Terms, *, flow_run_id: str | None,
                 engine=None) -> ExportResult:
    parse_month(month)
    with session_scope(engine) as session:
        drafts = session.scalar(select(func.count()).select_from(Invoice).where(
            Invoice.close_month == month, Invoice.status == InvoiceStatus.DRAFT))
        if drafts:
            raise ExportRefused(f"{month} has {drafts} draft invoice(s): finalise or discard the close first")
        close = session.get(MonthlyClose, month)
        terms = Terms(**close.terms) if close is not None else fallback_terms
        # every customer's name, for the Interventions sheet's rows (and the small sheets): a dict, as it is
        # small beside the export's bound (9.5 MB at 50,000 customers, issue 29), where a join per
        # intervention would cost every one of its rows
        names = dict(session.execute(select(Customer.customer_id, Customer.name)).all())
        credit_notes = _credit_notes(session, month, names)
        credits = _credit_movements(session, month, names)
        commitments, measured = _commitments(session, month, names, terms)
        close_status = close.status if close is not None else "not closed"
    about = [("month", month), ("generated_at", datetime.now(PARIS).replace(tzinfo=None, microsecond=0)),
             ("close", close_status), ("flow_run_id", flow_run_id),
             ("included_minutes", terms.included_minutes), ("billing_increment_minutes", terms.billing_increment_minutes),
             ("data_recovery_fee", terms.data_recovery_fee), ("feature_urgent_factor", terms.feature_urgent_factor),
             ("card_surcharge_rate", terms.card_surcharge_rate), ("installment_fee", terms.installment_fee),
             ("other_payment_fee", terms.other_payment_fee), ("late_penalty_rate", terms.late_penalty_rate),
             ("late_indemnity", terms.late_indemnity)]
    about += [(f"hourly_rate.{name}", rate) for name, rate in sorted(terms.hourly_rates.items())]
    # the limits the Commitments sheet's due times come from
    about += [(f"commitment.{row.name}", "; ".join(
        [row.limit.describe()] + [f"{severity}: {limit.describe()}" for severity, limit in row.by_severity.items()]
        + (["information"] if row.informational else []))) for row in terms.commitments]
    with scratch_folder() as folder:
        path = Path(folder) / file_name(month, 1)
        summary: list[dict] = []  # the Summary's first rows, as the run's result (the whole sheet streams)
        written = write_workbook(path, month=month, summary=_summary(engine, month, summary),
                                 interventions=_interventions(engine, month, names, terms),
                                 invoices=_invoices(engine, month),
                                 credit_notes=credit_notes, credits=credits, commitments=commitments,
                                 measured=[vars(item) for item in measured], about=about,
                                 language=terms.workbook_language)
        store = storage.store()
        store.claim()  # another installation's store: refused before its workbook at this key counts as ours
        with session_scope(engine, write=True) as session:
            one_at_a_time(session, f"export:{month}")
            same = session.scalar(select(Export).where(Export.month == month, Export.fingerprint == written.fingerprint))
            if same is not None:
                if store.exists(same.key):
                    if same.sha256 is None:  # exported before the digest was recorded (migration 0024)
                        same.sha256 = _recorded_digest(store, same.key, same.bytes)
                    return ExportResult(month, same.key, same.version, False, same.rows, same.fingerprint, summary,
                                        written.totals, written.interventions)
                # the ledger knows this content, but its file is gone from storage (deleted by someone): a
                # dead link and a failing --out until it is written again, under the same key and version
                with path.open("rb") as handle, progress(f"the workbook of {month}", path.stat().st_size):
                    same.bytes = store.put_stream(same.key, handle)
                same.sha256 = _digest(path)
                audit.record(session, "export_rewritten", customer_id=None, actor="billable-export",
                             flow_run_id=flow_run_id, before={"key": same.key, "missing": True},
                             after={"key": same.key, "version": same.version, "bytes": same.bytes})
                return ExportResult(month, same.key, same.version, False, same.rows, same.fingerprint, summary,
                                    written.totals, written.interventions, rewritten=True)
            version = (session.scalar(select(func.max(Export.version)).where(Export.month == month)) or 0) + 1
            key = object_key(month, version)
            with path.open("rb") as handle, progress(f"the workbook of {month}", path.stat().st_size):
                size = store.put_stream(key, handle)
            failpoint("export.uploaded")
            session.add(Export(month=month, version=version, key=key, fingerprint=written.fingerprint,
                               rows=written.rows, bytes=size, created_at=now(), flow_run_id=flow_run_id,
                               sha256=_digest(path)))
    return ExportResult(month, key, version, True, written.rows, written.fingerprint, summary, written.totals,
                        written.interventions)


def _digest(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _recorded_digest(store, key: str, size: int) -> str | None:
    """The SHA-256 of a workbook exported before digests were recorded, read from its stored file while that
    file still has the size recorded (then the downloads server checks it by digest); None otherwise."""
    import hashlib

    digest, read = hashlib.sha256(), 0
    with store.open(key) as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            read += len(block)
    return digest.hexdigest() if read == size else None


def download_link(storage: ObjectStorage, key: str) -> str:
    """A link finance can click: the embedded download server for a local folder, a presigned URL on S3."""
    base = lifecycle_config.download_base()
    if base and storage.resolved_url().startswith("file://"):
        return f"{base.rstrip('/')}/{key}"
    return storage.store().link(key)

