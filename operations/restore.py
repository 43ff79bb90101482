"""A restore of a customer's backup on request, billed as a `data_recovery` intervention, and the restore of
a ledger snapshot into a new ledger.

Into the sandbox by default, whose tables are built from the backup's own schema; in place, the
platform's tables must still have the backup's shape (any drift refuses, listed), a safety backup is
taken, then the customer's rows are replaced in one transaction. Every object is checked against its
manifest before anything is written. The backup is chosen holding the customer's lock, so no retention
deletes it under the restore; one found missing from storage is marked `gone` and the next good one is
restored in its place, unless the request named it. The same request (`request_key`) bills once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

from sqlalchemy import Column, MetaData, String, Table, func, inspect, make_url, select, true

from blocks.platform import PlatformControl
from blocks.storage import ObjectStorage
from ledger import audit, keys
from ledger.db import now, session_scope
from ledger.locks import customer_lock
from ledger.models import Backup, Base, Customer, DeletionCertificate, DeletionIntent, Intervention, RestoreJob
from lifecycle_config import escaped
from lifecycle_config.databases import SQLITE_COMPANIONS, DatabaseUnavailable, engine_for
from lifecycle_config.failpoints import failpoint
from lifecycle_config.scratch import scratch_folder
from operations.backup import abandon, backup_customer, mark_corrupt, mark_gone
from operations.backup_archive import BackupGone, CorruptBackup, Timer, fetch_verified, load_rows, read_manifest
from operations.backup_objects import BackupObjects
from operations.bugs import BugLog, log_to_python
from operations.backup_schema import SchemaDrift, describe, drift, parse_renames, tables_from
from operations.results import RunResult
from policy.calendar import month_key, paris_date
from policy.categories import RECOVERY
from policy.ids import id_problem
from policy.quota import recovery_minutes
from policy.refusals import Refusal
from policy.text import quoted, text_problem
from policy.vocabulary import (BackupKind, BackupOutcomeStatus, BackupStatus, InterventionSource, RestoreStatus,
                               RestoreTarget, Stage, in_words, restored_where)


class RestoreRefused(Refusal, ValueError):
    """No such customer or backup, or nothing may be restored: nothing was done, nothing billed."""


@dataclass(frozen=True)
class RestoreOutcome:
    """What a restore did: which backup went where, the rows per table, and what was billed."""

    job_id: int
    backup_id: str
    target: str
    rows: dict[str, int]
    seconds: float
    minutes: int
    intervention_id: str
    repeated: bool = False               # this request had already restored it: nothing more billed
    safety_backup_id: str | None = None
    gone: list[str] = field(default_factory=list)  # chosen first, found gone from storage: restored another instead

    def summary(self, customer_id: str) -> dict:
        """The restore-backup flow's result (Restored, which the command line reads)."""
        return Restored(customer_id, self.backup_id, self.target, self.rows, self.intervention_id, self.minutes,
                        self.repeated, self.safety_backup_id, self.gone).summary()


def shredded_refusal(session, customer_id: str) -> str:
    """Why nothing of a deleted customer may be restored, in one line: its data keys were shredded."""
    certificate = session.scalars(select(DeletionCertificate).where(DeletionCertificate.customer_id == customer_id)
                                  .order_by(DeletionCertificate.deleted_at.desc())).first()
    shredded = (certificate.deleted or {}).get("keys_shredded") if certificate is not None else None
    if not shredded:
        return f"customer {customer_id}'s data was deleted: nothing may be restored"
    # the deletion's business day (its intent's, from the product's clock), as its certificate's notice names it;
    # a deletion of a release that kept no intent: the day its certificate was written
    day = session.scalar(select(DeletionIntent.day).where(DeletionIntent.customer_id == customer_id)) \
        or certificate.deleted_at.date()
    return (f"customer {customer_id}'s data was deleted and its data keys shredded on "
            f"{day:%Y-%m-%d} ({', '.join(entry['key_id'] for entry in shredded)}): its backups "
            f"cannot be read, nothing may be restored")


