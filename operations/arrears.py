"""The daily arrears sweep: penalties, stage changes with their effects and notices, deletion notices.

Facts are loaded in bulk; only customers with something owed, a stage or a pending deletion are
looked at, each in its own short transaction with its row locked, so two sweeps at once do each
thing once and one failing platform call never undoes the others. The deletion itself runs in
`operations.deletion`, in a flow run of its own.

Plain Python: `sweep` opens its own transactions and returns an `ArrearsReport`; a customer's failure that
is a bug goes to `on_bug` (the Prefect task in tasks/arrears.py gives the run's logger, here it is Python's).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import ClassVar

from sqlalchemy import Numeric, and_, case, func, literal, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from blocks.settings import Settings
from ledger import audit, keys
from ledger.db import now, rehearsal, session_scope
from ledger.models import ArrearsSweep, Customer, Invoice, InvoiceLine, Payment, StageChange
from ledger.numbering import Corrects, OutOfOrder, issue_date, next_numbers
from ledger.queries import active_standby_customers, invoice_label
from policy.arrears import (Owed, Stage, anchor, deletion_due, deletion_due_on, deletion_eligible, deletion_plan,
                            ladder, overdue_balance, penalty_for, penalty_texts, state, transitions, unpaid_for)
from policy.balances import NEVER_ANCHOR, NOT_OWED
from policy.calendar import month_key, today_paris
from policy.invoicing import refuse_negative
from policy.language import language_of, speak
from policy.notices import duration
from policy.vocabulary import DeletionStatus, InvoiceKind, InvoiceStatus
from operations.bugs import BugLog, log_to_python
from operations.effects import record_notice, record_switch
from operations.results import RunResult
from lifecycle_config.conditions import one_line
from lifecycle_config.failpoints import failpoint
from policy.refusals import Refusal
from policy.text import markdown_literal, markdown_row

@dataclass
class ArrearsReport:
    day: date
    dry_run: bool
    transitions: list[dict] = field(default_factory=list)
    penalties: list[dict] = field(default_factory=list)
    deletion_notices: list[str] = field(default_factory=list)
    deletions_due: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # a rule refused (a number dated after today): not a bug
    superseded_by: date | None = None  # a later day swept already: this earlier one changes nothing

    def result(self, deletions: list[str]) -> ArrearsSwept:
        """The arrears-escalation run's result, with the deletions it found due (`deletions`)."""
        return ArrearsSwept(self.day, self.dry_run, self.transitions, self.penalties, self.deletion_notices, deletions,
                            self.superseded_by, self.superseded() if self.superseded_by else None)

    def superseded(self) -> str:
        return (f"the sweep for {self.superseded_by} ran already and did all an earlier day could, with more facts "
                f"(payments, time): nothing changed for {self.day}")

    def markdown(self) -> str:
        """The run's artifact; every stored text in it (a customer's id, an error's words) shown as stored."""
        rows = "\n".join(markdown_row(t["customer_id"], t["from"], t["to"], t["effective_on"], t["anchor"])
                         for t in self.transitions) or "| | | no change | | |"
        penalties = "\n".join(markdown_row(p["number"] or "(dry run)", p["customer_id"], p["invoice"], p["base"],
                                           p["penalty"], p["indemnity"])
                              for p in self.penalties) or "| | | none | | | |"

        def items(lines: list[str]) -> str:
            return "\n".join(f"- {markdown_literal(line)}" for line in lines)

        lines = [f"# Arrears {'dry run ' if self.dry_run else ''}for {self.day}",
                 "## Stage changes\n\n| customer | from | to | effective on | anchor |\n|---|---|---|---|---|\n" + rows,
                 "## Penalty invoices\n\n| number | customer | overdue invoice | unpaid TTC | penalty 10 % | "
                 "indemnity |\n|---|---|---|---:|---:|---:|\n" + penalties,
                 "## Deletion notices\n\n" + (items(self.deletion_notices) or "_none_"),
                 "## Deletions due (each waits for its approval in its own run)\n\n"
                 + (items(self.deletions_due) or "_none_")]
        if self.superseded_by:
            lines.insert(1, f"**Nothing to do:** {markdown_literal(self.superseded())}.")
        if self.refused:
            lines.append("## Refused (tried again on the next run)\n\n" + items(self.refused))
        if self.failed:
            lines.append("## Failed (tried again on the next run)\n\n" + items(self.failed))
        return "\n\n".join(lines)


