"""What every import shares: parsed rows, the problems found (each at its `file:row:column`), and the
checks against what the ledger already holds (duplicates, known customers, unchanged history)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Callable, Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import audit
from ledger.imports.cells import DateOutOfRange, boolean, shown
from ledger.imports.schemas import Column
from ledger.models import Customer
from ledger.readers import DatePastLimits, ErrorValue, Formula, Sheet, as_text
from policy.refusals import Refusal
from policy.text import quoted, utf8_problem
from policy.window import DateWindow

CHUNK = 900


#: the header's problems listed one by one; past them, one line says how many more there are
HEADER_PROBLEMS_SHOWN = 20
#: an import's problems listed one by one; past them, one line says how many more there are, in how many rows
PROBLEMS_SHOWN = 100


class ImportRejected(Refusal):
    def __init__(self, errors: list[str], total: int | None = None):
        """`errors` as listed (capped); `total` counts them all (the listed lines, when not capped)."""
        self.total = len(errors) if total is None else total
        super().__init__(f"{self.total} error(s)")
        self.errors = errors


@dataclass
class ImportResult:
    kind: str
    file: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.file}: {self.rows} row(s): {self.inserted} new, {self.updated} updated, "
            f"{self.unchanged} unchanged"
        )


@dataclass
class Row:
    number: int
    values: dict[str, Any]  # parsed; a column absent from the file is absent here
    repeated: bool = False  # its key is on a row above: told once, as repeated, and otherwise left aside


class Problems:
    def __init__(self, file: str):
        self.file = file
        self.items: list[tuple[int, int, str]] = []

    def add(self, row: int, column: str, reason: str) -> None:
        self.items.append((row, len(self.items), f"{self.file}:{row}:{column}: {reason}"))

    def __bool__(self) -> bool:
        return bool(self.items)

    def at(self, row: int, column: str) -> bool:
        """Whether the cell (`row`, `column`) was told already (a value that did not parse is absent from the
        row's values, as an empty one is None: a default must not stand in for it)."""
        prefix = f"{self.file}:{row}:{column}: "
        return any(said.startswith(prefix) for number, _, said in self.items if number == row)

    def rejected(self) -> ImportRejected:
        return ImportRejected(self.lines(), total=len(self.items))

    def lines(self) -> list[str]:
        """The problems in row order; past the first `PROBLEMS_SHOWN`, one line counts the rest (a file of
        20,000 bad rows is not printed whole: fixing the first ones usually fixes the kind)."""
        ordered = sorted(self.items)
        shown = [line for _, _, line in ordered[:PROBLEMS_SHOWN]]
        rest = ordered[PROBLEMS_SHOWN:]
        if rest:
            rows = len({row for row, _, _ in rest})
            shown.append(f"{self.file}: and {len(rest):,} more problem(s) in {rows:,} row(s) "
                         f"({len(ordered):,} in all, the first {PROBLEMS_SHOWN} listed above); "
                         f"fix these and import again")
        return shown


def _one_line(raw: str) -> str:
    """A formula's or an error's text as a line gives it back: its first 60 characters, quoted if they hold
    what is not printable (a line break inside a formula is no second line of the refusal)."""
    return raw[:60] if raw[:60].isprintable() else quoted(raw[:60])


def _shown(name: str) -> str:
    """A column name as a line may print it: one from a hostile file never drives the terminal."""
    return name if name.isprintable() else repr(name)


def parse_sheet(sheet: Sheet, columns: tuple[Column, ...], problems: Problems,
                progress: Callable[[int], None] | None, window: DateWindow | None = None) -> list[Row]:
    """Each cell parsed by its column; every date within `window` (a fact of the past no later than today)."""
    known = {column.name for column in columns}
    if not known & set(sheet.header) and sheet.separator:  # French Excel's CSV: `customer_id;name;...`
        said = "';'" if sheet.separator == ";" else "tabs"
        problems.add(1, "-", f"this file's columns look separated by {said}: save it as CSV with commas "
                             f"(expected the columns {', '.join(sorted(known))})")
        return []
    if not known & set(sheet.header):  # another file altogether (a text file, a link's target): echo none of it
        problems.add(1, "-", f"the header names none of this file's columns (expected {', '.join(sorted(known))}): "
                             f"is it the right file?")
        return []
    first_at: dict[str, int] = {}
    header_problems = 0
    for position, name in enumerate(sheet.header, start=1):
        found = []
        if name and name in first_at:  # read whole, the last would silently win (amount,amount)
            found.append((_shown(name), f"the column is repeated in the header (columns {first_at[name]} and "
                                             f"{position}): each column appears once"))
        elif name:
            first_at[name] = position
        if name and name not in known:
            found.append((_shown(name), f"unknown column (expected {', '.join(sorted(known))})"))
        for column, reason in found:
            header_problems += 1
            if header_problems <= HEADER_PROBLEMS_SHOWN:
                problems.add(1, column, reason)
    if header_problems > HEADER_PROBLEMS_SHOWN:  # a header of thousands of columns is not listed whole
        problems.add(1, "-", f"and {header_problems - HEADER_PROBLEMS_SHOWN:,} more problem(s) in the header "
                             f"({header_problems:,} in all, the first {HEADER_PROBLEMS_SHOWN} listed above)")
    present = set(sheet.header)
    for column in columns:
        if column.required and column.name not in present:
            problems.add(1, column.name, "required column is missing")
    if problems:
        return []
    rows: list[Row] = []
    oversized = set(sheet.oversized)
    for done, (number, record) in enumerate(sheet.rows, start=1):
        if "\x00extra" in record:
            problems.add(number, "-", "the row has more cells than the header has columns")
        for position in record.get("\x00blank", ()):
            problems.add(number, f"column {position}", "this cell has a value but its column has no name in the "
                                                       "header (row 1): name the column, or empty the cell")
        if "" in record:  # a record's blank name (the helpdesk's `"": "critical"`): no column of the import
            problems.add(number, "''", f"unknown column (expected {', '.join(sorted(known))})")
        values: dict[str, Any] = {}
        for column in columns:
            if column.name not in present:
                continue
            raw = record.get(column.name)
            if (number, column.name) in oversized:
                continue  # already reported as too long
            if isinstance(raw, Formula):
                problems.add(number, column.name, f"formulas are not read: type the value (the cell holds "
                                                  f"{_one_line(raw)})")
                continue
            if isinstance(raw, DatePastLimits):
                problems.add(number, column.name, f"a date cell whose number ({_one_line(raw)}) is no date: type "
                                                  f"the value")
                continue
            if isinstance(raw, ErrorValue):  # #N/A in a name is no name, in an amount no amount
                problems.add(number, column.name, f"the cell shows the error {_one_line(raw)}, not a value: "
                                                  f"type the value")
                continue
            # an .xlsx's `_xD800_` alone: half a character, which no UTF-8 text holds
            if isinstance(raw, str) and not raw.isprintable() and utf8_problem(raw):
                problems.add(number, column.name, utf8_problem(raw, "type the text again"))
                continue
            if raw is None:
                if column.required:
                    problems.add(number, column.name, "required value is empty")
                else:
                    values[column.name] = None
                continue
            if isinstance(raw, float) and not math.isfinite(raw):  # an .xlsx number cell of 1E999 is infinite
                problems.add(number, column.name, f"not a number (the cell holds {raw})")
                continue
            if isinstance(raw, bool) and column.parse is not boolean:  # JSON's true, an .xlsx TRUE cell
                problems.add(number, column.name, f"a yes/no value ({str(raw).lower()}) where this column takes "
                                                  f"none: give its value as text or a number")
                continue
            past_only = column.past  # a fact of the past (schemas.Column): no later than today
            try:
                value = column.parse(raw)
            except DateOutOfRange as error:
                problems.add(number, column.name, window.problem(error.local.date(), past_only=past_only,
                                                                 shown=as_text(raw)) or str(error)
                             if window else str(error))
                continue
            except ValueError as error:
                problems.add(number, column.name, str(error))
                continue
            if window is not None and isinstance(value, date):
                problem = window.problem(value, past_only=past_only, shown=as_text(raw), to_the_minute=column.past)
                if problem:
                    problems.add(number, column.name, problem)
                    continue
            values[column.name] = value
        rows.append(Row(number, values))
        if progress and done % 1000 == 0:
            progress(1000)
    if progress:
        progress(len(sheet.rows) % 1000)
    return rows


def complete(row: Row, columns: tuple[Column, ...]) -> bool:
    """Every required value parsed, and not a row whose key repeats one above (reported as repeated)."""
    return not row.repeated and all(
        column.name in row.values and (row.values[column.name] is not None or not column.required)
        for column in columns if column.required)


def folded(value: Any) -> Any:
    """A key as ids compare: ignoring case (ids are ASCII, policy.ids), so `c020` and `C020` are one id; a
    key of several parts (a standby's customer and day) folds each text part."""
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, tuple):
        return tuple(folded(part) for part in value)
    return value


