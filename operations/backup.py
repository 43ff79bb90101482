"""The nightly backup of the customers' platform data, its retention, and the ledger's own snapshot.

Every operation on a customer's data holds that customer's lock (`ledger.locks`), so a backup, a
restore, a drill, a retention and a purge of one customer never overlap; the second waits, then gives
up clearly. A restore chooses its backup holding the lock, and retention deletes only holding it, so
retention never deletes the backup a running restore or drill reads. The lock, not a mark on the
backup, is the hold: a holder killed with -9 leaves a lock that is taken over (ledger.locks), never a
backup held for ever.

What goes in a backup is the archive's (operations/backup_archive.py); how its objects are written to
storage, operations/backup_objects.py; this module records in the ledger what was written. The
night's fan-out (chunks on threads, shards on the pool's workers) is the flow's: `backup_chunk` is
what one chunk does. `holder_gone` (may a lock left by a finished run be taken over?) and `log_bug`
(where a bug met on one customer is told) are given by the Prefect task around it (tasks/backups.py).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import ClassVar

from sqlalchemy import and_, or_, select, true
from sqlalchemy.engine import Engine

from blocks.platform import PlatformControl
from blocks.storage import ObjectStorage, StoreUnavailable
from blocks.storage_deadlines import progress
from ledger import audit, keys
from ledger.db import now, session_scope
from ledger.locks import STALE_SECONDS, CustomerBusy, customer_lock, why_gone
from ledger.models import Backup, Base, Customer, CustomerLock, DeletionIntent
from lifecycle_config.conditions import one_line
from operations.backup_archive import manifest_key, write_archive
from operations.backup_objects import BackupObjects
from operations.bugs import BugLog, log_to_python
from operations.results import RunResult
from policy.calendar import paris_date
from policy.ids import id_problem
from policy.refusals import Refusal
from policy.retention import Kept, keep, lock_instant, locked_until, written_lock
from policy.terms import Terms
from policy.text import quoted
from policy.vocabulary import BackupKind, BackupOutcomeStatus, BackupStatus, Stage

#: a ledger snapshot still `running` after this long was left by a run that died
LEDGER_SNAPSHOT_HOURS = 2
#: how long a retention waits for a customer's lock before leaving that customer's retention to the next night
RETENTION_WAIT_SECONDS = 60.0


class BackupRefused(Refusal):
    """Nothing to back up as asked."""


#: why a customer the night listed was not backed up: its data was deleted since
DELETED_MEANWHILE = "its data was deleted after the night listed it: nothing written"


def deleted_meanwhile(outcomes) -> str:
    """`, 1 deleted meanwhile (C007)`: customers whose data was deleted while the night ran, when there are any.
    The outcomes as BackupOutcome or as the run's result keeps them (NightDone.backups: their fields in a dict)."""
    def field(outcome, name: str):
        return outcome[name] if isinstance(outcome, dict) else getattr(outcome, name)

    gone = [field(o, "customer_id") for o in outcomes if field(o, "status") == BackupOutcomeStatus.DELETED]
    return f", {len(gone)} deleted meanwhile ({', '.join(gone[:10])}{', ...' if len(gone) > 10 else ''})" if gone else ""


@dataclass(frozen=True)
class BackupOutcome:
    """One customer's backup of a night: `good`, `skipped` (already good) or `failed`, with why."""

    customer_id: str
    backup_id: str
    status: BackupOutcomeStatus
    rows: int = 0
    bytes: int = 0
    error: str | None = None
    store_down: bool = False  # failed because the store could not be used at all (not this customer's fault)


