"""What `lifecycle show` prints: one list of plain records per subject, fields as docs/reference/cli.md lists.

Amounts are strings with two decimals, dates ISO 8601, so JSON, CSV and the table agree to the cent.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from lifecycle_config import clock
from ledger.models import (AuditEntry, Backup, Cancellation, Customer, DeletionCertificate, DeletionIntent, Intervention,
                           Invoice, Notice)
from policy.vocabulary import BackupStatus
from ledger.einvoicing import last_statuses
from ledger.queries import active_standby_customers, invoice_label, paid_by_invoice
from policy.balances import balance
from policy.calendar import month_bounds, month_key, paris_date, parse_month
from policy.ids import id_problem
from policy.vocabulary import InvoiceKind, InvoiceStatus


def amount(value: Decimal | None) -> str | None:
    return None if value is None else format(value.quantize(Decimal("0.01")), "f")


def rate(value: Decimal) -> str:
    """A rate with at least two decimals: 0.20, 0.055."""
    short = value.quantize(Decimal("0.01"))
    return format(short if short == value else value.normalize(), "f")


def iso(value: date | datetime | None) -> str | None:
    """A date, or an instant in UTC (JSON keeps UTC; a due time computed in Paris time is turned to it)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return None if value is None else value.isoformat()


def _in_month(instant: datetime, month: str | None) -> bool:
    """Whether an instant falls in a Paris calendar month (any month when none is asked)."""
    if not month:
        return True
    try:
        return month_key(paris_date(instant)) == month
    except OverflowError:  # stored at the calendar's edge (an older release let 9999-12-31 in): in no month asked
        return False


def _cancellations(session: Session) -> dict[str, dict]:
    """`show customers`' `cancellation`: each customer's latest one."""
    latest: dict[str, dict] = {}
    for cancellation in session.scalars(select(Cancellation).order_by(Cancellation.received_on, Cancellation.id)):
        latest[cancellation.customer_id] = {"received_on": cancellation.received_on.isoformat(),
                                            "effective_on": cancellation.effective_on.isoformat(),
                                            "status": cancellation.status}
    return latest


def customers(session: Session, month: str | None = None) -> list[dict[str, Any]]:
    from ledger.credits import credit_of

    on_standby = active_standby_customers(session)
    credits = credit_of(session)
    cancellations = _cancellations(session)
    # approved and begun (its intent recorded, a killed run's the next sweep completes): the stored status still
    # says awaiting_approval until the certificate, which would have someone approve it again; said in a field of
    # its own, `deletion_status` keeping the values the interface lists
    deleting = set(session.scalars(select(DeletionIntent.customer_id).where(DeletionIntent.completed_at.is_(None))))
    return [
        {
            "customer_id": customer.customer_id,
            "name": customer.name,
            "email": customer.email,
            "stage": customer.stage,
            "deletion_status": customer.deletion_status,
            "deletion_under_way": customer.customer_id in deleting,
            "deletion_due_on": iso(customer.deletion_due_on),
            "standby": customer.customer_id in on_standby,
            "admin_enabled": customer.admin_enabled,
            "platform_enabled": customer.platform_enabled,
            "operations_enabled": customer.operations_enabled,
            "monthly_fee": amount(customer.monthly_fee),
            "payment_method": customer.payment_method,
            "billing_cycle": customer.billing_cycle,
            "dunning_exempt": customer.dunning_exempt,
            "language": customer.language,  # fr | en; None: the terms' invoice_language
            "commitment_tier": customer.commitment_tier,  # None: the terms' default commitments
            "buyer_kind": customer.buyer_kind,  # fr_business | foreign_business | private: the reform's routing
            "credit": amount(credits.get(customer.customer_id, Decimal("0.00"))),  # what the vendor owes it
            "cancellation": cancellations.get(customer.customer_id),
            "id_problem": id_problem(customer.customer_id),  # an unsafe id an older release let in, else None
        }
        for customer in session.scalars(select(Customer).order_by(Customer.customer_id))
    ]


def latest_mails(session: Session, invoice_ids: list[int]) -> dict[int, tuple[str, str | None]]:
    """Each invoice's latest mail (the one that carries its document): its status (`pending`, `sent` or
    `failed`) and its last error."""
    latest: dict[int, tuple[str, str | None]] = {}
    for invoice_id, status, error in session.execute(
            select(Notice.invoice_id, Notice.status, Notice.last_error)
            .where(Notice.invoice_id.in_(invoice_ids)).order_by(Notice.id)):
        latest[invoice_id] = (status, error)
    return latest


