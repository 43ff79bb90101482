"""A customer's cancellation, the whole of it: the letter, its withdrawal, the end of the service, the final statement.

Received (the registered letter): the effective date from the terms, an acknowledgment with the
account's balance that day (seed 001: "once the request is received, a balance of any account will be
communicated to you"). Withdrawn: only before the effective date. Effective (the day after the last
day of service): access off for good, the deletion announced for after the retention in the terms.
Closed: once the last month is billed for good (its close, or history imported), the balance statement,
sent and kept. Each step is one transaction under the customer's row lock, its notice recorded with it;
the rules are in policy/cancellation.py; notices go out through the outbox like every other.

A run uses `record_letter` (the `cancellation-request` flow), then each morning `end_services`,
`final_backups_missing`/`keep_final_backup` and `send_statements` (the `cancellations` flow); the step
functions under them (`receive`, `withdraw`, `take_effect`, `close`) take the caller's session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import ClassVar

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from blocks.settings import Settings
from ledger import audit, keys
from ledger.billed import billed_after, billed_through_days
from ledger.credits import CreditNoteResult, credit_of, issue_given_back
from ledger.db import now, session_scope
from ledger.models import Cancellation, Customer, Invoice, InvoiceLine, MonthlyClose, Payment, StandbyPeriod
from ledger.queries import active_standby_customers, invoice_label
from operations.effects import record_notice, record_switch
from operations.results import RunResult
from policy.balances import NOTHING_LEFT, paid
from policy.calendar import month_key, today_paris
from policy.chronology import before_start_problem, late_letter_problem
from policy.cancellation import (NOTICES, StandbyGiven, Statement, StatementLine, data_deletion_due, earliest_effective,
                                 effective_problem, last_month_billed,
                                 standby_given_after, unserved, unserved_text)
from policy.corrections import amount_line_within
from policy.invoicing import Line, totals
from policy.language import language_of, speak
from policy.refusals import Refusal
from policy.terms import Terms
from policy.text import quoted
from policy.window import DateWindow
from policy.vocabulary import BillingCycle, CancellationStatus, CloseStatus, DeletionStatus, InvoiceKind, InvoiceStatus, Stage, StandbyStatus

OPS = speak("en")  # the audit trail and the run's own sentences are for ops, in English


class CancellationRefused(Refusal, ValueError):
    """A cancellation step that cannot be taken as asked; the message says why, in one line."""


@dataclass(frozen=True)
class Step:
    """One step of a cancellation as a run took it (received, withdrawn, effective, closed): the run's line
    (`sentence`), the balance told the customer, the credit notes issued when it took effect."""

    cancellation_id: int
    customer_id: str
    received_on: date
    effective_on: date
    status: str
    sentence: str
    statement: Statement | None = None
    credit_notes: tuple[str, ...] = ()   # numbers issued when it took effect


def statement_of(session: Session, customer_id: str, day: date) -> Statement:
    """The account on `day`: each invoice with something left to pay, and the customer's credit."""
    settled: dict[int, list[tuple[date, Decimal]]] = {}
    for invoice_id, paid_on, amount in session.execute(
            select(Payment.invoice_id, Payment.paid_on, Payment.amount).join(Invoice, Invoice.id == Payment.invoice_id)
            .where(Invoice.customer_id == customer_id)):
        settled.setdefault(invoice_id, []).append((paid_on, amount))
    lines = []
    for invoice in session.scalars(select(Invoice).where(
            Invoice.customer_id == customer_id, Invoice.status.not_in((InvoiceStatus.DRAFT, *NOTHING_LEFT)),
            Invoice.kind != InvoiceKind.CREDIT_NOTE, Invoice.issued_on <= day).order_by(Invoice.issued_on, Invoice.id)):
        left = invoice.total_ttc - paid(settled.get(invoice.id, []), day)
        if left > 0:
            lines.append(StatementLine(left, invoice_label(invoice), invoice.issued_on, invoice.due_on,
                                       invoice.status == InvoiceStatus.DISPUTED))
    credit = credit_of(session, [customer_id]).get(customer_id, Decimal("0.00"))
    if credit:
        lines.append(StatementLine(-credit))
    return Statement(day, tuple(lines))


