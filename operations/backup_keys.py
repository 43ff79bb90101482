"""The key store of the backups: one data key per customer (and one of the installation, for the ledger's
snapshots), kept wrapped by the installation's master key (lifecycle_config/masterkey.py) as objects
under `keys/` of the storage, never in a backup nor a ledger snapshot.

Why per customer: deleting a customer's data (the 6-month deletion, the end of a cancellation) destroys
its data keys, and every copy of its backups, wherever it sits, becomes unreadable at once (shredding).
Why wrapped: a leaked bucket holds only ciphertext and wrapped keys; the master key stays on the machine
(and in the vendor's safe: `lifecycle keys export`).

A key object is JSON: its id, owner, when made, which master key wrapped it (the key file's fingerprint, or
`kms:<key id>` when the storage block names a KMS key: blocks/master_kms.py) and the data key wrapped with
AES key wrap (RFC 3394), or by KMS Encrypt bound to the key's id and owner. Ids sort by creation: the newest key of an owner encrypts new
backups; older ones stay to read the backups made under them (`lifecycle keys rotate --customer`).
"""

from __future__ import annotations

import base64
import json
import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from blocks.master_kms import PREFIX as KMS, VARIABLE as KMS_VARIABLE
from blocks.storage import FolderStore, MissingObject, NotAnObject, S3Store
from ledger import keys
from lifecycle_config import masterkey
from lifecycle_config.failpoints import failpoint

FORMAT = "wrapped-key/v1"


class KeyDestroyed(RuntimeError):
    """A backup's data key is not in the key store: shredded with the customer's data (or lost)."""


@dataclass(frozen=True)
class DataKey:
    key_id: str
    key: bytes


def _new_id() -> str:
    return f"dk-{datetime.now(timezone.utc):%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}"


def _owner(customer_id: str | None) -> str:
    return customer_id or "installation"


def key_ids(store: FolderStore | S3Store, customer_id: str | None) -> list[str]:
    """The owner's data keys in the store, oldest first."""
    folder = keys.data_keys_folder(customer_id)
    return sorted(item.key[len(folder):-len(".json")] for item in store.list(folder) if item.key.endswith(".json"))


def _context(key_id: str, owner: str) -> dict[str, str]:
    return {"lifecycle-data-key": key_id, "owner": owner}


def _wrap(key_id: str, customer_id: str | None, data_key: bytes, master, created_at: str) -> bytes:
    """The key object; `master` is the key file's key (bytes) or the KMS master key."""
    if isinstance(master, bytes):
        by, wrapped = masterkey.fingerprint(master), aes_key_wrap(master, data_key)
    else:
        by, wrapped = master.name, master.wrap(data_key, _context(key_id, _owner(customer_id)))
    return json.dumps({"format": FORMAT, "key_id": key_id, "owner": _owner(customer_id), "created_at": created_at,
                       "master": by, "wrapped": base64.b64encode(wrapped).decode()}, sort_keys=True).encode()


def _wrapping_master(store: FolderStore | S3Store):
    """What wraps new data keys: the KMS key the storage names, else the key file's (made on first use), once it
    is known to be this installation's (check_master_is_ours)."""
    if store.master_kms is not None:
        return store.master_kms
    held = masterkey.keys_for_use(create=True)
    check_master_is_ours(store, held)
    return held[0]


#: (store, master key fingerprint) pairs found to be this installation's in this process: checked once
_OURS: set[tuple[str, str]] = set()


