"""What the backup flows do per customer: back up, restore, verify, apply retention; and snapshot the ledger.

Every operation on a customer's data holds that customer's lock (`ledger.locks`), so a backup, a
restore and a purge of one customer never overlap; the second waits, then gives up clearly.
"""

from __future__ import annotations

import tempfile
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import MetaData, Table, select, true

from blocks.platform import PlatformControl
from blocks.storage import ObjectStorage
from ledger import audit, keys
from ledger.db import now, session_scope
from lifecycle_config.databases import engine_for
from ledger.locks import customer_lock
from ledger.models import Backup, Base, Customer, Intervention, RestoreJob
from policy.calendar import month_key, paris_date
from policy.ids import id_problem
from policy.categories import RECOVERY
from policy.quota import recovery_minutes
from policy.retention import Kept, keep
from policy.terms import Terms
from policy.vocabulary import BackupKind, BackupStatus, InterventionSource, RestoreStatus, RestoreTarget
from tasks.backup_archive import CorruptBackup, Timer, fetch_verified, load_rows, read_manifest, write_backup
from tasks.runtime import Refusal



def _tenant_filter(platform: PlatformControl, customer_id: str):
    return lambda table: table.c[platform.tenant_column] == customer_id


class RestoreRefused(Refusal, ValueError):
    """No such customer or backup, or nothing may be restored: nothing was done, nothing billed."""


@dataclass
class BackupOutcome:
    customer_id: str
    backup_id: str
    status: str  # good | skipped | failed
    rows: int = 0
    bytes: int = 0
    error: str | None = None


def backup_customer(customer_id: str, day: date, platform: PlatformControl, storage: ObjectStorage, *,
                    tables: list[Table] | None = None, kind: str = BackupKind.TENANT, backup_id: str | None = None,
                    flow_run_id: str | None = None, hold_lock: bool = True, engine=None) -> BackupOutcome:
    """Back up one customer; `hold_lock=False` when the caller already holds the customer's lock."""
    problem = id_problem(customer_id)
    if problem:  # an id that could reach past its folder is never turned into a key
        return BackupOutcome(customer_id, "", "failed", error=f"not backed up, nothing written: its id is unsafe "
                                                                f"({problem}); give the customer a new id")
    backup_id = backup_id or keys.nightly_backup(customer_id, day)
    with session_scope(engine) as session:
        existing = session.get(Backup, backup_id)
        if existing is not None and existing.status == BackupStatus.GOOD:
            return BackupOutcome(customer_id, backup_id, "skipped", existing.rows or 0, existing.bytes or 0)
    source = platform.engine()
    tables = tables if tables is not None else platform.tenant_tables()
    lock = customer_lock(customer_id, keys.lock_holder(f"{kind}-backup", flow_run_id or backup_id), engine=engine) if hold_lock \
        else nullcontext()
    try:
        with lock:
            record = write_backup(backup_id=backup_id, prefix=keys.backup_folder(customer_id, backup_id), tables=tables,
                                  source=source, where_of=_tenant_filter(platform, customer_id), storage=storage,
                                  customer_id=customer_id, kind=kind, tenant_column=platform.tenant_column,
                                  flow_run_id=flow_run_id, engine=engine)
    except Exception as error:  # reported per customer; the run fails at the end
        return BackupOutcome(customer_id, backup_id, "failed", error=f"{type(error).__name__}: {error}")
    return BackupOutcome(customer_id, backup_id, "good", record.rows or 0, record.bytes or 0)


def apply_retention(customer_id: str | None, day: date, terms: Terms, storage: ObjectStorage, engine=None) -> list[str]:
    """Delete the backups retention does not keep (objects and all their versions); returns their ids."""
    with session_scope(engine) as session:
        query = select(Backup).where(Backup.status.in_((BackupStatus.GOOD, BackupStatus.FAILED)))
        query = query.where(Backup.customer_id == customer_id) if customer_id else query.where(Backup.kind == BackupKind.LEDGER)
        backups = session.scalars(query).all()
        kept = keep([Kept(b.backup_id, b.created_at, b.status == BackupStatus.GOOD) for b in backups], day,
                    days=terms.keep_daily_backups, weeks=terms.keep_weekly_backups, months=terms.keep_monthly_backups)
        doomed = [(b.backup_id, b.manifest_key) for b in backups
                  if b.backup_id not in kept and (b.status == BackupStatus.GOOD or paris_date(b.created_at) < day)]
    store = storage.store()
    for backup_id, manifest_key in doomed:
        prefix = (keys.backup_folder(customer_id, backup_id) if customer_id
                  else keys.ledger_snapshot_folder(backup_id))
        for item in store.list(prefix):
            store.delete(item.key)
        with session_scope(engine, write=True) as session:
            record = session.get(Backup, backup_id)
            record.status, record.deleted_at = BackupStatus.DELETED, now()
    return [backup_id for backup_id, _ in doomed]