def _current(session: Session, customer_id: str) -> Cancellation | None:
    return session.scalar(select(Cancellation).where(Cancellation.customer_id == customer_id,
                                                     Cancellation.status != CancellationStatus.WITHDRAWN)
                          .order_by(Cancellation.received_on.desc()))


def receive(session: Session, customer_id: str, received_on: date, effective_on: date | None, terms: Terms, *,
            requested_by: str, actor: str, flow_run_id: str | None,
            today: date | None = None) -> tuple[Step, Customer, bool]:
    """Record the letter; returns the step, the customer and whether it was new (a repeat is harmless). A letter
    while another cancellation stands is refused, saying whether that one may still be withdrawn (`today`)."""
    customer = session.get(Customer, customer_id, with_for_update=True)
    if customer is None:
        raise CancellationRefused(f"no customer {quoted(customer_id)}")
    earliest = earliest_effective(received_on, customer.billing_cycle, customer.contract_start, terms)
    existing = _current(session, customer_id)
    if existing is not None:
        if existing.received_on == received_on and effective_on in (None, existing.effective_on):
            return _step(existing, "recorded already"), customer, False
        raise CancellationRefused(f"{customer_id} has a cancellation already (received {existing.received_on}, "
                                  f"last day {existing.effective_on}): "
                                  + (_not_withdrawable(existing, customer, today or received_on)
                                     or f"withdraw it first (lifecycle run cancel --customer {customer_id} --withdraw)"))
    if customer.stage == Stage.DATA_DELETED:
        raise CancellationRefused(f"{customer_id}'s data was deleted after arrears: there is no service to cancel")
    problem = effective_problem(effective_on, earliest, received_on)
    if problem:
        raise CancellationRefused(problem)
    # a last day in a month already closed (a letter recorded late) is the contract's: the days billed after
    # it are given back by credit notes when the cancellation takes effect (give_back_unserved)
    cancellation = Cancellation(customer_id=customer_id, received_on=received_on, effective_on=effective_on or earliest,
                                status=CancellationStatus.RECEIVED, requested_by=requested_by, created_at=now(),
                                flow_run_id=flow_run_id)
    session.add(cancellation)
    session.flush()
    audit.record(session, "cancellation_received", customer_id=customer_id, before=None, actor=actor,
                 flow_run_id=flow_run_id, after={"received_on": received_on, "effective_on": cancellation.effective_on,
                                                 "earliest": earliest, "requested_by": requested_by})
    step = _step(cancellation, f"received on {received_on}, effective on {cancellation.effective_on} "
                               f"(last day of service)", statement=statement_of(session, customer_id, received_on))
    return step, customer, True


def _not_withdrawable(cancellation: Cancellation, customer: Customer, day: date) -> str | None:
    """Why this cancellation can no longer be withdrawn on `day`, in words true of where it stands (None while
    it can: received, and its last day not over)."""
    if cancellation.status == CancellationStatus.RECEIVED and day <= cancellation.effective_on:
        return None
    again = f"serving {customer.customer_id} again needs a new contract"
    if customer.stage == Stage.DATA_DELETED:
        return f"it took effect and {customer.customer_id}'s data is deleted: it cannot be withdrawn any more; {again}"
    if cancellation.status == CancellationStatus.RECEIVED:
        return (f"its last day is over: it cannot be withdrawn any more (the morning's cancellations run ends the "
                f"service); {again}")
    where = {DeletionStatus.AWAITING_APPROVAL: "its data deletion awaits approval",
             DeletionStatus.REFUSED: "its data deletion was refused and the data is kept",
             DeletionStatus.NOTICE_SENT: f"its data is kept until {customer.deletion_due_on}"}.get(
        customer.deletion_status, "its service is over")
    ended = "its final invoice is issued" if cancellation.status == CancellationStatus.CLOSED else "access is off"
    return f"it took effect ({ended}; {where}): it cannot be withdrawn any more; {again}"


