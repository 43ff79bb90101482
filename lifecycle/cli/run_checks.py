"""The checks a `lifecycle run` command makes before any run starts: a customer or a backup the ledger
knows, a day not ahead without --force, a text an import would take, a place to copy a workbook to. Each
refusal is one line and exit 2."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Optional

from lifecycle.cli.common import fail, ledger, not_a_file_problem
from policy.text import quoted


def known_customer(customer_id: str, *, data_kept: bool = False) -> None:
    """A command about a customer starts only for a customer the ledger knows (and, for work on its data,
    whose data was not deleted): a typo is one line, exit 2, before any run starts."""
    from ledger.db import session_scope
    from ledger.models import Customer
    from policy.arrears import Stage

    with session_scope(ledger()) as session:
        customer = session.get(Customer, customer_id)
        stage = customer.stage if customer is not None else None
    if customer is None:
        fail(f"unknown customer {quoted(customer_id)} (lifecycle show customers lists them)", 2)
    if data_kept and stage == Stage.DATA_DELETED:
        fail(f"customer {customer_id}'s data was deleted after arrears: there is nothing to work on", 2)


def future_day(day: Optional[date], what: str, *, dry_run: Optional[bool] = None, force: bool = False) -> None:
    """A business day after today is refused before anything starts, unless it is a dry run or forced
    (`dry_run` is None for the commands that have none)."""
    from policy.calendar import future_day_problem, today_paris

    problem = future_day_problem(day, today_paris(), what) if day else None
    if problem and not dry_run and not force:
        hint = "use --dry-run to see what it would do, or --force --reason TEXT" if dry_run is not None \
            else "use --force --reason TEXT to run it anyway"
        fail(f"{problem}: refused (a typo?); {hint}", 2)


def force_reason(force: bool, reason: Optional[str]) -> Optional[str]:
    if force and not (reason or "").strip():
        fail("--force needs --reason TEXT: the audit log keeps why", 2)
    if reason and not force:
        fail("--reason goes with --force", 2)
    return reason.strip() if force else None



def text_option(option: str, value: str, max_length: int, *, printed: bool = False) -> None:
    """A name or a reason given to a command follows an import's text cell: not empty, at most `max_length`
    characters (the ledger's column), no control or invisible character; it may begin like a formula (it
    stays text wherever it is shown); `printed` (a document prints it): only what the documents' font draws."""
    from policy.text import text_problem

    problem = text_problem(value, max_length, printed=printed)
    if problem:
        fail(f"{option} {problem}", 2)


def id_option(option: str, value: str) -> None:
    """An id given to a command follows the id grammar, as an import's id column: one line, exit 2, before
    any run starts (never a refusal from the worker after the run was dispatched)."""
    from policy.ids import id_problem

    problem = id_problem(value)
    if problem:
        fail(f"{option} {quoted(value)}: {problem}", 2)


def money_option(option: str, value: str) -> None:
    """An amount in EUR as a file's money column takes it (`120.00`, `120,00`, at most 2 decimal places),
    more than zero (a credit note or a refund moves money one way): checked before any run starts; the run
    reads it again with the same rule."""
    from policy.money import parse_amount

    try:
        amount = parse_amount(value)
    except ValueError as error:
        fail(f"{option}: {error}", 2)  # the error quotes the value
    if amount <= 0:
        fail(f"{option} {quoted(value)}: must be greater than zero", 2)


def known_backup(customer_id: str, backup_id: str) -> None:
    from ledger.db import session_scope
    from ledger.models import Backup
    from policy.vocabulary import BackupStatus

    with session_scope(ledger()) as session:
        backup = session.get(Backup, backup_id)
        found = (backup.customer_id, backup.status) if backup is not None else None
    if found is None or found[0] != customer_id:
        fail(f"no backup {quoted(backup_id)} of customer {quoted(customer_id)} (lifecycle show backups lists them)", 2)
    if found[1] == BackupStatus.GONE:
        fail(f"backup {backup_id} is gone from storage (its objects were deleted): choose another (or none, for the "
             f"latest good one)", 2)
    if found[1] != BackupStatus.GOOD:
        fail(f"backup {backup_id} is {found[1]}, not a good backup: choose another (or none, for the latest good one)", 2)



