"""`lifecycle`: the command line of docs/reference/cli.md.

`import`, `show`, `demo` and `db` touch only the ledger (and the demo platform) and never import
Prefect, so they answer in a second or two; `run` and `up` need Prefect and load it on demand.
Every command exits 0 on success and non-zero with a one-line reason on stderr otherwise.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from lifecycle.help_format import ReadableHelp

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, cls=ReadableHelp,
                  help="Run a SaaS vendor's support policy: quota, billing, arrears, standby, backups, exports.")
db_app = typer.Typer(no_args_is_help=True, cls=ReadableHelp, help="The ledger's schema.")
run_app = typer.Typer(no_args_is_help=True, cls=ReadableHelp, help="Run a flow now and wait for it: on the worker of `lifecycle up` when it runs, else in this process.")
app.add_typer(db_app, name="db")
app.add_typer(run_app, name="run")


def fail(message: str, code: int = 1):
    typer.echo(f"lifecycle: {message}", err=True)
    raise typer.Exit(code)


def note(message: str) -> None:
    typer.echo(message, err=True)


def _ledger():
    """The ledger engine, migrated to the newest schema if it is missing or old."""
    import lifecycle_config as config
    from ledger.db import ledger_engine
    from ledger.migrate import ensure_current

    engine = ledger_engine()
    ensure_current(engine, config.database_url())
    return engine


# --- db ----------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the ledger or migrate it to the newest schema."""
    import lifecycle_config as config
    from ledger.migrate import upgrade

    before, after = upgrade(config.database_url())
    typer.echo(f"ledger at {after}" + (" (already current)" if before == after else f" (was {before or 'empty'})"))
    _warn_unsafe_ids()


def _warn_unsafe_ids() -> None:
    """Ids an older release let in that could reach past their place: said once per id, on stderr."""
    from ledger.db import session_scope
    from ledger.queries import unsafe_ids

    with session_scope(_ledger()) as session:
        found = unsafe_ids(session)
    for what, value, problem in found:
        note(f"warning: {what} {value!r} has an unsafe id ({problem}); "
             + ("backups skip this customer until it has a new id" if what == "customer" else "kept as it is"))


@db_app.command("restore-snapshot")
def db_restore_snapshot(
    backup_id: str = typer.Argument(..., help="A ledger snapshot id (lifecycle show backups: kind ledger)."),
    to: str = typer.Option(..., "--to", help="SQLAlchemy URL of a new, empty ledger database."),
) -> None:
    """Restore a snapshot of the ledger (taken by the nightly backup) into a new database."""
    from blocks.storage import ObjectStorage
    from tasks.backups import restore_ledger_snapshot

    engine = _ledger()
    try:
        loaded = restore_ledger_snapshot(backup_id, to, ObjectStorage(), engine=engine)
    except ValueError as error:  # no such snapshot, a target that is not empty: the user's to fix
        fail(str(error), 2)
    except Exception as error:  # noqa: BLE001 - one line for the user
        fail(f"{type(error).__name__}: {error}")
    typer.echo(f"restored {sum(loaded.values())} rows in {len(loaded)} tables into {to}")


# --- import ------------------------------------------------------------------------------------


class ImportKind(str, Enum):
    customers = "customers"
    invoices = "invoices"
    payments = "payments"
    interventions = "interventions"
    standby = "standby"
    credit_notes = "credit-notes"
    refunds = "refunds"
    tickets = "tickets"


@app.command("import")
def import_(kind: ImportKind, file: Path) -> None:
    """Import a .csv or .xlsx file; a bad file is rejected whole with every error, and nothing is written."""
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ledger.imports import ImportRejected, import_file
    from ledger.readers import UnreadableFile

    engine = _ledger()
    progress = Progress(TextColumn("checking {task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeRemainingColumn(), transient=True, console=_stderr_console())
    task_id = None

    def on_total(total: int) -> None:
        nonlocal task_id
        if total >= 2000:
            progress.start()
            task_id = progress.add_task(escape(file.name), total=total)  # a name is text, never markup

    def advance(count: int) -> None:
        if task_id is not None:
            progress.advance(task_id, count)

    try:
        from ledger.sealing import sealer  # the installation's key file: no Prefect, never the user's profile

        result = import_file(kind.value, file, engine=engine, terms=_ledger_terms(engine), progress=advance,
                             on_total=on_total, sealer=sealer(engine) if kind == ImportKind.tickets else None)
    except ImportRejected as rejected:
        progress.stop()
        for line in rejected.errors:
            typer.echo(line, err=True)
        fail(f"{file.name} rejected: {rejected.total:,} error(s); nothing was written", 2)
    except UnreadableFile as error:
        progress.stop()
        fail(str(error), 2)
    progress.stop()
    typer.echo(result.summary())
    for line in result.notes:
        typer.echo(f"  {line}")
    if kind == ImportKind.credit_notes and (result.inserted or result.unchanged):
        _send_new_credit_notes(engine)  # those of this file, and any an earlier import left unsent


def _send_new_credit_notes(engine) -> None:
    """Credit notes just imported reach their customers as `run credit-note`'s do: rendered, stored, mailed."""
    from sqlalchemy import select

    from ledger.db import session_scope
    from ledger.models import Invoice
    from policy.vocabulary import InvoiceKind

    with session_scope(engine) as session:
        months = sorted(set(session.scalars(select(Invoice.month).where(Invoice.kind == InvoiceKind.CREDIT_NOTE,
                                                                        Invoice.document_key.is_(None)))))

    def call(**parameters):
        from flows.invoices import send_invoices

        return send_invoices(**parameters)

    for month in months:
        result = _run("send-invoices/send-invoices", {"month": month, "customer_id": None, "new_only": True}, call)
        if result:
            typer.echo(f"  {month}: credit note document(s) sent: {', '.join(result['sent']) or 'none'}"
                       + (f"; not sent yet: {', '.join(result['waiting'])}" if result.get("waiting") else "")
                       + (f"; pending: {', '.join(result['pending'])}" if result["pending"] else ""))


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def _ledger_terms(engine):
    """The terms the latest run used (a copy of the PolicyTerms block), else the defaults: imports
    check the same numbers the flows apply, without asking a Prefect server."""
    from ledger.db import session_scope
    from ledger.terms_copies import latest_terms

    with session_scope(engine) as session:
        return latest_terms(session)


# --- show --------------------------------------------------------------------------------------


class Subject(str, Enum):
    customers = "customers"
    invoices = "invoices"
    interventions = "interventions"
    backups = "backups"
    notices = "notices"
    terms = "terms"
    audit = "audit"
    tickets = "tickets"


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


@app.command()
def show(
    subject: Subject,
    month: Optional[str] = typer.Option(None, help="Only this month (YYYY-MM); for invoices, the service month billed."),
    issued_in: Optional[str] = typer.Option(None, "--issued-in", help="Invoices only: those issued in this month (YYYY-MM)."),
    format: Format = typer.Option(Format.table, "--format", help="table, json or csv."),
) -> None:
    """Print what the ledger holds: customers, invoices, interventions, backups, notices, terms, audit."""
    from ledger import views
    from ledger.db import session_scope

    if month:
        _check_month(month)
    if issued_in:
        if subject is not Subject.invoices:
            fail("--issued-in: only invoices have an issue date (lifecycle show invoices --issued-in YYYY-MM)", 2)
        _check_month(issued_in, "--issued-in")
    engine = _ledger()
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
            "delivery_due_at", "closed_at"}


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


def _flat(value, field: str = "") -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if field in INSTANTS and isinstance(value, str):
        return _paris(value)
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
                  "operations_enabled", "deletion_status", "deletion_due_on", "credit"],
    "invoices": ["number", "customer_id", "month", "period_start", "period_end", "kind", "status", "issued_on", "due_on", "total_ht",
                 "total_ttc", "balance", "credits", "mail_status", "document"],
    "interventions": ["intervention_id", "customer_id", "started_at", "minutes", "category", "free_minutes",
                      "billed_minutes", "amount_ht", "invoice_number"],
    "notices": ["customer_id", "kind", "status", "attempts", "sent_at", "to", "subject", "last_error"],
    "terms": ["term", "value"],
    "tickets": ["ticket_id", "customer_id", "type", "severity", "received_at", "response_due_at", "delivery_due_at",
                "state", "closed_at", "has_credentials"],
    "audit": ["at", "customer_id", "action", "change", "actor"],
}
#: columns cut to one line with an ellipsis (the full value is in --format json)
ONE_LINE = {"change", "subject", "name", "description", "last_error"}


