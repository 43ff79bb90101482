"""What each `lifecycle run` command prints of its flow's result: one function a row of
lifecycle.cli.run.RUNS, called with the flow's result (a dict) and the command's options as typed."""

from __future__ import annotations

import typer


def _pending(result: dict) -> None:
    """What a run left to the next one (a mail server that did not answer): one line each."""
    for waiting in result["pending"]:
        typer.echo(f"  pending: {waiting}")


def standby_expiry(result: dict, options: dict) -> None:
    typer.echo(f"{result['day']}: {len(result['started'])} started, {len(result['ended'])} ended, "
               f"{len(result['noticed'])} expiry notice(s)")
    for line in result["started"]:
        typer.echo(f"  started {line}")
    for line in result["ended"]:
        typer.echo(f"  ended {line}")


def standby_request(result: dict, options: dict) -> None:
    state = "started" if result["started"] else "scheduled"
    typer.echo(f"standby {state} for {options['customer']}: {result['start_on']} until {result['end_on']}")


def monthly_close(result: dict, options: dict) -> None:
    month = options["month"]
    if result["status"] == "already_finalised":
        finished = result.get("documents_finished") or 0
        typer.echo(f"{month} was already closed: nothing billed again ({result['invoices']} invoice(s))"
                   + (f"; {finished} document(s) an earlier run left unrendered or unsent are finished now"
                      if finished else ""))
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


def arrears(result: dict, options: dict) -> None:
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


def commitments(result: dict, options: dict) -> None:
    from policy.vocabulary import in_words

    typer.echo(f"{result['open']} open ticket(s): {result['breached']} breached, {result['at_risk']} at risk; "
               f"{result['alerts']} alert(s){_held(result)}; credentials deleted for {len(result['purged'])} closed "
               f"ticket(s)")
    for row in result["tickets"]:
        if row["state"] in ("breached", "at_risk"):
            typer.echo(f"  {in_words(row['state']):9} {row['ticket']} {row['customer']}: {in_words(row['clock'])} "
                       f"due {row['next due (Paris)']}")


def _held(result: dict) -> str:
    """Alerts computed outside service hours wait for the opening: how many, until when (Paris)."""
    if not result.get("held"):
        return ""
    return f", {result['held']} held until {result['held_until'][:16].replace('T', ' ')} (opening)"


def cancel(result: dict, options: dict) -> None:
    typer.echo(f"{options['customer']}: cancellation {result['sentence']}"
               + (f"; balance today {result['balance']} EUR (sent to the customer)" if result["balance"] else ""))
    _pending(result)


def cancellations(result: dict, options: dict) -> None:
    typer.echo(f"{result['day']}: {len(result['steps'])} step(s)")
    for step in result["steps"]:
        typer.echo(f"  {step['customer']}: {step['detail']}" + (f"; final backup {step['final backup']}"
                                                                 if step["final backup"] else ""))


def export(result: dict, options: dict) -> None:
    """Where the workbook is, and its copy where --out says (checked before the run: run_checks.out_target)."""
    from lifecycle.cli.common import fail, not_a_file_problem, write_file

    out, force = options["out"], options["force"]
    typer.echo(f"{result['key']} in {result['storage']}" + (
        "" if result["new"] else " (unchanged: no new version; its file was missing from storage and was written again)"
        if result.get("rewritten") else " (unchanged: no new version)"))
    typer.echo(f"download: {result['link']}")
    if out is not None:
        from blocks.storage import ObjectStorage

        target = out / result["key"].rsplit("/", 1)[-1] if out.is_dir() else out
        problem = not_a_file_problem(target)  # checked before the run too; put there since: still refused
        if problem:
            fail(f"{target} {problem} (the workbook is in storage: {result['key']})", 2)
        if target.exists() and not force and target != out:
            fail(f"{target}: the file exists; add --force to overwrite it (the workbook is in storage: "
                 f"{result['key']})", 2)
        with ObjectStorage(url=result["storage"]).store().open(result["key"]) as source:
            write_file(target, source.read())
        typer.echo(str(target.resolve()))


def backup(result: dict, options: dict) -> None:
    backups = result["backups"]
    typer.echo(f"{result['day']}: {sum(1 for b in backups if b['status'] == 'good')} backed up, "
               f"{sum(1 for b in backups if b['status'] == 'skipped')} already done today")
    if result["ledger_snapshot"]:
        typer.echo(f"  ledger snapshot {result['ledger_snapshot']}")


def verify_backups(result: dict, options: dict) -> None:
    for line in result.get("verified", []):
        typer.echo(f"  {line['backup']}: {line['detail']}")


def send_invoices(result: dict, options: dict) -> None:
    month = options["month"]
    typer.echo(f"{month}: {len(result['sent'])} invoice(s) sent{'' if options['new_only'] else ' again'}: "
               f"{', '.join(result['sent']) or 'none'}")
    if result.get("waiting"):  # queued, not taken by the mail server: the next run tries again
        typer.echo(f"{month}: {len(result['waiting'])} invoice(s) not sent yet, pending: {', '.join(result['waiting'])}")
    _pending(result)


def credit_note(result: dict, options: dict) -> None:
    if not result["created"]:
        typer.echo(f"credit note {result['number']} was issued already by this run; nothing changed")
        return
    typer.echo(f"credit note {result['number']} on {result['credits']} ({result['customer_id']}): "
               f"{result['total_ttc']} EUR TTC; invoice balance now {result['balance']} EUR"
               + (f"; {result['to_credit']} EUR to the customer's credit" if result["to_credit"] != "0.00" else ""))
    _pending(result)


def refund(result: dict, options: dict) -> None:
    if not result["created"]:
        typer.echo(f"refund {result['refund_id']} was recorded already; credit left {result['credit_left']} EUR")
        return
    typer.echo(f"refund {result['refund_id']} to {result['customer_id']}: {result['amount']} EUR; "
               f"credit left {result['credit_left']} EUR")


def restore(result: dict, options: dict) -> None:
    from policy.vocabulary import restored_where

    for gone in result.get("gone") or []:
        typer.echo(f"backup {gone} is gone from storage (now marked gone): restored the next good backup instead")
    typer.echo(f"restored {result['backup_id']} {restored_where(result['target'])}: "
               + ", ".join(f"{name} {count}" for name, count in result["rows"].items()))
    typer.echo(f"billed as intervention {result['intervention_id']} ({result['minutes']} min + recovery fee)")