@dataclass(frozen=True)
class Night:
    """What a night of backups did: each customer's outcome, the ledger snapshot, and the store's failure if
    it could not be used at all (then the flow fails with `store_down_message`)."""

    day: date
    outcomes: tuple[BackupOutcome, ...]
    ledger_snapshot: str | None = None  # "<id>: <rows> rows, <bytes> bytes"
    store_down: str | None = None
    snapshot_asked: bool = False        # a ledger snapshot was to be taken (all customers, and asked for)

    @property
    def failed(self) -> list[BackupOutcome]:
        return [o for o in self.outcomes if o.status == BackupOutcomeStatus.FAILED]

    def count(self, status: BackupOutcomeStatus) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    def line(self) -> str:
        return (f"{self.day}: {self.count(BackupOutcomeStatus.GOOD)} backed up, {self.count(BackupOutcomeStatus.SKIPPED)} already done, "
                f"{len(self.failed)} failed" + deleted_meanwhile(self.outcomes) + (f"; ledger snapshot {self.ledger_snapshot}" if self.ledger_snapshot
                                                 else ""))

    def store_down_message(self) -> str:
        """One line, the run's failure message when the store was down: what ops read in the alert."""
        good = self.count(BackupOutcomeStatus.GOOD)
        return (f"{self.store_down}: {len(self.failed)} of {len(self.outcomes)} customer(s) not backed up on "
                f"{self.day}" + (f" ({good} backed up)" if good else "")
                + ("; no ledger snapshot" if self.snapshot_asked else ""))

    def failures(self, shown: int = 10) -> str:
        """How many customers failed, then the first few with their reasons."""
        return failures(self.failed, shown)

    def summary(self) -> dict:
        """The nightly-backup flow's result (NightDone, which the command line reads)."""
        return NightDone(self.day, [o.__dict__ for o in self.outcomes], self.ledger_snapshot).summary()


def failures(failed: list[BackupOutcome], shown: int = 10) -> str:
    head = "; ".join(f"{o.customer_id}: {o.error}" for o in failed[:shown])
    return f"{len(failed)} customer(s) not backed up: {head}" + (f"; and {len(failed) - shown} more (see the "
                                                               f"nightly-backup artifact)" if len(failed) > shown else "")


def store_down(storage: ObjectStorage) -> str | None:
    """Why the store cannot be used at all (one cheap call), or None when it answers. Another installation's store
    raises ForeignStore (blocks.storage): the night writes nothing there, said once, not once per customer."""
    try:
        store = storage.store()
        store.probe()
        store.claim()
    except StoreUnavailable as down:
        return str(down)
    return None


def customers_to_back_up(customer_id: str | None = None, engine=None) -> list[str]:
    """Every customer whose data was not deleted nor cancelled (or just the one asked for), in id order;
    the one asked for unknown or deleted is refused. A customer whose approved deletion is under way (its
    intent recorded, a killed run's to be completed) is not backed up again: a new key would outlive its shred."""
    with session_scope(engine) as session:
        query = (select(Customer.customer_id).where(Customer.stage != Stage.DATA_DELETED,
                                                    Customer.customer_id.not_in(select(DeletionIntent.customer_id)))
                 .order_by(Customer.customer_id))
        if customer_id:
            query = query.where(Customer.customer_id == customer_id)
        else:  # a cancelled customer's platform is off: its final backup is kept as it is, untouched by retention
            query = query.where(Customer.cancelled_on.is_(None))
        customers = list(session.scalars(query))
    if customer_id and not customers:
        raise BackupRefused(f"no customer {quoted(customer_id)} to back up (unknown, or its data was deleted)"
                             if not _deletion_under_way(customer_id, engine) else
                             f"customer {quoted(customer_id)} is not backed up: its approved data deletion is under "
                             f"way (the next arrears sweep completes it)")
    return customers


def deleted_or_deleting():
    """The customers whose data is deleted, or whose approved deletion is under way (its intent recorded, with or
    without its certificate yet): none of them is backed up again, whatever the night listed."""
    return or_(Customer.stage == Stage.DATA_DELETED, Customer.customer_id.in_(select(DeletionIntent.customer_id)))


def _deletion_under_way(customer_id: str, engine=None) -> bool:
    with session_scope(engine) as session:
        return session.scalar(select(DeletionIntent.id).where(DeletionIntent.customer_id == customer_id,
                                                              DeletionIntent.completed_at.is_(None))) is not None


