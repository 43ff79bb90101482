"""Backups and restores against SQLite and PostgreSQL platforms, a local folder and S3 over HTTP."""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from contextlib import contextmanager
from datetime import date

import boto3
import pytest
from sqlalchemy import MetaData, func, select, text

from blocks.platform import PlatformControl
from blocks.storage import ObjectStorage
from ledger.db import session_scope
from ledger.imports import import_file
from ledger.locks import CustomerBusy, customer_lock
from ledger.models import AuditEntry, Backup, Intervention, RestoreJob
from lifecycle_config.databases import engine_for
from tests.integration.conftest import create_pg_database, drop_pg_database
from tests.support.builders import CUSTOMER_HEADER, customer, platform, write_csv
from tests.support.locks import joined
from tests.support.servers import s3_server

pytestmark = pytest.mark.prefect


@pytest.fixture(scope="module")
def s3_endpoint():
    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture(params=["sqlite-folder", "postgresql-s3"])
def shop(request, prefect_server, home, ledger, tmp_path, monkeypatch):
    """Two customers with data on a platform database, and object storage; one combination per param."""
    if request.param == "sqlite-folder":
        platform_url = f"sqlite:///{tmp_path / 'platform.db'}"
    else:
        admin = request.getfixturevalue("pg_admin")
        platform_url = create_pg_database(admin, migrate=False)
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = f"backups-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                     aws_secret_access_key="test").create_bucket(Bucket=bucket)
        for key, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                           "AWS_DEFAULT_REGION": "us-east-1", "LIFECYCLE_STORAGE_URL": f"s3://{bucket}/lifecycle"}.items():
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("LIFECYCLE_PLATFORM_URL", platform_url)
    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-11-20")  # the night of the backups below: an id names its day
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME"), customer("BETA")]),
                engine=ledger)
    engine = platform(platform_url, ["ACME", "BETA"])
    with engine.begin() as connection:
        for tenant, count in (("ACME", 1200), ("BETA", 40)):
            connection.execute(text("INSERT INTO users (tenant_id, email, full_name, role, created_at) VALUES "
                                    "(:t, :e, :n, 'investor', '2025-01-02 03:04:05')"),
                               [{"t": tenant, "e": f"{tenant}{n}@example.com", "n": f"Hélène n°{n}"} for n in range(count)])
            connection.execute(text("INSERT INTO operations (tenant_id, title, target_amount, status, opened_on) "
                                    "VALUES (:t, 'Projet Émeraude', 12345.67, 'open', '2026-05-01')"), [{"t": tenant}])
    yield engine
    if request.param != "sqlite-folder":
        engine.dispose()
        drop_pg_database(admin, platform_url)


def tenant_rows(engine, tenant):
    """The customer's rows as typed values (dates as dates, amounts as decimals), table by table."""
    metadata = MetaData()
    metadata.reflect(bind=engine, only=["users", "operations", "documents"])
    with engine.connect() as connection:
        return {name: [tuple(row) for row in connection.execute(
            select(table).where(table.c.tenant_id == tenant).order_by(table.c.id))]
            for name, table in metadata.tables.items()}


