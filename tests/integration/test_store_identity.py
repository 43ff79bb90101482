"""Two installations given one object store: the store names the installation that first wrote there, and every
other installation is refused before it writes anything (blocks.storage._Owned.claim, operations.store_owner).

Installation B is the test's home (its ledger on SQLite or PostgreSQL); installation A is a second home with a
ledger of its own of the same kind, the same customer ids and invoice numbers (two vendors' numbering coincides),
its customers renamed. B closes October, then A closes it pointed at B's store, on a folder and on an S3 bucket
(moto's server): A is refused in one line naming both installations, A mails nothing, B's objects are unchanged.
"""

from __future__ import annotations

import hashlib
import shutil
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
from sqlalchemy import text

from blocks.storage import STORE_MARKER, MARKER_TEXT, ForeignStore, ObjectStorage
from tests.integration.conftest import create_pg_database, drop_pg_database
from tests.support.ports import free_port
from tests.support.scenarios import load_october
from tests.support.servers import s3_server

pytestmark = pytest.mark.prefect


@pytest.fixture(scope="module")
def s3_endpoint():
    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def a_ledger_url(request, ledger_url, tmp_path):
    """Installation A's ledger, of the same kind as B's (the test's own)."""
    if ledger_url.startswith("sqlite"):
        path = tmp_path / "a-ledger.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    admin = request.getfixturevalue("pg_admin")
    url = create_pg_database(admin)
    yield url
    drop_pg_database(admin, url)


class Installations:
    """B (the test's home) and A (a second home), each used in turn as a user's shell would: its own
    LIFECYCLE_HOME and ledger, and the storage URL given."""

    def __init__(self, monkeypatch, b_home: Path, b_url: str, a_home: Path, a_url: str):
        self.monkeypatch = monkeypatch
        self.homes = {"A": (a_home, a_url), "B": (b_home, b_url)}

    def be(self, name: str, storage_url: str) -> None:
        home, url = self.homes[name]
        self.monkeypatch.setenv("LIFECYCLE_HOME", str(home))
        self.monkeypatch.setenv("LIFECYCLE_DATABASE_URL", url)
        self.monkeypatch.setenv("LIFECYCLE_PLATFORM_URL", f"sqlite:///{home / 'platform.db'}")
        self.monkeypatch.setenv("LIFECYCLE_STORAGE_URL", storage_url)

    def installation(self, name: str) -> str:
        from lifecycle_config.databases import engine_for

        with engine_for(self.homes[name][1]).connect() as connection:
            return connection.execute(text("SELECT id FROM installation")).scalar_one()


@pytest.fixture
def two(prefect_server, home, ledger, ledger_url, a_ledger_url, tmp_path, monkeypatch) -> Installations:
    from lifecycle_config.databases import engine_for

    (tmp_path / "b").mkdir()
    load_october(ledger, tmp_path / "b")  # B's data
    a_home = tmp_path / "a-home"
    a_home.mkdir()
    a_ledger = engine_for(a_ledger_url)
    (tmp_path / "a").mkdir()
    load_october(a_ledger, tmp_path / "a")
    with a_ledger.begin() as connection:  # A's customers, under the same ids as B's
        connection.execute(text("UPDATE customers SET name = 'SECRET-OF-A ' || name"))
        # a ledger of its own: not the copy of B's template and its identity (a copied home is one installation)
        connection.execute(text("UPDATE installation SET id = :id"), {"id": str(uuid.uuid4())})
    return Installations(monkeypatch, home, ledger_url, a_home, a_ledger_url)


def objects_of(storage_url: str) -> dict[str, str]:
    store = ObjectStorage(url=storage_url).store()
    found = {}
    for item in store.list(""):
        with store.open(item.key) as handle:
            found[item.key] = hashlib.sha256(handle.read()).hexdigest()
    return found


def refused_line(error: pytest.ExceptionInfo, two: Installations) -> str:
    line = str(error.value)
    assert "\n" not in line
    assert f"belongs to installation {two.installation('B')} (home '{two.homes['B'][0]} on " in line
    assert f"this installation is {two.installation('A')}: give it a store of its own" in line
    return line