def withdraw(session: Session, customer_id: str, day: date, *, requested_by: str, actor: str,
             flow_run_id: str | None) -> tuple[Step, Customer]:
    customer = session.get(Customer, customer_id, with_for_update=True)
    if customer is None:
        raise CancellationRefused(f"no customer {quoted(customer_id)}")
    existing = _current(session, customer_id)
    if existing is None:
        raise CancellationRefused(f"{customer_id} has no cancellation to withdraw")
    problem = _not_withdrawable(existing, customer, day)
    if problem:
        raise CancellationRefused(f"{customer_id}'s cancellation (received {existing.received_on}, last day "
                                  f"{existing.effective_on}): {problem}")
    existing.status, existing.withdrawn_at = CancellationStatus.WITHDRAWN, now()
    audit.record(session, "cancellation_withdrawn", customer_id=customer_id, actor=actor, flow_run_id=flow_run_id,
                 before={"status": CancellationStatus.RECEIVED, "effective_on": existing.effective_on},
                 after={"status": CancellationStatus.WITHDRAWN, "requested_by": requested_by, "on": day})
    return _step(existing, f"withdrawn on {day}: the service goes on"), customer


def _locked_in(session: Session, cancellation_id: int, status: str) -> tuple[Cancellation, Customer] | None:
    """The cancellation and its customer, the customer's row locked, while the cancellation is still at
    `status` (read again under the lock: None when another run moved it on first)."""
    cancellation = session.get(Cancellation, cancellation_id)
    customer = session.get(Customer, cancellation.customer_id, with_for_update=True)
    session.refresh(cancellation)
    return (cancellation, customer) if cancellation.status == status else None


def due_to_take_effect(session: Session, day: date) -> list[int]:
    """Cancellations whose last day of service is over."""
    return list(session.scalars(select(Cancellation.id).where(Cancellation.status == CancellationStatus.RECEIVED,
                                                              Cancellation.effective_on < day)
                                .order_by(Cancellation.effective_on, Cancellation.id)))


def take_effect(session: Session, cancellation_id: int, day: date, terms: Terms, *, actor: str,
                flow_run_id: str | None, today: date | None = None) -> tuple[Step, Customer] | None:
    """The service is over: the customer is marked cancelled (every access switch now turns it off) and its
    deletion is announced for after the retention. None when another run did it first.

    `today`: the day the run really applies it (access off, the mail sent), when that is after `day` (a run
    `--as-of` a past day, a scheduled run started late): the retention and the notice count from then."""
    found = _locked_in(session, cancellation_id, CancellationStatus.RECEIVED)
    if found is None:
        return None
    cancellation, customer = found
    cancellation.status, cancellation.effective_at = CancellationStatus.EFFECTIVE, now()
    customer.cancelled_on = cancellation.effective_on
    if customer.stage != Stage.DATA_DELETED:
        customer.deletion_status = DeletionStatus.NOTICE_SENT
        customer.deletion_due_on = data_deletion_due(cancellation.effective_on, max(day, today or day), terms)
        customer.deletion_flow_run_id = None
    notes = give_back_unserved(session, cancellation, customer, day, terms, actor=actor, flow_run_id=flow_run_id)
    audit.record(session, "cancellation_effective", customer_id=customer.customer_id, actor=actor,
                 flow_run_id=flow_run_id, before={"status": CancellationStatus.RECEIVED},
                 after={"status": CancellationStatus.EFFECTIVE, "last_day": cancellation.effective_on,
                        "deletion_due_on": customer.deletion_due_on,
                        "credit_notes": [note.number for note in notes]})
    given = "".join(f"; credit note {note.number}: {-note.total_ttc} EUR TTC of invoice {note.credits} billed after "
                    f"the last day given back" for note in notes)
    step = _step(cancellation, f"took effect after {cancellation.effective_on}: access off, data kept until "
                               f"{customer.deletion_due_on}{given}", credit_notes=tuple(note.number for note in notes))
    return step, customer


