"""The master key as a KMS key (moto's server, on the S3 store's own endpoint), on both ledgers: backups are
restorable with their data keys wrapped by KMS and no key file is made; a rotation moves key-file-wrapped
data keys under the KMS key; `keys export` says the escrow is KMS's own; a KMS that is down, or a key id it
does not know, is one line."""

from __future__ import annotations

import json
import os
import socket
import uuid

import boto3
import pytest
from sqlalchemy import text

from blocks.storage import ObjectStorage
from ledger import keys
from ledger.imports import import_file
from operations.backup_keys import key_ids
from tests.integration.test_backup_encryption import DAY, SECRET_NAME, backed_up, restored_rows
from tests.support.builders import CUSTOMER_HEADER, customer, platform, write_csv
from tests.support.cli import lifecycle
from tests.support.servers import s3_server


@pytest.fixture(scope="module")
def endpoint():
    with s3_server() as url:
        yield url


@pytest.fixture
def shop(endpoint, home, ledger, tmp_path, monkeypatch):
    """ACME with 40 users on the platform, backups on a moto S3 bucket, and a KMS key on the same endpoint."""
    bucket = f"kms-{uuid.uuid4().hex[:8]}"
    credentials = {"endpoint_url": endpoint, "region_name": "us-east-1", "aws_access_key_id": "test",
                   "aws_secret_access_key": "test"}
    boto3.client("s3", **credentials).create_bucket(Bucket=bucket)
    key_id = boto3.client("kms", **credentials).create_key(Description="lifecycle master")["KeyMetadata"]["KeyId"]
    for name, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                        "AWS_DEFAULT_REGION": "us-east-1", "LIFECYCLE_STORAGE_URL": f"s3://{bucket}/lifecycle"}.items():
        monkeypatch.setenv(name, value)
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME")]), engine=ledger)
    engine = platform(os.environ["LIFECYCLE_PLATFORM_URL"], ["ACME"])
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO users (tenant_id, email, full_name, role, created_at) VALUES "
                                "(:t, :e, :n, 'investor', '2025-01-02 03:04:05')"),
                           [{"t": "ACME", "e": f"ACME{n}@secret-client.example", "n": SECRET_NAME} for n in range(40)])
    return key_id


def cli(*arguments, **env):
    """`lifecycle keys ...` through the CLI's entry point, in this process (tests/support/cli.py)."""
    return lifecycle(*arguments, env={**os.environ, **env})


def stored_key(customer_id: str) -> dict:
    store = ObjectStorage().store()
    [key_id] = key_ids(store, customer_id)
    with store.open(keys.data_key_object(customer_id, key_id)) as handle:
        return json.loads(handle.read())


def test_backups_are_restorable_with_a_kms_master_key_and_no_key_file_is_made(shop, ledger, home, tmp_path,
                                                                               monkeypatch):
    monkeypatch.setenv("LIFECYCLE_MASTER_KEY_KMS_ID", shop)
    acme = backed_up("ACME", DAY, ledger)
    assert stored_key("ACME")["master"] == f"kms:{shop}"
    assert not (home / "keys" / "master.key").exists()
    assert restored_rows(acme, tmp_path, ledger) == 40
    exported = cli("keys", "export", "--out", str(tmp_path / "escrow.key"))
    assert exported.returncode == 2 and not (tmp_path / "escrow.key").exists()
    assert exported.stderr.strip() == (
        f"lifecycle: the master key is the KMS key {shop}: its escrow is the KMS key's own (its key policy and "
        f"deletion waiting period), it never leaves KMS; nothing was written to --out")


def test_a_rotation_moves_key_file_wrapped_data_keys_under_the_kms_key(shop, ledger, home, tmp_path, monkeypatch):
    acme = backed_up("ACME", DAY, ledger)                       # under the key file
    assert stored_key("ACME")["master"] != f"kms:{shop}"
    rotated = cli("keys", "rotate-master", LIFECYCLE_MASTER_KEY_KMS_ID=shop)
    assert rotated.returncode == 0, rotated.stderr
    assert rotated.stdout.startswith(f"the KMS key {shop} wraps every data key (1 rewrapped)")
    assert stored_key("ACME")["master"] == f"kms:{shop}"
    (home / "keys" / "master.key").unlink()                     # no longer needed
    monkeypatch.setenv("LIFECYCLE_MASTER_KEY_KMS_ID", shop)
    assert restored_rows(acme, tmp_path, ledger) == 40
    assert cli("keys", "rotate-master").stdout.startswith(f"the KMS key {shop} wraps every data key (0 rewrapped)")


def test_a_kms_that_is_down_or_a_wrong_key_id_is_one_line(shop, ledger):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    down = cli("keys", "rotate", "--customer", "ACME", LIFECYCLE_MASTER_KEY_KMS_ID=shop, AWS_ENDPOINT_URL=dead)
    assert down.returncode == 1, down.stderr
    [line] = down.stderr.strip().splitlines()
    assert line.startswith(f"lifecycle: the master key's KMS at {dead} could not Encrypt with key {shop}: ")
    wrong = cli("keys", "rotate", "--customer", "ACME", LIFECYCLE_MASTER_KEY_KMS_ID="no-such-key")
    assert wrong.returncode == 2, wrong.stderr
    [line] = wrong.stderr.strip().splitlines()
    assert line.startswith("lifecycle: the master key's KMS key no-such-key refused Encrypt (NotFoundException: ")
    assert line.endswith("check LIFECYCLE_MASTER_KEY_KMS_ID or the storage block's master_key_kms_id")