def _said(value: Any) -> Any:
    """A stored value as a changed-row line quotes it: a moment in Paris time, anything else as audited."""
    return shown(value) if isinstance(value, datetime) else audit.plain(value)


def _key_text(value: Any) -> str:
    return ", ".join(shown(part) for part in value) if isinstance(value, tuple) else shown(value)


def duplicates(rows: list[Row], key: Callable[[Row], Any], column: str, problems: Problems) -> None:
    """A key on two rows of one file, or two keys equal ignoring case (`c020` below `C020`: on a filesystem
    that ignores case they are one folder, and to a person one id): the later row is told once, as repeated
    (not also as already imported: it is marked and `complete` leaves it aside). A key not parsed (its own
    error said why) repeats nothing."""
    seen: dict[Any, tuple[int, Any]] = {}
    for row in rows:
        value = key(row)
        if value is None or (isinstance(value, tuple) and None in value):
            continue
        first = seen.get(folded(value))
        if first is None:
            seen[folded(value)] = (row.number, value)
            continue
        number, earlier = first
        if earlier == value:
            problems.add(row.number, column, f"{_key_text(value)!r} is repeated in this file at row {number}: "
                                             f"a key appears once")
        else:
            problems.add(row.number, column, f"{_key_text(value)!r} is {_key_text(earlier)!r} of row {number} in "
                                             f"another case: ids are unique ignoring case")
        row.repeated = True


