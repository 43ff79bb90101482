"""Immutable backups on an S3 bucket with Object Lock (moto's server over HTTP), on both ledgers: every object of
a backup is written locked until its daily expiry, the key store never; the store itself refuses to delete a
locked version, and no product path (retention, a customer's purge) tries to shorten or bypass a lock: they
leave the locked objects, record them as pending, and remove every version once the lock has passed; a
promotion extends the lock; a run killed while extending, and run again, leaves every object extended. A
folder and a bucket without Object Lock say so and lock nothing.

moto judges a lock by the machine's real clock and backups are dated by it too: the expected dates are
computed from each backup's own `created_at`, never from today. Time passing beyond a lock is played by the
bucket's administrator, outside the product, shortening a governance lock with BypassGovernanceRetention."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone

import boto3
import pytest
from botocore.exceptions import ClientError
from sqlalchemy import text

from blocks.platform import PlatformControl
from blocks.storage import ObjectStorage
from ledger import keys
from ledger.db import session_scope
from ledger.imports import import_file
from ledger.models import Backup
from ledger.views import backups as shown_backups
from lifecycle.cli.show import _flat as show_text
from operations.backup import apply_retention, backup_customer, remove_unlocked
from operations.deletion import certificate_markdown, purge_customer
from policy.calendar import PARIS, add_months, paris_date
from policy.retention import lock_instant
from policy.terms import Terms
from tests.support.builders import CUSTOMER_HEADER, customer, platform, write_csv
from tests.support.servers import s3_server


@pytest.fixture(scope="module")
def s3_endpoint():
    with s3_server() as endpoint:
        yield endpoint


def _client(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test")


def _use_bucket(monkeypatch, endpoint: str, bucket: str) -> None:
    for key, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                       "AWS_DEFAULT_REGION": "us-east-1", "LIFECYCLE_STORAGE_URL": f"s3://{bucket}/lifecycle"}.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def bucket(home, ledger, tmp_path, monkeypatch, s3_endpoint):
    """ACME and BETA with rows on the platform; storage on a bucket created with Object Lock enabled."""
    name = f"locked-{uuid.uuid4().hex[:8]}"
    client = _client(s3_endpoint)
    client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    _use_bucket(monkeypatch, s3_endpoint, name)
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME"), customer("BETA")]),
                engine=ledger)
    engine = platform(os.environ["LIFECYCLE_PLATFORM_URL"], ["ACME", "BETA"])
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO users (tenant_id, email, full_name, role, created_at) VALUES "
                                "(:t, :e, 'N', 'investor', '2025-01-02 03:04:05')"),
                           [{"t": "ACME", "e": f"a{n}@example.com"} for n in range(12)])
    return client, name


def backed_up(ledger, backup_id: str, storage: ObjectStorage | None = None, terms: Terms | None = None) -> Backup:
    outcome = backup_customer("ACME", date(2026, 11, 20), PlatformControl(), storage or ObjectStorage(),
                              backup_id=backup_id, engine=ledger, terms=terms)
    assert outcome.status == "good", outcome.error
    with session_scope(ledger) as session:
        return session.get(Backup, backup_id)


def versions(client, bucket: str, prefix: str) -> list[dict]:
    """Every version and delete marker under `prefix`, as the bucket holds them."""
    page = client.list_object_versions(Bucket=bucket, Prefix=f"lifecycle/{prefix}")
    return page.get("Versions", []) + page.get("DeleteMarkers", [])


def retention(client, bucket: str, version: dict) -> tuple[str, datetime] | None:
    """The version's lock as the bucket answers it (its HEAD: moto's server fails GetObjectRetention by version)."""
    head = client.head_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
    until = head.get("ObjectLockRetainUntilDate")
    return (head["ObjectLockMode"], until.astimezone(timezone.utc)) if until else None


def time_passes(client, bucket: str, prefix: str) -> None:
    """The bucket's administrator (not the product) lets every lock under `prefix` run out a second from now."""
    soon = datetime.now(timezone.utc) + timedelta(seconds=1)
    for version in versions(client, bucket, prefix):
        if "Size" in version:
            client.put_object_retention(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"],
                                        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": soon},
                                        BypassGovernanceRetention=True)
    time.sleep(2)