def check_master_is_ours(store: FolderStore | S3Store, held: list[bytes]) -> None:
    """Refuse a master key file that holds none of the keys wrapping the store's data keys: another
    installation's key file (LIFECYCLE_MASTER_KEY_FILE copied from elsewhere), or an escrow copy from before a
    rotation. Wrapping a new data key under it would make the customer's next backups unreadable with the
    installation's own key (and a rotation would write a new key into that other file). A store with no data
    key yet takes any key (the first backup makes the master key). Checked once a process for each key."""
    prints = {masterkey.fingerprint(master) for master in held}
    place = store.describe()
    if any((place, found) in _OURS for found in prints):
        return
    for item in store.list("keys/"):
        if not item.key.endswith(".json"):
            continue
        wrapping = _record_at(store, item.key).get("master")
        if str(wrapping).startswith(KMS):  # wrapped by the storage's KMS key, not by any key file: look further
            continue
        if wrapping not in prints:
            raise masterkey.MasterKeyMissing(
                f"the data keys in {place} are wrapped by master key {str(wrapping)[:40]}, which "
                f"{masterkey.key_file()} does not hold: that file is another installation's master key (or an old "
                f"one); give this installation's with --master-key-file or {masterkey.VARIABLE}; nothing was "
                f"changed")
        _OURS.add((place, wrapping))
        return


def _check_master_before_locking(store: FolderStore | S3Store) -> None:
    """Refuse a master key file that cannot wrap here before any lock is made beside it: a damaged file, one that
    is not this installation's, or none at all while the store holds data keys a key file wrapped (another path
    than the key's, a typo in LIFECYCLE_MASTER_KEY_FILE). The locks (and the folders up to them) were made
    first, and a refused key file left them in a place the user never meant. A store with no data key yet
    takes a new key file (the first backup makes it); the lock then protects its making as before."""
    if store.master_kms is not None:
        return
    held = masterkey.read_keys()
    if held:
        check_master_is_ours(store, held)
        return
    for item in store.list("keys/"):
        if item.key.endswith(".json") and not str(_record_at(store, item.key).get("master")).startswith(KMS):
            raise masterkey.MasterKeyMissing(
                f"no master key at {masterkey.key_file()}, but the data keys in {store.describe()} are wrapped by one: "
                f"give this installation's key with --master-key-file or {masterkey.VARIABLE}; nothing was changed")


class WrongStore(RuntimeError):
    """The store a key command was given holds none of the data keys the ledger's backups were made under: it is
    not the store the backups are in (the storage block names another, and no server answered to say so)."""


def check_store_holds(store: FolderStore | S3Store, wanted: dict[str, str | None]) -> None:
    """Refuse a store that holds none of the data keys the ledger's good backups were made under ({key id:
    owner}, None the installation's): it is not the store the backups are in. A rotation there would rewrap only
    its keys and then drop the old master key, leaving the backups' data keys wrapped by a key nobody holds."""
    if not wanted:
        return
    held = set()
    for owner in set(wanted.values()):
        held.update(key_ids(store, owner))
        if held & set(wanted):
            return
    key_id = sorted(wanted)[0]
    more = f", and {len(wanted) - 1} more" if len(wanted) > 1 else ""
    raise WrongStore(
        f"{store.describe()} holds none of the data keys the ledger's backups were made under ({key_id} of "
        f"{wanted[key_id] or 'the installation'}{more}): it is not the storage the backups are in; the storage "
        f"block names it: start the server of `lifecycle up` (or set PREFECT_API_URL to this installation's "
        f"server, or LIFECYCLE_STORAGE_URL to the backups' storage) and run this again; nothing was changed")


def create_key(store: FolderStore | S3Store, customer_id: str | None) -> DataKey:
    """A new data key for the owner, stored wrapped; it becomes the one new backups use."""
    import io

    _check_master_before_locking(store)
    with _wrapping():
        master = _wrapping_master(store)
        failpoint("keys.master-read")
        data_key, key_id = secrets.token_bytes(32), _new_id()
        store.put_stream(keys.data_key_object(customer_id, key_id),
                         io.BytesIO(_wrap(key_id, customer_id, data_key, master, datetime.now(timezone.utc).isoformat())))
    failpoint("keys.data-key-created")
    return DataKey(key_id, data_key)