def choose_backup(customer_id: str, backup_id: str | None, engine=None) -> Backup:
    with session_scope(engine) as session:
        if backup_id:
            backup = session.get(Backup, backup_id)
            if backup is None or backup.customer_id != customer_id:
                raise RestoreRefused(f"no backup {quoted(backup_id)} of customer {quoted(customer_id)}")
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
            raise RestoreRefused(f"customer {quoted(customer_id)} has no good backup to restore")
        return backup


def _live_tables(source_tables: list[Table]) -> list[Table]:
    """The platform's tables, bound to a metadata of their own."""
    metadata = MetaData()
    return [table.to_metadata(metadata) for table in source_tables]


def _shape(table: Table) -> list[tuple[str, str]]:
    return [(entry["name"], entry["type"]) for entry in describe(table)]


def _sandbox_tables(target, manifest: dict, platform: PlatformControl, sandbox: "Sandbox") -> list[Table]:
    """The backup's tables in the sandbox, (re)created from the backup's own schema so a drill never
    depends on the live one; a manifest that kept only column names falls back to the live tables. Only a
    table the product made in this sandbox (its record, `lifecycle_sandbox_tables`) is ever dropped: a table of
    another shape it did not make refuses the restore, before anything is written."""
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
    stale = []
    for table in tables:
        if existing.has_table(table.name):
            sandbox_table = Table(table.name, MetaData(), autoload_with=target)
            if _shape(sandbox_table) != _shape(table):  # left by a backup of another shape: the sandbox is scratch
                if table.name not in sandbox.made:
                    raise RestoreRefused(f"the sandbox {sandbox.shown} (LIFECYCLE_SANDBOX_URL) holds a table "
                                         f"{quoted(table.name)} that lifecycle did not make, of another shape than the "
                                         f"backup's: point LIFECYCLE_SANDBOX_URL at an empty database; nothing was "
                                         f"restored")
                stale.append(sandbox_table)
    sandbox.mark(target)
    for sandbox_table in stale:
        sandbox_table.drop(target)
    for table in tables:
        table.create(target, checkfirst=True)
    sandbox.record(target, [table.name for table in tables])
    return tables


#: the product's own marks in a sandbox database: whose sandbox it is (the installation id that made it), and the
#: tables the product made there (the only ones a restore ever drops)
_MARKS = MetaData()
SANDBOX_MARKER = Table("lifecycle_sandbox", _MARKS,
                       Column("installation_id", String(64), primary_key=True),
                       Column("created_at", String(40), nullable=False))
SANDBOX_MADE = Table("lifecycle_sandbox_tables", _MARKS, Column("table_name", String(255), primary_key=True))


@dataclass
class Sandbox:
    """A sandbox database a restore may write: empty, or marked as this installation's (SANDBOX_MARKER)."""
    url: str
    installation: str
    made: set[str]
    marked: bool

    @property
    def shown(self) -> str:
        from lifecycle_config.installation import without_password

        return without_password(self.url)

    def mark(self, target) -> None:
        """The marker written in an empty sandbox (or the home's own sandbox.db of a release before marks), in
        one transaction with the record of the tables found there (the home's own: the product's)."""
        if self.marked:
            return
        with target.connect() as connection:
            connection.info["write"] = True
            with connection.begin():
                _MARKS.create_all(connection)
                connection.execute(SANDBOX_MARKER.insert(), {"installation_id": self.installation,
                                                             "created_at": now().isoformat()})
                if self.made:
                    connection.execute(SANDBOX_MADE.insert(), [{"table_name": name} for name in sorted(self.made)])
            connection.info.pop("write", None)
        self.marked = True

    def record(self, target, names: list[str]) -> None:
        new = sorted(set(names) - self.made)
        if not new:
            return
        with target.begin() as connection:
            connection.execute(SANDBOX_MADE.insert(), [{"table_name": name} for name in new])
        self.made |= set(new)