def give_back_unserved(session: Session, cancellation: Cancellation, customer: Customer, day: date, terms: Terms, *,
                       actor: str, flow_run_id: str | None) -> list[CreditNoteResult]:
    """Every subscription day an issued invoice billed after the last day of service (a letter recorded late,
    months closed meanwhile, a year billed in advance) given back pro rata by a credit note on that invoice,
    in the customer's language: it settles what is left to pay on it (the arrears ladder no longer chases it),
    the rest becomes the customer's credit. One note per invoice, keyed by the cancellation: never twice."""
    words = speak(language_of(customer.language, terms.invoice_language))
    last_day = cancellation.effective_on
    invoices = [invoice for invoice in billed_after(session, customer.customer_id, last_day)
                if invoice.status not in NOTHING_LEFT]
    if not invoices:
        return []
    # the standby days of the billed periods, and of the whole month of the last day (what its close counted)
    standby = standby_days_between(session, customer.customer_id,
                                   min(last_day, *(invoice.period_start for invoice in invoices)).replace(day=1),
                                   max(invoice.period_end for invoice in invoices))
    given_back = standby_given(session, customer.customer_id)
    notes = []
    for invoice in invoices:
        lines = list(invoice.lines)
        # the lines that billed the period: an annual customer's standby netted on its year's invoice is a
        # negative line given back apart (standby_given), not a part of what the year billed
        own = [line for line in lines if line.category == "subscription" and line.amount_ht > 0]
        if own:
            base, rate = sum((line.amount_ht for line in own), Decimal("0.00")), own[0].vat_rate
        elif invoice.kind == InvoiceKind.IMPORTED:   # an imported invoice billed its period as a whole
            base = invoice.total_ht
            rate = lines[0].vat_rate if lines else (invoice.total_vat / invoice.total_ht).quantize(Decimal("0.0001"))
        else:
            continue
        # a monthly customer's month was billed with its standby days at the standby price: given back as billed
        priced_standby = (invoice.kind == InvoiceKind.MONTHLY and customer.billing_cycle != BillingCycle.ANNUAL
                          and month_key(invoice.period_start) == month_key(invoice.period_end))
        given = unserved(invoice.period_start, invoice.period_end, base, last_day, standby=standby,
                         standby_price_factor=terms.standby_price_factor if priced_standby else None)
        if given is None:
            continue
        earlier = session.scalars(select(Invoice).where(Invoice.credits_id == invoice.id,
                                                        Invoice.kind == InvoiceKind.CREDIT_NOTE,
                                                        Invoice.number.is_not(None))).all()
        # an annual customer's standby days after the last day, their half given back already by a close: the
        # cancellation gives those days back whole, so that half comes off, day by day (never twice)
        back = standby_given_after(given_back, standby, last_day, given.first, invoice.period_end,
                                   customer.subscription_start)
        amount = given.amount_ht - back
        if amount <= 0:
            continue
        text = unserved_text(words, last_day, given.first, invoice.period_end, given.days, given.of_days)
        line = Line(text, "subscription", Decimal(1), -amount, -amount, rate, month_key(given.first))
        credited = -sum((note.total_ttc for note in earlier), Decimal("0.00"))
        left = invoice.total_ttc - credited
        if left <= 0:
            continue
        if -totals([line]).ttc > left:   # earlier credit notes gave part of it back already: never more than billed
            line = amount_line_within(left, rate, text)   # never past it, even where VAT rounding skips `left`
            line = Line(text, "subscription", line.quantity, line.unit_price, line.amount_ht, rate,
                        month_key(given.first))
        notes.append(issue_given_back(session, invoice, [line], key=keys.credit_note(
            f"cancellation:{cancellation.id}:{invoice.id}"), reason=text, on=day, actor=actor,
            flow_run_id=flow_run_id))
    return notes


