"""Each import as an operation (ledger.imports.import_file), on a SQLite ledger, without Prefect: a vendor's
history goes in kind by kind, a second import of the same files changes nothing, and a file with one bad row
writes nothing at all and names the row and the column."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ledger.db import session_scope
from ledger.imports import ImportRejected, import_file
from ledger.models import (Customer, CustomerCredit, Intervention, Invoice, Payment, StandbyPeriod, Ticket)
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv
from tests.support.sqlite_ledger import sqlite_ledger

FILES = [
    ("customers", CUSTOMER_HEADER, [customer("ACME", start="2026-01-01"), customer("BETA", start="2026-01-01")]),
    ("invoices", ["invoice_id", "customer_id", "issued_on", "due_on", "amount_ht", "vat_rate", "description", "status"],
     [["F-1", "ACME", "2026-10-01", "2026-10-31", "500.00", "0.20", "Septembre", ""]]),
    ("payments", ["payment_id", "invoice_id", "paid_on", "amount"], [["P-1", "F-1", "2026-10-15", "700.00"]]),
    ("interventions", ["intervention_id", "customer_id", "started_at", "minutes", "category"],
     [["W-1", "ACME", "2026-10-05T10:00", "90", "assistance"]]),
    ("tickets", ["ticket_id", "customer_id", "received_at", "type"], [["T-1", "BETA", "2026-10-06T09:00", "bug"]]),
    ("standby", ["customer_id", "reason", "start_on", "end_on"],
     [["BETA", "temporary_inactivity", "2026-12-01", "2027-01-31"]]),
    ("refunds", ["refund_id", "customer_id", "amount", "refunded_on", "reference"],
     [["R-1", "ACME", "50.00", "2026-10-20", "VIR 2026-10-20"]]),
]


def counts(ledger) -> dict[str, object]:
    with session_scope(ledger) as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                for model in (Customer, Invoice, Payment, Intervention, Ticket, StandbyPeriod, CustomerCredit)}


@pytest.fixture
def ledger(tmp_path, monkeypatch):
    return sqlite_ledger(tmp_path, monkeypatch, "2026-11-02")


def test_a_vendors_history_goes_in_kind_by_kind_and_again_changes_nothing(ledger, tmp_path):
    paths = [(kind, write_csv(tmp_path / f"{kind}.csv", header, rows)) for kind, header, rows in FILES]
    for (kind, path), (_, _, rows) in zip(paths, FILES):
        assert import_file(kind, path, engine=ledger).inserted == len(rows), kind
    after = counts(ledger)
    assert after == {"customers": 2, "invoices": 1, "payments": 1, "interventions": 1, "tickets": 1,
                     "standby_periods": 1, "customer_credits": 2}  # the overpayment of 100.00, the refund of it
    with session_scope(ledger) as session:
        assert session.scalar(select(func.sum(CustomerCredit.amount))) == Decimal("50.00")  # 100.00 over, 50.00 back
    for kind, path in paths:
        assert import_file(kind, path, engine=ledger).inserted == 0
    assert counts(ledger) == after


def test_one_bad_row_writes_nothing_and_names_its_row_and_column(ledger, tmp_path):
    rows = [customer("ACME"), customer("BETA", fee="12.345")]
    with pytest.raises(ImportRejected) as rejected:
        import_file("customers", write_csv(tmp_path / "customers.csv", CUSTOMER_HEADER, rows), engine=ledger)
    assert [line.split(": ")[0] for line in rejected.value.errors] == ["customers.csv:3:monthly_fee"]
    assert counts(ledger)["customers"] == 0


INVOICE_HEADER = ["invoice_id", "customer_id", "issued_on", "due_on", "amount_ht", "vat_rate", "description", "status"]


def test_an_invoice_never_takes_a_number_of_the_products_series_nor_outgrows_the_ledger(ledger, tmp_path):
    """An imported id 2026-000002 would name, once the product numbers it, two documents: a payment of one
    paid the other (a fifth probe). A figure past the ledger's columns is refused at its cell, not by the
    database."""
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME", start="2026-01-01")]),
                engine=ledger)
    rows = [["2026-000002", "ACME", "2026-10-01", "2026-10-31", "10.00", "0.20", "", ""],
            ["BIG1", "ACME", "2026-10-01", "2026-10-31", "999999999999.99", "0.9999", "", ""],
            ["FITS", "ACME", "2026-10-01", "2026-10-31", "9999999999.99", "0.9999", "", ""]]
    with pytest.raises(ImportRejected) as rejected:
        import_file("invoices", write_csv(tmp_path / "i.csv", INVOICE_HEADER, rows), engine=ledger)
    assert rejected.value.errors == [
        "i.csv:2:invoice_id: '2026-000002' has the form of the product's own numbers (YYYY-NNNNNN) and no document "
        "the product issued has it: a number names one document, so give the old system's invoice another id (a "
        "prefix, e.g. OLD-2026-000002)",
        "i.csv:3:amount_ht: 999999999999.99 is more than an invoice line keeps (9999999999.9999)"]
    assert counts(ledger)["invoices"] == 0


@pytest.mark.parametrize("column, value", [("issued_on", "20261001"), ("issued_on", "2026-W40-4"),
                                           ("due_on", "2026-300")])
def test_a_date_is_written_yyyy_mm_dd_and_in_no_other_iso_form(ledger, tmp_path, column, value):
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME", start="2026-01-01")]),
                engine=ledger)
    row = dict(zip(INVOICE_HEADER, ["F-1", "ACME", "2026-10-01", "2026-10-31", "10.00", "0.20", "", ""]))
    row[column] = value
    with pytest.raises(ImportRejected) as rejected:
        import_file("invoices", write_csv(tmp_path / "i.csv", INVOICE_HEADER, [list(row.values())]), engine=ledger)
    assert rejected.value.errors == [f"i.csv:2:{column}: not a date (YYYY-MM-DD): {value!r}"]


def test_a_start_moved_after_the_history_and_a_backdated_delivery_are_refused(ledger, tmp_path):
    """A customer re-imported with a contract_start after its own history put that history before its start (a
    later cancellation letter was then refused as 'before the start'); a customization delivered before its
    ticket arrived made the support after it billable (a fifth probe)."""
    for kind, header, rows in FILES[:4]:
        import_file(kind, write_csv(tmp_path / f"{kind}.csv", header, rows), engine=ledger)
    later = [customer("ACME", start="2026-10-10"), customer("BETA", start="2026-01-01")]
    with pytest.raises(ImportRejected) as rejected:
        import_file("customers", write_csv(tmp_path / "again.csv", CUSTOMER_HEADER, later), engine=ledger)
    [told] = rejected.value.errors
    assert told.startswith("again.csv:2:contract_start: 2026-10-10 is after ACME's ") and told.endswith(
        ": no fact of a customer lies before its start")
    earlier = [customer("ACME", start="2026-02-01"), customer("BETA", start="2026-01-01")]
    assert import_file("customers", write_csv(tmp_path / "again.csv", CUSTOMER_HEADER, earlier),
                       engine=ledger).updated == 1

    header = ["ticket_id", "customer_id", "received_at", "type", "customization_delivered_on"]
    with pytest.raises(ImportRejected) as rejected:
        import_file("tickets", write_csv(tmp_path / "t.csv", header,
                                         [["TC1", "BETA", "2026-10-06T09:00", "customization", "2026-10-01"]]),
                    engine=ledger)
    assert rejected.value.errors == ["t.csv:2:customization_delivered_on: 2026-10-01 is before the ticket arrived "
                                     "(2026-10-06): a customization is delivered after it"]


def test_a_date_cell_in_an_xlsx_id_column_is_said_to_be_a_date_with_its_value(ledger, tmp_path):
    """A spreadsheet that took the id `2026-01-01` for a date: said so (with the value), not as `':' not allowed`."""
    from datetime import datetime

    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(["customer_id", "name", "email", "monthly_fee", "payment_method"])
    workbook.active.append([datetime(2026, 1, 1), "Dated", "d@example.com", "10.00", "sepa"])
    workbook.save(tmp_path / "c.xlsx")
    with pytest.raises(ImportRejected) as rejected:
        import_file("customers", tmp_path / "c.xlsx", engine=ledger)
    assert rejected.value.errors == ["c.xlsx:2:customer_id: not an id: the cell is a date (2026-01-01T00:00:00); "
                                     "format the column as text and type the id again"]
    assert counts(ledger)["customers"] == 0