def by_key(session: Session, model, column, keys: Iterable[Any]) -> dict[Any, Any]:
    keys = list(keys)
    found = {}
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start:start + CHUNK]
        for item in session.scalars(select(model).where(column.in_(chunk))):
            found[getattr(item, column.key)] = item
    return found


def customers_known(session: Session, ids: set[str]) -> dict[str, Customer]:
    return by_key(session, Customer, Customer.customer_id, sorted(ids))


def by_key_ignoring_case(session: Session, column, keys: Iterable[str], known: Iterable[str] = ()) -> dict[str, str]:
    """Each of `keys` not among `known` (the ledger's exact matches) that the ledger holds in another case,
    with the ledger's spelling: `{"c020": "C020"}`. Read through the index on lower(column) (migration 0016)."""
    known = set(known)
    wanted = sorted({key.lower() for key in keys if key and key not in known})
    spelled: dict[str, str] = {}
    for start in range(0, len(wanted), CHUNK):
        for stored in session.scalars(select(column).where(func.lower(column).in_(wanted[start:start + CHUNK]))):
            spelled.setdefault(stored.lower(), stored)
    return {key: spelled[key.lower()] for key in keys
            if key and key not in known and key.lower() in spelled and spelled[key.lower()] != key}


def case_clashes(session: Session, rows: list[Row], column: str, model_column, known: Iterable[str],
                 problems: Problems) -> set[int]:
    """The rows whose id (in `column`) the ledger holds in another case: refused at the row, naming the id it
    holds (an exact re-import stays a no-op). Their numbers, so the kind's own check leaves them aside."""
    ids = [row.values[column] for row in rows if isinstance(row.values.get(column), str) and not row.repeated]
    clashes = by_key_ignoring_case(session, model_column, ids, known)
    refused = set()
    for row in rows:
        stored = clashes.get(row.values.get(column)) if not row.repeated else None
        if stored is not None:
            problems.add(row.number, column, clash_reason(row.values[column], stored))
            row.repeated = True
            refused.add(row.number)
    return refused


def clash_reason(given: str, stored: str) -> str:
    return (f"{given!r} already exists as {stored!r}: ids are unique ignoring case (write {stored!r} for that "
            f"one, another id for a new one)")


def unknown_reference(said: str, given: str, spelled: str | None, hint: str) -> str:
    """Why a reference names nothing (`said`: "unknown customer"): the id in another case when the ledger
    holds one (ids are compared exactly), else `hint` (what to import first)."""
    if spelled is not None:
        return f"{said} {given!r}: the ledger has {spelled!r} (ids are compared exactly: write {spelled!r})"
    return f"{said} {given!r} ({hint})"


def describe_change(changes: dict[str, tuple[Any, Any]]) -> str:
    return "; ".join(f"{name} was {_said(old)!r}, now {_said(new)!r}"
                     for name, (old, new) in changes.items())


def require_customers(session: Session, rows: list[Row], problems: Problems) -> dict[str, Customer]:
    wanted = {row.values["customer_id"] for row in rows if row.values.get("customer_id")}
    known = customers_known(session, wanted)
    spelled = by_key_ignoring_case(session, Customer.customer_id, wanted, known)
    for row in rows:
        customer_id = row.values.get("customer_id")
        if customer_id and customer_id not in known:
            problems.add(row.number, "customer_id", unknown_reference("unknown customer", customer_id, spelled.get(customer_id),
                                                                      "import customers first"))
    return known


def history_row(row: Row, stored: dict[str, Any], problems: Problems, key_column: str, noun: str, *,
                issued: bool = False) -> bool:
    """True when the stored record equals the row; a difference is an error naming each column. `issued`: the
    record is one this installation issued (an invoice numbered by the product), never imported, and is told so."""
    differences = {name: (stored[name], value) for name, value in row.values.items()
                   if name in stored and stored[name] != value}
    if differences:
        for name, (old, new) in differences.items():
            key = row.values[key_column]
            if issued:
                problems.add(row.number, name, f"{key!r} is {'an' if noun[0] in 'aeiou' else 'a'} {noun} this "
                                               f"installation issued, with {_said(old)!r} (now {_said(new)!r}): "
                                               f"imported {noun}s keep their own ids, and a row naming an issued "
                                               f"one changes only its status")
            else:
                problems.add(row.number, name, f"{key!r} was already imported with {_said(old)!r}; a changed "
                                               f"{noun} row cannot be re-imported (now {_said(new)!r})")
        return False
    return True
