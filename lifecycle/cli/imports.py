"""`lifecycle import KIND FILE`: a .csv or .xlsx file into the ledger, all or nothing. No Prefect, but for
the credit notes a file brings, which are sent as `lifecycle run send-invoices --new-only` sends them."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from lifecycle.cli.common import fail, ledger, ledger_terms


class ImportKind(str, Enum):
    customers = "customers"
    invoices = "invoices"
    payments = "payments"
    interventions = "interventions"
    standby = "standby"
    credit_notes = "credit-notes"
    refunds = "refunds"
    tickets = "tickets"
    ticket_events = "ticket-events"


def import_(kind: ImportKind, file: Path) -> None:
    """Import a .csv or .xlsx file; a bad file is rejected whole with every error, and nothing is written."""
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ledger.imports import ImportRejected, import_file
    from ledger.readers import UnreadableFile

    engine = ledger()
    if kind == ImportKind.credit_notes:  # its notes are sent by a run: the server it would use is checked first
        from lifecycle.cli.serve import refuse_server_before_writing

        refuse_server_before_writing()
    progress = Progress(TextColumn("checking {task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeRemainingColumn(), transient=True, console=_stderr_console())
    task_id = None

    def on_total(total: int) -> None:
        nonlocal task_id
        if total >= 2000 and progress.console.is_interactive:  # a bar is for a person at a terminal
            progress.start()
            task_id = progress.add_task(escape(file.name), total=total)  # a name is text, never markup

    def stop() -> None:
        # only a bar that was shown: rich's stop() prints an empty line on a console that is not a terminal
        # (a refusal's stderr, read by a script or a log, began with it)
        if task_id is not None:
            progress.stop()

    def advance(count: int) -> None:
        if task_id is not None:
            progress.advance(task_id, count)

    try:
        from ledger.sealing import sealer  # the installation's key file: no Prefect, never the user's profile

        result = import_file(kind.value, file, engine=engine, terms=ledger_terms(engine), progress=advance,
                             on_total=on_total, sealer=sealer(engine) if kind == ImportKind.tickets else None)
    except ImportRejected as rejected:
        stop()
        for line in rejected.errors:
            typer.echo(line, err=True)
        fail(f"{file.name} rejected: {rejected.total:,} error(s); nothing was written", 2)
    except UnreadableFile as error:
        stop()
        fail(str(error), 2)
    stop()
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
    from lifecycle.cli.run import RUN_COMMANDS, run_flow
    from policy.vocabulary import InvoiceKind

    with session_scope(engine) as session:
        months = sorted(set(session.scalars(select(Invoice.month).where(Invoice.kind == InvoiceKind.CREDIT_NOTE,
                                                                        Invoice.document_key.is_(None)))))
    command = RUN_COMMANDS["send-invoices"]
    for month in months:
        try:
            summary = run_flow(command, {"month": month, "customer_id": None, "new_only": True})
        except typer.Exit:  # the run's one line is said: what the ledger now holds, and how to finish, too
            typer.echo(f"lifecycle: the credit notes of {month} are recorded but not sent yet; "
                       f"`lifecycle run send-invoices --month {month} --new-only` sends them", err=True)
            raise
        if summary:
            result = command.result_type().from_summary(summary)
            typer.echo(f"  {month}: credit note document(s) sent: {', '.join(result.sent) or 'none'}"
                       + (f"; not sent yet: {', '.join(result.waiting)}" if result.waiting else "")
                       + (f"; pending: {', '.join(result.pending)}" if result.pending else ""))


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)
