"""Billed through, for a ledger that holds invoices from before 0011 (data only; no schema change).

0011 added `invoices.period_start/period_end/bills_subscription` with every existing row at "no period,
bills no subscription". Read literally, a close would then bill again every subscription day those
invoices billed. This step gives them the periods they billed, once, so that afterwards the columns
are the whole truth (a null period means the invoice billed no subscription: a penalty, a credit note,
an imported invoice marked `subscription=false`) and no reader has to guess:

- an imported invoice gets its default period (DESIGN "Billed through": a monthly customer's covers the
  calendar month before `issued_on`, an annual one's the twelve months from its month), bills the
  subscription, and its `month` becomes that period's first month (the service month);
- a product monthly invoice with a positive `subscription` line billed its month (monthly customers) or
  the contract year from the contract's own day in its month (annual customers);
- each customer's `subscription_start` is its `contract_start`, else the first day of its earliest
  imported invoice's period.

Revision ID: 0012_billed
Revises: 0011_moving_in
"""
from datetime import date, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0012_billed"
down_revision = "0011_moving_in"
branch_labels = None
depends_on = None

customers = sa.table("customers", sa.column("customer_id", sa.String), sa.column("billing_cycle", sa.String),
                     sa.column("contract_start", sa.Date), sa.column("subscription_start", sa.Date))
invoices = sa.table("invoices", sa.column("id", sa.Integer), sa.column("customer_id", sa.String),
                    sa.column("kind", sa.String), sa.column("status", sa.String), sa.column("month", sa.String),
                    sa.column("issued_on", sa.Date), sa.column("period_start", sa.Date),
                    sa.column("period_end", sa.Date), sa.column("bills_subscription", sa.Boolean))
lines = sa.table("invoice_lines", sa.column("invoice_id", sa.Integer), sa.column("category", sa.String),
                 sa.column("amount_ht", sa.Numeric))


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def upgrade() -> None:
    bind = op.get_bind()
    cycles = {row.customer_id: (row.billing_cycle, row.contract_start)
              for row in bind.execute(sa.select(customers.c.customer_id, customers.c.billing_cycle,
                                                customers.c.contract_start))}
    earliest: dict[str, date] = {}
    imported = []
    for row in bind.execute(sa.select(invoices.c.id, invoices.c.customer_id, invoices.c.issued_on)
                            .where(invoices.c.kind == "imported", invoices.c.period_start.is_(None))):
        cycle = cycles.get(row.customer_id, ("monthly", None))[0]
        first = row.issued_on.replace(day=1)
        start, end = ((first, _add_months(first, 12) - timedelta(days=1)) if cycle == "annual"
                      else (_add_months(first, -1), first - timedelta(days=1)))
        imported.append({"key": row.id, "start": start, "end": end, "month": f"{start:%Y-%m}"})
    if imported:
        bind.execute(sa.update(invoices).where(invoices.c.id == sa.bindparam("key")).values(
            period_start=sa.bindparam("start"), period_end=sa.bindparam("end"), bills_subscription=True,
            month=sa.bindparam("month")), imported)
    for row in bind.execute(sa.select(invoices.c.customer_id, sa.func.min(invoices.c.period_start).label("first"))
                            .where(invoices.c.kind == "imported", invoices.c.bills_subscription.is_(True))
                            .group_by(invoices.c.customer_id)):
        earliest[row.customer_id] = row.first
    billed = sa.select(lines.c.invoice_id).where(lines.c.category == "subscription", lines.c.amount_ht > 0)
    own = []
    for row in bind.execute(sa.select(invoices.c.id, invoices.c.customer_id, invoices.c.month)
                            .where(invoices.c.kind == "monthly", invoices.c.period_start.is_(None),
                                   invoices.c.id.in_(billed))):
        first = date(int(row.month[:4]), int(row.month[5:7]), 1)
        cycle, contract = cycles.get(row.customer_id, ("monthly", None))
        months = 12 if cycle == "annual" else 1
        if cycle == "annual" and contract is not None:   # its contract year, from the contract's own day
            first = min(first + timedelta(days=contract.day - 1), _add_months(first, 1) - timedelta(days=1))
        own.append({"key": row.id, "start": first, "end": _add_months(first, months) - timedelta(days=1)})
    if own:
        bind.execute(sa.update(invoices).where(invoices.c.id == sa.bindparam("key")).values(
            period_start=sa.bindparam("start"), period_end=sa.bindparam("end"), bills_subscription=True), own)
    starts = [{"key": customer_id, "start": contract_start or earliest.get(customer_id)}
              for customer_id, (_, contract_start) in cycles.items() if contract_start or earliest.get(customer_id)]
    if starts:
        bind.execute(sa.update(customers).where(customers.c.customer_id == sa.bindparam("key"))
                     .values(subscription_start=sa.bindparam("start")), starts)


def downgrade() -> None:
    """The periods stay (0011's downgrade drops the columns); imported invoices' months go back to their
    issue month."""
    bind = op.get_bind()
    for row in bind.execute(sa.select(invoices.c.id, invoices.c.issued_on).where(invoices.c.kind == "imported")):
        bind.execute(sa.update(invoices).where(invoices.c.id == row.id).values(month=f"{row.issued_on:%Y-%m}"))
