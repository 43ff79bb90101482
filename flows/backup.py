"""Nightly backups of every customer's platform data, and the weekly restore drill that proves them.

Seeds 000/001 "Data recovery": "Particeep performs regular data back-ups". Customers are backed up
in chunks with bounded parallelism (not one task per customer); each backup is good only once its
manifest is written; retention keeps 7 daily, 5 weekly and 12 monthly backups; the ledger itself
is snapshotted too. The drill restores a sample into the sandbox and compares it with the manifests.
"""

from __future__ import annotations

from contextlib import nullcontext
from datetime import date
from typing import Optional

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, create_table_artifact, \
    update_progress_artifact
from prefect.task_runners import ThreadPoolTaskRunner

import lifecycle_config
from blocks.storage import StoreUnavailable
from lifecycle_config.conditions import Reported
from operations.backup import (BackupRefused, customers_to_back_up, deleted_meanwhile, failures, finish_night,
                               mark_not_backed_up, outcomes_of, settle_abandoned_backups, store_down,
                               unknown_backups_problem, unknown_customers_problem)
from operations.drill import Drill, Drilled, drill_outcomes, evidence_markdown, plan_drill
from policy.calendar import taken_day_problem, today_paris
from policy.text import markdown_cells
from policy.vocabulary import BackupOutcomeStatus
from tasks.backups import backup_chunk_task, drill
from tasks.fanout import (BACKUP_SHARD, OBJECT_STORAGE, PLATFORM_DATABASE, SANDBOX, VERIFY_SHARD, holding, run_shards,
                          set_limits, shards, workers_can_take_shards)
from tasks.runtime import (Refusal, check_date, check_ids, check_number, check_texts, check_window, flow_run_id,
                           refusals_fail_quietly, started_by)
from tasks.settings import load_run_settings

CHUNK = 50


class BackupsFailed(Reported):
    """Some backups or drills failed; the artifact names them."""


@flow(name="nightly-backup", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=4), persist_result=True,
      result_serializer="json")
@refusals_fail_quietly
def nightly_backup(
    as_of: Optional[date] = None,
    customer_id: Optional[str] = None,
    snapshot_ledger_too: bool = True,
    force_reason: Optional[str] = None,
) -> dict:
    """Back up every customer not deleted (or one), apply retention, and snapshot the ledger.

    Args:
        as_of: the backup day, today (Paris) unless forced: a backup's id names the day its data was taken. One
            backup per customer and day.
        customer_id: back up only this customer.
        snapshot_ledger_too: also take a consistent snapshot of the ledger (the accounting record).
        force_reason: back up under another day than today anyway, and say why (kept in the audit log).
    """
    check_ids(customer_id=customer_id)  # as the CLI's options
    day = as_of if as_of is not None else today_paris()  # the data is taken now: even a late run's backup is today's
    settings = load_run_settings("nightly-backup")
    check_window(settings.terms, as_of=day)  # forced or not, a day outside the window is a typo
    check_date(taken_day_problem(day, today_paris(), "the backup day"), force_reason=force_reason,
               what="nightly-backup")
    abandoned = settle_abandoned_backups()  # left `running` by a run that was killed
    if abandoned:
        print(f"{len(abandoned)} backup(s) left running by a run that stopped are now failed: {', '.join(abandoned)}")
    customers = customers_to_back_up(customer_id)  # refuses a customer unknown or deleted
    progress = create_progress_artifact(0.0, key="nightly-backup-progress", description=f"Backups of {day}")
    parts = shards(customers, settings.terms.backup_shard_size)
    down = store_down(settings.storage)
    elsewhere = workers_can_take_shards() if len(parts) > 1 and down is None else "one shard"
    if down is not None:  # one cheap call said so: no customer waits for its own connection to fail
        outcomes = mark_not_backed_up(customers, day, down, flow_run_id=flow_run_id())
        update_progress_artifact(progress, 100.0)
    elif elsewhere is None:  # every worker of the pool takes shards; each is a run of its own, retried on its own
        limits = set_limits(settings.terms)
        print(f"{len(customers)} customers in {len(parts)} shards of {settings.terms.backup_shard_size}, "
              f"for the workers of the pool (at most {limits[PLATFORM_DATABASE]} on the platform database at once)")
        ended = run_shards(BACKUP_SHARD, [{"customer_ids": part, "as_of": day.isoformat(), "force_reason": force_reason}
                                          for part in parts],
                           key=flow_run_id(),
                           progress=lambda done, total: update_progress_artifact(progress, 100.0 * done / total))
        print("shards: " + ", ".join(f"{name} {state}" for name, state in ended.items()))
        outcomes = outcomes_of(customers, day)
    else:
        outcomes = _back_up(customers, day, settings, progress)
    night = finish_night(day, outcomes, settings.storage, settings.terms, down=down, flow_run_id=flow_run_id(),
                         snapshot_ledger_too=snapshot_ledger_too and not customer_id)
    create_table_artifact(markdown_cells([{"customer": o.customer_id, "backup": o.backup_id, "status": o.status,
                                           "rows": o.rows, "bytes": o.bytes, "error": o.error or ""}
                                          for o in night.outcomes]) or [{"customer": "none"}],
                          key="nightly-backup", description=f"Backups of {day}")
    if night.store_down is not None:  # one line, the run's failure message: what ops read in the alert
        raise StoreUnavailable(night.store_down_message())
    print(night.line())
    if night.failed:
        raise BackupsFailed(night.failures())
    return night.summary()


