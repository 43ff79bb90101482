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

def _say(line: str) -> None:
    """One line of a run's result. Its words are often stored text (a customer's name, a platform's reason, a
    ticket's subject): printed as stored, a character a terminal acts on escaped (lifecycle.cli.common.literal),
    as `show` prints it; a name could otherwise recolour the terminal, link elsewhere or forge a line."""
    from lifecycle.cli.common import literal

    typer.echo(literal(line))


def _pending(pending: list[str]) -> None:
    """What a run left to the next one (a mail server that did not answer): one line each."""
    for waiting in pending:
        _say(f"  pending: {waiting}")


def standby_expiry(result: StandbySwept, options: dict) -> None:
    _say(f"{result.day}: {len(result.started)} started, {len(result.ended)} ended, "
               f"{len(result.noticed)} expiry notice(s)")
    for line in result.started:
        _say(f"  started {line}")
    for line in result.ended:
        _say(f"  ended {line}")


def standby_request(result: StandbyAsked, options: dict) -> None:
    state = "started" if result.started else "scheduled"
    _say(f"standby {state} for {options['customer']}: {result.start_on} until {result.end_on}")


def monthly_close(result: Closed, options: dict) -> None:
    month = options["month"]
    if result.status == CloseOutcome.ALREADY_FINALISED:
        finished = result.documents_finished
        _say(f"{month} was already closed: nothing billed again ({result.invoices} invoice(s))"
                   + (f"; {finished} document(s) an earlier run left unrendered or unsent are finished now"
                      if finished else ""))
        return
    if result.invoices:
        _say(f"{month} closed: {result.invoices} invoice(s) issued on {result.issued_on}, "
                   f"{result.total_ht} EUR HT, {result.total_vat} EUR VAT, {result.total_ttc} EUR TTC")
    elif not result.credit_notes:
        _say(f"{month} closed: nothing to bill, no invoice issued")
    if result.credit_notes:   # money owed to customers: credit notes, never invoices below zero
        _say(f"{month} closed: {result.credit_notes} credit note(s) issued on {result.issued_on}, "
                   f"{result.credited_ttc} EUR TTC given back (standby days of annual subscriptions)")
    if result.einvoicing:     # deposited on the platform, or pending for the e-invoicing run (never a failed close)
        _say(f"{month}: {result.einvoicing}")
    if result.not_billed_again:
        _say(f"  {result.not_billed_again}")


def arrears(result: ArrearsSwept, options: dict) -> None:
    heading = f"{result.day}{' (dry run: nothing changed)' if result.dry_run else ''}"
    _say(f"{heading}: {len(result.transitions)} stage change(s), {len(result.penalties)} penalty "
               f"invoice(s), {len(result.deletion_notices)} deletion notice(s)")
    for change in result.transitions:
        _say(f"  {change['customer_id']}: {change['from']} -> {change['to']} on {change['effective_on']} "
                   f"(oldest unpaid due {change['anchor']})")
    for penalty in result.penalties:
        _say(f"  penalty {penalty['number'] or '(not issued)'} for {penalty['customer_id']}: "
                   f"{penalty['penalty']} + {penalty['indemnity']} EUR on invoice {penalty['invoice']}")
    for line in result.deletion_notices:
        _say(f"  deletion notice: {line}")
    for line in result.deletions:
        _say(f"  deletion: {line}")
    if result.superseded:  # a catch-up for a day before a later sweep
        _say(f"  {result.superseded}")


def commitments(result: Looked, options: dict) -> None:
    from policy.commitments import ClockState

    _say(f"{result.open} open ticket(s): {result.breached} breached, {result.at_risk} at risk; "
               f"{result.alerts} alert(s){_held(result)}; credentials deleted for {len(result.purged)} closed ticket(s)")
    for row in result.tickets:
        if row["state"] in (ClockState.BREACHED, ClockState.AT_RISK):
            _say(f"  {in_words(row['state']):9} {row['ticket']} {row['customer']}: {in_words(row['clock'])} "
                       f"due {row['next due (Paris)']}")


def _held(result: Looked) -> str:
    """Alerts computed outside service hours wait for the opening: how many, until when (Paris)."""
    if not result.held:
        return ""
    return f", {result.held} held until {result.held_until:%Y-%m-%d %H:%M} (opening)"


def einvoicing(result: EinvoicingDone, options: dict) -> None:
    if result.redeposited:
        _say(f"deposited again: {result.redeposited}")
    _say(f"{result.day}: {result.line()}")
    for waiting in result.waiting:
        _say(f"  pending: {waiting}")
    for refused in result.refused:
        _say(f"  refused by the platform: {refused}")
    for row in result.attention:
        _say(f"  {row['number']} {row['customer']}: {row['status']} since {row['since']}"
                   + (f" ({row['reason']})" if row["reason"] else ""))


def cancel(result: LetterRecorded, options: dict) -> None:
    _say(f"{options['customer']}: cancellation {result.sentence}"
               + (f"; balance today {result.balance} EUR (sent to the customer)" if result.balance is not None
                  else ""))
    _pending(result.pending)