def two_backups_one_let_go(ledger, bucket) -> tuple[Backup, Backup]:
    """Two backups of ACME the same day; a retention of that day keeps the newer and lets the older go, which
    its lock keeps in the store."""
    client, name = bucket
    older, newer = backed_up(ledger, "ACME-older"), backed_up(ledger, "ACME-newer")
    doomed = apply_retention("ACME", paris_date(newer.created_at), Terms(), ObjectStorage(), ledger)
    assert doomed == ["ACME-older"]
    return older, newer


def test_a_backup_is_written_locked_until_its_daily_expiry_and_the_store_refuses_its_deletion(bucket, ledger):
    client, name = bucket
    backup = backed_up(ledger, "ACME-one")
    until = lock_instant(paris_date(backup.created_at) + timedelta(days=7))  # the daily tier of the default terms
    stored = versions(client, name, keys.backup_folder("ACME", "ACME-one"))
    assert len(stored) == 4  # three tables and the manifest
    assert {retention(client, name, version) for version in stored} == {("GOVERNANCE", until)}
    key_store = versions(client, name, "keys/")
    assert key_store and all(retention(client, name, version) is None for version in key_store)
    with pytest.raises(ClientError) as refused:  # the store's own refusal, not our bookkeeping
        client.delete_object(Bucket=name, Key=stored[0]["Key"], VersionId=stored[0]["VersionId"])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    [row] = [row for row in shown_backups_of(ledger) if row["backup_id"] == "ACME-one"]
    assert row["lock"] == f"governance until {until.astimezone(timezone.utc).isoformat()}"  # UTC, as every JSON instant
    # the table and CSV write it in Paris time, where it ends at 00:00 (2026-12-13T23:00Z read as a day early)
    assert show_text(row["lock"], "lock") == f"governance until {until.astimezone(PARIS).isoformat()}"


def shown_backups_of(ledger) -> list[dict]:
    with session_scope(ledger) as session:
        return shown_backups(session)


def test_compliance_mode_when_the_block_says_so(bucket, ledger):
    client, name = bucket
    backed_up(ledger, "ACME-strict", ObjectStorage(object_lock_mode="compliance"))
    modes = {retention(client, name, v)[0] for v in versions(client, name, keys.backup_folder("ACME", "ACME-strict"))}
    assert modes == {"COMPLIANCE"}


def test_retention_leaves_a_locked_backup_whole_and_pending_then_removes_every_version_once_it_passed(bucket, ledger):
    client, name = bucket
    older, _ = two_backups_one_let_go(ledger, bucket)
    folder = keys.backup_folder("ACME", "ACME-older")
    left = versions(client, name, folder)
    assert len(left) == 4 and all("Size" in version for version in left)  # whole: no delete marker hides any
    with session_scope(ledger) as session:
        record = session.get(Backup, "ACME-older")
        assert (record.status, record.deleted_at, record.locked_until) == ("deleted", None, older.locked_until)
    [row] = [row for row in shown_backups_of(ledger) if row["backup_id"] == "ACME-older"]
    assert row["lock"].endswith(", removed then")
    assert remove_unlocked(ObjectStorage(), ledger) == []  # still locked: nothing goes
    assert len(versions(client, name, folder)) == 4

    time_passes(client, name, folder)
    assert remove_unlocked(ObjectStorage(), ledger) == ["ACME-older"]
    assert versions(client, name, folder) == []  # every version, no marker left behind
    with session_scope(ledger) as session:
        assert session.get(Backup, "ACME-older").deleted_at is not None
    assert len(versions(client, name, keys.backup_folder("ACME", "ACME-newer"))) == 4


def test_a_purge_shreds_the_key_leaves_locked_objects_and_certifies_when_each_expires(bucket, ledger):
    client, name = bucket
    first, second = two_backups_one_let_go(ledger, bucket)
    deleted = purge_customer("ACME", PlatformControl(), ObjectStorage(), holder="deletion:test", engine=ledger)
    assert len(deleted["locked"]) == 8 and deleted["objects"] == []
    assert {entry["until"] for entry in deleted["locked"]} == {first.locked_until.isoformat(timespec="seconds")}
    assert deleted["keys_shredded"][0]["objects_unreadable"] == 8
    assert versions(client, name, "keys/customers/ACME/") == []  # shredded: the copies left are unreadable
    assert len(versions(client, name, keys.customer_backups("ACME"))) == 8
    markdown = certificate_markdown({"customer_id": "ACME", "deleted_at": "x", "approved_by": "ops", "comment": "",
                                     "flow_run_id": None, **deleted})
    assert "## Locked copies, removed when their lock expires" in markdown
    assert f"| {keys.backup_folder('ACME', 'ACME-newer')}manifest.json | {deleted['locked'][0]['until']} |" in markdown

    time_passes(client, name, keys.customer_backups("ACME"))
    assert sorted(remove_unlocked(ObjectStorage(), ledger)) == ["ACME-newer", "ACME-older"]
    assert versions(client, name, keys.customer_backups("ACME")) == []


