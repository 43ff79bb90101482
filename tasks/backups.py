"""The backup operations as a run calls them: operations/backup.py, restore.py and drill.py with the run's
Prefect side, and nothing else.

An operation takes `holder_gone` (may the lock a finished flow run left be taken over? Prefect knows) and
`log_bug` (where a bug met on one customer is told: the run's log, with its traceback); here they are the
run's (tasks.runtime). The backup of a chunk is the task the nightly backup submits, one per chunk.
"""

from __future__ import annotations

from datetime import date

from prefect import task
from prefect.cache_policies import NO_CACHE

from blocks.platform import PlatformControl
from blocks.storage import ObjectStorage
from operations import backup, restore
from operations import drill as drills
from policy.terms import Terms
from tasks.runtime import flow_run_gone, log_bug


def backup_customer(customer_id: str, day: date, platform: PlatformControl, storage: ObjectStorage,
                    **options) -> backup.BackupOutcome:
    """operations.backup.backup_customer in a run (a cancellation's final backup)."""
    return backup.backup_customer(customer_id, day, platform, storage, holder_gone=flow_run_gone, log_bug=log_bug,
                                  **options)


def backup_chunk(customer_ids: list[str], day: date, platform: PlatformControl, storage: ObjectStorage, terms: Terms,
                 *, flow_run_id: str | None) -> list[backup.BackupOutcome]:
    return backup.backup_chunk(customer_ids, day, platform, storage, terms, flow_run_id=flow_run_id,
                               holder_gone=flow_run_gone, log_bug=log_bug)


backup_chunk_task = task(backup_chunk, name="backup-chunk", cache_policy=NO_CACHE, persist_result=False)


def restore_customer(*args, **options) -> restore.RestoreOutcome:
    """operations.restore.restore_customer in a run."""
    return restore.restore_customer(*args, holder_gone=flow_run_gone, log_bug=log_bug, **options)


def drill(backup_ids: list[str], sandbox_url: str, platform: PlatformControl, storage: ObjectStorage, *,
          sandbox, run: drills.Drill) -> list[drills.Verified]:
    """operations.drill.drill in a run."""
    return drills.drill(backup_ids, sandbox_url, platform, storage, sandbox=sandbox, holder_gone=flow_run_gone,
                        run=run)