def out_target(out: Path, force: bool, month: str) -> Path:
    """Where --out puts the workbook: a path ending in / or without .xlsx is a folder (made when missing);
    an existing file is never overwritten without --force. Checked before the export runs (a run of
    minutes that ends refusing its own copy helps nobody): the folder must be writable, and must not hold
    a workbook of that month under a name the export could give it. A path the filesystem cannot even
    look at (a name longer than it takes, a NUL) is said in one line, as the imports say it. Never inside the
    storage's folder: a stored object (another version's workbook) would be overwritten."""
    from lifecycle.cli.storage import inside_storage_problem, installation_storage

    try:
        inside = inside_storage_problem(out, installation_storage())  # before any folder is made there
        if inside:
            fail(f"--out {shown(out)} {inside}", 2)
        return _out_target(out, force, month)
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        fail(f"--out {shown(out)}: cannot be used ({reason})", 2)


def shown(path: Path) -> str:
    """A path given as --out, as a refusal gives it back: whole when short, cut after 40 characters and quoted
    when long (policy.text.quoted): a path of 3,000 characters was given back whole."""
    from policy.text import SHOWN_CHARACTERS

    text = str(path)
    return text if len(text) <= SHOWN_CHARACTERS else quoted(text)


def _out_target(out: Path, force: bool, month: str) -> Path:
    if str(out).endswith(("/", "\\")) or out.suffix.lower() != ".xlsx" or out.is_dir():
        if out.exists() and not out.is_dir():
            what = ("a file, not a folder" if out.is_file()
                    else "not a regular file nor a folder (a FIFO, a socket or a device)")
            fail(f"--out {shown(out)}: {what} (give a folder, or a path ending in .xlsx)", 2)
        writable(out)
        for name in export_names(month):  # a link or a FIFO under a name the export may take: never written
            problem = not_a_file_problem(out / name)
            if problem:
                fail(f"--out {shown(out)}: {name} {problem}", 2)
        if not force:
            present = [name for name in export_names(month) if (out / name).exists()]
            if present:
                fail(f"--out {shown(out)}: {present[0]} is already there, and this export may be written under that "
                     f"name; add --force to overwrite it, or give another folder", 2)
        return out
    problem = not_a_file_problem(out)  # even with --force: a link would overwrite its target, a FIFO hang
    if problem:
        fail(f"--out {shown(out)} {problem}", 2)
    if out.exists() and not force:
        fail(f"--out {shown(out)}: the file exists; add --force to overwrite it", 2)
    writable(out.parent)
    return out


def writable(folder: Path) -> None:
    """The folder exists (made when missing) and a file can be written in it: one line, exit 2, if not."""
    import os
    import tempfile

    from lifecycle_config import escaped, file_in_the_way

    under = file_in_the_way(folder / "x")  # the folder itself, or one above it
    if under is not None:  # it said "cannot write there (Not a directory)"
        fail(f"--out {shown(folder)}: cannot be made: {escaped(str(under))} is a file, not a folder", 2)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".lifecycle-probe-"):
            pass
    except OSError as error:
        fail(f"--out {shown(folder)}: cannot write there ({error.strerror or error})", 2)
    if not os.access(folder, os.W_OK):
        fail(f"--out {shown(folder)}: cannot write there (permission denied)", 2)


def export_names(month: str) -> list[str]:
    """The file names an export of `month` can have: each version stored so far (the ledger unchanged since)
    and the next one."""
    from sqlalchemy import func, select

    from ledger import keys
    from ledger.db import session_scope
    from ledger.models import Export

    # the versions alone: operations.export would load the workbook writer, which a check before the run never needs
    with session_scope(ledger()) as session:
        latest = session.scalar(select(func.max(Export.version)).where(Export.month == month)) or 0
    return [keys.workbook_file(month, version) for version in range(1, latest + 2)]

