"""What the backup flows do per customer: back up, restore, verify, apply retention; and snapshot the ledger.

Every operation on a customer's data holds that customer's lock (`ledger.locks`), so a backup, a
restore, a drill, a retention and a purge of one customer never overlap; the second waits, then gives
up clearly. A restore chooses its backup holding the lock, and retention deletes only holding it, so
retention never deletes the backup a running restore or drill reads. The lock, not a mark on the
backup, is the hold: a holder killed with -9 leaves a lock that is taken over (ledger.locks), never a
backup held for ever.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import MetaData, Table, inspect, select, true

from blocks.platform import PlatformControl
from blocks.storage import ObjectStorage, StoreUnavailable
from ledger import audit, keys
from ledger.db import now, session_scope
from lifecycle_config.databases import engine_for
from ledger.locks import STALE_SECONDS, CustomerBusy, customer_lock, why_gone
from ledger.models import Backup, Base, Customer, CustomerLock, Intervention, RestoreJob
from policy.calendar import month_key, paris_date
from policy.ids import id_problem
from policy.text import text_problem
from policy.categories import RECOVERY
from policy.quota import recovery_minutes
from policy.retention import Kept, keep
from policy.terms import Terms
from policy.vocabulary import (BackupKind, BackupStatus, InterventionSource, RestoreStatus, RestoreTarget,
                               in_words, restored_where)
from tasks.backup_archive import (BackupGone, CorruptBackup, Timer, dump_rows, fetch_verified, load_rows, read_manifest,
                                  write_backup)
from tasks.backup_schema import SchemaDrift, describe, drift, parse_renames, tables_from
from lifecycle_config.conditions import one_line
from tasks.runtime import Refusal, flow_run_gone, log_bug
from lifecycle_config.scratch import scratch_folder
from lifecycle_config.failpoints import failpoint



#: a ledger snapshot still `running` after this long was left by a run that died
LEDGER_SNAPSHOT_HOURS = 2


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
    store_down: bool = False  # failed because the store could not be used at all (not this customer's fault)


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
    lock = customer_lock(customer_id, keys.lock_holder(f"{kind}-backup", flow_run_id or backup_id), engine=engine,
                         flow_run_id=flow_run_id, holder_gone=flow_run_gone) if hold_lock else nullcontext()
    try:
        with lock:
            with session_scope(engine) as session:  # again, holding the lock: another run of its shard did it
                existing = session.get(Backup, backup_id)
                if existing is not None and existing.status == BackupStatus.GOOD:
                    return BackupOutcome(customer_id, backup_id, "skipped", existing.rows or 0, existing.bytes or 0)
            record = write_backup(backup_id=backup_id, prefix=keys.backup_folder(customer_id, backup_id), tables=tables,
                                  source=source, where_of=_tenant_filter(platform, customer_id), storage=storage,
                                  customer_id=customer_id, kind=kind, tenant_column=platform.tenant_column,
                                  flow_run_id=flow_run_id, engine=engine)
    except StoreUnavailable as down:  # the store, not this customer: the caller stops the night
        return BackupOutcome(customer_id, backup_id, "failed", error=str(down), store_down=True)
    except Exception as error:  # reported per customer; the run fails at the end
        log_bug(f"backup {backup_id}", error)
        return BackupOutcome(customer_id, backup_id, "failed", error=f"{type(error).__name__}: {one_line(error)}")
    return BackupOutcome(customer_id, backup_id, "good", record.rows or 0, record.bytes or 0)


def mark_not_backed_up(customer_ids: list[str], day: date, reason: str, *, flow_run_id: str | None,
                       engine=None) -> list[BackupOutcome]:
    """Once the store is known unusable, the customers not yet tried are recorded as not backed up that night,
    in one transaction (no object written, no manifest): `show backups` and the ledger say so at once,
    instead of each customer waiting for its own connection to fail. A backup already good stays good."""
    outcomes = []
    with session_scope(engine, write=True) as session:
        ids = {customer_id: keys.nightly_backup(customer_id, day) for customer_id in customer_ids
               if not id_problem(customer_id)}
        found = {b.backup_id: b for b in session.scalars(select(Backup).where(Backup.backup_id.in_(list(ids.values()))))}
        for customer_id in customer_ids:
            backup_id = ids.get(customer_id)
            if backup_id is None:
                outcomes.append(BackupOutcome(customer_id, "", "failed", error="not backed up: its id is unsafe"))
                continue
            record = found.get(backup_id)
            if record is not None and record.status == BackupStatus.GOOD:
                outcomes.append(BackupOutcome(customer_id, backup_id, "skipped", record.rows or 0, record.bytes or 0))
                continue
            if record is None:
                record = Backup(backup_id=backup_id, customer_id=customer_id, kind=BackupKind.TENANT, created_at=now())
                session.add(record)
            record.status, record.error, record.flow_run_id = BackupStatus.FAILED, f"not backed up: {reason}"[:2000], \
                flow_run_id
            record.manifest = record.manifest_key = None
            outcomes.append(BackupOutcome(customer_id, backup_id, "failed", error=reason, store_down=True))
    return outcomes


#: how long a retention waits for a customer's lock before leaving that customer's retention to the next night
RETENTION_WAIT_SECONDS = 60.0


def apply_retention(customer_id: str | None, day: date, terms: Terms, storage: ObjectStorage, engine=None, *,
                    flow_run_id: str | None = None, wait_seconds: float = RETENTION_WAIT_SECONDS) -> list[str]:
    """Delete the backups retention does not keep (objects and all their versions); returns their ids.

    A customer's retention holds the customer's lock, as a restore and a drill do while they read a
    backup: it never deletes what a running job holds. A customer busy past `wait_seconds` keeps its
    backups until the next night's retention (nothing is lost by waiting)."""
    if customer_id is None:
        return _apply_retention(None, day, terms, storage, engine)
    holder = keys.lock_holder("retention", flow_run_id or day.isoformat())
    try:
        with customer_lock(customer_id, holder, wait_seconds=wait_seconds, engine=engine, flow_run_id=flow_run_id,
                           holder_gone=flow_run_gone):
            return _apply_retention(customer_id, day, terms, storage, engine)
    except CustomerBusy as busy:
        print(f"retention of {customer_id} left to the next night: {busy}")
        return []


