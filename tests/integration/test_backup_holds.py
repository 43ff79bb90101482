"""A restore holds its backup: retention never deletes what a running restore or drill reads, and a backup
whose objects are missing from storage is `gone` (not `corrupt`), with the restore falling back to the
next good one. Real parts: a local folder and S3 over HTTP (moto server), both ledgers, real threads and
a real kill -9. No Prefect server: these are the tasks the flows run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import date, datetime, timezone

import boto3
import pytest
from sqlalchemy import func, select, text

from blocks.platform import PlatformControl
from blocks.storage import ObjectStorage
from ledger.db import session_scope
from ledger.imports import import_file
from ledger.models import AuditEntry, Backup, CustomerLock, RestoreJob
from policy.terms import Terms
from tests.support.builders import CUSTOMER_HEADER, customer, platform, write_csv
from tests.support.cli import lifecycle, refused_before_any_run
from tests.support.locks import in_thread
from tests.support.servers import s3_server

DAY = date(2026, 11, 20)


@pytest.fixture(scope="module")
def s3_endpoint():
    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture(params=["folder", "s3"])
def shop(request, home, ledger, tmp_path, monkeypatch):
    """ACME and BETA with rows on the platform; object storage in a folder or on S3."""
    if request.param == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = f"holds-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                     aws_secret_access_key="test").create_bucket(Bucket=bucket)
        for key, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                           "AWS_DEFAULT_REGION": "us-east-1", "LIFECYCLE_STORAGE_URL": f"s3://{bucket}/lifecycle"}.items():
            monkeypatch.setenv(key, value)
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME"), customer("BETA")]),
                engine=ledger)
    engine = platform(os.environ["LIFECYCLE_PLATFORM_URL"], ["ACME", "BETA"])
    with engine.begin() as connection:
        for tenant, count in (("ACME", 300), ("BETA", 20)):
            connection.execute(text("INSERT INTO users (tenant_id, email, full_name, role, created_at) VALUES "
                                    "(:t, :e, 'Hélène', 'investor', '2025-01-02 03:04:05')"),
                               [{"t": tenant, "e": f"{tenant}{n}@example.com"} for n in range(count)])
    return engine


def backed_up(customer_id: str, day: date, ledger) -> str:
    """A good backup of the customer for `day`, recorded as made that night (01:00 UTC), whatever today is."""
    from operations.backup import backup_customer

    outcome = backup_customer(customer_id, day, PlatformControl(), ObjectStorage(), engine=ledger)
    assert outcome.status == "good", outcome.error
    with session_scope(ledger, write=True) as session:
        session.get(Backup, outcome.backup_id).created_at = datetime(day.year, day.month, day.day, 1, tzinfo=timezone.utc)
    return outcome.backup_id


def restore(customer_id: str, backup_id: str | None, target: str, key: str, home, ledger):
    from operations.restore import restore_customer

    return restore_customer(customer_id, backup_id, target, "alice", "T-1", request_key=key,
                            platform=PlatformControl(), storage=ObjectStorage(),
                            sandbox_url=f"sqlite:///{home / 'sandbox.db'}", flow_run_id=None, actor="test",
                            engine=ledger)


def wait_for_lock(ledger, customer_id: str, holder_prefix: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with session_scope(ledger) as session:
            lock = session.get(CustomerLock, customer_id)
            if lock is not None and lock.holder.startswith(holder_prefix):
                return
        time.sleep(0.05)
    raise AssertionError(f"{holder_prefix} never took {customer_id}'s lock")


def audit_actions(ledger) -> list[str]:
    with session_scope(ledger) as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_retention_waits_for_a_running_restore_of_the_backup_it_would_delete(shop, ledger, home, monkeypatch):
    """The restore asked for an old backup that retention does not keep: retention, started while the restore
    holds it, waits for the restore to finish; the restore reads it whole, and nothing is marked corrupt."""
    from operations.backup import apply_retention

    old = backed_up("ACME", date(2025, 1, 1), ledger)        # outside 7 days, 5 weeks and 12 months of DAY
    backed_up("ACME", DAY, ledger)
    with shop.begin() as connection:
        connection.execute(text("DELETE FROM users WHERE tenant_id = 'ACME'"))
    monkeypatch.setenv("LIFECYCLE_FAILPOINT_PAUSE", "restore.chosen=3")  # slow between the choice and the read
    restoring, restored = in_thread(restore, "ACME", old, "in_place", "ticket-1", home, ledger)
    wait_for_lock(ledger, "ACME", "restore:")
    retaining, retained = in_thread(apply_retention, "ACME", DAY, Terms(), ObjectStorage(), ledger)
    restoring.join(60)
    retaining.join(90)
    assert "error" not in restored, restored.get("error")
    assert "error" not in retained, retained.get("error")
    assert restored["result"].backup_id == old
    assert restored["result"].rows["users"] == 300
    assert retained["result"] == [old]                       # once the restore was done, not before
    assert retained["ended"] >= restored["ended"]
    with shop.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM users WHERE tenant_id = 'ACME'")) == 300
    with session_scope(ledger) as session:
        assert session.get(Backup, old).status == "deleted"
        assert session.scalars(select(RestoreJob)).one().status == "done"
    assert "backup_corrupt" not in audit_actions(ledger) and "backup_gone" not in audit_actions(ledger)


def test_a_backup_as_of_a_past_day_beside_an_in_place_restore_deletes_nothing_the_restore_chose(shop, ledger, home,
                                                                                                 monkeypatch):
    """The case of the report: `run backup --as-of` a past day (its backup, then its retention) running beside
    an in-place restore of the same customer. The restore keeps the backup it chose, and retention as of
    that past day deletes no backup made after it."""
    from operations.backup import backup_chunk

    backed_up("ACME", date(2026, 11, 18), ledger)
    chosen = backed_up("ACME", date(2026, 11, 25), ledger)
    monkeypatch.setenv("LIFECYCLE_FAILPOINT_PAUSE", "restore.chosen=2")
    restoring, restored = in_thread(restore, "ACME", None, "in_place", "ticket-2", home, ledger)
    wait_for_lock(ledger, "ACME", "restore:")
    backing, backed = in_thread(backup_chunk, ["ACME"], date(2026, 11, 22), PlatformControl(), ObjectStorage(),
                                Terms(), flow_run_id=None, engine=ledger)
    restoring.join(60)
    backing.join(120)
    assert "error" not in restored, restored.get("error")
    assert "error" not in backed, backed.get("error")
    assert restored["result"].backup_id == chosen and restored["result"].gone == []
    assert [outcome.status for outcome in backed["result"]] == ["good"]
    with session_scope(ledger) as session:
        statuses = {b.backup_id: b.status for b in session.scalars(select(Backup))}
    assert statuses[chosen] == "good"                        # made after 22 November: not that retention's to judge
    assert statuses["ACME-20261122"] == "good"
    assert "corrupt" not in statuses.values() and "gone" not in statuses.values()
    store = ObjectStorage().store()
    assert store.exists(f"backups/ACME/{chosen}/manifest.json")


def test_a_backup_missing_from_storage_is_gone_and_the_restore_takes_the_next_good_one(shop, ledger, home):
    from operations.backup import backup_customer
    from operations.drill import verify_backup
    from operations.restore import RestoreRefused

    older = backed_up("ACME", DAY, ledger)
    newer = backed_up("ACME", date(2026, 11, 21), ledger)
    store = ObjectStorage().store()
    for item in store.list(f"backups/ACME/{newer}/"):        # someone deleted its objects, not retention
        store.delete(item.key)

    outcome = restore("ACME", None, "sandbox", "ticket-3", home, ledger)
    assert (outcome.backup_id, outcome.gone) == (older, [newer])
    assert outcome.rows["users"] == 300
    with session_scope(ledger) as session:
        gone = session.get(Backup, newer)
        assert gone.status == "gone" and f"backup {newer} is gone from storage" in gone.error
        assert session.scalars(select(RestoreJob)).one().backup_id == older
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "backup_gone")).one()
        assert (entry.before, entry.after["status"]) == ({"status": "good"}, "gone")
        restored = session.scalars(select(AuditEntry).where(AuditEntry.action == "backup_restored")).one()
        assert restored.after["backup"] == older and restored.after["instead_of_gone"] == [newer]

    # asked for by name, a gone backup is refused in one line, and none is taken in its place
    with pytest.raises(RestoreRefused) as refused:
        restore("ACME", newer, "sandbox", "ticket-4", home, ledger)
    assert str(refused.value) == (f"backup {newer} is gone from storage (its objects were deleted), nothing was "
                                  f"restored: choose another, or none for the latest good one")

    # the last good one gone too (its manifest only): the restore refuses, saying so, and marks it gone
    store.delete(f"backups/ACME/{older}/manifest.json")
    with pytest.raises(RestoreRefused) as refused:
        restore("ACME", None, "sandbox", "ticket-5", home, ledger)
    message = str(refused.value)
    assert message.startswith(f"backup {older} is gone from storage (its manifest: no object ")
    assert message.endswith("nothing was restored: it is now marked gone, and customer ACME has no other good backup")
    assert "\n" not in message
    with session_scope(ledger) as session:
        assert session.get(Backup, older).status == "gone"
        assert {job.status for job in session.scalars(select(RestoreJob))} == {"done", "failed"}
    assert "backup_corrupt" not in audit_actions(ledger)

    # the drill finds a gone backup gone too; the next nightly backup of that day is taken afresh
    beta = backed_up("BETA", DAY, ledger)
    store.delete(f"backups/BETA/{beta}/users.jsonl.gz")
    ok, detail = verify_backup(_backup(ledger, beta), f"sqlite:///{home / 'sandbox.db'}",
                               PlatformControl(), ObjectStorage(), engine=ledger)
    assert not ok and detail.startswith(f"BackupGone: backup {beta} is gone from storage (no object ")
    assert _backup(ledger, beta).status == "gone"
    assert backup_customer("BETA", DAY, PlatformControl(), ObjectStorage(), engine=ledger).status == "good"

    # what ops see: `show backups` says gone, and `run restore --backup` of a gone one refuses before any run
    shown = lifecycle("show", "backups", "--format", "csv")
    assert shown.returncode == 0, shown.stderr
    assert any(line.startswith(f"{newer},ACME,tenant,") and ",gone," in line for line in shown.stdout.splitlines())
    asked = refused_before_any_run("run", "restore", "--customer", "ACME", "--backup", newer, "--requested-by", "alice",
                                   "--ticket", "T-6")
    assert asked.returncode == 2
    assert asked.stderr.strip().splitlines() == [
        f"lifecycle: backup {newer} is gone from storage (its objects were deleted): choose another (or none, for "
        f"the latest good one)"]


def _backup(ledger, backup_id: str) -> Backup:
    with session_scope(ledger) as session:
        return session.get(Backup, backup_id)


def test_a_restore_killed_holding_its_backup_does_not_hold_it_for_ever(shop, ledger, home):
    """kill -9 of a restore after it chose its backup: its hold is the customer's lock, which the next taker
    takes over at once (its process is dead), so retention is not blocked for the night."""
    from operations.backup import apply_retention

    old = backed_up("ACME", date(2025, 1, 1), ledger)
    backed_up("ACME", DAY, ledger)
    script = ("from pathlib import Path\n"
              "from tests.integration.test_backup_holds import restore\n"
              "from lifecycle_config.databases import engine_for\n"
              f"restore('ACME', {old!r}, 'in_place', 'ticket-9', Path({str(home)!r}), "
              f"engine_for({os.environ['LIFECYCLE_DATABASE_URL']!r}))\n")
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "LIFECYCLE_FAILPOINT": "restore.chosen"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    with session_scope(ledger) as session:                  # kill -9: no `finally` ran
        assert session.get(CustomerLock, "ACME").holder == "restore:ticket-9"
        assert session.scalars(select(RestoreJob)).one().status == "running"

    # no wait at all: a holder that is gone is known gone at once (a live one would keep the customer busy)
    assert apply_retention("ACME", DAY, Terms(), ObjectStorage(), ledger, wait_seconds=0) == [old]
    with session_scope(ledger) as session:
        assert session.get(Backup, old).status == "deleted"
        assert session.scalar(select(func.count()).select_from(CustomerLock)) == 0
        taken = session.scalars(select(AuditEntry).where(AuditEntry.action == "lock_taken_over")).one()
        assert taken.before["holder"] == "restore:ticket-9" and "is dead" in taken.after["because"]


def test_a_ledger_snapshot_missing_from_storage_is_gone_too(shop, ledger, tmp_path):
    from operations.backup_archive import BackupGone
    from operations.backup import snapshot_ledger
    from operations.restore import restore_ledger_snapshot

    snapshot = snapshot_ledger(DAY, ObjectStorage(), flow_run_id=None, engine=ledger)
    ObjectStorage().store().delete(snapshot.manifest_key)
    with pytest.raises(BackupGone) as refused:
        restore_ledger_snapshot(snapshot.backup_id, f"sqlite:///{tmp_path / 'restored.db'}", ObjectStorage(),
                                engine=ledger)
    assert str(refused.value).startswith(f"backup {snapshot.backup_id} is gone from storage (its manifest: no object ")
    assert str(refused.value).endswith(": it is now marked gone; choose another snapshot (lifecycle show backups)")
    assert _backup(ledger, snapshot.backup_id).status == "gone"