def test_backup_then_restore_to_the_sandbox_gives_identical_rows_and_bills_once(shop, ledger, home):
    from flows.backup import nightly_backup
    from flows.restore import restore_backup

    result = nightly_backup(as_of=date(2026, 11, 20))
    assert {b["customer_id"]: b["status"] for b in result["backups"]} == {"ACME": "good", "BETA": "good"}
    assert result["ledger_snapshot"].startswith("ledger-20261120")
    assert {b["status"] for b in nightly_backup(as_of=date(2026, 11, 20))["backups"]} == {"skipped"}
    with session_scope(ledger) as session:
        acme = session.get(Backup, "ACME-20261120")
        assert acme.rows == 1201 and acme.manifest["format"] == "jsonl.gz/v1"
        assert {t["name"]: t["rows"] for t in acme.manifest["tables"]} == {"users": 1200, "operations": 1, "documents": 0}

    state = restore_backup(customer_id="ACME", requested_by="alice", ticket="T-1", return_state=True)
    outcome = state.result()
    sandbox = engine_for(f"sqlite:///{home / 'sandbox.db'}")
    assert tenant_rows(sandbox, "ACME") == tenant_rows(shop, "ACME")
    assert tenant_rows(sandbox, "BETA") == {"users": [], "operations": [], "documents": []}
    with session_scope(ledger) as session:
        billed = session.get(Intervention, outcome["intervention_id"])
        assert (billed.category, billed.source, billed.ticket, billed.engineer) == ("data_recovery", "restore", "T-1", "alice")
        assert billed.minutes >= 1
    # the same flow run again bills nothing more; a second request is a second billed job
    from operations.restore import restore_customer

    again = restore_customer("ACME", None, "sandbox", "alice", "T-1",
                             request_key=f"flow-run:{state.state_details.flow_run_id}",
                             platform=PlatformControl(), storage=ObjectStorage(),
                             sandbox_url=f"sqlite:///{home / 'sandbox.db'}", flow_run_id=None, actor="test")
    assert again.repeated and again.intervention_id == outcome["intervention_id"]
    restore_backup(customer_id="ACME", requested_by="bob", ticket="T-2")
    with session_scope(ledger) as session:
        assert session.scalar(select(func.count()).select_from(Intervention).where(Intervention.source == "restore")) == 2


def test_a_backup_is_labelled_today_another_day_only_forced_with_a_reason(shop, ledger):
    """A backup holds the data of the moment it is taken: `--as-of 2024-02-29` would have labelled today's data
    ACME-20240229 (and a restore of it brought back today's data under an old name); a day ahead or behind is
    refused unless forced with a reason, which the audit log keeps."""
    from flows.backup import nightly_backup
    from tasks.runtime import DateRefused

    for day in (date(2024, 2, 29), date(2026, 11, 19), date(2026, 11, 21)):
        with pytest.raises(DateRefused, match=f"the backup day {day} is (before|after) today \\(2026-11-20\\)"):
            nightly_backup(as_of=day, snapshot_ledger_too=False)
    with session_scope(ledger) as session:
        assert session.scalar(select(func.count()).select_from(Backup)) == 0
    today = nightly_backup(snapshot_ledger_too=False)  # no day given: today's, the day its data is taken
    assert sorted(b["backup_id"] for b in today["backups"]) == ["ACME-20261120", "BETA-20261120"]
    forced = nightly_backup(as_of=date(2025, 12, 10), force_reason="rehearsal of the December restore",
                            snapshot_ledger_too=False)
    assert sorted(b["backup_id"] for b in forced["backups"]) == ["ACME-20251210", "BETA-20251210"]
    with session_scope(ledger) as session:
        [override] = session.scalars(select(AuditEntry).where(AuditEntry.action == "date_check_overridden")).all()
        assert override.after["reason"] == "rehearsal of the December restore"
        assert override.after["problem"].startswith("the backup day 2025-12-10 is before today (2026-11-20)")


