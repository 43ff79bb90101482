"""A client home: a LIFECYCLE_HOME whose PREFECT_API_URL is the server of the home that serves the ledger (a worker
machine of the deploy/ topology, an ops shell), on the same installation. It may read the ledger and start runs on
that server's worker; it never acts on the installation's keys or storage with its own copies of the settings (its
own `keys/master.key`, its own `objects/` or LIFECYCLE_STORAGE_URL): those commands refuse in one line saying where
to run them, and nothing anywhere changes."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ledger.db import session_scope
from ledger.imports import import_file
from ledger.installation import claim, claim_of
from ledger.models import AuditEntry
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv
from tests.support.cli import lifecycle_in_process

pytestmark = pytest.mark.prefect


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def test_a_client_home_never_acts_on_the_keys_or_storage_with_its_own_settings(prefect_server, home, ledger,
                                                                               tmp_path, monkeypatch):
    """Issue 24 (M5): `keys rotate-master` in a client home wrote a new key into that machine's own copy of the
    master key file and rewrapped every data key under it: the serving home's workers, whose key files lack the new
    key, could read no backup any more; `keys rotate` and a run in the client's own process used the client's
    storage defaults (its own `objects/`), another store than the installation's."""
    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-11-20")
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME")]), engine=ledger)
    serving = home  # home A: its `lifecycle up` serves the ledger on this server
    claim(ledger, how="up", api_url=prefect_server, pid=0)
    made = lifecycle_in_process("keys", "rotate", "--customer", "ACME")  # the serving home: as before
    assert made.returncode == 0, made.stderr
    client = tmp_path / "client"
    client.mkdir()
    monkeypatch.setenv("LIFECYCLE_HOME", str(client))
    monkeypatch.setenv("PREFECT_API_URL", prefect_server)
    (client / "keys").mkdir()  # the client machine's own copy of the master key, as the docs tell ops to make
    (client / "keys" / "master.key").write_bytes((serving / "keys" / "master.key").read_bytes())
    (client / "keys" / "master.key").chmod(0o600)
    before = (files_under(serving), files_under(client), claim_of(ledger))
    with session_scope(ledger) as session:
        audited = session.scalar(select(func.count()).select_from(AuditEntry))
    for args in (("keys", "rotate-master"), ("keys", "rotate", "--customer", "ACME"),
                 ("keys", "export", "--out", str(tmp_path / "escrow.key")),
                 ("db", "restore-snapshot", "ledger-20261120-0105", "--to", f"sqlite:///{tmp_path / 'r.db'}"),
                 ("run", "backup", "--customer", "ACME")):
        refused = lifecycle_in_process(*args)
        assert refused.returncode == 2, (args, refused.stdout, refused.stderr)
        [line] = [said for said in refused.stderr.splitlines() if not said.startswith("note: ")]
        assert line.startswith(f"lifecycle: this LIFECYCLE_HOME ('{client.resolve()}' on '{socket.gethostname()}') "
                               f"is a client of the installation whose ledger LIFECYCLE_HOME '{serving.resolve()}' on "
                               f"'{socket.gethostname()}' serves: `lifecycle {' '.join(args[:2])}` would "), (args, line)
        assert line.endswith(f"not that home's: run it in that home, on '{socket.gethostname()}'; nothing was done")
    assert (files_under(serving), files_under(client), claim_of(ledger)) == before
    assert not (tmp_path / "escrow.key").exists() and not (tmp_path / "r.db").exists()
    with session_scope(ledger) as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == audited
    shown = lifecycle_in_process("show", "customers")  # reading the ledger stays a client's right
    assert shown.returncode == 0 and "ACME" in shown.stdout, shown.stderr