def close_b_then_a(two: Installations, storage_url: str) -> dict[str, str]:
    """B closes October on the store, then A on the same store: A is refused, and B's objects are as B left them."""
    from flows.monthly_close import monthly_close

    two.be("B", storage_url)
    monthly_close(month="2026-10")
    b_objects = objects_of(storage_url)
    assert any(key.startswith("invoices/") for key in b_objects) and any(key.startswith("exports/") for key in b_objects)
    two.be("A", storage_url)
    with pytest.raises(ForeignStore) as refused:
        monthly_close(month="2026-10")
    line = refused_line(refused, two)
    assert line.startswith("object storage ") and line.endswith("nothing was written")
    a_outbox = two.homes["A"][0] / "outbox"
    assert not a_outbox.exists() or list(a_outbox.iterdir()) == []  # nothing mailed, B's document least of all
    assert objects_of(storage_url) == b_objects
    return b_objects


def test_a_close_and_an_export_into_another_installations_folder_store_are_refused(two, tmp_path):
    from flows.exports import billable_export
    from lifecycle.downloads import serve_exports

    b_store = two.homes["B"][0] / "objects"
    storage_url = f"file://{b_store}"
    b_objects = close_b_then_a(two, storage_url)
    marker = (b_store / STORE_MARKER).read_text()
    assert f"installation: {two.installation('B')}" in marker

    # A's export into B's store: refused, B's workbook left as it is and still served by B's downloads server
    with pytest.raises(ForeignStore) as refused:
        billable_export(month="2026-10")
    refused_line(refused, two)
    assert objects_of(storage_url) == b_objects
    two.be("B", storage_url)
    [workbook] = [key for key in b_objects if key.startswith("exports/")]
    port = free_port()
    from lifecycle_config.databases import engine_for

    server = serve_exports(b_store, "127.0.0.1", port, engine_for(two.homes["B"][1]))
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/{workbook}") as response:
            assert hashlib.sha256(response.read()).hexdigest() == b_objects[workbook]
        # a workbook replaced by another file of the very same size is not served as B's
        path = b_store / workbook
        original = path.read_bytes()
        path.write_bytes(bytes(reversed(original)))
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/{workbook}")
        assert answer.value.code == 409
    finally:
        server.shutdown()


def test_a_close_into_another_installations_bucket_prefix_is_refused(two, s3_endpoint, monkeypatch):
    from flows.exports import billable_export

    bucket = f"shared-{hashlib.sha256(str(two.homes['A'][0]).encode()).hexdigest()[:8]}"
    for name, value in {"AWS_ENDPOINT_URL": s3_endpoint, "AWS_ACCESS_KEY_ID": "test",
                        "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    storage_url = f"s3://{bucket}/lifecycle"
    b_objects = close_b_then_a(two, storage_url)
    marker = client.get_object(Bucket=bucket, Key=f"lifecycle/{STORE_MARKER}")["Body"].read().decode()
    assert f"installation: {two.installation('B')}" in marker
    assert STORE_MARKER not in b_objects  # the marker is no object of the store's listing
    with pytest.raises(ForeignStore):
        billable_export(month="2026-10")
    assert objects_of(storage_url) == b_objects


def test_a_store_an_older_release_filled_is_adopted_only_by_its_own_installation(two):
    from flows.exports import billable_export
    from flows.monthly_close import monthly_close

    b_store = two.homes["B"][0] / "objects"
    storage_url = f"file://{b_store}"
    two.be("B", storage_url)
    monthly_close(month="2026-10")
    (b_store / STORE_MARKER).write_bytes(MARKER_TEXT)  # as an older release left it: no installation named
    b_objects = objects_of(storage_url)
    two.be("A", storage_url)
    with pytest.raises(ForeignStore) as refused:
        monthly_close(month="2026-10")
    assert str(refused.value).startswith(f"object storage folder {b_store} holds another installation's objects (")
    assert objects_of(storage_url) == b_objects and (b_store / STORE_MARKER).read_bytes() == MARKER_TEXT
    (b_store / STORE_MARKER).unlink()  # its marker deleted: the same
    with pytest.raises(ForeignStore):
        billable_export(month="2026-10")
    assert objects_of(storage_url) == b_objects
    two.be("B", storage_url)  # B's own: adopted at its next write
    billable_export(month="2026-10")
    assert f"installation: {two.installation('B')}" in (b_store / STORE_MARKER).read_text()