def choose_backup(customer_id: str, backup_id: str | None, engine=None) -> Backup:
    with session_scope(engine) as session:
        if backup_id:
            backup = session.get(Backup, backup_id)
            if backup is None or backup.customer_id != customer_id:
                raise RestoreRefused(f"no backup {backup_id!r} of customer {customer_id!r}")
            if backup.status != BackupStatus.GOOD:
                raise RestoreRefused(f"backup {backup_id} is {backup.status}, not a good backup")
            return backup
        backup = session.scalars(select(Backup).where(Backup.customer_id == customer_id, Backup.status == BackupStatus.GOOD,
                                                      Backup.kind.in_((BackupKind.TENANT, BackupKind.SAFETY)))
                                 .order_by(Backup.created_at.desc())).first()
        if backup is None:
            raise RestoreRefused(f"customer {customer_id!r} has no good backup to restore")
        return backup


def _target_tables(target, source_tables: list[Table], create: bool) -> list[Table]:
    """The same tables on the target database (created there when restoring into the sandbox)."""
    metadata = MetaData()
    copies = [table.to_metadata(metadata) for table in source_tables]
    if create:
        # the sandbox may be another database engine than the platform: generic types, no server defaults
        for table in copies:
            for column in table.columns:
                column.server_default = None
                try:
                    column.type = column.type.as_generic()
                except NotImplementedError:
                    pass
        metadata.create_all(target)
    return copies


def _fetch(backup: Backup, platform: PlatformControl, storage: ObjectStorage, folder: Path):
    """Everything a restore checks before it writes: the manifest is the ledger's, its tables still exist on
    the platform, every object is there whole. Returns (manifest, local paths, the platform's tables)."""
    manifest = read_manifest(storage, backup)
    source_tables = platform.tenant_tables()
    known = {table.name for table in source_tables}
    missing = [copy["name"] for copy in manifest["tables"] if copy["name"] not in known]
    if missing:
        raise CorruptBackup(f"backup {backup.backup_id}: tables {missing} no longer exist on the platform")
    return manifest, fetch_verified(storage, manifest, folder), source_tables


def _load(backup: Backup, fetched, target_url: str, platform: PlatformControl, *, create_tables: bool) -> dict[str, int]:
    manifest, paths, source_tables = fetched
    target = engine_for(target_url)
    tables = _target_tables(target, source_tables, create_tables)
    return load_rows(target, tables, paths, manifest, _tenant_filter(platform, backup.customer_id))


def restore_into(backup: Backup, target_url: str, platform: PlatformControl, storage: ObjectStorage, *,
                 create_tables: bool) -> dict[str, int]:
    """Verify every object of the backup, then replace the customer's rows on the target in one transaction."""
    with tempfile.TemporaryDirectory() as folder:
        return _load(backup, _fetch(backup, platform, storage, Path(folder)), target_url, platform,
                     create_tables=create_tables)


@dataclass
class RestoreOutcome:
    job_id: int
    backup_id: str
    target: str
    rows: dict[str, int]
    seconds: float
    minutes: int
    intervention_id: str
    repeated: bool = False
    safety_backup_id: str | None = None