def _check_ids(name: str, ids: list[str], unknown_problem) -> None:
    """A shard's ids, typed in its form, are ids (policy.ids), at least one, each once, and name rows the ledger
    holds spelled as stored (`unknown_problem`), as the CLI's would: refused before anything is written."""
    check_ids(**{name: ids})  # each an id of the grammar, said cut short as every form's ids are
    if not ids:
        raise Refusal(f"{name} is empty: a shard works on at least one")
    problem = unknown_problem(ids)
    if problem:
        raise BackupRefused(problem)


def _back_up(customers: list[str], day: date, settings, progress=None) -> list:
    """Back up these customers here, in chunks on a few threads (one task per chunk, not per customer)."""
    chunks = shards(customers, CHUNK)
    futures = [backup_chunk_task.submit(chunk, day, settings.platform, settings.storage, settings.terms,
                                        flow_run_id=flow_run_id()) for chunk in chunks]
    outcomes = []
    for done, future in enumerate(futures, start=1):
        outcomes += future.result()
        if progress is not None:
            update_progress_artifact(progress, 100.0 * done / len(futures))
    if progress is not None and not futures:
        update_progress_artifact(progress, 100.0)
    return outcomes


@flow(name="backup-shard", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=4), retries=1,
      retry_delay_seconds=30, persist_result=True, result_serializer="json")
@refusals_fail_quietly
def backup_shard(customer_ids: list[str], as_of: date, force_reason: Optional[str] = None) -> dict:
    """One shard of a night's backups, for any worker of the pool: `nightly-backup` starts one per shard.
    A shard run again (its retry, or a rerun) skips the customers already backed up that night. Started by
    hand (the form), it checks its day as `lifecycle run backup --as-of` does: a refusal is final, never
    retried (tasks.runtime.refusal_is_final).

    Args:
        customer_ids: the customers of this shard.
        as_of: the backup day: today (Paris) unless forced.
        force_reason: back up under another day than today anyway, and say why (the night passes its own).
    """
    settings = load_run_settings("backup-shard")
    check_window(settings.terms, as_of=as_of)
    _check_ids("customer_ids", customer_ids, unknown_customers_problem)
    check_date(taken_day_problem(as_of, today_paris(), "the backup day"), force_reason=force_reason,
               what="backup-shard")
    down = store_down(settings.storage)
    if down is not None:
        outcomes = mark_not_backed_up(customer_ids, as_of, down, flow_run_id=flow_run_id())
        raise StoreUnavailable(f"{down}: {len(outcomes)} customer(s) of this shard not backed up on {as_of}")
    with holding(PLATFORM_DATABASE, OBJECT_STORAGE):
        outcomes = _back_up(customer_ids, as_of, settings)
    down = next((o.error for o in outcomes if o.store_down), None)
    failed = [o for o in outcomes if o.status == BackupOutcomeStatus.FAILED]
    if down is not None:
        raise StoreUnavailable(f"{down}: {len(failed)} of {len(outcomes)} customer(s) of this shard not backed up "
                               f"on {as_of}")
    print(f"{as_of}: {sum(1 for o in outcomes if o.status == BackupOutcomeStatus.GOOD)} backed up, "
          f"{sum(1 for o in outcomes if o.status == BackupOutcomeStatus.SKIPPED)} already done, {len(failed)} failed"
          + deleted_meanwhile(outcomes))
    if failed:
        raise BackupsFailed(failures(failed))
    return {"day": as_of.isoformat(), "customers": len(customer_ids), "failed": len(failed)}


