"""What each `lifecycle run` command asks: its options (the signature is the command's, its docstring the
help), checked before any run starts, and turned into the parameters of its flow.

Each function here is one row's `ask` in lifecycle.cli.run.RUNS: it returns the flow's parameters, or ends
the command with one line and exit 2 when an option is refused. It starts nothing itself."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from lifecycle.cli.common import check_month, fail, ledger, parse_day, whole_number, window
from lifecycle.cli.run_checks import (force_reason as checked_reason, future_day, id_option, known_backup,
                                      known_customer, money_option, out_target, text_option)
from lifecycle.cli.serve import require_up_server
from policy.text import quoted

FORCE = typer.Option(False, "--force", help="Run for a day after today (or a month not ended) anyway.")
REASON = typer.Option(None, "--reason", help="Why --force: kept in the audit log.")
AS_OF = typer.Option(None, "--as-of", help="Business day (YYYY-MM-DD); default today in Paris.")


def standby_expiry(
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Business day (YYYY-MM-DD)."),
    force: bool = FORCE,
    reason: Optional[str] = REASON,
) -> dict:
    """The daily standby sweep: start due periods, warn before the end, end the finished ones."""
    return _sweep_day(as_of, force, reason)


def standby_request(
    customer: str = typer.Option(..., "--customer", help="Customer id."),
    reason: str = typer.Option(..., help="temporary_inactivity, awaiting_approval or third_party_integration."),
    start_on: Optional[str] = typer.Option(None, "--start-on", help="First standby day; default today."),
    end_on: Optional[str] = typer.Option(None, "--end-on", help="Day full service resumes; default start + 3 months."),
    requested_by: str = typer.Option("cli", "--requested-by", help="Who asked, for the audit trail."),
) -> dict:
    """Request a standby for a customer (the `standby-request` deployment's form, from the shell)."""
    from policy.standby import REASONS

    if reason not in REASONS:
        fail(f"--reason must be one of {', '.join(REASONS)}", 2)
    text_option("--requested-by", requested_by, 120)
    start, end = parse_day(start_on, "--start-on"), parse_day(end_on, "--end-on")
    known_customer(customer)
    return {"customer_id": customer, "reason": reason, "start_on": start, "end_on": end, "requested_by": requested_by}


class Approve(str, Enum):
    auto = "auto"
    ui = "ui"


def monthly_close(
    month: str = typer.Option(..., "--month", help="The month to close (YYYY-MM)."),
    approve: Approve = typer.Option(Approve.auto, "--approve",
                                    help="auto finalises at once; ui waits for finance to approve in the UI."),
    force: bool = typer.Option(False, "--force", help="Close a month not ended, or one before a month already "
                                                      "closed, anyway."),
    reason: Optional[str] = REASON,
) -> dict:
    """Close a month: price interventions against the quota, draft and finalise one invoice per customer."""
    from operations.close import later_closed_month
    from policy.calendar import closed_after_problem, today_paris, unfinished_month_problem

    check_month(month)
    force_reason = checked_reason(force, reason)
    problem = unfinished_month_problem(month, today_paris())
    if problem and not force:
        fail(f"{problem}: refused; close it once it has ended, or use --force --reason TEXT", 2)
    earlier = closed_after_problem(month, later_closed_month(month, ledger()))
    if earlier and not force:
        fail(f"{earlier}: refused (a typo?); to bill its work now anyway use --force --reason TEXT", 2)
    if approve is Approve.ui:
        require_up_server("--approve ui")
    return {"month": month, "approve": approve.value, "force_reason": force_reason}


def arrears(
    as_of: Optional[str] = AS_OF,
    approve_deletion: bool = typer.Option(False, "--approve-deletion",
                                          help="Approve the deletions that are due; without it a deletion waits."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would happen; change nothing."),
    force: bool = FORCE,
    reason: Optional[str] = REASON,
) -> dict:
    """The arrears sweep: penalties, access off at 1 and 2 months, deletion notice and deletion at 6."""
    return {**_sweep_day(as_of, force, reason, dry_run=dry_run), "approve_deletion": approve_deletion,
            "dry_run": dry_run}


def commitments(
    as_of: Optional[str] = typer.Option(None, "--as-of", help="The moment to look from, YYYY-MM-DDTHH:MM "
                                                              "(Europe/Paris); default now."),
) -> dict:
    """The service commitments now: open tickets at risk or breached; ops warned before each due time and
    alerted at a breach (once each, held until the opening outside service hours but for a blocking bug);
    closed tickets' credentials deleted."""
    moment = None
    if as_of:
        from datetime import datetime

        from policy.calendar import NonexistentLocalTime, YearZero, parse_paris_minute

        try:
            moment = parse_paris_minute(as_of)
        except NonexistentLocalTime as error:  # as an import says it
            fail(f"--as-of {error}", 2)
        except YearZero:  # 0000-01-01T10:00: before the window, said as 0001-01-01T10:00 is
            fail(f"--as-of {window().problem(datetime.min, shown=as_of)}", 2)
        except ValueError as error:
            fail(f"--as-of is {error}", 2)
        problem = window().problem(moment)
        if problem:
            fail(f"--as-of {problem}", 2)
    return {"as_of": moment}


def einvoicing(
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Business day (YYYY-MM-DD); default today in Paris."),
    redeposit: Optional[str] = typer.Option(None, "--redeposit", help="The number of a rejected document (213, 221, "
                                            "501) to deposit again, rendered from the corrected customer data."),
) -> dict:
    """The e-invoicing run: deposit the documents of French business customers not deposited yet on the approved
    platform, read their statuses and act on them, send the 212 Encaissée statuses owed."""
    day = parse_day(as_of, "--as-of")
    if redeposit is not None:
        id_option("--redeposit", redeposit)
    return {"as_of": day, "redeposit": redeposit}


def cancel(
    customer: str = typer.Option(..., "--customer", help="Who cancels."),
    received_on: Optional[str] = typer.Option(None, "--received-on",
                                              help="The day the registered letter was received (YYYY-MM-DD)."),
    effective_on: Optional[str] = typer.Option(None, "--effective-on",
                                               help="Last day of service; default the earliest the terms allow."),
    withdraw: bool = typer.Option(False, "--withdraw", help="Withdraw the customer's cancellation instead."),
    requested_by: str = typer.Option("ops", "--requested-by", help="Who records it (audit)."),
    force: bool = typer.Option(False, "--force", help="Record a letter received more than a year ago anyway."),
    reason: Optional[str] = REASON,
) -> dict:
    """Record a cancellation letter (acknowledged with the effective date and the balance), or withdraw one."""
    from policy.calendar import today_paris

    force_reason = checked_reason(force, reason)
    if withdraw and (received_on or effective_on):
        fail("--withdraw takes no --received-on or --effective-on", 2)
    if not withdraw and not received_on:
        fail("--received-on: the day the registered letter was received (or --withdraw)", 2)
    text_option("--requested-by", requested_by, 120)
    received = parse_day(received_on, "--received-on") if received_on else None
    effective = parse_day(effective_on, "--effective-on") if effective_on else None
    if received and received > today_paris():
        fail(f"--received-on {received} is after today: a letter is recorded once it is received", 2)
    known_customer(customer)
    return {"customer_id": customer, "received_on": received, "effective_on": effective, "withdraw_it": withdraw,
            "requested_by": requested_by, "force_reason": force_reason}


def cancellations(
    as_of: Optional[str] = AS_OF,
    force: bool = FORCE,
    reason: Optional[str] = REASON,
) -> dict:
    """The morning's cancellations: services whose last day is over end; final balances go out."""
    return _sweep_day(as_of, force, reason)


def export(
    month: str = typer.Option(..., "--month", help="The month (YYYY-MM)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Also copy the workbook to this file or folder (made "
                                       "when missing; a path without .xlsx is a folder)."),
    force: bool = typer.Option(False, "--force", help="Overwrite the file --out names."),
) -> dict:
    """Write finance's billable-interventions workbook for a month; prints where it is."""
    from policy.calendar import today_paris, unbegun_month_problem

    check_month(month)
    problem = unbegun_month_problem(month, today_paris())
    if problem:
        fail(f"{problem}: nothing to export", 2)
    if out is not None:
        out_target(out, force, month)
    return {"month": month}


def backup(
    customer: Optional[str] = typer.Option(None, "--customer", help="Only this customer."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Backup day (YYYY-MM-DD); one backup per customer a day."),
    force: bool = FORCE,
    reason: Optional[str] = REASON,
) -> dict:
    """Back up every customer's platform data (or one), apply retention, snapshot the ledger."""
    from policy.calendar import taken_day_problem, today_paris

    day = parse_day(as_of, "--as-of")
    force_reason = checked_reason(force, reason)
    problem = taken_day_problem(day, today_paris(), "--as-of") if day else None  # a backup's id names today
    if problem and not force:
        fail(f"{problem}: refused (a typo?); use --force --reason TEXT to run it anyway", 2)
    if customer:
        known_customer(customer, data_kept=True)
    return {"as_of": day, "force_reason": force_reason, "customer_id": customer}


MASTER_KEY_HELP = ("The master key's escrow copy (lifecycle keys export), when this home's key is lost: the run "
                   "then runs in this process; LIFECYCLE_MASTER_KEY_FILE does the same.")


def master_key_file_option(path: Optional[str]) -> dict:
    """--master-key-file, checked: {MASTER_KEY_FILE: its absolute path} for run_flow (which reads it from
    there, never a flow parameter), or nothing."""
    import os

    if path is None:
        return {}
    if not os.path.isfile(path):
        fail(f"--master-key-file {path!r}: no such file", 2)
    return {MASTER_KEY_FILE: os.path.abspath(path)}


MASTER_KEY_FILE = "--master-key-file"  # the key run_flow takes out of the parameters: the run's, not the flow's


def verify_backups(sample: int = typer.Option(5, "--sample", parser=whole_number("--sample", minimum=1, maximum=100_000),
                                              help="How many customers' latest backups."),
                   master_key_file: Optional[str] = typer.Option(None, "--master-key-file", help=MASTER_KEY_HELP)) -> dict:
    """The restore drill: restore a sample into the sandbox and compare with the manifests."""
    return {"sample": sample, **master_key_file_option(master_key_file)}


def send_invoices(
    month: str = typer.Option(..., "--month", help="The month billed (YYYY-MM)."),
    customer: Optional[str] = typer.Option(None, "--customer", help="Only this customer's invoices."),
    new_only: bool = typer.Option(False, "--new-only", help="Only documents never sent yet (credit notes imported)."),
) -> dict:
    """Mail a month's invoices again, each with its stored Factur-X PDF (never rendered again)."""
    check_month(month)
    if customer:
        known_customer(customer)
    return {"month": month, "customer_id": customer, "new_only": new_only}


def credit_note(
    invoice: str = typer.Option(..., "--invoice", help="The number of the invoice to credit (or an imported id)."),
    amount: Optional[str] = typer.Option(None, "--amount", help="EUR TTC to credit, e.g. 120.00."),
    lines: Optional[str] = typer.Option(None, "--lines", help="Lines to credit whole, by position: 1,3."),
    reason: str = typer.Option(..., "--reason", help="Why (printed on the credit note)."),
    requested_by: str = typer.Option(..., "--requested-by", help="Who asks (audit)."),
    again: bool = typer.Option(False, "--again", help="Issue it although a note of this amount and reason exists."),
) -> dict:
    """Credit an issued invoice (partly or wholly): a numbered credit note, mailed with its Factur-X PDF."""
    if (amount is None) == (lines is None):
        fail("say what to credit: either --amount EUR_TTC or --lines N[,N...]", 2)
    id_option("--invoice", invoice)  # a number or an imported id, as the credit-notes file's `invoice_number`
    if amount is not None:
        money_option("--amount", amount)
    text_option("--reason", reason, 500, printed=True)  # as the credit-notes file's `reason`
    text_option("--requested-by", requested_by, 120)
    positions = None
    if lines is not None:
        from policy.digits import parse_whole

        try:
            # 0-9 only, as every number given here; spaces around a number are the typist's, as in "1, 3"
            positions = [parse_whole(part.strip(" ")) for part in lines.split(",")]
        except ValueError as error:
            fail(f"--lines {quoted(lines)}: line positions separated by commas, like 1,3 ({error})", 2)
    if not reason.strip():
        fail("--reason: a credit note says why it is issued", 2)
    return {"invoice": invoice, "reason": reason, "requested_by": requested_by, "amount_ttc": amount,
            "lines": positions, "again": again}


def refund(
    customer: str = typer.Option(..., "--customer", help="Whose credit is paid back."),
    amount: str = typer.Option(..., "--amount", help="EUR paid back, e.g. 150.00."),
    reference: str = typer.Option(..., "--reference", help="The bank transfer's reference, also the refund's id: "
                                                           "A-Z a-z 0-9 . _ - (VIR-2026-11-001 for 'VIR 2026 11 001')."),
) -> dict:
    """Record a refund of a customer's credit (an overpayment, a credit note beyond its invoice's balance)."""
    money_option("--amount", amount)
    id_option("--reference", reference)  # the refund's id too: as the refunds file's `refund_id`
    known_customer(customer)
    return {"customer_id": customer, "amount": amount, "reference": reference}


class Target(str, Enum):
    sandbox = "sandbox"
    in_place = "in_place"


def restore(
    customer: str = typer.Option(..., "--customer", help="Whose data."),
    backup: Optional[str] = typer.Option(None, "--backup", help="Backup id; default the latest good one."),
    target: Target = typer.Option(Target.sandbox, "--target", help="sandbox (default) or in_place."),
    requested_by: str = typer.Option(..., "--requested-by", help="Who asked (billed intervention, audit)."),
    ticket: str = typer.Option(..., "--ticket", help="Support ticket reference."),
    map_columns: Optional[str] = typer.Option(
        None, "--map-columns", help="in_place only: columns renamed on the platform since the backup, "
                                    "table.old=new[,...] (audited); without it any schema change refuses."),
    master_key_file: Optional[str] = typer.Option(None, "--master-key-file", help=MASTER_KEY_HELP),
) -> dict:
    """Restore a customer's backup; billed as a data_recovery intervention at the next close."""
    from policy.ids import id_problem

    problem = id_problem(ticket)  # the intervention's ticket, as the interventions import's `ticket` column
    if problem:
        fail(f"--ticket {quoted(ticket)}: {problem}", 2)
    text_option("--requested-by", requested_by, 120)  # the intervention's engineer, as that import's `engineer`
    if map_columns is not None:  # its form here, before a run (or a temporary server) starts; the run checks it again
        from operations.backup_schema import SchemaDrift, parse_renames

        try:
            renames = parse_renames(map_columns)
        except SchemaDrift as error:
            fail(str(error), 2)
        if renames and target is not Target.in_place:
            fail("--map-columns is for restores in place (--target in_place): the sandbox is built from the backup's "
                 "own tables", 2)
    known_customer(customer, data_kept=True)
    if backup:
        known_backup(customer, backup)
    return {"customer_id": customer, "requested_by": requested_by, "ticket": ticket, "backup_id": backup,
            "target": target.value, "map_columns": map_columns, **master_key_file_option(master_key_file)}


def _sweep_day(as_of: Optional[str], force: bool, reason: Optional[str], *, dry_run: Optional[bool] = None) -> dict:
    """A daily sweep's day (--as-of, default the run's) and why it may lie ahead (--force --reason): a day
    after today is refused unless forced (or, where the sweep has one, a dry run)."""
    day = parse_day(as_of, "--as-of")
    force_reason = checked_reason(force, reason)
    future_day(day, "--as-of", dry_run=dry_run, force=force)
    return {"as_of": day, "force_reason": force_reason}


def period_problem(text: str) -> Optional[str]:
    """Why an e-reporting period given as an option is refused, saying its forms and the window as the other
    date options do: its form first, then its month within the window (0000-01-D1 and 9999-12-D3 alike: year
    0000 is no typo of the form, only a month before the window)."""
    from policy.ereporting import FORMS, PERIOD_FORM

    match = PERIOD_FORM.fullmatch(text.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12:
        return f"{quoted(text)} is no e-reporting period: write {FORMS}"
    where = window().month_problem(f"{match.group(1)}-{match.group(2)}")
    if where:
        return f"{text.strip()}: {where}; a period is written {FORMS}"
    return None


def e_reporting(
    period: Optional[str] = typer.Option(None, "--period", help="One period: YYYY-MM-D1, -D2 or -D3 (a decade's "
                                         "transactions) or YYYY-MM (a month's payments); default every period "
                                         "ended in the last 45 days not sent yet."),
) -> dict:
    """Send the e-reporting of foreign and private customers to the e-invoicing platform: each decade's invoices
    and credit notes, each month's payments, once each."""
    if period is not None:
        from policy.calendar import today_paris
        from policy.ereporting import period as period_named

        problem = period_problem(period)
        if problem:
            fail(f"--period {problem}", 2)
        asked = period_named(period)
        today = today_paris()
        if asked.last >= today:
            fail(f"--period {asked.name} ends on {asked.last} (today is {today}): a period is reported once it has "
                 f"ended", 2)
        period = asked.name
    return {"period": period}

