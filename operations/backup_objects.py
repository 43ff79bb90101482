"""How a backup's objects are written to object storage, read back and deleted: the one door between the
backup archive (what goes in a backup: operations/backup_archive.py) and the store (blocks/storage.py).

The archive hands this module finished local files and the manifest's bytes, and gets back what was
stored; it never calls the store itself. So whatever changes how objects are kept (a per-customer key
that encrypts them, a retention lock the store enforces) changes this module only, and the format, the
manifest's hashes of the content and the restore's checks stay as they are.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from blocks.storage import FolderStore, ObjectStorage, S3Store

#: what is read or hashed at once
CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Fetched:
    """An object read back into a local file: its size and SHA-256 as stored."""

    path: Path
    size: int
    sha256: str


class BackupObjects:
    """The objects of backups in one store; keys are the archive's (ledger.keys names the folders)."""

    def __init__(self, storage: ObjectStorage, *, customer_id: str | None = None):
        self.store: FolderStore | S3Store = storage.store()
        self.customer_id = customer_id  # whose objects (None: the ledger's own snapshot)

    def put_file(self, key: str, path: Path) -> tuple[int, str]:
        """Store a local file under `key`; returns the stored object's size and SHA-256."""
        with path.open("rb") as handle:
            size = self.store.put_stream(key, handle)
        return size, file_sha256(path)

    def put_bytes(self, key: str, data: bytes) -> None:
        self.store.put_stream(key, io.BytesIO(data))

    def read_bytes(self, key: str) -> bytes:
        """A small object (a manifest) whole; MissingObject when it is not there."""
        with self.store.open(key) as handle:
            return handle.read()

    def fetch(self, key: str, path: Path) -> Fetched:
        """Copy an object into a local file, hashing it on the way; MissingObject when it is not there."""
        digest, size = hashlib.sha256(), 0
        with self.store.open(key) as source, path.open("wb") as target:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                target.write(chunk)
        return Fetched(path, size, digest.hexdigest())

    def delete(self, key: str) -> None:
        self.store.delete(key)

    def delete_folder(self, prefix: str) -> None:
        """Every object under a backup's folder, with all their versions."""
        for item in self.store.list(prefix):
            self.store.delete(item.key)
