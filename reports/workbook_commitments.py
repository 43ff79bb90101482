"""The workbook's service side: the Engagements sheet (the clocks of the tickets closed in the month, each
with the service credit it earned, and the month's rate per request type and severity) and the Commitment
metrics sheet (each ticket's working hours, and per customer, type and severity the figures as formulas over
them). Written with reports/billable_workbook.py's helpers, in its write-only workbook.
"""

from __future__ import annotations

import textwrap

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from policy.commitments import ClockState
from reports.billable_workbook import (COMMITMENTS, LANGUAGES, MEASURED, METRICS, RATES, TOTAL_FONT, VALUES,
                                       _header, _RowWriter, _sheet, as_text, label, word)

#: the figures are ours, formulas kept (a row written with a font is never read as data: _RowWriter.append)
FIGURES_FONT = Font()


def _rate(row: int) -> str:
    """The rate of a row of the RATES table: met / (met + missed), blank when neither (our formula)."""
    return f'=IF(D{row}+E{row}=0,"",D{row}/(D{row}+E{row}))'


def commitments_sheet(workbook: Workbook, records: list[dict], month: str, language: str) -> int:
    """The Commitments sheet: one row per clock of each ticket closed in the month (dicts by COMMITMENTS code,
    `result` a clock state, or `information` for an informational clock), its words translated; after a
    blank row, the month's rate per request type and severity over the clocks that are not informational,
    with a Total row. A sentence instead when no ticket was closed. Returns the number of clock rows."""
    sheet = _sheet(workbook, "commitments", language)
    writer = _RowWriter(sheet, COMMITMENTS)
    names = [name for name, _, _ in COMMITMENTS]
    which = LANGUAGES.index(language)
    words = {name: {value: labels[which] for value, labels in table.items()}
             for name, table in VALUES["commitments"].items()}
    counts: dict[tuple[str, str | None], list[int]] = {}  # (type, severity) -> [clocks, met, missed]
    for record in records:
        writer.append([words[name].get(record[name], record[name]) if name in words else record[name]
                       for name in names])
        if record["result"] != "information":
            count = counts.setdefault((record["type"], record["severity"]), [0, 0, 0])
            count[0] += 1
            count[1] += record["result"] == ClockState.MET
            count[2] += record["result"] == ClockState.MISSED
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COMMITMENTS))}{len(records) + 1}"
    if not records:
        sheet.append([word("commitments.empty", language, month=month)])
        return 0
    if not counts:  # only informational clocks: no rate to give
        return len(records)

    # the rates: a title, a header, one row per (type, severity) in the vocabulary's order, a Total row
    row = len(records) + 1
    sheet.append([])
    title = WriteOnlyCell(sheet, value=word("commitments.rates", language, month=month))
    title.font = TOTAL_FONT
    sheet.append([title])
    row += 3
    codes = [name for name, _, _ in RATES]
    widths = [width for _, width, _ in COMMITMENTS[:len(RATES)]]
    lines = max(len(textwrap.wrap(label(name, language), max(width - 3, 4))) for name, width in zip(codes, widths))
    sheet.row_dimensions[row].height = 15 * lines + 3
    sheet.append(_header(sheet, codes, language))
    types, severities = list(VALUES["commitments"]["type"]), list(VALUES["commitments"]["severity"])

    def order(key: tuple[str, str | None]) -> tuple:
        type_, severity = key
        return (types.index(type_) if type_ in types else len(types), type_,
                severities.index(severity) if severity in severities else len(severities), severity or "")

    rates = _RowWriter(sheet, RATES)
    first = row + 1
    for type_, severity in sorted(counts, key=order):
        row += 1
        clocks, met, missed = counts[(type_, severity)]
        shown = words["severity"].get(severity, severity) if severity else word("commitments.no_severity", language)
        rates.append([words["type"].get(type_, type_), shown, clocks, met, missed, _rate(row)])
    sheet.append([])
    row += 2
    rates.append([word("total", language), None, f"=SUM(C{first}:C{row - 2})", f"=SUM(D{first}:D{row - 2})",
                  f"=SUM(E{first}:E{row - 2})", _rate(row)], font=TOTAL_FONT)
    return len(records)


def _median(column: str, first: int, last: int, share: str | None = None) -> str:
    """MEDIAN (or PERCENTILE at `share`) of a range, blank when no cell of it has a value (our formula)."""
    cells = f"{column}{first}:{column}{last}"
    figure = f"PERCENTILE({cells},{share})" if share else f"MEDIAN({cells})"
    return f'=IF(COUNT({cells})=0,"",{figure})'


def metrics_sheet(workbook: Workbook, measured: list[dict], month: str, language: str) -> int:
    """The Commitment metrics sheet: one row per ticket (dicts by MEASURED code, grouped by customer, type and
    severity as policy.commitment_metrics.ordered gives them), then, after a blank row and a title, one row per
    group whose every figure is a formula over the group's rows. A sentence instead when there is no ticket."""
    sheet = _sheet(workbook, "metrics", language)
    writer = _RowWriter(sheet, MEASURED)
    which = LANGUAGES.index(language)
    words = {name: {value: labels[which] for value, labels in VALUES["commitments"][name].items()}
             for name in ("type", "severity")}

    def shown(name: str, value):
        if name == "severity" and not value:
            return word("commitments.no_severity", language)
        return words[name].get(value, value) if name in words else value

    groups: list[tuple[dict, int, int]] = []
    for row, record in enumerate(measured, start=2):
        writer.append([shown(name, record[name]) for name, _, _ in MEASURED])
        key = (record["customer_id"], record["type"], record["severity"])
        if groups and (groups[-1][0]["customer_id"], groups[-1][0]["type"], groups[-1][0]["severity"]) == key:
            groups[-1] = (groups[-1][0], groups[-1][1], row)
        else:
            groups.append((record, row, row))
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(MEASURED))}{len(measured) + 1}"
    if not measured:
        sheet.append([word("metrics.empty", language, month=month)])
        return 0
    sheet.append([])
    title = WriteOnlyCell(sheet, value=word("metrics.title", language, month=month))
    title.font = TOTAL_FONT
    sheet.append([title])
    sheet.append(_header(sheet, [name for name, _, _ in METRICS], language))
    figures = _RowWriter(sheet, METRICS)
    r = len(measured) + 4
    for record, first, last in groups:
        r += 1
        names = [as_text(sheet, value) if value[:1] == "=" else value   # data, never a formula
                 for value in (record["customer_id"], shown("type", record["type"]),
                               shown("severity", record["severity"]))]
        figures.append([*names,
                        f"=ROWS(A{first}:A{last})", f"=SUM(E{first}:E{last})", f"=SUM(F{first}:F{last})",
                        f'=IF(E{r}+F{r}=0,"",E{r}/(E{r}+F{r}))', _median("G", first, last),
                        _median("G", first, last, "0.9"), _median("H", first, last),
                        _median("H", first, last, "0.9"), f"=SUM(I{first}:I{last})"], font=FIGURES_FONT)
    return len(measured)
