"""The installation's key file sealing ticket credentials: `$LIFECYCLE_HOME/keys/credentials.key`.

It lives with the installation (what backs up `LIFECYCLE_HOME` backs it up), never in the user's home
or a Prefect profile, and every process of the installation reads it there: the CLI's imports, the
helpdesk webhook, the server's flows. `LIFECYCLE_CREDENTIALS_KEY_FILE` names another path (a machine
of a multi-machine setup reads the same key from where ops put it). One Fernet key a line: the first
seals, every line unseals (a key adopted from an older release stays readable). The file is made
once, readable by its owner only; the ledger records which key it is (ledger/sealing.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import stat
from pathlib import Path

from lifecycle_config import Misconfigured

VARIABLE = "LIFECYCLE_CREDENTIALS_KEY_FILE"


class KeyFileDamaged(Misconfigured):
    """The key file is there but cannot be used as it is (empty, not keys, a folder, unreadable, readable by
    others): one line naming the file and what is wrong, nothing sealed or opened; never taken for "no key
    file" (a new key would seal what the installation's key cannot open)."""


def _named(path: Path, variable: str = VARIABLE) -> str:
    """The file as its user set it: the variable when set, else the default path under LIFECYCLE_HOME."""
    from lifecycle_config import setting

    return f"{variable}={path}" if setting(variable) else f"the key file {path} ({variable} unset)"


def _is_fernet_key(line: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(line.encode("ascii"))) == 32 and len(line) == 44
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return False


def key_file() -> Path:
    from lifecycle_config import Misconfigured, escaped, file_in_the_way, home, setting

    explicit = setting(VARIABLE)
    under = file_in_the_way(explicit) if explicit else None
    if under is not None:  # it said "[Errno 20] Not a directory: ..."
        raise Misconfigured(f"{VARIABLE}={escaped(explicit)} cannot be made: {escaped(str(under))} is a file, not a "
                            f"folder: set it to the path of the key file")
    # a folder given here is said where the file is read (read_keys: KeyFileDamaged), as the other damaged files
    return Path(explicit).expanduser().resolve() if explicit else home() / "keys" / "credentials.key"


#: the largest key file read: a key is a 45-byte line, and a rotation keeps a few hundred at most
MAX_BYTES = 64 * 1024


def read_keys(path: Path, *, variable: str = VARIABLE, undone: str = "nothing was sealed") -> list[bytes]:
    """The keys of the file, the sealing one first; [] when there is no file. A file that is there but
    cannot be used raises KeyFileDamaged: a folder, no regular file (a FIFO, a device: never opened), larger
    than MAX_BYTES, unreadable, readable by its group or others (as ssh
    refuses a private key: `chmod 600`), empty, or a line that is not a Fernet key. The error names the file
    by `variable` and says `undone`: the master key file (lifecycle_config.masterkey) is read here too, and
    its user must not be sent to the credentials key's variable."""
    try:
        found = path.stat()
    except FileNotFoundError:
        return []
    except OSError as error:
        raise KeyFileDamaged(f"{_named(path, variable)} cannot be read ({error.strerror or error}); "
                             f"{undone}") from None
    mode = found.st_mode
    if stat.S_ISDIR(mode):
        raise KeyFileDamaged(f"{_named(path, variable)} is a folder, not a key file: name the installation's key "
                             f"file; {undone}")
    if not stat.S_ISREG(mode):  # a FIFO would hold the read for ever, a device give bytes without end
        raise KeyFileDamaged(f"{_named(path, variable)} is not a regular file (a pipe, a device or a socket): "
                             f"name the installation's key file; {undone}")
    if found.st_size > MAX_BYTES:
        raise KeyFileDamaged(f"{_named(path, variable)} is larger than {MAX_BYTES:,} bytes, no key file: restore "
                             f"the installation's key file from its backup; {undone}")
    if mode & 0o077:
        raise KeyFileDamaged(f"{_named(path, variable)} is readable by others than its owner "
                             f"(mode {stat.S_IMODE(mode):o}): `chmod 600 {path}`; {undone}")
    try:
        text = path.read_bytes().decode("ascii")
    except UnicodeDecodeError:
        text = None
    except OSError as error:
        raise KeyFileDamaged(f"{_named(path, variable)} cannot be read ({error.strerror or error}); "
                             f"{undone}") from None
    lines = [] if text is None else [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1)
                                     if line.strip()]
    if text is not None and not lines:
        raise KeyFileDamaged(f"{_named(path, variable)} is empty: restore the installation's key file from its "
                             f"backup (or, if it never sealed anything, remove the file: a new key is made); {undone}")
    for number, line in lines if text is not None else [(1, "")]:
        if not _is_fernet_key(line):
            raise KeyFileDamaged(f"{_named(path, variable)}: line {number} is not a key (one Fernet key a line: "
                                 f"44 characters of url-safe base64): restore the installation's key file from its backup; "
                                 f"{undone}")
    return [line.encode("ascii") for _, line in lines]


def create(path: Path, key: bytes, **naming: str) -> list[bytes]:
    """Write `key` as the file's only key unless the file exists (two first uses agree: the first one's);
    returns the file's keys."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_keys(path, **naming)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(key.decode("ascii") + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return read_keys(path, **naming)


def add(path: Path, key: bytes) -> None:
    """Keep `key` for unsealing only (after the sealing key), unless the file holds it already."""
    if key not in read_keys(path):
        with path.open("a", encoding="ascii") as handle:
            handle.write(key.decode("ascii") + "\n")


def fingerprint(key: bytes) -> str:
    """Which key it is, without saying anything of it (an HMAC of a fixed text under the key)."""
    return hmac.new(key, b"lifecycle ticket-credentials key id", hashlib.sha256).hexdigest()[:32]
