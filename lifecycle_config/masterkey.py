"""The installation's master key, which wraps every data key of the backups: `$LIFECYCLE_HOME/keys/master.key`.

It follows the credentials key file (lifecycle_config/keyfile.py): it lives with the installation, never
in the user's home or a Prefect profile; `LIFECYCLE_MASTER_KEY_FILE` names another path (the escrow copy
written by `lifecycle keys export`, when the home's key is lost). One key a line, base64 of 32 random
bytes: the first wraps, every line unwraps. A second line exists only while a master-key rotation runs
(the new key first, the old one kept until every data key is rewrapped): a crash in the middle leaves
both, and the next `lifecycle keys rotate-master` finishes the same rotation.

The file is made on first use (the first backup), readable by its owner only. Reading a backup never
makes one: without the key that wrapped its data key, a backup is unreadable, and the error says so.
A KMS key named by the storage block replaces the file for the data keys it wraps (blocks/master_kms.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from lifecycle_config import keyfile
from lifecycle_config.conditions import Unavailable

VARIABLE = "LIFECYCLE_MASTER_KEY_FILE"
#: how a damaged master key file is named and what it stopped (the credentials key file's words would send
#: its user to LIFECYCLE_CREDENTIALS_KEY_FILE, another file)
NAMING = {"variable": VARIABLE, "undone": "no data key was wrapped or unwrapped"}


class MasterKeyMissing(Unavailable):
    """The master key file is not there (or holds no key): backups cannot be read nor written. Said in one
    line (never a traceback, in a run too) naming what gives it back: the escrow copy."""


def key_file() -> Path:
    from lifecycle_config import home, setting

    explicit = setting(VARIABLE)
    return Path(explicit).expanduser().resolve() if explicit else home() / "keys" / "master.key"


def read_keys(path: Path | None = None) -> list[bytes]:
    """The raw 32-byte keys of the file, the wrapping one first; [] when there is no file."""
    path = path or key_file()
    keys = []
    for line in keyfile.read_keys(path, **NAMING):
        try:
            raw = base64.b64decode(line, validate=True)
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise MasterKeyMissing(f"the master key file {path} is damaged (a line is not base64 of 32 bytes)")
        keys.append(raw)
    return keys


def encoded(key: bytes) -> bytes:
    return base64.b64encode(key)


def new_key() -> bytes:
    return secrets.token_bytes(32)


def keys_for_use(*, create: bool) -> list[bytes]:
    """The master keys, the wrapping one first; made on first use when `create` (a backup being written)."""
    path = key_file()
    keys = read_keys(path)
    if not keys and create:
        keyfile.create(path, encoded(new_key()), **NAMING)
        keys = read_keys(path)
    if not keys:
        raise MasterKeyMissing(f"no master key at {path}: the backups' data keys cannot be unwrapped; give the "
                               f"escrow copy (lifecycle keys export) with --master-key-file or {VARIABLE}")
    return keys


def write_keys(path: Path, keys: list[bytes]) -> None:
    """Replace the file with `keys` (first wraps), atomically: a crash leaves the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write("".join(encoded(key).decode("ascii") + "\n" for key in keys))
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(path)


def fingerprint(key: bytes) -> str:
    """Which master key it is, without saying anything of it."""
    return hmac.new(key, b"lifecycle backup master key id", hashlib.sha256).hexdigest()[:16]
