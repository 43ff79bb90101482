"""Finance's monthly workbook of billable interventions, written with openpyxl in write-only mode.

It is what finance reconciles against the accounts, so its numbers are the ledger's to the cent, and
nothing that comes from data is ever a formula (a customer named `=HYPERLINK(...)` stays a name):
amounts are written as exact decimals with a EUR format, the Summary carries its grand total twice
(as formulas a spreadsheet recomputes, and as static values) and a check cell that is zero when
they agree. Rows stream from the ledger, so memory stays flat for 200,000 interventions, and the
fingerprint of what the workbook says (not its bytes) tells whether a new version is needed.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

EUR = '#,##0.00 "€";-#,##0.00 "€"'
DAY = "yyyy-mm-dd"
MOMENT = "yyyy-mm-dd hh:mm"
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="305496")
TOTAL_FONT = Font(bold=True)

SUMMARY = [("customer_id", 14, None), ("name", 34, None), ("included_minutes", 12, None), ("used_minutes", 12, None),
           ("over_minutes", 12, None), ("subscription", 14, EUR), ("overage", 13, EUR), ("always_billed", 14, EUR),
           ("surcharge", 12, EUR), ("penalties", 12, EUR), ("invoices", 28, None), ("total_ht", 14, EUR),
           ("total_vat", 13, EUR), ("total_ttc", 14, EUR)]
INTERVENTIONS = [("started_at", 17, MOMENT), ("service_month", 10, None), ("customer_id", 14, None),
                 ("customer_name", 30, None), ("ticket", 12, None), ("engineer", 14, None), ("category", 20, None),
                 ("minutes", 9, None), ("free_minutes", 9, None), ("billed_minutes", 9, None),
                 ("hourly_rate", 11, EUR), ("amount_ht", 13, EUR), ("invoice", 14, None)]
INVOICES = [("number", 14, None), ("customer_id", 14, None), ("customer_name", 30, None), ("kind", 10, None),
            ("month", 9, None), ("status", 10, None), ("issued_on", 12, DAY), ("due_on", 12, DAY),
            ("total_ht", 14, EUR), ("total_vat", 13, EUR), ("total_ttc", 14, EUR), ("document", 34, None)]
#: Summary columns whose grand total is both a formula and a value (the check cell compares them)
TOTALLED = [name for name, _, style in SUMMARY if style == EUR] + ["included_minutes", "used_minutes", "over_minutes"]


@dataclass
class Written:
    path: Path
    fingerprint: str
    rows: int
    totals: dict[str, Decimal] = field(default_factory=dict)
    interventions: int = 0


#: the parts of the saved workbook that hold Summary, Interventions and Invoices, in sheet order
DATA_SHEETS = ("xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml", "xl/worksheets/sheet3.xml")


def _fingerprint(path: Path, about: list[tuple[str, Any]]) -> str:
    """What the workbook says, without when it was made: the XML of the three data sheets (openpyxl
    writes the same bytes for the same rows; the zip around them carries timestamps) and the About
    sheet's values except the generation time and flow run. Hashing the written parts costs a
    fraction of hashing every row as it is written."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(path) as archive:
        for name in DATA_SHEETS:
            with archive.open(name) as part:
                while chunk := part.read(1 << 20):
                    digest.update(chunk)
    digest.update(repr([(key, value) for key, value in about if key not in ("generated_at", "flow_run_id")]).encode())
    return digest.hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def _sheet(workbook: Workbook, title: str, columns) -> Any:
    sheet = workbook.create_sheet(title)
    for index, (_, width, _) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    header = []
    for name, _, _ in columns:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        header.append(cell)
    sheet.append(header)
    return sheet