def _table(subject: str, records: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(width=None if sys.stdout.isatty() else 200)
    if not records:
        console.print(f"no {subject}")
        return
    table = Table(show_lines=False, header_style="bold", box=None)
    columns = TABLE_COLUMNS.get(subject) or [key for key in records[0] if key != "lines"]
    if subject == "terms":
        console.print(Text(f"terms: {records[0]['source']}"))
    for column in columns:
        if column in ONE_LINE:
            table.add_column(column.replace("_enabled", ""), overflow="ellipsis", no_wrap=True, max_width=90)
        else:
            table.add_column(column.replace("_enabled", ""), overflow="fold")
    for record in records:
        if subject == "audit":
            record = {**record, "change": _change(record)}
        if record.get("id_problem"):
            record = {**record, "customer_id": f"{record['customer_id']} (UNSAFE ID: backups skip it)"}
        # one line per record: an address's line breaks read as ` / ` (the way its import cell may say it);
        # stored text prints as it is, never as Rich markup (a name `[/bold] x` or `[link=...]`)
        table.add_row(*[Text(" / ".join(_flat(record[column], column).splitlines())) for column in columns])
    console.print(table)
    console.print(f"{len(records)} {subject}")


# --- demo and up -------------------------------------------------------------------------------


@app.command()
def demo(
    customers: int = typer.Option(50, help="How many demo customers."),
    seed: int = typer.Option(7, help="Random seed: the same seed gives the same data."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="The demo's today (YYYY-MM-DD); default today in Paris."),
) -> None:
    """Create the demo platform database and demo ledger in LIFECYCLE_HOME."""
    from lifecycle import demo as demo_data
    from policy.calendar import today_paris

    day = _parse_day(as_of, "--as-of") if as_of else today_paris()  # within the window: 0001-01-01 is a typo
    _ledger()
    try:
        summary = demo_data.create(customers=customers, seed=seed, today=day)
    except (demo_data.DemoExists, ValueError) as error:
        fail(str(error), 2)
    typer.echo(summary)


@app.command()
def up(
    demo_data: bool = typer.Option(False, "--demo", help="Create the demo data first (when there is none)."),
    port: int = typer.Option(4200, help="Port of the Prefect server and UI."),
    host: str = typer.Option("127.0.0.1", help="Address the Prefect server listens on."),
    workers: int = typer.Option(1, "--workers", min=1, max=32,
                                help="How many workers to start on the pool (the nightly backup's shards spread "
                                     "over them)."),
) -> None:
    """Run the embedded default: Prefect server and UI, every deployment with its schedule, a worker."""
    import lifecycle_config as config
    from lifecycle import demo as demo_module
    from lifecycle.server import up as run_up
    from policy.calendar import today_paris

    _ledger()
    _refuse_explicit_server()
    if demo_data:
        try:
            typer.echo(demo_module.create(customers=50, seed=7, today=today_paris()))
        except demo_module.DemoExists as error:
            typer.echo(f"{error}; keeping it")
    elif not Path(config.platform_url().removeprefix("sqlite:///")).exists() and config.platform_url().startswith("sqlite"):
        note("note: no platform database yet; `lifecycle up --demo` or `lifecycle demo` creates the demo one")
    try:
        code = run_up(host=host, port=port, echo=typer.echo, workers=workers)
    except RuntimeError as error:
        fail(str(error))
    raise typer.Exit(code)


@app.command()
def deploy() -> None:
    """Prepare a Prefect server of your own (PREFECT_API_URL) for the workers: the default blocks, the work
    pool, every deployment of prefect.yaml, the ops automations and the global concurrency limits."""
    import os
    import time

    import lifecycle_config as config
    from lifecycle.server import answers, apply

    config.prepare_prefect_environment()
    api_url = os.environ.get("PREFECT_API_URL")
    if not api_url:
        fail("PREFECT_API_URL is not set: `lifecycle deploy` prepares a server of your own (docs/how-to/postgresql-and-s3.md); "
             "`lifecycle up` does it for the embedded one", 2)
    deadline = time.monotonic() + 120  # a server started a moment ago (deploy/) takes its time
    while not answers(api_url):
        if time.monotonic() > deadline:
            fail(f"no Prefect server answers at {api_url} (waited 2 minutes)")
        time.sleep(2)
    _ledger()
    _refuse_another_installations_server(api_url)
    try:
        apply({**os.environ, "LIFECYCLE_HOME": str(config.home())}, typer.echo)
    except RuntimeError as error:
        fail(str(error))
    typer.echo(f"deployed to {api_url}: start workers with `lifecycle worker` on each machine")


@app.command()
def worker(
    name: Optional[str] = typer.Option(None, help="The worker's name in the UI; default lifecycle-<host>."),
    limit: Optional[int] = typer.Option(None, min=1, help="Most runs at once on this worker (default: no limit)."),
) -> None:
    """Run one worker of the `lifecycle` pool here, for the server of PREFECT_API_URL (or of `lifecycle
    up`), until stopped: the way to add a machine (deploy/)."""
    import os
    import socket

    import lifecycle_config as config
    from lifecycle.server import PROJECT_ROOT, answers, choose_server, worker_command

    config.prepare_prefect_environment()
    api_url, _ = choose_server()
    if not api_url or not answers(api_url):
        fail("no Prefect server to work for: set PREFECT_API_URL (or run `lifecycle up` for this LIFECYCLE_HOME)")
    _ledger()
    os.environ["PREFECT_API_URL"] = api_url
    _refuse_another_installations_server(api_url)
    env = {**os.environ, "PREFECT_API_URL": api_url, "LIFECYCLE_HOME": str(config.home())}
    command = worker_command(name or f"lifecycle-{socket.gethostname()}") + (["--limit", str(limit)] if limit else [])
    note(f"worker {name or command[-1]} on the pool lifecycle of {api_url} (heartbeat every "
         f"{config.heartbeat_seconds()} s)")
    # exec: a service manager's signals reach the worker itself
    os.chdir(PROJECT_ROOT)
    os.execve(command[0], command, env)


@app.command("helpdesk-webhook")
def helpdesk_webhook(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (put TLS in front of it)."),
    port: int = typer.Option(4202, help="Port to listen on."),
) -> None:
    """Serve the helpdesk's signed webhook (POST /helpdesk/tickets) for the server of PREFECT_API_URL, until
    stopped: what `lifecycle up` serves on its own port + 2, for a server of your own (deploy/)."""
    import os
    import time

    import lifecycle_config as config
    from lifecycle.server import answers, choose_server

    config.prepare_prefect_environment()
    api_url, _ = choose_server()
    if not api_url or not answers(api_url):
        fail("no Prefect server holds the webhook's secret: set PREFECT_API_URL (or run `lifecycle up`)")
    _ledger()
    os.environ["PREFECT_API_URL"] = api_url
    _refuse_another_installations_server(api_url)
    from ledger.sealing import KeyUnavailable
    from lifecycle.helpdesk import start_webhook

    try:
        first, *notes = start_webhook(host, port, report=note)
    except OSError as error:
        fail(f"cannot listen on {host}:{port}: {error}")
    except KeyUnavailable as error:
        fail(str(error))
    note(f"{first}; Ctrl-C stops it")
    for line in notes:
        note(line)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


# --- run ---------------------------------------------------------------------------------------


def _prefect_ready() -> None:
    """Point this process at the right Prefect server before Prefect is imported."""
    import os

    import lifecycle_config as config
    from lifecycle.server import choose_server

    config.prepare_prefect_environment()
    url, sentence = choose_server()
    if url:
        os.environ["PREFECT_API_URL"] = url  # before the check imports Prefect, which reads it once
        _refuse_another_installations_server(url)
    else:
        note(f"note: {sentence}")


def _refuse_explicit_server() -> None:
    """The check below for commands that use PREFECT_API_URL only when it is set (and answers)."""
    import os

    import lifecycle_config as config
    from lifecycle.server import answers

    api_url = os.environ.get("PREFECT_API_URL")
    if api_url and answers(api_url):
        config.prepare_prefect_environment()
        _refuse_another_installations_server(api_url)


def _refuse_another_installations_server(api_url: str) -> None:
    """One line, exit 2, when the server at `api_url` serves another installation's ledger: its worker would
    act on that ledger, and its blocks (terms, seller, secrets, storage, mail) are that installation's."""
    from lifecycle.server import another_installations_server

    problem = another_installations_server(api_url)
    if problem:
        fail(problem, 2)


def _window():
    """The plausible window of a date given here (policy.window), from the terms the ledger keeps."""
    from policy.window import DateWindow

    return DateWindow.of(_ledger_terms(_ledger()))


def _check_month(month: str, option: str = "--month") -> None:
    """A month of the form YYYY-MM within the window (9999-12, 0000-01: one line, exit 2, never a traceback)."""
    from policy.calendar import parse_month

    try:
        parse_month(month)
    except ValueError as error:
        fail(str(error) if option == "--month" else f"{option}: {error}", 2)
    problem = _window().month_problem(month)
    if problem:
        fail(f"{option}: {problem}", 2)


def _parse_day(text: Optional[str], option: str, *, past_only: bool = False) -> Optional[date]:
    """A day given as an option, within the window (no later than today for a fact of the past)."""
    if text is None:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        fail(f"{option} is not a date (YYYY-MM-DD): {text!r}", 2)
    problem = _window().problem(day, past_only=past_only)
    if problem:
        fail(f"{option} {problem}", 2)
    return day


def _run(deployment: str, parameters: dict, call):
    """Run a flow: as a run of its deployment on the worker of `lifecycle up` (followed here) when
    there is one, else in this process. A refused request exits 2 with its reason, a failed run 1."""
    _ledger()
    _prefect_ready()
    from lifecycle import runner
    from tasks.runtime import Refusal

    target = runner.route(deployment)
    if target.deployment_id:
        wanted = {name: value.isoformat() if isinstance(value, date) else value
                  for name, value in parameters.items() if value is not None}
        try:
            return runner.run_and_follow(target, wanted, echo=note)
        except runner.RunFailed as error:
            fail(str(error), 2 if error.refused else 1)
    if target.note:
        note(f"note: {target.note}")
    try:
        return call(**parameters)
    except Refusal as refusal:
        fail(str(refusal), 2)
    except Exception as error:  # the flow's own failure, already recorded in Prefect
        from lifecycle_config.conditions import is_world_condition, one_line

        fail(one_line(error) if is_world_condition(error) else f"{type(error).__name__}: {error}")


def _known_customer(customer_id: str, *, data_kept: bool = False) -> None:
    """A command about a customer starts only for a customer the ledger knows (and, for work on its data,
    whose data was not deleted): a typo is one line, exit 2, before any run starts."""
    from ledger.db import session_scope
    from ledger.models import Customer
    from policy.arrears import Stage

    with session_scope(_ledger()) as session:
        customer = session.get(Customer, customer_id)
        stage = customer.stage if customer is not None else None
    if customer is None:
        fail(f"unknown customer {customer_id!r} (lifecycle show customers lists them)", 2)
    if data_kept and stage == Stage.DATA_DELETED:
        fail(f"customer {customer_id}'s data was deleted after arrears: there is nothing to work on", 2)


def _future_day(day: Optional[date], what: str, *, dry_run: Optional[bool] = None, force: bool = False) -> None:
    """A business day after today is refused before anything starts, unless it is a dry run or forced
    (`dry_run` is None for the commands that have none)."""
    from policy.calendar import future_day_problem, today_paris

    problem = future_day_problem(day, today_paris(), what) if day else None
    if problem and not dry_run and not force:
        hint = "use --dry-run to see what it would do, or --force --reason TEXT" if dry_run is not None \
            else "use --force --reason TEXT to run it anyway"
        fail(f"{problem}: refused (a typo?); {hint}", 2)


def _force_reason(force: bool, reason: Optional[str]) -> Optional[str]:
    if force and not (reason or "").strip():
        fail("--force needs --reason TEXT: the audit log keeps why", 2)
    if reason and not force:
        fail("--reason goes with --force", 2)
    return reason.strip() if force else None


FORCE = typer.Option(False, "--force", help="Run for a day after today (or a month not ended) anyway.")
REASON = typer.Option(None, "--reason", help="Why --force: kept in the audit log.")


@run_app.command("standby-expiry")
def run_standby_expiry(
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Business day (YYYY-MM-DD)."),
    force: bool = FORCE,
    reason: Optional[str] = REASON,
) -> None:
    """The daily standby sweep: start due periods, warn before the end, end the finished ones."""
    day = _parse_day(as_of, "--as-of")
    force_reason = _force_reason(force, reason)
    _future_day(day, "--as-of", force=force)

    def call(**parameters):
        from flows.standby import standby_expiry

        return standby_expiry(**parameters)

    result = _run("standby-expiry/standby-expiry", {"as_of": day, "force_reason": force_reason}, call)
    if result is None:
        return
    typer.echo(f"{result['day']}: {len(result['started'])} started, {len(result['ended'])} ended, "
               f"{len(result['noticed'])} expiry notice(s)")
    for line in result["started"]:
        typer.echo(f"  started {line}")
    for line in result["ended"]:
        typer.echo(f"  ended {line}")


@run_app.command("standby-request")
def run_standby_request(
    customer: str = typer.Option(..., "--customer", help="Customer id."),
    reason: str = typer.Option(..., help="temporary_inactivity, awaiting_approval or third_party_integration."),
    start_on: Optional[str] = typer.Option(None, "--start-on", help="First standby day; default today."),
    end_on: Optional[str] = typer.Option(None, "--end-on", help="Day full service resumes; default start + 3 months."),
    requested_by: str = typer.Option("cli", "--requested-by", help="Who asked, for the audit trail."),
) -> None:
    """Request a standby for a customer (the `standby-request` deployment's form, from the shell)."""
    from policy.standby import REASONS

    if reason not in REASONS:
        fail(f"--reason must be one of {', '.join(REASONS)}", 2)
    _text_option("--requested-by", requested_by, 120)
    start, end = _parse_day(start_on, "--start-on"), _parse_day(end_on, "--end-on")
    _known_customer(customer)

    def call(**parameters):
        from flows.standby import request_standby

        return request_standby(**parameters)

    result = _run("standby-request/standby-request", {"customer_id": customer, "reason": reason, "start_on": start,
                                                      "end_on": end, "requested_by": requested_by}, call)
    if result is None:
        return
    state = "started" if result["started"] else "scheduled"
    typer.echo(f"standby {state} for {customer}: {result['start_on']} until {result['end_on']}")


class Approve(str, Enum):
    auto = "auto"
    ui = "ui"


@run_app.command("monthly-close")
def run_monthly_close(
    month: str = typer.Option(..., "--month", help="The month to close (YYYY-MM)."),
    approve: Approve = typer.Option(Approve.auto, "--approve",
                                    help="auto finalises at once; ui waits for finance to approve in the UI."),
    force: bool = FORCE,
    reason: Optional[str] = REASON,
) -> None:
    """Close a month: price interventions against the quota, draft and finalise one invoice per customer."""
    from policy.calendar import today_paris, unfinished_month_problem

    _check_month(month)
    force_reason = _force_reason(force, reason)
    problem = unfinished_month_problem(month, today_paris())
    if problem and not force:
        fail(f"{problem}: refused; close it once it has ended, or use --force --reason TEXT", 2)
    if approve is Approve.ui:
        _require_up_server("--approve ui")

    def call(**parameters):
        from flows.monthly_close import monthly_close

        return monthly_close(**parameters)

    result = _run("monthly-close/monthly-close", {"month": month, "approve": approve.value,
                                                  "force_reason": force_reason}, call)
    if result is None:
        return
    if result["status"] == "already_finalised":
        typer.echo(f"{month} was already closed: nothing changed ({result['invoices']} invoice(s))")
        return
    if result["invoices"]:
        typer.echo(f"{month} closed: {result['invoices']} invoice(s) issued on {result['issued_on']}, "
                   f"{result['total_ht']} EUR HT, {result['total_vat']} EUR VAT, {result['total_ttc']} EUR TTC")
    elif not result.get("credit_notes"):
        typer.echo(f"{month} closed: nothing to bill, no invoice issued")
    if result.get("credit_notes"):   # money owed to customers: credit notes, never invoices below zero
        typer.echo(f"{month} closed: {result['credit_notes']} credit note(s) issued on {result['issued_on']}, "
                   f"{result['credited_ttc']} EUR TTC given back (standby days of annual subscriptions)")
    if result.get("not_billed_again"):
        typer.echo(f"  {result['not_billed_again']}")


@run_app.command("arrears")
def run_arrears(
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Business day (YYYY-MM-DD); default today in Paris."),
    approve_deletion: bool = typer.Option(False, "--approve-deletion",
                                          help="Approve the deletions that are due; without it a deletion waits."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would happen; change nothing."),
    force: bool = FORCE,
    reason: Optional[str] = REASON,
) -> None:
    """The arrears sweep: penalties, access off at 1 and 2 months, deletion notice and deletion at 6."""
    day = _parse_day(as_of, "--as-of")
    force_reason = _force_reason(force, reason)
    _future_day(day, "--as-of", dry_run=dry_run, force=force)

    def call(**parameters):
        from flows.arrears import arrears_escalation

        return arrears_escalation(**parameters)

    result = _run("arrears-escalation/arrears-escalation", {"as_of": day, "approve_deletion": approve_deletion,
                                                            "dry_run": dry_run, "force_reason": force_reason}, call)
    if result is None:
        return
    heading = f"{result['day']}{' (dry run: nothing changed)' if result['dry_run'] else ''}"
    typer.echo(f"{heading}: {len(result['transitions'])} stage change(s), {len(result['penalties'])} penalty "
               f"invoice(s), {len(result['deletion_notices'])} deletion notice(s)")
    for change in result["transitions"]:
        typer.echo(f"  {change['customer_id']}: {change['from']} -> {change['to']} on {change['effective_on']} "
                   f"(oldest unpaid due {change['anchor']})")
    for penalty in result["penalties"]:
        typer.echo(f"  penalty {penalty['number'] or '(not issued)'} for {penalty['customer_id']}: "
                   f"{penalty['penalty']} + {penalty['indemnity']} EUR on invoice {penalty['invoice']}")
    for line in result["deletion_notices"]:
        typer.echo(f"  deletion notice: {line}")
    for line in result["deletions"]:
        typer.echo(f"  deletion: {line}")
    if result.get("superseded"):  # a catch-up for a day before a later sweep
        typer.echo(f"  {result['superseded']}")


@run_app.command("commitments")
def run_commitments(
    as_of: Optional[str] = typer.Option(None, "--as-of", help="The moment to look from, YYYY-MM-DDTHH:MM "
                                                              "(Europe/Paris); default now."),
) -> None:
    """The service commitments now: open tickets at risk or breached (ops alerted once each), and closed
    tickets' credentials deleted."""
    moment = None
    if as_of:
        try:
            moment = datetime.fromisoformat(as_of)
        except ValueError:
            fail(f"--as-of is not a moment (YYYY-MM-DDTHH:MM): {as_of!r}", 2)
        problem = _window().problem(moment)
        if problem:
            fail(f"--as-of {problem}", 2)

    def call(**parameters):
        from flows.commitments import commitments

        return commitments(**parameters)

    result = _run("commitments/commitments", {"as_of": moment}, call)
    if result is None:
        return
    typer.echo(f"{result['open']} open ticket(s): {result['breached']} breached, {result['at_risk']} at risk; "
               f"{result['alerts']} alert(s); credentials deleted for {len(result['purged'])} closed ticket(s)")
    from policy.vocabulary import in_words

    for row in result["tickets"]:
        if row["state"] in ("breached", "at_risk"):
            typer.echo(f"  {in_words(row['state']):9} {row['ticket']} {row['customer']}: {in_words(row['clock'])} "
                       f"due {row['next due (Paris)']}")


@run_app.command("cancel")
def run_cancel(
    customer: str = typer.Option(..., "--customer", help="Who cancels."),
    received_on: Optional[str] = typer.Option(None, "--received-on",
                                              help="The day the registered letter was received (YYYY-MM-DD)."),
    effective_on: Optional[str] = typer.Option(None, "--effective-on",
                                               help="Last day of service; default the earliest the terms allow."),
    withdraw: bool = typer.Option(False, "--withdraw", help="Withdraw the customer's cancellation instead."),
    requested_by: str = typer.Option("ops", "--requested-by", help="Who records it (audit)."),
    force: bool = typer.Option(False, "--force", help="Record a letter received more than a year ago anyway."),
    reason: Optional[str] = REASON,
) -> None:
    """Record a cancellation letter (acknowledged with the effective date and the balance), or withdraw one."""
    force_reason = _force_reason(force, reason)
    if withdraw and (received_on or effective_on):
        fail("--withdraw takes no --received-on or --effective-on", 2)
    if not withdraw and not received_on:
        fail("--received-on: the day the registered letter was received (or --withdraw)", 2)
    _text_option("--requested-by", requested_by, 120)
    received = _parse_day(received_on, "--received-on") if received_on else None
    effective = _parse_day(effective_on, "--effective-on") if effective_on else None
    from policy.calendar import today_paris

    if received and received > today_paris():
        fail(f"--received-on {received} is after today: a letter is recorded once it is received", 2)
    _known_customer(customer)

    def call(**parameters):
        from flows.cancellation import cancellation_request

        return cancellation_request(**parameters)

    result = _run("cancellation-request/cancellation-request",
                  {"customer_id": customer, "received_on": received, "effective_on": effective,
                   "withdraw_it": withdraw, "requested_by": requested_by, "force_reason": force_reason}, call)
    if result is None:
        return
    typer.echo(f"{customer}: cancellation {result['sentence']}"
               + (f"; balance today {result['balance']} EUR (sent to the customer)" if result["balance"] else ""))
    for waiting in result["pending"]:
        typer.echo(f"  pending: {waiting}")


@run_app.command("cancellations")
def run_cancellations(
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Business day (YYYY-MM-DD); default today in Paris."),
    force: bool = FORCE,
    reason: Optional[str] = REASON,
) -> None:
    """The morning's cancellations: services whose last day is over end; final balances go out."""
    day = _parse_day(as_of, "--as-of")
    force_reason = _force_reason(force, reason)
    _future_day(day, "--as-of", force=force)

    def call(**parameters):
        from flows.cancellation import cancellations

        return cancellations(**parameters)

    result = _run("cancellations/cancellations", {"as_of": day, "force_reason": force_reason}, call)
    if result is None:
        return
    typer.echo(f"{result['day']}: {len(result['steps'])} step(s)")
    for step in result["steps"]:
        typer.echo(f"  {step['customer']}: {step['detail']}" + (f"; final backup {step['final backup']}"
                                                                 if step["final backup"] else ""))


def _out_target(out: Path, force: bool, month: str) -> Path:
    """Where --out puts the workbook: a path ending in / or without .xlsx is a folder (made when missing);
    an existing file is never overwritten without --force. Checked before the export runs (a run of
    minutes that ends refusing its own copy helps nobody): the folder must be writable, and must not hold
    a workbook of that month under a name the export could give it."""
    if str(out).endswith(("/", "\\")) or out.suffix.lower() != ".xlsx" or out.is_dir():
        if out.exists() and not out.is_dir():
            fail(f"--out {out}: a file, not a folder (give a folder, or a path ending in .xlsx)", 2)
        _writable(out)
        if not force:
            present = [name for name in _export_names(month) if (out / name).exists()]
            if present:
                fail(f"--out {out}: {present[0]} is already there, and this export may be written under that "
                     f"name; add --force to overwrite it, or give another folder", 2)
        return out
    if out.exists() and not force:
        fail(f"--out {out}: the file exists; add --force to overwrite it", 2)
    _writable(out.parent)
    return out


def _writable(folder: Path) -> None:
    """The folder exists (made when missing) and a file can be written in it: one line, exit 2, if not."""
    import os
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".lifecycle-probe-"):
            pass
    except OSError as error:
        fail(f"--out {folder}: cannot write there ({error.strerror or error})", 2)
    if not os.access(folder, os.W_OK):
        fail(f"--out {folder}: cannot write there (permission denied)", 2)


def _export_names(month: str) -> list[str]:
    """The file names an export of `month` can have: each version stored so far (the ledger unchanged since)
    and the next one."""
    from sqlalchemy import func, select

    from ledger import keys
    from ledger.db import session_scope
    from ledger.models import Export

    # not tasks.export: importing Prefect here, before the run picks its server, would make it a temporary one
    with session_scope(_ledger()) as session:
        latest = session.scalar(select(func.max(Export.version)).where(Export.month == month)) or 0
    return [keys.workbook_file(month, version) for version in range(1, latest + 2)]


@run_app.command("export")
def run_export(
    month: str = typer.Option(..., "--month", help="The month (YYYY-MM)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Also copy the workbook to this file or folder (made "
                                       "when missing; a path without .xlsx is a folder)."),
    force: bool = typer.Option(False, "--force", help="Overwrite the file --out names."),
) -> None:
    """Write finance's billable-interventions workbook for a month; prints where it is."""
    _check_month(month)
    out = _out_target(out, force, month) if out is not None else None

    def call(**parameters):
        from flows.exports import billable_export

        return billable_export(**parameters)

    result = _run("billable-export/billable-export", {"month": month}, call)
    if result is None:
        return
    typer.echo(f"{result['key']} in {result['storage']}" + (
        "" if result["new"] else " (unchanged: no new version; its file was missing from storage and was written again)"
        if result.get("rewritten") else " (unchanged: no new version)"))
    typer.echo(f"download: {result['link']}")
    if out is not None:
        from blocks.storage import ObjectStorage

        target = out / result["key"].rsplit("/", 1)[-1] if out.is_dir() else out
        if target.exists() and not force and target != out:
            fail(f"{target}: the file exists; add --force to overwrite it (the workbook is in storage: "
                 f"{result['key']})", 2)
        with ObjectStorage(url=result["storage"]).store().open(result["key"]) as source:
            target.write_bytes(source.read())
        typer.echo(str(target.resolve()))


@run_app.command("backup")
def run_backup(
    customer: Optional[str] = typer.Option(None, "--customer", help="Only this customer."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Backup day (YYYY-MM-DD); one backup per customer a day."),
    force: bool = FORCE,
    reason: Optional[str] = REASON,
) -> None:
    """Back up every customer's platform data (or one), apply retention, snapshot the ledger."""
    day = _parse_day(as_of, "--as-of")
    force_reason = _force_reason(force, reason)
    _future_day(day, "--as-of", force=force)
    if customer:
        _known_customer(customer, data_kept=True)

    def call(**parameters):
        from flows.backup import nightly_backup

        return nightly_backup(**parameters)

    result = _run("nightly-backup/nightly-backup", {"as_of": day, "customer_id": customer,
                                                    "force_reason": force_reason}, call)
    if result is None:
        return
    backups = result["backups"]
    typer.echo(f"{result['day']}: {sum(1 for b in backups if b['status'] == 'good')} backed up, "
               f"{sum(1 for b in backups if b['status'] == 'skipped')} already done today")
    if result["ledger_snapshot"]:
        typer.echo(f"  ledger snapshot {result['ledger_snapshot']}")


@run_app.command("verify-backups")
def run_verify_backups(sample: int = typer.Option(5, "--sample", help="How many customers' latest backups.")) -> None:
    """The restore drill: restore a sample into the sandbox and compare with the manifests."""

    def call(**parameters):
        from flows.backup import verify_backups

        return verify_backups(**parameters)

    result = _run("verify-backups/verify-backups", {"sample": sample}, call)
    for line in (result or {}).get("verified", []):
        typer.echo(f"  {line['backup']}: {line['detail']}")


@run_app.command("send-invoices")
def run_send_invoices(
    month: str = typer.Option(..., "--month", help="The month billed (YYYY-MM)."),
    customer: Optional[str] = typer.Option(None, "--customer", help="Only this customer's invoices."),
    new_only: bool = typer.Option(False, "--new-only", help="Only documents never sent yet (credit notes imported)."),
) -> None:
    """Mail a month's invoices again, each with its stored Factur-X PDF (never rendered again)."""
    _check_month(month)
    if customer:
        _known_customer(customer)

    def call(**parameters):
        from flows.invoices import send_invoices

        return send_invoices(**parameters)

    result = _run("send-invoices/send-invoices", {"month": month, "customer_id": customer, "new_only": new_only}, call)
    if result is None:
        return
    typer.echo(f"{month}: {len(result['sent'])} invoice(s) sent{'' if new_only else ' again'}: "
               f"{', '.join(result['sent']) or 'none'}")
    if result.get("waiting"):  # queued, not taken by the mail server: the next run tries again
        typer.echo(f"{month}: {len(result['waiting'])} invoice(s) not sent yet, pending: {', '.join(result['waiting'])}")
    for waiting in result["pending"]:
        typer.echo(f"  pending: {waiting}")


@run_app.command("credit-note")
def run_credit_note(
    invoice: str = typer.Option(..., "--invoice", help="The number of the invoice to credit (or an imported id)."),
    amount: Optional[str] = typer.Option(None, "--amount", help="EUR TTC to credit, e.g. 120.00."),
    lines: Optional[str] = typer.Option(None, "--lines", help="Lines to credit whole, by position: 1,3."),
    reason: str = typer.Option(..., "--reason", help="Why (printed on the credit note)."),
    requested_by: str = typer.Option(..., "--requested-by", help="Who asks (audit)."),
    again: bool = typer.Option(False, "--again", help="Issue it although a note of this amount and reason exists."),
) -> None:
    """Credit an issued invoice (partly or wholly): a numbered credit note, mailed with its Factur-X PDF."""
    if (amount is None) == (lines is None):
        fail("say what to credit: either --amount EUR_TTC or --lines N[,N...]", 2)
    _text_option("--reason", reason, 500)  # as the credit-notes file's `reason`
    _text_option("--requested-by", requested_by, 120)
    positions = None
    if lines is not None:
        try:
            positions = [int(part) for part in lines.split(",")]
        except ValueError:
            fail(f"--lines {lines!r}: line positions separated by commas, like 1,3", 2)
    if not reason.strip():
        fail("--reason: a credit note says why it is issued", 2)

    def call(**parameters):
        from flows.corrections import issue_credit_note

        return issue_credit_note(**parameters)

    result = _run("credit-note/credit-note", {"invoice": invoice, "reason": reason, "requested_by": requested_by,
                                              "amount_ttc": amount, "lines": positions, "again": again}, call)
    if result is None:
        return
    if not result["created"]:
        typer.echo(f"credit note {result['number']} was issued already by this run; nothing changed")
        return
    typer.echo(f"credit note {result['number']} on {result['credits']} ({result['customer_id']}): "
               f"{result['total_ttc']} EUR TTC; invoice balance now {result['balance']} EUR"
               + (f"; {result['to_credit']} EUR to the customer's credit" if result["to_credit"] != "0.00" else ""))
    for waiting in result["pending"]:
        typer.echo(f"  pending: {waiting}")


@run_app.command("refund")
def run_refund(
    customer: str = typer.Option(..., "--customer", help="Whose credit is paid back."),
    amount: str = typer.Option(..., "--amount", help="EUR paid back, e.g. 150.00."),
    reference: str = typer.Option(..., "--reference", help="The bank transfer's reference (also the refund's id)."),
) -> None:
    """Record a refund of a customer's credit (an overpayment, a credit note beyond its invoice's balance)."""
    _known_customer(customer)

    def call(**parameters):
        from flows.corrections import refund

        return refund(**parameters)

    result = _run("refund/refund", {"customer_id": customer, "amount": amount, "reference": reference}, call)
    if result is None:
        return
    if not result["created"]:
        typer.echo(f"refund {result['refund_id']} was recorded already; credit left {result['credit_left']} EUR")
        return
    typer.echo(f"refund {result['refund_id']} to {result['customer_id']}: {result['amount']} EUR; "
               f"credit left {result['credit_left']} EUR")


class Target(str, Enum):
    sandbox = "sandbox"
    in_place = "in_place"


@run_app.command("restore")
def run_restore(
    customer: str = typer.Option(..., "--customer", help="Whose data."),
    backup: Optional[str] = typer.Option(None, "--backup", help="Backup id; default the latest good one."),
    target: Target = typer.Option(Target.sandbox, "--target", help="sandbox (default) or in_place."),
    requested_by: str = typer.Option(..., "--requested-by", help="Who asked (billed intervention, audit)."),
    ticket: str = typer.Option(..., "--ticket", help="Support ticket reference."),
    map_columns: Optional[str] = typer.Option(
        None, "--map-columns", help="in_place only: columns renamed on the platform since the backup, "
                                    "table.old=new[,...] (audited); without it any schema change refuses."),
) -> None:
    """Restore a customer's backup; billed as a data_recovery intervention at the next close."""
    from policy.ids import id_problem

    problem = id_problem(ticket)  # the intervention's ticket, as the interventions import's `ticket` column
    if problem:
        fail(f"--ticket {ticket!r}: {problem}", 2)
    _text_option("--requested-by", requested_by, 120)  # the intervention's engineer, as that import's `engineer`
    _known_customer(customer, data_kept=True)
    if backup:
        _known_backup(customer, backup)

    def call(**parameters):
        from flows.restore import restore_backup

        return restore_backup(**parameters)

    result = _run("restore-backup/restore-backup", {"customer_id": customer, "requested_by": requested_by,
                                                    "ticket": ticket, "backup_id": backup,
                                                    "target": target.value, "map_columns": map_columns}, call)
    if result is None:
        return
    from policy.vocabulary import restored_where

    for gone in result.get("gone") or []:
        typer.echo(f"backup {gone} is gone from storage (now marked gone): restored the next good backup instead")
    typer.echo(f"restored {result['backup_id']} {restored_where(result['target'])}: "
               + ", ".join(f"{name} {count}" for name, count in result["rows"].items()))
    typer.echo(f"billed as intervention {result['intervention_id']} ({result['minutes']} min + recovery fee)")


def _text_option(option: str, value: str, max_length: int) -> None:
    """A name or a reason given to a command follows an import's text cell: not empty, at most `max_length`
    characters (the ledger's column), no control or invisible character; it may begin like a formula (it
    stays text wherever it is shown)."""
    from policy.text import text_problem

    problem = text_problem(value, max_length)
    if problem:
        fail(f"{option} {problem}", 2)


def _known_backup(customer_id: str, backup_id: str) -> None:
    from ledger.db import session_scope
    from ledger.models import Backup
    from policy.vocabulary import BackupStatus

    with session_scope(_ledger()) as session:
        backup = session.get(Backup, backup_id)
        found = (backup.customer_id, backup.status) if backup is not None else None
    if found is None or found[0] != customer_id:
        fail(f"no backup {backup_id!r} of customer {customer_id!r} (lifecycle show backups lists them)", 2)
    if found[1] == BackupStatus.GONE:
        fail(f"backup {backup_id} is gone from storage (its objects were deleted): choose another (or none, for the "
             f"latest good one)", 2)
    if found[1] != BackupStatus.GOOD:
        fail(f"backup {backup_id} is {found[1]}, not a good backup: choose another (or none, for the latest good one)", 2)


def _require_up_server(what: str) -> None:
    """Approvals are given in the UI of the server `lifecycle up` runs: without it nobody could answer."""
    import os

    from lifecycle.server import running_server

    if not (os.environ.get("PREFECT_API_URL") or running_server()):
        fail(f"{what} needs the Prefect server of `lifecycle up` (the approval is given in its UI); "
             f"start it first, or use --approve auto")


#: what a user's mistake raises when it reaches here (a path, an id, a busy customer, a database URL)
USER_ERRORS = {"BadId", "CustomerBusy", "UnreadableFile", "StorageError", "Refusal", "DateRefused", "OperationalError",
               "ArgumentError", "NoSuchModuleError", "FileNotFoundError", "IsADirectoryError", "NotADirectoryError",
               "PermissionError", "FileExistsError", "MalformedToday"}


def _users_mistake(error: BaseException) -> bool:
    return any(kind.__name__ in USER_ERRORS for kind in type(error).__mro__)


def _argument_problem(arguments: list[str]) -> Optional[str]:
    """Why an argument is refused before any command runs: bytes that are not UTF-8 (Python hands them over
    as lone surrogates, which no ledger, mail or file could hold), a control character or a line break in a
    text the ledger would keep (a --reason, a --requested-by, a --reference), print or mail. Every command,
    every argument: the option is named, the command never starts."""
    from policy.text import control_problem

    for position, argument in enumerate(arguments):
        option, equals, value = argument.partition("=")
        joined = argument.startswith("--") and equals  # --option=value: the value's characters are counted
        problem = _not_utf8(value if joined else argument) or control_problem(value if joined else argument)
        if problem:
            if not joined:
                previous = arguments[position - 1] if position else ""
                option = previous if previous.startswith("-") else f"argument {position + 1}"
            # an option's name is shown as typed, its stray bytes as \xNN
            option = option.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            return f"{option}: {problem}"
    return None


def _not_utf8(argument: str) -> Optional[str]:
    """Why an argument's bytes are refused: some are not UTF-8 (the terminal's or the script's encoding is
    another), named by position and value."""
    for position, char in enumerate(argument, start=1):
        if 0xD800 <= ord(char) <= 0xDFFF:
            shown = f"byte \\x{ord(char) - 0xDC00:02x}" if 0xDC80 <= ord(char) <= 0xDCFF else f"U+{ord(char):04X}"
            return f"is not valid UTF-8 (the {shown} at character {position}): type the text in UTF-8"
    return None


def main() -> None:
    """Every known mistake is one line and exit 2; a condition of the world (a store or server that cannot be
    reached, a full disk, a refused permission) one line and exit 1; only a bug prints a traceback, and says
    it is one."""
    from lifecycle_config.conditions import Unavailable, is_world_condition, one_line

    problem = _argument_problem(sys.argv[1:])
    if problem:
        typer.echo(f"lifecycle: {problem}", err=True)
        sys.exit(2)
    try:
        from lifecycle_config import clock

        clock.check()  # a malformed LIFECYCLE_TODAY stops every command before it starts
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:  # noqa: BLE001 - the last word: a user's mistake, the world, or a bug
        if isinstance(error, Unavailable) or (is_world_condition(error) and not _users_mistake(error)):
            typer.echo(f"lifecycle: {one_line(error)}", err=True)
            sys.exit(1)
        if _users_mistake(error):
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            typer.echo(f"lifecycle: {first}", err=True)
            sys.exit(2)
        import traceback

        traceback.print_exc()
        typer.echo(f"lifecycle: this is a bug, not something you did wrong ({type(error).__name__}); please report "
                   f"it with the traceback above", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
