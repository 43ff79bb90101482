"""Reading an import file (UTF-8 CSV or XLSX) as rows numbered the way a spreadsheet shows them.

Support staff export from helpdesks and edit in Excel, so both formats carry the same columns and
every error can point at the exact cell (the header is row 1). A file is read within bounds set by
the terms: its size and an .xlsx's unzipped size and compression ratio are checked before parsing
(a 1.5 MB zip bomb of 1.5 GB of XML is refused at once), and rows and cells are counted as they come.
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
import warnings
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterator

from policy.refusals import Refusal
from policy.terms import Terms
from policy.text import SHOWN_CHARACTERS, quoted


class UnreadableFile(Refusal):
    """The file cannot be read at all (missing, a folder, wrong format, bad encoding, past a bound)."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_rows: int
    max_xlsx_bytes: int
    max_xlsx_ratio: int
    max_cell_chars: int

    @classmethod
    def of(cls, terms: Terms) -> Limits:
        return cls(terms.import_max_bytes, terms.import_max_rows, terms.import_max_xlsx_bytes,
                   terms.import_max_xlsx_ratio, terms.import_max_cell_chars)


class Formula(str):
    """An .xlsx cell that holds a formula (its text, `=SUM(B2:B9)`): formulas are not evaluated here, so
    the import tells the user to type the value rather than read a cached result or nothing."""


class ErrorValue(str):
    """An .xlsx cell that holds an error (`t="e"`: its text, `#N/A`, `#REF!`, `#DIV/0!`): the value the cell
    was meant to hold is not there, in a text column as in an amount one, so the import tells the user to type
    it rather than import the error's text as a name."""


class DatePastLimits(ErrorValue):
    """An .xlsx cell formatted as a date whose number is no date (`1E10`, past year 9999): openpyxl reads it as
    the error `#VALUE!` (and warned of it on stderr); its text is the number."""


#: openpyxl's warning for such a cell, which names it and its number
_PAST_LIMITS = re.compile(r"Cell (\w+) is marked as a date but the serial value (\S+) is outside the limits")


#: OOXML's escape of a character in a text (ECMA-376 22.4.2.4): `_x` and four hexadecimal digits of its UTF-16
#: code unit, then `_` (`_x202E_` is U+202E, `_x005F_` the underscore, so `_x005F_x202E_` is `_x202E_` as typed).
#: Excel decodes it in every text of a workbook, left to right; only a lower-case `x` opens one
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def excel_text(raw: str) -> str:
    """A text of an .xlsx as Excel shows it: its `_xHHHH_` escapes decoded, the two halves of a UTF-16 pair
    escaped one by one (`_xD83D__xDE00_`) one character. A half alone stays one (a lone surrogate), refused
    at its cell as no UTF-8 text holds it."""
    if "_x" not in raw:
        return raw
    text = _ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), raw)
    if any("\ud800" <= char <= "\udfff" for char in text):
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return text


@dataclass
class Sheet:
    header: list[str]
    rows: list[tuple[int, dict[str, Any]]]  # (spreadsheet row number, column -> raw cell)
    oversized: list[tuple[int, str]] = field(default_factory=list)  # (row, column) of cells past the bound
    #: a CSV whose one header cell holds its names separated by `;` or a tab (a spreadsheet set for another
    #: locale saved it): that separator, to say so when no column is known
    separator: str | None = None


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, (Formula, ErrorValue)):
        return value
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _csv_rows(path: Path, limits: Limits) -> Iterator[list[Any]]:
    csv.field_size_limit(max(limits.max_bytes, 1024))  # a long cell is told at its row and column, below
    line = 0
    wide = _wide(path)
    if wide:  # ASCII in UTF-16 or UTF-32 without a BOM is valid UTF-8, NULs between its letters
        raise UnreadableFile(f"{path.name}: not UTF-8 text (it is {wide}); save it as CSV UTF-8")
    try:
        with io.TextIOWrapper(_open_regular(path), newline="", encoding="utf-8-sig") as handle:
            # strict: a quote never closed is told where its row begins, not read as the rest of the file in
            # one cell (whose row would then lack its required values)
            reader = csv.reader(handle, strict=True)
            for values in reader:
                line = reader.line_num
                yield values
    except UnicodeDecodeError as error:
        raise UnreadableFile(f"{path.name}: not UTF-8 text ({error.reason} at byte {error.start}); save it as CSV "
                             f"UTF-8") from None
    except csv.Error as error:
        raise UnreadableFile(f"{path.name}:{line + 1}: not readable as CSV ({error}; {_csv_hint(error, limits)})") from None


