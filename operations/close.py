"""The monthly close: price the month's support time against the quota, draft one invoice per customer,
then finalise the drafts with gapless numbers.

Each step is one transaction, so a run killed half-way leaves either nothing or complete drafts, and
never a finalised invoice without its lines. The `monthly_closes` row is the close's lock and its
memory: a finalised month is never drafted again, and drafts left by an interrupted or refused run
are discarded and recomputed. Work is batched per month, not per customer.

A subscription is billed only for the days of the month after the customer's billed-through day and on
or after its start (policy.billed_through, read by ledger.billed): a month an imported invoice billed is
never billed again. The report says, per customer, which invoice billed it already, counted from the
ledger like everything else it says.

The month's own interventions are priced by the database, set-based (ledger/pricing.py, the formula from
policy.quota); late work of closed months, rare, by policy.quota.allocate here.

A close reads each fact once and keeps it: the month's unpriced interventions and the customers' rows are
copied at its start into temporary tables (ledger.bulk.snapshot), which the sorting of the work (beyond
support), the pricing, the drafts and the report all read; the standby periods and last days of service are
read once by the pricing and kept. On PostgreSQL (READ COMMITTED) each statement sees what others committed
before it: read twice, an intervention recorded or a fee changed during the close was priced from one state
and drafted from another. What is committed during the close is left whole for a later close.

Plain Python over the ledger and the rules: `draft`, `finalise` and `discard` each open their own
transaction and return a `CloseReport` (operations/close_report.py; `discard` the number of drafts removed).
The Prefect tasks wrapping them are in tasks/monthly_close.py, the flow in flows/monthly_close.py.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Iterator

from sqlalchemy import BigInteger, Row, Table, cast, delete, func, insert, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from ledger import audit, keys
from ledger.billed import billed_through, chunks, covering, deletions
from ledger.bulk import fill, snapshot, update_by_key
from ledger.pricing import MonthPricing, stage_month, stage_work, write_month
from ledger.credits import apply_credits, settle_credit_note
from ledger.db import insert_if_missing, now, session_scope
from ledger.models import (Cancellation, Customer, Intervention, Invoice, InvoiceLine, MonthlyClose, QuotaPeriod,
                           ServiceCredit, StageChange, StandbyPeriod, Ticket)
from ledger.numbering import OutOfOrder, issue_date, next_numbers
from ledger.queries import invoice_label
from ledger.terms_copies import terms_document
from lifecycle_config.failpoints import failpoint
from policy.calendar import add_months, month_bounds, month_key
from policy.categories import Charge, charge_of, charged
from policy.billed_through import BilledPeriod
from policy.invoicing import (CategoryWork, DocumentTooLarge, Subscriber, month_documents, refuse_negative, refuse_too_large,
                              subscription_charge, subscription_coverage, totals)
from policy.quota import Allocation, Work, allocate, beyond_support, included_minutes, standby_dates, standby_days
from policy.terms import Terms
from policy.refusals import Refusal
from policy.vocabulary import CancellationStatus, CloseOutcome, CloseStatus, InvoiceKind, InvoiceStatus, Stage, StandbyStatus
from operations import service_credits
from operations.close_report import LARGEST, LISTED, AlreadyBilled, CloseReport, InvoiceSummary


class NothingToFinalise(Refusal, ValueError):
    """Finalising a month that was never drafted: there is nothing to number."""


def _lock_close(session: Session, month: str, terms: Terms, flow_run_id: str | None) -> MonthlyClose:
    insert_if_missing(session, MonthlyClose, month=month, status=CloseStatus.DRAFTING, terms=terms_document(terms),
                      started_at=now(), flow_run_id=flow_run_id)
    return session.get(MonthlyClose, month, with_for_update=True, populate_existing=True)


def _discard(session: Session, month: str) -> int:
    """Undo a close's drafts: its invoices, its pricing of interventions, its quota periods."""
    drafts = select(Invoice.id).where(Invoice.close_month == month,
                                      Invoice.kind.in_((InvoiceKind.MONTHLY, InvoiceKind.CREDIT_NOTE)),
                                      Invoice.status == InvoiceStatus.DRAFT)
    draft_ids = list(session.scalars(drafts))
    session.execute(update(Intervention).where(Intervention.close_month == month).values(
        free_minutes=None, billed_minutes=None, amount_ht=None, invoice_id=None, close_month=None))
    session.execute(delete(ServiceCredit).where(ServiceCredit.close_month == month))
    if draft_ids:
        session.execute(delete(InvoiceLine).where(InvoiceLine.invoice_id.in_(draft_ids)))
        session.execute(delete(Invoice).where(Invoice.id.in_(draft_ids)))
    session.execute(delete(QuotaPeriod).where(QuotaPeriod.month == month))
    _recount_quota(session)
    return len(draft_ids)