def unknown_ids_problem(name: str, ids: list[str], column, noun: str, hint: str, engine=None) -> str | None:
    """Why a shard's ids typed in its form (customers, backups) do not all name rows of the ledger as stored:
    the first unknown one, in the ledger's spelling when it holds it in another case (ids are compared
    exactly, as an import's), or one given twice; None when all are known."""
    from ledger.imports.rows import by_key_ignoring_case, unknown_reference

    twice = next((value for position, value in enumerate(ids) if value in ids[:position]), None)
    if twice is not None:
        return f"{name}: {twice!r} is given twice: name each once"
    with session_scope(engine) as session:
        known = {found for start in range(0, len(ids), 500)
                 for found in session.scalars(select(column).where(column.in_(ids[start:start + 500])))}
        unknown = [value for value in ids if value not in known]
        spelled = by_key_ignoring_case(session, column, unknown[:1]) if unknown else {}
    if not unknown:
        return None
    return (f"{name}: {unknown_reference(f'unknown {noun}', unknown[0], spelled.get(unknown[0]), hint)}"
            + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else "") + "; nothing was done")


def unknown_customers_problem(customer_ids: list[str], engine=None) -> str | None:
    """A backup shard's customers, as its form gave them: customers of the ledger, spelled as stored."""
    return unknown_ids_problem("customer_ids", customer_ids, Customer.customer_id, "customer",
                               "lifecycle show customers lists them", engine)


def unknown_backups_problem(backup_ids: list[str], engine=None) -> str | None:
    """A drill shard's backups, as its form gave them: backups of the ledger, spelled as stored."""
    return unknown_ids_problem("backup_ids", backup_ids, Backup.backup_id, "backup",
                               "lifecycle show backups lists them", engine)


def _tenant_filter(platform: PlatformControl, customer_id: str):
    return lambda table: table.c[platform.tenant_column] == customer_id


def write_backup(*, backup_id: str, prefix: str, tables: list, source: Engine, where_of, storage: ObjectStorage,
                 customer_id: str | None, kind: str, tenant_column: str | None, flow_run_id: str | None,
                 terms: Terms | None = None, engine=None) -> Backup:
    """Back up `tables` (rows selected by `where_of(table)`) under `prefix`, recorded in the ledger: `running`,
    then `good` once the manifest is written (with it), or `failed` with why. On a store that locks (S3 Object
    Lock), every object is written locked until the day the schedule of `terms` (the defaults when none is
    given) would let it go as a daily backup (policy.retention.written_lock); retention extends it when the
    backup is promoted."""
    started = now()
    with session_scope(engine, write=True) as session:
        record = session.get(Backup, backup_id)
        if record is None:
            record = Backup(backup_id=backup_id, customer_id=customer_id, kind=kind, created_at=started)
            session.add(record)
        record.status, record.error, record.created_at, record.flow_run_id = BackupStatus.RUNNING, None, started, flow_run_id
    try:
        objects = BackupObjects(storage, customer_id=customer_id)
        mode = objects.store.immutability()  # asked once; a store that is down says so here, with the backup failed
        if mode is not None:
            objects.retain_until = lock_instant(written_lock(paris_date(started),
                                                             days=(terms or Terms()).keep_daily_backups))
        with progress(f"customer {customer_id}" if customer_id else f"backup {backup_id}"):
            manifest = write_archive(objects, prefix=prefix, tables=tables,
                                     source=source, where_of=where_of,
                                     header={"backup_id": backup_id, "customer_id": customer_id, "kind": kind,
                                             "created_at": started.isoformat(), "tenant_column": tenant_column})
    except Exception as error:
        with session_scope(engine, write=True) as session:
            record = session.get(Backup, backup_id)
            record.status, record.error = BackupStatus.FAILED, f"{type(error).__name__}: {error}"[:2000]
        raise
    with session_scope(engine, write=True) as session:
        record = session.get(Backup, backup_id)
        record.status, record.manifest, record.manifest_key = BackupStatus.GOOD, manifest, manifest_key(prefix)
        if mode is not None:  # a failed one's locked objects say their lock when retention lets them go
            record.lock_mode, record.locked_until = mode, objects.retain_until
        record.rows = sum(copy["rows"] for copy in manifest["tables"])
        record.bytes = sum(copy["bytes"] for copy in manifest["tables"])
        record.schema_fingerprint = manifest["schema_fingerprint"]
        return record


