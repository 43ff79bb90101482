"""Issue 24's leftovers, as a user meets them: what a failed or interrupted command leaves behind.

A failed `db restore-snapshot` left its --to behind (a 0-byte SQLite file, or the ledger's tables made in an
empty server database, which the next attempt then refused as "not empty"): interrupted after the target's
schema is made (Ctrl-C, here SIGINT at a paused failpoint), nothing of the restore is left, on SQLite and
PostgreSQL targets alike, and the same command then restores.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date

import pytest
from sqlalchemy import inspect

from lifecycle_config.databases import engine_for
from operations.backup import snapshot_ledger
from tests.integration.conftest import create_pg_database, drop_pg_database
from tests.support.backup_shop import backup_shop

DAY = date(2026, 11, 20)


def interrupted_restore(backup_id: str, target: str, log) -> subprocess.CompletedProcess:
    """`lifecycle db restore-snapshot` stopped by SIGINT once the target's schema is made."""
    env = {**os.environ, "LIFECYCLE_FAILPOINT_PAUSE": "snapshot.schema-made=60", "LIFECYCLE_FAILPOINT_LOG": str(log)}
    process = subprocess.Popen([sys.executable, "-m", "lifecycle.cli", "db", "restore-snapshot", backup_id, "--to",
                                target], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while "snapshot.schema-made" not in (log.read_text() if log.exists() else ""):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the restore never reached its schema"
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_an_interrupted_snapshot_restore_leaves_nothing_in_its_target(kind, tmp_path, monkeypatch, request):
    shop = backup_shop(tmp_path, monkeypatch, DAY.isoformat())
    monkeypatch.setenv("LIFECYCLE_STORAGE_URL", shop.objects.as_uri())
    snapshot = snapshot_ledger(DAY, shop.storage, flow_run_id=None, engine=shop.ledger)
    if kind == "sqlite":
        target = f"sqlite:///{tmp_path / 'restored.db'}"
    else:
        admin = request.getfixturevalue("pg_admin")
        target = create_pg_database(admin, migrate=False)
        request.addfinalizer(lambda: drop_pg_database(admin, target))
    stopped = interrupted_restore(snapshot.backup_id, target, tmp_path / "points.log")
    assert stopped.returncode != 0 and "restored " not in stopped.stdout, stopped.stderr
    if kind == "sqlite":
        assert not [path.name for path in tmp_path.glob("restored.db*")]
    else:
        with engine_for(target).connect() as connection:
            assert inspect(connection).get_table_names() == []
        engine_for(target).dispose()
    again = subprocess.run([sys.executable, "-m", "lifecycle.cli", "db", "restore-snapshot", snapshot.backup_id,
                            "--to", target], capture_output=True, text=True, env=dict(os.environ), timeout=240)
    assert again.returncode == 0 and again.stdout.startswith("restored "), again.stderr
