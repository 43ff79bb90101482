"""How a backup's objects are written to object storage, read back and deleted: the one door between the
backup archive (what goes in a backup: operations/backup_archive.py) and the store (blocks/storage.py).

The archive hands this module finished local files and the manifest's bytes, and gets back what was
stored; it never calls the store itself. So whatever changes how objects are kept (a per-customer key
that encrypts them, a retention lock the store enforces) changes this module only, and the format, the
manifest's hashes of the content and the restore's checks stay as they are.

Every object leaves the machine encrypted (scheme SCHEME) under a data key of its owner (the customer,
or the installation for a ledger snapshot; operations/backup_keys.py): AES-256-GCM in chunks of 1 MiB,
streamed, so memory stays flat whatever the size. An object is a header (MAGIC, the key's id) and frames
(ciphertext length, final flag, nonce, ciphertext with its tag); each frame's associated data binds the
header, the object's key, the frame's index and the final flag, so frames cannot be reordered, moved to
another object, dropped or cut after (a missing final frame is a truncation). The manifest records the
scheme and the key id; a manifest without them is of a backup made before encryption (clear gzip), read
as it was.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from blocks.storage import FolderStore, ObjectStorage, S3Store, StillLocked
from lifecycle_config.failpoints import failpoint
from operations.backup_keys import DataKey, current_key, unwrap

#: what is read or hashed at once, and the plaintext of one encrypted frame
CHUNK = 1 << 20
SCHEME = "aes-256-gcm-chunked/v1"
MAGIC = b"LCBKENC1"
_FRAME = struct.Struct(">IB12s")  # ciphertext length, final flag, nonce


class CorruptObject(ValueError):
    """An encrypted object fails its authentication: damaged, truncated, or not the object it claims to be."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _associated(header: bytes, key: str, index: int, final: bool) -> bytes:
    return header + key.encode() + b"\x00" + struct.pack(">QB", index, final)


def _header(key_id: str) -> bytes:
    raw = key_id.encode("ascii")
    return MAGIC + bytes([len(raw)]) + raw


class _Sealing:
    """A file-like reader of the encrypted object, made on the fly from the plaintext `source`; it hashes
    and counts what it gives (the object as stored)."""

    def __init__(self, source: BinaryIO, key: str, data_key: DataKey):
        self.source, self.key, self.aead = source, key, AESGCM(data_key.key)
        self.header = _header(data_key.key_id)
        self.buffer, self.index, self.done = bytearray(self.header), 0, False
        self.pending = source.read(CHUNK)
        self.digest, self.size = hashlib.sha256(), 0

    def _frame(self) -> None:
        plain, self.pending = self.pending, self.source.read(CHUNK) if self.pending else b""
        final = not self.pending
        nonce = os.urandom(12)
        sealed = self.aead.encrypt(nonce, plain, _associated(self.header, self.key, self.index, final))
        self.buffer += _FRAME.pack(len(sealed), final, nonce) + sealed
        self.index += 1
        self.done = final

    def read(self, size: int = -1) -> bytes:
        while not self.done and (size < 0 or len(self.buffer) < size):
            self._frame()
        size = len(self.buffer) if size < 0 else min(size, len(self.buffer))
        out = bytes(self.buffer[:size])
        del self.buffer[:size]
        self.digest.update(out)
        self.size += len(out)
        return out


class _Hashing:
    def __init__(self, source: BinaryIO):
        self.source, self.digest, self.size = source, hashlib.sha256(), 0

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data

    def exactly(self, size: int) -> bytes:
        parts, wanted = [], size
        while wanted:
            data = self.read(wanted)
            if not data:
                break
            parts.append(data)
            wanted -= len(data)
        return b"".join(parts)


def _open_sealed(reader: _Hashing, key: str, unwrap_key, target: BinaryIO) -> None:
    """Decrypt an encrypted object from `reader` into `target`; CorruptObject when anything does not authenticate."""
    start = reader.exactly(len(MAGIC) + 1)
    if len(start) != len(MAGIC) + 1 or start[:len(MAGIC)] != MAGIC:
        raise CorruptObject("not an encrypted backup object")
    key_id = reader.exactly(start[-1]).decode("ascii", "replace")
    header = _header(key_id)
    aead, index = AESGCM(unwrap_key(key_id)), 0
    while True:
        frame = reader.exactly(_FRAME.size)
        if len(frame) != _FRAME.size:
            raise CorruptObject("cut before its final chunk")
        length, final, nonce = _FRAME.unpack(frame)
        if length > CHUNK + 16 or final not in (0, 1):
            raise CorruptObject(f"chunk {index} is damaged")
        sealed = reader.exactly(length)
        try:
            target.write(aead.decrypt(nonce, sealed, _associated(header, key, index, bool(final))))
        except InvalidTag:
            raise CorruptObject(f"chunk {index} fails its authentication") from None
        index += 1
        if final:
            break
    if reader.read(1):
        raise CorruptObject("bytes after its final chunk")