def _apply_retention(customer_id: str | None, day: date, terms: Terms, storage: ObjectStorage, engine=None) -> list[str]:
    with session_scope(engine) as session:
        query = select(Backup).where(Backup.status.in_((BackupStatus.GOOD, BackupStatus.FAILED, BackupStatus.CORRUPT,
                                                        BackupStatus.GONE)))
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
            if backup.status == BackupStatus.GONE:
                raise RestoreRefused(f"backup {backup_id} is gone from storage (its objects were deleted), nothing was "
                                     f"restored: choose another, or none for the latest good one")
            if backup.status != BackupStatus.GOOD:
                raise RestoreRefused(f"backup {backup_id} is {in_words(backup.status)}, not a good backup")
            return backup
        backup = session.scalars(select(Backup).where(Backup.customer_id == customer_id, Backup.status == BackupStatus.GOOD,
                                                      Backup.kind.in_((BackupKind.TENANT, BackupKind.SAFETY)))
                                 .order_by(Backup.created_at.desc())).first()
        if backup is None:
            raise RestoreRefused(f"customer {customer_id!r} has no good backup to restore")
        return backup


def _live_tables(source_tables: list[Table]) -> list[Table]:
    """The platform's tables, bound to a metadata of their own."""
    metadata = MetaData()
    return [table.to_metadata(metadata) for table in source_tables]


def _shape(table: Table) -> list[tuple[str, str]]:
    return [(entry["name"], entry["type"]) for entry in describe(table)]


def _sandbox_tables(target, manifest: dict, platform: PlatformControl) -> list[Table]:
    """The backup's tables in the sandbox, (re)created from the backup's own schema so a drill never
    depends on the live one; a manifest that kept only column names falls back to the live tables."""
    tables = tables_from(manifest)
    if tables is None:
        tables = _live_tables(platform.tenant_tables())
        # the sandbox may be another database engine than the platform: generic types, no server defaults
        for table in tables:
            for column in table.columns:
                column.server_default = None
                try:
                    column.type = column.type.as_generic()
                except NotImplementedError:
                    pass
    existing = inspect(target)
    for table in tables:
        if existing.has_table(table.name):
            sandbox = Table(table.name, MetaData(), autoload_with=target)
            if _shape(sandbox) != _shape(table):  # left by a backup of another shape: the sandbox is scratch
                sandbox.drop(target)
        table.create(target, checkfirst=True)
    return tables


