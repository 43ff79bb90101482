"""The installation's key file sealing ticket credentials: `$LIFECYCLE_HOME/keys/credentials.key`.

It lives with the installation (what backs up `LIFECYCLE_HOME` backs it up), never in the user's home
or a Prefect profile, and every process of the installation reads it there: the CLI's imports, the
helpdesk webhook, the server's flows. `LIFECYCLE_CREDENTIALS_KEY_FILE` names another path (a machine
of a multi-machine setup reads the same key from where ops put it). One Fernet key a line: the first
seals, every line unseals (a key adopted from an older release stays readable). The file is made
once, readable by its owner only; the ledger records which key it is (ledger/sealing.py).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

VARIABLE = "LIFECYCLE_CREDENTIALS_KEY_FILE"


def key_file() -> Path:
    from lifecycle_config import Misconfigured, escaped, file_in_the_way, home, setting

    explicit = setting(VARIABLE)
    under = file_in_the_way(explicit) if explicit else None
    if under is not None:  # it said "[Errno 20] Not a directory: ..."
        raise Misconfigured(f"{VARIABLE}={escaped(explicit)} cannot be made: {escaped(str(under))} is a file, not a "
                            f"folder: set it to the path of the key file")
    if explicit and Path(explicit).is_dir():  # it said "[Errno 21] Is a directory: ..." with the path whole
        raise Misconfigured(f"{VARIABLE}={escaped(explicit)} is a folder, not a key file: set it to the path of the key "
                            f"file")
    return Path(explicit).expanduser().resolve() if explicit else home() / "keys" / "credentials.key"


def read_keys(path: Path) -> list[bytes]:
    """The keys of the file, the sealing one first; [] when there is no file."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        return []
    return [line.strip().encode("ascii") for line in text.splitlines() if line.strip()]


def create(path: Path, key: bytes) -> list[bytes]:
    """Write `key` as the file's only key unless the file exists (two first uses agree: the first one's);
    returns the file's keys."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_keys(path)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(key.decode("ascii") + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return read_keys(path)


def add(path: Path, key: bytes) -> None:
    """Keep `key` for unsealing only (after the sealing key), unless the file holds it already."""
    if key not in read_keys(path):
        with path.open("a", encoding="ascii") as handle:
            handle.write(key.decode("ascii") + "\n")


def fingerprint(key: bytes) -> str:
    """Which key it is, without saying anything of it (an HMAC of a fixed text under the key)."""
    return hmac.new(key, b"lifecycle ticket-credentials key id", hashlib.sha256).hexdigest()[:32]
