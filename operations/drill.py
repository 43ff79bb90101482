"""The restore drill: restore a sample of recent backups into the sandbox, read them back, and compare row
counts and hashes with their manifests. A backup found damaged is marked `corrupt`, one missing from storage
`gone`; either is never restored, and the customer's next nightly backup is taken afresh. Backups never
verified, or verified longest ago, go first. The flow spreads a large sample over the pool's workers
(`drill` is what one shard does) and reads what they found back from the ledger (`drill_outcomes`).

Each backup drilled leaves evidence an auditor can read, kept in the audit log (action `restore-drill`,
listed by `lifecycle show drills`) and in the run's artifact: what was restored (customer, backup, day,
retention tiers, tables and rows), the hashes (each stored object's SHA-256 checked against the manifest
on download, and each table's content SHA-256 recomputed after decryption from the rows read back from
the sandbox, beside the manifest's), the data key that decrypted it, the sandbox, who ran the drill,
when (Paris time) and the outcome; a failed verification says what differed.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import ClassVar

from sqlalchemy import select

from blocks.platform import PlatformControl
from blocks.storage import ObjectStorage
from ledger import audit, keys
from ledger.db import now, session_scope
from ledger.locks import customer_lock
from ledger.models import AuditEntry, Backup, DeletionIntent
from lifecycle_config.databases import engine_for
from lifecycle_config.scratch import scratch_folder
from operations.backup import mark_corrupt, mark_gone
from operations.backup_archive import BackupGone, CorruptBackup, dump_rows
from operations.restore import restore_into, sandbox_of_this_installation
from operations.results import RunResult
from policy.calendar import PARIS, paris_date, today_paris
from policy.retention import Kept, tiers
from policy.text import markdown_literal, markdown_row
from policy.vocabulary import BackupKind, BackupStatus, in_words

VERIFIED = "rows and hashes match the manifest"
ACTION = "restore-drill"  # the audit log's action of a drill's evidence


@dataclass(frozen=True)
class Verified:
    """One backup's drill: verified or not, and why."""

    backup: str
    customer: str
    ok: bool
    detail: str
    evidence: dict | None = None  # what the audit log keeps of it (see the module's docstring)

    def row(self) -> dict:
        """As the verify-backups flow's result and artifact list it."""
        return {"backup": self.backup, "customer": self.customer, "ok": self.ok, "detail": self.detail,
                "evidence": self.evidence}


@dataclass(frozen=True)
class DrillPlan:
    """Which backups a drill verifies, and since when a verification counts as this drill's."""

    backup_ids: tuple[str, ...]
    since: datetime
    #: customers left out because their approved data deletion is under way (an open deletion intent)
    deleting: tuple[str, ...] = ()

    def skipped_line(self) -> str | None:
        """What the run says of the customers it left out, or None when it left none out."""
        if not self.deleting:
            return None
        return f"not drilled, deletion under way: {', '.join(self.deleting)}"


def plan_drill(sample: int, engine=None) -> DrillPlan:
    """Each customer's latest good backup, never verified or verified longest ago first; `sample` of them. A
    customer whose approved deletion is under way (its intent recorded, its keys shredded or about to be: a killed
    run's, the next sweep completes it) is left out as a deleted one is: its backups are unreadable on purpose, and
    a drill failing on them would alert every week for what is no damage."""
    since = now()
    with session_scope(engine) as session:
        deleting = set(session.scalars(select(DeletionIntent.customer_id)
                                       .where(DeletionIntent.completed_at.is_(None))))
        latest: dict[str, Backup] = {}
        for backup in session.scalars(select(Backup).where(Backup.status == BackupStatus.GOOD,
                                                           Backup.kind == BackupKind.TENANT)
                                      .order_by(Backup.created_at.desc())):
            latest.setdefault(backup.customer_id, backup)
    kept = [backup for backup in latest.values() if backup.customer_id not in deleting]
    chosen = sorted(kept, key=lambda b: (b.verified_at is not None, b.verified_at or b.created_at))[:sample]
    return DrillPlan(tuple(backup.backup_id for backup in chosen), since,
                     tuple(sorted(deleting & set(latest))))


def backups_by_id(backup_ids: list[str], engine=None) -> list[Backup]:
    with session_scope(engine) as session:
        found = {backup.backup_id: backup
                 for backup in session.scalars(select(Backup).where(Backup.backup_id.in_(backup_ids)))}
    return [found[backup_id] for backup_id in backup_ids if backup_id in found]


