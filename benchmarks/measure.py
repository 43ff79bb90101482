"""One measurement in its own process: `python -m benchmarks.measure OP VARIANT --ledger URL ...`.

Prints one JSON line: seconds, peak resident memory of this process (`ru_maxrss`), and a check
value (an amount or a row count) that must agree between ours and the baseline, so a fast baseline
that does less work would show. Baselines are plain code: SQL, pandas, openpyxl, XlsxWriter, gzip,
boto3, with the same compression codec and level and the same storage as ours.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import shutil
import tempfile
import time
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

from sqlalchemy import bindparam, func, insert, select, text, update

from benchmarks.workload import ARREARS_DAY, DAY, MONTH
from lifecycle_config.databases import engine_for

OPS = {}


def op(name):
    def register(function):
        OPS[name] = function
        return function
    return register


def _settings(args):
    from blocks.notifications import Notifications
    from blocks.platform import PlatformControl
    from blocks.seller import Seller
    from blocks.settings import Settings
    from blocks.storage import ObjectStorage
    from policy.terms import Terms

    return Settings(Terms(), ObjectStorage(url=args.storage), PlatformControl(database_url=args.platform),
                    Notifications(outbox_dir=str(Path(args.home) / "outbox")), Seller())


# --- monthly close ------------------------------------------------------------------------------

@op("close")
def close(args, engine):
    from ledger.models import Invoice
    from operations.close import draft, finalise
    from policy.vocabulary import InvoiceKind

    settings = _settings(args)
    if args.variant == "ours":
        draft(MONTH, settings.terms, actor="bench", flow_run_id=None, engine=engine)
        finalise(MONTH, DAY, settings.terms, actor="bench", flow_run_id=None, engine=engine)
    elif args.variant == "sql":
        _close_in_sql(engine, settings.terms)
    else:
        _close_baseline(engine)
    with engine.connect() as connection:
        return str(connection.scalar(select(func.sum(Invoice.total_ttc)).where(Invoice.kind == InvoiceKind.MONTHLY)))


def _half_up(numerator, denominator):
    """Integer division rounded half up, for non-negative numerators (cents arithmetic)."""
    return (2 * numerator + denominator) // (2 * denominator)


def _close_baseline(engine):
    """The same invoices with pandas and integer cents, and the same writes, in bulk."""
    import numpy as np
    import pandas as pd

    from ledger.models import Intervention, Invoice, InvoiceLine
    from policy.categories import CATEGORIES

    with engine.connect() as connection:
        work = pd.read_sql(text("SELECT intervention_id, customer_id, started_at, minutes, category FROM interventions "
                                "WHERE month = :m AND free_minutes IS NULL"), connection, params={"m": MONTH})
        customers = pd.read_sql(text("SELECT customer_id, monthly_fee, payment_method, included_minutes FROM customers"),
                                connection)
        standby = pd.read_sql(text("SELECT customer_id, start_on, end_on FROM standby_periods WHERE status != 'cancelled'"),
                              connection)
        next_id = (connection.scalar(text("SELECT max(id) FROM invoices")) or 0) + 1
    days = 31
    first, after = pd.Timestamp("2026-10-01"), pd.Timestamp("2026-11-01")
    standby["s"] = (pd.to_datetime(standby.end_on).clip(upper=after) - pd.to_datetime(standby.start_on).clip(lower=first)
                    ).dt.days.clip(lower=0)
    s_days = standby.groupby("customer_id").s.sum()
    customers = customers.set_index("customer_id")
    customers["s"] = s_days.reindex(customers.index).fillna(0).astype(int)
    base = customers.included_minutes.fillna(120).astype(int)
    customers["included"] = (base * (days - customers.s)) // days
    charge = {name: row.charge.value for name, row in CATEGORIES.items()}
    work["charge"] = work.category.map(charge)
    work["key"] = work.intervention_id.map(lambda value: value.encode())
    work = work.sort_values(["customer_id", "started_at", "key"])
    quota = work.charge == "quota"
    cumulative = work.minutes.where(quota, 0).groupby(work.customer_id).cumsum()
    available = work.customer_id.map(customers.included)
    drawn = (available - (cumulative - work.minutes.where(quota, 0))).clip(lower=0)
    work["drawn"] = np.where(quota, np.minimum(drawn, work.minutes), 0)
    work["free"] = np.where(work.charge == "free", work.minutes, work.drawn)
    rest = np.where(work.charge == "free", 0, work.minutes - work.drawn)
    work["billed"] = -(-rest // 15) * 15
    rate = 12000  # cents an hour
    amount = np.where(work.charge == "discounted", (2 * work.billed * rate + 120) // 240,
                      (2 * work.billed * rate + 60) // 120)
    amount = np.where(work.charge == "free", 0, amount)
    work["cents"] = amount + np.where(work.category == "data_recovery", 25000, 0)
    fee = (customers.monthly_fee.astype(float) * 100).round().astype(int)
    subscription = (2 * fee * (2 * days - customers.s) + 2 * days) // (4 * days)
    by_category = work[work.cents > 0].groupby(["customer_id", "category"]).cents.sum()
    other = subscription.add(by_category.groupby(level=0).sum(), fill_value=0).astype(int)
    method = customers.payment_method
    surcharge = np.where(method == "card", (2 * other * 2 + 100) // 200,
                         np.where(method.isin(["transfer_installments", "other"]), 2000, 0))
    ht = other + surcharge
    vat = (2 * ht * 20 + 100) // 200
    invoice_ids = pd.Series(range(next_id, next_id + len(ht)), index=ht.index)
    now = datetime(2026, 11, 1, tzinfo=timezone.utc)
    invoices = [{"id": int(invoice_ids[c]), "invoice_key": f"monthly:{c}:{MONTH}", "number": f"2026-{n:06d}",
                 "customer_id": c, "kind": "monthly", "month": MONTH, "status": "open", "issued_on": DAY,
                 "due_on": date(2026, 12, 1), "total_ht": Decimal(int(ht[c])) / 100, "total_vat": Decimal(int(vat[c])) / 100,
                 "total_ttc": Decimal(int(ht[c] + vat[c])) / 100, "close_month": MONTH, "created_at": now}
                for n, c in enumerate(ht.index, start=1)]
    lines = [{"invoice_id": int(invoice_ids[c]), "position": 1, "description": "Subscription", "category": "subscription",
              "quantity": Decimal(1), "unit_price": Decimal(int(subscription[c])) / 100,
              "amount_ht": Decimal(int(subscription[c])) / 100, "vat_rate": Decimal("0.2")} for c in ht.index]
    position = {}
    for (c, category), cents in by_category.items():
        position[c] = position.get(c, 1) + 1
        lines.append({"invoice_id": int(invoice_ids[c]), "position": position[c], "description": category,
                      "category": category, "quantity": Decimal(1), "unit_price": Decimal(int(cents)) / 100,
                      "amount_ht": Decimal(int(cents)) / 100, "vat_rate": Decimal("0.2")})
    for c in ht.index:
        if surcharge[ht.index.get_loc(c)]:
            position[c] = position.get(c, 1) + 1
            lines.append({"invoice_id": int(invoice_ids[c]), "position": position[c], "description": "surcharge",
                          "category": "surcharge", "quantity": Decimal(1),
                          "unit_price": Decimal(int(surcharge[ht.index.get_loc(c)])) / 100,
                          "amount_ht": Decimal(int(surcharge[ht.index.get_loc(c)])) / 100, "vat_rate": Decimal("0.2")})
    updates = [{"key": r.intervention_id, "f": int(r.free), "b": int(r.billed), "a": Decimal(int(r.cents)) / 100,
                "i": int(invoice_ids[r.customer_id]) if r.cents else None}
               for r in work.itertuples(index=False)]
    table = Intervention.__table__
    statement = update(table).where(table.c.intervention_id == bindparam("key")).values(
        free_minutes=bindparam("f"), billed_minutes=bindparam("b"), amount_ht=bindparam("a"),
        invoice_id=bindparam("i"), close_month=MONTH)
    with engine.begin() as connection:
        connection.execute(insert(Invoice.__table__), invoices)
        connection.execute(insert(InvoiceLine.__table__), lines)
        for start in range(0, len(updates), 20_000):
            connection.execute(statement, updates[start:start + 20_000])


def _categories_values(terms) -> str:
    """The category table as SQL VALUES: charge, hourly rate in cents, fixed fee in cents, and the
    rate's factor as a fraction (the urgent-feature discount), read from policy so the floor prices as
    the rules say (whole cents only: a rate with a fraction of a cent would need other arithmetic)."""
    from policy.categories import CATEGORIES, Charge, fixed_fee

    rows = []
    for name, row in CATEGORIES.items():
        rate, fee = terms.rate_for(name) * 100, fixed_fee(name, terms) * 100
        factor = terms.feature_urgent_factor if row.charge is Charge.DISCOUNTED else Decimal(1)
        numerator, denominator = factor.as_integer_ratio()
        if rate != int(rate) or fee != int(fee):
            raise ValueError(f"{name}: the SQL floor prices whole cents only")
        rows.append(f"('{name}', '{row.charge.value}', {int(rate)}, {int(fee)}, {numerator}, {denominator})")
    return "VALUES " + ", ".join(rows)


def _close_in_sql(engine, terms):
    """The floor: the same invoices priced by the database itself, in integer cents, in one transaction
    (PostgreSQL's SUM of integers is a numeric: cast back, or its `/` stops being integer division).
    A window sum gives each intervention the quota minutes used before it (chronological, then by id);
    one INSERT ... SELECT writes the invoices, one the lines, one UPDATE ... FROM prices the interventions."""
    from sqlalchemy import Date, bindparam

    from ledger.column_types import UtcDateTime

    pg = engine.dialect.name == "postgresql"
    days = 31
    first, after = "2026-10-01", "2026-11-01"
    if pg:
        standby_days = (f"LEAST(end_on, DATE '{after}') - GREATEST(start_on, DATE '{first}')")
        number = "'2026-' || lpad(CAST(n AS text), 6, '0')"
        by_id = 'i.intervention_id COLLATE "C"'
    else:
        standby_days = f"CAST(julianday(min(end_on, '{after}')) - julianday(max(start_on, '{first}')) AS INTEGER)"
        number = "printf('2026-%06d', n)"
        by_id = "i.intervention_id"
    increment = terms.billing_increment_minutes
    stamp = datetime(2026, 11, 1, tzinfo=timezone.utc)
    factor = terms.standby_price_factor.as_integer_ratio()   # standby days billed at this share of the fee
    card = terms.card_surcharge_rate.as_integer_ratio()
    installments, other = int(terms.installment_fee * 100), int(terms.other_payment_fee * 100)
    vat = Decimal("0.20").as_integer_ratio()
    statements = [
        "DROP TABLE IF EXISTS bench_priced", "DROP TABLE IF EXISTS bench_bill",
        f"""CREATE TEMPORARY TABLE bench_priced AS
        WITH cat(category, charge, rate, fee, fnum, fden) AS ({_categories_values(terms)}),
        sb AS (SELECT customer_id, SUM({standby_days}) AS s FROM standby_periods
               WHERE status <> 'cancelled' AND start_on < '{after}' AND end_on > '{first}' GROUP BY customer_id),
        cu AS (SELECT c.customer_id, COALESCE(c.included_minutes, {terms.included_minutes}) * ({days} - COALESCE(sb.s, 0))
                      / {days} AS included
               FROM customers c LEFT JOIN sb ON sb.customer_id = c.customer_id),
        w AS (SELECT i.intervention_id, i.customer_id, i.minutes, i.category, cat.charge, cat.rate, cat.fee, cat.fnum,
                     cat.fden, cu.included - SUM(CASE WHEN cat.charge = 'quota' THEN i.minutes ELSE 0 END)
                       OVER (PARTITION BY i.customer_id ORDER BY i.started_at, {by_id} ROWS UNBOUNDED PRECEDING)
                       + CASE WHEN cat.charge = 'quota' THEN i.minutes ELSE 0 END AS left_before
              FROM interventions i JOIN cat ON cat.category = i.category JOIN cu ON cu.customer_id = i.customer_id
              WHERE i.month = '{MONTH}' AND i.free_minutes IS NULL),
        d AS (SELECT w.*, CASE WHEN charge <> 'quota' OR left_before <= 0 THEN 0 WHEN left_before >= minutes THEN minutes
                               ELSE left_before END AS drawn FROM w),
        b AS (SELECT d.*, CASE WHEN charge = 'free' THEN 0
                               ELSE (minutes - drawn + {increment - 1}) / {increment} * {increment} END AS billed FROM d)
        SELECT intervention_id, customer_id, category, CASE WHEN charge = 'free' THEN minutes ELSE drawn END AS free_minutes,
               billed, CASE WHEN charge = 'free' OR (billed = 0 AND fee = 0) THEN 0
                            ELSE (2 * billed * rate * fnum + 60 * fden) / (120 * fden) + fee END AS cents
        FROM b""",
        f"""CREATE TEMPORARY TABLE bench_bill AS
        WITH sb AS (SELECT customer_id, SUM({standby_days}) AS s FROM standby_periods
                    WHERE status <> 'cancelled' AND start_on < '{after}' AND end_on > '{first}' GROUP BY customer_id),
        wk AS (SELECT customer_id, CAST(SUM(cents) AS BIGINT) AS cents FROM bench_priced GROUP BY customer_id),
        su AS (SELECT c.customer_id, c.payment_method,
                      (2 * CAST(ROUND(c.monthly_fee * 100) AS INTEGER) * ({factor[1]} * {days} - ({factor[1]} - {factor[0]})
                        * COALESCE(sb.s, 0)) + {factor[1]} * {days}) / (2 * {factor[1]} * {days}) AS sub,
                      COALESCE(wk.cents, 0) AS work
               FROM customers c LEFT JOIN sb ON sb.customer_id = c.customer_id LEFT JOIN wk ON wk.customer_id = c.customer_id),
        sc AS (SELECT su.*, CASE WHEN payment_method = 'card' THEN (2 * (sub + work) * {card[0]} + {card[1]}) / (2 * {card[1]})
                                 WHEN payment_method = 'transfer_installments' THEN {installments}
                                 WHEN payment_method = 'other' THEN {other} ELSE 0 END AS surcharge
               FROM su)
        SELECT sc.*, sub + work + surcharge AS ht,
               (2 * (sub + work + surcharge) * {vat[0]} + {vat[1]}) / (2 * {vat[1]}) AS vat,
               ROW_NUMBER() OVER (ORDER BY customer_id) AS n
        FROM sc""",
        f"""INSERT INTO invoices (invoice_key, number, customer_id, kind, month, status, issued_on, due_on, total_ht,
                                 total_vat, total_ttc, close_month, created_at, bills_subscription)
        SELECT 'monthly:' || customer_id || ':' || '{MONTH}', {number}, customer_id, 'monthly', '{MONTH}', 'open', :issued,
               :due, ht / 100.0, vat / 100.0, (ht + vat) / 100.0, '{MONTH}', :stamp, {'true' if pg else '1'}
        FROM bench_bill ORDER BY customer_id""",
        f"""INSERT INTO invoice_lines (invoice_id, position, description, category, quantity, unit_price, amount_ht,
                                      vat_rate)
        SELECT v.id, ROW_NUMBER() OVER (PARTITION BY v.id ORDER BY l.sort, l.category), l.category, l.category, 1,
               l.cents / 100.0, l.cents / 100.0, 0.2
        FROM (SELECT customer_id, 0 AS sort, 'subscription' AS category, sub AS cents FROM bench_bill
              UNION ALL SELECT customer_id, 1, category, CAST(SUM(cents) AS BIGINT) FROM bench_priced GROUP BY customer_id, category
                        HAVING SUM(cents) > 0
              UNION ALL SELECT customer_id, 2, 'surcharge', surcharge FROM bench_bill WHERE surcharge > 0) l
        JOIN invoices v ON v.invoice_key = 'monthly:' || l.customer_id || ':' || '{MONTH}'""",
        f"""UPDATE interventions SET free_minutes = q.free_minutes, billed_minutes = q.billed, amount_ht = q.cents / 100.0,
                                     invoice_id = q.invoice_id, close_month = '{MONTH}'
        FROM (SELECT p.intervention_id, p.free_minutes, p.billed, p.cents,
                     CASE WHEN p.cents > 0 THEN v.id END AS invoice_id
              FROM bench_priced p JOIN invoices v ON v.invoice_key = 'monthly:' || p.customer_id || ':' || '{MONTH}') q
        WHERE interventions.intervention_id = q.intervention_id""",
        "DROP TABLE bench_priced", "DROP TABLE bench_bill",
    ]
    with engine.begin() as connection:
        for statement in statements:
            clause = text(statement)
            if ":stamp" in statement:
                clause = clause.bindparams(bindparam("stamp", stamp, type_=UtcDateTime()),
                                           bindparam("issued", DAY, type_=Date()),
                                           bindparam("due", date(2026, 12, 1), type_=Date()))
            connection.execute(clause)


# --- export -------------------------------------------------------------------------------------

def _export_rows(connection):
    """The Interventions sheet's rows, typed as ours writes them (a Paris wall-clock datetime, exact
    decimals, the hourly rate of the category): the same values, so the baseline does the same work
    except for the formatting. Raw SQLite text would hand openpyxl strings instead of dates."""
    from ledger.models import Customer, Intervention, Invoice
    from policy.calendar import PARIS
    from policy.categories import CATEGORIES, Charge
    from policy.quota import hourly_rate
    from policy.terms import Terms

    terms = Terms()
    rates = {name: hourly_rate(name, terms) for name, row in CATEGORIES.items() if row.charge is not Charge.FREE}
    i, c, v = Intervention.__table__.c, Customer.__table__.c, Invoice.__table__.c
    query = (select(i.started_at, i.month, i.customer_id, c.name, i.ticket, i.engineer, i.category, i.minutes,
                    i.free_minutes, i.billed_minutes, i.amount_ht, v.number)
             .join_from(Intervention.__table__, Customer.__table__, c.customer_id == i.customer_id)
             .outerjoin(Invoice.__table__, v.id == i.invoice_id)
             .where(i.close_month == MONTH).order_by(i.started_at, i.intervention_id))
    for row in connection.execution_options(stream_results=True, yield_per=5000).execute(query):
        yield [row[0].astimezone(PARIS).replace(tzinfo=None), *row[1:10], rates.get(row[6]), row[10], row[11]]


def _invoice_rows(connection):
    from ledger.models import Invoice

    v = Invoice.__table__.c
    return connection.execute(select(v.number, v.customer_id, v.kind, v.month, v.status, v.issued_on, v.due_on,
                                     v.total_ht, v.total_vat, v.total_ttc)
                              .where(v.close_month == MONTH).order_by(v.number)).all()


#: rows a bare baseline writes on one sheet before the next (a worksheet's limit, as the product's sheets)
SHEET_ROWS = 1_048_576


@op("export")
def export(args, engine):
    out = Path(args.home) / "export"
    out.mkdir(parents=True, exist_ok=True)
    if args.variant == "ours":
        from operations.export import export_month

        settings = _settings(args)
        result = export_month(MONTH, settings.storage, settings.terms, flow_run_id=None, engine=engine)
        return result.interventions
    rows = 0
    with engine.connect() as connection:
        invoices = _invoice_rows(connection)
        if args.variant == "openpyxl":
            from openpyxl import Workbook

            workbook = Workbook(write_only=True)
            sheet = workbook.create_sheet("Interventions")
            for row in _export_rows(connection):
                if rows and rows % SHEET_ROWS == 0:  # a full sheet: on to the next, as the product does
                    sheet = workbook.create_sheet(f"Interventions ({rows // SHEET_ROWS + 1})")
                sheet.append(row)
                rows += 1
            sheet = workbook.create_sheet("Invoices")
            for row in invoices:
                sheet.append(list(row))
            workbook.save(out / "baseline.xlsx")
        else:
            import xlsxwriter

            workbook = xlsxwriter.Workbook(str(out / "baseline-xlsxwriter.xlsx"), {"constant_memory": True})
            sheet = workbook.add_worksheet("Interventions")
            for row in _export_rows(connection):
                if rows and rows % SHEET_ROWS == 0:
                    sheet = workbook.add_worksheet(f"Interventions ({rows // SHEET_ROWS + 1})")
                sheet.write_row(rows % SHEET_ROWS, 0, [float(v) if isinstance(v, Decimal) else v for v in row])
                rows += 1
            sheet = workbook.add_worksheet("Invoices")
            for index, row in enumerate(invoices):
                sheet.write_row(index, 0, [float(v) if isinstance(v, Decimal) else v for v in row])
            workbook.close()
    return rows


# --- arrears ------------------------------------------------------------------------------------

@op("arrears")
def arrears(args, engine):
    if args.variant == "ours-select":
        # what of the daily sweep grows with every customer (not with those that have work): the one statement
        # of each customer's standing and the rules deciding who has work today; the work itself is per customer
        # with work (8 % of them the first time, about none on a next day), measured by `ours` at M
        from operations.arrears import _has_work, _standings
        from policy.arrears import ladder

        settings = _settings(args)
        rules = ladder(settings.terms)
        from ledger.db import session_scope

        with session_scope(engine) as session:
            standings = _standings(session, ARREARS_DAY)
            busy = [s for s in standings if _has_work(s, ARREARS_DAY, settings, rules)]
        return f"{len(busy)} with work of {len(standings)} owing or not current"
    if args.variant in ("ours", "ours-next-day"):
        from operations.arrears import sweep

        settings = _settings(args)
        if args.variant == "ours-next-day":
            started = time.perf_counter()
            sweep(ARREARS_DAY, settings, dry_run=False, actor="bench", flow_run_id=None, engine=engine)
            args.offset = time.perf_counter() - started  # the first day is set-up here, not measured
            sweep(date.fromordinal(ARREARS_DAY.toordinal() + 1), settings, dry_run=False, actor="bench",
                  flow_run_id=None, engine=engine)
        else:
            sweep(ARREARS_DAY, settings, dry_run=False, actor="bench", flow_run_id=None, engine=engine)
        from ledger.models import Customer
        from policy.vocabulary import Stage

        with engine.connect() as connection:
            return f"{connection.scalar(select(func.count()).where(Customer.stage != Stage.CURRENT))} not current"
    from policy.calendar import add_months

    query = text(
        "WITH paid AS (SELECT invoice_id, SUM(amount) AS paid FROM payments WHERE paid_on <= :day GROUP BY invoice_id), "
        "owed AS (SELECT i.customer_id, MIN(i.due_on) AS anchor FROM invoices i LEFT JOIN paid p ON p.invoice_id = i.id "
        "WHERE i.kind <> 'penalty' AND i.status NOT IN ('draft','disputed','written_off','void') AND i.due_on < :day "
        "AND i.total_ttc - COALESCE(p.paid, 0) > 0 GROUP BY i.customer_id) "
        "SELECT c.customer_id, c.dunning_exempt, o.anchor FROM customers c LEFT JOIN owed o ON o.customer_id = c.customer_id")
    stages = {}
    with engine.connect() as connection:
        for customer_id, exempt, anchor in connection.execute(query, {"day": ARREARS_DAY}):
            stage = "current"
            if anchor is not None and not exempt:
                anchor = anchor if isinstance(anchor, date) else date.fromisoformat(str(anchor))
                for months, name in ((1, "admin_disabled"), (2, "platform_disabled")):
                    if add_months(anchor, months) <= ARREARS_DAY:
                        stage = name
            stages[customer_id] = stage
    return f"{sum(1 for s in stages.values() if s != 'current')} not current"


# --- backup and restore of the big customer -----------------------------------------------------

@op("backup")
def backup(args, engine):
    if args.variant == "ours":
        from blocks.platform import PlatformControl
        from blocks.storage import ObjectStorage
        from operations.backup import backup_customer
        from policy.vocabulary import BackupOutcomeStatus

        outcome = backup_customer("BIG", DAY, PlatformControl(database_url=args.platform),
                                  ObjectStorage(url=args.storage), engine=engine)
        if outcome.status != BackupOutcomeStatus.GOOD:
            raise RuntimeError(outcome.error)
        from ledger.db import session_scope
        from ledger.models import Backup

        with session_scope(engine) as session:
            manifest = session.get(Backup, outcome.backup_id).manifest
        return f"users sha256 {next(t['sha256'] for t in manifest['tables'] if t['name'] == 'users')[:16]}"
    # the same output as ours, byte for byte: typed rows (dates as ISO 8601 whatever the database stores),
    # canonical JSON lines, gzip level 6, then the same storage; the check is the users table's content hash
    import hashlib

    from sqlalchemy import MetaData

    platform = engine_for(args.platform)
    metadata = MetaData()
    metadata.reflect(bind=platform, only=["users", "operations", "documents"])
    digests = {}
    with tempfile.TemporaryDirectory() as folder, platform.connect() as connection:
        for name in ("users", "operations", "documents"):
            table = metadata.tables[name]
            path = Path(folder) / f"{name}.jsonl.gz"
            digest = hashlib.sha256()
            result = connection.execution_options(stream_results=True, yield_per=5000).execute(
                select(table).where(table.c.tenant_id == "BIG").order_by(table.c.id))
            with gzip.open(path, "wb", compresslevel=6) as handle:
                for partition in result.mappings().partitions():
                    chunk = b"".join(_line(dict(row)) for row in partition)
                    digest.update(chunk)
                    handle.write(chunk)
            digests[name] = digest.hexdigest()
            sealed = Path(folder) / f"{name}.sealed"
            _bare_seal(path, sealed)
            _bare_put(args.storage, f"baseline/BIG/{name}.jsonl.gz", sealed)
    return f"users sha256 {digests['users'][:16]}"


@op("restore")
def restore(args, engine):
    if args.variant == "ours":
        from blocks.platform import PlatformControl
        from blocks.storage import ObjectStorage
        from operations.restore import restore_customer

        outcome = restore_customer("BIG", f"BIG-{DAY:%Y%m%d}", "sandbox", "bench", "BENCH", request_key=f"bench-{time.time()}",
                                   platform=PlatformControl(database_url=args.platform), storage=ObjectStorage(url=args.storage),
                                   sandbox_url=args.sandbox, flow_run_id=None, actor="bench", engine=engine)
        return sum(outcome.rows.values())
    from sqlalchemy import MetaData

    from lifecycle.demo import platform_tables

    target = engine_for(args.sandbox)
    metadata = MetaData()
    tables = platform_tables(metadata)
    metadata.create_all(target)
    rows = 0
    with tempfile.TemporaryDirectory() as folder, target.begin() as connection:
        for name in ("users", "operations", "documents"):
            path = Path(folder) / f"{name}.jsonl.gz"
            sealed = Path(folder) / f"{name}.sealed"
            _bare_get(args.storage, f"baseline/BIG/{name}.jsonl.gz", sealed)  # the bare backup's own objects
            _bare_open(sealed, path)
            table = tables[name]
            dates = [c.name for c in table.columns if "DATE" in str(c.type).upper() or "TIME" in str(c.type).upper()]
            batch = []
            with gzip.open(path, "rb") as handle:
                for line in handle:
                    row = json.loads(line)
                    for column in dates:
                        if row.get(column):
                            row[column] = datetime.fromisoformat(row[column])
                    batch.append(row)
                    if len(batch) >= 5000:
                        connection.execute(insert(table), batch)
                        rows += len(batch)
                        batch = []
            if batch:
                connection.execute(insert(table), batch)
                rows += len(batch)
    return rows


#: what each side imports (before the clock starts, and nothing more, so peak memory is its own)
OURS = ("blocks.settings",)
MODULES = {
    ("close", "ours"): OURS + ("operations.close",), ("close", "pandas"): ("numpy", "pandas", "policy.categories"),
    ("close", "sql"): ("policy.categories", "policy.terms", "ledger.column_types"),
    ("export", "ours"): OURS + ("operations.export",), ("export", "openpyxl"): ("openpyxl",),
    ("export", "xlsxwriter"): ("xlsxwriter",),
    ("arrears", "ours"): OURS + ("operations.arrears",), ("arrears", "ours-next-day"): OURS + ("operations.arrears",),
    ("arrears", "sql"): ("policy.calendar",),
    ("backup", "ours"): OURS + ("operations.backup",), ("backup", "boto3"): ("boto3", "cryptography.hazmat.primitives.ciphers.aead"),
    ("restore", "ours"): OURS + ("operations.restore",), ("restore", "bulk"): ("boto3", "lifecycle.demo", "cryptography.hazmat.primitives.ciphers.aead"),
}


def _canonical(value):
    """The backup format's encoding of a value (see operations/backup_archive.py), written out again for the baseline."""
    import base64

    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    raise TypeError(type(value).__name__)


