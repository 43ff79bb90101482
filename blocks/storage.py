"""`ObjectStorage`: where backups, manifests and exports go: a local folder or S3 through boto3.

Both stores honour one small contract (put a file or bytes, read as a stream, list, delete every
version, a download link), tested against a folder and a real S3 protocol server, so flows never
care which one they have. Large objects stream in multipart uploads with bounded memory.
"""

from __future__ import annotations

from contextlib import contextmanager

import errno
import os
import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Callable, Literal, Optional
from urllib.parse import unquote, urlparse

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

import lifecycle_config
from blocks.forms import Text, http_url_problem, storage_url_problem
from blocks.storage_deadlines import Sockets, Watch
from lifecycle_config import Misconfigured
from lifecycle_config.conditions import WORLD_ERRNOS, Unavailable

#: S3 calls fail within seconds when the endpoint is down: a short connect timeout, one retry
CONNECT_SECONDS = 3
READ_SECONDS = 60
ATTEMPTS = 2
#: what one key of a listing weighs in its answer (XML), roughly: a listing's deadline grows with its pages
LISTED_BYTES = 300


class StorageError(RuntimeError):
    pass


class MissingObject(StorageError):
    """The storage answered, and the object is not there (not: the storage could not be reached)."""


class NotAnObject(StorageError):
    """Something that is not a stored object stands at a key of a folder store (a FIFO, a device, a socket, a
    folder): it is there, and can never be read as the object (damaged, not missing). Said at once: a plain
    open of a FIFO waits for a writer for ever, and a restore or a drill hung on one."""


def _not_an_object(key: str, mode: int) -> NotAnObject:
    import stat

    kind = ("a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a folder" if stat.S_ISDIR(mode)
            else "not a regular file")
    return NotAnObject(f"object {lifecycle_config.escaped(key, 300)} is {kind}, not a stored file: it cannot be "
                       f"read (damaged storage; remove it)")


class StillLocked(StorageError):
    """Some versions of an object are under an Object Lock retention the store enforces: they stay until
    `until`; `deleted` lists the versions that did go (delete markers, versions whose lock passed)."""

    def __init__(self, key: str, until: datetime, deleted: list[str]):
        super().__init__(f"{key} is locked until {until.isoformat(timespec='seconds')}")
        self.key, self.until, self.deleted = key, until, deleted


class StoreUnavailable(StorageError, Unavailable):
    """The store cannot be used at all just now: its endpoint is down or refuses, its bucket is missing or
    refuses these credentials, its folder is read-only or full. Nothing about any one object; the message
    names the store (endpoint and bucket, or folder), never a credential."""


class TooSlow(StoreUnavailable):
    """The store answers, too slowly to finish: a transfer ran past its deadline (blocks.storage_deadlines) and was
    cut. Nothing was stored or read whole; the message names the store and the object and says what moved."""


def _s3_unavailable(error: BaseException, where: str) -> StoreUnavailable | None:
    """The StoreUnavailable a botocore error means, or None when it is about one object."""
    from botocore.exceptions import (ClientError, ConnectionClosedError, ConnectTimeoutError,
                                     EndpointConnectionError, NoCredentialsError, ReadTimeoutError)

    if isinstance(error, EndpointConnectionError):
        return StoreUnavailable(f"object storage {where} cannot be reached (connection refused or no route; start "
                                f"it, or correct the storage block's endpoint)")
    if isinstance(error, (ConnectTimeoutError, ReadTimeoutError)):
        return StoreUnavailable(f"object storage {where} cannot be reached (timed out; check it runs and answers)")
    if isinstance(error, ConnectionClosedError):
        return StoreUnavailable(f"object storage {where} closed the connection")
    if isinstance(error, NoCredentialsError):
        return StoreUnavailable(f"object storage {where}: no credentials (set the block's keys or AWS_* variables)")
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code"))
        if code in ("NoSuchBucket",):
            return StoreUnavailable(f"object storage {where}: the bucket does not exist")
        if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"):
            return StoreUnavailable(f"object storage {where} refuses these credentials ({code})")
    return None


def _folder_unavailable(error: OSError, root: Path) -> StoreUnavailable:
    return StoreUnavailable(f"object storage folder {root} cannot be written ({error.strerror or error}; let this "
                            f"user write there and free space, or set another folder in the storage block)")