@dataclass
class Fetched:
    """What a restore checked before it writes: the manifest, the verified local objects, the tables."""
    manifest: dict
    paths: dict[str, Path]
    tables: list[Table]


def _fetch(backup: Backup, platform: PlatformControl, storage: ObjectStorage, folder: Path, *, target_url: str,
           in_place: bool, renames: dict[str, dict[str, str]] | None = None) -> Fetched:
    """Everything a restore checks before it writes: the manifest is the ledger's; in place, the live
    tables still have the backup's shape (any drift refuses, listed); every object is there whole."""
    manifest = read_manifest(storage, backup)
    target = engine_for(target_url)
    if in_place:
        live = platform.tenant_tables()
        differences = drift(manifest, live, renames)
        if differences:
            raise RestoreRefused(f"backup {backup.backup_id} cannot be restored in place, the platform's tables "
                                 f"changed since it was made (nothing was changed or billed): "
                                 + "; ".join(differences)
                                 + ". Restore into the sandbox, or name renamed columns with --map-columns "
                                   "table.old=new")
        tables = _live_tables(live)
    else:
        tables = None
    paths = fetch_verified(storage, manifest, folder)
    return Fetched(manifest, paths, tables if tables is not None else _sandbox_tables(target, manifest, platform))


def _load(backup: Backup, fetched: Fetched, target_url: str,
          renames: dict[str, dict[str, str]] | None = None) -> dict[str, int]:
    tenant_column = fetched.manifest["tenant_column"]
    return load_rows(engine_for(target_url), fetched.tables, fetched.paths, fetched.manifest,
                     lambda table: table.c[tenant_column] == backup.customer_id, renames)


def restore_into(backup: Backup, target_url: str, platform: PlatformControl, storage: ObjectStorage, *,
                 in_place: bool = False) -> tuple[dict[str, int], list[Table]]:
    """Verify every object of the backup, then replace the customer's rows on the target in one transaction;
    returns the rows loaded per table, and the tables they went into."""
    with scratch_folder() as folder:
        fetched = _fetch(backup, platform, storage, Path(folder), target_url=target_url, in_place=in_place)
        return _load(backup, fetched, target_url), fetched.tables


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
    gone: list[str] = field(default_factory=list)  # chosen first, found gone from storage: restored another instead


