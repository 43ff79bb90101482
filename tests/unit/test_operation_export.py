"""The billable export as an operation (operations/export.py), on a SQLite ledger and a storage folder, without
Prefect: October's workbook written once, its customers to the cent, an unchanged export writes no new version,
and a month that still has drafts is refused in one line; a month larger than a worksheet continues on
numbered sheets."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from blocks.storage import ObjectStorage
from operations.close import finalise
from operations.export import Exported, ExportRefused, export_month
from policy.refusals import Refusal
from policy.terms import Terms
from tests.support.scenarios import EXPECTED, october_drafted
from tests.support.sqlite_ledger import prepared_ledger


@pytest.fixture
def october(tmp_path, monkeypatch):
    return prepared_ledger(tmp_path, monkeypatch, "2026-11-02", october_drafted)


def test_october_s_workbook_is_written_once_with_each_customer_to_the_cent(october, tmp_path):
    finalise("2026-10", date(2026, 11, 2), Terms(), actor="test", flow_run_id=None, engine=october)
    storage = ObjectStorage(url=(tmp_path / "store").as_uri())
    first = export_month("2026-10", storage, Terms(), flow_run_id="run-1", engine=october)
    assert (first.new, first.version, first.key) == (True, 1, "exports/2026/10/" + first.key.rsplit("/", 1)[-1])
    assert first.interventions == 9
    assert {row["customer_id"]: (str(row["total_ht"]), str(row["total_vat"]), str(row["total_ttc"]))
            for row in first.customers if row["invoices"]} == {
        customer: totals[:3] for customer, totals in EXPECTED.items()}
    assert sum((row["total_ttc"] for row in first.customers), Decimal("0.00")) == Decimal("1662.90")
    book = load_workbook(tmp_path / "store" / first.key, read_only=True)
    assert len(book.sheetnames) >= 5   # Summary, Interventions, Invoices, Credit notes, Credits, About, ...

    again = export_month("2026-10", storage, Terms(), flow_run_id="run-2", engine=october)
    assert (again.new, again.version, again.key, again.rewritten) == (False, 1, first.key, False)
    # what the run returns, and the command line reads back typed
    summary = again.exported("http://downloads/x", storage.resolved_url()).summary()
    assert summary["new"] is False and summary["version"] == 1
    assert Exported.from_summary(summary).state() == "unchanged"


def test_a_month_with_drafts_is_refused_in_one_line(october, tmp_path):
    storage = ObjectStorage(url=(tmp_path / "store").as_uri())
    with pytest.raises(ExportRefused) as refused:
        export_month("2026-10", storage, Terms(), flow_run_id=None, engine=october)
    assert isinstance(refused.value, Refusal)
    assert refused.value.one_line() == "2026-10 has 3 draft invoice(s): finalise or discard the close first"
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").rglob("*.xlsx"))


def test_a_row_past_a_worksheet_s_last_is_an_error_not_a_silent_loss(tmp_path):
    from reports.billable_workbook import SHEET_ROWS, SheetFull, _Book

    book = _Book(tmp_path / "full.xlsx")
    sheet = book.add_sheet("Interventions")
    sheet.row = SHEET_ROWS - 1
    sheet.append(["the last row"])
    with pytest.raises(SheetFull, match="sheet Interventions is full: a sheet holds 1,048,576 rows"):
        sheet.append(["one too many"])
    book.close()


def intervention(number: int) -> list:
    """One row of the Interventions sheet, its amount number x 1.01 EUR."""
    from datetime import datetime
    return [datetime(2026, 10, 1, 9, 0), "2026-10", "C001", "Acme", f"T{number}", "eng", "standard", 60, 0, 60,
            Decimal("90.00"), Decimal("0.00"), Decimal("1.01") * number, "2026-000001"]


def test_a_month_larger_than_a_sheet_continues_on_numbered_sheets_each_with_its_total(tmp_path):
    """A worksheet holds 1,048,576 rows; a large vendor's month has more interventions. They continue on
    `Interventions (2)`, ... (here with sheets of 8 rows: 4 interventions each), every sheet ends with its Total
    row over its own rows, the last adds up the sheets' Totals, and the About sheet names each sheet."""
    from reports.billable_workbook import write_workbook

    written = write_workbook(tmp_path / "w.xlsx", month="2026-10", summary=[], invoices=[], about=[],
                             interventions=(intervention(n) for n in range(1, 11)), language="en", sheet_rows=8)
    assert written.interventions == 10
    book = load_workbook(tmp_path / "w.xlsx")
    assert book.sheetnames[:5] == ["Summary", "Interventions", "Interventions (2)", "Interventions (3)", "Invoices"]
    about = {row[0]: row[1] for row in book["About"].iter_rows(values_only=True) if row[0]}
    assert (about["sheet.interventions"], about["sheet.interventions.2"], about["sheet.interventions.3"]) == (
        "Interventions", "Interventions (2)", "Interventions (3)")
    tickets = [[row[4] for row in book[name].iter_rows(min_row=2, values_only=True) if row[4]]
               for name in ("Interventions", "Interventions (2)", "Interventions (3)")]
    assert tickets == [["T1", "T2", "T3", "T4"], ["T5", "T6", "T7", "T8"], ["T9", "T10"]]
    amount = "M"  # amount_ht's column
    assert [book[name][f"A{row}"].value for name, row in (("Interventions", 7), ("Interventions (2)", 7),
                                                         ("Interventions (3)", 5))] == ["Total"] * 3
    assert book["Interventions"][f"{amount}7"].value == "=SUM(M2:M5)"
    assert book["Interventions (3)"][f"{amount}5"].value == "=SUM(M2:M3)"
    last = book["Interventions (3)"]
    assert last["A6"].value == "Total of the 3 sheets"
    assert last[f"{amount}6"].value == "='Interventions'!M7+'Interventions (2)'!M7+'Interventions (3)'!M5"
    assert last.max_row == 6  # nothing past a sheet's rows: 8 would be the limit here


