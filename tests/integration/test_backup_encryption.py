"""Backups encrypted per customer, on both ledgers and on a local folder and S3 over HTTP (moto's server): no
customer row is in clear in any stored object; a flipped byte is refused as corrupt; a backup made before
encryption (clear gzip) still restores; a shredded customer's backups cannot be read, wherever a copy sits;
rotations keep every backup restorable; a lost master key is replaced by its escrow copy; a run killed
just after a key is made, or mid-shredding, and run again leaves nothing lost or half done."""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import subprocess
import sys
import uuid
from datetime import date, datetime, timezone

import boto3
import pytest
from sqlalchemy import MetaData, select, text

from blocks.platform import PlatformControl
from blocks.storage import ObjectStorage
from ledger import keys
from ledger.db import session_scope
from ledger.imports import import_file
from ledger.models import Backup
from lifecycle_config import masterkey
from lifecycle_config.databases import engine_for
from operations.backup import backup_customer, snapshot_ledger
from operations.backup_archive import CorruptBackup, canonical_line, fetch_verified
from operations.backup_keys import KeyDestroyed, key_ids, rotate_master
from operations.backup_objects import BackupObjects
from operations.deletion import purge_customer
from tests.support.builders import CUSTOMER_HEADER, customer, platform, write_csv
from tests.support.cli import lifecycle
from tests.support.servers import s3_server

DAY = date(2026, 11, 20)
SECRET_EMAIL = "ACME7@secret-client.example"
SECRET_NAME = "Hélène Véritable"


@pytest.fixture(scope="module")
def s3_endpoint():
    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture(params=["folder", "s3"])
def shop(request, home, ledger, tmp_path, monkeypatch):
    """ACME and BETA with rows on the platform; object storage in a folder or on a versioned S3 bucket."""
    if request.param == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = f"crypt-{uuid.uuid4().hex[:8]}"
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                              aws_secret_access_key="test")
        client.create_bucket(Bucket=bucket)
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        for key, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                           "AWS_DEFAULT_REGION": "us-east-1", "LIFECYCLE_STORAGE_URL": f"s3://{bucket}/lifecycle"}.items():
            monkeypatch.setenv(key, value)
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME"), customer("BETA")]),
                engine=ledger)
    engine = platform(os.environ["LIFECYCLE_PLATFORM_URL"], ["ACME", "BETA"])
    with engine.begin() as connection:
        for tenant, count in (("ACME", 40), ("BETA", 5)):
            connection.execute(text("INSERT INTO users (tenant_id, email, full_name, role, created_at) VALUES "
                                    "(:t, :e, :n, 'investor', '2025-01-02 03:04:05')"),
                               [{"t": tenant, "e": f"{tenant}{n}@secret-client.example", "n": SECRET_NAME}
                                for n in range(count)])
    return engine


def backed_up(customer_id: str, day: date, ledger) -> Backup:
    outcome = backup_customer(customer_id, day, PlatformControl(), ObjectStorage(), engine=ledger)
    assert outcome.status == "good", outcome.error
    with session_scope(ledger) as session:
        return session.get(Backup, outcome.backup_id)


def every_object(store) -> dict[str, bytes]:
    """Every stored object's bytes as the store holds them (on S3 every version too)."""
    found = {item.key: store.open(item.key).read() for item in store.list("")}
    if hasattr(store, "client"):
        for page in store.client.get_paginator("list_object_versions").paginate(Bucket=store.bucket):
            for version in page.get("Versions", []):
                body = store.client.get_object(Bucket=store.bucket, Key=version["Key"], VersionId=version["VersionId"])
                found[f"{version['Key']}@{version['VersionId']}"] = body["Body"].read()
    return found


def restored_rows(backup: Backup, tmp_path, ledger) -> int:
    """The backup read back and checked whole (hashes, authentication); its users' rows, decoded."""
    objects = BackupObjects(ObjectStorage(), customer_id=backup.customer_id)
    folder = tmp_path / f"read-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    paths = fetch_verified(objects, backup.manifest, folder)
    with gzip.open(paths["users"], "rb") as handle:
        return sum(1 for _ in handle)


def test_no_customer_row_is_in_clear_in_any_stored_object_and_each_backup_reads_back(shop, ledger, tmp_path):
    acme, beta = backed_up("ACME", DAY, ledger), backed_up("BETA", DAY, ledger)
    snapshot_ledger(DAY, ObjectStorage(), flow_run_id=None, engine=ledger)
    stored = every_object(ObjectStorage().store())
    assert any("/keys/customers/ACME/" in f"/{key}" for key in stored) and len(stored) >= 10
    for key, data in stored.items():
        for secret in (SECRET_EMAIL.encode(), SECRET_NAME.encode(), b"secret-client", b"ACME0@"):
            assert secret not in data, (key, secret)
        if key.startswith("backups/") or key.startswith("ledger-snapshots/") or "/backups/" in key:
            with pytest.raises(OSError):  # not even a gzip: ciphertext
                gzip.decompress(data)
    assert acme.manifest["encryption"]["key_id"] != beta.manifest["encryption"]["key_id"]
    assert restored_rows(acme, tmp_path, ledger) == 40 and restored_rows(beta, tmp_path, ledger) == 5