def cancellations(result: CancellationsDone, options: dict) -> None:
    _say(f"{result.day}: {len(result.steps)} step(s)")
    for step in result.steps:
        _say(f"  {step['customer']}: {step['detail']}" + (f"; final backup {step['final backup']}"
                                                                 if step["final backup"] else ""))


def export(result: Exported, options: dict) -> None:
    """Where the workbook is, and its copy where --out says (checked before the run: run_checks.out_target)."""
    from lifecycle.cli.common import fail, not_a_file_problem, write_file
    from lifecycle.cli.storage import inside_storage_problem

    out, force = options["out"], options["force"]
    _say(f"{result.key} in {result.storage}" + (
        "" if result.new else " (unchanged: no new version; its file was missing from storage and was written again)"
        if result.rewritten else " (unchanged: no new version)"))
    _say(f"download: {result.link}")
    if out is not None:
        from blocks.storage import ObjectStorage
        from lifecycle.cli.run_checks import shown

        target = out / result.key.rsplit("/", 1)[-1] if out.is_dir() else out
        # checked before the run too; put there since (or the run's storage another than the one asked): refused
        problem = inside_storage_problem(target, ObjectStorage(url=result.storage)) or not_a_file_problem(target)
        if problem:
            fail(f"{shown(target)} {problem} (the workbook is in storage: {result.key})", 2)
        if target.exists() and not force and target != out:
            fail(f"{shown(target)}: the file exists; add --force to overwrite it (the workbook is in storage: "
                 f"{result.key})", 2)
        with ObjectStorage(url=result.storage).store().open(result.key) as source:
            write_file(target, source.read())
        _say(str(target.resolve()))


def backup(result: NightDone, options: dict) -> None:
    from operations.backup import deleted_meanwhile

    _say(f"{result.day}: {result.count(BackupOutcomeStatus.GOOD)} backed up, "
               f"{result.count(BackupOutcomeStatus.SKIPPED)} already done today"
               + deleted_meanwhile(result.backups))
    if result.ledger_snapshot:
        _say(f"  ledger snapshot {result.ledger_snapshot}")


def verify_backups(result: Drilled, options: dict) -> None:
    for line in result.verified:
        _say(f"  {line['backup']}: {line['detail']}")
    if result.verified:
        _say("  evidence (hashes, data keys, who, when): lifecycle show drills, and the run's artifact verify-backups")


def send_invoices(result: SentInvoices, options: dict) -> None:
    month = options["month"]
    if result.sent or not result.through_platform:
        _say(f"{month}: {len(result.sent)} invoice(s) sent{'' if options['new_only'] else ' again'}: "
                   f"{', '.join(result.sent) or 'none'}")
    if result.through_platform:  # French business customers' documents, once a platform is set: never mailed
        _say(f"{month}: {len(result.through_platform)} document(s) go through the e-invoicing platform, not "
                   f"mailed: {', '.join(result.through_platform)}" + (f"; {result.deposit}" if result.deposit else ""))
    if result.waiting:  # queued, not taken by the mail server: the next run tries again
        _say(f"{month}: {len(result.waiting)} invoice(s) not sent yet, pending: {', '.join(result.waiting)}")
    _pending(result.pending)


def credit_note(result: CreditNoted, options: dict) -> None:
    if not result.created:
        _say(f"credit note {result.number} was issued already by this run; nothing changed")
        return
    _say(f"credit note {result.number} on {result.credits} ({result.customer_id}): "
               f"{result.total_ttc} EUR TTC; invoice balance now {result.balance} EUR"
               + (f"; {result.to_credit} EUR to the customer's credit" if result.to_credit else ""))
    _pending(result.pending)


def refund(result: Refunded, options: dict) -> None:
    if not result.created:
        _say(f"refund {result.refund_id} was recorded already; credit left {result.credit_left} EUR")
        return
    _say(f"refund {result.refund_id} to {result.customer_id}: {result.amount} EUR; "
               f"credit left {result.credit_left} EUR")


def restore(result: Restored, options: dict) -> None:
    from policy.vocabulary import restored_where

    for gone in result.gone:
        _say(f"backup {gone} is gone from storage (now marked gone): restored the next good backup instead")
    _say(f"restored {result.backup_id} {restored_where(result.target)}: "
               + ", ".join(f"{name} {count}" for name, count in result.rows.items()))
    _say(f"billed as intervention {result.intervention_id} ({result.minutes} min + recovery fee)")


def e_reporting(result: EReported, options: dict) -> None:
    _say(result.line())
    for report in result.reports:
        _say(f"  {report['period']} {report['rule']}: {report['transactions']} transaction(s) "
                   f"{report['total_ttc']} EUR TTC, {report['payments']} payment(s) {report['paid']} EUR; flow "
                   f"{report['flow_id']}" + (" (sent before)" if report["already"] else ""))
    for line in result.waiting:
        _say(f"  pending: {line}")
    for line in result.refused:
        _say(f"  refused: {line}")