def one_line_of(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int


#: the file a store keeps at its root (a folder's file, an S3 prefix's object): it names the installation that owns
#: the store (StoreOwner), so no other installation writes there (a close of another ledger took this one's invoice
#: documents as its own and mailed them); and, in a folder, any installation's CLI knows the folder for a store from
#: a path alone and writes nothing there by hand (storage_folder_holding)
STORE_MARKER = ".lifecycle-store"
MARKER_TEXT = (b"This folder is a lifecycle object storage: every file under it is a stored object (workbooks, "
               b"invoices, backups, keys) of the installation that wrote it. Write nothing here by hand.\n")
#: the folders of a store's layout: two of them, or `keys/installation/` or `keys/customers/` beside one, is a store
#: whose marker is missing (made before the marker existed, or the marker deleted)
STORE_FOLDERS = ("exports", "invoices", "backups", "ledger-snapshots")


def storage_folder_holding(path) -> str | None:
    """The real path of the folder store (any installation's) that holds `path`, itself or one of the folders
    above it once links and `..` are resolved, else None. Known by its marker (STORE_MARKER), or, for a store
    whose marker is missing, by its layout: a `keys/` with `installation/` or `customers/` beside `exports/`,
    `invoices/`, `backups/` or `ledger-snapshots/` (a home's own `keys/` holds master.key and none of those), or
    two of those folders (a store with workbooks and invoices only, never backed up). A file written there by
    another installation's CLI was served by that one's downloads server."""
    real = Path(os.path.realpath(path))
    for folder in (real, *real.parents):
        try:
            if (folder / STORE_MARKER).is_file() or _store_layout(folder):
                return str(folder)
        except OSError:  # a folder this user may not look into: not known as a store
            continue
    return None


def _store_layout(folder: Path) -> bool:
    kept = sum((folder / name).is_dir() for name in STORE_FOLDERS)
    return kept >= 2 or (kept == 1 and any((folder / "keys" / part).is_dir() for part in ("installation", "customers")))


@dataclass(frozen=True)
class StoreOwner:
    """The installation a store belongs to, as its marker names it: the ledger's installation id, and the home (and
    machine) that first wrote there, for the person who reads a refusal. `adoptable(store)` says why a store an
    older release filled (no identity in it yet) is not this installation's (None: it may be adopted)."""

    installation: str
    home: str
    adoptable: Optional[Callable[["FolderStore | S3Store"], Optional[str]]] = None


class ForeignStore(StorageError, Misconfigured):
    """The store is marked as another installation's: nothing is written there (the user's to fix: a store of
    its own for each installation)."""


def writing_owner() -> Optional[StoreOwner]:
    """The installation that writes, asked by a store obtained from a block (ObjectStorage.store) at its first
    write: lifecycle_config.store_owner, set by the operations layer (operations.store_owner), which knows the
    ledger. None: a store used on its own (the storage contract's tests), which marks its root naming no owner."""
    provider = lifecycle_config.store_owner
    return provider() if provider is not None else None


def marker_text(owner: StoreOwner | None) -> bytes:
    if owner is None:
        return MARKER_TEXT
    return MARKER_TEXT + f"installation: {owner.installation}\nhome: {owner.home}\n".encode()


def marked_owner(text: bytes | None) -> tuple[str, str] | None:
    """(installation, home) a marker names, None when it names none (an older release's marker, or none)."""
    if not text:
        return None
    found = {}
    for line in text.decode("utf-8", "replace").splitlines():
        name, colon, value = line.partition(": ")
        if colon and name in ("installation", "home"):
            found[name] = value.strip()
    return (found["installation"], found.get("home", "unknown")) if found.get("installation") else None


class _Owned:
    """The claim every store makes before its first write (once per store object: the nightly backup writes
    thousands of objects through one): its marker must name this installation. A store that names another is
    refused (ForeignStore, nothing written); one that names none is marked now, unless it holds objects (an older
    release's store) and the owner says they are not its own."""

    owner: Optional[Callable[[], Optional[StoreOwner]]] = None
    _claimed = False
    _refused: Optional[ForeignStore] = None

    def _read_marker(self) -> bytes | None:
        raise NotImplementedError

    def _write_marker(self, text: bytes) -> None:
        raise NotImplementedError

    def _holds_objects(self) -> bool:
        raise NotImplementedError

    def claim(self) -> None:
        """Make sure this store is this installation's before anything is written to it (see _Owned)."""
        if self._claimed:
            return
        if self._refused is not None:  # said once per store object: every later write is refused the same way
            raise ForeignStore(str(self._refused))
        try:
            self._claim()
        except ForeignStore as refused:
            self._refused = refused
            raise

    def _claim(self) -> None:
        owner = self.owner() if self.owner is not None else None
        if owner is None:
            if self._read_marker() is None:
                self._write_marker(marker_text(None))
            self._claimed = True
            return
        marked = marked_owner(self._read_marker())
        if marked is not None and marked[0] != owner.installation:
            raise self._foreign(marked, owner)
        if marked is None:
            problem = owner.adoptable(self) if owner.adoptable is not None and self._holds_objects() else None
            if problem:
                raise ForeignStore(f"object storage {self.describe()} holds another installation's objects "
                                   f"({problem}); this installation is {owner.installation}: give it a store of its "
                                   f"own; nothing was written")
            self._write_marker(marker_text(owner))
            marked = marked_owner(self._read_marker())  # two installations marking at once: the last one wins
            if marked is not None and marked[0] != owner.installation:
                raise self._foreign(marked, owner)
        self._claimed = True

    def _foreign(self, marked: tuple[str, str], owner: StoreOwner) -> ForeignStore:
        return ForeignStore(f"object storage {self.describe()} belongs to installation {marked[0]} (home "
                            f"{lifecycle_config.escaped(marked[1], 1024)}); this installation is {owner.installation}: "
                            f"give it a store of its own; nothing was written")


class FolderStore(_Owned):
    """Objects as files under one folder; writes land under a temporary name, then are renamed, so
    a reader never sees half an object. The folder's first write leaves STORE_MARKER at its root, naming the
    installation that owns it (_Owned.claim)."""

    master_kms = None  # the KMS master key of its data keys (ObjectStorage.store), None: the key file

    def __init__(self, root: Path):
        self.root = root

    def mark(self) -> None:
        """Claim the folder (_Owned.claim): its marker left at the root, naming this installation, once per store
        object; ForeignStore when it names another."""
        self.claim()

    def _read_marker(self) -> bytes | None:
        try:
            return (self.root / STORE_MARKER).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _write_marker(self, text: bytes) -> None:
        """The marker, written as any object is: a folder that cannot be written is the same one line."""
        marker = self.root / STORE_MARKER
        partial = marker.with_name(f"{STORE_MARKER}.{os.getpid()}-{secrets.token_hex(6)}.partial")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            partial.write_bytes(text)
            partial.replace(marker)
        except OSError as error:
            try:
                partial.unlink(missing_ok=True)
            except OSError:
                pass
            raise _folder_unavailable(error, self.root) from None

    def _holds_objects(self) -> bool:
        try:
            return any(entry.name != STORE_MARKER for entry in os.scandir(self.root))
        except FileNotFoundError:
            return False

    def _path(self, key: str) -> Path:
        """The file of a key, which must stay inside the root: no absolute key, no `..`, no link out."""
        parts = key.split("/")
        if not key or key.startswith("/") or "\\" in key or any(part in ("", ".", "..") for part in parts[:-1]) \
                or parts[-1] in (".", ".."):
            raise StorageError(f"not a storage key: {key!r}")
        root = self.root.resolve()
        path = (root / key).resolve()
        if root not in path.parents:
            raise StorageError(f"key escapes the storage folder: {key!r}")
        return path

    def describe(self) -> str:
        return f"folder {self.root}"

    def probe(self) -> None:
        """Write and remove a small file: a read-only, full or forbidden folder raises StoreUnavailable."""
        probe = self.root / f".probe-{os.getpid()}"
        try:
            self.mark()
            with probe.open("wb") as handle:
                handle.write(b"lifecycle probe\n")
                handle.flush()
                os.fsync(handle.fileno())
            probe.unlink()
        except OSError as error:
            raise _folder_unavailable(error, self.root) from None

    def immutability(self) -> str | None:
        """A folder locks nothing (see S3Store.immutability)."""
        return None

    def extend_lock(self, key: str, until: datetime) -> int:
        return 0

    def put_stream(self, key: str, stream: BinaryIO, retain_until: datetime | None = None) -> int:
        path = self._path(key)
        # a name of this writer's own: two writers of one key at once (two redeposits rendering the same document)
        # each write their whole copy and the last rename wins; with one shared name the second found it renamed
        partial = path.with_name(f"{path.name}.{os.getpid()}-{secrets.token_hex(6)}.partial")
        try:
            self.mark()
            path.parent.mkdir(parents=True, exist_ok=True)
            with partial.open("wb") as handle:
                shutil.copyfileobj(stream, handle, 1 << 20)
                handle.flush()
                os.fsync(handle.fileno())
            partial.replace(path)
        except OSError as error:
            try:
                partial.unlink(missing_ok=True)  # no half object left behind, where the folder allows it
            except OSError:
                pass
            if error.errno in (errno.EISDIR, errno.ENOTEMPTY) and path.is_dir():  # a folder stands at the key
                raise _not_an_object(key, os.lstat(path).st_mode) from None
            if error.errno not in WORLD_ERRNOS:
                raise   # a name too long, a key the program built wrong: a bug, with its traceback
            raise _folder_unavailable(error, self.root) from None
        return path.stat().st_size

    def open(self, key: str) -> BinaryIO:
        """The object's file, open for reading. Opened without waiting (O_NONBLOCK: a FIFO's open would wait for
        a writer) and checked on the file opened, not on its name (no race with a swap): anything but a
        regular file is NotAnObject at once."""
        import stat

        path = self._path(key)
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            raise MissingObject(f"no object {key!r}") from None
        except OSError as error:
            if error.errno in (errno.ENXIO, errno.EISDIR, errno.ENODEV, errno.EOPNOTSUPP):  # a socket, a device
                raise _not_an_object(key, os.lstat(path).st_mode) from None
            raise
        try:
            mode = os.fstat(descriptor).st_mode
            if not stat.S_ISREG(mode):
                raise _not_an_object(key, mode)
            os.set_blocking(descriptor, True)
            return os.fdopen(descriptor, "rb")
        except BaseException:
            os.close(descriptor)
            raise

    def exists(self, key: str) -> bool:
        """Whether an object is stored at `key`; NotAnObject when something else stands there (a FIFO, a
        device, a socket: the object is damaged, not missing). A folder is a prefix of keys, not an object."""
        import stat

        try:
            mode = os.stat(self._path(key)).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return False
        if stat.S_ISDIR(mode):
            return False
        if not stat.S_ISREG(mode):
            raise _not_an_object(key, mode)
        return True

    def list(self, prefix: str = "") -> list[StoredObject]:
        """Every object whose key starts with `prefix`, walking only the folder the prefix names."""
        import stat

        root = self.root.resolve()
        folder = self._path(prefix.rsplit("/", 1)[0] + "/x").parent if "/" in prefix else root
        if not folder.is_dir():
            return []
        found = []
        for path in sorted(folder.rglob("*")):
            # what stands at a key and is not a folder is listed, a FIFO or a device too (size 0): reading it
            # then says NotAnObject, and a deletion removes it; only a stat, never an open, so nothing waits
            try:
                status = path.stat()
            except OSError:  # a link to nothing, a file gone since the walk saw it
                continue
            if not stat.S_ISDIR(status.st_mode) and not path.name.endswith(".partial") \
                    and not (path.parent == root and path.name == STORE_MARKER):  # the marker is no object
                key = path.relative_to(root).as_posix()
                if key.startswith(prefix):
                    found.append(StoredObject(key, status.st_size if stat.S_ISREG(status.st_mode) else 0))
        return found

    def delete(self, key: str) -> list[str]:
        path = self._path(key)
        if not path.exists():
            return []
        self.claim()
        path.unlink()
        return [key]

    def link(self, key: str, expires_seconds: int = 7 * 24 * 3600) -> str:
        return self._path(key).as_uri()


class S3Store(_Owned):
    """Objects of a bucket under a prefix; the prefix's first write leaves `<prefix>/.lifecycle-store`, naming the
    installation that owns it (_Owned.claim)."""

    master_kms = None  # as FolderStore's

    def __init__(self, bucket: str, prefix: str, client, extra_args: dict, chunk_bytes: int,
                 lock_mode: str = "governance"):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client
        self.extra_args = extra_args
        self.chunk_bytes = chunk_bytes
        self.lock_mode = lock_mode
        self._immutability: tuple[str | None] | None = None  # asked once per store
        self.sockets = Sockets()
        self.sockets.watch(client)

    @contextmanager
    def _watched(self, what: str, size: int | None = None, doing: str = "moved"):
        """Run a call that reaches the store under a deadline (blocks.storage_deadlines): past it, TooSlow, whatever
        the cut made the call raise; an interrupt (Ctrl-C) cuts the sockets so no thread stays blocked in a read."""
        watch = Watch(self.sockets, size, doing)
        try:
            yield watch
            if watch.expired_after is not None:  # cut mid-answer, an answer read short can even look whole
                raise self._too_slow(what, watch)
        except TooSlow:
            raise
        except BaseException as error:
            if watch.expired_after is not None:
                raise self._too_slow(what, watch) from None
            if not isinstance(error, Exception):
                self.sockets.interrupt()
            raise
        finally:
            watch.stop()

    def _too_slow(self, what: str, watch: Watch) -> TooSlow:
        return TooSlow(f"object storage {self.describe()}: {what}: {watch.seen()}: too slow to finish (it must move "
                       f"{watch.rate / 1024:.0f} KB/s after {watch.floor:.0f} s)")

    def immutability(self) -> str | None:
        """The Object Lock mode backups are written in (`governance` or `compliance`, as the block says) when
        the bucket has Object Lock enabled, else None: asked once (get_object_lock_configuration)."""
        if self._immutability is None:
            from botocore.exceptions import ClientError

            try:
                with self._store_errors("its Object Lock setting"):
                    answer = self.client.get_object_lock_configuration(Bucket=self.bucket)
                enabled = answer.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") not in ("ObjectLockConfigurationNotFoundError",
                                                                       "NotImplemented", "MethodNotAllowed"):
                    raise
                enabled = False
            self._immutability = (self.lock_mode if enabled else None,)
        return self._immutability[0]

    def default_retention(self) -> str | None:
        """The bucket's own default retention, when it has one (it would lock the key store's objects too)."""
        answer = self.client.get_object_lock_configuration(Bucket=self.bucket)
        default = answer.get("ObjectLockConfiguration", {}).get("Rule", {}).get("DefaultRetention")
        if not default:
            return None
        return f"{default.get('Mode', '?').lower()}, " + (f"{default['Days']} days" if "Days" in default
                                                           else f"{default.get('Years')} years")

    def _versions(self, full: str) -> list[dict]:
        found = []
        paginator = self.client.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
            found += [item for item in page.get("Versions", []) + page.get("DeleteMarkers", []) if item["Key"] == full]
        return found

    def _retention(self, full: str, version_id: str) -> tuple[str, datetime] | None:
        """The version's retention (mode, retain-until) as the store holds it, or None when it has none (a delete
        marker, a version never locked). Read from the version's HEAD, which carries it for a caller allowed
        s3:GetObjectRetention (moto's server fails GetObjectRetention of a version)."""
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=full, VersionId=version_id)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "405", "NoSuchKey", "NoSuchVersion",
                                                               "MethodNotAllowed", "NotFound"):
                return None
            raise
        until = head.get("ObjectLockRetainUntilDate")
        return (head.get("ObjectLockMode"), until.astimezone(timezone.utc)) if until else None

    def extend_lock(self, key: str, until: datetime) -> int:
        """Make every version of `key` stay locked until at least `until` (in its own mode, the block's for a
        version without one); a version already locked as long or longer is left as it is: the product never
        shortens a retention. Returns how many versions were extended."""
        full, extended = self._key(key), 0
        self.claim()
        with self._store_errors(f"object {key}"):
            for version in self._versions(full):
                if "Size" not in version:  # a delete marker holds no data and takes no retention
                    continue
                current = self._retention(full, version["VersionId"])
                if current is not None and current[1] >= until:
                    continue
                mode = current[0] if current is not None else self.lock_mode.upper()
                self.client.put_object_retention(Bucket=self.bucket, Key=full, VersionId=version["VersionId"],
                                                 Retention={"Mode": mode, "RetainUntilDate": until})
                extended += 1
        return extended

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _read_marker(self) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            with self._store_errors("its marker") as watch:
                answer = self.client.get_object(Bucket=self.bucket, Key=self._key(STORE_MARKER))
                text = answer["Body"].read()
                watch.moved += len(text)
            return text
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise StorageError(f"object storage {self.describe()}: its marker cannot be read "
                               f"({error.response.get('Error', {}).get('Code')})") from None

    def _write_marker(self, text: bytes) -> None:
        with self._store_errors("its marker"):
            self.client.put_object(Bucket=self.bucket, Key=self._key(STORE_MARKER), Body=text, **self.extra_args)

    def _holds_objects(self) -> bool:
        with self._store_errors("its listing"):
            answer = self.client.list_objects_v2(Bucket=self.bucket, Prefix=self._key(""), MaxKeys=2)
        return any(item["Key"] != self._key(STORE_MARKER) for item in answer.get("Contents", []))

    def describe(self) -> str:
        """s3://bucket/prefix at its endpoint (scheme, host and port only: never a credential)."""
        endpoint = urlparse(self.client.meta.endpoint_url or "")
        host = endpoint.hostname or "AWS"
        at = f"{endpoint.scheme}://{host}" + (f":{endpoint.port}" if endpoint.port else "") if endpoint.scheme else host
        return f"s3://{self.bucket}" + (f"/{self.prefix}" if self.prefix else "") + f" at {at}"

    def probe(self) -> None:
        """One cheap call (HEAD of the bucket): a store that is down or a bucket that does not exist raise
        StoreUnavailable within seconds, before any customer is tried. Any other answer proves nothing (a key
        may write objects without the right to list the bucket): the writes themselves will tell."""
        from botocore.exceptions import ClientError

        try:
            with self._watched("its bucket"):
                self.client.head_bucket(Bucket=self.bucket)
        except TooSlow:
            raise
        except Exception as error:  # noqa: BLE001 - translated when it describes the store
            code = str(error.response.get("Error", {}).get("Code")) if isinstance(error, ClientError) else None
            if code in ("404", "NotFound"):
                raise StoreUnavailable(f"object storage {self.describe()}: the bucket does not exist") from None
            unavailable = None if code else _s3_unavailable(error, self.describe())
            if unavailable is not None:
                raise unavailable from None

    def put_stream(self, key: str, stream: BinaryIO, retain_until: datetime | None = None) -> int:
        """Store the stream under `key`; locked until `retain_until` in the block's mode when given and the bucket
        has Object Lock (the key store's objects are written without it: they must stay deletable)."""
        from boto3.s3.transfer import TransferConfig

        config = TransferConfig(multipart_threshold=self.chunk_bytes, multipart_chunksize=self.chunk_bytes,
                                max_concurrency=4, use_threads=True)
        self.claim()
        try:
            extra = dict(self.extra_args)
            if retain_until is not None and self.immutability():
                extra.update(ObjectLockMode=self.lock_mode.upper(), ObjectLockRetainUntilDate=retain_until)
            with self._watched(f"object {key} (upload)", _size_of(stream), "sent") as watch:
                counter = _CountingReader(stream, watch)
                self._upload(counter, key, extra, config)
        except TooSlow:
            raise
        except Exception as error:  # noqa: BLE001 - translated when it describes the store
            unavailable = _s3_unavailable(getattr(error, "__cause__", None) or error, self.describe()) \
                or _s3_unavailable(error, self.describe())
            if unavailable is None:
                raise
            raise unavailable from None
        return counter.count

    def _upload(self, stream: BinaryIO, key: str, extra: dict, config) -> None:
        """boto3's upload_fileobj, with the sockets cut before its worker threads are waited for when it fails or is
        interrupted: upload_fileobj's manager waits for them first, and a worker blocked in a trickled read held
        a Ctrl-C'ed command for minutes (a second Ctrl-C left the threads, still not daemons, to hold the exit).

        A failed or interrupted upload is cancelled through its future (`future.cancel()`), never through
        `TransferManager.shutdown(cancel=True)`: s3transfer (0.17.0 and every release since, 0.19.3 included) passes
        that call's arguments to `_shutdown` in the wrong order, so the cancel raised "TypeError: 'str' object is not
        callable" in place of the interrupt (a SIGTERM's traceback). The manager is then shut down without cancel,
        which is right in every release, and waited for at most SHUTDOWN_SECONDS: its threads' sockets are cut."""
        from boto3.s3.transfer import create_transfer_manager

        manager = create_transfer_manager(self.client, config)
        future = None
        try:
            future = manager.upload(stream, self.bucket, self._key(key), extra_args=extra)
            future.result()
        except BaseException as error:
            if not isinstance(error, Exception):  # an interrupt; a deadline passed has cut them already
                self.sockets.interrupt()
            if future is not None:
                future.cancel()
            _shut_down(manager)
            raise
        manager.shutdown()

    def open(self, key: str) -> BinaryIO:
        """The object's body as a stream, read under the object's deadline (the get's answer, then its body: the
        watch ends when the body is read to its end or closed)."""
        from botocore.exceptions import ClientError

        what = f"object {key}"
        try:
            with self._watched(what, doing="answered") as watch:
                answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            watch = Watch(self.sockets, answer.get("ContentLength"), "answered")
            return _WatchedBody(answer["Body"], watch, lambda: self._too_slow(what, watch), self.sockets)
        except TooSlow:
            raise
        except ClientError as error:
            code = error.response["Error"].get("Code")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise MissingObject(f"no object {key!r}: {code}") from None
            unavailable = _s3_unavailable(error, self.describe())
            if unavailable is not None:
                raise unavailable from None
            raise StorageError(f"cannot read {key!r}: {code}") from None
        except Exception as error:  # noqa: BLE001 - translated when it describes the store
            unavailable = _s3_unavailable(error, self.describe())
            if unavailable is None:
                raise
            raise unavailable from None

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            with self._store_errors(f"object {key}"):
                self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as error:
            unavailable = _s3_unavailable(error, self.describe())
            if unavailable is not None:
                raise unavailable from None
            return False

    def list(self, prefix: str = "") -> list[StoredObject]:
        found = []
        strip = len(self.prefix) + 1 if self.prefix else 0
        with self._store_errors(f"the listing of {prefix or 'everything'}") as watch:
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
                for item in page.get("Contents", []):
                    if item["Key"] != self._key(STORE_MARKER):  # the marker is no object
                        found.append(StoredObject(item["Key"][strip:], item["Size"]))
                watch.moved += LISTED_BYTES * len(page.get("Contents", []))  # a long listing's pages, each in time
        return sorted(found, key=lambda item: item.key)

    def delete(self, key: str) -> list[str]:
        """Delete the object and, in a versioned bucket, every version and delete marker of it, each by its
        VersionId (a delete without one only hides the data behind a marker). A version the store refuses to
        delete because of its Object Lock is left (never with BypassGovernanceRetention): StillLocked says
        until when, once every other version went."""
        from botocore.exceptions import ClientError

        full = self._key(key)
        deleted, locked = [], []
        self.claim()
        with self._store_errors(f"object {key}"):
            for item in self._versions(full):
                try:
                    self.client.delete_object(Bucket=self.bucket, Key=full, VersionId=item["VersionId"])
                except ClientError as error:
                    retention = self._retention(full, item["VersionId"]) \
                        if error.response.get("Error", {}).get("Code") == "AccessDenied" else None
                    if retention is None or retention[1] <= datetime.now(timezone.utc):
                        raise
                    locked.append(retention[1])
                    continue
                deleted.append(f"{key}@{item['VersionId']}")
        if locked:
            raise StillLocked(key, max(locked), deleted)
        return deleted

    @contextmanager
    def _store_errors(self, what: str = "its answer"):
        """An error that says the store itself cannot be used (down, unreachable, refused) as StoreUnavailable, in
        every call that reaches the store (a listing of the key store met it raw, as a bug); each under a deadline."""
        try:
            with self._watched(what) as watch:
                yield watch
        except StorageError:
            raise
        except Exception as error:  # noqa: BLE001 - translated when it describes the store
            unavailable = _s3_unavailable(getattr(error, "__cause__", None) or error, self.describe()) \
                or _s3_unavailable(error, self.describe())
            if unavailable is None:
                raise
            raise unavailable from None

    def link(self, key: str, expires_seconds: int = 7 * 24 * 3600) -> str:
        return self.client.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": self._key(key)},
                                                  ExpiresIn=expires_seconds)


