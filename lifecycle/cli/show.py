"""`lifecycle show SUBJECT`: what the ledger holds, as a table, JSON or CSV. No Prefect."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from enum import Enum
from typing import Optional

import typer

from lifecycle.cli.common import check_month, fail, ledger
from lifecycle.cli.common import literal as _literal


class Subject(str, Enum):
    customers = "customers"
    invoices = "invoices"
    interventions = "interventions"
    backups = "backups"
    notices = "notices"
    terms = "terms"
    audit = "audit"
    tickets = "tickets"
    drills = "drills"


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


def show(
    subject: Subject,
    month: Optional[str] = typer.Option(None, help="Only this month (YYYY-MM); for invoices, the service month billed."),
    issued_in: Optional[str] = typer.Option(None, "--issued-in", help="Invoices only: those issued in this month (YYYY-MM)."),
    format: Format = typer.Option(Format.table, "--format", help="table, json or csv."),
) -> None:
    """Print what the ledger holds: customers, invoices, interventions, backups, notices, terms, audit, tickets,
    drills (the restore drills' evidence)."""
    from ledger import views
    from ledger.db import session_scope

    if month and subject.value in views.MONTHLESS:
        filtered = ", ".join(name for name in views.SUBJECTS if name not in views.MONTHLESS)
        fail(f"--month: `show {subject.value}` lists them whatever the month; --month filters {filtered}", 2)
    if month:
        check_month(month)
    if issued_in:
        if subject is not Subject.invoices:
            fail("--issued-in: only invoices have an issue date (lifecycle show invoices --issued-in YYYY-MM)", 2)
        check_month(issued_in, "--issued-in")
    engine = ledger()
    with session_scope(engine) as session:
        if issued_in:
            records = views.invoices(session, month, issued_in=issued_in)
        else:
            records = views.SUBJECTS[subject.value](session, month)
    if format is Format.json:
        typer.echo(json.dumps(records, ensure_ascii=False, indent=2))
    elif format is Format.csv:
        typer.echo(_csv(records), nl=False)
    else:
        _table(subject.value, records)


#: fields that hold an instant: JSON keeps them in UTC, the table and CSV show them in Europe/Paris
INSTANTS = {"at", "sent_at", "created_at", "verified_at", "started_at", "deleted_at", "received_at", "response_due_at",
            "delivery_due_at", "next_warning_at", "closed_at", "einvoice_status_at"}


def _paris(text: str) -> str:
    """An ISO instant in UTC as Paris wall-clock time with its offset: 2026-11-23T18:06:22+01:00."""
    from datetime import datetime

    from policy.calendar import PARIS

    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        return text
    if instant.tzinfo is None:
        return text
    try:
        return instant.astimezone(PARIS).isoformat(timespec="seconds")
    except OverflowError:  # a date stored by an older release at the calendar's edge: shown as stored
        return text


#: fields whose text holds an instant among words (`governance until 2026-12-13T23:00:00+00:00`): JSON keeps it in
#: UTC, the table and CSV write that instant in Europe/Paris as they do the INSTANTS
INSTANTS_IN_TEXT = {"lock"}
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[+-]\d{2}:\d{2}|Z)")


def _flat(value, field: str = "") -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if field in INSTANTS and isinstance(value, str):
        return _paris(value)
    if field in INSTANTS_IN_TEXT and isinstance(value, str):
        return _INSTANT.sub(lambda found: _paris(found.group(0)), value)
    return str(value).lower() if isinstance(value, bool) else str(value)


#: how a cell a spreadsheet would read as a formula begins (OWASP, "CSV injection")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _inert(text: str) -> str:
    """A CSV cell no spreadsheet evaluates: text that begins like a formula gets a leading quote
    (OWASP's advice); numbers stay numbers, so -12.50 is still an amount."""
    if text.startswith(FORMULA_STARTS):
        try:
            float(text)
        except ValueError:
            return "'" + text
    return text


def _csv(records: list[dict]) -> str:
    buffer = io.StringIO()
    if records:
        writer = csv.DictWriter(buffer, fieldnames=list(records[0]), lineterminator="\n")
        writer.writeheader()
        for record in records:
            writer.writerow({key: _inert(_flat(value, key)) for key, value in record.items()})
    return buffer.getvalue()


def _change(record: dict) -> str:
    """An audit entry's change on one line: `stage: current -> admin_disabled, effective_on=2026-11-01`."""
    before, after = record.get("before") or {}, record.get("after") or {}
    parts = []
    for key, value in after.items():
        shown = _flat(value)
        if key in before and before[key] != value:
            parts.append(f"{key}: {_flat(before[key])} -> {shown}")
        else:
            parts.append(f"{key}={shown}")
    parts += [f"{key}: {_flat(value)} -> (none)" for key, value in before.items() if key not in after]
    return ", ".join(parts)