def _facts(session, customer_ids: list[str]) -> dict[str, list[tuple[int, Owed]]]:
    """Every issued invoice of these customers (its id and what arrears need of it), oldest due first.
    Plain rows, not ORM objects: the daily sweep reads thousands of customers' invoices."""
    facts: dict[str, list[tuple[int, Owed]]] = defaultdict(list)
    for start in range(0, len(customer_ids), 500):
        chunk = customer_ids[start:start + 500]
        payments: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
        for invoice_id, paid_on, amount in session.execute(
                select(Payment.invoice_id, Payment.paid_on, Payment.amount)
                .join(Invoice, Invoice.id == Payment.invoice_id).where(Invoice.customer_id.in_(chunk))):
            payments[invoice_id].append((paid_on, amount))
        for row in session.execute(
                select(Invoice.id, Invoice.customer_id, Invoice.number, Invoice.external_id, Invoice.invoice_key,
                       Invoice.kind, Invoice.status, Invoice.due_on, Invoice.total_ttc)
                .where(Invoice.customer_id.in_(chunk), Invoice.status != InvoiceStatus.DRAFT, Invoice.due_on.is_not(None))
                .order_by(Invoice.due_on, Invoice.id)):
            label = row.number or row.external_id or row.invoice_key
            facts[row.customer_id].append((row.id, Owed(label, row.kind, row.status, row.due_on, row.total_ttc,
                                                        tuple(payments.get(row.id, ())))))
    return facts


@dataclass(frozen=True)
class Standing:
    """What the daily sweep needs to know of one customer to tell whether today changes anything."""

    customer_id: str
    stage: str
    exempt: bool
    deletion_status: str | None
    deletion_due_on: date | None
    anchor: date | None        # due date of the oldest invoice unpaid at the end of the day
    penalty_pending: bool      # an invoice unpaid at the end of its due date and not penalised yet
    cancelled: bool = False    # its cancellation took effect: its deletion follows the cancellation's clock


#: a balance below half a cent is a paid invoice (SQLite sums amounts as binary floats)
HALF_CENT = literal(Decimal("0.005"), Numeric(14, 3))


def _standings(session, day: date) -> list[Standing]:
    """Every customer who owes something, has a stage or a pending deletion, in one statement: each
    invoice's balance at the end of the day and at the end of its due date come from one pass over
    its payments, so the daily sweep costs what a single query computing every stage costs. The
    rules in `_has_work` decide what is done."""
    by_day = func.coalesce(func.sum(case((Payment.paid_on <= day, Payment.amount))), 0)
    by_due = func.coalesce(func.sum(case((Payment.paid_on <= Invoice.due_on, Payment.amount))), 0)
    invoice = (select(Invoice.id, Invoice.customer_id, Invoice.due_on,
                      (Invoice.total_ttc - by_day).label("left_on_day"), (Invoice.total_ttc - by_due).label("left_on_due"))
               .outerjoin(Payment, Payment.invoice_id == Invoice.id)
               .where(Invoice.kind.not_in(NEVER_ANCHOR), Invoice.status.not_in(NOT_OWED), Invoice.due_on < day)
               .group_by(Invoice.id).subquery())
    penalty = aliased(Invoice)
    anchor_on = func.min(case((invoice.c.left_on_day > HALF_CENT, invoice.c.due_on)))
    pending = func.max(case((and_(invoice.c.left_on_due > HALF_CENT, penalty.id.is_(None)), 1), else_=0))
    owing = (select(invoice.c.customer_id, anchor_on.label("anchor"), pending.label("pending"))
             .outerjoin(penalty, penalty.penalty_for_id == invoice.c.id)
             .where(or_(invoice.c.left_on_day > HALF_CENT, invoice.c.left_on_due > HALF_CENT))
             .group_by(invoice.c.customer_id)
             .having(or_(anchor_on.is_not(None), pending == 1))
             .subquery())
    query = (select(Customer.customer_id, Customer.stage, Customer.dunning_exempt, Customer.deletion_status,
                    Customer.deletion_due_on, owing.c.anchor, owing.c.pending, Customer.cancelled_on)
             .outerjoin(owing, owing.c.customer_id == Customer.customer_id)
             .where(or_(owing.c.customer_id.is_not(None), Customer.stage != Stage.CURRENT.value,
                        Customer.deletion_status.is_not(None)))
             .order_by(Customer.customer_id))
    standings = []
    for customer_id, stage, exempt, status, due_on, anchor_on, pending, cancelled_on in session.execute(query):
        if anchor_on is not None and not isinstance(anchor_on, date):  # SQLite's MIN() returns the stored text
            anchor_on = date.fromisoformat(anchor_on)
        standings.append(Standing(customer_id, stage, bool(exempt), status, due_on, anchor_on, bool(pending),
                                  cancelled_on is not None))
    return standings