def current_key(store: FolderStore | S3Store, customer_id: str | None) -> DataKey:
    """The owner's newest data key, made on its first backup."""
    ids = key_ids(store, customer_id)
    if not ids:
        return create_key(store, customer_id)
    return DataKey(ids[-1], unwrap(store, customer_id, ids[-1]))


def _record_at(store: FolderStore | S3Store, key: str) -> dict:
    """A key object as stored; one that is no JSON object is damaged (KeyDestroyed), never taken for a damaged
    backup: the backup itself is good, and a versioned store may still hold the key object's good version."""
    try:
        with store.open(key) as handle:
            data = handle.read()
    except NotAnObject:  # a FIFO or a device where the key object should be: damaged, as unreadable bytes are
        data = b""
    try:
        record = json.loads(data)
    except (ValueError, RecursionError):
        record = None
    if not isinstance(record, dict):
        raise KeyDestroyed(f"the key object {key} is damaged in the key store (not a key record): restore it from "
                           f"the store's earlier version; the backups it opens are not damaged")
    return record


def _record(store: FolderStore | S3Store, customer_id: str | None, key_id: str) -> dict:
    try:
        return _record_at(store, keys.data_key_object(customer_id, key_id))
    except MissingObject:
        raise KeyDestroyed(f"the data key {key_id} of {_owner(customer_id)} is not in the key store: it was destroyed "
                           f"(shredded when the customer's data was deleted), so its backups cannot be read") from None


def shredded_keys(customer_id: str | None, engine=None) -> dict[str, str]:
    """The customer's data keys the ledger records as shredded (its deletion certificate, or the intent an
    approved deletion records before it shreds: a run killed between the two has shredded them, or is about
    to), each with the day: a key object found later under one of these ids (a copy put back, a forged one, an
    old version restored, a key a killed deletion did not reach yet) is never used, so a shred stays a shred
    whatever the store holds. The installation's key: none."""
    return {key_id: day for key_id, (day, _) in _shreds(customer_id, engine).items()}


def _shreds(customer_id: str | None, engine=None) -> dict[str, tuple[str, bool]]:
    """shredded_keys, each key with its day and whether its deletion is still under way (its intent open). The day
    is the deletion's business day (the intent's, from the product's clock: LIFECYCLE_TODAY), as every document
    of the deletion names it; a certificate of a release that kept no intent gives the day it was written."""
    if customer_id is None:
        return {}
    from sqlalchemy import select
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from ledger.db import session_scope
    from ledger.models import DeletionCertificate, DeletionIntent

    try:
        with session_scope(engine) as session:
            certified = {str(entry.get("key_id")): (f"{certificate.deleted_at:%Y-%m-%d}", False)
                         for certificate in session.scalars(select(DeletionCertificate)
                                                            .where(DeletionCertificate.customer_id == customer_id))
                         for entry in (certificate.deleted or {}).get("keys_shredded") or []}
            return certified | {str(key_id): (intent.day.isoformat(), intent.completed_at is None)
                                for intent in session.scalars(select(DeletionIntent)
                                                              .where(DeletionIntent.customer_id == customer_id))
                                for key_id in intent.key_ids or []}
    except (OperationalError, ProgrammingError) as error:
        # the reader of a backup holds no engine of its own: it asks the configured ledger. A caller working on a
        # ledger it names itself (the benchmarks, a test's template) may have a configured database that is no
        # ledger at all: it records no shred, rather than failing every read of a backup
        if DeletionCertificate.__tablename__ in str(error.orig) or DeletionIntent.__tablename__ in str(error.orig):
            return {}
        raise


