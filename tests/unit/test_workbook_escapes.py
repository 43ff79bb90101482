"""A text of the ledger that holds OOXML's escape `_xHHHH_` literally (a name typed `evil_x001B_[2J`) is
shown by Excel as typed: Excel decodes `_xHHHH_` in every text it opens, so the workbook writes that `_` as
`_x005F_`, OOXML's escape of the underscore. Checked in the written XML, decoded as Excel decodes it."""

from __future__ import annotations

import re
import zipfile
from datetime import datetime
from decimal import Decimal
from html import unescape as xml_unescape

from openpyxl.utils.escape import unescape as excel_decodes

from reports.billable_workbook import INTERVENTIONS, SUMMARY, as_typed, write_workbook

TYPED = ["evil_x001B_[2J", "a_x0041_b_X00e9_", "_x005F_x0041_", "=1+2_x0041_", "plain_x", "_x12_", "_X0041_"]


def texts(path, part: str) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        xml = archive.read(part).decode()
    return [xml_unescape(text) for text in re.findall(r"<t[^>]*>(.*?)</t>", xml)]


def test_a_literal_escape_sequence_is_written_so_that_excel_shows_it_as_typed(tmp_path):
    path = tmp_path / "2026-10.xlsx"
    summary = [{name: (f"C{n}" if name == "customer_id" else text if name == "name" else "" if name == "invoices"
                       else Decimal("10.00") if style else 60) for name, _, style in SUMMARY}
               for n, text in enumerate(TYPED)]
    interventions = [[datetime(2026, 10, 2, 9), "2026-10", f"C{n}", text, "T-1", text, "assistance", 30, 30, 0, None,
                      None, Decimal("0.00"), None] for n, text in enumerate(TYPED)]
    assert len(interventions[0]) == len(INTERVENTIONS)
    write_workbook(path, month="2026-10", summary=summary, interventions=interventions, invoices=[],
                   about=[("month", "2026-10"), ("note", "evil_x001B_[2J")], language="en")
    summary_texts = texts(path, "xl/worksheets/sheet1.xml")
    for text in TYPED:
        written = as_typed(text)
        assert written in summary_texts, (text, summary_texts)
        assert excel_decodes(written) == text  # what Excel shows (openpyxl decodes `_x` as Excel does)
    assert "evil_x005F_x001B_[2J" in summary_texts and "evil_x001B_[2J" not in summary_texts
    interventions_texts = texts(path, "xl/worksheets/sheet2.xml")
    assert interventions_texts.count("a_x005F_x0041_b_x005F_X00e9_") == 2  # the name and the engineer
    with zipfile.ZipFile(path) as archive:
        about = max((name for name in archive.namelist() if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", name)),
                    key=lambda name: int(re.sub(r"\D", "", name)))
    assert "evil_x005F_x001B_[2J" in texts(path, about)  # the About sheet, the last


def test_a_text_without_an_escape_sequence_is_written_as_it_is():
    for text in ["plain", "x0041_", "_x004_", "_xZZZZ_", "ACME_x", 12, None, Decimal("1.50")]:
        assert as_typed(text) == text


def test_a_text_that_looks_like_a_formula_or_rich_text_xml_is_written_as_text(tmp_path):
    """XlsxWriter writes a text framed by `<r>...</r>` as raw rich-text XML, and a text beginning with `=` as
    a formula when asked to (write()): the workbook writes both as the texts they are."""
    from openpyxl import load_workbook

    typed = ["<r><t>pwned</t></r>", "=HYPERLINK(\"http://x\",\"y\")", "+1+2", "@SUM(A1)", "bell\x07ring"]
    interventions = [[datetime(2026, 10, 2, 9), "2026-10", "C1", text, "T-1", "alice", "assistance", 30, 30, 0, None,
                      None, Decimal("0.00"), None] for text in typed]
    path = tmp_path / "2026-10.xlsx"
    write_workbook(path, month="2026-10", summary=[], interventions=interventions, invoices=[],
                   about=[("month", "2026-10")], language="en")
    with zipfile.ZipFile(path) as archive:
        xml = archive.read("xl/worksheets/sheet2.xml").decode()
    assert "<r><t>pwned" not in xml and not re.findall(r"<f>(?!SUM\()", xml)
    sheet = load_workbook(path)["Interventions"]
    shown = [excel_decodes(sheet.cell(row, 4).value) for row in range(2, 2 + len(typed))]
    assert shown == typed