def _recount_quota(session: Session) -> None:
    """Every quota period's used and over minutes, recomputed from the interventions priced against it."""
    quota_categories = charged(Charge.QUOTA)
    usage = {
        (customer_id, month): (int(used or 0), int(over or 0))
        for customer_id, month, used, over in session.execute(
            select(Intervention.customer_id, Intervention.month, func.sum(Intervention.free_minutes),
                   func.sum(Intervention.minutes - Intervention.free_minutes))
            .where(Intervention.category.in_(quota_categories), Intervention.free_minutes.is_not(None))
            .group_by(Intervention.customer_id, Intervention.month)
        )
    }
    for period in session.scalars(select(QuotaPeriod)):
        period.used_minutes, period.over_minutes = usage.get((period.customer_id, period.month), (0, 0))


def _standby_by_customer(session: Session, first: date, after: date, customer_ids: list[str] | None = None,
                          between: tuple[str, str] | None = None) -> dict[str, list[tuple[date, date]]]:
    """The standby periods overlapping [first, after), per customer (only those of `customer_ids`, or of the
    ids `between` two, when given)."""
    periods: dict[str, list[tuple[date, date]]] = defaultdict(list)
    query = (select(StandbyPeriod.customer_id, StandbyPeriod.start_on, StandbyPeriod.end_on)
             .where(StandbyPeriod.status != StandbyStatus.CANCELLED, StandbyPeriod.start_on < after,
                    StandbyPeriod.end_on > first))
    if between is not None:
        query = query.where(StandbyPeriod.customer_id >= between[0], StandbyPeriod.customer_id <= between[1])
    for chunk in [None] if customer_ids is None else chunks(customer_ids):
        for customer_id, start_on, end_on in session.execute(
                query if chunk is None else query.where(StandbyPeriod.customer_id.in_(chunk))):
            periods[customer_id].append((start_on, end_on))
    return periods


def _deleted_before(first: date):
    """Customers whose data was deleted before the month began: nothing is billed after `data_deleted`."""
    return select(StageChange.customer_id).where(StageChange.stage == Stage.DATA_DELETED, StageChange.effective_on < first)


def _service_ends(session: Session, between: tuple[str, str]) -> dict[str, date]:
    """The last day of service of the customers whose ids lie `between` two (both included), under a
    cancellation that was not withdrawn, or the day their data was deleted (the earlier of the two)."""
    ends = dict(session.execute(select(Cancellation.customer_id, Cancellation.effective_on)
                                .where(Cancellation.status != CancellationStatus.WITHDRAWN,
                                       Cancellation.customer_id >= between[0],
                                       Cancellation.customer_id <= between[1])).all())
    # nothing is billed after `data_deleted`: the deletion's day is the last one served (billed whole, as a
    # cancellation's), whatever a cancellation said
    for customer_id, day in session.execute(select(StageChange.customer_id, func.min(StageChange.effective_on))
                                            .where(StageChange.stage == Stage.DATA_DELETED,
                                                   StageChange.customer_id >= between[0],
                                                   StageChange.customer_id <= between[1])
                                            .group_by(StageChange.customer_id)):
        ends[customer_id] = min(day, ends.get(customer_id, day))
    return ends


#: customers billed at a time: what the close holds in memory is one batch's invoices, lines and texts, whatever
#: the number of customers (at 50,000 customers, holding the month's was 875 MB); each batch's drafts are written
#: before the next is drafted, all in the close's one transaction
CUSTOMERS_PER_BATCH = 900


#: what the close reads of a customer: its subscription (policy.invoicing.Subscriber), its quota, its name
CUSTOMER_COLUMNS = (Customer.customer_id, Customer.name, Customer.monthly_fee, Customer.payment_method,
                    Customer.billing_cycle, Customer.contract_start, Customer.vat_rate, Customer.subscription_start,
                    Customer.language, Customer.included_minutes)


def _billable(session: Session, month: str) -> Table:
    """The customers the close of `month` bills (not those whose data was deleted before it began), copied once
    at its start: the pricing, the drafts and the report read this one state of their rows."""
    return snapshot(session, "close_customers", select(*CUSTOMER_COLUMNS).where(
        Customer.customer_id.not_in(_deleted_before(month_bounds(month)[0]))), key="customer_id")


class _Customers:
    """The customers a caller asks for by id, read when asked (the service credits' few), not all held."""

    def __init__(self, session: Session, customers: Table):
        self.session, self.customers = session, customers

    def get(self, customer_id: str):
        return self.session.execute(select(self.customers).where(self.customers.c.customer_id == customer_id)).first()


def later_closed_month(month: str, engine=None) -> str | None:
    """The latest closed month after `month`, when `month` itself is not closed (a closed month run again
    bills nothing, so nothing needs deciding): None when no later month is closed."""
    with session_scope(engine) as session:
        closed = set(session.scalars(select(MonthlyClose.month).where(MonthlyClose.status == CloseStatus.FINALISED,
                                                                      MonthlyClose.month >= month)))
    later = max((other for other in closed if other > month), default=None)
    return None if month in closed else later