def test_a_shard_started_by_hand_checks_its_day_as_the_command_does_and_a_refusal_is_never_retried(shop, ledger):
    """`backup-shard` run from the UI's form: a day after today without a reason, a day before earliest_date even
    with one, or an id that is none is refused in one line, at once and for good: Prefect retries a flow run
    on any Failed while retries are left (the shard has one, 30 s later), and an in-process caller then met
    an unfinished run. The night's own forced day, passed with its reason, backs up."""
    from prefect import get_client

    from flows.backup import backup_shard
    from tasks.runtime import Refusal

    refused = {(date(2026, 11, 21), None): "the backup day 2026-11-21 is after today (2026-11-20)",
               (date(1999, 12, 31), "rehearsal"): "as_of 1999-12-31 is before 2000-01-01: a date here lies from "
                                                   "2000-01-01 (earliest_date) to 400 days after today (horizon_days)"}
    for (day, reason), line in refused.items():
        state = backup_shard(customer_ids=["ACME"], as_of=day, force_reason=reason, return_state=True)
        assert state.is_failed() and state.name == "Refused" and line in state.message
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(state.state_details.flow_run_id)
        assert run.run_count == 1 and run.state.is_final() and run.state.name == "Refused"  # not AwaitingRetry
        with pytest.raises(Refusal, match="before 2000-01-01|after today"):
            backup_shard(customer_ids=["ACME"], as_of=day, force_reason=reason)
    with pytest.raises(Refusal, match="customer_ids '../ACME': not an id"):
        backup_shard(customer_ids=["../ACME"], as_of=date(2026, 11, 20))
    from flows.backup import verify_backups, verify_shard

    with pytest.raises(Refusal, match="backup_ids '../x': not an id"):  # its sibling, the drill's shard
        verify_shard(backup_ids=["../x"])
    with pytest.raises(Refusal, match="sample: -3 is out of range: a whole number from 1 to 100000"):
        verify_backups(sample=-3)
    # ids that name no customer, or one in another case, backed up NOPE-20261120 and c001 beside C001: refused
    # as `run backup --customer` refuses them, before the day's check (which writes an override) and any backup
    unknown = {("NOPE",): "customer_ids: unknown customer 'NOPE' (lifecycle show customers lists them); nothing was "
                          "done",
               ("ACME", "acme", "beta"): "customer_ids: unknown customer 'acme': the ledger has 'ACME' (ids are "
                                         "compared exactly: write 'ACME') (and 1 more); nothing was done",
               ("ACME", "BETA", "ACME"): "customer_ids: 'ACME' is given twice: name each once"}
    for ids, line in unknown.items():
        state = backup_shard(customer_ids=list(ids), as_of=date(2026, 11, 19), force_reason="rehearsal",
                             return_state=True)
        assert state.name == "Refused" and state.message == line
    state = verify_shard(backup_ids=["ACME-20261119"], return_state=True)
    assert state.name == "Refused" and state.message == ("backup_ids: unknown backup 'ACME-20261119' (lifecycle show "
                                                         "backups lists them); nothing was done")
    with session_scope(ledger) as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "date_check_overridden")) == 0
    with session_scope(ledger) as session:
        assert session.scalar(select(func.count()).select_from(Backup)) == 0
    forced = backup_shard(customer_ids=["ACME", "BETA"], as_of=date(2026, 11, 19), force_reason="the night's own day")
    assert forced == {"day": "2026-11-19", "customers": 2, "failed": 0}
    with session_scope(ledger) as session:
        assert sorted(session.scalars(select(Backup.backup_id))) == ["ACME-20261119", "BETA-20261119"]
        [override] = session.scalars(select(AuditEntry).where(AuditEntry.action == "date_check_overridden")).all()
        assert override.after["reason"] == "the night's own day" and override.after["run"] == "backup-shard"


def test_an_in_place_restore_takes_a_safety_backup_and_touches_only_that_customer(shop, ledger):
    from flows.backup import nightly_backup
    from flows.restore import restore_backup

    nightly_backup(as_of=date(2026, 11, 20), snapshot_ledger_too=False)
    before_acme, before_beta = tenant_rows(shop, "ACME"), tenant_rows(shop, "BETA")
    with shop.begin() as connection:  # the customer breaks its data, and BETA carries on working
        connection.execute(text("DELETE FROM users WHERE tenant_id = 'ACME' AND id % 3 = 0"))
        connection.execute(text("UPDATE operations SET title = 'oops' WHERE tenant_id = 'ACME'"))
        connection.execute(text("INSERT INTO users (tenant_id, email) VALUES ('BETA', 'new@beta.example')"))
    beta_now = tenant_rows(shop, "BETA")
    result = restore_backup(customer_id="ACME", requested_by="alice", ticket="T-9", target="in_place")
    assert tenant_rows(shop, "ACME") == before_acme
    assert tenant_rows(shop, "BETA") == beta_now != before_beta
    with session_scope(ledger) as session:
        safety = session.get(Backup, result["safety_backup_id"])
        assert safety.kind == "safety" and safety.status == "good"
        assert {t["name"]: t["rows"] for t in safety.manifest["tables"]}["users"] == 800