def restore_customer(customer_id: str, backup_id: str | None, target: str, requested_by: str, ticket: str, *,
                     platform: PlatformControl, storage: ObjectStorage, sandbox_url: str, flow_run_id: str | None,
                     actor: str, request_key: str | None = None, engine=None) -> RestoreOutcome:
    """A restore on request: billed as a `data_recovery` intervention once per request (`request_key`,
    by default the flow run's)."""
    request_key = request_key or keys.restore_request(flow_run_id)
    with session_scope(engine) as session:
        done = session.scalar(select(RestoreJob).where(RestoreJob.request_key == request_key,
                                                       RestoreJob.status == RestoreStatus.DONE))
        if done is not None:
            return RestoreOutcome(done.id, done.backup_id, done.target, {}, float(done.seconds or 0),
                                  recovery_minutes(float(done.seconds or 0)), done.intervention_id, repeated=True,
                                  safety_backup_id=done.safety_backup_id)
        customer = session.get(Customer, customer_id)
        if customer is None:
            raise RestoreRefused(f"unknown customer {customer_id!r}")
        if customer.stage == "data_deleted":
            raise RestoreRefused(f"customer {customer_id}'s data was deleted after arrears: nothing may be restored")
    backup = choose_backup(customer_id, backup_id, engine)
    timer = Timer()
    with session_scope(engine, write=True) as session:
        job = session.scalar(select(RestoreJob).where(RestoreJob.request_key == request_key))
        if job is None:
            job = RestoreJob(request_key=request_key, customer_id=customer_id, backup_id=backup.backup_id,
                             target=target, requested_by=requested_by, ticket=ticket, started_at=timer.started)
            session.add(job)
            session.flush()
        job.status, job.error, job.started_at = RestoreStatus.RUNNING, None, timer.started
        job_id = job.id
    safety_id = None
    try:
        with customer_lock(customer_id, keys.lock_holder("restore", request_key), engine=engine), \
                tempfile.TemporaryDirectory() as folder:
            fetched = _fetch(backup, platform, storage, Path(folder))  # a bad backup is refused here, before any write
            if target == RestoreTarget.IN_PLACE:
                safety_id = keys.safety_backup(customer_id, timer.started, job_id)
                safety = backup_customer(customer_id, paris_date(timer.started), platform, storage, kind=BackupKind.SAFETY,
                                         backup_id=safety_id, flow_run_id=flow_run_id, hold_lock=False,
                                         engine=engine)
                if safety.status != "good":
                    raise RuntimeError(f"the safety backup failed, nothing was restored: {safety.error}")
                rows = _load(backup, fetched, platform.platform_url(), platform, create_tables=False)
            else:
                rows = _load(backup, fetched, sandbox_url, platform, create_tables=True)
    except Exception as error:
        with session_scope(engine, write=True) as session:
            job = session.get(RestoreJob, job_id)
            job.status, job.error, job.finished_at = RestoreStatus.FAILED, f"{type(error).__name__}: {error}"[:2000], now()
        raise
    seconds = timer.seconds()
    minutes = recovery_minutes(seconds)
    intervention_id = keys.restore_intervention(job_id)
    with session_scope(engine, write=True) as session:
        job = session.get(RestoreJob, job_id)
        session.add(Intervention(intervention_id=intervention_id, customer_id=customer_id, started_at=timer.started,
                                 month=month_key(paris_date(timer.started)), minutes=minutes, category=RECOVERY,
                                 ticket=ticket, engineer=requested_by, source=InterventionSource.RESTORE,
                                 description=f"Restore of backup {backup.backup_id} into {target} "
                                             f"({seconds:.1f} s)", created_at=now()))
        session.flush()
        job.status, job.finished_at, job.seconds = RestoreStatus.DONE, now(), Decimal(f"{seconds:.3f}")
        job.intervention_id, job.safety_backup_id = intervention_id, safety_id
        audit.record(session, "backup_restored", customer_id=customer_id, before=None, actor=actor,
                     flow_run_id=flow_run_id, after={"backup": backup.backup_id, "target": target, "rows": rows,
                                                     "ticket": ticket, "requested_by": requested_by,
                                                     "billed_minutes": minutes, "safety_backup": safety_id})
    return RestoreOutcome(job_id, backup.backup_id, target, rows, seconds, minutes, intervention_id,
                          safety_backup_id=safety_id)