def invoices(session: Session, month: str | None = None, *, issued_in: str | None = None) -> list[dict[str, Any]]:
    """Invoices of a service month (`month`: the month billed; an imported invoice's is the month its
    period starts) and/or issued in a month (`issued_in`, by `issued_on`: drafts have none)."""
    query = select(Invoice).options(selectinload(Invoice.lines)).order_by(Invoice.month, Invoice.number, Invoice.id)
    if month:
        parse_month(month)
        query = query.where(Invoice.month == month)
    if issued_in:
        first, after = month_bounds(issued_in)
        query = query.where(Invoice.issued_on >= first, Invoice.issued_on < after)
    rows = session.scalars(query).all()
    paid = paid_by_invoice(session, [invoice.id for invoice in rows]) if rows else {}
    mails = latest_mails(session, [invoice.id for invoice in rows]) if rows else {}
    platform = last_statuses(session, [invoice.id for invoice in rows]) if rows else {}
    credited = {invoice.id: invoice_label(invoice) for invoice in session.scalars(
        select(Invoice).where(Invoice.id.in_({row.credits_id for row in rows if row.credits_id})))}
    return [
        {
            "number": invoice.number if invoice.kind != InvoiceKind.IMPORTED else invoice.external_id,
            "customer_id": invoice.customer_id,
            "month": invoice.month,
            "period_start": iso(invoice.period_start),   # the subscription service period it billed
            "period_end": iso(invoice.period_end),
            "kind": invoice.kind,
            "status": invoice.status,
            "issued_on": iso(invoice.issued_on),
            "due_on": iso(invoice.due_on),
            "total_ht": amount(invoice.total_ht),
            "total_vat": amount(invoice.total_vat),
            "total_ttc": amount(invoice.total_ttc),
            "balance": amount(balance(invoice.total_ttc, invoice.status, paid.get(invoice.id, Decimal("0.00")))),
            "document": invoice.document_key or None,
            "mail_status": mails[invoice.id][0] if invoice.id in mails else None,
            "credits": credited.get(invoice.credits_id),  # a credit note's invoice
            # its last status on the e-invoicing platform (XP Z12-012's code), when it was deposited there
            "einvoice_status": platform[invoice.id].code if invoice.id in platform else None,
            "einvoice_status_label": platform[invoice.id].label if invoice.id in platform else None,
            "einvoice_status_at": iso(platform[invoice.id].at) if invoice.id in platform else None,
            "lines": [
                {
                    "description": line.description,
                    "category": line.category,
                    "quantity": format(line.quantity.normalize(), "f"),
                    "unit_price": amount(line.unit_price),
                    "amount_ht": amount(line.amount_ht),
                    "vat_rate": rate(line.vat_rate),
                }
                for line in invoice.lines
            ],
        }
        for invoice in rows
    ]


def interventions(session: Session, month: str | None = None) -> list[dict[str, Any]]:
    query = select(Intervention, Invoice).outerjoin(Invoice, Intervention.invoice_id == Invoice.id).order_by(
        Intervention.started_at, Intervention.intervention_id
    )
    if month:
        parse_month(month)
        query = query.where(Intervention.month == month)
    return [
        {
            "intervention_id": item.intervention_id,
            "customer_id": item.customer_id,
            "started_at": iso(item.started_at),
            "month": item.month,
            "minutes": item.minutes,
            "category": item.category,
            "ticket": item.ticket,
            "engineer": item.engineer,
            "free_minutes": item.free_minutes,
            "billed_minutes": item.billed_minutes,
            "amount_ht": amount(item.amount_ht),
            "invoice_number": invoice_label(invoice) if invoice is not None and invoice.status != InvoiceStatus.DRAFT else None,
        }
        for item, invoice in session.execute(query)
    ]


def _backup_key(backup: Backup, shredded: set[str]) -> str:
    """Which data key encrypts the backup (its manifest says), "shredded" once a deletion destroyed it;
    "none" for a backup made before encryption (clear gzip) or never written."""
    key_id = ((backup.manifest or {}).get("encryption") or {}).get("key_id")
    if not key_id:
        return "none"
    return f"{key_id} (shredded)" if key_id in shredded else key_id