def _line(row: dict) -> bytes:
    return json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_canonical).encode() + b"\n"


def _bare_put(storage: str, key: str, path: Path) -> None:
    """Upload with boto3 (the same multipart settings), or copy into the folder."""
    if storage.startswith("file://"):
        target = Path(storage[len("file://"):]) / key
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        return
    import boto3
    from boto3.s3.transfer import TransferConfig

    bucket, _, prefix = storage[len("s3://"):].partition("/")
    boto3.client("s3").upload_file(str(path), bucket, f"{prefix}/{key}" if prefix else key,
                                   Config=TransferConfig(multipart_threshold=8 << 20, multipart_chunksize=8 << 20))


#: the bare side's data key: it encrypts as ours does (AES-256-GCM, 1 MiB chunks, index and final flag
#: authenticated), without a key store
_BARE_KEY = bytes(range(32))


def _bare_seal(source: Path, target: Path) -> None:
    import os
    import struct

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead, index = AESGCM(_BARE_KEY), 0
    with source.open("rb") as plain, target.open("wb") as out:
        chunk = plain.read(1 << 20)
        while True:
            following = plain.read(1 << 20) if chunk else b""
            nonce = os.urandom(12)
            sealed = aead.encrypt(nonce, chunk, struct.pack(">QB", index, not following))
            out.write(struct.pack(">IB12s", len(sealed), not following, nonce) + sealed)
            if not following:
                return
            chunk, index = following, index + 1


