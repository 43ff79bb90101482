"""The workbook's service side: the Engagements sheet (the clocks of the tickets closed in the month, each
with the service credit it earned, and the month's rate per request type and severity) and the Commitment
metrics sheet (each ticket's working hours, and per customer, type and severity the figures as formulas over
them). Written with reports/billable_workbook.py's helpers, in its workbook.
"""

from __future__ import annotations

import textwrap

from policy.commitments import ClockState
from reports.billable_workbook import (COMMITMENTS, LANGUAGES, MEASURED, METRICS, RATES, VALUES, Formula, _Book,
                                       _header, _RowWriter, _sheet, label, word)


def _rate(row: int) -> Formula:
    """The rate of a row of the RATES table: met / (met + missed), blank when neither (our formula)."""
    return Formula(f'=IF(D{row}+E{row}=0,"",D{row}/(D{row}+E{row}))')


def commitments_sheet(book: _Book, records: list[dict], month: str, language: str) -> int:
    """The Commitments sheet: one row per clock of each ticket closed in the month (dicts by COMMITMENTS code,
    `result` a clock state, or `information` for an informational clock), its words translated; after a
    blank row, the month's rate per request type and severity over the clocks that are not informational,
    with a Total row. A sentence instead when no ticket was closed. Returns the number of clock rows."""
    sheet = _sheet(book, "commitments", language)
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
    sheet.auto_filter(len(COMMITMENTS), len(records) + 1)
    if not records:
        sheet.append([word("commitments.empty", language, month=month)])
        return 0
    if not counts:  # only informational clocks: no rate to give
        return len(records)

    # the rates: a title, a header, one row per (type, severity) in the vocabulary's order, a Total row
    row = len(records) + 1
    sheet.skip()
    sheet.append([word("commitments.rates", language, month=month)], [book.format(None, bold=True)])
    row += 3
    codes = [name for name, _, _ in RATES]
    widths = [width for _, width, _ in COMMITMENTS[:len(RATES)]]
    lines = max(len(textwrap.wrap(label(name, language), max(width - 3, 4))) for name, width in zip(codes, widths))
    sheet.worksheet.set_row(row - 1, 15 * lines + 3)  # `row` counts from 1, the sheet's rows from 0
    _header(sheet, codes, language)
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
    sheet.skip()
    row += 2
    rates.append([word("total", language), None, Formula(f"=SUM(C{first}:C{row - 2})"),
                  Formula(f"=SUM(D{first}:D{row - 2})"), Formula(f"=SUM(E{first}:E{row - 2})"), _rate(row)], bold=True)
    return len(records)


def _median(column: str, first: int, last: int, share: str | None = None) -> Formula:
    """MEDIAN (or PERCENTILE at `share`) of a range, blank when no cell of it has a value (our formula)."""
    cells = f"{column}{first}:{column}{last}"
    figure = f"PERCENTILE({cells},{share})" if share else f"MEDIAN({cells})"
    return Formula(f'=IF(COUNT({cells})=0,"",{figure})')


def metrics_sheet(book: _Book, measured: list[dict], month: str, language: str) -> int:
    """The Commitment metrics sheet: one row per ticket (dicts by MEASURED code, grouped by customer, type and
    severity as policy.commitment_metrics.ordered gives them), then, after a blank row and a title, one row per
    group whose every figure is a formula over the group's rows. A sentence instead when there is no ticket."""
    sheet = _sheet(book, "metrics", language)
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
    sheet.auto_filter(len(MEASURED), len(measured) + 1)
    if not measured:
        sheet.append([word("metrics.empty", language, month=month)])
        return 0
    sheet.skip()
    sheet.append([word("metrics.title", language, month=month)], [book.format(None, bold=True)])
    _header(sheet, [name for name, _, _ in METRICS], language)
    figures = _RowWriter(sheet, METRICS)
    r = len(measured) + 4
    for record, first, last in groups:
        r += 1
        names = [record["customer_id"], shown("type", record["type"]), shown("severity", record["severity"])]
        figures.append([*names,  # data, text whatever it begins with; then our formulas
                        Formula(f"=ROWS(A{first}:A{last})"), Formula(f"=SUM(E{first}:E{last})"),
                        Formula(f"=SUM(F{first}:F{last})"), Formula(f'=IF(E{r}+F{r}=0,"",E{r}/(E{r}+F{r}))'),
                        _median("G", first, last), _median("G", first, last, "0.9"), _median("H", first, last),
                        _median("H", first, last, "0.9"), Formula(f"=SUM(I{first}:I{last})")])
    return len(measured)