def draft(month: str, terms: Terms, *, actor: str, flow_run_id: str | None, engine=None) -> CloseReport:
    """Price the month (and late work of closed months) and draft one invoice per customer, in one
    transaction. A draft of another run is discarded and done again; this run's own draft is kept."""
    with session_scope(engine, write=True) as session:
        close = _lock_close(session, month, terms, flow_run_id)
        if close.status == CloseStatus.FINALISED:
            return _report(session, month, CloseOutcome.ALREADY_FINALISED)
        if close.status == CloseStatus.DRAFTED and flow_run_id is not None and close.flow_run_id == flow_run_id:
            # the same run again: a suspended close resumed after approval keeps the drafts it showed
            return _report(session, month, CloseOutcome.DRAFTED)
        if close.status in (CloseStatus.DRAFTED, CloseStatus.DRAFTING):
            _discard(session, month)
        close.status, close.terms, close.flow_run_id = CloseStatus.DRAFTING, terms_document(terms), flow_run_id
        close.started_at = now()

        book = _MonthBook.read(session, month, terms)
        failpoint("close.classified")  # the month's work copied and sorted (beyond support or not); not priced yet
        book.read_credits()
        book.price_own_month()
        not_billed = []
        for batch in book.batches():   # a batch at a time: memory bounded by the batch, not the customers
            book.start(batch)
            # one customer whose documents cannot be written never blocks the others' close
            not_billed += [line for line in map(book.bill_alone, batch) if line]
            book.write(session, flow_run_id)
        book.finish(session)
        close.status = CloseStatus.DRAFTED
        audit.record(session, "close_drafted", customer_id=None, before=None, actor=actor, flow_run_id=flow_run_id,
                     after={"month": month, "invoices": book.invoiced, "interventions": book.count,
                            "late": book.late, **({"not_billed": not_billed} if not_billed else {})})
        report = _report(session, month, CloseOutcome.DRAFTED, book.customers)
        report.not_billed = not_billed
        book.customers.drop(session.connection())
        return report