def standby_days_between(session: Session, customer_id: str, first: date, last: date) -> set[date]:
    """The customer's standby days in `first`..`last` (periods cover [start_on, end_on), as a close counts them)."""
    days: set[date] = set()
    for start_on, end_on in session.execute(select(StandbyPeriod.start_on, StandbyPeriod.end_on).where(
            StandbyPeriod.customer_id == customer_id, StandbyPeriod.status != StandbyStatus.CANCELLED,
            StandbyPeriod.start_on <= last, StandbyPeriod.end_on > first)):
        day = max(start_on, first)
        while day < end_on and day <= last:
            days.add(day)
            day += timedelta(days=1)
    return days


def standby_given(session: Session, customer_id: str) -> list[StandbyGiven]:
    """An annual customer's standby days given back by its closes: the lines of the closes' credit notes, and
    the negative subscription lines netted on its monthly invoices (issued, not void)."""
    rows = session.execute(
        select(InvoiceLine.service_month, InvoiceLine.quantity, InvoiceLine.amount_ht)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(Invoice.customer_id == customer_id, InvoiceLine.category == "subscription", InvoiceLine.amount_ht < 0,
               InvoiceLine.service_month.is_not(None),
               or_((Invoice.kind == InvoiceKind.CREDIT_NOTE) & Invoice.number.is_not(None)
                   & Invoice.invoice_key.startswith(keys.CLOSE_CREDIT_NOTE, autoescape=True),
                   (Invoice.kind == InvoiceKind.MONTHLY) & Invoice.status.not_in((InvoiceStatus.DRAFT,
                                                                                  InvoiceStatus.VOID)))))
    return [StandbyGiven(month, int(quantity), -amount) for month, quantity, amount in rows]


def without_final_backup(session: Session) -> list[tuple[int, str]]:
    """Cancellations in effect whose final backup is missing or not good (a killed run, a failed backup): one
    statement, as every daily run asks it of every cancellation ever made."""
    from ledger.models import Backup
    from policy.vocabulary import BackupStatus

    return [tuple(row) for row in session.execute(
        select(Cancellation.id, Cancellation.customer_id)
        .join(Customer, Customer.customer_id == Cancellation.customer_id)
        .outerjoin(Backup, Backup.backup_id == Cancellation.final_backup_id)
        .where(Cancellation.status.in_((CancellationStatus.EFFECTIVE, CancellationStatus.CLOSED)),
               Customer.stage != Stage.DATA_DELETED, or_(Backup.backup_id.is_(None), Backup.status != BackupStatus.GOOD))
        .order_by(Cancellation.id))]


def on_standby(session: Session, customer_id: str) -> bool:
    return customer_id in active_standby_customers(session)


def due_for_statement(session: Session) -> list[int]:
    """Effective cancellations whose last month is billed for good (policy.cancellation.last_month_billed): its
    close is finalised (the final invoice is issued), or the product will never close it (an imported invoice
    billed it, and the product's closes began after it)."""
    closed = set(session.scalars(select(MonthlyClose.month).where(MonthlyClose.status == CloseStatus.FINALISED)))
    effective = session.scalars(select(Cancellation).where(Cancellation.status == CancellationStatus.EFFECTIVE)
                                .order_by(Cancellation.id)).all()
    through = billed_through_days(session, [cancellation.customer_id for cancellation in effective
                                            if month_key(cancellation.effective_on) not in closed])
    return [cancellation.id for cancellation in effective
            if last_month_billed(cancellation.effective_on, closed, through.get(cancellation.customer_id))]


