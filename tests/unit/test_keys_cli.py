"""`lifecycle keys` and the master key as a user meets them, on a SQLite ledger and a folder store: the escrow
copy is one line, private, never overwritten; a ledger snapshot whose home lost its master key is refused in
one line, then restored with `--master-key-file`; a customer's key rotated gives its next backup a new key."""

from __future__ import annotations

import subprocess
from datetime import date

from ledger.db import session_scope
from ledger.models import Backup
from operations.backup import backup_customer, snapshot_ledger
from tests.support.backup_shop import backup_shop
from tests.support.cli import lifecycle_in_process

DAY = date(2026, 11, 20)


def lifecycle(*args: str) -> subprocess.CompletedProcess:
    """The command as the user types it, run in this process (what it says and does, not a process's startup)."""
    return lifecycle_in_process(*args)


def test_escrow_then_a_snapshot_restored_with_it_when_the_homes_key_is_lost(tmp_path, monkeypatch):
    shop = backup_shop(tmp_path, monkeypatch, DAY.isoformat())
    monkeypatch.setenv("LIFECYCLE_STORAGE_URL", shop.objects.as_uri())
    nothing = lifecycle("keys", "export", "--out", str(tmp_path / "early.key"))
    assert (nothing.returncode, nothing.stderr.strip()) == (2, f"lifecycle: no master key at "
                                                                f"{tmp_path / 'home' / 'keys' / 'master.key'} yet (it is "
                                                                f"made by the first backup): nothing to export")
    snapshot = snapshot_ledger(DAY, shop.storage, flow_run_id=None, engine=shop.ledger)
    escrow = tmp_path / "escrow.key"
    done = lifecycle("keys", "export", "--out", str(escrow))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("master key ") and (escrow.stat().st_mode & 0o777) == 0o600
    assert escrow.read_text() == (tmp_path / "home" / "keys" / "master.key").read_text()

    (tmp_path / "home" / "keys" / "master.key").unlink()
    refused = lifecycle("db", "restore-snapshot", snapshot.backup_id, "--to", f"sqlite:///{tmp_path / 'new1.db'}")
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "no master key at" in refused.stderr and "--master-key-file or LIFECYCLE_MASTER_KEY_FILE" in refused.stderr
    restored = lifecycle("db", "restore-snapshot", snapshot.backup_id, "--to", f"sqlite:///{tmp_path / 'new2.db'}",
                         "--master-key-file", str(escrow))
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.startswith("restored ")
    assert not (tmp_path / "home" / "keys" / "master.key").exists()  # reading never makes a key


def test_a_customers_key_rotated_gives_its_next_backup_a_new_key(tmp_path, monkeypatch):
    shop = backup_shop(tmp_path, monkeypatch, DAY.isoformat())
    monkeypatch.setenv("LIFECYCLE_STORAGE_URL", shop.objects.as_uri())
    assert backup_customer("ACME", DAY, shop.platform, shop.storage, engine=shop.ledger).status == "good"
    rotated = lifecycle("keys", "rotate", "--customer", "ACME")
    assert rotated.returncode == 0, rotated.stderr
    assert backup_customer("ACME", date(2026, 11, 21), shop.platform, shop.storage, engine=shop.ledger).status == "good"
    with session_scope(shop.ledger) as session:
        first, second = (session.get(Backup, backup_id).manifest["encryption"]["key_id"]
                         for backup_id in ("ACME-20261120", "ACME-20261121"))
    assert first != second and rotated.stdout.strip() == (f"customer ACME: new backups use data key {second}; older "
                                                          f"ones keep theirs")
    unknown = lifecycle("keys", "rotate", "--customer", "NOPE")
    assert (unknown.returncode, unknown.stderr.strip()) == (
        2, "lifecycle: --customer 'NOPE': unknown customer (lifecycle show customers lists them)")