#: how long a failed or interrupted upload waits for its transfer manager's threads (their sockets cut) to end
SHUTDOWN_SECONDS = 10.0


def _shut_down(manager) -> None:
    """The manager shut down (its transfers cancelled already) in a daemon thread, waited for SHUTDOWN_SECONDS at
    most: a worker thread stuck all the same must not hold the command's line (the CLI's exit bounds the rest)."""
    import threading

    def shut_down() -> None:
        try:
            manager.shutdown()
        except Exception:  # noqa: BLE001 - the upload's own error is the one to tell
            pass

    ending = threading.Thread(target=shut_down, name="transfer-shutdown", daemon=True)
    ending.start()
    ending.join(SHUTDOWN_SECONDS)


def _size_of(stream: BinaryIO) -> int | None:
    """How many bytes a stream still holds when it can say so (a file, bytes in memory), else None."""
    try:
        if not stream.seekable():
            return None
        here = stream.tell()
        end = stream.seek(0, os.SEEK_END)
        stream.seek(here)
        return end - here
    except (AttributeError, OSError, ValueError):
        return None


class _CountingReader:
    def __init__(self, stream: BinaryIO, watch: Watch | None = None):
        self.stream = stream
        self.count = 0
        self.watch = watch

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.count += len(data)
        if self.watch is not None:
            self.watch.moved = self.count
        return data