@dataclass(frozen=True)
class Drill:
    """Who runs a drill, where it restores, and the retention rule its evidence names tiers by."""

    sandbox_url: str
    actor: str
    flow_run_id: str | None = None
    keep: tuple[int, int, int] = (7, 5, 12)  # the terms' keep_daily/weekly/monthly_backups


def drill(backup_ids: list[str], sandbox_url: str, platform: PlatformControl, storage: ObjectStorage, *,
          sandbox=nullcontext, engine=None, holder_gone=None, run: Drill | None = None) -> list[Verified]:
    """Restore each backup into the sandbox and read it back; `sandbox` holds the sandbox meanwhile (shards
    on several workers share that one database). Each one's evidence goes into the audit log."""
    run = run or Drill(sandbox_url, "restore-drill")
    results = []
    chosen = backups_by_id(backup_ids, engine)
    if chosen:  # a sandbox that is not empty nor this installation's: the drill refused once, nothing written
        with sandbox():
            sandbox_of_this_installation(sandbox_url, platform, engine)
    for backup in chosen:
        evidence = _evidence_of(backup, run, engine)
        with sandbox():
            ok, detail = verify_backup(backup, sandbox_url, platform, storage, engine, holder_gone=holder_gone,
                                       evidence=evidence)
        evidence.update(outcome="verified" if ok else "FAILED", detail=detail)
        with session_scope(engine, write=True) as session:
            audit.record(session, ACTION, customer_id=backup.customer_id, before=None, after=evidence,
                         actor=run.actor[:120], flow_run_id=run.flow_run_id)
        results.append(Verified(backup.backup_id, backup.customer_id, ok, detail, evidence))
    return results


def _evidence_of(backup: Backup, run: Drill, engine) -> dict:
    """What the evidence says before the drill runs: the backup, its day and tiers, its key, the sandbox,
    who and when."""
    with session_scope(engine) as session:
        others = [Kept(b.backup_id, b.created_at, b.status == BackupStatus.GOOD)
                  for b in session.scalars(select(Backup).where(Backup.customer_id == backup.customer_id,
                                                                Backup.kind == backup.kind))]
    at = now()
    encryption = (backup.manifest or {}).get("encryption") or {}
    return {"backup_id": backup.backup_id, "customer_id": backup.customer_id, "day": _day_of(backup).isoformat(),
            "tier": ", ".join(tiers(others, backup.backup_id, today_paris(), days=run.keep[0], weeks=run.keep[1],
                                    months=run.keep[2])) or "none (retention will delete it)",
            "data_key": encryption.get("key_id") or "none (made before encryption: stored in clear)",
            "sandbox": engine_for(run.sandbox_url).url.render_as_string(hide_password=True),
            "ran_by": run.actor, "at": at.astimezone(PARIS).isoformat(timespec="seconds"),
            "tables": []}


def _day_of(backup: Backup) -> date:
    """The day whose data the backup holds: the one its id names (a nightly backup's, ledger.keys), else the
    Paris day it was made."""
    stamp = backup.backup_id.rpartition("-")[2]
    try:
        return datetime.strptime(stamp, "%Y%m%d").date() if len(stamp) == 8 else paris_date(backup.created_at)
    except ValueError:
        return paris_date(backup.created_at)


def drill_outcomes(backup_ids: list[str], since: datetime, engine=None) -> list[Verified]:
    """What the drill's shards found, read back from the ledger: verified since `since`, or why not, with
    the evidence each shard kept in the audit log."""
    results = []
    with session_scope(engine) as session:
        kept = {entry.after.get("backup_id"): entry.after
                for entry in session.scalars(select(AuditEntry).where(AuditEntry.action == ACTION,
                                                                            AuditEntry.at >= since)
                                             .order_by(AuditEntry.id))}
    for backup in backups_by_id(backup_ids, engine):
        verified = backup.status == BackupStatus.GOOD and backup.error is None and backup.verified_at is not None \
            and backup.verified_at >= since
        detail = VERIFIED if verified else (
            f"{backup.status}: {backup.error}" if backup.error else "not verified (its shard did not finish)")
        results.append(Verified(backup.backup_id, backup.customer_id, verified, detail, kept.get(backup.backup_id)))
    return results


