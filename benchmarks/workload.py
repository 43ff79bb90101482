"""Deterministic workloads: a ledger and a platform database at a given scale, from a seed.

Scales (customers, interventions in the benchmark month): S 100 / 10,000; M 10,000 / 500,000;
L 50,000 / 2,000,000; XL 200,000 / 10,000,000; E200K 4,000 / 200,000 (the export target's month).
Rows are generated and written a batch at a time, so memory stays bounded by the batch (20,000 rows)
and the customer ids, whatever the scale (XL's 10 million interventions are never held at once). Every customer has six
months of subscription invoices, mostly paid; about 8 % are in arrears at various depths, 1 % on
standby. Platform data is a few KB per customer, plus optionally one large customer (`BIG`).
Rows are written a batch at a time: on PostgreSQL by `COPY ... FROM STDIN` (each value bound by its column's
own type, as an insert would, and the columns' scalar defaults filled in), on SQLite by a bulk insert with
SQLAlchemy Core; the same rows either way.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import MetaData, insert

from lifecycle_config.databases import engine_for
from ledger.migrate import upgrade
from ledger.models import Customer, Intervention, Invoice, InvoiceLine, Payment, StandbyPeriod
from lifecycle.demo import platform_tables
from policy.calendar import PARIS, add_months, month_key
from policy.money import vat_of

MONTH = "2026-10"
DAY = date(2026, 11, 1)
ARREARS_DAY = date(2026, 11, 22)


@dataclass(frozen=True)
class Scale:
    customers: int
    interventions: int


#: XS: S's customers (their arrears, standby and exempt cases) with a tenth of its interventions, for the suite's smoke run
SCALES = {"XS": Scale(100, 1_000), "S": Scale(100, 10_000), "M": Scale(10_000, 500_000), "L": Scale(50_000, 2_000_000),
          "XL": Scale(200_000, 10_000_000), "E200K": Scale(4_000, 200_000)}
CATEGORIES = ["assistance"] * 30 + ["question"] * 15 + ["bug_fix"] * 10 + ["data_modification"] * 10 + \
             ["operation_support"] * 8 + ["reporting"] * 6 + ["data_extraction"] * 5 + ["user_error"] * 4 + \
             ["customization"] * 4 + ["training"] * 3 + ["data_recovery"] * 2 + ["feature_urgent"] * 2 + \
             ["feature_specific"] * 1
BATCH = 20_000


def _write(connection, table, rows):
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        _copy(connection, table, rows)
        return
    for start in range(0, len(rows), BATCH):
        connection.execute(insert(table), rows[start:start + BATCH])


def _copy(connection, table, rows) -> None:
    """`rows` into `table` by COPY, in the connection's transaction: the values bound as SQLAlchemy binds
    them (its type's bind processor), the missing columns given their scalar default as an insert gives it."""
    dialect = connection.dialect
    given = list(rows[0])
    defaults = {column.name: column.default.arg for column in table.columns
                if column.name not in given and column.default is not None and column.default.is_scalar}
    names = given + list(defaults)
    processors = []
    for name in names:
        processor = table.c[name].type._cached_bind_processor(dialect)
        processors.append(processor)
    fixed = [defaults[name] for name in defaults]
    cursor = connection.connection.driver_connection.cursor()
    try:
        with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
            for row in rows:
                values = [row[name] for name in given] + fixed
                copy.write_row([value if processor is None or value is None else processor(value)
                                for processor, value in zip(processors, values)])
    finally:
        cursor.close()


#: from this many interventions in the month, PostgreSQL draws them itself (XL's 10 million: drawn in Python
#: and sent by COPY they took more than an hour on the loaded 2-core machine, most of it Python's draws)
DRAWN_BY_THE_DATABASE = 5_000_000


def generate_ledger(url: str, scale: Scale, seed: int = 42) -> dict:
    """The ledger at `scale`, written a batch at a time in one transaction (the same rows, in the same order
    of the random draws, whatever the batch). On PostgreSQL, a month of DRAWN_BY_THE_DATABASE interventions or
    more is drawn by the database (`setseed`, then one INSERT ... SELECT over generate_series): the same
    distributions (customer uniform, the same minutes and category weights, an instant uniform over the 30
    days), other draws; deterministic for a seed as well."""
    rng = random.Random(seed)
    upgrade(url)
    engine = engine_for(url)
    stamp = datetime(2026, 11, 1, tzinfo=timezone.utc)
    ids = [f"C{n:06d}" for n in range(1, scale.customers + 1)]
    tables = [model.__table__ for model in (Customer, Invoice, InvoiceLine, Payment, StandbyPeriod)]
    batches = {table: [] for table in tables}
    counts = {"customers": 0, "invoices": 0, "payments": 0, "interventions": 0, "standby": 0}
    methods = ["sepa"] * 60 + ["card"] * 25 + ["transfer_installments"] * 10 + ["other"] * 5
    customers, invoices, lines, payments, standby = (batches[table] for table in tables)
    invoice_id = 0
    with engine.begin() as connection:
        def flush() -> None:
            for table, name in zip(tables, ("customers", "invoices", None, "payments", "standby")):
                if name:
                    counts[name] += len(batches[table])
                _write(connection, table, batches[table])
                batches[table].clear()

        for index, customer_id in enumerate(ids):
            fee = Decimal(rng.choice([190, 290, 490, 990, 1990]))
            customers.append({"customer_id": customer_id, "name": f"Client {customer_id} Sàrl", "email":
                              f"{customer_id.lower()}@example.com", "monthly_fee": fee,
                              "payment_method": rng.choice(methods), "billing_cycle": "monthly",
                              "vat_rate": Decimal("0.20"), "dunning_exempt": index % 97 == 0, "stage": "current",
                              "admin_enabled": True, "platform_enabled": True, "operations_enabled": True,
                              "created_at": stamp, "updated_at": stamp})
            unpaid = rng.choice([1, 2, 3, 7]) if rng.random() < 0.08 else 0
            for back in range(7, 1, -1):  # invoices for April..September, issued the 1st of the next month
                month_start = add_months(date(2026, 10, 1), -back + 1)
                issued = add_months(month_start, 1)
                invoice_id += 1
                vat = vat_of(fee, Decimal("0.20"))
                invoices.append({"id": invoice_id, "invoice_key": f"imported:B{invoice_id}",
                                 "external_id": f"B{invoice_id}", "customer_id": customer_id, "kind": "imported",
                                 "month": month_key(issued), "status": "open", "issued_on": issued,
                                 "due_on": issued + timedelta(days=30), "total_ht": fee, "total_vat": vat,
                                 "total_ttc": fee + vat, "created_at": stamp, "finalised_at": stamp})
                lines.append({"invoice_id": invoice_id, "position": 1, "description": "Subscription",
                              "category": "imported", "quantity": Decimal(1), "unit_price": fee, "amount_ht": fee,
                              "vat_rate": Decimal("0.20")})
                if back - 1 >= unpaid:
                    payments.append({"payment_id": f"P{invoice_id}", "invoice_id": invoice_id,
                                     "paid_on": issued + timedelta(days=rng.randint(1, 28)), "amount": fee + vat,
                                     "created_at": stamp})
                    invoices[-1]["status"] = "paid"
            if index % 100 == 50:
                start = date(2026, 10, 1) + timedelta(days=rng.randint(0, 25))
                standby.append({"customer_id": customer_id, "reason": "temporary_inactivity", "start_on": start,
                                "end_on": add_months(start, 2), "status": "active", "source": "import",
                                "created_at": stamp})
            if len(invoices) >= BATCH:
                flush()
        flush()
        interventions = []
        first = datetime(2026, 10, 1, tzinfo=PARIS).astimezone(timezone.utc)
        in_database = engine.dialect.name == "postgresql" and scale.interventions >= DRAWN_BY_THE_DATABASE
        if in_database:
            _draw_in_database(connection, scale, seed, first, stamp)
            counts["interventions"] = scale.interventions
        for number in range(0 if in_database else scale.interventions):
            moment = first + timedelta(seconds=rng.randint(0, 30 * 86400))
            interventions.append({"intervention_id": f"I{number:08d}", "customer_id": ids[rng.randrange(len(ids))],
                                  "started_at": moment, "month": MONTH,
                                  "minutes": rng.choice([5, 10, 15, 20, 30, 45, 60, 90]),
                                  "category": rng.choice(CATEGORIES), "ticket": f"HD-{number}", "engineer": "bench",
                                  "source": "import", "created_at": stamp})
            if len(interventions) >= BATCH:
                _write(connection, Intervention.__table__, interventions)
                counts["interventions"] += len(interventions)
                interventions.clear()
        _write(connection, Intervention.__table__, interventions)
        counts["interventions"] += len(interventions)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.exec_driver_sql("SELECT setval('invoices_id_seq', (SELECT max(id) FROM invoices))")
    return counts


def _draw_in_database(connection, scale: Scale, seed: int, first: datetime, stamp: datetime) -> None:
    """The month's interventions drawn by PostgreSQL, as the Python loop draws them (see generate_ledger)."""
    def pick(values) -> str:
        return f"(ARRAY[{', '.join(repr(value) for value in values)}])[1 + floor(random() * {len(values)})::int]"

    connection.exec_driver_sql(f"SELECT setseed({(seed % 1000) / 1000})")
    connection.exec_driver_sql(
        "INSERT INTO interventions (intervention_id, customer_id, started_at, month, minutes, category, ticket, "
        "engineer, source, created_at) "
        "SELECT 'I' || lpad(n::text, 8, '0'), 'C' || lpad((1 + floor(random() * %(customers)s))::int::text, 6, '0'), "
        "%(first)s + floor(random() * %(span)s) * interval '1 second', %(month)s, "
        f"{pick([5, 10, 15, 20, 30, 45, 60, 90])}, {pick(CATEGORIES)}, 'HD-' || n, 'bench', 'import', %(stamp)s "
        "FROM generate_series(0, %(last)s) AS n",
        {"customers": scale.customers, "first": first, "span": 30 * 86400 + 1, "month": MONTH, "stamp": stamp,
         "last": scale.interventions - 1})


def generate_platform(url: str, customers: int, seed: int = 42, big_mb: int = 0) -> dict:
    """Tenants with a few KB each, and optionally `BIG`, a customer with about `big_mb` MB of rows."""
    rng = random.Random(seed + 1)
    engine = engine_for(url)
    metadata = MetaData()
    tables = platform_tables(metadata)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    ids = [f"C{n:06d}" for n in range(1, customers + 1)] + (["BIG"] if big_mb else [])
    users = 0
    with engine.begin() as connection:
        _write(connection, tables["tenants"], [{"tenant_id": t, "name": t, "admin_enabled": True,
                                                "platform_enabled": True, "operations_enabled": True} for t in ids])
        batch = []
        for tenant in ids[:customers]:
            for n in range(10):
                batch.append({"tenant_id": tenant, "email": f"user{n}@{tenant.lower()}.example",
                              "full_name": f"Utilisateur {n}", "role": "investor",
                              "created_at": datetime(2025, 1, 1) + timedelta(minutes=rng.randint(0, 500_000))})
            if len(batch) >= BATCH:
                _write(connection, tables["users"], batch)
                users += len(batch)
                batch = []
        _write(connection, tables["users"], batch)
        users += len(batch)
    big_rows = 0
    if big_mb:
        # ~200 bytes a row on disk: a realistic user row with a long-ish name and e-mail
        target = big_mb * 1024 * 1024 // 200
        with engine.begin() as connection:
            for start in range(0, target, BATCH):
                rows = [{"tenant_id": "BIG", "email": f"investor{n}.{rng.getrandbits(40):010x}@big-customer.example",
                         "full_name": f"Investisseur n°{n} {rng.getrandbits(64):016x} Émeraude",
                         "role": rng.choice(["investor", "admin", "analyst"]),
                         "created_at": datetime(2024, 1, 1) + timedelta(seconds=n)}
                        for n in range(start, min(start + BATCH, target))]
                _write(connection, tables["users"], rows)
                big_rows += len(rows)
    return {"tenants": len(ids), "users": users + big_rows, "big_rows": big_rows}