def _refuse_shredded(customer_id: str | None, key_id: str, engine=None) -> None:
    shred = _shreds(customer_id, engine).get(key_id)
    if shred is None:
        return
    day, under_way = shred
    if under_way:  # approved and begun, not certified yet: shredded or about to be, never read again
        raise KeyDestroyed(f"the data key {key_id} of {customer_id} counts as shredded: its data deletion, approved "
                           f"for {day}, is under way, as the ledger records: a key object found under its name is "
                           f"not used, and its backups stay unreadable")
    raise KeyDestroyed(f"the data key {key_id} of {customer_id} was shredded on {day}, as the ledger records: a "
                       f"key object found under its name is not used, and its backups stay unreadable")


def unwrap(store: FolderStore | S3Store, customer_id: str | None, key_id: str, engine=None) -> bytes:
    _refuse_shredded(customer_id, key_id, engine)  # before the store is read: what it holds changes nothing
    record = _record(store, customer_id, key_id)
    if not isinstance(record.get("master"), str) or not isinstance(record.get("wrapped"), str):
        raise KeyDestroyed(f"the data key {key_id} of {_owner(customer_id)} is damaged in the key store (no master key "
                           f"or wrapped key in its record)")
    if record["master"].startswith(KMS):
        return _kms_unwrap(store, record)
    failpoint("keys.record-read")
    try:
        masters = {masterkey.fingerprint(master): master for master in masterkey.keys_for_use(create=False)}
        no_file = None
    except masterkey.MasterKeyMissing as missing:  # said below, unless the record read again needs no file
        masters, no_file = {}, missing
    master = masters.get(record.get("master"))
    if master is None:
        # read just before a rotation rewrapped it: `rotate-master` drops a key from the file only once every key
        # object is rewrapped (the object read again is under a key the file holds), and `rotate_to_kms` moves it
        # under the KMS key (the key file may be gone since): the record read again says which
        record = _record(store, customer_id, key_id)
        if isinstance(record.get("master"), str) and isinstance(record.get("wrapped"), str):
            if record["master"].startswith(KMS):
                return _kms_unwrap(store, record)
            master = masters.get(record["master"])
    if master is None and no_file is not None:
        raise no_file
    if master is None:
        raise masterkey.MasterKeyMissing(f"the data key {key_id} was wrapped by master key {record.get('master')}, "
                                         f"which {masterkey.key_file()} does not hold: give the escrow copy of that key "
                                         f"with --master-key-file or {masterkey.VARIABLE}")
    try:
        return aes_key_unwrap(master, base64.b64decode(record["wrapped"]))
    except (InvalidUnwrap, ValueError, KeyError, TypeError):
        raise KeyDestroyed(f"the data key {key_id} of {_owner(customer_id)} is damaged in the key store") from None


def _kms_unwrap(store: FolderStore | S3Store, record: dict) -> bytes:
    """A data key a KMS key wrapped: KMS Decrypt on the storage's endpoint, under the key that wrapped it."""
    wrapped_by = record["master"][len(KMS):]
    if store.master_kms is None:
        raise masterkey.MasterKeyMissing(f"the data key {record['key_id']} was wrapped by the KMS key {wrapped_by}, "
                                         f"and no KMS key is named: set {KMS_VARIABLE} (or the storage block's "
                                         f"master_key_kms_id) to read it")
    return store.master_kms.unwrap(base64.b64decode(record["wrapped"]), _context(record["key_id"], record["owner"]),
                                   wrapped_by)


