"""One contract for object storage, held by the local folder and by S3 over HTTP (moto's server)."""

from __future__ import annotations

import hashlib
import io
import os
import urllib.request

import boto3
import pytest

from blocks.storage import ObjectStorage, StorageError
from tests.support.servers import s3_server


@pytest.fixture(scope="module")
def s3_endpoint():
    with s3_server() as endpoint:
        yield endpoint


def _client(endpoint):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test")


@pytest.fixture(params=["folder", "s3", "s3-versioned-encrypted"])
def storage(request, tmp_path, monkeypatch):
    monkeypatch.delenv("LIFECYCLE_STORAGE_URL", raising=False)
    if request.param == "folder":
        return ObjectStorage(url=f"file://{tmp_path / 'objects'}")
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"contract-{request.param}-{os.urandom(3).hex()}"
    client = _client(endpoint)
    client.create_bucket(Bucket=bucket)
    options = {}
    if request.param == "s3-versioned-encrypted":
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        options["server_side_encryption"] = "AES256"
    return ObjectStorage(url=f"s3://{bucket}/backups", endpoint_url=endpoint, region="us-east-1",
                         access_key_id="test", secret_access_key="test", multipart_chunk_mb=5, **options)


def test_put_read_list_and_link(storage):
    store = storage.store()
    assert store.put_stream("a/1.bin", io.BytesIO(b"hello")) == 5
    store.put_stream("a/2.bin", io.BytesIO(b"world!"))
    store.put_stream("b/3.bin", io.BytesIO(b""))
    assert store.open("a/1.bin").read() == b"hello"
    assert [(item.key, item.size) for item in store.list("a/")] == [("a/1.bin", 5), ("a/2.bin", 6)]
    assert store.exists("b/3.bin") and not store.exists("b/4.bin")
    with urllib.request.urlopen(store.link("a/2.bin")) as response:
        assert response.read() == b"world!"


def test_a_large_object_streams_in_parts_and_comes_back_identical(storage):
    store = storage.store()
    payload = os.urandom(11 * 1024 * 1024 + 123)  # three 5 MB parts on S3
    assert store.put_stream("big/blob.bin", io.BytesIO(payload)) == len(payload)
    digest = hashlib.sha256()
    with store.open("big/blob.bin") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(payload).hexdigest()


def test_delete_removes_every_version(storage):
    store = storage.store()
    store.put_stream("c/obj", io.BytesIO(b"v1"))
    store.put_stream("c/obj", io.BytesIO(b"v2"))
    store.put_stream("c/objective", io.BytesIO(b"keep me"))
    deleted = store.delete("c/obj")
    assert deleted and all(item.startswith("c/obj") for item in deleted)
    assert not store.exists("c/obj")
    assert store.open("c/objective").read() == b"keep me"
    if storage.url.startswith("s3://"):
        client = store.client
        versions = client.list_object_versions(Bucket=store.bucket, Prefix="backups/c/obj")
        left = [v["Key"] for v in versions.get("Versions", []) + versions.get("DeleteMarkers", [])]
        assert left == ["backups/c/objective"]
    assert store.delete("c/obj") == []


def test_a_missing_object_is_a_clear_error(storage):
    with pytest.raises(StorageError, match="no object 'nothing/here'"):
        storage.store().open("nothing/here").read()


def test_encryption_is_asked_for_when_set(s3_endpoint):
    client = _client(s3_endpoint)
    client.create_bucket(Bucket="sse-check")
    storage = ObjectStorage(url="s3://sse-check", endpoint_url=s3_endpoint, region="us-east-1",
                            access_key_id="test", secret_access_key="test", server_side_encryption="AES256")
    storage.store().put_stream("x", io.BytesIO(b"secret"))
    assert client.head_object(Bucket="sse-check", Key="x")["ServerSideEncryption"] == "AES256"


def test_the_environment_overrides_the_block_for_one_run(tmp_path, monkeypatch):
    monkeypatch.setenv("LIFECYCLE_STORAGE_URL", f"file://{tmp_path / 'override'}")
    storage = ObjectStorage(url=f"file://{tmp_path / 'block'}")
    storage.store().put_stream("k", io.BytesIO(b"1"))
    assert (tmp_path / "override" / "k").exists() and not (tmp_path / "block").exists()


def test_a_key_cannot_escape_the_folder(tmp_path):
    with pytest.raises(StorageError, match="escapes|not a storage key"):
        ObjectStorage(url=f"file://{tmp_path}/objects").store().put_stream("../outside", io.BytesIO(b"x"))


def test_neighbouring_customers_never_share_a_folder(storage):
    """Keys are built from checked ids and end with / at the customer: C1's folder is no prefix of C10's,
    C4's none of C4-sub's, and listing or purging one customer touches no other."""
    from ledger import keys
    from policy.ids import BadId

    store = storage.store()
    for customer_id in ("C1", "C10", "C4", "C4-sub"):
        store.put_stream(keys.backup_folder(customer_id, f"{customer_id}-20261120") + "manifest.json",
                         io.BytesIO(customer_id.encode()))
    assert [item.key for item in store.list(keys.customer_backups("C1"))] == ["backups/C1/C1-20261120/manifest.json"]
    assert [item.key for item in store.list(keys.customer_backups("C4"))] == ["backups/C4/C4-20261120/manifest.json"]
    for item in store.list(keys.customer_backups("C4")):  # a purge of C4
        store.delete(item.key)
    assert sorted(item.key for item in store.list("backups/")) == [
        "backups/C1/C1-20261120/manifest.json", "backups/C10/C10-20261120/manifest.json",
        "backups/C4-sub/C4-sub-20261120/manifest.json"]
    for unsafe in ("C003/../C002", "../x", "C001/../../x", "C4/sub", ".", ""):
        with pytest.raises(BadId):
            keys.customer_backups(unsafe)


def test_the_folder_store_refuses_every_key_that_leaves_its_root(tmp_path):
    store = ObjectStorage(url=f"file://{tmp_path / 'objects'}").store()
    outside = tmp_path / "outside.txt"
    for key in ("../outside.txt", "backups/../../outside.txt", "/etc/passwd", "a/./b", "a\\\\b"):
        with pytest.raises(StorageError):
            store.put_stream(key, io.BytesIO(b"x"))
    assert not outside.exists()