def test_an_in_place_restore_over_a_changed_schema_is_refused_unless_ops_name_the_rename(shop, ledger):
    from flows.backup import nightly_backup, verify_backups
    from flows.restore import restore_backup
    from ledger.models import AuditEntry
    from operations.restore import RestoreRefused

    nightly_backup(as_of=date(2026, 11, 20), snapshot_ledger_too=False)
    with shop.begin() as connection:  # the platform renames a column, and the customer's data moves on
        connection.execute(text("ALTER TABLE operations RENAME COLUMN title TO headline"))
        connection.execute(text("UPDATE operations SET headline = 'Projet Saphir' WHERE tenant_id = 'ACME'"))
        connection.execute(text("DELETE FROM users WHERE tenant_id = 'ACME' AND id % 2 = 0"))
    before = tenant_rows(shop, "ACME")
    with pytest.raises(RestoreRefused) as refused:
        restore_backup(customer_id="ACME", requested_by="alice", ticket="T-7", target="in_place")
    message = str(refused.value)
    assert "operations.title: in the backup, missing on the platform" in message
    assert "operations.headline: new on the platform" in message and "--map-columns" in message
    assert tenant_rows(shop, "ACME") == before                      # nothing changed
    with session_scope(ledger) as session:
        assert session.scalar(select(func.count()).select_from(Intervention)) == 0      # nothing billed
        assert session.scalar(select(func.count()).select_from(Backup).where(Backup.kind == "safety")) == 0
    # the drill does not depend on the live schema: the sandbox is built from the backup's
    assert all(result["ok"] for result in verify_backups(sample=5)["verified"])

    # ops mean it: the backup's titles go into the renamed column, and the audit says so
    restore_backup(customer_id="ACME", requested_by="alice", ticket="T-7", target="in_place",
                   map_columns="operations.title=headline")
    with shop.connect() as connection:
        assert connection.scalar(text("SELECT headline FROM operations WHERE tenant_id = 'ACME'")) == "Projet Émeraude"
        assert connection.scalar(text("SELECT count(*) FROM users WHERE tenant_id = 'ACME'")) == 1200
    with session_scope(ledger) as session:
        restored = session.scalars(select(AuditEntry).where(AuditEntry.action == "backup_restored")).one()
        assert restored.after["map_columns"] == {"operations": {"title": "headline"}}

    # a new NOT NULL column: its live values would be replaced by the default, so it is refused too
    with shop.begin() as connection:
        connection.execute(text("ALTER TABLE users ADD COLUMN region VARCHAR(8) DEFAULT 'eu' NOT NULL"))
    with pytest.raises(RestoreRefused, match=r"users\.region: new on the platform"):
        restore_backup(customer_id="ACME", requested_by="alice", ticket="T-8", target="in_place",
                       map_columns="operations.title=headline")
    with pytest.raises(RestoreRefused, match="the backup has no such column"):
        restore_backup(customer_id="ACME", requested_by="alice", ticket="T-8", target="in_place",
                       map_columns="operations.name=headline")


