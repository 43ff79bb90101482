"""The backup archive: what goes in a backup of some tables, and how it is read back and checked.

Format (manifest `format` = "jsonl.gz/v1"): one gzip object per tenant table holding the customer's
rows as canonical JSON lines (keys sorted, separators "," and ":", UTF-8, decimals as strings,
dates and times ISO 8601, bytes base64), ordered by primary key. A table's content hash is the
SHA-256 of those uncompressed lines; the object's own SHA-256 catches corruption and truncation
before anything is read back. The manifest is written last: a backup is good only once it exists.
Every object is stored encrypted under a data key of its owner (operations/backup_objects.py); the
manifest's `encryption` names the scheme and the key, and its object hashes are of the stored (encrypted)
bytes. A manifest without `encryption` is of a backup made before: its objects are clear gzip.

Rows stream from the database (server-side cursors on PostgreSQL) up to storage in parts, so memory
stays flat whatever the customer's size. A backup is two workers on one table at a time: this thread
reads the rows and writes their canonical lines (Python, holding the GIL), another compresses, seals
and uploads them (zlib, AES-GCM, hashing and the file or network writes release the GIL), the two
joined by a queue of QUEUE_DEPTH chunks (one fetch of BATCH rows each): that queue, the frame being
sealed and the store's own upload buffers are all the memory a table takes, whatever its size. A restore
likewise parses the next batches (up to QUEUE_DEPTH) in another thread while this one inserts.

This module knows the format, not the store nor the ledger: it hands finished files to
`operations.backup_objects.BackupObjects` (how objects are stored), and the backup and restore
operations record in the ledger what it wrote. It is a part of those operations, not one itself.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import queue
import threading
import time
import zlib
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime, time as clock, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import Table, delete, insert, select, types
from sqlalchemy.engine import Connection, Engine

from blocks.storage import MissingObject, NotAnObject
from lifecycle_config.failpoints import failpoint
from lifecycle_config.masterkey import MasterKeyMissing
from operations.backup_keys import KeyDestroyed
from operations.backup_objects import BackupObjects, CorruptObject
from operations.backup_schema import describe

FORMAT = "jsonl.gz/v1"
BATCH = 5000
COMPRESS_LEVEL = 6
#: chunks of canonical lines (one fetch of BATCH rows each) waiting between the row reader and the uploader
QUEUE_DEPTH = 4


class CorruptBackup(RuntimeError):
    """An object does not match its manifest: nothing was written, and the backup is corrupt."""


class BackupGone(RuntimeError):
    """An object of the backup (or its manifest) is missing from storage: deleted, not damaged. Nothing was
    written, and the backup is `gone`."""


class BackupUnreadable(RuntimeError):
    """The storage could not be read just now (down, refused, cut): nothing was written, and nothing is
    said about the backup itself."""


def _canonical(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (datetime, date, clock)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    raise TypeError(f"cannot back up a value of type {type(value).__name__}")


def canonical_line(row: dict[str, Any]) -> bytes:
    return json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_canonical).encode() + b"\n"


def primary_key(table: Table) -> list:
    columns = list(table.primary_key.columns) or list(table.columns)
    return columns


def schema_fingerprint(tables: list[Table]) -> str:
    shape = [[table.name, [[c.name, str(c.type), bool(c.nullable)] for c in table.columns],
              [c.name for c in primary_key(table)]] for table in tables]
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()


@dataclass
class TableCopy:
    name: str
    rows: int
    bytes: int
    sha256: str           # of the canonical JSON lines
    object_sha256: str    # of the stored gzip object
    key: str
    columns: list[str]
    primary_key: list[str]
    schema: list[dict]    # each column's generic type, nullability, default (operations/backup_schema.py)


def _chunks(connection, table: Table, where) -> Iterator[tuple[int, bytes]]:
    """The rows (ordered by primary key) as chunks of canonical lines, one per fetch: (rows, lines)."""
    query = select(table).order_by(*primary_key(table))
    if where is not None:
        query = query.where(where)
    result = connection.execution_options(stream_results=True, yield_per=BATCH).execute(query)
    for partition in result.mappings().partitions():
        yield len(partition), b"".join(canonical_line(dict(row)) for row in partition)


def dump_rows(connection, table: Table, where, path: Path) -> tuple[int, str]:
    """Stream the rows (ordered by primary key) into a gzip file; returns (rows, content sha256)."""
    digest, count = hashlib.sha256(), 0
    with gzip.open(path, "wb", compresslevel=COMPRESS_LEVEL) as handle:
        for rows, chunk in _chunks(connection, table, where):
            digest.update(chunk)
            handle.write(chunk)
            count += rows
    return count, digest.hexdigest()


class _Abandoned(OSError):
    """The rows stopped coming (the reader failed): the object being stored is abandoned, not finished. An
    OSError, so that the store removes what it had written of it, as for any failed write."""


class _Compressing:
    """A file-like reader of a table's gzip object, made from the chunks of canonical lines the row reader
    hands it (`feed`, then `end`), compressed as they come; `read` runs in the uploading thread."""

    _END = object()

    def __init__(self):
        self.chunks: queue.Queue = queue.Queue(maxsize=QUEUE_DEPTH)
        self.compressor = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, 31)  # 31: the gzip format
        self.buffer, self.ended = bytearray(), False
        self.failed: BaseException | None = None  # the uploader's error: the reader stops feeding

    def feed(self, chunk) -> None:
        """Hand a chunk over, waiting while the queue is full; the uploader's error if it has stopped."""
        while True:
            if self.failed is not None:
                raise self.failed
            try:
                self.chunks.put(chunk, timeout=0.1)
                return
            except queue.Full:
                continue

    def end(self) -> None:
        self.feed(self._END)

    def abandon(self) -> None:
        """The reader failed: the uploader stops at its next read (unless it has already stopped)."""
        try:
            self.feed(None)
        except BaseException:  # noqa: BLE001 - the uploader has stopped on its own
            pass

    def read(self, size: int = -1) -> bytes:
        while not self.ended and (size < 0 or len(self.buffer) < size):
            chunk = self.chunks.get()
            if chunk is None:
                raise _Abandoned("the backup's rows stopped coming")
            if chunk is self._END:
                self.buffer += self.compressor.flush()
                self.ended = True
            else:
                self.buffer += self.compressor.compress(chunk)
        size = len(self.buffer) if size < 0 else min(size, len(self.buffer))
        out = bytes(self.buffer[:size])
        del self.buffer[:size]
        return out