def backup_customer(customer_id: str, day: date, platform: PlatformControl, storage: ObjectStorage, *,
                    tables: list | None = None, kind: str = BackupKind.TENANT, backup_id: str | None = None,
                    flow_run_id: str | None = None, hold_lock: bool = True, engine=None, holder_gone=None,
                    log_bug: BugLog = log_to_python, terms: Terms | None = None) -> BackupOutcome:
    """Back up one customer; `hold_lock=False` when the caller already holds the customer's lock; `terms` (the
    defaults when None) say how long its objects are locked where the store locks."""
    problem = id_problem(customer_id)
    if problem:  # an id that could reach past its folder is never turned into a key
        return BackupOutcome(customer_id, "", BackupOutcomeStatus.FAILED, error=f"not backed up, nothing written: its id is unsafe "
                                                                f"({problem}); give the customer a new id")
    backup_id = backup_id or keys.nightly_backup(customer_id, day)
    with session_scope(engine) as session:
        existing = session.get(Backup, backup_id)
        if existing is not None and existing.status == BackupStatus.GOOD:
            return BackupOutcome(customer_id, backup_id, BackupOutcomeStatus.SKIPPED, existing.rows or 0, existing.bytes or 0)
    source = platform.engine()
    tables = tables if tables is not None else platform.tenant_tables()
    lock = customer_lock(customer_id, keys.lock_holder(f"{kind}-backup", flow_run_id or backup_id), engine=engine,
                         flow_run_id=flow_run_id, holder_gone=holder_gone) if hold_lock else nullcontext()
    try:
        with lock:
            with session_scope(engine) as session:  # again, holding the lock: another run of its shard did it
                existing = session.get(Backup, backup_id)
                if existing is not None and existing.status == BackupStatus.GOOD:
                    return BackupOutcome(customer_id, backup_id, BackupOutcomeStatus.SKIPPED, existing.rows or 0, existing.bytes or 0)
                # a deletion approved while the night ran (it listed the customer hours before): its keys shredded
                # and its certificate written, or its intent recorded and its certificate still to come (a run
                # killed between the two): a backup made now would be a copy, under a new key, that outlives the
                # shred the certificate will say took everything
                if session.scalar(select(Customer.customer_id).where(Customer.customer_id == customer_id,
                                                                     deleted_or_deleting())) is not None:
                    return BackupOutcome(customer_id, backup_id, BackupOutcomeStatus.DELETED,
                                         error=DELETED_MEANWHILE)
            record = write_backup(backup_id=backup_id, prefix=keys.backup_folder(customer_id, backup_id), tables=tables,
                                  source=source, where_of=_tenant_filter(platform, customer_id), storage=storage,
                                  customer_id=customer_id, kind=kind, tenant_column=platform.tenant_column,
                                  flow_run_id=flow_run_id, terms=terms, engine=engine)
    except StoreUnavailable as down:  # the store, not this customer: the caller stops the night
        return BackupOutcome(customer_id, backup_id, BackupOutcomeStatus.FAILED, error=str(down), store_down=True)
    except Exception as error:  # reported per customer; the run fails at the end
        log_bug(f"backup {backup_id}", error)
        return BackupOutcome(customer_id, backup_id, BackupOutcomeStatus.FAILED, error=f"{type(error).__name__}: {one_line(error)}")
    return BackupOutcome(customer_id, backup_id, BackupOutcomeStatus.GOOD, record.rows or 0, record.bytes or 0)


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
                outcomes.append(BackupOutcome(customer_id, "", BackupOutcomeStatus.FAILED, error="not backed up: its id is unsafe"))
                continue
            record = found.get(backup_id)
            if record is not None and record.status == BackupStatus.GOOD:
                outcomes.append(BackupOutcome(customer_id, backup_id, BackupOutcomeStatus.SKIPPED, record.rows or 0, record.bytes or 0))
                continue
            if record is None:
                record = Backup(backup_id=backup_id, customer_id=customer_id, kind=BackupKind.TENANT, created_at=now())
                session.add(record)
            record.status, record.error, record.flow_run_id = BackupStatus.FAILED, f"not backed up: {reason}"[:2000], \
                flow_run_id
            record.manifest = record.manifest_key = None
            outcomes.append(BackupOutcome(customer_id, backup_id, BackupOutcomeStatus.FAILED, error=reason, store_down=True))
    return outcomes