def close(session: Session, cancellation_id: int, day: date, *, actor: str,
          flow_run_id: str | None) -> tuple[Step, Customer] | None:
    """The final statement is due: every open invoice, the credit, the amount due or to refund."""
    found = _locked_in(session, cancellation_id, CancellationStatus.EFFECTIVE)
    if found is None:
        return None
    cancellation, customer = found
    cancellation.status, cancellation.closed_at = CancellationStatus.CLOSED, now()
    statement = statement_of(session, customer.customer_id, day)
    audit.record(session, "cancellation_closed", customer_id=customer.customer_id, actor=actor,
                 flow_run_id=flow_run_id, before={"status": CancellationStatus.EFFECTIVE},
                 after={"status": CancellationStatus.CLOSED, "balance": statement.total,
                        "lines": [(line.label(OPS), line.amount) for line in statement.lines]})
    step = _step(cancellation, f"closed on {day}: balance {statement.total} EUR ({statement.sentence(OPS)})",
                 statement=statement)
    return step, customer


def _step(cancellation: Cancellation, sentence: str, **more) -> Step:
    return Step(cancellation.id, cancellation.customer_id, cancellation.received_on, cancellation.effective_on,
                cancellation.status, sentence, **more)


# --- the operation as a run does it: each step in its own transaction, its notice recorded with it -------


class CancellationNotRecorded(Refusal):
    """The request was refused as asked; nothing changed."""


def _notify(session: Session, customer: Customer, step: str, cancellation_id: int, settings: Settings,
            flow_run_id: str | None, **facts) -> None:
    language = language_of(customer.language, settings.terms.invoice_language)
    if "statement" in facts:
        facts["statement"] = facts["statement"].text(language)
    subject, body = NOTICES[step].render(settings.terms, language, name=customer.name,
                                         contact=settings.notifications.support_phone, **facts)
    record_notice(session, customer, kind=NOTICES[step].kind, key=keys.cancellation_notice(step, cancellation_id),
                  subject=subject, body=body, flow_run_id=flow_run_id)


def _within_the_window(customer_id: str, terms: Terms, **days: date | None) -> None:
    """The letter's days lie in the plausible window (policy.window): the UI's form too, where 0001-01-01 would
    cut access with no notice."""
    window = DateWindow.of(terms)
    for name, value in days.items():
        problem = window.problem(value) if value else None
        if problem:
            raise CancellationNotRecorded(f"{customer_id}: {name} {problem}")


def late_letter(customer_id: str, received_on: date, terms: Terms, *, today: date | None = None) -> str | None:
    """A letter is never received before the customer's start (refused: CancellationNotRecorded); one received
    more than a year ago is returned as a problem the caller refuses unless a reason is given
    (policy.chronology): its last day would credit back every invoice since."""
    _within_the_window(customer_id, terms, received_on=received_on)  # its own words first: 0001-01-01
    with session_scope() as session:
        customer = session.get(Customer, customer_id)
        if customer is None:
            return None  # receive() says so
        problem = before_start_problem(received_on, customer.subscription_start, "received_on")
        if problem:
            raise CancellationNotRecorded(f"{customer_id}: {problem}")
        last_day = earliest_effective(received_on, customer.billing_cycle, customer.contract_start, terms)
    return late_letter_problem(received_on, today or today_paris(), last_day)


