"""The billable export as an operation (operations/export.py), on a SQLite ledger and a storage folder, without
Prefect: October's workbook written once, its customers to the cent, an unchanged export writes no new version,
and a month that still has drafts is refused in one line."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from blocks.storage import ObjectStorage
from operations.close import draft, finalise
from operations.export import Exported, ExportRefused, export_month
from policy.refusals import Refusal
from policy.terms import Terms
from tests.support.scenarios import EXPECTED, load_october
from tests.support.sqlite_ledger import sqlite_ledger


@pytest.fixture
def october(tmp_path, monkeypatch):
    ledger = load_october(sqlite_ledger(tmp_path, monkeypatch, "2026-11-02"), tmp_path)
    draft("2026-10", Terms(), actor="test", flow_run_id=None, engine=ledger)
    return ledger


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


def test_a_month_one_worksheet_cannot_hold_is_refused_before_anything_is_written():
    """XlsxWriter drops a cell below a sheet's 1,048,576th row without a word: 2,000,000 interventions (the
    benchmark's L) would export as 1,048,575 of them. The export counts first and refuses in one line."""
    from operations.export import refuse_too_many
    from reports.billable_workbook import INTERVENTION_ROWS

    refuse_too_many("2026-10", INTERVENTION_ROWS)   # header + rows + blank + Total: exactly a full sheet
    with pytest.raises(ExportRefused) as refused:
        refuse_too_many("2026-10", INTERVENTION_ROWS + 1)
    assert str(refused.value) == ("2026-10 has 1,048,574 interventions: the Interventions sheet holds at most "
                                  "1,048,573 (a worksheet's 1,048,576 rows)")


def test_a_row_past_a_worksheet_s_last_is_an_error_not_a_silent_loss(tmp_path):
    from reports.billable_workbook import SHEET_ROWS, SheetFull, _Book

    book = _Book(tmp_path / "full.xlsx")
    sheet = book.add_sheet("Interventions")
    sheet.row = SHEET_ROWS - 1
    sheet.append(["the last row"])
    with pytest.raises(SheetFull, match="sheet Interventions is full: a sheet holds 1,048,576 rows"):
        sheet.append(["one too many"])
    book.close()