def test_a_corrupted_or_truncated_backup_is_refused_marked_corrupt_and_replaced(shop, ledger, home, monkeypatch):
    from flows.backup import nightly_backup
    from flows.restore import restore_backup
    from operations.backup_archive import CorruptBackup
    from operations.restore import RestoreRefused

    nightly_backup(as_of=date(2026, 11, 20), snapshot_ledger_too=False)
    store = ObjectStorage().store()
    key = "backups/ACME/ACME-20261120/users.jsonl.gz"
    with store.open(key) as handle:
        data = handle.read()
    store.put_stream(key, __import__("io").BytesIO(data[: len(data) // 2]))  # truncated
    with shop.begin() as connection:
        connection.execute(text("DELETE FROM users WHERE tenant_id = 'ACME'"))
    with pytest.raises(CorruptBackup, match="users.jsonl.gz is corrupted or truncated.*now marked corrupt"):
        restore_backup(customer_id="ACME", requested_by="a", ticket="T-1", target="in_place")
    assert tenant_rows(shop, "ACME")["users"] == []          # nothing was written
    with session_scope(ledger) as session:
        assert session.get(Backup, "ACME-20261120").status == "corrupt"
    with pytest.raises(RestoreRefused, match="no good backup"):  # never chosen again
        restore_backup(customer_id="ACME", requested_by="a", ticket="T-1")

    # the next night takes a fresh backup; one byte flipped in it is caught by its checksum
    with shop.begin() as connection:
        connection.execute(text("INSERT INTO users (tenant_id, email) VALUES ('ACME', 'back@acme.example')"))
    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-11-21")
    nightly_backup(as_of=date(2026, 11, 21), snapshot_ledger_too=False)
    key = "backups/ACME/ACME-20261121/users.jsonl.gz"
    with store.open(key) as handle:
        flipped = bytearray(handle.read())
    flipped[len(flipped) // 2] ^= 0xFF                      # same size, one byte changed
    store.put_stream(key, __import__("io").BytesIO(bytes(flipped)))
    with pytest.raises(CorruptBackup, match=r"users.jsonl.gz is corrupted or truncated \(chunk \d+ fails its authentication\)"):
        restore_backup(customer_id="ACME", requested_by="a", ticket="T-1")
    with session_scope(ledger) as session:
        assert session.scalar(select(func.count()).select_from(Intervention)) == 0  # a refused restore bills nothing
        assert {job.status for job in session.scalars(select(RestoreJob))} == {"failed"}
        assert session.get(Backup, "ACME-20261121").status == "corrupt"


def test_the_restore_drill_verifies_good_backups_and_names_a_bad_one(shop, ledger):
    from flows.backup import BackupsFailed, nightly_backup, verify_backups

    nightly_backup(as_of=date(2026, 11, 20), snapshot_ledger_too=False)
    assert all(r["ok"] for r in verify_backups(sample=5)["verified"])
    with session_scope(ledger, write=True) as session:
        backup = session.get(Backup, "BETA-20261120")
        assert backup.verified_at is not None
        manifest = json.loads(json.dumps(backup.manifest))
        manifest["tables"][-1]["sha256"] = "0" * 64          # the manifest now disagrees with the data
        backup.manifest = manifest
        backup.verified_at = None
    store = ObjectStorage().store()
    store.put_stream(backup.manifest_key, __import__("io").BytesIO(json.dumps(manifest, indent=1, sort_keys=True).encode()))
    with pytest.raises(BackupsFailed, match="BETA-20261120"):
        verify_backups(sample=5)
    with session_scope(ledger) as session:
        assert session.get(Backup, "BETA-20261120").status == "corrupt"
        assert session.get(Backup, "ACME-20261120").status == "good"
    # the next nightly run takes a fresh backup of BETA (same day: the corrupt one is not kept as done)
    again = nightly_backup(as_of=date(2026, 11, 20), snapshot_ledger_too=False)
    assert {b["customer_id"]: b["status"] for b in again["backups"]} == {"ACME": "skipped", "BETA": "good"}


def test_the_drill_leaves_evidence_an_auditor_can_read(shop, ledger, prefect_server):
    """Each backup drilled: what was restored, the hashes before and after decryption, the data key, the
    sandbox, who and when; in the audit log (`show drills`) and the run's artifact. A failed verification
    says what differed."""
    import httpx

    from flows.backup import BackupsFailed, nightly_backup, verify_backups
    from ledger import views

    nightly_backup(as_of=date(2026, 11, 20), snapshot_ledger_too=False)
    verify_backups(sample=5)
    with session_scope(ledger) as session:
        drilled = {row["backup_id"]: row for row in views.drills(session)}
        manifest = session.get(Backup, "ACME-20261120").manifest
    acme = drilled["ACME-20261120"]
    assert (acme["customer_id"], acme["day"], acme["tier"], acme["outcome"]) == (
        "ACME", "2026-11-20", "latest, daily, weekly, monthly", "verified")
    assert acme["tables"] == "documents 0, operations 1, users 1200"
    assert acme["data_key"] == manifest["encryption"]["key_id"] and acme["data_key"].startswith("dk-")
    assert acme["ran_by"].startswith("lifecycle run by ") and acme["sandbox"].startswith("sqlite:///")
    assert acme["at"].endswith("+01:00")                               # Paris time in November
    for table in acme["evidence"]["tables"]:
        copy = next(c for c in manifest["tables"] if c["name"] == table["table"])
        assert table["object_sha256"] == copy["object_sha256"]
        assert table["sha256_in_manifest"] == table["sha256_read_back"] == copy["sha256"]
        assert table["rows_in_manifest"] == table["rows_read_back"] == copy["rows"] and table["equal"]
    [artifact] = httpx.post(f"{prefect_server}/artifacts/filter", json={
        "artifacts": {"key": {"any_": ["verify-backups"]}}, "sort": "CREATED_DESC", "limit": 1}).json()
    users = next(t for t in acme["evidence"]["tables"] if t["table"] == "users")
    assert "## ACME-20261120 (verified)" in artifact["data"]
    assert f"- data key: {acme['data_key']}" in artifact["data"]
    assert (f"| users | 1200 | 1200 | {users['object_sha256']} | {users['sha256_in_manifest']} | "
            f"{users['sha256_read_back']} | yes |") in artifact["data"]

    with session_scope(ledger, write=True) as session:          # the manifest now disagrees with BETA's users
        backup = session.get(Backup, "BETA-20261120")
        changed = json.loads(json.dumps(backup.manifest))
        users_copy = next(c for c in changed["tables"] if c["name"] == "users")
        users_copy["rows"] = 41
        backup.manifest, backup.verified_at = changed, None
    ObjectStorage().store().put_stream(backup.manifest_key, __import__("io").BytesIO(
        json.dumps(changed, indent=1, sort_keys=True).encode()))           # its stored copy says the same
    with pytest.raises(BackupsFailed, match="BETA-20261120"):
        verify_backups(sample=5)
    with session_scope(ledger) as session:
        beta = [row for row in views.drills(session) if row["backup_id"] == "BETA-20261120"][-1]
    assert beta["outcome"] == "FAILED"
    # what differed: found while loading the decrypted rows, before any table was read back
    assert "users does not match its manifest (40 rows read, 41 in the manifest; content hash matches)" in beta["detail"]


@contextmanager
def cutting_proxy(target_port: int, cut_after: int):
    """A TCP proxy to the S3 server that drops any connection once the client sent `cut_after` bytes."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    stop = threading.Event()

    def pipe(source, sink, limit):
        sent = 0
        try:
            while chunk := source.recv(65536):
                sent += len(chunk)
                if limit is not None and sent > limit:
                    break
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                continue
            upstream = socket.create_connection(("127.0.0.1", target_port))
            threading.Thread(target=pipe, args=(client, upstream, cut_after), daemon=True).start()
            threading.Thread(target=pipe, args=(upstream, client, None), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        joined(thread, timeout=10)
        listener.close()


def test_a_connection_cut_mid_upload_leaves_no_backup_marked_good(prefect_server, home, ledger, tmp_path, s3_endpoint,
                                                                  monkeypatch):
    from operations.backup import backup_customer

    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME")]), engine=ledger)
    engine = platform(os.environ["LIFECYCLE_PLATFORM_URL"], ["ACME"])
    with engine.begin() as connection:  # incompressible rows: the object is larger than the cut
        connection.execute(text("INSERT INTO users (tenant_id, email) VALUES ('ACME', :e)"),
                           [{"e": os.urandom(48).hex()} for _ in range(3000)])
    bucket = f"cut-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="t",
                 aws_secret_access_key="t").create_bucket(Bucket=bucket)
    with cutting_proxy(int(s3_endpoint.rsplit(":", 1)[1]), cut_after=60_000) as port:
        storage = ObjectStorage(url=f"s3://{bucket}", endpoint_url=f"http://127.0.0.1:{port}", region="us-east-1",
                                access_key_id="t", secret_access_key="t")
        outcome = backup_customer("ACME", date(2026, 11, 20), PlatformControl(), storage)
    assert outcome.status == "failed"
    with session_scope(ledger) as session:
        record = session.get(Backup, "ACME-20261120")
        assert record.status == "failed" and record.manifest is None and record.error
    listing = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="t",
                           aws_secret_access_key="t").list_objects_v2(Bucket=bucket)
    assert not [o["Key"] for o in listing.get("Contents", []) if o["Key"].endswith("manifest.json")]


def test_a_backup_waits_for_a_restore_of_the_same_customer_and_gives_up_clearly(home, ledger):
    with customer_lock("ACME", "restore:ticket-7", engine=ledger):
        with pytest.raises(CustomerBusy, match="customer ACME is busy: restore:ticket-7 holds its data"):
            with customer_lock("ACME", "backup", wait_seconds=1.5, engine=ledger):
                pass
        with customer_lock("BETA", "backup", wait_seconds=1, engine=ledger):
            pass  # another customer is not blocked
    with customer_lock("ACME", "backup", wait_seconds=1, engine=ledger):
        pass  # released


def test_a_lock_whose_holder_is_gone_is_taken_over_at_once_and_said_so(home, ledger):
    from datetime import datetime, timedelta, timezone

    from ledger.models import AuditEntry, CustomerLock

    long_ago = datetime.now(timezone.utc) - timedelta(minutes=10)
    with session_scope(ledger, write=True) as session:  # a worker on another machine died holding it
        session.add(CustomerLock(customer_id="ACME", holder="tenant-backup:run-1", acquired_at=long_ago,
                                 heartbeat_at=long_ago, host="worker-7", pid=4242, flow_run_id=None))
        session.add(CustomerLock(customer_id="BETA", holder="restore:run-2", acquired_at=datetime.now(timezone.utc),
                                 heartbeat_at=datetime.now(timezone.utc), host="worker-7", pid=4243))
    with customer_lock("ACME", "tenant-backup:run-3", wait_seconds=0.5, engine=ledger):
        pass
    with pytest.raises(CustomerBusy, match="restore:run-2 holds its data"):  # that one still beats
        with customer_lock("BETA", "tenant-backup:run-3", wait_seconds=1, engine=ledger):
            pass
    with session_scope(ledger) as session:
        taken = session.scalars(select(AuditEntry).where(AuditEntry.action == "lock_taken_over")).one()
        assert taken.before["holder"] == "tenant-backup:run-1" and "has not beaten since" in taken.after["because"]


def test_a_backup_killed_mid_way_leaves_no_stuck_lock_no_running_row_and_no_temporary_file(shop, ledger, home,
                                                                                            prefect_server):
    import signal
    import subprocess
    import sys

    from flows.backup import nightly_backup
    from ledger.models import AuditEntry, CustomerLock
    from operations.backup import settle_abandoned_backups

    killed = subprocess.run([sys.executable, "-m", "lifecycle.cli", "run", "backup", "--customer", "ACME",
                             "--as-of", "2026-11-20"], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PREFECT_API_URL": prefect_server,
                                 "LIFECYCLE_FAILPOINT": "backup.table-uploaded"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    with session_scope(ledger) as session:   # kill -9: no `finally` ran
        assert session.get(CustomerLock, "ACME").pid is not None
        assert session.get(Backup, "ACME-20261120").status == "running"
    def scratch() -> list:
        return list((home / "tmp").iterdir()) if (home / "tmp").exists() else []

    # the rows went from the database to storage without a dump on local disk: nothing left behind there
    assert scratch() == []

    assert settle_abandoned_backups() == ["ACME-20261120"]
    with session_scope(ledger) as session:
        abandoned = session.get(Backup, "ACME-20261120")
        assert abandoned.status == "failed" and abandoned.error.startswith("abandoned: the run")
    result = nightly_backup(as_of=date(2026, 11, 20), snapshot_ledger_too=False)
    assert {b["customer_id"]: b["status"] for b in result["backups"]} == {"ACME": "good", "BETA": "good"}
    assert scratch() == []                                            # nor by the next run
    with session_scope(ledger) as session:
        assert session.scalar(select(func.count()).select_from(CustomerLock)) == 0
        taken = session.scalars(select(AuditEntry).where(AuditEntry.action == "lock_taken_over")).one()
        assert "is dead" in taken.after["because"] and taken.before["customer"] == "ACME"
    sandbox_check = nightly_backup(as_of=date(2026, 11, 20), snapshot_ledger_too=False)
    assert {b["status"] for b in sandbox_check["backups"]} == {"skipped"}


def test_the_ledger_snapshot_restores_into_a_new_database(shop, ledger, tmp_path):
    from flows.backup import nightly_backup
    from operations.restore import restore_ledger_snapshot

    result = nightly_backup(as_of=date(2026, 11, 20))
    snapshot_id = result["ledger_snapshot"].split(":")[0]
    target = f"sqlite:///{tmp_path / 'restored-ledger.db'}"
    loaded = restore_ledger_snapshot(snapshot_id, target, ObjectStorage(), engine=ledger)
    assert loaded["customers"] == 2 and loaded["audit_log"] >= 2
    restored = engine_for(target)
    with restored.connect() as connection:
        assert connection.execute(text("SELECT name FROM customers ORDER BY customer_id")).scalars().all() == [
            "Client ACME", "Client BETA"]
    with pytest.raises(ValueError, match="not empty"):
        restore_ledger_snapshot(snapshot_id, target, ObjectStorage(), engine=ledger)
    # a live database of something else (the platform's tenants, no `customers` table) is refused as it is:
    # no ledger table is created in it, no row loaded
    import sqlite3

    live = tmp_path / "another-live.db"
    with sqlite3.connect(live) as platform:
        platform.execute("CREATE TABLE tenants (tenant_id TEXT PRIMARY KEY, name TEXT)")
        platform.execute("INSERT INTO tenants VALUES ('ACME', 'Client ACME')")
    with pytest.raises(ValueError) as refused:
        restore_ledger_snapshot(snapshot_id, f"sqlite:///{live}", ObjectStorage(), engine=ledger)
    assert str(refused.value) == ("the target database is not empty (1 table(s): tenants): restore a snapshot only "
                                  "into a new, empty database; nothing was written")
    with sqlite3.connect(live) as platform:
        assert platform.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall() == [("tenants",)]
    # an in-memory database would vanish with the command: refused in one line, not a database error
    for memory in ("sqlite://", "sqlite:///:memory:"):
        with pytest.raises(ValueError, match="is an in-memory database, gone when this command ends"):
            restore_ledger_snapshot(snapshot_id, memory, ObjectStorage(), engine=ledger)