def _has_work(standing: Standing, day: date, settings: Settings, rules) -> bool:
    """Whether today changes anything for this customer, decided with the same rules the processing
    applies: a penalty to issue, a stage to change, a deletion notice, due date or cancellation."""
    if standing.stage == Stage.DATA_DELETED.value:
        return False
    exempt = standing.exempt
    if standing.penalty_pending and not exempt:
        return True
    if transitions(Stage(standing.stage), standing.anchor, day, rules, exempt=exempt):
        return True
    if standing.cancelled:
        return deletion_due(standing.deletion_status, standing.deletion_due_on, day)
    if deletion_eligible(standing.anchor, standing.stage, exempt, day, settings.terms) != bool(standing.deletion_status):
        return True
    return deletion_due(standing.deletion_status, standing.deletion_due_on, day)


def sweep(day: date, settings: Settings, *, dry_run: bool, actor: str, flow_run_id: str | None,
          engine=None, forced_reason: str | None = None, on_bug: BugLog = log_to_python,
          today: date | None = None) -> ArrearsReport:
    """Every customer whose day changes something: penalties, stage changes with their access changes and
    notices, deletion notices; each customer in its own transaction (a rolled-back one in a dry run).

    `today`: the day the notices really go out (default: the product's today). A catch-up for an earlier
    `day` still gives a deletion notice its full `deletion_notice_days` from the day it is sent."""
    report = ArrearsReport(day, dry_run)
    sent_on = max(day, today or today_paris())
    rules = ladder(settings.terms)
    with session_scope(engine) as session:
        report.superseded_by = _later_sweep(session, day)
        if report.superseded_by:
            return report
        customers = [standing for standing in _standings(session, day) if _has_work(standing, day, settings, rules)]
    if not dry_run:
        _record_sweep(day, forced_reason, flow_run_id, engine)
    scope = (lambda: rehearsal(engine)) if dry_run else (lambda: session_scope(engine, write=True))
    for customer in customers:
        try:
            with scope() as session:
                _process(session, customer.customer_id, day, settings, report, dry_run=dry_run, actor=actor,
                         flow_run_id=flow_run_id, sent_on=sent_on)
        except (Refusal, OutOfOrder) as refused:  # a rule's refusal (a clock set back): its reason, no class
            report.refused.append(f"{customer.customer_id}: {one_line(refused)}")
        except Exception as error:  # one customer's failure must not stop the sweep
            report.failed.append(f"{customer.customer_id}: {type(error).__name__}: {one_line(error)}")
            on_bug(customer.customer_id, error)
        failpoint("arrears.customer-recorded")
    return report


def _later_sweep(session, day: date) -> date | None:
    """The latest day swept, when it is after `day` (a catch-up for a missed day run after it)."""
    latest = session.scalar(select(ArrearsSweep.day).order_by(ArrearsSweep.day.desc()).limit(1))
    return latest if latest is not None and latest > day else None


def _record_sweep(day: date, forced_reason: str | None, flow_run_id: str | None, engine) -> None:
    """Recorded before any customer is looked at, so a catch-up started meanwhile stops at each customer."""
    try:
        with session_scope(engine, write=True) as session:
            if session.get(ArrearsSweep, day) is None:
                session.add(ArrearsSweep(day=day, first_run_at=now(), forced_reason=forced_reason,
                                         flow_run_id=flow_run_id))
    except IntegrityError:  # a sweep of the same day at once recorded it first
        pass