def shred(store: FolderStore | S3Store, customer_id: str) -> list[dict]:
    """Destroy every data key of the customer (every version of each key object): every copy of its
    backups becomes unreadable at once. Returns what was destroyed: key id, versions, when."""
    destroyed = []
    for key_id in key_ids(store, customer_id):
        versions = store.delete(keys.data_key_object(customer_id, key_id))
        destroyed.append({"key_id": key_id, "versions": len(versions),
                          "destroyed_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        failpoint("keys.key-destroyed")
    return destroyed


def _is_shredded(customer_id: str | None, key_id) -> bool:
    return str(key_id) in shredded_keys(customer_id)


#: how long `keys rotate-master` waits, by default, for the backups wrapping data keys (seconds): a wrapping holds
#: its lock from reading the master key to storing one small key object, so a wait this long is a stuck backup
WAIT_FOR_WRAPPERS = 300


def rotate_master(store: FolderStore | S3Store, *, wait_seconds: float = WAIT_FOR_WRAPPERS,
                  on_wait=None) -> tuple[str, int]:
    """A new master key wraps every data key; no backup is re-encrypted. Crash-safe: the key file first holds
    the new key followed by the old one(s), then each key object is rewritten under the new key, and only
    when none is left under an old key does the file drop them. A run that died in the middle (the file
    still holds two keys) is finished by the next one, with the same new key. Returns (fingerprint, rewrapped).
    Backups wrapping a data key meanwhile are waited for, at most `wait_seconds` (`on_wait(lock, wait_seconds)`
    told once when there are some): then BackupsWrapping, nothing changed. With a KMS master key, see
    rotate_to_kms."""
    if store.master_kms is not None:
        return rotate_to_kms(store)
    path = masterkey.key_file()
    check_master_is_ours(store, masterkey.keys_for_use(create=False))  # before any lock is made beside the file
    with _rotation_lock(path):
        return _rotate_master(store, path, wait_seconds, on_wait)


def _wrapping_lock_file():
    path = masterkey.key_file()
    return path.with_name(path.name + ".wrapping")


@contextmanager
def _wrapping():
    """Held shared by whoever wraps a new data key, from reading the master key to storing the key object; taken
    exclusive by a rotation while it writes the new key into the key file (_wrappers_done). A data key wrapped
    under the master read before that moment is then stored before the rotation lists the keys to rewrap: one
    stored after its last pass stayed wrapped by the old master key, which the rotation then dropped from the
    file, and the backups made with it could never be read. (An flock: the kernel frees it when a process ends.)"""
    import fcntl

    lock = _wrapping_lock_file()
    try:
        lock.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle = open(lock, "a")  # noqa: SIM115 - held for the block, closed below
    except OSError:
        # a key file in a folder nobody may write (a secret mounted read-only): no rotation can rewrite it either
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        yield


class BackupsWrapping(RuntimeError):
    """Backups kept wrapping data keys (the wrapping lock held shared) for longer than the rotation would wait."""


@contextmanager
def _wrappers_done(wait_seconds: float, on_wait):
    """The wrapping lock held exclusive: every backup that read the master key has stored its data key, and none
    reads it until the block ends. Waited for at most `wait_seconds`, polling (an flock has no time-out), with
    `on_wait(lock, wait_seconds)` told once when backups hold it; a rotation waiting silently looked hung. Given
    up with BackupsWrapping, before the rotation wrote anything."""
    import fcntl
    import time

    lock = _wrapping_lock_file()
    with open(lock, "a") as handle:  # made by _rotation_lock
        deadline, told = time.monotonic() + wait_seconds, False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not told and on_wait is not None:
                    on_wait(lock, wait_seconds)
                told = True
                if time.monotonic() >= deadline:
                    raise BackupsWrapping(
                        f"backups were still wrapping data keys after {wait_seconds:g} s (they hold {lock}): the "
                        f"rotation gave up before writing anything; nothing was changed; run it again once those "
                        f"backups end, or give a longer --wait") from None
                time.sleep(0.1)
        yield


class RotationImpossible(RuntimeError):
    """The key file's folder cannot hold the rotation's locks (read-only): nothing is changed."""


class RotationRunning(RuntimeError):
    """Another `keys rotate-master` is rotating the same key file."""


@contextmanager
def _rotation_lock(path):
    """One rotation of a key file at a time (an flock the kernel frees when the process ends, however it ends).
    Two at once each wrote a new key into the file over the other's and rewrapped keys under it; the one that
    ended last dropped every other key, and the data keys the other had rewrapped were wrapped by a key nobody
    held."""
    import fcntl

    lock = path.with_name(path.name + ".rotating")
    try:
        lock.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle = open(lock, "a")  # noqa: SIM115 - held for the rotation, closed below
        open(_wrapping_lock_file(), "a").close()  # the wrappers' lock, taken once the file holds the new key
    except OSError as error:
        raise RotationImpossible(f"the key file's folder {path.parent} takes no lock file ({error.strerror or error}): a "
                                 f"rotation rewrites {path.name} there, so the folder must be writable; nothing was "
                                 f"changed") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RotationRunning(f"another `lifecycle keys rotate-master` is rotating {path} now (it holds {lock}): "
                                  f"let it end, then run this again if it did not finish; nothing was changed") from None
        yield
    finally:
        handle.close()


def _rotate_master(store: FolderStore | S3Store, path, wait_seconds: float, on_wait) -> tuple[str, int]:
    held = masterkey.keys_for_use(create=False)
    check_master_is_ours(store, held)  # before a new key is written into a file that is not ours
    with _wrappers_done(wait_seconds, on_wait):  # a data key wrapped under the old key alone is stored before the passes
        if len(held) == 1:
            held = [masterkey.new_key(), *held]
            masterkey.write_keys(path, held)
            failpoint("keys.master-added")
    new, by_print = held[0], {masterkey.fingerprint(master): master for master in held}
    rewrapped = 0
    while True:  # again until a pass finds none left: a key made meanwhile under the old master is caught too
        done = _rewrap_pass(store, new, by_print, path)
        rewrapped += done
        if not done:
            break
    masterkey.write_keys(path, [new])
    return masterkey.fingerprint(new), rewrapped


def _rewrap_pass(store: FolderStore | S3Store, new: bytes, by_print: dict[str, bytes], path) -> int:
    """Rewrap under `new` every key object wrapped by another master key; returns how many."""
    import io

    rewrapped = 0
    for item in store.list("keys/"):
        if not item.key.endswith(".json"):
            continue
        record = _record_at(store, item.key)
        if record.get("master") == masterkey.fingerprint(new):
            continue
        old = by_print.get(record.get("master"))
        if old is None:
            raise masterkey.MasterKeyMissing(f"{item.key} is wrapped by master key {record.get('master')}, which "
                                             f"{path} does not hold; nothing more was rewrapped")
        owner = None if record["owner"] == "installation" else record["owner"]
        if _is_shredded(owner, record.get("key_id")):  # never rewrapped: it dies with the old master key
            continue
        data_key = aes_key_unwrap(old, base64.b64decode(record["wrapped"]))
        store.put_stream(item.key, io.BytesIO(_wrap(record["key_id"], owner, data_key, new, record["created_at"])))
        rewrapped += 1
        failpoint("keys.rewrapped")
    return rewrapped


def rotate_to_kms(store: FolderStore | S3Store) -> tuple[str, int]:
    """With a KMS master key, rotation is KMS's (its automatic rotation keeps every wrapped key readable);
    here, every data key not wrapped by the KMS key now named (by the key file, or by the KMS key named
    before) is rewrapped under it, no backup re-encrypted. Rerun after a crash, it rewraps what is left.
    Returns (`kms:<key id>`, rewrapped)."""
    import io

    master = store.master_kms
    master.check()
    rewrapped = 0
    for item in store.list("keys/"):
        if not item.key.endswith(".json"):
            continue
        with store.open(item.key) as handle:
            record = json.loads(handle.read())
        if record.get("master") == master.name:
            continue
        owner = None if record["owner"] == "installation" else record["owner"]
        if _is_shredded(owner, record.get("key_id")):  # a shredded key is never wrapped again
            continue
        data_key = unwrap(store, owner, record["key_id"])
        store.put_stream(item.key, io.BytesIO(_wrap(record["key_id"], owner, data_key, master, record["created_at"])))
        rewrapped += 1
        failpoint("keys.rewrapped")
    return master.name, rewrapped
