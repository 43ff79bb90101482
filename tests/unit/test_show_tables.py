"""What `lifecycle show` writes, subject by subject, as a user reads it in a file or a pipe.

- Every JSON instant is UTC, and so is the instant in a backup's `lock` (it was Paris time in JSON alone); the
  table and CSV write that instant in Paris time, as they do every other instant.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

from typer.testing import CliRunner

from ledger.db import session_scope
from ledger.models import Backup
from lifecycle.cli import app
from tests.support.sqlite_ledger import sqlite_ledger

LOCKED_UNTIL = datetime(2026, 12, 13, 23, 0, tzinfo=timezone.utc)  # 00:00 in Paris on the 14th


def locked_backup(tmp_path, monkeypatch):
    engine = sqlite_ledger(tmp_path, monkeypatch, "2026-11-20")
    with session_scope(engine) as session:
        session.add(Backup(backup_id="ACME-20261120", customer_id="ACME", kind="tenant", status="good",
                           created_at=datetime(2026, 11, 20, 1, 30, tzinfo=timezone.utc), lock_mode="governance",
                           locked_until=LOCKED_UNTIL))
    return engine


def test_a_backup_lock_is_utc_in_json_and_paris_time_in_the_table_and_csv(tmp_path, monkeypatch):
    locked_backup(tmp_path, monkeypatch)
    runner = CliRunner()
    [record] = json.loads(runner.invoke(app, ["show", "backups", "--format", "json"]).stdout)
    assert record["lock"] == "governance until 2026-12-13T23:00:00+00:00"
    assert record["created_at"] == "2026-11-20T01:30:00+00:00"  # as every other JSON instant
    [row] = list(csv.DictReader(io.StringIO(runner.invoke(app, ["show", "backups", "--format", "csv"]).stdout)))
    assert (row["lock"], row["created_at"]) == ("governance until 2026-12-14T00:00:00+01:00",
                                                "2026-11-20T02:30:00+01:00")
    table = runner.invoke(app, ["show", "backups"]).stdout
    assert "governance until 2026-12-14T00:00:00+01:00" in table and "+00:00" not in table


def test_a_deleted_backup_waiting_for_its_lock_keeps_its_words_around_the_paris_instant(tmp_path, monkeypatch):
    engine = locked_backup(tmp_path, monkeypatch)
    with session_scope(engine) as session:
        session.get(Backup, "ACME-20261120").status = "deleted"
    result = CliRunner().invoke(app, ["show", "backups", "--format", "csv"])
    assert "governance until 2026-12-14T00:00:00+01:00, removed then" in result.stdout