def apply_retention(customer_id: str | None, day: date, terms: Terms, storage: ObjectStorage, engine=None, *,
                    flow_run_id: str | None = None, wait_seconds: float = RETENTION_WAIT_SECONDS,
                    holder_gone=None) -> list[str]:
    """Delete the backups retention does not keep (objects and all their versions); returns their ids.

    A customer's retention holds the customer's lock, as a restore and a drill do while they read a
    backup: it never deletes what a running job holds. A customer busy past `wait_seconds` keeps its
    backups until the next night's retention (nothing is lost by waiting)."""
    if customer_id is None:
        return _apply_retention(None, day, terms, storage, engine)
    holder = keys.lock_holder("retention", flow_run_id or day.isoformat())
    try:
        with customer_lock(customer_id, holder, wait_seconds=wait_seconds, engine=engine, flow_run_id=flow_run_id,
                           holder_gone=holder_gone):
            return _apply_retention(customer_id, day, terms, storage, engine)
    except CustomerBusy as busy:
        print(f"retention of {customer_id} left to the next night: {busy}")
        return []


def _apply_retention(customer_id: str | None, day: date, terms: Terms, storage: ObjectStorage, engine=None) -> list[str]:
    pending = and_(Backup.status == BackupStatus.DELETED, Backup.deleted_at.is_(None))  # let go, still locked
    with session_scope(engine) as session:
        query = select(Backup).where(or_(Backup.status.in_((BackupStatus.GOOD, BackupStatus.FAILED, BackupStatus.CORRUPT,
                                                            BackupStatus.GONE)), pending))
        query = query.where(Backup.customer_id == customer_id) if customer_id else query.where(Backup.kind == BackupKind.LEDGER)
        backups = session.scalars(query).all()
        listed = [Kept(b.backup_id, b.created_at, b.status == BackupStatus.GOOD) for b in backups]
        tiers = {"days": terms.keep_daily_backups, "weeks": terms.keep_weekly_backups, "months": terms.keep_monthly_backups}
        kept = keep(listed, day, **tiers)
        doomed = [b.backup_id for b in backups
                  if b.backup_id not in kept and (b.status == BackupStatus.GOOD or paris_date(b.created_at) < day)]
        locks = {b.backup_id: b.locked_until for b in backups if b.backup_id in kept and b.status == BackupStatus.GOOD}
    objects = BackupObjects(storage, customer_id=customer_id)
    folder = (lambda backup_id: keys.backup_folder(customer_id, backup_id)) if customer_id else keys.ledger_snapshot_folder
    if objects.store.immutability() is not None:
        _extend_locks(objects, folder, locks, locked_until(listed, day, **tiers), engine)
    for backup_id in doomed:
        _let_go(objects, folder(backup_id), backup_id, engine)
    return doomed


def _extend_locks(objects: BackupObjects, folder, locks: dict, due: dict[str, date], engine) -> None:
    """Extend the lock of each kept backup the schedule promoted (policy.retention.locked_until), never
    shortening one: every object first, then the ledger, so a run killed between them extends again."""
    for backup_id, current in locks.items():
        until = lock_instant(due[backup_id]) if backup_id in due else None
        if until is None or (current is not None and current >= until):
            continue
        objects.extend_lock(folder(backup_id), until)
        with session_scope(engine, write=True) as session:
            record = session.get(Backup, backup_id)
            record.lock_mode, record.locked_until = objects.store.immutability(), until