@dataclass
class _MonthBook:
    """What the close of a month reads once, and what it decides customer by customer, a batch of customers at a
    time (`batches`): the batch's facts are read by `start`, its documents written by `write`, then let go."""

    month: str
    terms: Terms
    pending: dict[str, dict[str, list[Work]]]          # customer -> closed month -> unpriced late work
    beyond: set[str]                                   # the month's interventions beyond support (never quota)
    quota: dict[tuple[str, str], QuotaPeriod]          # the closed months' quotas that late work draws on
    late_standby: dict[str, dict[str, list[tuple[date, date]]]]
    session: Session
    customers: Table                                   # the customers' rows as the close began (`_billable`)
    work: Table                                        # the month's unpriced work as the close began (stage_work)
    # the month's standby periods and last days of service (customers who cancelled), read once by
    # `price_own_month` (only the customers who have one: few) and used again by `bill`: read a second time, a
    # standby started or a cancellation recorded between the two reads (PostgreSQL's READ COMMITTED shows what
    # others committed) priced a customer's work for one state and its subscription for another
    standby: dict[str, list[tuple[date, date]]] = field(default_factory=dict)
    ends: dict[str, date] = field(default_factory=dict)
    # each customer's included minutes as its work was priced, which its quota row keeps
    included: dict[str, int] = field(default_factory=dict)
    # the batch's latest subscription period billed
    billed_through: dict[str, BilledPeriod] = field(default_factory=dict)
    stamp: datetime = field(default_factory=now)
    quota_rows: list[dict] = field(default_factory=list)
    priced: list[tuple[Allocation, int | None]] = field(default_factory=list)
    invoices: list[tuple[Row, list, object]] = field(default_factory=list)   # a customer is its row (`_billable`)
    credit_notes: list[tuple[Row, list, object, Invoice]] = field(default_factory=list)
    service: dict[str, list[service_credits.Pending]] = field(default_factory=dict)   # customer -> credits due
    applied: list[tuple[str, int, list[service_credits.Pending]]] = field(default_factory=list)  # document kind
    own: MonthPricing | None = None                    # the month's work, priced by the database
    refused: set[str] = field(default_factory=set)     # customers not billed: their work left unpriced
    count: int = 0
    late: int = 0
    invoiced: int = 0                                  # the month's invoices drafted so far

    @classmethod
    def read(cls, session: Session, month: str, terms: Terms) -> _MonthBook:
        first, after = month_bounds(month)
        closed_months = set(session.scalars(select(MonthlyClose.month)
                                            .where(MonthlyClose.status == CloseStatus.FINALISED)))
        pending: dict[str, dict[str, list[Work]]] = defaultdict(lambda: defaultdict(list))
        for row in session.execute(
            select(Intervention.intervention_id, Intervention.customer_id, Intervention.month, Intervention.started_at,
                   Intervention.minutes, Intervention.category, Ticket.customization_delivered_on)
            .outerjoin(Ticket, (Ticket.ticket_id == Intervention.ticket) & (Ticket.customer_id == Intervention.customer_id))
            .where(Intervention.free_minutes.is_(None), Intervention.month < month)
        ):
            if row.month in closed_months:
                pending[row.customer_id][row.month].append(Work(
                    row.intervention_id, row.started_at, row.minutes, row.category,
                    beyond_support(row.started_at, row.customization_delivered_on)))
        customers = _billable(session, month)
        # sorted here, priced by `price_own_month`: the same copy; never work after a customer's data was deleted
        work = stage_work(session, month, after=deletions(session, since=first))
        beyond = {row.intervention_id for row in session.execute(
            select(work.c.intervention_id, work.c.started_at, work.c.delivered_on)
            .where(work.c.delivered_on.is_not(None))
        ) if beyond_support(row.started_at, row.delivered_on)}
        late_months = sorted({m for months in pending.values() for m in months if m != month})
        quota = {}   # the late months' quotas of the customers with late work only
        for chunk in chunks(sorted(pending)) if late_months else []:
            quota.update({(p.customer_id, p.month): p for p in session.scalars(
                select(QuotaPeriod).where(QuotaPeriod.month.in_(late_months), QuotaPeriod.customer_id.in_(chunk)))})
        return cls(month, terms, pending=pending, beyond=beyond, quota=quota,
                   late_standby={m: _standby_by_customer(session, *month_bounds(m), sorted(pending)) for m in late_months},
                   session=session, customers=customers, work=work)

    def batches(self, *columns: str) -> Iterator[list]:
        """The customers to bill (`_billable`, as the close began), in order of id, `CUSTOMERS_PER_BATCH` at a
        time: each batch read when the one before is done with. Only these `columns` of them when given."""
        table = self.customers
        last = None
        while True:
            query = select(*(table.c[name] for name in columns)) if columns else select(table)
            if last is not None:
                query = query.where(table.c.customer_id > last)
            query = query.order_by(table.c.customer_id).limit(CUSTOMERS_PER_BATCH)
            batch = list(self.session.execute(query))
            if not batch:
                return
            yield batch
            last = batch[-1].customer_id

    def start(self, batch: list) -> None:
        """The batch's own facts, in place of the batch's before: its billed-through days and its work as the
        database priced it (its standby and ends are the month's, read once by `price_own_month`)."""
        ids = (batch[0].customer_id, batch[-1].customer_id)   # the batch is a range of ids, in the database's order
        self.billed_through = billed_through(self.session, except_close=self.month, between=ids)
        self.own.load(self.session, ids)

    def read_credits(self) -> None:
        """The service credits due (policy.service_credits): only customers with a miss are read."""
        self.service = service_credits.pending_credits(self.session, self.month, self.terms,
                                                       _Customers(self.session, self.customers), _subscriber)

    def price_own_month(self) -> None:
        """The month's own work priced set-based by the database (ledger/pricing.py), each customer's quota
        its included minutes for the days it was not on standby; late work is priced in `bill`. The quotas
        are handed over a batch of customers at a time. The standby periods and last days of service read here
        are the ones `bill` uses, and the included minutes the ones the quota rows keep: the close prices from one
        state of them, whatever is committed meanwhile."""
        def included():
            for batch in self.batches("customer_id", "included_minutes"):
                ids = (batch[0].customer_id, batch[-1].customer_id)
                first, after = month_bounds(self.month)
                self.standby.update(_standby_by_customer(self.session, first, after, between=ids))
                self.ends.update(_service_ends(self.session, ids))
                for customer in batch:
                    self.included[customer.customer_id] = included_minutes(self._base(customer), self.month,
                                                                           len(self._standby(customer)))
                    yield customer.customer_id, self.included[customer.customer_id]
        self.own = stage_month(self.session, self.month, included(), self.beyond, self.terms, self.work)
        failpoint("close.priced")  # the month's work priced; its invoices not drafted yet

    def _base(self, customer) -> int:
        return customer.included_minutes if customer.included_minutes is not None else self.terms.included_minutes

    def _standby(self, customer) -> set[date]:
        """The customer's days of the month on standby (none after its last day of service)."""
        periods = self.standby.get(customer.customer_id, [])
        ends = self.ends.get(customer.customer_id)
        if not periods:
            return set()   # most customers: nothing to count
        if ends is not None:  # standby after the last day of service is no service at half price
            periods = [(start, min(end, ends + timedelta(days=1))) for start, end in periods if start <= ends]
        return standby_dates(periods, self.month)

    def bill_alone(self, customer) -> str | None:
        """bill(customer); when its documents cannot be written (DocumentTooLarge), nothing of it is kept (its
        work stays unpriced, billed by a later close once corrected) and the one line saying why is returned."""
        mark = (len(self.quota_rows), len(self.invoices), len(self.credit_notes), len(self.priced), len(self.applied),
                self.count, self.late)
        kept = {key: (period.used_minutes, period.over_minutes) for key, period in self.quota.items()
                if key[0] == customer.customer_id}
        try:
            self.bill(customer)
        except DocumentTooLarge as refused:
            for items, length in zip((self.quota_rows, self.invoices, self.credit_notes, self.priced, self.applied),
                                     mark):
                del items[length:]
            self.count, self.late = mark[5], mark[6]
            self.refused.add(customer.customer_id)
            for key in [key for key in self.quota if key[0] == customer.customer_id]:
                if key in kept:
                    self.quota[key].used_minutes, self.quota[key].over_minutes = kept[key]
                else:  # a late month's quota made by this bill
                    period = self.quota.pop(key)
                    (self.session.delete if sa_inspect(period).persistent else self.session.expunge)(period)
            return str(refused)
        return None

    def bill(self, customer) -> None:
        """Price the customer's work against its quotas and draft its invoice when there is something to bill."""
        base = self._base(customer)
        ends = self.ends.get(customer.customer_id)
        off = self._standby(customer)
        days_off = len(off)
        billed: dict[str, list] = {self.month: self._own_month(customer.customer_id, base, days_off)}
        billed.update(self._late_months(customer.customer_id, base))
        # the subscription: only the days after its billed-through day and on or after its start
        subscriber = _subscriber(customer)
        charge = subscription_charge(subscriber, self.month, self.terms, standby=off,
                                     billed=self.billed_through.get(customer.customer_id), last_service_day=ends)
        # money owed to the customer (an annual customer's standby days beyond its work) is a credit note on the
        # invoice that billed those days, never an invoice below zero
        credited = None
        if any(line.amount_ht < 0 for line in charge.lines):
            days = sorted(off) or [month_bounds(self.month)[0]]
            credited = covering(self.session, customer.customer_id, days[0], days[-1])
        pending = self.service.get(customer.customer_id, [])
        if credited is None and any(item.amount > 0 for item in pending):
            # a service credit beyond the invoice credits the latest invoice that billed the customer's subscription
            last = month_bounds(max(item.month for item in pending))[1] - timedelta(days=1)
            credited = covering(self.session, customer.customer_id, date(1, 1, 1), last) \
                or covering(self.session, customer.customer_id, date(1, 1, 1), date(9999, 12, 31))
        documents = month_documents(subscriber, self.month, charge.lines, billed, self.terms,
                                    creditable=credited is not None, credits=[item.line for item in pending])
        lines = documents.invoice
        total = totals(lines)
        invoice_index = None
        if documents.credit:  # before anything of the customer is kept: bill_alone
            refuse_too_large(documents.credit, totals(documents.credit), f"{customer.customer_id}'s credit note")
        if lines and total.ht != 0:
            refuse_negative(InvoiceKind.MONTHLY, total.ttc, f"{customer.customer_id}'s invoice for {self.month}")
            refuse_too_large(lines, total, f"{customer.customer_id}'s invoice for {self.month}")
            invoice_index = len(self.invoices)
            self.invoices.append((customer, lines, total, charge.period))
            self._carried("invoice", invoice_index, pending, lines)
        if documents.credit:
            self._carried("credit_note", len(self.credit_notes), pending, documents.credit)
            self.credit_notes.append((customer, documents.credit, totals(documents.credit), credited))
        self.priced += [(item, invoice_index) for service_month, allocations in billed.items()
                        if service_month != self.month for item in allocations]   # the month's own: in SQL

    def _carried(self, kind: str, index: int, pending: list[service_credits.Pending], lines: list) -> None:
        """The service credits a document carries (a credit it does not carry is due again at the next close)."""
        carried = [item for item in pending if any(line is item.line for line in lines)]
        if carried:
            self.applied.append((kind, index, carried))

    def _own_month(self, customer_id: str, base: int, days_off: int) -> list[CategoryWork]:
        """The month's quota row and work to invoice, as the database priced them (`price_own_month`)."""
        self.count += self.own.count.get(customer_id, 0)
        self.quota_rows.append({"customer_id": customer_id, "month": self.month,
                                # as priced; a customer committed after the pricing (not priced) gets its own
                                "included_minutes": self.included.get(customer_id,
                                                                      included_minutes(base, self.month, days_off)),
                                "used_minutes": self.own.used.get(customer_id, 0),
                                "over_minutes": self.own.over.get(customer_id, 0),
                                "standby_days": days_off, "closed_at": self.stamp})
        return self.own.work.get(customer_id, [])

    def _late_months(self, customer_id: str, base: int) -> dict[str, list[Allocation]]:
        """Work that arrived after its month was closed: what that month's quota had left, nothing moved."""
        billed = {}
        for late_month, works in sorted(self.pending.get(customer_id, {}).items()):   # .get: no entry made per customer
            if late_month == self.month:
                continue
            period = self.quota.get((customer_id, late_month))
            if period is None:
                late_days = standby_days(self.late_standby[late_month].get(customer_id, []), late_month)
                period = QuotaPeriod(customer_id=customer_id, month=late_month, standby_days=late_days,
                                     included_minutes=included_minutes(base, late_month, late_days),
                                     used_minutes=0, over_minutes=0, closed_at=self.stamp)
                self.session.add(period)
                self.quota[(customer_id, late_month)] = period
            extra = allocate(works, period.included_minutes - period.used_minutes, self.terms)
            period.used_minutes += sum(item.drawn for item in extra)
            period.over_minutes += _over(works, extra)
            billed[late_month] = extra
            self.late += len(extra)
        return billed

    def write(self, session: Session, flow_run_id: str | None) -> None:
        """The batch's quotas, drafts with their lines, service credits and late work's prices, in bulk; then
        the batch is let go (its invoices are the database's now, named to the month's pricing by `own`)."""
        if self.quota_rows:
            session.connection().execute(insert(QuotaPeriod.__table__), self.quota_rows)
        ids = _insert_invoices(session, self.month, self.invoices, flow_run_id, self.stamp)
        note_ids = _insert_credit_notes(session, self.month, self.credit_notes, flow_run_id, self.stamp)
        credit_rows = []
        for kind, index, carried in self.applied:
            customer = (self.invoices if kind == "invoice" else self.credit_notes)[index][0]
            credit_rows += service_credits.rows(customer.customer_id, self.month, carried,
                                                (ids if kind == "invoice" else note_ids)[index])
        if credit_rows:
            session.execute(insert(ServiceCredit), credit_rows)
        rows = [{"intervention_id": item.intervention_id, "free_minutes": item.free_minutes,
                 "billed_minutes": item.billed_minutes, "amount_ht": item.amount_ht, "close_month": self.month,
                 "invoice_id": ids[index] if index is not None and item.amount_ht else None}
                for item, index in self.priced]
        update_by_key(session, Intervention.__table__, "intervention_id", rows,
                      ["free_minutes", "billed_minutes", "amount_ht", "close_month", "invoice_id"])
        self.own.own(session, {customer.customer_id: invoice_id for (customer, *_), invoice_id in zip(self.invoices, ids)})
        self.invoiced += len(self.invoices)
        for items in (self.quota_rows, self.invoices, self.credit_notes, self.priced, self.applied):
            items.clear()

    def finish(self, session: Session) -> None:
        """The month's own work: its prices and its invoice in one UPDATE (a customer left out stays unpriced)."""
        write_month(session, self.month, self.own, invoices={}, left_out=self.refused)


