"""The restore drill: restore a sample of recent backups into the sandbox, read them back, and compare row
counts and hashes with their manifests. A backup found damaged is marked `corrupt`, one missing from storage
`gone`; either is never restored, and the customer's next nightly backup is taken afresh. Backups never
verified, or verified longest ago, go first. The flow spreads a large sample over the pool's workers
(`drill` is what one shard does) and reads what they found back from the ledger (`drill_outcomes`).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from sqlalchemy import select

from blocks.platform import PlatformControl
from blocks.storage import ObjectStorage
from ledger import keys
from ledger.db import now, session_scope
from ledger.locks import customer_lock
from ledger.models import Backup
from lifecycle_config.databases import engine_for
from lifecycle_config.scratch import scratch_folder
from operations.backup import mark_corrupt, mark_gone
from operations.backup_archive import BackupGone, CorruptBackup, dump_rows
from operations.restore import restore_into
from operations.results import RunResult
from policy.vocabulary import BackupKind, BackupStatus, in_words

VERIFIED = "rows and hashes match the manifest"


@dataclass(frozen=True)
class Verified:
    """One backup's drill: verified or not, and why."""

    backup: str
    customer: str
    ok: bool
    detail: str

    def row(self) -> dict:
        """As the verify-backups flow's result and artifact list it."""
        return {"backup": self.backup, "customer": self.customer, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True)
class DrillPlan:
    """Which backups a drill verifies, and since when a verification counts as this drill's."""

    backup_ids: tuple[str, ...]
    since: datetime


def plan_drill(sample: int, engine=None) -> DrillPlan:
    """Each customer's latest good backup, never verified or verified longest ago first; `sample` of them."""
    since = now()
    with session_scope(engine) as session:
        latest: dict[str, Backup] = {}
        for backup in session.scalars(select(Backup).where(Backup.status == BackupStatus.GOOD,
                                                           Backup.kind == BackupKind.TENANT)
                                      .order_by(Backup.created_at.desc())):
            latest.setdefault(backup.customer_id, backup)
    chosen = sorted(latest.values(), key=lambda b: (b.verified_at is not None, b.verified_at or b.created_at))[:sample]
    return DrillPlan(tuple(backup.backup_id for backup in chosen), since)


def backups_by_id(backup_ids: list[str], engine=None) -> list[Backup]:
    with session_scope(engine) as session:
        found = {backup.backup_id: backup
                 for backup in session.scalars(select(Backup).where(Backup.backup_id.in_(backup_ids)))}
    return [found[backup_id] for backup_id in backup_ids if backup_id in found]


def drill(backup_ids: list[str], sandbox_url: str, platform: PlatformControl, storage: ObjectStorage, *,
          sandbox=nullcontext, engine=None, holder_gone=None) -> list[Verified]:
    """Restore each backup into the sandbox and read it back; `sandbox` holds the sandbox meanwhile (shards
    on several workers share that one database)."""
    results = []
    for backup in backups_by_id(backup_ids, engine):
        with sandbox():
            ok, detail = verify_backup(backup, sandbox_url, platform, storage, engine, holder_gone=holder_gone)
        results.append(Verified(backup.backup_id, backup.customer_id, ok, detail))
    return results


def drill_outcomes(backup_ids: list[str], since: datetime, engine=None) -> list[Verified]:
    """What the drill's shards found, read back from the ledger: verified since `since`, or why not."""
    results = []
    for backup in backups_by_id(backup_ids, engine):
        verified = backup.status == BackupStatus.GOOD and backup.error is None and backup.verified_at is not None \
            and backup.verified_at >= since
        detail = VERIFIED if verified else (
            f"{backup.status}: {backup.error}" if backup.error else "not verified (its shard did not finish)")
        results.append(Verified(backup.backup_id, backup.customer_id, verified, detail))
    return results


def verify_backup(backup: Backup, sandbox_url: str, platform: PlatformControl, storage: ObjectStorage,
                  engine=None, *, holder_gone=None) -> tuple[bool, str]:
    """A restore drill: restore into the sandbox, read back, compare counts and hashes with the manifest.
    It holds the customer's lock while it reads the backup, so a retention never deletes it mid-drill."""
    try:
        with customer_lock(backup.customer_id, keys.lock_holder("drill", backup.backup_id), engine=engine,
                           holder_gone=holder_gone):
            with session_scope(engine) as session:
                status = session.get(Backup, backup.backup_id).status
            if status != BackupStatus.GOOD:  # between the choice and the lock: retention deleted it, a restore
                return False, f"not verified: it is now {in_words(status)}"  # found it gone
            _verify(backup, sandbox_url, platform, storage)
    except BackupGone as error:  # deleted from storage, not damaged: never restored, replaced tonight
        mark_gone(backup.backup_id, str(error), actor="restore-drill", flow_run_id=backup.flow_run_id, engine=engine)
        return False, f"BackupGone: {error} (now marked gone; the next nightly backup takes a fresh one)"
    except CorruptBackup as error:  # the backup itself is damaged: never restored, replaced tonight
        mark_corrupt(backup.backup_id, str(error), actor="restore-drill", flow_run_id=backup.flow_run_id, engine=engine)
        return False, f"CorruptBackup: {error} (now marked corrupt; the next nightly backup takes a fresh one)"
    except Exception as error:  # noqa: BLE001 - the drill could not run (sandbox, storage): nothing said of the backup
        message = f"{type(error).__name__}: {error}"
        with session_scope(engine, write=True) as session:
            session.get(Backup, backup.backup_id).error = f"verification could not run: {message}"[:2000]
        return False, message
    with session_scope(engine, write=True) as session:
        record = session.get(Backup, backup.backup_id)
        record.verified_at, record.error = now(), None
    return True, VERIFIED


def _verify(backup: Backup, sandbox_url: str, platform: PlatformControl, storage: ObjectStorage) -> None:
    _, loaded = restore_into(backup, sandbox_url, platform, storage)
    tables = {table.name: table for table in loaded}
    tenant_column = backup.manifest["tenant_column"]
    with scratch_folder() as folder, engine_for(sandbox_url).connect() as connection:
        for copy in backup.manifest["tables"]:
            path = Path(folder) / f"{copy['name']}.check.gz"
            table = tables[copy["name"]]
            rows, digest = dump_rows(connection, table, table.c[tenant_column] == backup.customer_id, path)
            if (rows, digest) != (copy["rows"], copy["sha256"]):
                raise CorruptBackup(f"{copy['name']}: {rows} rows read back, {copy['rows']} in the manifest; "
                                    f"hash {'matches' if digest == copy['sha256'] else 'differs'}")


@dataclass(frozen=True)
class Drilled(RunResult):
    """The verify-backups run's result: each backup's drill (Verified.row)."""
    flow: ClassVar[str] = "verify-backups"
    verified: list[dict]