def _bare_open(source: Path, target: Path) -> None:
    import struct

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead, index = AESGCM(_BARE_KEY), 0
    with source.open("rb") as sealed, target.open("wb") as out:
        while True:
            length, final, nonce = struct.unpack(">IB12s", sealed.read(17))
            out.write(aead.decrypt(nonce, sealed.read(length), struct.pack(">QB", index, final)))
            if final:
                return
            index += 1


def _bare_get(storage: str, key: str, path: Path) -> None:
    if storage.startswith("file://"):
        shutil.copyfile(Path(storage[len("file://"):]) / key, path)
        return
    import boto3

    bucket, _, prefix = storage[len("s3://"):].partition("/")
    boto3.client("s3").download_file(bucket, f"{prefix}/{key}" if prefix else key, str(path))


def peak_mb() -> float:
    """This process's own peak resident memory (VmHWM). `ru_maxrss` would not do: across fork and exec
    a child keeps the parent's peak, so every child of a big harness would report the harness's size."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("op", choices=sorted(OPS))
    parser.add_argument("variant")
    parser.add_argument("--ledger", required=True)
    parser.add_argument("--platform", required=True)
    parser.add_argument("--sandbox", default="")
    parser.add_argument("--storage", required=True)
    parser.add_argument("--home", required=True)
    args = parser.parse_args()
    args.offset = 0.0
    engine = engine_for(args.ledger)
    # imports are not the work: load every module either side uses before the clock starts
    import importlib

    for module in MODULES.get((args.op, args.variant), ()):
        importlib.import_module(module)
    if args.variant.startswith("ours"):
        _settings(args)
    started = time.perf_counter()
    check = OPS[args.op](args, engine)
    seconds = time.perf_counter() - started - args.offset
    peak = peak_mb()
    print(json.dumps({"op": args.op, "variant": args.variant, "seconds": round(seconds, 3), "peak_mb": round(peak, 1),
                      "check": str(check)}))


if __name__ == "__main__":
    main()