def _subscriber(customer) -> Subscriber:
    """A customer's subscription, from its row (`CUSTOMER_COLUMNS`)."""
    return Subscriber(customer.monthly_fee, customer.payment_method, customer.billing_cycle, customer.contract_start,
                      customer.vat_rate, customer.subscription_start, customer.language)


def _already_billed(session: Session, month: str, customers: Table) -> tuple[list[AlreadyBilled], int]:
    """Which `customers`' subscription for `month` earlier invoices billed (the close's own left aside), and
    how many customers had not started by then; read from the ledger, so drafts and finals say the same.
    Only the days are counted (policy.invoicing.subscription_coverage), not the lines and their texts."""
    after = month_bounds(month)[1]
    found, not_started = [], 0
    query = select(customers).order_by(customers.c.customer_id).limit(CUSTOMERS_PER_BATCH)
    batch = session.execute(query).all()
    while batch:   # a batch of customers at a time, with their billed-through days: never every customer's
        through = billed_through(session, except_close=month, between=(batch[0].customer_id, batch[-1].customer_id))
        for customer in batch:
            subscriber = _subscriber(customer)
            if subscriber.start is not None and subscriber.start >= after:
                not_started += 1
                continue
            unbilled = subscription_coverage(subscriber, month, billed=through.get(customer.customer_id))
            if unbilled is not None and unbilled.billed is not None and unbilled.already_billed:
                found.append(AlreadyBilled(customer.customer_id, customer.name, unbilled.billed.end,
                                           unbilled.billed.invoice, unbilled.already_billed,
                                           unbilled.span_days - unbilled.before_start))
        batch = session.execute(query.where(customers.c.customer_id > batch[-1].customer_id)).all()
    return found, not_started