def copy_table(objects: BackupObjects, key: str, connection, table: Table, where) -> tuple[int, str, int, str]:
    """Store the rows of `table` (ordered by primary key) under `key` as one gzip object, this thread
    reading while another compresses, seals and uploads; returns (rows, content sha256, stored size,
    stored sha256). Whichever side fails, both stop and its error goes on; nothing of the object is kept."""
    objects.writing_key()  # made here (on the owner's first backup), not in the uploading thread
    lines = _Compressing()
    stored: list = []

    def upload() -> None:
        try:
            stored.append(objects.put_stream(key, lines))
        except BaseException as error:  # noqa: BLE001 - handed to the reading thread, which raises it
            lines.failed = error

    uploader = threading.Thread(target=upload, name=f"backup-upload-{table.name}", daemon=True)
    uploader.start()
    digest, count = hashlib.sha256(), 0
    try:
        for rows, chunk in _chunks(connection, table, where):
            digest.update(chunk)
            lines.feed(chunk)
            count += rows
        lines.end()
    except BaseException:
        lines.abandon()
        uploader.join()
        raise
    uploader.join()
    if lines.failed is not None:
        raise lines.failed
    size, object_sha256 = stored[0]
    return count, digest.hexdigest(), size, object_sha256


def write_archive(objects: BackupObjects, *, prefix: str, tables: list[Table], source: Engine, where_of,
                  header: dict) -> dict:
    """Write `tables` (rows selected by `where_of(table)`, read in one snapshot of `source`) under `prefix`,
    then the manifest (`header` and the tables' copies), last; returns the manifest. On any failure the
    objects already written are deleted (best effort) and the error goes on: there is no manifest."""
    copies: list[TableCopy] = []
    uploaded: list[str] = []
    try:
        with source.connect() as connection:
            with connection.begin():  # one snapshot for every table of the backup
                for table in tables:
                    key = f"{prefix}{table.name}.jsonl.gz"
                    rows, content, size, object_sha256 = copy_table(objects, key, connection, table, where_of(table))
                    uploaded.append(key)
                    failpoint("backup.table-uploaded")
                    copies.append(TableCopy(table.name, rows, size, content, object_sha256, key,
                                            [c.name for c in table.columns], [c.name for c in primary_key(table)],
                                            describe(table)))
        manifest = {"format": FORMAT, **header, "encryption": objects.encryption(), "schema_fingerprint": schema_fingerprint(tables),
                    "tables": [copy.__dict__ for copy in copies]}
        failpoint("backup.before-manifest")
        objects.put_bytes(manifest_key(prefix), json.dumps(manifest, indent=1, sort_keys=True).encode())
        failpoint("backup.manifest-written")
    except Exception:
        for key in uploaded:
            try:
                objects.delete(key)
            except Exception:  # noqa: BLE001 - best effort; retention removes leftovers
                pass
        raise
    return manifest