class _WatchedBody:
    """An S3 object's body read under its deadline: past it (the watch cut the socket), TooSlow; a Ctrl-C in a read
    cuts the sockets. The watch stops at the body's end or close."""

    def __init__(self, body, watch: Watch, too_slow, sockets: Sockets):
        self.body, self.watch, self.too_slow, self.sockets = body, watch, too_slow, sockets

    def read(self, size: int | None = -1) -> bytes:
        try:
            data = self.body.read(None if size is None or size < 0 else size)
        except BaseException as error:
            self.watch.stop()
            if self.watch.expired_after is not None:
                raise self.too_slow() from None
            if not isinstance(error, Exception):
                self.sockets.interrupt()
            raise
        self.watch.moved += len(data)
        if self.watch.expired_after is not None:
            raise self.too_slow()
        if not data and size != 0:
            self.watch.stop()
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.watch.stop()
        self.body.close()

    def __del__(self) -> None:  # a body dropped unread: its watch must not cut the store's sockets later
        self.watch.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ObjectStorage(Block):
    """Object storage for backups and exports: `file:///abs/path` or `s3://bucket/prefix`."""

    _block_type_name = "Lifecycle Object Storage"
    _block_type_slug = "lifecycle-object-storage"
    _description = "Where backups, manifests and exports are kept: a local folder or an S3 bucket."

    url: Optional[Text(2048, storage_url_problem)] = Field(None, description="file:///abs/path or s3://bucket/prefix; empty means "
                               "LIFECYCLE_STORAGE_URL or $LIFECYCLE_HOME/objects.")
    endpoint_url: Optional[Text(2048, http_url_problem)] = Field(None, description="S3-compatible endpoint; empty means AWS_ENDPOINT_URL or AWS.")
    region: Optional[Text(64)] = Field(None, description="S3 region; empty means the AWS defaults.")
    access_key_id: Optional[Text(128)] = Field(None, description="Empty means the usual AWS credential chain.")
    secret_access_key: Optional[SecretStr] = Field(None, description="Kept secret; never logged.")
    server_side_encryption: Literal["none", "AES256", "aws:kms"] = Field(
        "none", description="S3 encryption at rest: none, AES256 (SSE-S3) or aws:kms.")
    kms_key_id: Optional[Text(2048)] = Field(None, description="KMS key for aws:kms; empty means the bucket's default key.")
    object_lock_mode: Literal["governance", "compliance"] = Field(
        "governance", description="On a bucket with Object Lock enabled, the mode backups are locked in: governance "
        "(an account with s3:BypassGovernanceRetention can still remove them) or compliance (nobody can before the "
        "retention schedule's expiry). Ignored by a folder and a bucket without Object Lock.")
    multipart_chunk_mb: int = Field(8, ge=5, le=5120, description="Multipart part size for S3 uploads, in MB: from 5 "
                                                                  "to 5120 (S3's bounds).")
    master_key_kms_id: Optional[Text(2048)] = Field(
        None, description="A KMS key (id, ARN or alias) as the installation's master key, which wraps every backup's "
                          "data key, on this block's endpoint and credentials; empty means LIFECYCLE_MASTER_KEY_KMS_ID, "
                          "else the master key file.")

    def master_kms(self):
        """The KMS master key (blocks.master_kms.KmsMaster) when one is named, else None (the key file)."""
        from blocks.master_kms import VARIABLE, KmsMaster

        key_id = lifecycle_config.overridden(VARIABLE) or self.master_key_kms_id
        if not key_id:
            return None
        return KmsMaster(self._client("kms"), key_id, self.endpoint_url or os.environ.get("AWS_ENDPOINT_URL"))

    def _client(self, service: str):
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            endpoint_url=self.endpoint_url or None,
            region_name=self.region or None,
            aws_access_key_id=self.access_key_id or None,
            aws_secret_access_key=self.secret_access_key.get_secret_value() if self.secret_access_key else None,
            config=Config(connect_timeout=CONNECT_SECONDS, read_timeout=READ_SECONDS,
                          retries={"total_max_attempts": ATTEMPTS, "mode": "standard"}),
        )

    def immutability_line(self) -> str:
        """One line for `lifecycle up`: whether backups kept here are immutable, and how."""
        try:
            store = self.store()
            where = f"s3://{store.bucket}" + (f"/{store.prefix}" if store.prefix else "") \
                if isinstance(store, S3Store) else store.describe()
            mode = store.immutability()
            if mode is None:
                return f"backups: {where} not immutable: " + ("a folder locks nothing" if isinstance(store, FolderStore)
                                                              else "the bucket has no Object Lock")
            default = store.default_retention()
        except Exception as error:  # noqa: BLE001 - `up` goes on; the nightly backup will say what is wrong
            return f"backups: immutability unknown, the store did not answer ({one_line_of(error)})"
        return (f"backups: {where} immutable (Object Lock, {mode}, until the schedule's expiry)"
                + (f"; note: the bucket's default retention ({default}) also locks the key store, so a "
                   f"customer's data key cannot be shredded before it passes: remove that default rule"
                   if default else ""))

    def resolved_url(self) -> str:
        return lifecycle_config.overridden("LIFECYCLE_STORAGE_URL") or self.url or lifecycle_config.storage_url()

    def folder(self) -> Path | None:
        """The folder of a folder store (file://), as given; None for a bucket."""
        parsed = urlparse(self.resolved_url())
        return Path(unquote(parsed.path)) if parsed.scheme == "file" else None

    def holding(self, path) -> str | None:
        """The storage folder's real path when `path` lies inside it (the folder itself, or anything under it,
        compared as real paths: a symbolic link to it or into it, `..`, a relative path resolved), else None (a
        bucket holds no local path): where a file written by hand would overwrite a stored object, or sit
        among them."""
        import os

        folder = self.folder()
        if folder is None:
            return None
        root, real = os.path.realpath(folder), os.path.realpath(path)
        return root if real == root or os.path.commonpath([root, real]) == root else None

    def store(self) -> FolderStore | S3Store:
        """The store, knowing which master key wraps its data keys (`master_kms`: a KMS key, or None)."""
        store = self._store()
        store.master_kms = self.master_kms()
        store.owner = writing_owner  # asked at its first write (_Owned.claim)
        return store

    def _store(self) -> FolderStore | S3Store:
        url = self.resolved_url()
        parsed = urlparse(url)
        if parsed.scheme == "file":
            return FolderStore(self.folder())
        if parsed.scheme == "s3":
            client = self._client("s3")
            extra: dict[str, str] = {}
            if self.server_side_encryption != "none":
                extra["ServerSideEncryption"] = self.server_side_encryption
                if self.server_side_encryption == "aws:kms" and self.kms_key_id:
                    extra["SSEKMSKeyId"] = self.kms_key_id
            return S3Store(parsed.netloc, parsed.path, client, extra, self.multipart_chunk_mb << 20,
                           self.object_lock_mode)
        raise StorageError(f"storage URL must be file:///abs/path or s3://bucket/prefix, not {url!r}")