def _over(works: list[Work], allocations: list[Allocation]) -> int:
    minutes = {work.intervention_id: work.minutes for work in works}
    return sum(minutes[item.intervention_id] - item.drawn for item in allocations
               if charge_of(item.category) is Charge.QUOTA)


def _insert_credit_notes(session: Session, month: str, notes, flow_run_id, stamp) -> list[int]:
    """The close's credit notes, drafted beside its invoices: numbered, dated and settled when it finalises."""
    made = []
    for customer, lines, total, credited in notes:
        note = Invoice(invoice_key=keys.close_credit_note(customer.customer_id, month),
                       customer_id=customer.customer_id, kind=InvoiceKind.CREDIT_NOTE, month=month,
                       status=InvoiceStatus.DRAFT, total_ht=total.ht, total_vat=total.vat, total_ttc=total.ttc,
                       description="; ".join(line.description for line in lines), credits_id=credited.id,
                       close_month=month, created_at=stamp, flow_run_id=flow_run_id)
        note.lines = [InvoiceLine(position=position, description=line.description, category=line.category,
                                  service_month=line.service_month, quantity=line.quantity,
                                  unit_price=line.unit_price, amount_ht=line.amount_ht, vat_rate=line.vat_rate)
                      for position, line in enumerate(lines, start=1)]
        session.add(note)
        made.append(note)
    session.flush()
    return [note.id for note in made]