@dataclass(frozen=True)
class Fetched:
    """An object read back into a local file: its size and SHA-256 as stored."""

    path: Path
    size: int
    sha256: str


class BackupObjects:
    """The objects of backups in one store; keys are the archive's (ledger.keys names the folders)."""

    def __init__(self, storage: ObjectStorage, *, customer_id: str | None = None,
                 retain_until: datetime | None = None):
        self.store: FolderStore | S3Store = storage.store()
        self.customer_id = customer_id  # whose objects (None: the ledger's own snapshot)
        self.retain_until = retain_until  # the Object Lock of what is written, where the store locks
        self._writing: DataKey | None = None
        self._keys: dict[str, bytes] = {}

    def writing_key(self) -> DataKey:
        """The owner's current data key (made on its first backup): what new objects are encrypted under."""
        if self._writing is None:
            self._writing = current_key(self.store, self.customer_id)
            self._keys[self._writing.key_id] = self._writing.key
        return self._writing

    def encryption(self) -> dict:
        """What the manifest says of how its backup's objects are encrypted."""
        return {"scheme": SCHEME, "key_id": self.writing_key().key_id}

    def _unwrap(self, key_id: str) -> bytes:
        if key_id not in self._keys:
            self._keys[key_id] = unwrap(self.store, self.customer_id, key_id)
        return self._keys[key_id]

    def put_file(self, key: str, path: Path) -> tuple[int, str]:
        """Store a local file under `key`, encrypted; returns the stored object's size and SHA-256."""
        with path.open("rb") as handle:
            return self.put_stream(key, handle)

    def put_stream(self, key: str, source: BinaryIO) -> tuple[int, str]:
        """Store what `source` reads (to its end) under `key`, encrypted as it is read; returns the stored
        object's size and SHA-256."""
        sealing = _Sealing(source, key, self.writing_key())
        self.store.put_stream(key, sealing, self.retain_until)
        return sealing.size, sealing.digest.hexdigest()

    def put_bytes(self, key: str, data: bytes) -> None:
        self.store.put_stream(key, _Sealing(io.BytesIO(data), key, self.writing_key()), self.retain_until)

    def read_bytes(self, key: str) -> bytes:
        """A small object (a manifest) whole, decrypted when it is encrypted (a manifest written before
        encryption is clear JSON); MissingObject when it is not there."""
        with self.store.open(key) as handle:
            data = handle.read()
        if not data.startswith(MAGIC):
            return data
        plain = io.BytesIO()
        _open_sealed(_Hashing(io.BytesIO(data)), key, self._unwrap, plain)
        return plain.getvalue()

    def fetch(self, key: str, path: Path, *, encrypted: bool = False) -> Fetched:
        """Copy an object into a local file (decrypted when `encrypted`, as its manifest says), hashing it as
        stored on the way; MissingObject when it is not there, CorruptObject when it does not authenticate."""
        with self.store.open(key) as source, path.open("wb") as target:
            reader = _Hashing(source)
            if encrypted:
                _open_sealed(reader, key, self._unwrap, target)
            else:
                while chunk := reader.read(CHUNK):
                    target.write(chunk)
        return Fetched(path, reader.size, reader.digest.hexdigest())

    def delete(self, key: str) -> None:
        self.store.delete(key)

    def delete_folder(self, prefix: str) -> datetime | None:
        """Every object under a backup's folder, with all their versions, as far as their locks allow: returns
        None when nothing is left, else until when the longest lock keeps what is."""
        locked: datetime | None = None
        for item in self.store.list(prefix):
            try:
                self.store.delete(item.key)
            except StillLocked as still:
                locked = max(locked or still.until, still.until)
        return locked

    def extend_lock(self, prefix: str, until: datetime) -> int:
        """Keep every object of a backup's folder locked until at least `until`; how many versions it extended."""
        extended = 0
        for item in self.store.list(prefix):
            extended += self.store.extend_lock(item.key, until)
            failpoint("lock.extended")
        return extended