def _process(session, customer_id: str, day: date, settings: Settings, report: ArrearsReport, *, dry_run: bool,
             actor: str, flow_run_id: str | None, sent_on: date) -> None:
    terms = settings.terms
    customer = session.get(Customer, customer_id, with_for_update=True)
    if customer.stage == Stage.DATA_DELETED.value:
        return
    later = _later_sweep(session, day)  # a later day's sweep started since this one began: it decides
    if later:
        report.superseded_by = later
        return
    rows = _facts(session, [customer_id]).get(customer_id, [])
    for invoice_id, owed in rows:
        penalty = penalty_for(owed, day, terms, customer.dunning_exempt)
        if penalty is not None and session.scalar(select(Invoice.id).where(Invoice.penalty_for_id == invoice_id)) is None:
            report.penalties.append(_issue_penalty(session, customer, session.get(Invoice, invoice_id), penalty, day,
                                                   terms, actor, flow_run_id, dry_run, sent_on=sent_on))
    anchor_on = anchor([owed for _, owed in rows], day)
    overdue = overdue_balance([owed for _, owed in rows], day)
    rules = ladder(terms)
    on_standby = customer_id in active_standby_customers(session)
    for step in transitions(Stage(customer.stage), anchor_on, day, rules, exempt=customer.dunning_exempt):
        customer.stage = step.stage.value
        record_switch(session, customer, on_standby=on_standby, reason=f"arrears:{step.stage.value}",
                      key=keys.stage_entered(customer_id, step.stage, step.effective_on), actor=actor,
                      flow_run_id=flow_run_id)
        session.add(StageChange(customer_id=customer_id, previous_stage=step.previous.value, stage=step.stage.value,
                                effective_on=step.effective_on, anchor_due_on=anchor_on, recorded_at=now(),
                                flow_run_id=flow_run_id))
        audit.record(session, "stage_changed", customer_id=customer_id, before={"stage": step.previous.value},
                     after={"stage": step.stage.value, "effective_on": step.effective_on, "anchor": anchor_on},
                     actor=actor, flow_run_id=flow_run_id)
        _notify(session, settings, customer, state(step.stage).notice,
                keys.stage_entered(customer_id, step.stage, step.effective_on),
                anchor=anchor_on, on=step.effective_on, owed=overdue, flow_run_id=flow_run_id)
        report.transitions.append({"customer_id": customer_id, "from": step.previous.value, "to": step.stage.value,
                                   "effective_on": step.effective_on.isoformat(),
                                   "anchor": anchor_on.isoformat() if anchor_on else None})
    _deletion_schedule(session, settings, customer, anchor_on, overdue, day, report, dry_run=dry_run, actor=actor,
                       flow_run_id=flow_run_id, sent_on=sent_on)


def _notify(session, settings, customer, notice, key, *, anchor, on, owed, flow_run_id, due=None):
    """Record a notice of the ladder, in the words of the terms the run uses (the dispatcher sends it)."""
    language = language_of(customer.language, settings.terms.invoice_language)
    elapsed = duration(*unpaid_for(anchor, on), speak(language)) if anchor else None
    subject, body = notice.render(settings.terms, language, name=customer.name, anchor=anchor, on=on, owed=owed,
                                  due=due, unpaid_for=elapsed, contact=settings.notifications.support_phone)
    return record_notice(session, customer, kind=notice.kind, key=key, subject=subject, body=body,
                         flow_run_id=flow_run_id)