@flow(name="verify-backups", log_prints=True, persist_result=True, result_serializer="json")
@refusals_fail_quietly
def verify_backups(sample: int = 5) -> dict:
    """The weekly restore drill: restore a sample of recent backups into the sandbox and compare row
    counts and hashes with their manifests. Backups never verified, or verified longest ago, go first.
    A large sample is split into shards for the workers of the pool, as the nightly backup is.

    Args:
        sample: how many customers' latest backups to verify, from 1 to 100000.
    """
    # as --sample: a sample of -3 took all but the last 3
    check_number("sample", sample, 1, 100_000, what="a whole number from 1 to 100000")
    settings = load_run_settings("verify-backups")
    ran_by = started_by()
    plan = plan_drill(sample)
    if plan.skipped_line():
        print(plan.skipped_line())
    chosen = list(plan.backup_ids)
    parts = shards(chosen, settings.terms.verify_shard_size)
    elsewhere = workers_can_take_shards(VERIFY_SHARD) if len(parts) > 1 else "one shard"
    if elsewhere is None:
        set_limits(settings.terms)
        print(f"{len(chosen)} backups in {len(parts)} shards of {settings.terms.verify_shard_size}, "
              f"for the workers of the pool")
        ended = run_shards(VERIFY_SHARD, [{"backup_ids": part, "ran_by": ran_by} for part in parts],
                           key=flow_run_id())
        print("shards: " + ", ".join(f"{name} {state}" for name, state in ended.items()))
        results = [result.row() for result in drill_outcomes(chosen, plan.since)]
    else:
        results = _drill(chosen, settings, ran_by)
    failed = [r for r in results if not r["ok"]]
    create_markdown_artifact(evidence_markdown(results, ran_by), key="verify-backups",
                             description="Restore drill: the evidence of each backup drilled")
    print(f"{len(results) - len(failed)} verified, {len(failed)} failed")
    if failed:
        raise BackupsFailed("; ".join(f"{r['backup']}: {r['detail']}" for r in failed))
    return Drilled(results).summary()


def _drill(backup_ids: list[str], settings, ran_by: str, *, sandbox=nullcontext) -> list[dict]:
    """Restore each backup into the sandbox and read it back; `sandbox` holds the sandbox meanwhile (shards
    on several workers share that one database). `ran_by`: who started the drill, for its evidence."""
    terms = settings.terms
    run = Drill(lifecycle_config.sandbox_url(), ran_by, flow_run_id(),
                (terms.keep_daily_backups, terms.keep_weekly_backups, terms.keep_monthly_backups))
    return [result.row() for result in drill(backup_ids, run.sandbox_url, settings.platform, settings.storage,
                                             sandbox=sandbox, run=run)]


@flow(name="verify-shard", log_prints=True, retries=1, retry_delay_seconds=30, persist_result=True,
      result_serializer="json")
@refusals_fail_quietly
def verify_shard(backup_ids: list[str], ran_by: Optional[str] = None) -> dict:
    """One shard of the restore drill, for any worker of the pool: `verify-backups` starts one per shard.

    Args:
        backup_ids: the backups of this shard.
        ran_by: who started the drill (its evidence says so); this run's starter when not given.
    """
    check_texts(ran_by=(ran_by, 120))
    settings = load_run_settings("verify-shard")
    _check_ids("backup_ids", backup_ids, unknown_backups_problem)
    with holding(OBJECT_STORAGE):
        results = _drill(backup_ids, settings, ran_by or started_by(), sandbox=lambda: holding(SANDBOX))
    failed = [r for r in results if not r["ok"]]
    print(f"{len(results) - len(failed)} verified, {len(failed)} failed")
    return {"verified": len(results) - len(failed), "failed": len(failed)}