def restore_customer(customer_id: str, backup_id: str | None, target: str, requested_by: str, ticket: str, *,
                     platform: PlatformControl, storage: ObjectStorage, sandbox_url: str, flow_run_id: str | None,
                     actor: str, request_key: str | None = None, map_columns: str | None = None,
                     engine=None) -> RestoreOutcome:
    """A restore on request: billed as a `data_recovery` intervention once per request (`request_key`,
    by default the flow run's). `map_columns` ("table.old=new,...") names columns renamed since the
    backup, for an in-place restore that ops really mean; it is audited."""
    request_key = request_key or keys.restore_request(flow_run_id)
    # the ticket is an id (the interventions import's `ticket` column), the requester a name (its `engineer`)
    problem = id_problem(ticket)
    if problem:
        raise RestoreRefused(f"--ticket {ticket!r}: {problem}")
    problem = text_problem(requested_by, 120)
    if problem:
        raise RestoreRefused(f"--requested-by {problem}")
    try:
        renames = parse_renames(map_columns)
    except SchemaDrift as error:
        raise RestoreRefused(str(error)) from None
    if renames and target != RestoreTarget.IN_PLACE:
        raise RestoreRefused("--map-columns is for restores in place (--target in_place): the sandbox is built from the backup's own "
                             "tables")
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
    timer = Timer()
    job_id = None
    safety_id = None
    gone: list[str] = []
    backup = None
    try:
        # the backup is chosen holding the customer's lock, and read under it: a retention (which deletes only
        # holding it) cannot delete it between the choice and the read
        with customer_lock(customer_id, keys.lock_holder("restore", request_key), engine=engine,
                           flow_run_id=flow_run_id, holder_gone=flow_run_gone), \
                scratch_folder() as folder:
            backup = choose_backup(customer_id, backup_id, engine)
            with session_scope(engine, write=True) as session:
                job = session.scalar(select(RestoreJob).where(RestoreJob.request_key == request_key))
                if job is None:
                    job = RestoreJob(request_key=request_key, customer_id=customer_id, backup_id=backup.backup_id,
                                     target=target, requested_by=requested_by, ticket=ticket, started_at=timer.started)
                    session.add(job)
                    session.flush()
                job.status, job.error, job.started_at, job.backup_id = (RestoreStatus.RUNNING, None, timer.started,
                                                                        backup.backup_id)
                job_id = job.id
            failpoint("restore.chosen")
            _settle_abandoned_restores(customer_id, job_id, engine)  # we hold the lock: any other running one died
            in_place = target == RestoreTarget.IN_PLACE
            # a bad backup, or a platform whose tables changed, is refused here, before any write
            while True:
                try:
                    fetched = _fetch(backup, platform, storage, Path(folder), in_place=in_place, renames=renames,
                                     target_url=platform.platform_url() if in_place else sandbox_url)
                    break
                except BackupGone as missing:
                    mark_gone(backup.backup_id, str(missing), actor=actor, flow_run_id=flow_run_id, engine=engine)
                    gone.append(backup.backup_id)
                    if backup_id:  # the one asked for: never another in its place
                        raise RestoreRefused(f"{missing}, nothing was restored: it is now marked gone; choose "
                                             f"another backup, or none for the latest good one") from None
                    try:
                        backup = choose_backup(customer_id, None, engine)  # the next good one, older
                    except RestoreRefused:
                        raise RestoreRefused(f"{missing}, nothing was restored: it is now marked gone, and customer "
                                             f"{customer_id} has no other good backup") from None
                    print(f"{missing}: it is now marked gone; restoring the next good backup, {backup.backup_id}, "
                          f"instead")
                    with session_scope(engine, write=True) as session:
                        session.get(RestoreJob, job_id).backup_id = backup.backup_id
            if in_place:
                safety_id = keys.safety_backup(customer_id, timer.started, job_id)
                safety = backup_customer(customer_id, paris_date(timer.started), platform, storage, kind=BackupKind.SAFETY,
                                         backup_id=safety_id, flow_run_id=flow_run_id, hold_lock=False,
                                         engine=engine)
                if safety.status != "good":
                    raise RuntimeError(f"the safety backup failed, nothing was restored: {safety.error}")
                failpoint("restore.safety-taken")
                rows = _load(backup, fetched, platform.platform_url(), renames)
            else:
                rows = _load(backup, fetched, sandbox_url)
    except Exception as error:
        if job_id is not None:
            with session_scope(engine, write=True) as session:
                job = session.get(RestoreJob, job_id)
                job.status, job.error, job.finished_at = (RestoreStatus.FAILED, f"{type(error).__name__}: {error}"[:2000],
                                                          now())
        if isinstance(error, CorruptBackup):
            mark_corrupt(backup.backup_id, str(error), actor=actor, flow_run_id=flow_run_id, engine=engine)
            raise CorruptBackup(f"{error}; backup {backup.backup_id} is now marked corrupt and will not be chosen "
                                f"again") from None
        raise
    failpoint("restore.loaded")
    seconds = timer.seconds()
    minutes = recovery_minutes(seconds)
    intervention_id = keys.restore_intervention(job_id)
    with session_scope(engine, write=True) as session:
        job = session.get(RestoreJob, job_id)
        session.add(Intervention(intervention_id=intervention_id, customer_id=customer_id, started_at=timer.started,
                                 month=month_key(paris_date(timer.started)), minutes=minutes, category=RECOVERY,
                                 ticket=ticket, engineer=requested_by, source=InterventionSource.RESTORE,
                                 description=f"Restore of backup {backup.backup_id} {restored_where(target)} "
                                             f"({seconds:.1f} s)", created_at=now()))
        session.flush()
        job.status, job.finished_at, job.seconds = RestoreStatus.DONE, now(), Decimal(f"{seconds:.3f}")
        job.intervention_id, job.safety_backup_id = intervention_id, safety_id
        audit.record(session, "backup_restored", customer_id=customer_id, before=None, actor=actor,
                     flow_run_id=flow_run_id, after={"backup": backup.backup_id, "target": target, "rows": rows,
                                                     "ticket": ticket, "requested_by": requested_by,
                                                     "billed_minutes": minutes, "safety_backup": safety_id,
                                                     **({"map_columns": renames} if renames else {}),
                                                     **({"instead_of_gone": gone} if gone else {})})
    return RestoreOutcome(job_id, backup.backup_id, target, rows, seconds, minutes, intervention_id,
                          safety_backup_id=safety_id, gone=gone)