def _let_go(objects: BackupObjects, prefix: str, backup_id: str, engine) -> bool:
    """Delete a backup's objects, every version, as far as their locks allow. Not restorable from now on
    (`deleted`); `deleted_at` once nothing is left, else the longest lock is recorded and a later retention
    (remove_unlocked, every night) removes the rest. True when nothing is left."""
    left = objects.delete_folder(prefix)
    with session_scope(engine, write=True) as session:
        record = session.get(Backup, backup_id)
        record.status = BackupStatus.DELETED
        record.deleted_at = now() if left is None else None
        if left is not None:
            record.locked_until = max(record.locked_until or left, left)
    if left is not None:
        print(f"backup {backup_id}: its objects are locked until {left.isoformat(timespec='seconds')}; they are "
              f"removed by the first retention after that")
    return left is None


def remove_unlocked(storage: ObjectStorage, engine=None) -> list[str]:
    """The objects of backups let go while still locked (by retention, or a customer's purge), removed once
    their lock has passed: the nightly backup runs it after the customers. The store, not the ledger, says
    whether a lock has passed (it refuses the delete of a version still locked). Returns the backups now gone."""
    with session_scope(engine) as session:
        waiting = [(b.backup_id, b.customer_id, b.kind) for b in session.scalars(
            select(Backup).where(Backup.status == BackupStatus.DELETED, Backup.deleted_at.is_(None)))]
    gone = []
    for backup_id, customer_id, kind in waiting:
        objects = BackupObjects(storage, customer_id=customer_id)
        prefix = keys.backup_folder(customer_id, backup_id) if customer_id else keys.ledger_snapshot_folder(backup_id)
        if _let_go(objects, prefix, backup_id, engine):
            gone.append(backup_id)
    return gone


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


def abandon(backup: Backup) -> None:
    """A backup left `running` by a run that stopped before its manifest: `failed`, with why."""
    backup.status = BackupStatus.FAILED
    backup.error = (f"abandoned: the run {backup.flow_run_id or '(unknown)'} writing it stopped before its manifest; "
                    f"settled at {now().isoformat(timespec='seconds')}")


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
            abandon(backup)
            settled.append(backup.backup_id)
    return settled


def snapshot_ledger(day: date, storage: ObjectStorage, *, flow_run_id: str | None, engine=None,
                    terms: Terms | None = None) -> Backup:
    """A consistent copy of the ledger itself (the 10-year accounting record), in the same format."""
    from ledger.db import ledger_engine

    source = engine or ledger_engine()
    backup_id = keys.ledger_snapshot(day, datetime.now(timezone.utc))
    return write_backup(backup_id=backup_id, prefix=keys.ledger_snapshot_folder(backup_id),
                        tables=list(Base.metadata.sorted_tables), source=source, where_of=lambda table: true(),
                        storage=storage, customer_id=None, kind=BackupKind.LEDGER, tenant_column=None,
                        flow_run_id=flow_run_id, terms=terms, engine=engine)


def backup_chunk(customer_ids: list[str], day: date, platform: PlatformControl, storage: ObjectStorage, terms: Terms,
                 *, flow_run_id: str | None, engine=None, holder_gone=None,
                 log_bug: BugLog = log_to_python) -> list[BackupOutcome]:
    """Back up a chunk of customers one after the other, then apply their retention (one task per chunk)."""
    tables = platform.tenant_tables()
    outcomes = []
    for position, customer_id in enumerate(customer_ids):
        outcome = backup_customer(customer_id, day, platform, storage, tables=tables, flow_run_id=flow_run_id,
                                  engine=engine, holder_gone=holder_gone, log_bug=log_bug, terms=terms)
        outcomes.append(outcome)
        if outcome.store_down:  # the store went away: the rest of the chunk would only wait for the same error
            return outcomes + mark_not_backed_up(customer_ids[position + 1:], day, outcome.error,
                                                 flow_run_id=flow_run_id, engine=engine)
        if outcome.status in (BackupOutcomeStatus.GOOD, BackupOutcomeStatus.SKIPPED):
            apply_retention(customer_id, day, terms, storage, engine, flow_run_id=flow_run_id, holder_gone=holder_gone)
    return outcomes