def verify_backup(backup: Backup, sandbox_url: str, platform: PlatformControl, storage: ObjectStorage,
                  engine=None, *, holder_gone=None, evidence: dict | None = None) -> tuple[bool, str]:
    """A restore drill: restore into the sandbox, read back, compare counts and hashes with the manifest.
    It holds the customer's lock while it reads the backup, so a retention never deletes it mid-drill.
    `evidence["tables"]` gets each table's rows and hashes, as far as the drill got."""
    evidence = evidence if evidence is not None else {"tables": []}
    try:
        with customer_lock(backup.customer_id, keys.lock_holder("drill", backup.backup_id), engine=engine,
                           holder_gone=holder_gone):
            with session_scope(engine) as session:
                status = session.get(Backup, backup.backup_id).status
            if status != BackupStatus.GOOD:  # between the choice and the lock: retention deleted it, a restore
                return False, f"not verified: it is now {in_words(status)}"  # found it gone
            _verify(backup, sandbox_url, platform, storage, evidence["tables"], engine)
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


def _verify(backup: Backup, sandbox_url: str, platform: PlatformControl, storage: ObjectStorage,
            checked: list[dict], engine=None) -> None:
    """Restore (every stored object's size and SHA-256 checked against the manifest on download, then
    decrypted), read each table back from the sandbox and compare its rows and content SHA-256; each
    table's comparison goes into `checked`, the first that differs ends the drill."""
    _, loaded = restore_into(backup, sandbox_url, platform, storage, engine=engine)
    tables = {table.name: table for table in loaded}
    tenant_column = backup.manifest["tenant_column"]
    with scratch_folder() as folder, engine_for(sandbox_url).connect() as connection:
        for copy in backup.manifest["tables"]:
            path = Path(folder) / f"{copy['name']}.check.gz"
            table = tables[copy["name"]]
            rows, digest = dump_rows(connection, table, table.c[tenant_column] == backup.customer_id, path)
            checked.append({"table": copy["name"], "rows_in_manifest": copy["rows"], "rows_read_back": rows,
                            "object_sha256": copy.get("object_sha256"), "sha256_in_manifest": copy["sha256"],
                            "sha256_read_back": digest,
                            "equal": (rows, digest) == (copy["rows"], copy["sha256"])})
            if (rows, digest) != (copy["rows"], copy["sha256"]):
                raise CorruptBackup(f"{copy['name']}: {rows} rows read back, {copy['rows']} in the manifest; "
                                    f"hash {'matches' if digest == copy['sha256'] else 'differs'}")


def evidence_markdown(results: list[dict], ran_by: str) -> str:
    """The drill's artifact: a summary table, then each backup's evidence, for an auditor to read."""
    failed = [r for r in results if not r["ok"]]
    lines = ["# Restore drill: evidence", "",
             f"Run by: {markdown_literal(ran_by)}. {len(results) - len(failed)} verified, {len(failed)} failed. "
             f"Each backup was "
             f"downloaded (every stored object's SHA-256 checked against its manifest), decrypted with its "
             f"customer's data key, restored into the sandbox and read back; the content SHA-256 recomputed from "
             f"the rows read back is compared with the manifest's. The same evidence is in the ledger's audit "
             f"log (`lifecycle show drills`).", "",
             "| backup | customer | result | detail |", "|---|---|---|---|"]
    lines += [f"| {markdown_literal(r['backup'])} | {markdown_literal(r['customer'])} | "
              f"{'verified' if r['ok'] else '**FAILED**'} | {markdown_literal(r['detail'])} |"
              for r in results] or ["| | | no backup to verify | |"]
    for r in results:
        evidence = r.get("evidence")
        if not evidence:
            continue
        shown = {key: markdown_literal(value) for key, value in evidence.items() if key != "tables"}
        lines += ["", f"## {shown['backup_id']} ({shown['outcome']})", "",
                  f"- customer: {shown['customer_id']}; backup of {shown['day']}; kept as: {shown['tier']}",
                  f"- data key: {shown['data_key']}",
                  f"- restored into: {shown['sandbox']}",
                  f"- run by: {shown['ran_by']}, at {shown['at']} (Paris)",
                  f"- outcome: {shown['outcome']}: {shown['detail']}"]
        if evidence["tables"]:
            lines += ["", "| table | rows (manifest) | rows (read back) | stored object SHA-256 (checked) | "
                          "content SHA-256 (manifest) | content SHA-256 (read back) | equal |",
                      "|---|---|---|---|---|---|---|"]
            lines += [markdown_row(t["table"], t["rows_in_manifest"], t["rows_read_back"], t["object_sha256"],
                                   t["sha256_in_manifest"], t["sha256_read_back"])
                      + (" yes |" if t["equal"] else " **NO** |") for t in evidence["tables"]]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Drilled(RunResult):
    """The verify-backups run's result: each backup's drill (Verified.row)."""
    flow: ClassVar[str] = "verify-backups"
    verified: list[dict]