def verify_backup(backup: Backup, sandbox_url: str, platform: PlatformControl, storage: ObjectStorage,
                  engine=None) -> tuple[bool, str]:
    """A restore drill: restore into the sandbox, read back, compare counts and hashes with the manifest.
    It holds the customer's lock while it reads the backup, so a retention never deletes it mid-drill."""
    try:
        with customer_lock(backup.customer_id, keys.lock_holder("drill", backup.backup_id), engine=engine,
                           holder_gone=flow_run_gone):
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
    return True, "rows and hashes match the manifest"


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


def mark_corrupt(backup_id: str, reason: str, *, actor: str, flow_run_id: str | None, engine=None) -> None:
    """A backup found damaged is `corrupt`: no restore chooses it, retention never counts it as kept, and the
    customer's next nightly backup is taken afresh."""
    _mark(backup_id, BackupStatus.CORRUPT, reason, unless=(BackupStatus.CORRUPT,), actor=actor,
          flow_run_id=flow_run_id, engine=engine)


def mark_gone(backup_id: str, reason: str, *, actor: str, flow_run_id: str | None, engine=None) -> None:
    """A backup whose objects are missing from storage is `gone` (deleted, not damaged): no restore chooses
    it, retention never counts it as kept, and the customer's next nightly backup is taken afresh."""
    _mark(backup_id, BackupStatus.GONE, reason, unless=(BackupStatus.GONE, BackupStatus.DELETED), actor=actor,
          flow_run_id=flow_run_id, engine=engine)


def _mark(backup_id: str, status: BackupStatus, reason: str, *, unless: tuple, actor: str,
          flow_run_id: str | None, engine) -> None:
    """Set a backup's status and its reason, with its audit entry `backup_<status>`; nothing when it is gone
    from the ledger or already in one of the statuses `unless` names."""
    with session_scope(engine, write=True) as session:
        record = session.get(Backup, backup_id)
        if record is None or record.status in unless:
            return
        before = record.status
        record.status, record.error = status, reason[:2000]
        audit.record(session, f"backup_{status.value}", customer_id=record.customer_id, before={"status": before},
                     after={"status": status, "backup": backup_id, "reason": reason[:500]}, actor=actor,
                     flow_run_id=flow_run_id)


def _abandon(backup: Backup) -> None:
    backup.status = BackupStatus.FAILED
    backup.error = (f"abandoned: the run {backup.flow_run_id or '(unknown)'} writing it stopped before its manifest; "
                    f"settled at {now().isoformat(timespec='seconds')}")


def _settle_abandoned_restores(customer_id: str, current_job: int, engine=None) -> None:
    """Called holding the customer's lock: any other restore or backup of it still `running` has died."""
    with session_scope(engine, write=True) as session:
        for job in session.scalars(select(RestoreJob).where(RestoreJob.customer_id == customer_id,
                                                            RestoreJob.status == RestoreStatus.RUNNING,
                                                            RestoreJob.id != current_job)):
            job.status, job.finished_at = RestoreStatus.FAILED, now()
            job.error = "abandoned: its run stopped before it finished (nothing was billed for it)"
        for backup in session.scalars(select(Backup).where(Backup.customer_id == customer_id,
                                                           Backup.status == BackupStatus.RUNNING)):
            _abandon(backup)