def _csv_hint(error: csv.Error, limits: Limits) -> str:
    """What a CSV error most likely means, for the person who saved the file."""
    text = str(error)
    if "unexpected end of data" in text:
        return "a cell that opens a quote never closes it"
    if "expected after" in text:
        return 'a quoted cell goes on after its closing quote: quote the whole cell, and double a quote inside it ("")'
    return f"a cell has at most {limits.max_cell_chars} characters"


def _wide(path: Path) -> str | None:
    """`UTF-32` or `UTF-16` when the file starts like one (a byte-order mark, or NUL bytes around most of its
    first characters), else None."""
    with _open_regular(path) as handle:
        start = handle.read(64)
    if start[:3] == b"\xef\xbb\xbf":  # UTF-8's own BOM (a file of nothing else is an empty file)
        return None
    if start[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"):
        return "UTF-32"
    if start[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "UTF-16"
    quarter = len(start) // 4
    if quarter and sum(1 for index in range(0, len(start) - 3, 4) if start[index:index + 4].count(0) == 3) >= max(1, quarter // 2):
        return "UTF-32"
    half = len(start) // 2
    if half and max(start[1::2].count(0), start[::2].count(0)) >= max(1, half // 2):  # a NUL at least: `a\n` is no UTF-16
        return "UTF-16"
    return None


def _check_xlsx(path: Path, size: int, limits: Limits) -> None:
    """Refuse an .xlsx that would unzip past the bounds, before any of it is decompressed."""
    try:
        with _open_regular(path) as handle, zipfile.ZipFile(handle) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as error:
        raise UnreadableFile(f"{path.name}: not a readable XLSX workbook ({error})") from None
    unzipped = sum(member.file_size for member in members)
    if unzipped > limits.max_xlsx_bytes:
        raise UnreadableFile(f"{path.name}: unzips to {unzipped:,} bytes, more than the {limits.max_xlsx_bytes:,} an "
                             f"import may (import_max_xlsx_bytes); nothing was read")
    if unzipped > limits.max_xlsx_ratio * max(size, 1):
        raise UnreadableFile(f"{path.name}: compressed {unzipped // max(size, 1):,} to 1, more than the "
                             f"{limits.max_xlsx_ratio} to 1 a workbook has (import_max_xlsx_ratio); nothing was read")


def _load_workbook(handle):
    """The workbook read only, formulas as formulas (to refuse them), its shared strings as the file holds them:
    openpyxl's own reading drops every `x005F_` of them, so that `_x005F_x202E_` (the text `_x202E_` as typed)
    and `_x202E_` (U+202E) read alike; `excel_text` decodes them as Excel does instead."""
    from openpyxl.cell.text import Text
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.xml.constants import SHARED_STRINGS, SHEET_MAIN_NS
    from openpyxl.xml.functions import iterparse

    class Reader(ExcelReader):
        def read_strings(self):
            found = self.package.find(SHARED_STRINGS)
            if found is None:
                return
            item = "{%s}si" % SHEET_MAIN_NS
            strings = []
            with self.archive.open(found.PartName[1:]) as source:
                for _, node in iterparse(source):
                    if node.tag == item:
                        strings.append(Text.from_tree(node).content)  # its runs' texts, its phonetic guide left
                        node.clear()
            self.shared_strings = strings

    reader = Reader(handle, read_only=True, data_only=False)
    reader.read()
    return reader.wb


def _value(cell, past_limits: dict[str, str]) -> Any:
    """A cell's value as the import reads it: a formula or an error marked so, to be refused at its cell; a
    text as Excel shows it (a shared string, an inline one and each run of a rich text alike). `past_limits`:
    the date cells of the row whose number is no date, by coordinate."""
    kind = getattr(cell, "data_type", None)
    if kind == "f":
        return Formula(cell.value)
    if kind == "e" and cell.value is not None:
        number = past_limits.get(getattr(cell, "coordinate", None))
        return DatePastLimits(number) if number is not None else ErrorValue(cell.value)
    if isinstance(cell.value, str):
        return excel_text(cell.value)
    return cell.value


def _xlsx_rows(path: Path) -> Iterator[list[Any]]:
    handle = _open_regular(path)
    try:
        workbook = _load_workbook(handle)
    except Exception as error:  # openpyxl raises many kinds for a bad file
        handle.close()
        raise UnreadableFile(f"{path.name}: not a readable XLSX workbook ({error})") from None
    number = 0
    try:
        # the one sheet a spreadsheet shows: a hidden one (`hidden`, or `veryHidden` that only a macro shows)
        # is never read, as the user who checked the file in Excel never saw it; a second visible one is refused,
        # as the user cannot tell which one would be imported
        visible = [sheet for sheet in workbook.worksheets if getattr(sheet, "sheet_state", "visible") == "visible"]
        if not visible:
            raise UnreadableFile(f"{path.name}: every sheet of the workbook is hidden: unhide the one to import")
        if len(visible) > 1:
            names = ", ".join(_title(sheet.title) for sheet in visible[:10]) + (", ..." if len(visible) > 10 else "")
            raise UnreadableFile(f"{path.name}: the workbook has {len(visible)} visible sheets ({names}): keep the "
                                 f"one to import visible (hide or delete the others); nothing was read")
        sheet = visible[0]
        hidden_rows, hidden_columns = _hidden(sheet)
        rows_seen: list[int] = []
        columns_seen: set[int] = set()
        # openpyxl warns on stderr of a date cell past its limits, before a refusal's first line: told at its cell
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            for number, row in enumerate(sheet.iter_rows(), start=1):
                past_limits = {found[1]: found[2] for found in (_PAST_LIMITS.match(str(warning.message))
                                                                for warning in warned) if found}
                warned.clear()
                values = [_value(cell, past_limits) for cell in row]
                held = [index for index, value in enumerate(values, start=1) if _cell(value) is not None]
                if held and number in hidden_rows:
                    rows_seen.append(number)
                columns_seen.update(index for index in held if index in hidden_columns)
                yield values
        problem = _hidden_problem(rows_seen, sorted(columns_seen))
        if problem:
            raise UnreadableFile(f"{path.name}: {problem}; nothing was written")
    except ValueError as error:  # a number cell whose value is not a number (<v>NaN</v>): openpyxl cannot cast it
        raise UnreadableFile(f"{path.name}:{number + 1}: a cell marked as a number holds something that is not "
                             f"a number ({error}); type the value again and save the workbook") from None
    finally:
        workbook.close()
        handle.close()


def _title(title: str) -> str:
    """A sheet's name as a line shows it (a hand-edited workbook's may hold anything)."""
    return title[:40] if title.isprintable() else repr(title[:40])


def _hidden(sheet) -> tuple[set[int], set[int]]:
    """The rows and columns a spreadsheet hides (`<row hidden="1">`, `<col hidden="1">`), read from the sheet's
    XML, which read-only openpyxl does not tell: 1-based numbers."""
    from openpyxl.xml.functions import iterparse

    rows: set[int] = set()
    columns: set[int] = set()
    number = 0
    with sheet._get_source() as source:
        for _, element in iterparse(source):
            tag = element.tag.rsplit("}", 1)[-1]
            if tag == "col":
                if element.get("hidden") in ("1", "true"):
                    first, last = int(element.get("min", "1")), int(element.get("max", element.get("min", "1")))
                    columns.update(range(first, min(last, 16384) + 1))
            elif tag == "row":
                given = element.get("r")
                number = int(given) if given and given.isdigit() else number + 1
                if element.get("hidden") in ("1", "true"):
                    rows.add(number)
                element.clear()
    return rows, columns


def _listed(numbers: list, most: int = 10) -> str:
    shown = ", ".join(str(number) for number in numbers[:most])
    return shown + (f" and {len(numbers) - most:,} more" if len(numbers) > most else "")


def _hidden_problem(rows: list[int], columns: list[int]) -> str | None:
    """Why a sheet is refused: rows or columns hidden that hold values (a person checking it cannot see what
    would be imported)."""
    from openpyxl.utils import get_column_letter

    said = []
    if rows:
        said.append(f"row {rows[0]} is hidden: unhide it or delete it" if len(rows) == 1 else
                    f"rows {_listed(rows)} are hidden: unhide them or delete them")
    if columns:
        letters = [get_column_letter(column) for column in columns]
        said.append(f"column {letters[0]} is hidden and holds values: unhide it or delete it" if len(letters) == 1
                    else f"columns {_listed(letters)} are hidden and hold values: unhide them or delete them")
    if not said:
        return None
    return "; ".join(said) + " (a person checking the sheet cannot see what it would import)"


def _named(path: Path) -> str:
    """The file as a refusal names it: the path as given, cut short when long (policy.text.quoted; a path of
    3,000 characters was given back whole). A file that was opened is named by its name alone."""
    text = str(path)
    return text if len(text) <= SHOWN_CHARACTERS else quoted(text)


def _regular_file_problem(path: Path) -> str | None:
    """Why `path` is not read: only a regular file is, never followed through a link nor opened when it is a
    FIFO, a device or a socket (a link would echo its target's first line, a FIFO block forever)."""
    from lifecycle_config import escaped, file_in_the_way

    named = _named(path)
    under = file_in_the_way(path)
    if under is not None:  # it said "cannot be read (Not a directory)"
        return f"{named}: no such file: {escaped(str(under))} is a file, not a folder"
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        return f"{named}: no such file"
    except OSError as error:
        return f"{named}: cannot be read ({error.strerror})"
    if stat.S_ISLNK(found.st_mode):
        return f"{named}: a symbolic link; import the file itself, not a link to it (nothing was read)"
    if stat.S_ISDIR(found.st_mode):
        return f"{named}: is a folder, not a file"
    if not stat.S_ISREG(found.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(found.st_mode)
                else "a device" if stat.S_ISCHR(found.st_mode) or stat.S_ISBLK(found.st_mode)
                else "a socket" if stat.S_ISSOCK(found.st_mode) else "a special file")
        return f"{named}: {kind}, not a regular file; import a file saved on disk (nothing was read)"
    return None


def _open_regular(path: Path) -> io.BufferedReader:
    """The file opened for reading only if it is still a regular file, not a link (checked on the open
    descriptor: a file swapped for a link or a FIFO after the first check is not read either)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as error:
        raise UnreadableFile(_regular_file_problem(path)
                             or f"{_named(path)}: cannot be read ({error.strerror})") from None
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise UnreadableFile(f"{_named(path)}: not a regular file; import a file saved on disk (nothing was read)")
    os.set_blocking(descriptor, True)
    return os.fdopen(descriptor, "rb")


def read_sheet(path: Path, limits: Limits | None = None) -> Sheet:
    limits = limits or Limits.of(Terms())
    problem = _regular_file_problem(path)
    if problem:
        raise UnreadableFile(problem)
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise UnreadableFile(f"{path.name}: {size:,} bytes, more than the {limits.max_bytes:,} an import may have "
                             f"(import_max_bytes); nothing was read")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        raw = _csv_rows(path, limits)
    elif suffix in (".xlsx", ".xlsm"):
        _check_xlsx(path, size, limits)
        raw = _xlsx_rows(path)
    else:
        raise UnreadableFile(f"{path.name}: expected a .csv or .xlsx file")
    header: list[str] | None = None
    rows: list[tuple[int, dict[str, Any]]] = []
    oversized: list[tuple[int, str]] = []
    for number, values in enumerate(raw, start=1):
        if header is None:
            # a BOM before the first name (a CSV's is dropped as it is decoded) is no part of the name
            header = [str(value).strip().lstrip("\ufeff").strip().lower()[:100] if value is not None else ""
                      for value in values]
            width = len(header)  # a value under a blank header cell is told by its column, not as one too many
            while header and header[-1] == "":
                header.pop()
            continue
        cells = [_cell(value) for value in values]
        if all(value is None for value in cells):
            continue  # blank lines, and the empty tail spreadsheets often keep
        if len(rows) >= limits.max_rows:
            raise UnreadableFile(f"{path.name}: more than {limits.max_rows:,} rows, the most an import may have "
                                 f"(import_max_rows); nothing was written")
        record = {}
        for index, name in enumerate(header):
            if not name:
                continue
            value = cells[index] if index < len(cells) else None
            if isinstance(value, str) and len(value) > limits.max_cell_chars:
                oversized.append((number, name))
                value = None
            record[name] = value
        blank = [index for index, value in enumerate(cells[:width], start=1) if value is not None
                 and (index > len(header) or not header[index - 1])]
        if blank:
            record["\x00blank"] = blank
        extra = [value for value in cells[max(width, len(header)):] if value is not None]
        if extra:
            record["\x00extra"] = extra
        rows.append((number, record))
    if header is None or not (header or rows):  # nothing, a BOM or blank lines: no header to name either
        raise UnreadableFile(f"{path.name}: the file is empty (no header row)")
    return Sheet(header=header, rows=rows, oversized=oversized,
                 separator=_separator(header) if suffix == ".csv" else None)


def _separator(header: list[str]) -> str | None:
    """`;` or a tab when a CSV's first header cell holds the names separated by it (French Excel saves `;`)."""
    first = header[0] if header else ""
    counts = {separator: first.count(separator) for separator in (";", "\t")}
    separator = max(counts, key=counts.get)
    return separator if counts[separator] else None


def as_text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