def verify_backup(backup: Backup, sandbox_url: str, platform: PlatformControl, storage: ObjectStorage,
                  engine=None) -> tuple[bool, str]:
    """A restore drill: restore into the sandbox, read back, compare counts and hashes with the manifest."""
    try:
        restore_into(backup, sandbox_url, platform, storage, create_tables=True)
        target = engine_for(sandbox_url)
        tables = {t.name: t for t in _target_tables(target, platform.tenant_tables(), False)}
        from tasks.backup_archive import dump_rows

        with tempfile.TemporaryDirectory() as folder, target.connect() as connection:
            for copy in backup.manifest["tables"]:
                path = Path(folder) / f"{copy['name']}.check.gz"
                table = tables[copy["name"]]
                rows, digest = dump_rows(connection, table,
                                         table.c[platform.tenant_column] == backup.customer_id, path)
                if (rows, digest) != (copy["rows"], copy["sha256"]):
                    raise CorruptBackup(f"{copy['name']}: {rows} rows read back, {copy['rows']} in the manifest; "
                                        f"hash {'matches' if digest == copy['sha256'] else 'differs'}")
    except Exception as error:  # noqa: BLE001 - the drill reports, it does not crash the run
        message = f"{type(error).__name__}: {error}"
        with session_scope(engine, write=True) as session:
            session.get(Backup, backup.backup_id).error = f"verification failed: {message}"[:2000]
        return False, message
    with session_scope(engine, write=True) as session:
        record = session.get(Backup, backup.backup_id)
        record.verified_at, record.error = now(), None
    return True, "rows and hashes match the manifest"


def snapshot_ledger(day: date, storage: ObjectStorage, *, flow_run_id: str | None, engine=None) -> Backup:
    """A consistent copy of the ledger itself (the 10-year accounting record), in the same format."""
    from ledger.db import ledger_engine

    source = engine or ledger_engine()
    backup_id = keys.ledger_snapshot(day, datetime.now(timezone.utc))
    return write_backup(backup_id=backup_id, prefix=keys.ledger_snapshot_folder(backup_id), tables=list(Base.metadata.sorted_tables),
                        source=source, where_of=lambda table: true(), storage=storage, customer_id=None, kind=BackupKind.LEDGER,
                        tenant_column=None, flow_run_id=flow_run_id, engine=engine)


def restore_ledger_snapshot(backup_id: str, target_url: str, storage: ObjectStorage, engine=None) -> dict[str, int]:
    """Load a ledger snapshot into an empty ledger at `target_url` (see the README)."""
    from sqlalchemy import func

    from ledger.migrate import upgrade

    with session_scope(engine) as session:
        backup = session.get(Backup, backup_id)
    if backup is None or backup.kind != BackupKind.LEDGER or backup.status != BackupStatus.GOOD:
        raise ValueError(f"no good ledger snapshot {backup_id!r}")
    upgrade(target_url)
    target = engine_for(target_url)
    with target.connect() as connection:
        if connection.scalar(select(func.count()).select_from(Customer.__table__)):
            raise ValueError("the target ledger is not empty: restore a snapshot only into a new database")
    manifest = read_manifest(storage, backup)
    with tempfile.TemporaryDirectory() as folder:
        paths = fetch_verified(storage, manifest, Path(folder))
        return load_rows(target, list(Base.metadata.sorted_tables), paths, manifest, lambda table: true())


def backup_chunk(customer_ids: list[str], day: date, platform: PlatformControl, storage: ObjectStorage, terms: Terms,
                 *, flow_run_id: str | None, engine=None) -> list[BackupOutcome]:
    """Back up a chunk of customers one after the other, then apply their retention (one task per chunk)."""
    tables = platform.tenant_tables()
    outcomes = []
    for customer_id in customer_ids:
        outcome = backup_customer(customer_id, day, platform, storage, tables=tables, flow_run_id=flow_run_id,
                                  engine=engine)
        if outcome.status != "failed":
            apply_retention(customer_id, day, terms, storage, engine)
        outcomes.append(outcome)
    return outcomes


def customers_to_back_up(customer_id: str | None = None, engine=None) -> list[str]:
    """Every customer whose data was not deleted (or just the one asked for), in id order."""
    with session_scope(engine) as session:
        query = select(Customer.customer_id).where(Customer.stage != "data_deleted").order_by(Customer.customer_id)
        if customer_id:
            query = query.where(Customer.customer_id == customer_id)
        return list(session.scalars(query))


def backups_to_verify(sample: int, engine=None) -> list[Backup]:
    """Each customer's latest good backup, never verified or verified longest ago first; `sample` of them."""
    with session_scope(engine) as session:
        latest: dict[str, Backup] = {}
        for backup in session.scalars(select(Backup).where(Backup.status == BackupStatus.GOOD, Backup.kind == BackupKind.TENANT)
                                      .order_by(Backup.created_at.desc())):
            latest.setdefault(backup.customer_id, backup)
    return sorted(latest.values(), key=lambda b: (b.verified_at is not None, b.verified_at or b.created_at))[:sample]


backup_chunk_task = task(backup_chunk, name="backup-chunk", cache_policy=NO_CACHE, persist_result=False)
