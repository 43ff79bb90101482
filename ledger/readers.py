"""Reading an import file (UTF-8 CSV or XLSX) as rows numbered the way a spreadsheet shows them.

Support staff export from helpdesks and edit in Excel, so both formats carry the same columns and
every error can point at the exact cell (the header is row 1).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterator


class UnreadableFile(Exception):
    """The file cannot be read at all (missing, wrong format, bad encoding)."""


@dataclass
class Sheet:
    header: list[str]
    rows: list[tuple[int, dict[str, Any]]]  # (spreadsheet row number, column -> raw cell)


def _cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _csv_rows(path: Path) -> Iterator[list[Any]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            yield from csv.reader(handle)
    except UnicodeDecodeError as error:
        raise UnreadableFile(f"{path.name}: not UTF-8 text ({error.reason} at byte {error.start})") from None


def _xlsx_rows(path: Path) -> Iterator[list[Any]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a bad file
        raise UnreadableFile(f"{path.name}: not a readable XLSX workbook ({error})") from None
    try:
        sheet = workbook.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield list(row)
    finally:
        workbook.close()


def read_sheet(path: Path) -> Sheet:
    if not path.exists():
        raise UnreadableFile(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        raw = _csv_rows(path)
    elif suffix in (".xlsx", ".xlsm"):
        raw = _xlsx_rows(path)
    else:
        raise UnreadableFile(f"{path.name}: expected a .csv or .xlsx file")
    header: list[str] | None = None
    rows: list[tuple[int, dict[str, Any]]] = []
    for number, values in enumerate(raw, start=1):
        if header is None:
            header = [str(value).strip().lower() if value is not None else "" for value in values]
            while header and header[-1] == "":
                header.pop()
            continue
        cells = [_cell(value) for value in values]
        if all(value is None for value in cells):
            continue  # blank lines, and the empty tail spreadsheets often keep
        record = {name: (cells[index] if index < len(cells) else None) for index, name in enumerate(header) if name}
        extra = [value for value in cells[len(header):] if value is not None]
        if extra:
            record["\x00extra"] = extra
        rows.append((number, record))
    if header is None:
        raise UnreadableFile(f"{path.name}: the file is empty (no header row)")
    return Sheet(header=header, rows=rows)


def as_text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