class _RowWriter:
    """Appends rows with each column's number format.

    A write-only sheet serialises a row as soon as it is appended, so one styled cell per column is
    reused for every row instead of a new cell object per value (the export's hot path). Dates and
    times need no explicit style: openpyxl gives them a date format itself.
    """

    def __init__(self, sheet, columns):
        self.sheet = sheet
        self.templates = []
        for _, _, style in columns:
            if style in (None, DAY, MOMENT):
                self.templates.append(None)
            else:
                cell = WriteOnlyCell(sheet)
                cell.number_format = style
                self.templates.append(cell)
        self.styled = [(index, cell) for index, cell in enumerate(self.templates) if cell is not None]
        self.texts = [index for index, (_, _, style) in enumerate(columns) if style is None]

    def append(self, values: list[Any], font: Font | None = None) -> None:
        """Append a row. Data is never a formula: text that begins with `=` is written as text (openpyxl
        would write it as a formula); the totals rows (`font`) are ours and keep their formulas."""
        if font is not None:
            row = []
            for value, template in zip(values, self.templates):
                cell = WriteOnlyCell(self.sheet, value=value)
                cell.font = font
                if template is not None:
                    cell.number_format = template.number_format
                row.append(cell)
            self.sheet.append(row)
            return
        row = list(values)
        for index, template in self.styled:
            if row[index] is not None:
                template.value = row[index]
                row[index] = template
        for index in self.texts:
            value = row[index]
            if value.__class__ is str and value[:1] == "=":
                row[index] = as_text(self.sheet, value)
        self.sheet.append(row)


def as_text(sheet, value: str) -> WriteOnlyCell:
    """A cell that shows `value` as typed, never evaluated (OWASP: formula injection)."""
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    return cell


def write_workbook(path: Path, *, month: str, summary: list[dict], interventions: Iterable[dict],
                   invoices: list[dict], about: list[tuple[str, Any]]) -> Written:
    """Write the four sheets. `interventions` yields rows in the INTERVENTIONS column order (lists, the hot
    path: 200,000 rows and more) and may be a generator, consumed once."""
    workbook = Workbook(write_only=True)

    # Summary: one row per customer, then the grand total as formulas, as values, and the check cell
    sheet = _sheet(workbook, "Summary", SUMMARY)
    writer = _RowWriter(sheet, SUMMARY)
    names = [name for name, _, _ in SUMMARY]
    totals = {name: Decimal("0") if name not in ("included_minutes", "used_minutes", "over_minutes") else 0
              for name in TOTALLED}
    for record in summary:
        values = [record[name] for name in names]
        writer.append(values)
        for name in TOTALLED:
            totals[name] += record[name]
    last = len(summary) + 1
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(SUMMARY))}{last}"
    formula_row, value_row = last + 2, last + 3
    formulas, statics = [], []
    for index, name in enumerate(names, start=1):
        letter = get_column_letter(index)
        if index == 1:
            formulas.append("Total (formulas)")
            statics.append("Total (values)")
        elif name in TOTALLED:
            formulas.append(f"=SUM({letter}2:{letter}{max(last, 2)})" if summary else 0)
            statics.append(totals[name])
        else:
            formulas.append(None)
            statics.append(None)
    if not summary:
        writer.append([f"No billable intervention or invoice for {month}."] + [None] * (len(names) - 1))
    else:
        sheet.append([])
    writer.append(formulas, font=TOTAL_FONT)
    writer.append(statics, font=TOTAL_FONT)
    check = "+".join(f"ABS({get_column_letter(names.index(name) + 1)}{formula_row}-"
                     f"{get_column_letter(names.index(name) + 1)}{value_row})" for name in TOTALLED)
    check_cell = WriteOnlyCell(sheet, value=f"=ROUND({check},2)")
    check_cell.font = TOTAL_FONT
    label = WriteOnlyCell(sheet, value="Check (0 when formulas and values agree)")
    label.font = TOTAL_FONT
    sheet.append([label, check_cell])

    # Interventions: streamed
    sheet = _sheet(workbook, "Interventions", INTERVENTIONS)
    writer = _RowWriter(sheet, INTERVENTIONS)
    count = 0
    for values in interventions:
        writer.append(values)
        count += 1
    if count == 0:
        sheet.append([f"No intervention was priced in the {month} close."])
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(INTERVENTIONS))}{count + 1}"

    sheet = _sheet(workbook, "Invoices", INVOICES)
    writer = _RowWriter(sheet, INVOICES)
    names = [name for name, _, _ in INVOICES]
    for record in invoices:
        values = [record[name] for name in names]
        writer.append(values)
    if not invoices:
        sheet.append([f"No invoice for {month}."])
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(INVOICES))}{len(invoices) + 1}"

    sheet = workbook.create_sheet("About")
    sheet.column_dimensions["A"].width = 34
    sheet.column_dimensions["B"].width = 60
    for key, value in about:
        sheet.append([key, as_text(sheet, value) if isinstance(value, str) and value[:1] == "=" else value])

    workbook.save(path)
    return Written(path, _fingerprint(path, about), len(summary) + count + len(invoices),
                   {name: totals[name] for name in TOTALLED}, count)
