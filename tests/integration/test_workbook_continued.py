"""A month with more interventions than a worksheet holds, as finance's spreadsheet computes it: LibreOffice
recalculates the continued Interventions sheets (sheets of 8 rows here instead of 1,048,576) and the last
sheet's Total of the sheets is the month's total to the cent."""

from __future__ import annotations

from decimal import Decimal

from openpyxl import load_workbook

from reports.billable_workbook import write_workbook
from tests.integration.test_export import recalculate
from tests.unit.test_operation_export import intervention


def test_libreoffice_adds_the_continued_sheets_up_to_the_month_s_total(tmp_path):
    original = tmp_path / "w.xlsx"
    write_workbook(original, month="2026-10", summary=[], invoices=[], about=[], language="fr", sheet_rows=8,
                   interventions=(intervention(n) for n in range(1, 11)))
    computed = load_workbook(recalculate(original, tmp_path / "recalc"), data_only=True)
    assert computed.sheetnames[1:4] == ["Interventions", "Interventions (2)", "Interventions (3)"]
    assert [computed[name][cell].value for name, cell in (("Interventions", "M7"), ("Interventions (2)", "M7"),
                                                         ("Interventions (3)", "M5"))] == [
        float(Decimal("1.01") * (1 + 2 + 3 + 4)), float(Decimal("1.01") * (5 + 6 + 7 + 8)),
        float(Decimal("1.01") * (9 + 10))]
    last = computed["Interventions (3)"]
    assert last["A6"].value == "Total des 3 feuilles"
    assert Decimal(str(last["M6"].value)).quantize(Decimal("0.01")) == Decimal("55.55")  # 1.01 x (1 + ... + 10)
    assert (last["H6"].value, last["J6"].value) == (600, 600)  # ten interventions of 60 minutes, all billed
