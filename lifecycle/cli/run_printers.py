"""What each `lifecycle run` command prints of its flow's result: one function a row of
lifecycle.cli.run.RUNS, called with the result typed (the row's result type, rebuilt from what the flow
returned: operations.results) and the command's options as typed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from policy.vocabulary import BackupOutcomeStatus, CloseOutcome, in_words

if TYPE_CHECKING:   # the types only: the modules load when the run has loaded them (lifecycle.cli.run)
    from operations.arrears import ArrearsSwept
    from operations.backup import NightDone
    from operations.cancellation import CancellationsDone, LetterRecorded
    from operations.close_report import Closed
    from operations.commitments import Looked
    from operations.corrections import CreditNoted, Refunded
    from operations.drill import Drilled
    from operations.einvoicing_payments import EReported
    from operations.einvoicing_documents import EinvoicingDone
    from operations.export import Exported
    from operations.restore import Restored
    from operations.send_invoices import SentInvoices
    from operations.standby import StandbyAsked, StandbySwept

def _pending(pending: list[str]) -> None:
    """What a run left to the next one (a mail server that did not answer): one line each."""
    for waiting in pending:
        typer.echo(f"  pending: {waiting}")


def standby_expiry(result: StandbySwept, options: dict) -> None:
    typer.echo(f"{result.day}: {len(result.started)} started, {len(result.ended)} ended, "
               f"{len(result.noticed)} expiry notice(s)")
    for line in result.started:
        typer.echo(f"  started {line}")
    for line in result.ended:
        typer.echo(f"  ended {line}")


def standby_request(result: StandbyAsked, options: dict) -> None:
    state = "started" if result.started else "scheduled"
    typer.echo(f"standby {state} for {options['customer']}: {result.start_on} until {result.end_on}")


def monthly_close(result: Closed, options: dict) -> None:
    month = options["month"]
    if result.status == CloseOutcome.ALREADY_FINALISED:
        finished = result.documents_finished
        typer.echo(f"{month} was already closed: nothing billed again ({result.invoices} invoice(s))"
                   + (f"; {finished} document(s) an earlier run left unrendered or unsent are finished now"
                      if finished else ""))
        return
    if result.invoices:
        typer.echo(f"{month} closed: {result.invoices} invoice(s) issued on {result.issued_on}, "
                   f"{result.total_ht} EUR HT, {result.total_vat} EUR VAT, {result.total_ttc} EUR TTC")
    elif not result.credit_notes:
        typer.echo(f"{month} closed: nothing to bill, no invoice issued")
    if result.credit_notes:   # money owed to customers: credit notes, never invoices below zero
        typer.echo(f"{month} closed: {result.credit_notes} credit note(s) issued on {result.issued_on}, "
                   f"{result.credited_ttc} EUR TTC given back (standby days of annual subscriptions)")
    if result.einvoicing:     # deposited on the platform, or pending for the e-invoicing run (never a failed close)
        typer.echo(f"{month}: {result.einvoicing}")
    if result.not_billed_again:
        typer.echo(f"  {result.not_billed_again}")


def arrears(result: ArrearsSwept, options: dict) -> None:
    heading = f"{result.day}{' (dry run: nothing changed)' if result.dry_run else ''}"
    typer.echo(f"{heading}: {len(result.transitions)} stage change(s), {len(result.penalties)} penalty "
               f"invoice(s), {len(result.deletion_notices)} deletion notice(s)")
    for change in result.transitions:
        typer.echo(f"  {change['customer_id']}: {change['from']} -> {change['to']} on {change['effective_on']} "
                   f"(oldest unpaid due {change['anchor']})")
    for penalty in result.penalties:
        typer.echo(f"  penalty {penalty['number'] or '(not issued)'} for {penalty['customer_id']}: "
                   f"{penalty['penalty']} + {penalty['indemnity']} EUR on invoice {penalty['invoice']}")
    for line in result.deletion_notices:
        typer.echo(f"  deletion notice: {line}")
    for line in result.deletions:
        typer.echo(f"  deletion: {line}")
    if result.superseded:  # a catch-up for a day before a later sweep
        typer.echo(f"  {result.superseded}")


def commitments(result: Looked, options: dict) -> None:
    from policy.commitments import ClockState

    typer.echo(f"{result.open} open ticket(s): {result.breached} breached, {result.at_risk} at risk; "
               f"{result.alerts} alert(s){_held(result)}; credentials deleted for {len(result.purged)} closed ticket(s)")
    for row in result.tickets:
        if row["state"] in (ClockState.BREACHED, ClockState.AT_RISK):
            typer.echo(f"  {in_words(row['state']):9} {row['ticket']} {row['customer']}: {in_words(row['clock'])} "
                       f"due {row['next due (Paris)']}")


def _held(result: Looked) -> str:
    """Alerts computed outside service hours wait for the opening: how many, until when (Paris)."""
    if not result.held:
        return ""
    return f", {result.held} held until {result.held_until:%Y-%m-%d %H:%M} (opening)"


def einvoicing(result: EinvoicingDone, options: dict) -> None:
    if result.redeposited:
        typer.echo(f"deposited again: {result.redeposited}")
    typer.echo(f"{result.day}: {result.line()}")
    for waiting in result.waiting:
        typer.echo(f"  pending: {waiting}")
    for refused in result.refused:
        typer.echo(f"  refused by the platform: {refused}")
    for row in result.attention:
        typer.echo(f"  {row['number']} {row['customer']}: {row['status']} since {row['since']}"
                   + (f" ({row['reason']})" if row["reason"] else ""))


def cancel(result: LetterRecorded, options: dict) -> None:
    typer.echo(f"{options['customer']}: cancellation {result.sentence}"
               + (f"; balance today {result.balance} EUR (sent to the customer)" if result.balance is not None
                  else ""))
    _pending(result.pending)


def cancellations(result: CancellationsDone, options: dict) -> None:
    typer.echo(f"{result.day}: {len(result.steps)} step(s)")
    for step in result.steps:
        typer.echo(f"  {step['customer']}: {step['detail']}" + (f"; final backup {step['final backup']}"
                                                                 if step["final backup"] else ""))


def export(result: Exported, options: dict) -> None:
    """Where the workbook is, and its copy where --out says (checked before the run: run_checks.out_target)."""
    from lifecycle.cli.common import fail, not_a_file_problem, write_file

    out, force = options["out"], options["force"]
    typer.echo(f"{result.key} in {result.storage}" + (
        "" if result.new else " (unchanged: no new version; its file was missing from storage and was written again)"
        if result.rewritten else " (unchanged: no new version)"))
    typer.echo(f"download: {result.link}")
    if out is not None:
        from blocks.storage import ObjectStorage
        from lifecycle.cli.run_checks import shown

        target = out / result.key.rsplit("/", 1)[-1] if out.is_dir() else out
        problem = not_a_file_problem(target)  # checked before the run too; put there since: still refused
        if problem:
            fail(f"{shown(target)} {problem} (the workbook is in storage: {result.key})", 2)
        if target.exists() and not force and target != out:
            fail(f"{shown(target)}: the file exists; add --force to overwrite it (the workbook is in storage: "
                 f"{result.key})", 2)
        with ObjectStorage(url=result.storage).store().open(result.key) as source:
            write_file(target, source.read())
        typer.echo(str(target.resolve()))


def backup(result: NightDone, options: dict) -> None:
    from operations.backup import deleted_meanwhile

    typer.echo(f"{result.day}: {result.count(BackupOutcomeStatus.GOOD)} backed up, "
               f"{result.count(BackupOutcomeStatus.SKIPPED)} already done today"
               + deleted_meanwhile(result.backups))
    if result.ledger_snapshot:
        typer.echo(f"  ledger snapshot {result.ledger_snapshot}")


def verify_backups(result: Drilled, options: dict) -> None:
    for line in result.verified:
        typer.echo(f"  {line['backup']}: {line['detail']}")
    if result.verified:
        typer.echo("  evidence (hashes, data keys, who, when): lifecycle show drills, and the run's artifact verify-backups")


def send_invoices(result: SentInvoices, options: dict) -> None:
    month = options["month"]
    if result.sent or not result.through_platform:
        typer.echo(f"{month}: {len(result.sent)} invoice(s) sent{'' if options['new_only'] else ' again'}: "
                   f"{', '.join(result.sent) or 'none'}")
    if result.through_platform:  # French business customers' documents, once a platform is set: never mailed
        typer.echo(f"{month}: {len(result.through_platform)} document(s) go through the e-invoicing platform, not "
                   f"mailed: {', '.join(result.through_platform)}" + (f"; {result.deposit}" if result.deposit else ""))
    if result.waiting:  # queued, not taken by the mail server: the next run tries again
        typer.echo(f"{month}: {len(result.waiting)} invoice(s) not sent yet, pending: {', '.join(result.waiting)}")
    _pending(result.pending)


def credit_note(result: CreditNoted, options: dict) -> None:
    if not result.created:
        typer.echo(f"credit note {result.number} was issued already by this run; nothing changed")
        return
    typer.echo(f"credit note {result.number} on {result.credits} ({result.customer_id}): "
               f"{result.total_ttc} EUR TTC; invoice balance now {result.balance} EUR"
               + (f"; {result.to_credit} EUR to the customer's credit" if result.to_credit else ""))
    _pending(result.pending)


def refund(result: Refunded, options: dict) -> None:
    if not result.created:
        typer.echo(f"refund {result.refund_id} was recorded already; credit left {result.credit_left} EUR")
        return
    typer.echo(f"refund {result.refund_id} to {result.customer_id}: {result.amount} EUR; "
               f"credit left {result.credit_left} EUR")


def restore(result: Restored, options: dict) -> None:
    from policy.vocabulary import restored_where

    for gone in result.gone:
        typer.echo(f"backup {gone} is gone from storage (now marked gone): restored the next good backup instead")
    typer.echo(f"restored {result.backup_id} {restored_where(result.target)}: "
               + ", ".join(f"{name} {count}" for name, count in result.rows.items()))
    typer.echo(f"billed as intervention {result.intervention_id} ({result.minutes} min + recovery fee)")


def e_reporting(result: EReported, options: dict) -> None:
    typer.echo(result.line())
    for report in result.reports:
        typer.echo(f"  {report['period']} {report['rule']}: {report['transactions']} transaction(s) "
                   f"{report['total_ttc']} EUR TTC, {report['payments']} payment(s) {report['paid']} EUR; flow "
                   f"{report['flow_id']}" + (" (sent before)" if report["already"] else ""))
    for line in result.waiting:
        typer.echo(f"  pending: {line}")
    for line in result.refused:
        typer.echo(f"  refused: {line}")