def test_a_flipped_byte_in_a_table_or_the_manifest_is_refused_as_corrupt(shop, ledger, tmp_path):
    acme = backed_up("ACME", DAY, ledger)
    store = ObjectStorage().store()
    key = next(copy["key"] for copy in acme.manifest["tables"] if copy["name"] == "users")
    data = bytearray(store.open(key).read())
    data[len(data) // 2] ^= 0x01
    store.put_stream(key, io.BytesIO(bytes(data)))
    with pytest.raises(CorruptBackup) as corrupt:
        restored_rows(acme, tmp_path, ledger)
    assert f"{key} is corrupted or truncated" in str(corrupt.value)
    manifest = bytearray(store.open(acme.manifest_key).read())
    manifest[-3] ^= 0x80
    store.put_stream(acme.manifest_key, io.BytesIO(bytes(manifest)))
    from operations.backup_archive import read_manifest

    with pytest.raises(CorruptBackup) as damaged:
        read_manifest(BackupObjects(ObjectStorage(), customer_id="ACME"), acme.backup_id, acme.manifest_key,
                      acme.manifest)
    assert "its manifest is damaged (chunk 0 fails its authentication)" in str(damaged.value)


def test_a_backup_made_before_encryption_still_restores(shop, ledger, tmp_path):
    """As an older release wrote it: clear gzip objects, a manifest without `encryption`."""
    from operations.restore import restore_customer

    store = ObjectStorage().store()
    folder = keys.backup_folder("ACME", "ACME-20250101")
    users = MetaData()
    users.reflect(bind=shop, only=["users", "operations", "documents"])
    tables = []
    for name in ("users", "operations", "documents"):
        table = users.tables[name]
        with shop.connect() as connection:
            rows = [dict(row) for row in connection.execute(select(table).where(table.c.tenant_id == "ACME")
                                                            .order_by(table.c.id)).mappings()]
        lines = b"".join(canonical_line(row) for row in rows)
        blob = gzip.compress(lines)
        store.put_stream(f"{folder}{name}.jsonl.gz", io.BytesIO(blob))
        import hashlib

        tables.append({"name": name, "rows": len(rows), "bytes": len(blob), "sha256": hashlib.sha256(lines).hexdigest(),
                       "object_sha256": hashlib.sha256(blob).hexdigest(), "key": f"{folder}{name}.jsonl.gz",
                       "columns": [c.name for c in table.columns], "primary_key": ["id"]})
    manifest = {"format": "jsonl.gz/v1", "backup_id": "ACME-20250101", "customer_id": "ACME", "kind": "tenant",
                "created_at": "2025-01-01T01:00:00+00:00", "tenant_column": "tenant_id", "schema_fingerprint": "old",
                "tables": tables}
    store.put_stream(f"{folder}manifest.json", io.BytesIO(json.dumps(manifest).encode()))
    with session_scope(ledger, write=True) as session:
        session.add(Backup(backup_id="ACME-20250101", customer_id="ACME", kind="tenant", status="good",
                           created_at=datetime(2025, 1, 1, 1, tzinfo=timezone.utc), manifest=manifest,
                           manifest_key=f"{folder}manifest.json", rows=40, bytes=sum(t["bytes"] for t in tables)))
    outcome = restore_customer("ACME", "ACME-20250101", "sandbox", "alice", "T-1", platform=PlatformControl(),
                               storage=ObjectStorage(), sandbox_url=f"sqlite:///{tmp_path / 'sandbox.db'}",
                               flow_run_id=None, actor="test", request_key="old-1", engine=ledger)
    assert outcome.rows == {"users": 40, "operations": 0, "documents": 0}
    with engine_for(f"sqlite:///{tmp_path / 'sandbox.db'}").connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM users WHERE email = :e"), {"e": SECRET_EMAIL}) == 1


def test_shredding_makes_every_copy_unreadable_and_says_what_it_destroyed(shop, ledger, tmp_path):
    first, second = backed_up("ACME", DAY, ledger), backed_up("ACME", date(2026, 11, 21), ledger)
    beta = backed_up("BETA", DAY, ledger)
    store = ObjectStorage().store()
    copy = {key: data for key, data in every_object(store).items() if key.startswith(keys.customer_backups("ACME"))}
    deleted = purge_customer("ACME", PlatformControl(), ObjectStorage(), holder="deletion:test", engine=ledger)
    key_id = first.manifest["encryption"]["key_id"]
    assert second.manifest["encryption"]["key_id"] == key_id
    [shredded] = deleted["keys_shredded"]
    assert (shredded["key_id"], shredded["objects_unreadable"]) == (key_id, 8)  # 2 backups: 3 tables + manifest
    assert shredded["versions"] >= 1 and shredded["destroyed_at"]
    assert key_ids(store, "ACME") == [] and not any("keys/customers/ACME/" in key for key in every_object(store))
    for key, data in copy.items():  # a copy kept somewhere (another bucket, a tape): put back, still unreadable
        store.put_stream(key, io.BytesIO(data))
    for backup in (first, second):
        with pytest.raises(KeyDestroyed) as gone:
            restored_rows(backup, tmp_path, ledger)
        assert f"the data key {key_id} of ACME is not in the key store: it was destroyed" in str(gone.value)
    assert restored_rows(beta, tmp_path, ledger) == 5  # another customer's keys untouched


def test_rotations_keep_every_backup_restorable(shop, ledger, tmp_path):
    from lifecycle.cli import keys as keys_cli  # noqa: F401 - the command's module loads

    old = backed_up("ACME", DAY, ledger)
    snapshot = snapshot_ledger(DAY, ObjectStorage(), flow_run_id=None, engine=ledger)
    from operations.backup_keys import create_key

    create_key(ObjectStorage().store(), "ACME")
    new = backed_up("ACME", date(2026, 11, 21), ledger)
    assert old.manifest["encryption"]["key_id"] != new.manifest["encryption"]["key_id"]
    before = masterkey.read_keys()
    fingerprint, rewrapped = rotate_master(ObjectStorage().store())
    after = masterkey.read_keys()
    assert len(after) == 1 and after != before and masterkey.fingerprint(after[0]) == fingerprint
    assert rewrapped == 3  # ACME's two keys and the installation's
    assert restored_rows(old, tmp_path, ledger) == 40 and restored_rows(new, tmp_path, ledger) == 40
    objects = BackupObjects(ObjectStorage())
    assert json.loads(objects.read_bytes(snapshot.manifest_key)) == snapshot.manifest


def test_a_run_killed_after_a_key_is_made_or_mid_rotation_and_run_again_loses_nothing(shop, ledger, home, tmp_path):
    env = {**os.environ}

    def run(code: str, failpoint: str | None = None) -> subprocess.CompletedProcess:
        child = {**env, **({"LIFECYCLE_FAILPOINT": failpoint} if failpoint else {})}
        child.pop("LIFECYCLE_FAILPOINT", None) if not failpoint else None
        return subprocess.run([sys.executable, "-c", code], env=child, capture_output=True, text=True, timeout=120)

    backup = ("from datetime import date; from blocks.platform import PlatformControl; from blocks.storage import "
              "ObjectStorage; from lifecycle_config.databases import engine_for; import os; "
              "from operations.backup import backup_customer; "
              "print(backup_customer('ACME', date(2026, 11, 20), PlatformControl(), ObjectStorage(), "
              "engine=engine_for(os.environ['LIFECYCLE_DATABASE_URL'])).status)")
    killed = run(backup, "keys.data-key-created")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert len(key_ids(ObjectStorage().store(), "ACME")) == 1  # the key was made, no backup yet
    again = run(backup)
    assert again.returncode == 0 and again.stdout.strip() == "good", again.stderr[-2000:]
    assert len(key_ids(ObjectStorage().store(), "ACME")) == 1  # the same key, not a second one
    with session_scope(ledger) as session:
        made = session.get(Backup, "ACME-20261120")
    assert restored_rows(made, tmp_path, ledger) == 40

    rotate = ("from blocks.storage import ObjectStorage; from operations.backup_keys import rotate_master; "
              "print(rotate_master(ObjectStorage().store()))")
    for point in ("keys.master-added", "keys.rewrapped"):
        killed = run(rotate, point)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        assert len(masterkey.read_keys()) == 2  # the new key and the old one, until every data key is rewrapped
        assert restored_rows(made, tmp_path, ledger) == 40
        again = run(rotate)
        assert again.returncode == 0, again.stderr[-2000:]
        assert len(masterkey.read_keys()) == 1
        assert restored_rows(made, tmp_path, ledger) == 40

    purge = ("from blocks.platform import PlatformControl; from blocks.storage import ObjectStorage; import os, json; "
             "from lifecycle_config.databases import engine_for; from operations.deletion import purge_customer; "
             "print(json.dumps(purge_customer('ACME', PlatformControl(), ObjectStorage(), holder='deletion:t', "
             "engine=engine_for(os.environ['LIFECYCLE_DATABASE_URL']))['keys_shredded']))")
    killed = run(purge, "keys.key-destroyed")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert key_ids(ObjectStorage().store(), "ACME") == []  # destroyed before the kill
    again = run(purge)
    assert again.returncode == 0, again.stderr[-2000:]
    [entry] = json.loads(again.stdout)
    assert (entry["key_id"], entry["destroyed_at"]) == (made.manifest["encryption"]["key_id"], None)
    assert not [item for item in ObjectStorage().store().list(keys.customer_backups("ACME"))]


def test_a_lost_master_key_is_replaced_by_its_escrow_copy(shop, ledger, home, tmp_path, monkeypatch):
    acme = backed_up("ACME", DAY, ledger)
    escrow = tmp_path / "safe" / "master.escrow"
    escrow.parent.mkdir()
    done = lifecycle("keys", "export", "--out", str(escrow))
    assert done.returncode == 0, done.stderr
    assert (escrow.stat().st_mode & 0o777) == 0o600 and len(escrow.read_text().splitlines()) == 1
    again = lifecycle("keys", "export", "--out", str(escrow))
    assert again.returncode == 2 and again.stderr.strip() == (
        f"lifecycle: --out {escrow} exists: choose a new file (an escrow copy is never overwritten)")
    (home / "keys" / "master.key").unlink()
    with pytest.raises(masterkey.MasterKeyMissing) as missing:
        restored_rows(acme, tmp_path, ledger)
    assert "give the escrow copy (lifecycle keys export) with --master-key-file or LIFECYCLE_MASTER_KEY_FILE" in str(
        missing.value)
    monkeypatch.setenv("LIFECYCLE_MASTER_KEY_FILE", str(escrow))
    assert restored_rows(acme, tmp_path, ledger) == 40


@pytest.mark.prefect
def test_a_vendor_who_lost_the_machine_restores_a_customer_with_the_escrow_file_only(shop, ledger, home, tmp_path,
                                                                                     prefect_server):
    """`keys export`, then the home's key is lost: `run restore --master-key-file` brings the customer's rows
    back from the bucket; without it, one line naming the option."""
    backed_up("ACME", DAY, ledger)
    escrow = tmp_path / "safe.key"
    done = lifecycle("keys", "export", "--out", str(escrow))
    assert done.returncode == 0, done.stderr
    (home / "keys" / "master.key").unlink()
    with shop.begin() as connection:                                    # the customer's rows are lost too
        connection.execute(text("DELETE FROM users WHERE tenant_id = 'ACME'"))
    restore = [sys.executable, "-m", "lifecycle.cli", "run", "restore", "--customer", "ACME", "--target", "in_place",
               "--requested-by", "alice", "--ticket", "T-1"]
    without = subprocess.run(restore, env=os.environ, capture_output=True, text=True, timeout=300)
    assert without.returncode == 2, without.stderr[-2000:]
    [line] = [line for line in without.stderr.splitlines() if line.startswith("lifecycle: ")]
    assert "--master-key-file" in line and "Traceback" not in without.stderr
    with_it = subprocess.run([*restore, "--master-key-file", str(escrow)], env=os.environ, capture_output=True,
                             text=True, timeout=300)
    assert with_it.returncode == 0, with_it.stderr[-2000:]
    with shop.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM users WHERE tenant_id = 'ACME' AND full_name = :n"),
                                  {"n": SECRET_NAME}).scalar() == 40
    assert not (home / "keys" / "master.key").exists()                  # the escrow was read, never copied home
    missing = subprocess.run([*restore, "--master-key-file", str(tmp_path / "nowhere.key")], env=os.environ,
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"lifecycle: --master-key-file {str(tmp_path / 'nowhere.key')!r}: no such file"


def test_a_ledger_snapshot_is_under_the_installations_key_and_holds_no_customer_value_in_clear(shop, ledger):
    """The ledger's snapshot is encrypted under the installation's (vendor's) data key, never a customer's:
    no customer's name, address, IBAN-like value or amount of the ledger is readable in its objects."""
    acme = backed_up("ACME", DAY, ledger)
    made = snapshot_ledger(DAY, ObjectStorage(), flow_run_id=None, engine=ledger)
    store = ObjectStorage().store()
    assert made.manifest["encryption"]["key_id"] in key_ids(store, None)          # the installation's key
    assert made.manifest["encryption"]["key_id"] not in key_ids(store, "ACME") + key_ids(store, "BETA")
    assert acme.manifest["encryption"]["key_id"] in key_ids(store, "ACME")
    objects = {key: data for key, data in every_object(store).items() if "/ledger-snapshots/" in f"/{key}"}
    assert len(objects) >= 3
    for key, data in objects.items():
        for value in (b"Client ACME", b"acme@example.com", b"Client BETA", b"beta@example.com", b"500.00"):
            assert value not in data, (key, value)