def test_a_promotion_extends_the_lock_and_nothing_shortens_it(bucket, ledger):
    client, name = bucket
    backup = backed_up(ledger, "ACME-monthly")
    made = paris_date(backup.created_at)
    month_over = add_months(made.replace(day=1), 1) + timedelta(days=7)  # its week and its month are over
    apply_retention("ACME", month_over, Terms(), ObjectStorage(), ledger)
    promoted = lock_instant(add_months(made.replace(day=1), 12))  # the monthly tier of the default terms
    folder = keys.backup_folder("ACME", "ACME-monthly")
    assert {retention(client, name, v) for v in versions(client, name, folder)} == {("GOVERNANCE", promoted)}
    with session_scope(ledger) as session:
        assert session.get(Backup, "ACME-monthly").locked_until == promoted
    shorter = Terms(keep_monthly_backups=1, keep_weekly_backups=1)
    apply_retention("ACME", month_over, shorter, ObjectStorage(), ledger)
    assert {retention(client, name, v) for v in versions(client, name, folder)} == {("GOVERNANCE", promoted)}


def test_a_run_killed_while_extending_locks_and_run_again_extends_every_object(bucket, ledger):
    client, name = bucket
    backup = backed_up(ledger, "ACME-kill")
    made = paris_date(backup.created_at)
    day = add_months(made.replace(day=1), 1) + timedelta(days=7)
    code = ("from datetime import date; import os; from blocks.storage import ObjectStorage; "
            "from lifecycle_config.databases import engine_for; from operations.backup import apply_retention; "
            "from policy.terms import Terms; "
            f"apply_retention('ACME', date.fromisoformat('{day.isoformat()}'), Terms(), ObjectStorage(), "
            "engine_for(os.environ['LIFECYCLE_DATABASE_URL']))")

    def run(failpoint: str | None) -> subprocess.CompletedProcess:
        env = {key: value for key, value in os.environ.items() if key != "LIFECYCLE_FAILPOINT"}
        env.update({"LIFECYCLE_FAILPOINT": failpoint} if failpoint else {})
        return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)

    killed = run("lock.extended")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    promoted = lock_instant(add_months(made.replace(day=1), 12))
    folder = keys.backup_folder("ACME", "ACME-kill")
    assert sorted(retention(client, name, v)[1] == promoted for v in versions(client, name, folder)) \
        == [False, False, False, True]  # one object extended before the kill
    with session_scope(ledger) as session:
        assert session.get(Backup, "ACME-kill").locked_until == backup.locked_until  # the ledger not yet
    again = run(None)
    assert again.returncode == 0, again.stderr[-2000:]
    assert {retention(client, name, v) for v in versions(client, name, folder)} == {("GOVERNANCE", promoted)}
    with session_scope(ledger) as session:
        assert session.get(Backup, "ACME-kill").locked_until == promoted


def test_up_says_which_mode_the_store_is_in(bucket, s3_endpoint, monkeypatch, tmp_path):
    client, name = bucket
    assert ObjectStorage().immutability_line() == (f"backups: s3://{name}/lifecycle immutable (Object Lock, "
                                                   f"governance, until the schedule's expiry)")
    plain = f"plain-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=plain)
    _use_bucket(monkeypatch, s3_endpoint, plain)
    assert ObjectStorage().immutability_line() == f"backups: s3://{plain}/lifecycle not immutable: the bucket has no Object Lock"
    monkeypatch.setenv("LIFECYCLE_STORAGE_URL", (tmp_path / "objects").as_uri())
    assert ObjectStorage().immutability_line().endswith("not immutable: a folder locks nothing")
