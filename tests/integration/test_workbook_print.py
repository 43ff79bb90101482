"""Finance prints the billable-interventions workbook: A4, every column on one page width, the header row on
every page, landscape where the sheet is wide; checked in the file and in the PDF LibreOffice prints."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from openpyxl import load_workbook

from reports.billable_workbook import COLUMNS, INTERVENTIONS, PORTRAIT_WIDTH, SUMMARY, label, sheet_name, write_workbook

CUSTOMERS = 150  # more rows than one page holds


def workbook(path: Path, language: str = "fr") -> Path:
    summary = [{name: (f"C{n:03d}" if name == "customer_id" else f"Client n°{n}" if name == "name"
                       else "" if name == "invoices" else Decimal("10.00") if style else 60)
                for name, _, style in SUMMARY} for n in range(CUSTOMERS)]
    interventions = [[datetime(2026, 10, 2, 9), "2026-10", f"C{n:03d}", f"Client n°{n}", "T-1", "alice", "assistance",
                      30, 30, 0, None, None, Decimal("0.00"), None] for n in range(CUSTOMERS)]
    assert len(interventions[0]) == len(INTERVENTIONS)
    write_workbook(path, month="2026-10", summary=summary, interventions=interventions, invoices=[],
                   about=[("month", "2026-10")], language=language)
    return path


def test_every_sheet_prints_on_a4_one_page_wide_with_its_header_on_every_page(tmp_path):
    book = load_workbook(workbook(tmp_path / "2026-10.xlsx"))
    for code, columns in COLUMNS.items():
        sheet = book[sheet_name(code, "fr")]
        setup = sheet.page_setup
        assert int(setup.paperSize) == int(sheet.PAPERSIZE_A4), code
        # fitToWidth is 1 when the file leaves it out (OOXML's default, which XlsxWriter leaves out)
        assert setup.fitToWidth in (None, 1) and setup.fitToHeight == 0 and sheet.sheet_properties.pageSetUpPr.fitToPage, code
        assert sheet.print_title_rows.replace("$", "") == "1:1", code
        wide = sum(width for _, width, _ in columns) > PORTRAIT_WIDTH
        assert setup.orientation == ("landscape" if wide else "portrait"), code
    about = book[sheet_name("about", "fr")]
    assert int(about.page_setup.paperSize) == int(about.PAPERSIZE_A4) and about.page_setup.fitToWidth in (None, 1)


def test_the_quota_minutes_column_says_what_it_counts():
    assert label("used_minutes", "fr") == "Minutes du forfait utilisées"
    assert label("used_minutes", "en") == "Quota minutes drawn"


def test_libreoffice_prints_the_summary_on_a4_landscape_pages_each_with_the_header(tmp_path):
    from pypdf import PdfReader

    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice is required to print the workbook: run tests/install.sh"
    path = workbook(tmp_path / "2026-10.xlsx", language="en")
    subprocess.run([soffice, "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path / "pdf"), str(path)],
                   check=True, capture_output=True, timeout=180, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    pages = PdfReader(tmp_path / "pdf" / "2026-10.pdf").pages
    summary = [page for page in pages if "60 60 60 10.00" in page.extract_text()]  # a Summary sheet's row
    assert len(summary) >= 2  # the customers run over several pages...
    for page in summary:  # ...each A4 landscape (842 x 595 pt), each with the header row
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        assert round(width) == 842 and round(height) == 595, (width, height)
        text = " ".join(page.extract_text().split())  # a wrapped header cell reads as its words
        assert "Company name" in text and "Quota minutes drawn" in text and "Total incl. VAT" in text, text[:300]