def _insert_invoices(session: Session, month: str, invoices, flow_run_id, stamp) -> list[int]:
    if not invoices:
        return []
    for customer, _, total, _ in invoices:   # the guard: no invoice below zero is ever written
        refuse_negative(InvoiceKind.MONTHLY, total.ttc, f"{customer.customer_id}'s invoice for {month}")
    rows = [{"invoice_key": keys.monthly_invoice(customer.customer_id, month), "customer_id": customer.customer_id,
             "kind": InvoiceKind.MONTHLY, "month": month, "status": InvoiceStatus.DRAFT, "total_ht": total.ht,
             "total_vat": total.vat, "total_ttc": total.ttc, "close_month": month, "created_at": stamp,
             "flow_run_id": flow_run_id,
             # the subscription days it bills: the customer is billed through the last of them
             "period_start": period[0] if period else None, "period_end": period[1] if period else None,
             "bills_subscription": period is not None}
            for customer, _, total, period in invoices]
    # the driver's fastest path (COPY on PostgreSQL, one prepared statement on SQLite), then the ids by key
    table = Invoice.__table__
    fill(session.connection(), table, list(rows[0]), rows)
    by_key = {}   # the batch's own, by key: never the month's drafts so far
    for chunk in chunks([row["invoice_key"] for row in rows]):
        by_key.update(session.connection().execute(
            select(table.c.invoice_key, table.c.id).where(table.c.invoice_key.in_(chunk))).all())
    ids = [by_key[row["invoice_key"]] for row in rows]
    line_rows = [{"invoice_id": invoice_id, "position": position, "description": line.description,
                  "category": line.category, "service_month": line.service_month, "quantity": line.quantity,
                  "unit_price": line.unit_price, "amount_ht": line.amount_ht, "vat_rate": line.vat_rate}
                 for invoice_id, (_, lines, _, _) in zip(ids, invoices) for position, line in enumerate(lines, start=1)]
    # the driver's fastest path (COPY on PostgreSQL, one prepared statement on SQLite): no per-row bookkeeping
    if line_rows:
        fill(session.connection(), InvoiceLine.__table__, list(line_rows[0]), line_rows)
    return ids


def _in_cents(column):
    """The sum of a money column in whole cents: SQLite keeps Numeric as a binary float, whose sum over 200,000
    invoices can drift by a cent; integers add exactly on both databases."""
    return func.coalesce(func.sum(cast(func.round(column * 100), BigInteger)), 0)


def _report(session: Session, month: str, status: CloseOutcome, customers: Table | None = None) -> CloseReport:
    """What the close of `month` holds now: its invoices, and the interventions it priced (those of the
    month, and late ones of closed months), counted from the ledger so a draft and its final agree. The
    customers as the drafting close read them (`_billable`), else as they are now."""
    report = CloseReport(month, status)
    named = Customer.__table__ if customers is None else customers   # the names the summaries show
    if customers is None:
        customers = select(*CUSTOMER_COLUMNS).where(
            Customer.customer_id.not_in(_deleted_before(month_bounds(month)[0]))).subquery()
    report.already_billed, report.not_started = _already_billed(session, month, customers)
    for priced_month, count in session.execute(
        select(Intervention.month, func.count()).where(Intervention.close_month == month).group_by(Intervention.month)
    ):
        if priced_month == month:
            report.interventions = count
        else:
            report.late_interventions += count
    # the month's invoices in totals, counted and summed by the database; their largest few as summaries;
    # the credit notes (a few annual customers on standby) one by one
    of_month = (Invoice.close_month == month,)
    monthly = session.execute(
        select(func.count(), _in_cents(Invoice.total_ht), _in_cents(Invoice.total_vat), _in_cents(Invoice.total_ttc),
               func.max(Invoice.issued_on))
        .where(*of_month, Invoice.kind == InvoiceKind.MONTHLY)).one()
    report.invoices = monthly[0]
    report.total_ht, report.total_vat, report.total_ttc = (Decimal(int(cents)).scaleb(-2) for cents in monthly[1:4])
    report.issued_on = monthly[4]
    summary_columns = (Invoice.customer_id, named.c.name, Invoice.total_ht, Invoice.total_vat, Invoice.total_ttc,
                       Invoice.number, Invoice.due_on)
    report.largest = [InvoiceSummary(*row) for row in session.execute(
        select(*summary_columns).join(named, named.c.customer_id == Invoice.customer_id)
        .where(*of_month, Invoice.kind == InvoiceKind.MONTHLY)
        .order_by(Invoice.total_ttc.desc(), Invoice.customer_id).limit(LARGEST))]
    report.listed = [InvoiceSummary(*row) for row in session.execute(
        select(*summary_columns).join(named, named.c.customer_id == Invoice.customer_id)
        .where(*of_month, Invoice.kind == InvoiceKind.MONTHLY)
        .order_by(Invoice.number, Invoice.customer_id).limit(LISTED))]
    for row in session.execute(
        select(*summary_columns, Invoice.issued_on).join(named, named.c.customer_id == Invoice.customer_id)
        .where(*of_month, Invoice.kind == InvoiceKind.CREDIT_NOTE).order_by(Invoice.number, Invoice.customer_id)
    ):
        report.credit_notes.append(InvoiceSummary(*row[:7]))
        report.issued_on = report.issued_on or row.issued_on
    return report