def _backup_lock(backup: Backup) -> str:
    """The backup's Object Lock: mode and retain-until, or none; a deleted backup whose objects wait for it says so.
    The instant is in UTC, as every instant of a record (`show` writes it in Paris time in the table and CSV, where
    a lock that ends at 00:00 in Paris reads as that day, not a day early)."""
    if not backup.lock_mode or backup.locked_until is None:
        return "none"
    until = backup.locked_until if backup.locked_until.tzinfo else backup.locked_until.replace(tzinfo=timezone.utc)
    lock = f"{backup.lock_mode} until {iso(until)}"
    if backup.status == BackupStatus.DELETED:
        return f"{lock}, removed then" if backup.deleted_at is None else f"{lock} (objects removed)"
    return lock


def backups(session: Session, month: str | None = None) -> list[dict[str, Any]]:
    query = select(Backup).order_by(Backup.created_at, Backup.backup_id)
    shredded = {entry.get("key_id") for certificate in session.scalars(select(DeletionCertificate))
                for entry in (certificate.deleted or {}).get("keys_shredded") or []}
    return [
        {
            "backup_id": backup.backup_id,
            "customer_id": backup.customer_id,
            "kind": backup.kind,
            "created_at": iso(backup.created_at),
            "status": backup.status,
            "rows": backup.rows,
            "bytes": backup.bytes,
            "verified_at": iso(backup.verified_at),
            "key": _backup_key(backup, shredded),
            "lock": _backup_lock(backup),
        }
        for backup in session.scalars(query)
        if _in_month(backup.created_at, month)
    ]


def notices(session: Session, month: str | None = None) -> list[dict[str, Any]]:
    rows = session.scalars(select(Notice).order_by(Notice.id)).all()
    return [
        {
            "customer_id": notice.customer_id,
            "kind": notice.kind,
            "sent_at": iso(notice.sent_at),
            "to": notice.to,
            "subject": notice.subject,
            "transport": notice.transport,
            "location": notice.location,
            "status": notice.status,
            "attempts": notice.attempts,
            "last_error": notice.last_error,
        }
        for notice in rows
        if _in_month(notice.sent_at, month)
    ]


def audit(session: Session, month: str | None = None) -> list[dict[str, Any]]:
    rows = session.scalars(select(AuditEntry).order_by(AuditEntry.at, AuditEntry.id)).all()
    return [
        {
            "at": iso(entry.at),
            "customer_id": entry.customer_id,
            "action": entry.action,
            "before": entry.before,
            "after": entry.after,
            "actor": entry.actor,
            "flow_run_id": entry.flow_run_id,
        }
        for entry in rows
        if _in_month(entry.at, month)
    ]


def drills(session: Session, month: str | None = None) -> list[dict[str, Any]]:
    """The restore drills' evidence, one backup drilled a line, from the audit log (operations/drill.py)."""
    rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "restore-drill")
                           .order_by(AuditEntry.at, AuditEntry.id)).all()
    return [
        {
            "at": (entry.after or {}).get("at") or iso(entry.at),
            "customer_id": entry.customer_id,
            "backup_id": (entry.after or {}).get("backup_id"),
            "day": (entry.after or {}).get("day"),
            "tier": (entry.after or {}).get("tier"),
            "tables": ", ".join(f"{t['table']} {t['rows_read_back']}" for t in (entry.after or {}).get("tables") or []),
            "data_key": (entry.after or {}).get("data_key"),
            "sandbox": (entry.after or {}).get("sandbox"),
            "outcome": (entry.after or {}).get("outcome"),
            "detail": (entry.after or {}).get("detail"),
            "ran_by": entry.actor,
            "flow_run_id": entry.flow_run_id,
            "evidence": entry.after,
        }
        for entry in rows
        if _in_month(entry.at, month)
    ]


def terms(session: Session, month: str | None = None) -> list[dict[str, Any]]:
    """The terms the latest run used (from the ledger's copies), else the defaults."""
    from policy.terms import Terms

    from ledger.terms_copies import latest_copy

    copy = latest_copy(session)
    if copy is not None:
        values, source = copy.terms, f"{copy.source}, last used {copy.last_used_at.isoformat()}"
    else:
        values, source = Terms().model_dump(mode="json"), "defaults (no run has used terms yet)"
    descriptions = {name: info.description for name, info in Terms.model_fields.items()}
    flat: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, dict):
            for key, item in value.items():
                flat[f"{name}.{key}"] = item
        else:
            flat[name] = value
    return [
        {"term": name, "value": value, "source": source,
         "description": descriptions.get(name.split(".")[0], "")}
        for name, value in flat.items()
    ]