def outcomes_of(customer_ids: list[str], day: date, engine=None) -> list[BackupOutcome]:
    """What the ledger says of each customer's backup of that night (written by shard runs elsewhere)."""
    with session_scope(engine) as session:
        found = {b.customer_id: b for b in session.scalars(select(Backup).where(
            Backup.backup_id.in_([keys.nightly_backup(c, day) for c in customer_ids])))}
        deleted = set(session.scalars(select(Customer.customer_id).where(
            Customer.customer_id.in_(customer_ids), deleted_or_deleting())))
    outcomes = []
    for customer_id in customer_ids:
        backup = found.get(customer_id)
        if backup is None and customer_id in deleted:
            outcomes.append(BackupOutcome(customer_id, keys.nightly_backup(customer_id, day),
                                          BackupOutcomeStatus.DELETED, error=DELETED_MEANWHILE))
        elif backup is None:
            outcomes.append(BackupOutcome(customer_id, keys.nightly_backup(customer_id, day), BackupOutcomeStatus.FAILED,
                                          error="no backup: its shard did not reach it"))
        elif backup.status == BackupStatus.GOOD:
            outcomes.append(BackupOutcome(customer_id, backup.backup_id, BackupOutcomeStatus.GOOD, backup.rows or 0, backup.bytes or 0))
        else:
            outcomes.append(BackupOutcome(customer_id, backup.backup_id, BackupOutcomeStatus.FAILED, error=backup.error or backup.status))
    return outcomes


def finish_night(day: date, outcomes: list[BackupOutcome], storage: ObjectStorage, terms: Terms, *,
                 down: str | None, snapshot_ledger_too: bool, flow_run_id: str | None, engine=None) -> Night:
    """After the customers: the ledger's snapshot and its retention, when asked and the store still answers;
    then the objects of backups let go while locked whose lock has passed (remove_unlocked)."""
    down = down or next((o.error for o in outcomes if o.store_down), None)
    line = None
    if snapshot_ledger_too and down is None:
        try:
            snapshot = snapshot_ledger(day, storage, flow_run_id=flow_run_id, engine=engine, terms=terms)
            apply_retention(None, day, terms, storage, engine)
            line = f"{snapshot.backup_id}: {snapshot.rows} rows, {snapshot.bytes} bytes"
        except StoreUnavailable as error:  # the store went away after the customers
            down = str(error)
    if down is None:
        try:
            remove_unlocked(storage, engine)
        except StoreUnavailable as error:
            down = str(error)
    return Night(day, tuple(outcomes), line, down, snapshot_asked=snapshot_ledger_too)


def back_up_night(day: date, platform: PlatformControl, storage: ObjectStorage, terms: Terms, *,
                  customer_id: str | None = None, snapshot_ledger_too: bool = True, flow_run_id: str | None = None,
                  engine=None, holder_gone=None, log_bug: BugLog = log_to_python) -> Night:
    """A whole night in this process, one customer after the other (the flow spreads the same steps over
    threads and workers): settle what died, back up, apply retention, snapshot the ledger."""
    settle_abandoned_backups(engine)
    customers = customers_to_back_up(customer_id, engine)
    down = store_down(storage)
    if down is not None:
        outcomes = mark_not_backed_up(customers, day, down, flow_run_id=flow_run_id, engine=engine)
    else:
        outcomes = backup_chunk(customers, day, platform, storage, terms, flow_run_id=flow_run_id, engine=engine,
                                holder_gone=holder_gone, log_bug=log_bug)
    return finish_night(day, outcomes, storage, terms, down=down, snapshot_ledger_too=snapshot_ledger_too
                        and not customer_id, flow_run_id=flow_run_id, engine=engine)


@dataclass(frozen=True)
class NightDone(RunResult):
    """The nightly-backup run's result: each customer's outcome (BackupOutcome's fields), the ledger snapshot."""
    flow: ClassVar[str] = "nightly-backup"
    day: date
    backups: list[dict]
    ledger_snapshot: str | None

    def count(self, status: BackupOutcomeStatus) -> int:
        return sum(1 for backup in self.backups if backup["status"] == status)
