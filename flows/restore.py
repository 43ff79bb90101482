"""Restore a customer's backup on request: billed as a `data_recovery` intervention (seed 000:
"La demande de récupération manuelle est une opération lourde soumise à une facturation").

Into the sandbox by default, whose tables are built from the backup's own schema; `in_place` first
checks that the platform's tables still have the backup's shape (any drift refuses, listed), takes a
safety backup, then replaces the customer's rows in one transaction. Every object is checked against
its manifest before anything is written.
Running the same flow run again bills nothing more; two requests are two billed jobs.
The backup is chosen holding the customer's lock, so no retention deletes it under the restore; one
found missing from storage is marked `gone`, and the next good one is restored in its place (said
in one line), unless the request named the backup: then it is refused.
"""

from __future__ import annotations

from typing import Literal, Optional

from prefect import flow
from prefect.artifacts import create_markdown_artifact

import lifecycle_config
from tasks.backups import restore_customer
from tasks.runtime import check_ids, actor, flow_run_id, refusals_fail_quietly
from policy.vocabulary import restored_where
from tasks.settings import load_run_settings
from policy.text import markdown_literal, markdown_row


@flow(name="restore-backup", log_prints=True, persist_result=True, result_serializer="json")
@refusals_fail_quietly
def restore_backup(
    customer_id: str,
    requested_by: str,
    ticket: str,
    backup_id: Optional[str] = None,
    target: Literal["sandbox", "in_place"] = "sandbox",
    map_columns: Optional[str] = None,
) -> dict:
    """Restore a customer's platform data from a backup, and bill it as a data recovery.

    Args:
        customer_id: whose data.
        requested_by: the engineer or person asking (on the invoice line and in the audit).
        ticket: the support ticket, e.g. T-1234.
        backup_id: which backup; empty means the customer's latest good one.
        target: `sandbox` (the sandbox database, default) or `in_place` (the live platform, after a safety backup).
        map_columns: in place only, columns renamed on the platform since the backup, as
            `table.old=new,...`; without it any change of the platform's tables refuses the restore.
    """
    check_ids(customer_id=customer_id, backup_id=backup_id, ticket=ticket)  # as the CLI's options
    settings = load_run_settings("restore-backup")
    run_id = flow_run_id()
    outcome = restore_customer(customer_id, backup_id, target, requested_by, ticket,
                               platform=settings.platform, storage=settings.storage, sandbox_url=lifecycle_config.sandbox_url(),
                               flow_run_id=run_id, actor=actor(), map_columns=map_columns)
    rows = "\n".join(markdown_row(name, count) for name, count in outcome.rows.items()) or "| (already done) | |"
    create_markdown_artifact(
        f"# Restore of {markdown_literal(customer_id)}\n\n- backup: {markdown_literal(outcome.backup_id)}\n"
        f"- restored {markdown_literal(restored_where(outcome.target))}\n"
        + "".join(f"- chosen first: {markdown_literal(gone)}, gone from storage (now marked gone): the next good "
                  f"backup was restored instead\n" for gone in outcome.gone)
        + (f"- safety backup first: {markdown_literal(outcome.safety_backup_id)}\n" if outcome.safety_backup_id else "")
        + f"- duration: {outcome.seconds:.1f} s, billed {outcome.minutes} min + the recovery fee "
          f"(intervention {outcome.intervention_id}, next monthly close)\n"
        + ("- this flow run had already restored it: nothing more was billed\n" if outcome.repeated else "")
        + f"\n| table | rows restored |\n|---|---:|\n{rows}", key="restore-backup",
        description=f"Restore of {markdown_literal(customer_id)}")
    print(f"{customer_id}: restored {outcome.backup_id} {restored_where(outcome.target)} in {outcome.seconds:.1f} s; "
          f"billed as {outcome.intervention_id}")
    return outcome.summary(customer_id)