def _known(moment: datetime | None, known_until: datetime | None) -> datetime | None:
    """`moment`, unless it was recorded after `known_until` (then it was not known yet: None)."""
    return moment if moment is None or known_until is None or moment <= known_until else None


def clocked_ticket(ticket, *, known_until: datetime | None = None):
    """A ledger ticket (or a row with its columns) as the clocks see it (policy.commitments.Ticket); with
    `known_until`, a moment recorded after it was not known then and is left out."""
    from policy.commitments import Ticket as Clocked

    def known(moment: datetime | None) -> datetime | None:
        return _known(moment, known_until)

    return Clocked(type=ticket.type, received_at=ticket.received_at, severity=ticket.severity, level=ticket.level,
                   channel=ticket.channel, first_response_at=known(ticket.first_response_at),
                   workaround_at=known(ticket.workaround_at), resolved_at=known(ticket.resolved_at),
                   closed_at=known(ticket.closed_at))


def ticket_clocks(ticket, terms, at: datetime, *, known_until: datetime | None = None, events=(), pause_history=None,
                  tier: str | None = None):
    """The commitments' clocks of a ledger ticket (or a row with its columns) as of `at` (policy.commitments), paused
    and restarted by its `events` under the pause rule's history, with its customer's `tier` (policy.pauses; the
    keyword arguments `ledger.ticket_history.clock_facts(...).of(ticket)` gives); with `known_until`, a moment
    recorded after it was not known then and is left out."""
    from policy.commitments import clocks_under

    return clocks_under(terms, clocked_ticket(ticket, known_until=known_until), at,
                        events=[event for event in events if _known(event.at, known_until) is not None],
                        pause_history=pause_history, tier=tier)


def tickets(session: Session, month: str | None = None) -> list[dict[str, Any]]:
    """Tickets with their commitments' due times and state now (the worst of their clocks; `met` or `missed`
    once every clock stopped), the working minutes their clocks stood still and their customer's tier, with the
    terms the latest run used. Never the credentials: whether there are."""
    from ledger.models import Ticket
    from ledger.terms_copies import latest_terms
    from policy.commitments import WorkingCalendar, ticket_state
    from policy.warnings import next_warning_at
    from ledger.ticket_history import clock_facts
    from policy.pauses import paused_minutes

    terms = latest_terms(session)
    facts = clock_facts(session)
    at = clock.now()
    rows = []
    for ticket in session.scalars(select(Ticket).order_by(Ticket.received_at, Ticket.ticket_id)):
        if not _in_month(ticket.received_at, month) and not (ticket.closed_at and _in_month(ticket.closed_at, month)):
            continue
        try:
            clocks = {clock.name: clock for clock in ticket_clocks(ticket, terms, at, **facts.of(ticket))}
        except (OverflowError, ValueError):  # a due time past year 9999 (dates an older release let in)
            clocks = None
        delivery = next((clocks[name] for name in ("delivery", "blocking_workaround", "new_feature") if name in clocks),
                        None) if clocks else None
        state = ticket_state(clocks.values()) if clocks is not None else None
        rows.append({
            "ticket_id": ticket.ticket_id,
            "customer_id": ticket.customer_id,
            "type": ticket.type,
            "severity": ticket.severity,
            "level": ticket.level,
            "channel": ticket.channel,
            "received_at": iso(ticket.received_at),
            "response_due_at": iso(clocks["first_response"].due_at) if clocks and "first_response" in clocks else None,
            "delivery_due_at": iso(delivery.due_at) if delivery else None,
            "next_warning_at": iso(next_warning_at(clocks.values(), terms.warnings, at, WorkingCalendar.of(terms)))
            if clocks else None,
            "state": state.value if state else ("dates_out_of_range" if clocks is None else None),
            "clocks": {name: clock.state.value for name, clock in (clocks or {}).items()},
            "paused_minutes": paused_minutes((clocks or {}).values()),
            "tier": facts.tiers.get(ticket.customer_id),
            "closed_at": iso(ticket.closed_at),
            "has_credentials": ticket.credentials_token is not None,
        })
    return rows


#: the subjects that have no month: `--month` means nothing for them, and is refused rather than ignored
MONTHLESS = ("customers", "terms")

SUBJECTS: dict[str, Callable[[Session, str | None], list[dict[str, Any]]]] = {
    "customers": customers,
    "invoices": invoices,
    "interventions": interventions,
    "backups": backups,
    "notices": notices,
    "terms": terms,
    "audit": audit,
    "tickets": tickets,
    "drills": drills,
}