def _same_database(one: str, other: str) -> bool:
    """Whether two URLs name one database: a SQLite file by its identity (device and inode: a link or a second
    spelling is the same file), a server database by its backend, host, port and name."""
    import os

    from sqlalchemy.engine import make_url

    from lifecycle_config.databases import normalise_url
    from lifecycle_config.installation import LOOPBACK, sqlite_file

    files = sqlite_file(one), sqlite_file(other)
    if files[0] is not None or files[1] is not None:
        if None in files:
            return False
        try:
            return os.path.samefile(*files)
        except OSError:
            return os.path.realpath(files[0]) == os.path.realpath(files[1])

    def where(url):
        parsed = make_url(normalise_url(url))
        host = (parsed.host or "localhost").lower()
        return parsed.get_backend_name(), "loopback" if host in LOOPBACK else host, parsed.port, parsed.database

    return where(one) == where(other)


def sandbox_of_this_installation(sandbox_url: str, platform: PlatformControl, engine=None) -> Sandbox:
    """The sandbox a restore or a drill writes, refused in one line before anything is written unless it is empty
    (no table) or marked as this installation's sandbox: never the platform's database, never the ledger, never a
    database of another application or installation (a restore replaced a customer's rows in another
    installation's live platform, dropped a foreign `users` table of another shape). The home's own sandbox.db
    (LIFECYCLE_SANDBOX_URL unset) made by a release before marks is taken as this installation's."""
    import lifecycle_config as config
    from ledger.db import ledger_engine
    from ledger.installation import installation_id
    from lifecycle_config.installation import sqlite_file

    ledger = engine if engine is not None else ledger_engine()
    shown = Sandbox(sandbox_url, "", set(), False).shown
    for url, what in ((platform.platform_url(), "the platform's database (LIFECYCLE_PLATFORM_URL)"),
                      (ledger.url.render_as_string(hide_password=False), "the ledger (LIFECYCLE_DATABASE_URL)")):
        if _same_database(sandbox_url, url):
            raise RestoreRefused(f"the sandbox {shown} (LIFECYCLE_SANDBOX_URL) is {what}: a sandbox restore never "
                                 f"writes there; point LIFECYCLE_SANDBOX_URL at an empty database of its own; nothing "
                                 f"was restored")
    own = installation_id(ledger)
    path = sqlite_file(sandbox_url)
    if path is not None:
        tables, marks, made = _sqlite_sandbox_marks(path)
    else:
        target = engine_for(sandbox_url)
        with target.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            marks = connection.execute(select(SANDBOX_MARKER.c.installation_id)).scalars().all() \
                if SANDBOX_MARKER.name in tables else None
            made = set(connection.execute(select(SANDBOX_MADE.c.table_name)).scalars()) \
                if SANDBOX_MADE.name in tables else set()
    if marks is not None:
        if marks != [own]:
            raise RestoreRefused(f"the sandbox {shown} (LIFECYCLE_SANDBOX_URL) is the sandbox of another installation "
                                 f"({', '.join(marks) or 'none recorded'}), not of this one ({own}): point "
                                 f"LIFECYCLE_SANDBOX_URL at this installation's sandbox or an empty database; nothing "
                                 f"was restored")
        return Sandbox(sandbox_url, own, made, True)
    if not tables:
        return Sandbox(sandbox_url, own, set(), False)
    homes_own = path is not None and not config.setting("LIFECYCLE_SANDBOX_URL") \
        and _same_database(sandbox_url, f"sqlite:///{config.home() / 'sandbox.db'}")
    if homes_own:  # made by this home's restores before sandboxes were marked: the product's tables
        return Sandbox(sandbox_url, own, set(tables), False)
    listed = ", ".join(sorted(tables)[:3]) + (f" and {len(tables) - 3} more" if len(tables) > 3 else "")
    raise RestoreRefused(f"the sandbox {shown} (LIFECYCLE_SANDBOX_URL) holds tables ({listed}) and is no sandbox of "
                         f"this installation (it carries no lifecycle sandbox marker): a restore would replace or drop "
                         f"what is there; point LIFECYCLE_SANDBOX_URL at an empty database; nothing was restored")