def manifest_key(prefix: str) -> str:
    return f"{prefix}manifest.json"


def _converter(column_type):
    """How a JSON value goes back into a column of this type (None: as it is)."""
    if isinstance(column_type, types.TypeDecorator):
        column_type = column_type.impl_instance
    if isinstance(column_type, types.DateTime):
        return datetime.fromisoformat
    if isinstance(column_type, types.Date):
        return date.fromisoformat
    if isinstance(column_type, types.Time):
        return clock.fromisoformat
    if isinstance(column_type, types.Numeric) and not isinstance(column_type, (types.Float,)):
        return lambda value: Decimal(value) if isinstance(value, str) else value
    if isinstance(column_type, types.LargeBinary):
        return base64.b64decode
    return None


def fetch_verified(objects: BackupObjects, manifest: dict, folder: Path) -> dict[str, Path]:
    """Download every object and check its size and SHA-256 against the manifest, before any write."""
    paths = {}
    encrypted = bool(manifest.get("encryption"))  # a backup made before encryption: clear gzip objects
    for copy in manifest["tables"]:
        try:
            fetched = objects.fetch(copy["key"], folder / f"{copy['name']}.jsonl.gz", encrypted=encrypted)
        except MissingObject as error:
            raise BackupGone(f"backup {manifest['backup_id']} is gone from storage ({error})") from None
        except (CorruptObject, NotAnObject) as error:
            raise CorruptBackup(f"backup {manifest['backup_id']}: {copy['key']} is corrupted or truncated ({error}); "
                                f"nothing was restored") from None
        except (KeyDestroyed, MasterKeyMissing) as error:
            raise type(error)(f"backup {manifest['backup_id']}: {error}; nothing was restored") from None
        except Exception as error:  # noqa: BLE001 - the storage, not the backup: try again later
            raise BackupUnreadable(f"backup {manifest['backup_id']}: cannot read {copy['key']} now "
                                   f"({type(error).__name__}: {error}); nothing was restored") from None
        if fetched.size != copy["bytes"] or fetched.sha256 != copy["object_sha256"]:
            raise CorruptBackup(f"backup {manifest['backup_id']}: {copy['key']} is corrupted or truncated "
                                f"({fetched.size} bytes, expected {copy['bytes']}; checksum mismatch); nothing was "
                                f"restored")
        paths[copy["name"]] = fetched.path
    return paths


def read_rows(path: Path, table: Table, digest, renames: dict[str, str] | None = None) -> Iterator[list[dict]]:
    """The rows of a table object in batches, typed for the table (a column of the backup named in
    `renames` goes into its new name); every line also goes into `digest` as it was stored."""
    converters = {c.name: _converter(c.type) for c in table.columns}
    batch = []
    with gzip.open(path, "rb") as handle:
        for line in handle:
            digest.update(line)
            row = json.loads(line)
            if renames:
                row = {renames.get(name, name): value for name, value in row.items()}
            for name, convert in converters.items():
                if convert is not None and row.get(name) is not None:
                    row[name] = convert(row[name])
            batch.append(row)
            if len(batch) >= BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


