"""Crash anywhere: a run killed at any step that writes, then run again, ends as if nothing happened.

A day of operations on the demo (backup, close with its export, arrears with a deletion, standby,
an in-place restore) runs once uninterrupted, each command in its own `lifecycle run` process, and
records every failpoint it crosses (lifecycle_config/failpoints.py). Then, for every failpoint of
every command, the ledger, platform and storage as they were before that command are put back, the
command is run with the failpoint set (the process SIGKILLs itself there: no exception, no
`finally`), run again without it, and what a user sees is compared with the uninterrupted run:
customers, invoices (no duplicate charge, no gap in numbering), interventions, notices (none lost,
none pending), backups, the platform's flags and rows, the stored objects; and no lock is left.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select, text

from lifecycle_config.databases import engine_for
from tests.integration.conftest import create_pg_database, drop_pg_database

pytestmark = pytest.mark.prefect

TODAY = "2026-11-23"
DAY = [
    ("backup", ["run", "backup", "--as-of", TODAY]),
    ("close", ["run", "monthly-close", "--month", "2026-10"]),
    ("arrears", ["run", "arrears", "--as-of", TODAY, "--approve-deletion"]),
    ("standby", ["run", "standby-expiry", "--as-of", TODAY]),
    ("restore", ["run", "restore", "--customer", "C002", "--target", "in_place", "--requested-by", "ops",
                 "--ticket", "T-42"]),
]
# On PostgreSQL the ledger's transactions, row locks and lock table behave differently from SQLite's;
# the steps below are where a killed run leaves a transaction half-way or a row lock held (the SQLite
# day crosses every failpoint; this keeps the suite inside its 20 minutes).
POSTGRESQL_POINTS = {"backup.before-manifest", "close.drafted", "close.finalised", "arrears.customer-recorded",
                     "dispatch.effect-applied", "standby.step-recorded", "restore.safety-taken"}
VOLATILE = ("flow_run_id", "attempts", "last_error", "location", "download", "key")  # key: a random data key id


class Day:
    """A LIFECYCLE_HOME with its ledger (SQLite or PostgreSQL) that can be saved and put back."""

    def __init__(self, folder: Path, ledger_url: str, prefect_api: str, admin=None):
        self.folder, self.ledger_url, self.admin = folder, ledger_url, admin
        self.env = {**os.environ, "LIFECYCLE_HOME": str(folder / "home"), "LIFECYCLE_DATABASE_URL": ledger_url,
                    "PREFECT_API_URL": prefect_api, "LIFECYCLE_TODAY": TODAY}  # the day of operations below
        for name in ("LIFECYCLE_PLATFORM_URL", "LIFECYCLE_STORAGE_URL", "LIFECYCLE_SANDBOX_URL", "LIFECYCLE_FAILPOINT"):
            self.env.pop(name, None)

    @property
    def home(self) -> Path:
        return self.folder / "home"

    def lifecycle(self, *args: str, failpoint: str | None = None, log: Path | None = None, today: str | None = None):
        env = dict(self.env, **({"LIFECYCLE_TODAY": today} if today else {}))
        if failpoint:
            env["LIFECYCLE_FAILPOINT"] = failpoint
        if log:
            env["LIFECYCLE_FAILPOINT_LOG"] = str(log)
        return subprocess.run([sys.executable, "-m", "lifecycle.cli", *args], env=env, capture_output=True, text=True,
                              timeout=600)

    def save(self, name: str) -> None:
        shutil.copytree(self.home, self.folder / f"saved-{name}")
        if self.admin is not None:
            engine_for(self.ledger_url).dispose()
            with self.admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{self._db(name)}" TEMPLATE "{self._db()}"'))

    def put_back(self, name: str) -> None:
        shutil.rmtree(self.home)
        shutil.copytree(self.folder / f"saved-{name}", self.home)
        if self.admin is not None:
            engine_for(self.ledger_url).dispose()
            with self.admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE "{self._db()}" WITH (FORCE)'))
                connection.execute(text(f'CREATE DATABASE "{self._db()}" TEMPLATE "{self._db(name)}"'))

    def _db(self, saved: str | None = None) -> str:
        name = self.ledger_url.rsplit("/", 1)[1]
        return f"{name}_{saved}" if saved else name

    def picture(self) -> dict:
        """What a user sees, without what legitimately differs between two runs (times, run ids, tries)."""
        from ledger import views
        from ledger.db import session_scope
        from ledger.models import Backup, CustomerLock, Notice, PlatformEffect

        engine = engine_for(self.ledger_url)
        seen = {}
        with session_scope(engine) as session:
            for name in ("customers", "invoices", "interventions", "notices", "backups"):
                seen[name] = [_plain(row) for row in views.SUBJECTS[name](session, None)]
            stuck = {
                "locks": list(session.scalars(select(CustomerLock.customer_id))),
                "running backups": list(session.scalars(select(Backup.backup_id).where(Backup.status == "running"))),
                "pending notices": list(session.scalars(select(Notice.notice_key).where(Notice.status != "sent"))),
                "pending effects": list(session.scalars(select(PlatformEffect.effect_key)
                                                        .where(PlatformEffect.status != "applied"))),
            }
        engine.dispose()
        seen["backups"] = [row for row in seen["backups"] if row["kind"] == "tenant"]
        for row in seen["interventions"]:
            if row["intervention_id"].upper().startswith("RESTORE-"):  # one per billed job; the job id is a counter
                row["intervention_id"] = "restore"
        with sqlite3.connect(self.home / "platform.db") as platform:
            seen["platform"] = platform.execute("SELECT tenant_id, admin_enabled, platform_enabled, operations_enabled "
                                                "FROM tenants ORDER BY tenant_id").fetchall()
            seen["platform rows"] = {table: platform.execute(
                f"SELECT tenant_id, count(*) FROM {table} GROUP BY tenant_id ORDER BY tenant_id").fetchall()
                for table in ("users", "operations", "documents")}
        objects = self.home / "objects"
        seen["objects"] = sorted(_object_name(path.relative_to(objects)) for path in objects.rglob("*")
                                 if path.is_file() and path.relative_to(objects).parts[0] != "ledger-snapshots"
                                 and "-safety-" not in str(path))
        for name in ("customers", "invoices", "interventions", "notices", "backups"):  # in an order of their own
            seen[name].sort(key=lambda row: json.dumps(row, sort_keys=True, default=str))
        return {"seen": seen, "stuck": stuck}


def _object_name(relative: Path) -> str:
    """A stored object's key; a data key's object by its owner only (its id is random: one key per owner either
    way, a run killed after making it reuses it when run again)."""
    if relative.parts[0] == "keys":
        return str(relative.parent / "<data key>")
    return str(relative)


def _plain(row: dict) -> dict:
    return {key: value for key, value in row.items() if not key.endswith("_at") and key not in VOLATILE
            and not (key == "description" and str(value).startswith("Restore of backup"))}


def numbers_without_gap(picture: dict) -> None:
    numbers = sorted(invoice["number"] for invoice in picture["seen"]["invoices"] if invoice["number"])
    by_year: dict[str, list[int]] = {}
    for number in numbers:
        prefix, _, serial = number.rpartition("-")
        by_year.setdefault(prefix, []).append(int(serial))
    for prefix, serials in by_year.items():
        assert serials == list(range(serials[0], serials[0] + len(serials))), (prefix, serials)


@pytest.fixture(params=["sqlite", "postgresql"])
def day(request, tmp_path, prefect_server):
    admin = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'home' / 'ledger.db'}"   # saved and put back with the home
    else:
        admin = request.getfixturevalue("pg_admin")
        url = create_pg_database(admin, migrate=False)
    world = Day(tmp_path, url, prefect_server, admin)
    world.home.mkdir()
    made = world.lifecycle("demo", "--customers", "8", "--seed", "11", "--as-of", TODAY)
    assert made.returncode == 0, made.stderr
    # so that every flow has work today: a standby that starts, and a deletion that is due (notice given in October)
    (tmp_path / "standby.csv").write_text("customer_id,reason,start_on\nC005,temporary_inactivity,2026-11-23\n")
    # an old unpaid invoice of something else than the subscription (the demo's history billed C006's months)
    (tmp_path / "invoices.csv").write_text("invoice_id,customer_id,issued_on,due_on,amount_ht,subscription\n"
                                           "OLD-1,C006,2026-03-01,2026-03-31,100.00,false\n")
    for setup in (["import", "standby", str(tmp_path / "standby.csv")],
                  ["import", "invoices", str(tmp_path / "invoices.csv")],
                  ["run", "arrears", "--as-of", "2026-10-20"]):
        # the sweep as run on 2026-10-20 (a catch-up run later would give its notice 30 days from the day it runs)
        done = world.lifecycle(*setup, today="2026-10-20" if setup[0] == "run" else None)
        assert done.returncode == 0, (setup, done.stderr[-2000:])
    yield world
    if admin is not None:
        engine_for(url).dispose()
        with admin.connect() as connection:
            for command, _ in DAY:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{world._db(command)}" WITH (FORCE)'))
        drop_pg_database(admin, url)


# a whole day killed at every step (5.6 min on a quiet machine): twice that on a loaded one is not a hang
@pytest.mark.timeout(1800)
def test_a_run_killed_at_any_step_and_run_again_ends_as_the_uninterrupted_day(day, record_property):
    # the uninterrupted day, saving what was there before each command and what it left
    reference, crossed = {}, {}
    for command, args in DAY:
        day.save(command)
        log = day.folder / f"crossed-{command}.log"
        done = day.lifecycle(*args, log=log)
        assert done.returncode == 0, (command, done.stderr[-3000:])
        crossed[command] = list(dict.fromkeys(log.read_text().split())) if log.exists() else []
        reference[command] = day.picture()
        assert not any(reference[command]["stuck"].values()), (command, reference[command]["stuck"])
        numbers_without_gap(reference[command])
    # every flow that writes has failpoints on this day's path
    assert all(crossed.values()), crossed
    assert {"purge.platform-deleted", "keys.key-destroyed", "purge.object-deleted",
            "dispatch.notice-sent"} <= set(crossed["arrears"])
    assert "keys.data-key-created" in crossed["backup"]  # the demo made no backup: its keys are made here

    cases = 0
    on_postgresql = day.admin is not None
    for command, args in DAY:
        for point in crossed[command]:
            if on_postgresql and point not in POSTGRESQL_POINTS:
                continue
            if command == "restore" and point.startswith("backup."):
                continue  # the safety backup is the backup's own code, crossed by the backup's cases above
            day.put_back(command)
            killed = day.lifecycle(*args, failpoint=point)
            assert killed.returncode == -signal.SIGKILL, (command, point, killed.returncode, killed.stderr[-2000:])
            again = day.lifecycle(*args)
            assert again.returncode == 0, (command, point, again.stderr[-3000:])
            after = day.picture()
            assert after["stuck"] == reference[command]["stuck"], (command, point)
            assert after["seen"] == reference[command]["seen"], (command, point, _difference(
                after["seen"], reference[command]["seen"]))
            numbers_without_gap(after)
            cases += 1
    record_property("tell", f"crash-anywhere ({day.ledger_url.split(':')[0]}): {cases} failpoints crossed, killed "
                            f"and recovered: " + json.dumps(crossed))
    assert cases >= (len(POSTGRESQL_POINTS) if on_postgresql else 8)


def _difference(left: dict, right: dict) -> dict:
    """Only what differs: the rows each side has that the other has not."""
    def rows(value):
        return [json.dumps(row, sort_keys=True, default=str) for row in value] if isinstance(value, list) else [
            json.dumps(value, sort_keys=True, default=str)]
    return {name: {"killed then again only": sorted(set(rows(left[name])) - set(rows(right[name]))),
                   "uninterrupted only": sorted(set(rows(right[name])) - set(rows(left[name])))}
            for name in left if left[name] != right[name]}