def _sqlite_sandbox_marks(path: Path) -> tuple[set[str], list[str] | None, set[str]]:
    """A SQLite sandbox's tables, its marker's installation ids (None: no marker) and the tables the product
    made there, only read (a missing file: nothing)."""
    import sqlite3

    from ledger.installation import read_only_uri

    if not path.is_file() or path.stat().st_size == 0:
        return set(), None, set()
    connection = sqlite3.connect(read_only_uri(path), uri=True)
    try:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                                       "AND name NOT LIKE 'sqlite_%'")}
        marks = [row[0] for row in connection.execute(f"SELECT installation_id FROM {SANDBOX_MARKER.name}")] \
            if SANDBOX_MARKER.name in tables else None
        made = {row[0] for row in connection.execute(f"SELECT table_name FROM {SANDBOX_MADE.name}")} \
            if SANDBOX_MADE.name in tables else set()
    finally:
        connection.close()
    return tables, marks, made


@dataclass
class Checked:
    """What a restore checked before it writes: the manifest, the verified local objects, the tables."""
    manifest: dict
    paths: dict[str, Path]
    tables: list[Table]


def _refuse_a_sandbox_among_the_objects(sandbox_url: str, storage: ObjectStorage) -> None:
    """A sandbox that is a SQLite file inside the storage's folder (LIFECYCLE_SANDBOX_URL pointed there), or inside
    another installation's (blocks.storage.storage_folder_holding): a restore or a drill would write a database
    among the stored objects, or over one. Refused before anything is read."""
    from sqlalchemy.engine import make_url

    from lifecycle_config.installation import without_password

    parsed = make_url(sandbox_url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    from blocks.storage import storage_folder_holding

    root = storage.holding(parsed.database)
    if root is not None:
        raise RestoreRefused(f"the sandbox {without_password(sandbox_url)} (LIFECYCLE_SANDBOX_URL) is a file inside the "
                             f"storage folder {root}, among the stored objects: point LIFECYCLE_SANDBOX_URL at a "
                             f"database outside it; nothing was restored")
    other = storage_folder_holding(parsed.database)  # another installation's: its objects, served as its own
    if other is not None:
        raise RestoreRefused(f"the sandbox {without_password(sandbox_url)} (LIFECYCLE_SANDBOX_URL) is a file inside "
                             f"{other}, the storage folder of another lifecycle installation: point "
                             f"LIFECYCLE_SANDBOX_URL at a database outside every storage folder; nothing was restored")


def _check(backup: Backup, platform: PlatformControl, storage: ObjectStorage, folder: Path, *, target_url: str,
           in_place: bool, renames: dict[str, dict[str, str]] | None = None, engine=None) -> Checked:
    """Everything a restore checks before it writes: the manifest is the ledger's; in place, the live
    tables still have the backup's shape (any drift refuses, listed); a sandbox is empty or this
    installation's; every object is there whole."""
    sandbox = None
    if not in_place:
        _refuse_a_sandbox_among_the_objects(target_url, storage)
        sandbox = sandbox_of_this_installation(target_url, platform, engine)
    objects = BackupObjects(storage, customer_id=backup.customer_id)
    manifest = read_manifest(objects, backup.backup_id, backup.manifest_key, backup.manifest)
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
    paths = fetch_verified(objects, manifest, folder)
    return Checked(manifest, paths, tables if tables is not None else _sandbox_tables(target, manifest, platform,
                                                                                      sandbox))


def _load(backup: Backup, checked: Checked, target_url: str,
          renames: dict[str, dict[str, str]] | None = None) -> dict[str, int]:
    tenant_column = checked.manifest["tenant_column"]
    return load_rows(engine_for(target_url), checked.tables, checked.paths, checked.manifest,
                     lambda table: table.c[tenant_column] == backup.customer_id, renames)


def restore_into(backup: Backup, target_url: str, platform: PlatformControl, storage: ObjectStorage, *,
                 in_place: bool = False, engine=None) -> tuple[dict[str, int], list[Table]]:
    """Verify every object of the backup, then replace the customer's rows on the target in one transaction;
    returns the rows loaded per table, and the tables they went into. `engine`: the ledger's (whose
    installation a sandbox must be)."""
    with scratch_folder() as folder:
        checked = _check(backup, platform, storage, Path(folder), target_url=target_url, in_place=in_place,
                         engine=engine)
        return _load(backup, checked, target_url), checked.tables


def _refuse_request(ticket: str, requested_by: str, target: str, map_columns: str | None) -> dict:
    """The request's own mistakes, before anything is read; returns the column renames it names."""
    # the ticket is an id (the interventions import's `ticket` column), the requester a name (its `engineer`)
    problem = id_problem(ticket)
    if problem:
        raise RestoreRefused(f"--ticket {quoted(ticket)}: {problem}")
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
    return renames


def restore_customer(customer_id: str, backup_id: str | None, target: str, requested_by: str, ticket: str, *,
                     platform: PlatformControl, storage: ObjectStorage, sandbox_url: str, flow_run_id: str | None,
                     actor: str, request_key: str | None = None, map_columns: str | None = None,
                     engine=None, holder_gone=None, log_bug: BugLog = log_to_python) -> RestoreOutcome:
    """A restore on request: billed as a `data_recovery` intervention once per request (`request_key`,
    by default the flow run's). `map_columns` ("table.old=new,...") names columns renamed since the
    backup, for an in-place restore that ops really mean; it is audited."""
    request_key = request_key or keys.restore_request(flow_run_id)
    renames = _refuse_request(ticket, requested_by, target, map_columns)
    with session_scope(engine) as session:
        done = session.scalar(select(RestoreJob).where(RestoreJob.request_key == request_key,
                                                       RestoreJob.status == RestoreStatus.DONE))
        if done is not None:
            return RestoreOutcome(done.id, done.backup_id, done.target, {}, float(done.seconds or 0),
                                  recovery_minutes(float(done.seconds or 0)), done.intervention_id, repeated=True,
                                  safety_backup_id=done.safety_backup_id)
        customer = session.get(Customer, customer_id)
        if customer is None:
            raise RestoreRefused(f"unknown customer {quoted(customer_id)}")
        if customer.stage == Stage.DATA_DELETED:
            raise RestoreRefused(shredded_refusal(session, customer_id))
        intent = session.scalar(select(DeletionIntent).where(DeletionIntent.customer_id == customer_id))
        if intent is not None:  # approved, its keys shredded or about to be: a killed run's, the next one completes it
            raise RestoreRefused(f"customer {customer_id}'s data deletion, approved by {intent.approved_by} on "
                                 f"{intent.day}, is under way (its data keys count as shredded): nothing may be "
                                 f"restored")
    if target != RestoreTarget.IN_PLACE:  # a sandbox that may not be written: refused before any record of it
        _refuse_a_sandbox_among_the_objects(sandbox_url, storage)
        sandbox_of_this_installation(sandbox_url, platform, engine)
    timer = Timer()
    job_id = None
    safety_id = None
    gone: list[str] = []
    backup = None
    try:
        # the backup is chosen holding the customer's lock, and read under it: a retention (which deletes only
        # holding it) cannot delete it between the choice and the read
        with customer_lock(customer_id, keys.lock_holder("restore", request_key), engine=engine,
                           flow_run_id=flow_run_id, holder_gone=holder_gone), \
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
                    checked = _check(backup, platform, storage, Path(folder), in_place=in_place, renames=renames,
                                     target_url=platform.platform_url() if in_place else sandbox_url, engine=engine)
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
                                         engine=engine, log_bug=log_bug)
                if safety.status != BackupOutcomeStatus.GOOD:
                    raise RuntimeError(f"the safety backup failed, nothing was restored: {safety.error}")
                failpoint("restore.safety-taken")
                rows = _load(backup, checked, platform.platform_url(), renames)
            else:
                rows = _load(backup, checked, sandbox_url)
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
            abandon(backup)


