"""A month's interventions priced by the database, set-based, on SQLite and PostgreSQL alike.

The close used to read every intervention of the month into Python, allocate the quota customer by customer
and write each price back: at 500,000 interventions that was most of its time. Here one statement does what
policy.quota.allocate does, with the rule's own parameters (policy.quota.cents_formula, the increment, the
category table): a window sum in the quota's order (the instant, then the id byte by byte: SQLite's BINARY
collation, PostgreSQL's "C") gives each intervention the quota minutes left before it, so drawn =
min(minutes, max(0, left)); billed = minutes - drawn rounded up to the increment; the amount in integer cents.

What the rules need and SQL cannot say cheaply comes in from the caller: each customer's included minutes
(standby days, cancellations: policy) and the interventions beyond support (a Paris day against a delivery
day: policy.quota.beyond_support). The caller sorts the month's work into beyond support or not from the copy
`stage_work` makes, and the pricing prices that same copy: read twice, an intervention committed by another
session in between was priced against a quota sorted without it. Everything lives in the caller's
transaction; the staging tables are temporary and dropped before it ends.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable
from decimal import Decimal
from uuid import uuid4

from sqlalchemy import Column, Integer, MetaData, String, Table, select, text
from sqlalchemy.orm import Session

from ledger.bulk import SLICE, fill, snapshot
from ledger.models import Intervention, Ticket
from policy.categories import CATEGORIES
from policy.invoicing import CategoryWork
from policy.quota import cents_formula
from policy.terms import Terms
from policy.vocabulary import InvoiceKind, InvoiceStatus


@dataclass
class MonthPricing:
    """What the pricing of a month says per customer (the quota used and exceeded, the work to invoice), for
    the customers last asked of `load`: the close asks a batch at a time, so what it holds is one batch's,
    never the month's (the month's sums wait in the database, in a staging table)."""

    used: dict[str, int]
    over: dict[str, int]
    work: dict[str, list[CategoryWork]]
    count: dict[str, int]
    staged: tuple[str, ...] = ()   # the temporary tables `load`, `own` and `write_month` read, then drops

    def load(self, session: Session, between: tuple[str, str] | None = None) -> None:
        """The sums of the customers whose ids lie `between` the two given, both included, in the database's
        order (every customer's when None): each one's quota used and exceeded, its work per category, in
        place of those of the customers asked before. A range, not a list of ids: one index range scan."""
        _, sums, _ = self.staged
        self.used, self.over, self.work, self.count = {}, {}, defaultdict(list), {}
        for customer_id, category, count, used, over, costing, billed, cents in session.connection().execute(text(
                f"SELECT customer_id, category, CAST(n AS BIGINT), CAST(used AS BIGINT), CAST(exceeded AS BIGINT), "
                f"CAST(costing AS BIGINT), CAST(billed AS BIGINT), CAST(cents AS BIGINT) FROM {sums}"
                + (" WHERE customer_id >= :first AND customer_id <= :last" if between else "")),
                {"first": between[0], "last": between[1]} if between else {}):
            self.count[customer_id] = self.count.get(customer_id, 0) + count
            self.used[customer_id] = self.used.get(customer_id, 0) + used
            self.over[customer_id] = self.over.get(customer_id, 0) + over
            if costing:   # the work that costs something: an invoice line
                self.work[customer_id].append(CategoryWork(category, costing, int(billed), Decimal(int(cents)) / 100))

    def own(self, session: Session, invoices: dict[str, int]) -> None:
        """Each of these customers' draft invoice, which `write_month` gives the work that costs something."""
        _, _, owners = self.staged
        fill(session.connection(), _owners(owners), ["customer_id", "invoice_id"],
             [{"customer_id": key, "invoice_id": value} for key, value in invoices.items()])


def _owners(name: str) -> Table:
    return Table(name, MetaData(), Column("customer_id", String(64), primary_key=True), Column("invoice_id", Integer),
                 prefixes=["TEMPORARY"])


def price_month(session: Session, month: str, included: dict[str, int], beyond: set[str],
                terms: Terms) -> MonthPricing:
    """Price the unpriced interventions of `month` of the customers in `included` (their included minutes),
    setting free_minutes, billed_minutes, amount_ht and close_month (`month`); invoice_id is left to the caller."""
    pricing = stage_month(session, month, included.items(), beyond, terms, stage_work(session, month))
    pricing.load(session)
    write_month(session, month, pricing, invoices={}, left_out=set())
    return pricing


def stage_work(session: Session, month: str, after: dict[str, tuple] | None = None) -> Table:
    """The unpriced interventions of `month`, with their ticket's delivery day, copied once (a temporary table,
    not a Python list: 10 million at the largest scale): what the close sorts (`delivered_on`: beyond support or
    not) and what `stage_month` prices, one state of them whatever other sessions commit meanwhile. `after`:
    customers whose data was deleted (their (day, moment), ledger.billed.deletions): none of their work started
    after that moment is taken (nothing is billed after `data_deleted`)."""
    query = (select(Intervention.intervention_id, Intervention.customer_id, Intervention.started_at,
                    Intervention.minutes, Intervention.category, Ticket.customization_delivered_on.label("delivered_on"))
             .outerjoin(Ticket, (Ticket.ticket_id == Intervention.ticket)
                        & (Ticket.customer_id == Intervention.customer_id))
             .where(Intervention.month == month, Intervention.free_minutes.is_(None)))
    for customer_id, (_, moment) in sorted((after or {}).items()):   # few: deleted during the month or since
        query = query.where(~((Intervention.customer_id == customer_id) & (Intervention.started_at > moment)))
    return snapshot(session, "pricing_work", query)


def stage_month(session: Session, month: str, included: Iterable[tuple[str, int]], beyond: set[str],
                terms: Terms, work: Table) -> MonthPricing:
    """Price the interventions of `work` (`stage_work`: the unpriced ones of `month`) of the customers in
    `included` (pairs of a customer and its included minutes, read as they come: a caller may make them a batch
    at a time) into a temporary table, and
    sum them per customer and category into another, which `MonthPricing.load` reads a batch of customers at
    a time; nothing is written to the interventions until `write_month`, which the caller runs once it knows
    each customer's invoice (one UPDATE per row of the month, not two)."""
    connection = session.connection()
    tag = uuid4().hex[:8]
    quota = Table(f"pricing_quota_{tag}", MetaData(), Column("customer_id", String(64)),
                  Column("included", Integer), prefixes=["TEMPORARY"])
    beyond_table = Table(f"pricing_beyond_{tag}", MetaData(), Column("intervention_id", String(64)),
                         prefixes=["TEMPORARY"])
    priced = f"pricing_priced_{tag}"
    quota.create(connection)
    beyond_table.create(connection)
    batch = []
    for key, value in included:
        batch.append({"customer_id": key, "included": value})
        if len(batch) == SLICE:
            fill(connection, quota, ["customer_id", "included"], batch)
            batch = []
    fill(connection, quota, ["customer_id", "included"], batch)
    fill(connection, beyond_table, ["intervention_id"], [{"intervention_id": key} for key in beyond])
    postgres = connection.dialect.name == "postgresql"
    by_id = 'i.intervention_id COLLATE "C"' if postgres else "i.intervention_id"
    increment = terms.billing_increment_minutes
    # cents = (billed x per_minute + constant) // divisor, said with the quotients and remainders of per_minute and
    # constant by divisor: the same integer, whose terms stay far inside 64 bits at any rate the terms allow (the
    # product itself passed 2^63 at a rate of billions: PostgreSQL refused the close, SQLite went on in floating
    # point and stored a cent more than the rules priced)
    formulas = ", ".join(
        f"('{name}', '{formula.charge.value}', {formula.per_minute // formula.divisor}, "
        f"{formula.per_minute % formula.divisor}, {formula.constant // formula.divisor}, "
        f"{formula.constant % formula.divisor}, {formula.divisor})"
        for name, formula in ((name, cents_formula(name, terms)) for name in CATEGORIES))
    # the quota's minutes: a quota category's, unless beyond support (then billed, never drawn)
    draws = "CASE WHEN c.charge = 'quota' AND b.intervention_id IS NULL THEN i.minutes ELSE 0 END"
    connection.execute(text(f"""
        CREATE TEMPORARY TABLE {priced} AS
        WITH c(category, charge, per_whole, per_rest, constant_whole, constant_rest, divisor) AS (VALUES {formulas}),
        w AS (SELECT i.intervention_id, i.customer_id, i.minutes, i.category, c.charge, c.per_whole, c.per_rest,
                     c.constant_whole, c.constant_rest, c.divisor, {draws} AS draws,
                     q.included - SUM({draws}) OVER (PARTITION BY i.customer_id ORDER BY i.started_at, {by_id}
                                                     ROWS UNBOUNDED PRECEDING) + {draws} AS left_before
              FROM {work.name} i JOIN c ON c.category = i.category
                   JOIN {quota.name} q ON q.customer_id = i.customer_id
                   LEFT JOIN {beyond_table.name} b ON b.intervention_id = i.intervention_id),
        d AS (SELECT w.*, CASE WHEN draws = 0 OR left_before <= 0 THEN 0 WHEN left_before >= minutes THEN minutes
                               ELSE left_before END AS drawn FROM w),
        b AS (SELECT d.*, CASE WHEN charge = 'free' THEN 0
                               ELSE (minutes - drawn + {increment - 1}) / {increment} * {increment} END AS billed
              FROM d)
        SELECT intervention_id, customer_id, category, charge, minutes, drawn,
               CASE WHEN charge = 'free' THEN minutes ELSE drawn END AS free_minutes, billed,
               CASE WHEN charge = 'free' THEN 0
                    ELSE billed * per_whole + constant_whole + (billed * per_rest + constant_rest) / divisor END AS cents
        FROM b"""))
    # the sums per customer and category, found by customer: what `MonthPricing.load` reads a batch at a time
    sums = f"pricing_sums_{tag}"
    connection.execute(text(
        f"CREATE TEMPORARY TABLE {sums} AS SELECT customer_id, category, COUNT(*) AS n, "
        f"SUM(CASE WHEN charge = 'quota' THEN drawn ELSE 0 END) AS used, "
        f"SUM(CASE WHEN charge = 'quota' THEN minutes - drawn ELSE 0 END) AS exceeded, "
        f"SUM(CASE WHEN cents <> 0 THEN 1 ELSE 0 END) AS costing, "
        f"SUM(CASE WHEN cents <> 0 THEN billed ELSE 0 END) AS billed, SUM(cents) AS cents "
        f"FROM {priced} GROUP BY customer_id, category"))
    connection.execute(text(f"CREATE INDEX {sums}_customer ON {sums} (customer_id)"))
    if postgres:   # a temporary table has no statistics until asked: without them a batch's lookup may scan
        connection.execute(text(f"ANALYZE {sums}"))
    owners = f"pricing_invoices_{tag}"
    _owners(owners).create(connection)
    beyond_table.drop(connection)
    quota.drop(connection)
    work.drop(connection)
    return MonthPricing({}, {}, defaultdict(list), {}, staged=(priced, sums, owners))


def write_month(session: Session, month: str, pricing: MonthPricing, *, invoices: dict[str, int],
                left_out: set[str]) -> None:
    """The staged prices into the interventions in one `UPDATE ... FROM` (free_minutes, billed_minutes,
    amount_ht, close_month `month`, and invoice_id: the customer's invoice in `invoices` when the intervention
    costs something, given here or batch by batch to `MonthPricing.own`); the work of customers `left_out` (not
    billed) stays unpriced. Drops the staging tables."""
    connection = session.connection()
    priced, sums, owners = pricing.staged
    postgres = connection.dialect.name == "postgresql"
    pricing.own(session, invoices)
    if left_out:
        connection.execute(text(
            f"DELETE FROM {priced} WHERE customer_id IN ({', '.join(':c%d' % n for n, _ in enumerate(left_out))})"),
            {f"c{n}": customer for n, customer in enumerate(sorted(left_out))})
    connection.execute(text(
        f"UPDATE interventions SET free_minutes = p.free_minutes, billed_minutes = p.billed, "
        f"amount_ht = {'CAST(p.cents AS NUMERIC) / 100' if postgres else 'p.cents / 100.0'}, close_month = :month, "
        f"invoice_id = CASE WHEN p.cents <> 0 THEN p.invoice_id END "
        f"FROM (SELECT s.intervention_id, s.free_minutes, s.billed, s.cents, o.invoice_id FROM {priced} s "
        f"LEFT JOIN {owners} o ON o.customer_id = s.customer_id) p "
        f"WHERE interventions.intervention_id = p.intervention_id"), {"month": month})
    for table in (owners, sums, priced):
        connection.execute(text(f"DROP TABLE {table}"))
    pricing.staged = ()


def unprice(session: Session, month: str, customers: set[str]) -> None:
    """Leave the month's work of `customers` unpriced again (a customer the close could not bill)."""
    if not customers:
        return
    session.connection().execute(text(
        "UPDATE interventions SET free_minutes = NULL, billed_minutes = NULL, amount_ht = NULL, close_month = NULL "
        f"WHERE month = :month AND close_month = :month AND customer_id IN ({', '.join(':c%d' % n for n, _ in enumerate(customers))})"),
        {"month": month, **{f"c{n}": customer for n, customer in enumerate(sorted(customers))}})


def attach_invoices(session: Session, month: str) -> None:
    """Each priced intervention of the month that costs something, to its customer's draft monthly invoice."""
    session.connection().execute(text(
        "UPDATE interventions SET invoice_id = v.id FROM invoices v "
        "WHERE v.close_month = :month AND v.kind = :kind AND v.status = :status "
        "AND v.customer_id = interventions.customer_id AND interventions.month = :month "
        "AND interventions.close_month = :month AND interventions.amount_ht <> 0"),
        {"month": month, "kind": InvoiceKind.MONTHLY.value, "status": InvoiceStatus.DRAFT.value})