def finalise(month: str, issued_on: date, terms: Terms, *, actor: str, flow_run_id: str | None,
             approval: dict | None = None, engine=None) -> CloseReport:
    """Number the drafts of the month (gapless, in customer order), date them and make them due."""
    with session_scope(engine, write=True) as session:
        close = session.get(MonthlyClose, month, with_for_update=True)
        if close is None:
            raise NothingToFinalise(f"{month} has no drafts to finalise")
        if close.status == CloseStatus.FINALISED:
            return _report(session, month, CloseOutcome.ALREADY_FINALISED)
        drafts_of_month = (Invoice.close_month == month, Invoice.status == InvoiceStatus.DRAFT,
                           Invoice.kind.in_((InvoiceKind.MONTHLY, InvoiceKind.CREDIT_NOTE)))
        in_order = (Invoice.customer_id, Invoice.kind.desc())   # a customer's invoice, then its credit note
        for row in session.execute(   # the guard: a draft below zero is never numbered as an invoice
                select(Invoice.kind, Invoice.total_ttc, Invoice.customer_id)
                .where(*drafts_of_month, Invoice.total_ttc < 0).order_by(*in_order)):
            refuse_negative(row.kind, row.total_ttc, f"{row.customer_id}'s invoice for {month}")
        found = session.execute(select(Invoice.id, Invoice.kind).where(*drafts_of_month).order_by(*in_order)).all()
        notes = [row.id for row in found if row.kind == InvoiceKind.CREDIT_NOTE]
        try:
            issued_on = issue_date(session, issued_on)
        except OutOfOrder as refused:  # a clock set back: the drafts wait, nothing is numbered
            raise OutOfOrder(f"{month} not finalised (its drafts are kept): {refused}") from None
        numbers = next_numbers(session, issued_on, len(found))
        due_on = issued_on + timedelta(days=terms.payment_terms_days)
        stamp = now()
        # one UPDATE ... FROM a temporary table filled in bulk, not an UPDATE per invoice; a batch of rows at a
        # time, so that the rows held are a batch's whatever the customers
        for start in range(0, len(found), CUSTOMERS_PER_BATCH):
            rows = [{"id": row.id, "number": number, "issued_on": issued_on, "finalised_at": stamp,
                     **({"status": InvoiceStatus.PAID, "due_on": None} if row.kind == InvoiceKind.CREDIT_NOTE
                        else {"status": InvoiceStatus.OPEN, "due_on": due_on})}
                    for row, number in zip(found[start:start + CUSTOMERS_PER_BATCH],
                                           numbers[start:start + CUSTOMERS_PER_BATCH])]
            update_by_key(session, Invoice.__table__, "id", rows,
                          ["number", "issued_on", "finalised_at", "status", "due_on"])
        close.status, close.finished_at = CloseStatus.FINALISED, stamp
        for note_id in notes:   # each credit note's money: off its invoice's balance, the rest the customer's credit
            note = session.get(Invoice, note_id, populate_existing=True)
            credited = session.get(Invoice, note.credits_id, with_for_update=True)
            split, left = settle_credit_note(session, note, credited, actor=actor, flow_run_id=flow_run_id)
            audit.record(session, "credit_note_issued", customer_id=note.customer_id, before={
                "balance": left + split.to_invoice}, actor=actor, flow_run_id=flow_run_id, after={
                "number": note.number, "credits": invoice_label(credited), "total_ttc": note.total_ttc,
                "reason": note.description, "requested_by": f"the close of {month}", "to_invoice": split.to_invoice,
                "to_credit": split.to_credit, "balance": left})
        invoices = [row.id for row in found if row.kind == InvoiceKind.MONTHLY]
        applied = apply_credits(session, invoices, issued_on, actor=actor, flow_run_id=flow_run_id) \
            if terms.apply_credit_at_close else None
        audit.record(session, "close_finalised", customer_id=None, before={"status": CloseStatus.DRAFTED}, actor=actor,
                     flow_run_id=flow_run_id, after={"month": month, "issued_on": issued_on,
                                                     "numbers": [numbers[0], numbers[-1]] if numbers else [],
                                                     "approval": approval or "auto"})
        report = _report(session, month, CloseOutcome.FINALISED)
        report.issued_on = issued_on
        report.credits_applied = applied.invoices if applied else {}
        return report


def discard(month: str, *, why: str, actor: str, flow_run_id: str | None, engine=None) -> int:
    """Leave everything as it was before the close: used when finance refuses the drafts."""
    with session_scope(engine, write=True) as session:
        close = session.get(MonthlyClose, month, with_for_update=True)
        if close is None or close.status == CloseStatus.FINALISED:
            return 0
        removed = _discard(session, month)
        session.delete(close)
        audit.record(session, "close_discarded", customer_id=None, before={"status": close.status}, after={
            "month": month, "why": why, "drafts_removed": removed}, actor=actor, flow_run_id=flow_run_id)
        return removed


def previous_month(day: date) -> str:
    return month_key(add_months(day.replace(day=1), -1))