def test_a_month_that_fills_its_sheet_exactly_stays_on_one_sheet(tmp_path):
    from reports.billable_workbook import write_workbook

    write_workbook(tmp_path / "w.xlsx", month="2026-10", summary=[], invoices=[], about=[], language="en",
                   interventions=(intervention(n) for n in range(1, 5)), sheet_rows=8)
    book = load_workbook(tmp_path / "w.xlsx", read_only=True)
    assert "Interventions (2)" not in book.sheetnames


def test_the_summary_and_the_invoices_read_a_batch_at_a_time_write_the_same_workbook(october, tmp_path,
                                                                                    monkeypatch):
    """The Summary and the Invoices stream from the ledger a batch of customers, of invoices, at a time (the
    export's memory is a batch's, not the month's customers'): read one customer, one invoice at a time,
    October's workbook says the same, cell for cell (the same fingerprint: an unchanged export), and the
    run's result keeps only the Summary's first rows."""
    import operations.export as export

    finalise("2026-10", date(2026, 11, 2), Terms(), actor="test", flow_run_id=None, engine=october)
    storage = ObjectStorage(url=(tmp_path / "store").as_uri())
    whole = export_month("2026-10", storage, Terms(), flow_run_id="run-1", engine=october)
    monkeypatch.setattr(export, "BATCH", 1)
    monkeypatch.setattr(export, "PREVIEW", 2)
    one_by_one = export_month("2026-10", storage, Terms(), flow_run_id="run-2", engine=october)
    assert (one_by_one.new, one_by_one.fingerprint) == (False, whole.fingerprint)
    assert [row["customer_id"] for row in one_by_one.customers] == [row["customer_id"] for row in whole.customers][:2]
    book = load_workbook(tmp_path / "store" / whole.key, read_only=True)
    assert [row[0] for row in book["Factures"].iter_rows(min_row=2, values_only=True) if row[0]][:-1] == sorted(
        [number for row in whole.customers for number in row["invoices"].split(", ") if number])


def test_the_summary_and_the_invoices_may_be_generators_consumed_once(tmp_path):
    """The export hands the workbook its Summary and Invoices rows as generators (streamed from the ledger):
    each is read once, row by row, and counted as it goes."""
    from reports.billable_workbook import write_workbook

    customer = {"customer_id": "C001", "name": "Acme", "included_minutes": 600, "used_minutes": 60, "over_minutes": 0,
                "subscription": Decimal("100.00"), "overage": Decimal("0.00"), "always_billed": Decimal("0.00"),
                "surcharge": Decimal("0.00"), "penalties": Decimal("0.00"), "invoices": "2026-000001",
                "total_ht": Decimal("100.00"), "total_vat": Decimal("20.00"), "total_ttc": Decimal("120.00")}
    invoice = {"number": "2026-000001", "customer_id": "C001", "customer_name": "Acme", "kind": "monthly",
               "month": "2026-10", "status": "open", "issued_on": date(2026, 11, 2), "due_on": date(2026, 12, 2),
               "total_ht": Decimal("100.00"), "total_vat": Decimal("20.00"), "total_ttc": Decimal("120.00"),
               "balance": Decimal("120.00"), "einvoice_status": "", "document": ""}
    written = write_workbook(tmp_path / "w.xlsx", month="2026-10", summary=(row for row in [customer]),
                             invoices=(row for row in [invoice]), about=[], language="en",
                             interventions=(intervention(n) for n in range(1, 3)))
    assert (written.rows, written.totals["total_ttc"]) == (1 + 2 + 1, Decimal("120.00"))
    book = load_workbook(tmp_path / "w.xlsx", read_only=True)
    assert [row[0] for row in book["Summary"].iter_rows(values_only=True)][:2] == ["Customer", "C001"]
    assert [row[0] for row in book["Invoices"].iter_rows(values_only=True)][:4] == [
        "Number", "2026-000001", None, "Total"]