def record_letter(customer_id: str, received_on: date | None, effective_on: date | None, settings: Settings, *,
                  withdraw_it: bool = False, requested_by: str, actor: str, flow_run_id: str | None,
                  today: date | None = None) -> Step:
    """Record a customer's letter (received on `received_on`, default today), or withdraw its cancellation
    (`withdraw_it`), with the customer's notice, in one transaction. A letter recorded again is harmless (no
    second notice); what cannot be done as asked is a CancellationNotRecorded naming the customer."""
    today = today or today_paris()
    day = received_on or today
    if day > today:
        raise CancellationNotRecorded(f"{customer_id}: received_on {day} is after today: a letter is recorded once "
                                      f"received")
    _within_the_window(customer_id, settings.terms, received_on=received_on, effective_on=effective_on)
    try:
        with session_scope(write=True) as session:
            if withdraw_it:
                step, customer = withdraw(session, customer_id, today, requested_by=requested_by, actor=actor,
                                          flow_run_id=flow_run_id)
                _notify(session, customer, "withdrawn", step.cancellation_id, settings, flow_run_id,
                        received_on=step.received_on)
            else:
                step, customer, new = receive(session, customer_id, day, effective_on, settings.terms,
                                              requested_by=requested_by, actor=actor, flow_run_id=flow_run_id,
                                              today=today)
                if new:
                    _notify(session, customer, "received", step.cancellation_id, settings, flow_run_id,
                            received_on=step.received_on, effective_on=step.effective_on, statement=step.statement)
    except CancellationRefused as refused:
        said = str(refused)  # named once: most reasons start with the customer already
        raise CancellationNotRecorded(said if said.startswith(customer_id) else f"{customer_id}: {said}") from None
    return step


def end_services(day: date, settings: Settings, *, actor: str, flow_run_id: str | None,
                 today: date | None = None) -> list[Step]:
    """The cancellations whose last day is over before `day` take effect, each in its own transaction with its
    access switched off and its mail recorded (sent by the dispatcher); `today` is the day the mail goes out,
    whatever day the run works for. The steps name the credit notes that gave back days billed after the last
    day (their documents are the caller's to issue)."""
    with session_scope() as session:
        ending = due_to_take_effect(session, day)
    steps = []
    for cancellation_id in ending:
        with session_scope(write=True) as session:
            done = take_effect(session, cancellation_id, day, settings.terms, actor=actor, flow_run_id=flow_run_id,
                               today=today or today_paris())
            if done is None:   # another run did it first
                continue
            step, customer = done
            record_switch(session, customer, on_standby=on_standby(session, customer.customer_id),
                          reason="cancellation", key=keys.cancellation_notice("off", cancellation_id), actor=actor,
                          flow_run_id=flow_run_id)
            _notify(session, customer, "effective", cancellation_id, settings, flow_run_id,
                    effective_on=step.effective_on, deletion_due_on=customer.deletion_due_on)
        steps.append(step)
    return steps


def final_backups_missing() -> list[tuple[int, str]]:
    """(cancellation, customer) of each cancellation in effect whose final backup is missing or not good."""
    with session_scope() as session:
        return without_final_backup(session)


def keep_final_backup(cancellation_id: int, backup_id: str) -> None:
    """Name a good backup the cancellation's final one (nightly retention leaves it alone)."""
    with session_scope(write=True) as session:
        session.get(Cancellation, cancellation_id).final_backup_id = backup_id


def send_statements(day: date, settings: Settings, *, actor: str, flow_run_id: str | None) -> list[Step]:
    """The final statement of each cancellation in effect whose last month is billed for good, each closed in
    its own transaction with its mail recorded."""
    with session_scope() as session:
        closing = due_for_statement(session)
    steps = []
    for cancellation_id in closing:
        with session_scope(write=True) as session:
            done = close(session, cancellation_id, day, actor=actor, flow_run_id=flow_run_id)
            if done is None:
                continue
            step, customer = done
            _notify(session, customer, "statement", cancellation_id, settings, flow_run_id,
                    balance=step.statement.total, statement=step.statement)
        steps.append(step)
    return steps


@dataclass(frozen=True)
class LetterRecorded(RunResult):
    """The cancellation-request run's result: the letter's step, the balance told the customer."""
    flow: ClassVar[str] = "cancellation-request"
    customer_id: str
    received_on: date
    effective_on: date
    status: CancellationStatus
    sentence: str
    balance: Decimal | None
    pending: list[str]               # what the outbox left to the next run, one line a reason


@dataclass(frozen=True)
class CancellationsDone(RunResult):
    """The cancellations run's result: each step taken (customer, step, detail, final backup)."""
    flow: ClassVar[str] = "cancellations"
    day: date
    steps: list[dict]
    pending: list[str]