def settle_abandoned_backups(engine=None) -> list[str]:
    """Backups left `running` by a run that died (no live lock of their customer any more) become `failed`,
    with why; their objects go with retention. Returns their ids."""
    with session_scope(engine, write=True) as session:
        locks = {lock.customer_id: lock for lock in session.scalars(select(CustomerLock))}
        settled = []
        for backup in session.scalars(select(Backup).where(Backup.status == BackupStatus.RUNNING)):
            lock = locks.get(backup.customer_id)
            if backup.customer_id is None:
                if backup.created_at > now() - timedelta(hours=LEDGER_SNAPSHOT_HOURS):
                    continue  # a ledger snapshot holds no lock: give it its time
            elif lock is not None and why_gone(lock, stale_seconds=STALE_SECONDS, ttl_hours=12) is None:
                continue      # its run is still writing it
            _abandon(backup)
            settled.append(backup.backup_id)
    return settled


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
    try:
        manifest = read_manifest(storage, backup)
        with scratch_folder() as folder:
            paths = fetch_verified(storage, manifest, Path(folder))
            return load_rows(target, list(Base.metadata.sorted_tables), paths, manifest, lambda table: true())
    except BackupGone as error:  # as a customer's backup: missing is `gone`, never chosen again
        mark_gone(backup_id, str(error), actor="restore-snapshot", flow_run_id=None, engine=engine)
        raise BackupGone(f"{error}: it is now marked gone; choose another snapshot (lifecycle show backups)") from None


def backup_chunk(customer_ids: list[str], day: date, platform: PlatformControl, storage: ObjectStorage, terms: Terms,
                 *, flow_run_id: str | None, engine=None) -> list[BackupOutcome]:
    """Back up a chunk of customers one after the other, then apply their retention (one task per chunk)."""
    tables = platform.tenant_tables()
    outcomes = []
    for position, customer_id in enumerate(customer_ids):
        outcome = backup_customer(customer_id, day, platform, storage, tables=tables, flow_run_id=flow_run_id,
                                  engine=engine)
        outcomes.append(outcome)
        if outcome.store_down:  # the store went away: the rest of the chunk would only wait for the same error
            return outcomes + mark_not_backed_up(customer_ids[position + 1:], day, outcome.error,
                                                 flow_run_id=flow_run_id, engine=engine)
        if outcome.status != "failed":
            apply_retention(customer_id, day, terms, storage, engine, flow_run_id=flow_run_id)
    return outcomes


def outcomes_of(customer_ids: list[str], day: date, engine=None) -> list[BackupOutcome]:
    """What the ledger says of each customer's backup of that night (written by shard runs elsewhere)."""
    with session_scope(engine) as session:
        found = {b.customer_id: b for b in session.scalars(select(Backup).where(
            Backup.backup_id.in_([keys.nightly_backup(c, day) for c in customer_ids])))}
    outcomes = []
    for customer_id in customer_ids:
        backup = found.get(customer_id)
        if backup is None:
            outcomes.append(BackupOutcome(customer_id, keys.nightly_backup(customer_id, day), "failed",
                                          error="no backup: its shard did not reach it"))
        elif backup.status == BackupStatus.GOOD:
            outcomes.append(BackupOutcome(customer_id, backup.backup_id, "good", backup.rows or 0, backup.bytes or 0))
        else:
            outcomes.append(BackupOutcome(customer_id, backup.backup_id, "failed", error=backup.error or backup.status))
    return outcomes


def customers_to_back_up(customer_id: str | None = None, engine=None) -> list[str]:
    """Every customer whose data was not deleted nor cancelled (or just the one asked for), in id order."""
    with session_scope(engine) as session:
        query = select(Customer.customer_id).where(Customer.stage != "data_deleted").order_by(Customer.customer_id)
        if customer_id:
            query = query.where(Customer.customer_id == customer_id)
        else:  # a cancelled customer's platform is off: its final backup is kept as it is, untouched by retention
            query = query.where(Customer.cancelled_on.is_(None))
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


def backups_by_id(backup_ids: list[str], engine=None) -> list[Backup]:
    with session_scope(engine) as session:
        found = {backup.backup_id: backup for backup in session.scalars(select(Backup).where(Backup.backup_id.in_(backup_ids)))}
    return [found[backup_id] for backup_id in backup_ids if backup_id in found]


def drill_outcomes(backup_ids: list[str], since, engine=None) -> list[dict]:
    """What the drill's shards found, read back from the ledger: verified since `since`, or why not."""
    results = []
    for backup in backups_by_id(backup_ids, engine):
        verified = backup.status == BackupStatus.GOOD and backup.error is None and backup.verified_at is not None \
            and backup.verified_at >= since
        detail = "rows and hashes match the manifest" if verified else (
            f"{backup.status}: {backup.error}" if backup.error else "not verified (its shard did not finish)")
        results.append({"backup": backup.backup_id, "customer": backup.customer_id, "ok": verified, "detail": detail})
    return results