def restore_ledger_snapshot(backup_id: str, target_url: str, storage: ObjectStorage, engine=None) -> dict[str, int]:
    """Load a ledger snapshot into an empty ledger at `target_url` (see the README). All or nothing, even killed
    (SIGKILL, a power cut): a SQLite target is written as a temporary file beside it, renamed into place once
    whole; a server database gets its schema and its rows in one transaction. A kill half-way left a ledger of
    tables and no rows, which the next attempt refused as "not empty"."""
    with session_scope(engine) as session:
        backup = session.get(Backup, backup_id)
    if backup is None or backup.kind != BackupKind.LEDGER or backup.status != BackupStatus.GOOD:
        raise ValueError(f"no good ledger snapshot {quoted(backup_id)}")
    _refuse_target_in_use(target_url)
    destination = _sqlite_target(target_url)
    if destination is None:
        try:
            return _load_snapshot(backup, target_url, storage, engine)
        except BaseException:  # a failure (a wrong key, storage down, Ctrl-C): the transaction is rolled back
            _leave_nothing(target_url)
            raise
    import fcntl
    import os
    import tempfile

    _remove_killed_restores(destination)
    handle, name = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".restoring")
    fcntl.flock(handle, fcntl.LOCK_EX)  # held while this restore runs: a later one removes it only once it is dead
    temporary = Path(name)  # a file of 0 bytes: SQLite takes it as an empty database
    temporary_url = f"sqlite:///{temporary}"
    try:
        try:
            loaded = _load_snapshot(backup, temporary_url, storage, engine)
        except DatabaseUnavailable as error:  # said of the file the user named, not of the temporary one beside it
            said = str(error).replace(escaped(make_url(temporary_url).render_as_string(hide_password=True)),
                                      escaped(make_url(target_url).render_as_string(hide_password=True)))
            raise type(error)(said) from None
        engine_for(temporary_url).dispose()
        _self_contained(temporary)
        failpoint("snapshot.rows-loaded")
        _refuse_target_in_use(target_url)  # another command wrote there meanwhile: never replaced
        os.replace(temporary, destination)
        _synced_folder(destination.parent)
        return loaded
    finally:
        engine_for(temporary_url).dispose()
        _remove_with_companions(temporary)
        os.close(handle)