#: the columns a table shows (JSON and CSV show every field)
TABLE_COLUMNS = {
    "customers": ["customer_id", "name", "stage", "standby", "admin_enabled", "platform_enabled",
                  "operations_enabled", "deletion_status", "deletion_due_on", "buyer_kind", "credit"],
    "invoices": ["number", "customer_id", "month", "period_start", "period_end", "kind", "status", "issued_on", "due_on", "total_ht",
                 "total_ttc", "balance", "credits", "mail_status", "einvoice", "document"],
    "interventions": ["intervention_id", "customer_id", "started_at", "minutes", "category", "free_minutes",
                      "billed_minutes", "amount_ht", "invoice_number"],
    "notices": ["customer_id", "kind", "status", "attempts", "sent_at", "to", "subject", "last_error"],
    "terms": ["term", "value"],
    "tickets": ["ticket_id", "customer_id", "type", "severity", "received_at", "response_due_at", "delivery_due_at",
                "next_warning_at", "state", "paused_minutes", "tier", "closed_at", "has_credentials"],
    "audit": ["at", "customer_id", "action", "change", "actor"],
    "drills": ["at", "customer_id", "backup_id", "day", "tier", "tables", "data_key", "outcome", "ran_by"],
}
#: one line per record in every table: no column ever folds. Free text and lists are cut with an ellipsis at their
#: width (the full value is in --format json): a narrow column would otherwise fold them over several lines (an actor
#: "lifecycle run by root (deployment ...)"); every other column (ids, dates, instants, amounts, states, a document's
#: key) is written whole, and a table wider than 200 characters is written wider rather than folded
ONE_LINE = {"change", "subject", "name", "description", "last_error", "actor", "ran_by", "tier", "tables", "value",
            "einvoice", "to"}
#: the widest a one-line column may be, so that a table of them fits 200 characters without folding the others
ONE_LINE_WIDTH = {"actor": 32, "ran_by": 24, "tier": 22, "tables": 28, "einvoice": 24, "to": 32,
                  "value": 150}
#: the widest a table is written when its output is no terminal, unless a record needs more
TABLE_WIDTH = 200


def _table(subject: str, records: list[dict]) -> None:
    from rich.cells import cell_len
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    if not records:
        Console(width=None if sys.stdout.isatty() else TABLE_WIDTH).print(f"no {subject}")
        return
    columns = TABLE_COLUMNS.get(subject) or [key for key in records[0] if key != "lines"]
    headers = [column.replace("_enabled", "") for column in columns]
    rows = []
    for record in records:
        if subject == "audit":
            record = {**record, "change": _change(record)}
        if subject == "invoices":  # the platform's last status in one column: its code and label (JSON and CSV
            # give einvoice_status, einvoice_status_label and einvoice_status_at apart)
            record = {**record, "einvoice": " ".join(str(record[key]) for key in ("einvoice_status",
                                                                                  "einvoice_status_label")
                                                     if record.get(key) not in (None, ""))}
        if record.get("id_problem"):
            record = {**record, "customer_id": f"{record['customer_id']} (UNSAFE ID: backups skip it)"}
        # one line per record: an address's line breaks read as ` / ` (the way its import cell may say it)
        rows.append([_literal(" / ".join(_flat(record[column], column).splitlines())) for column in columns])
    widths = []
    for index, column in enumerate(columns):
        width = max([cell_len(headers[index])] + [cell_len(row[index]) for row in rows])
        widths.append(min(width, ONE_LINE_WIDTH.get(column, 90)) if column in ONE_LINE else width)
    needed = sum(widths) + 2 * len(columns)  # a space each side of every cell
    shown = Console().width if sys.stdout.isatty() else TABLE_WIDTH
    console = Console(width=max(shown, needed))
    if subject == "terms":
        console.print(Text(f"terms: {records[0]['source']}"))
    table = Table(show_lines=False, header_style="bold", box=None)
    for header, column, width in zip(headers, columns, widths):
        table.add_column(header, no_wrap=True, overflow="ellipsis", min_width=width, max_width=width)
    for row in rows:  # stored text prints as it is, never as Rich markup (a name `[/bold] x` or `[link=...]`)
        table.add_row(*[Text(cell) for cell in row])
    console.print(table)
    console.print(f"{len(records)} {subject}")
