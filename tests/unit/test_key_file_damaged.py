"""A credentials key file that is there but cannot be used (empty, not keys, a folder, readable by others) is
one line naming LIFECYCLE_CREDENTIALS_KEY_FILE (or the default path) and what is wrong; nothing is sealed
and no new key replaces it. A file readable by group or others is refused as ssh refuses a private key."""

from __future__ import annotations

import os

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from ledger.db import session_scope
from ledger.imports import ImportRejected, import_file
from ledger.models import Ticket
from ledger.sealing import sealer
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv
from tests.support.sqlite_ledger import sqlite_ledger

TICKETS = ["ticket_id", "customer_id", "received_at", "type", "credentials"]
NOTHING = "; nothing was sealed"


def _file(path, content: bytes | None, mode: int = 0o600):
    if content is None:
        path.mkdir()
        return path
    path.write_bytes(content)
    os.chmod(path, mode)
    return path


KEY = Fernet.generate_key()
CASES = [
    ("empty", b"", 0o600, "is empty: restore the installation's key file from its backup (or, if it never sealed "
                          "anything, remove the file: a new key is made)"),
    ("garbage", b"garbage\n", 0o600, ": line 1 is not a key (one Fernet key a line: 44 characters of url-safe "
                                     "base64): restore the installation's key file from its backup"),
    ("second-line", KEY + b"\nnot-a-key\n", 0o600, ": line 2 is not a key (one Fernet key a line: 44 characters of "
                                                   "url-safe base64): restore the installation's key file from its "
                                                   "backup"),
    ("latin", b"\xe9t\xe9\n", 0o600, ": line 1 is not a key (one Fernet key a line: 44 characters of url-safe "
                                     "base64): restore the installation's key file from its backup"),
    ("folder", None, 0, "is a folder, not a key file: name the installation's key file"),
    ("open", KEY + b"\n", 0o644, "is readable by others than its owner (mode 644): `chmod 600 {path}`"),
    ("group", KEY + b"\n", 0o640, "is readable by others than its owner (mode 640): `chmod 600 {path}`"),
]


@pytest.mark.parametrize("name, content, mode, said", CASES, ids=[case[0] for case in CASES])
@pytest.mark.parametrize("named", [True, False], ids=["variable", "default-path"])
def test_a_damaged_key_file_is_one_line_naming_it_and_nothing_is_sealed(tmp_path, monkeypatch, name, content, mode,
                                                                         said, named):
    ledger = sqlite_ledger(tmp_path, monkeypatch, "2026-11-02")
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME")]), engine=ledger)
    if named:
        path = _file(tmp_path / f"{name}.key", content, mode)
        monkeypatch.setenv("LIFECYCLE_CREDENTIALS_KEY_FILE", str(path))
        shown = f"LIFECYCLE_CREDENTIALS_KEY_FILE={path}"
    else:
        (tmp_path / "home" / "keys").mkdir(mode=0o700)
        path = _file(tmp_path / "home" / "keys" / "credentials.key", content, mode)
        monkeypatch.delenv("LIFECYCLE_CREDENTIALS_KEY_FILE", raising=False)
        shown = f"the key file {path} (LIFECYCLE_CREDENTIALS_KEY_FILE unset)"
    before = path.read_bytes() if content is not None else None
    rows = [["T-1", "ACME", "2026-10-06T09:00", "bug", "admin / hunter2"]]
    with pytest.raises(ImportRejected) as rejected:
        import_file("tickets", write_csv(tmp_path / "t.csv", TICKETS, rows), engine=ledger, sealer=sealer(ledger))
    separator = "" if said.startswith(":") else " "
    assert rejected.value.errors == [f"t.csv:2:credentials: {shown}{separator}{said.format(path=path)}{NOTHING}"]
    with session_scope(ledger) as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 0
    if content is not None:
        assert path.read_bytes() == before   # never replaced by a new key


def test_a_ticket_without_credentials_needs_no_key(tmp_path, monkeypatch):
    ledger = sqlite_ledger(tmp_path, monkeypatch, "2026-11-02")
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME")]), engine=ledger)
    monkeypatch.setenv("LIFECYCLE_CREDENTIALS_KEY_FILE", str(_file(tmp_path / "empty.key", b"")))
    rows = [["T-1", "ACME", "2026-10-06T09:00", "bug", ""]]
    assert import_file("tickets", write_csv(tmp_path / "t.csv", TICKETS, rows), engine=ledger,
                       sealer=sealer(ledger)).inserted == 1