def _remove_with_companions(path: Path) -> None:
    for each in (path, *(path.with_name(path.name + suffix) for suffix in SQLITE_COMPANIONS)):
        each.unlink(missing_ok=True)


def _remove_killed_restores(destination: Path) -> None:
    """The temporary files beside `destination` that restores killed before their rename left (never the
    target itself): each one whose lock no process holds any more (a running restore holds its own)."""
    import fcntl
    import os

    prefix = f".{destination.name}."
    for leftover in [path for path in destination.parent.iterdir()
                     if path.name.startswith(prefix) and path.name.endswith(".restoring")]:
        try:
            descriptor = os.open(leftover, os.O_RDWR)
        except OSError:
            continue
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # another restore's, still running
        finally:
            os.close(descriptor)
        _remove_with_companions(leftover)


def _sqlite_target(target_url: str) -> Path | None:
    """The file a SQLite `target_url` names (absolute), or None for a server database."""
    from sqlalchemy.engine import make_url

    url = make_url(target_url)
    if url.get_backend_name() != "sqlite":
        return None
    import os

    return Path(os.path.realpath(url.database))  # a link's file is written, as SQLite would have written it


def _self_contained(path: Path) -> None:
    """The SQLite file at `path` holding all it was written, on disk, before it is renamed: its write-ahead log
    checkpointed into it and gone (the log stays beside the old name, and a renamed file would be read without
    it), then synced. The ledger's engine turns it to WAL again when it opens it."""
    import os
    import sqlite3

    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode = DELETE").fetchall()
    finally:
        connection.close()
    with open(path, "rb+") as stream:
        os.fsync(stream.fileno())


def _synced_folder(folder: Path) -> None:
    """A rename made durable: the folder's entry synced (a power cut after it keeps the new name)."""
    import os

    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _leave_nothing(target_url: str) -> None:
    """Undo what a failed restore made in its server database, which was empty before it: the ledger's tables, if
    any outlived the rolled-back transaction."""
    ours = {*Base.metadata.tables, "alembic_version"}
    target = engine_for(target_url)
    try:
        with target.begin() as connection:
            made = MetaData()
            made.reflect(connection, only=lambda name, _: name in ours)
            made.drop_all(connection)
    except Exception:  # noqa: BLE001 - the target unreachable now: the failure's own line says why
        pass
    finally:
        target.dispose()