class _Failed:
    """What stopped the thread that reads ahead: raised again in the thread that inserts."""

    def __init__(self, error: BaseException):
        self.error = error


def _ahead(batches: Iterator[list[dict]]) -> Iterator[list[dict]]:
    """`batches`, read by another thread up to QUEUE_DEPTH batches ahead: it decompresses and parses the
    lines (holding the GIL) while this thread's inserts wait on the database (which releases it). Its error
    is raised here; when this thread stops early (an insert failed), it stops too."""
    waiting: queue.Queue = queue.Queue(maxsize=QUEUE_DEPTH)
    stop, end = threading.Event(), object()

    def hand(item) -> bool:
        while not stop.is_set():
            try:
                waiting.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for batch in batches:
                if not hand(batch):
                    return
            hand(end)
        except BaseException as error:  # noqa: BLE001 - handed to the inserting thread, which raises it
            hand(_Failed(error))
        finally:
            batches.close()

    reader = threading.Thread(target=read, name="restore-read-ahead", daemon=True)
    reader.start()
    try:
        while (item := waiting.get()) is not end:
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        reader.join()


def load_rows(target: Engine | Connection, tables: list[Table], paths: dict[str, Path], manifest: dict, where_of,
              renames: dict[str, dict[str, str]] | None = None) -> dict[str, int]:
    """Replace the selected rows of every table with the backup's, in one transaction (parents first).

    The objects were verified against the manifest before this is called; the content hash is checked
    again on the lines as they are inserted, in the same single pass, and a mismatch rolls it all back."""
    from contextlib import nullcontext

    loaded = {}
    by_name = {copy["name"]: copy for copy in manifest["tables"]}
    # a connection given is inside its caller's transaction (a snapshot's schema and rows committed together)
    with (nullcontext(target) if isinstance(target, Connection) else target.begin()) as connection:
        for table in reversed(tables):
            connection.execute(delete(table).where(where_of(table)))
        for table in tables:
            copy = by_name.get(table.name)
            if copy is None:
                continue
            digest, rows = hashlib.sha256(), 0
            with closing(_ahead(read_rows(paths[table.name], table, digest, (renames or {}).get(table.name)))) as batches:
                for batch in batches:
                    connection.execute(insert(table), batch)
                    rows += len(batch)
            if rows != copy["rows"] or digest.hexdigest() != copy["sha256"]:
                raise CorruptBackup(f"backup {manifest['backup_id']}: {table.name} does not match its manifest ({rows} "
                                    f"rows read, {copy['rows']} in the manifest; content hash "
                                    f"{'matches' if digest.hexdigest() == copy['sha256'] else 'differs'})")
            loaded[table.name] = rows
    return loaded


def read_manifest(objects: BackupObjects, backup_id: str, key: str, recorded: dict | None) -> dict:
    """The stored manifest, which must be the one the ledger recorded (`recorded`) when the backup was made."""
    try:
        stored = json.loads(objects.read_bytes(key))
    except MissingObject as error:
        raise BackupGone(f"backup {backup_id} is gone from storage (its manifest: {error})") from None
    except (json.JSONDecodeError, RecursionError, CorruptObject, NotAnObject) as error:  # nested past reason: damaged
        raise CorruptBackup(f"backup {backup_id}: its manifest is damaged ({error})") from None
    except (KeyDestroyed, MasterKeyMissing) as error:
        raise type(error)(f"backup {backup_id}: {error}; nothing was restored") from None
    except Exception as error:  # noqa: BLE001 - the storage, not the backup
        raise BackupUnreadable(f"backup {backup_id}: its manifest cannot be read now "
                               f"({type(error).__name__}: {error}); nothing was restored") from None
    if stored != recorded:
        raise CorruptBackup(f"backup {backup_id}: the stored manifest differs from the ledger's copy")
    return stored


@dataclass
class Timer:
    started: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    clock_start: float = field(default_factory=time.monotonic)

    def seconds(self) -> float:
        return time.monotonic() - self.clock_start