def _issue_penalty(session, customer, invoice, penalty, day, terms, actor, flow_run_id, dry_run, *,
                   sent_on: date) -> dict:
    """The penalty of `day`, dated that day at the latest; its payment term counts from the day it is sent
    (`sent_on`): a catch-up for an earlier day never shortens it."""
    label = invoice_label(invoice)
    try:
        issued_on = issue_date(session, day, corrects=Corrects(label, invoice.issued_on))
    except OutOfOrder as refused:  # a clock set back: never dated after the day it is issued
        raise OutOfOrder(f"penalty on {label} not issued: {refused}") from None
    [number] = next_numbers(session, issued_on, 1, corrects=Corrects(label, invoice.issued_on))
    stamp = now()
    total = penalty.penalty + penalty.indemnity
    refuse_negative(InvoiceKind.PENALTY, total, f"{customer.customer_id}'s penalty on {invoice_label(invoice)}")
    texts = penalty_texts(penalty, label, invoice.due_on, terms,
                          language_of(customer.language, terms.invoice_language))
    record = Invoice(invoice_key=keys.penalty_invoice(invoice.id), number=number, customer_id=customer.customer_id,
                     kind=InvoiceKind.PENALTY, month=month_key(issued_on), status=InvoiceStatus.OPEN, issued_on=issued_on,
                     due_on=max(issued_on, sent_on) + timedelta(days=terms.payment_terms_days), total_ht=total,
                     total_vat=Decimal("0.00"), total_ttc=total, penalty_for_id=invoice.id,
                     description=texts.description, created_at=stamp, finalised_at=stamp,
                     flow_run_id=flow_run_id)
    record.lines = [
        InvoiceLine(position=1, description=texts.penalty,
                    category="penalty", quantity=Decimal(1), unit_price=penalty.penalty, amount_ht=penalty.penalty,
                    vat_rate=Decimal("0")),
        InvoiceLine(position=2, description=texts.indemnity, category="indemnity",
                    quantity=Decimal(1), unit_price=penalty.indemnity, amount_ht=penalty.indemnity,
                    vat_rate=Decimal("0")),
    ]
    session.add(record)
    audit.record(session, "penalty_issued", customer_id=customer.customer_id, before=None, actor=actor,
                 flow_run_id=flow_run_id, after={"number": number, "invoice": label, "base": penalty.base,
                                                 "penalty": penalty.penalty, "indemnity": penalty.indemnity})
    return {"number": None if dry_run else number, "customer_id": customer.customer_id, "invoice": label,
            "base": str(penalty.base), "penalty": str(penalty.penalty), "indemnity": str(penalty.indemnity)}


def _deletion_schedule(session, settings, customer, anchor_on, overdue, day, report, *, dry_run, actor, flow_run_id,
                       sent_on: date):
    """Notice first, then (30 days on and no earlier than anchor + 6 months) a deletion that waits for approval.
    The 30 days count from `sent_on`, the day the notice goes out, never from an earlier day caught up."""
    terms = settings.terms
    if customer.cancelled_on is not None:  # announced when the cancellation took effect (tasks/cancellations.py)
        if deletion_due(customer.deletion_status, customer.deletion_due_on, day):
            report.deletions_due.append(customer.customer_id)
        return
    if not deletion_eligible(anchor_on, customer.stage, customer.dunning_exempt, day, terms):
        if customer.deletion_status:
            before = {"deletion_status": customer.deletion_status, "deletion_due_on": customer.deletion_due_on}
            customer.deletion_status = customer.deletion_due_on = customer.deletion_flow_run_id = None
            audit.record(session, "deletion_cancelled", customer_id=customer.customer_id, before=before,
                         after={"why": "the overdue balance no longer leads to a deletion"}, actor=actor,
                         flow_run_id=flow_run_id)
        return
    if customer.deletion_status is None:
        plan = deletion_plan(anchor_on, terms)
        customer.deletion_status = DeletionStatus.NOTICE_SENT
        customer.deletion_due_on = deletion_due_on(plan, sent_on, terms)
        _notify(session, settings, customer, state(Stage.DATA_DELETED).warning,
                keys.deletion_warning(customer.customer_id, anchor_on),
                anchor=anchor_on, on=sent_on, owed=overdue, due=customer.deletion_due_on, flow_run_id=flow_run_id)
        audit.record(session, "deletion_notice_sent", customer_id=customer.customer_id, before=None, actor=actor,
                     flow_run_id=flow_run_id, after={"deletion_due_on": customer.deletion_due_on, "anchor": anchor_on})
        report.deletion_notices.append(f"{customer.customer_id}: deletion on or after {customer.deletion_due_on}")
    if deletion_due(customer.deletion_status, customer.deletion_due_on, day):
        report.deletions_due.append(customer.customer_id)


@dataclass(frozen=True)
class ArrearsSwept(RunResult):
    """The arrears-escalation run's result: stage changes, penalty invoices, deletion notices and deletions due."""
    flow: ClassVar[str] = "arrears-escalation"
    day: date
    dry_run: bool
    transitions: list[dict]          # customer_id, from, to, effective_on, anchor
    penalties: list[dict]            # number, customer_id, invoice, base, penalty, indemnity
    deletion_notices: list[str]
    deletions: list[str]
    superseded_by: date | None       # a later day swept already: this earlier one changed nothing
    superseded: str | None           # that, in a sentence
