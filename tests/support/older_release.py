"""A ledger as an older release left it: rows imported under today's rules, then changed in place (SQL, as the
older release wrote them) into what today's imports refuse. Shared by the SQLite and PostgreSQL tests of
`lifecycle db check`."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from ledger.imports import import_file
from ledger.models import Customer
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv

INVOICES = ["invoice_id", "customer_id", "issued_on", "due_on", "amount_ht", "vat_rate"]

#: what `lifecycle db check` says of it, line by line (LIFECYCLE_TODAY 2026-11-20, the default terms)
EXPECTED = [
    "customers 'ACME': name: holds the control character U+001B (at character 8): type the text without it",
    "customers 'ACME': monthly_fee: a monthly fee is at most 99999999.99 EUR (the largest invoice billed from it must "
    "fit the ledger): '100000000.00' is more",
    "customers 'ACME': customer_id: 'ACME' already exists as 'acme': ids are unique ignoring case (write 'acme' for "
    "that one, another id for a new one)",
    "customers 'acme': customer_id: 'acme' already exists as 'ACME': ids are unique ignoring case (write 'ACME' for "
    "that one, another id for a new one)",
    "invoices '2025-000007': invoice_id: '2025-000007' has the form of the product's own numbers (YYYY-NNNNNN) and "
    "no document the product issued has it: a number names one document, so give the old system's invoice another "
    "id (a prefix, e.g. OLD-2025-000007)",
    "invoices 'OLD-1': description: longer than 500 characters",
    "invoices 'OLD-1': description: holds the control character U+0007 (at character 502): type the text without it",
    "invoices 'OLD-1': period_end: the period 2026-01-01 to 2026-12-31 is longer than one billing cycle of this "
    "monthly customer: a period from 2026-01-01 ends by 2026-01-31 at the latest",
    "payments 'PAY-1': paid_on: 2026-12-01 is after today: it cannot lie ahead; a date here lies from 2000-01-01 "
    "(earliest_date) to today",
    "payments 'PAY-1': amount: must not be negative: '-5.00'",
    "payments 'PAY-2': amount: must be greater than zero",
    "payments 'PAY-2': paid_on: paid on 2025-09-01, before invoice 2025-000007 was issued (2025-10-01): a payment is "
    "never dated before its invoice",
    "interventions 'WORK-1': started_at: 1999-06-01T10:00:00+02:00 is before 2000-01-01: a date here lies from "
    "2000-01-01 (earliest_date) to today",
]


def older_release_ledger(engine, folder: Path) -> None:
    """BETA, clean; ACME with a name holding an escape and a fee beyond 99,999,999.99, and `acme` beside it;
    an imported invoice whose id looks like the product's numbers, another billing a monthly customer's year with a
    description too long and holding a bell; a payment negative and dated ahead, another of zero paid before its
    invoice was issued; work done in 1999."""
    import_file("customers", write_csv(folder / "c.csv", CUSTOMER_HEADER, [customer("ACME"), customer("BETA")]),
                engine=engine)
    import_file("invoices", write_csv(folder / "i.csv", INVOICES, [
        ["OLD-1", "BETA", "2026-10-01", "2026-10-31", "100.00", "0.20"],
        ["OLD-2", "BETA", "2025-10-01", "2025-10-31", "100.00", "0.20"]]), engine=engine)
    import_file("payments", write_csv(folder / "p.csv", ["payment_id", "invoice_id", "paid_on", "amount"], [
        ["PAY-1", "OLD-1", "2026-10-15", "50.00"], ["PAY-2", "OLD-2", "2025-10-15", "10.00"]]), engine=engine)
    import_file("interventions", write_csv(folder / "w.csv", ["intervention_id", "customer_id", "started_at",
                                                              "minutes", "category"],
                                           [["WORK-1", "BETA", "2026-06-01T10:00", "30", "training"]]), engine=engine)
    columns = [column.name for column in Customer.__table__.columns]
    copied = ", ".join("'acme'" if name == "customer_id" else name for name in columns)
    with engine.begin() as connection:
        connection.execute(text(f"INSERT INTO customers ({', '.join(columns)}) SELECT {copied} FROM customers "
                                f"WHERE customer_id = 'ACME'"))
        connection.execute(text("UPDATE customers SET name = :name, monthly_fee = 100000000.00 "
                                "WHERE customer_id = 'ACME'"), {"name": "Client \x1b[31mACME"})
        connection.execute(text("UPDATE invoices SET external_id = '2025-000007' WHERE external_id = 'OLD-2'"))
        connection.execute(text("UPDATE invoices SET bills_subscription = :yes, period_start = '2026-01-01', "
                                "period_end = '2026-12-31' WHERE external_id = 'OLD-1'"), {"yes": True})
        connection.execute(text("UPDATE invoices SET description = :text WHERE external_id = 'OLD-1'"),
                           {"text": "x" * 501 + "\x07"})
        connection.execute(text("UPDATE payments SET amount = -5.00, paid_on = '2026-12-01' WHERE payment_id = 'PAY-1'"))
        connection.execute(text("UPDATE payments SET amount = 0.00, paid_on = '2025-09-01' WHERE payment_id = 'PAY-2'"))
        connection.execute(text("UPDATE interventions SET started_at = '1999-06-01 08:00:00' "
                                "WHERE intervention_id = 'WORK-1'"))