def _load_snapshot(backup: Backup, target_url: str, storage: ObjectStorage, engine) -> dict[str, int]:
    """The snapshot's rows loaded into the empty database at `target_url`: the ledger's schema made and every row
    loaded in one transaction (a SQLite target here is the temporary file, renamed by the caller)."""
    from ledger.migrate import upgrade, upgrade_on

    backup_id = backup.backup_id
    try:
        objects = BackupObjects(storage)
        manifest = read_manifest(objects, backup.backup_id, backup.manifest_key, backup.manifest)
        with scratch_folder() as folder:
            # every object fetched and checked (its key unwrapped) before the target is made: a wrong master
            # key file left an empty ledger there, which the next attempt with the right key refused as in use
            paths = fetch_verified(objects, manifest, Path(folder))
            target = engine_for(target_url)
            if target.dialect.name == "sqlite":  # the temporary file: what a kill leaves is never the target
                upgrade(target_url)
                failpoint("snapshot.schema-made")
                return load_rows(target, list(Base.metadata.sorted_tables), paths, manifest, lambda table: true())
            with target.begin() as connection:  # PostgreSQL's DDL is transactional: schema and rows together
                upgrade_on(connection, target_url)
                failpoint("snapshot.schema-made")
                if connection.scalar(select(func.count()).select_from(Customer.__table__)):
                    raise ValueError("the target ledger is not empty: restore a snapshot only into a new database")
                return load_rows(connection, list(Base.metadata.sorted_tables), paths, manifest, lambda table: true())
    except BackupGone as error:  # as a customer's backup: missing is `gone`, never chosen again
        mark_gone(backup_id, str(error), actor="restore-snapshot", flow_run_id=None, engine=engine)
        raise BackupGone(f"{error}: it is now marked gone; choose another snapshot (lifecycle show backups)") from None


@dataclass(frozen=True)
class Restored(RunResult):
    """The restore-backup run's result: what was restored where, and the intervention that bills it."""
    flow: ClassVar[str] = "restore-backup"
    customer_id: str
    backup_id: str
    target: RestoreTarget
    rows: dict[str, int]             # table -> rows restored
    intervention_id: str
    minutes: int
    repeated: bool
    safety_backup_id: str | None
    gone: list[str]                  # chosen first, found gone from storage: another was restored instead


def _sqlite_tables(path: Path) -> list[str]:
    """The tables of the SQLite file at `path`, only read (no file made, no log left beside it): none when it is
    not there or empty."""
    import sqlite3

    from ledger.installation import read_only_uri

    if not path.is_file() or path.stat().st_size == 0:
        return []
    connection = sqlite3.connect(read_only_uri(path), uri=True)
    try:
        return sorted(row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
    finally:
        connection.close()


def _refuse_target_in_use(target_url: str) -> None:
    """A snapshot goes into a new, empty database only: one that has any table (a live ledger, the platform's
    database, anything else) is refused before anything is created in it, and so is an in-memory SQLite
    database, gone when the command ends."""
    from sqlalchemy.engine import make_url

    url = make_url(target_url)
    if url.get_backend_name() == "sqlite" and (url.database or ":memory:") == ":memory:":
        raise ValueError(f"{target_url} is an in-memory database, gone when this command ends: name a new database "
                         f"file (sqlite:////path/to/new-ledger.db) or a new, empty server database")
    if url.get_backend_name() == "sqlite":  # only read: a target that is not there yet is not made here
        tables = _sqlite_tables(Path(url.database))
    else:
        target = engine_for(target_url)
        try:
            with target.connect() as connection:
                tables = sorted(inspect(connection).get_table_names())
        finally:
            target.dispose()
    if tables:
        shown = ", ".join(tables[:3]) + (", ..." if len(tables) > 3 else "")
        raise ValueError(f"the target database is not empty ({len(tables)} table(s): {shown}): restore a snapshot "
                         f"only into a new, empty database; nothing was written")
