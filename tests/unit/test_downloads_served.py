"""The downloads server of `lifecycle up` serves finance's workbooks and the invoices' PDFs, and nothing else
of the storage folder: not a customer's backup, not a ledger snapshot, however the path is written (`..`,
its percent-encoded form, a symbolic link placed under exports/). A probe read every tenant's users and the
ledger's installation row through `exports/../backups/...`."""

from __future__ import annotations

import http.client
import os

import pytest

from lifecycle.downloads import serve_exports


#: what the module's ledger wrote in its storage folder: October's workbook and one invoice's document
WORKBOOK = "exports/2026/10/2026-10_billable-interventions.xlsx"


def _shop(tmp_path, monkeypatch):
    """A home whose ledger closed October, stored its invoices' documents and exported its workbook in a storage
    folder of its own; beside them a customer's backup, a ledger snapshot, and a link under exports/ to the
    backup: (the ledger, the folder, the stored document of ACME's invoice)."""
    from blocks.seller import Seller
    from blocks.storage import ObjectStorage
    from operations.export import export_month
    from operations.invoice_documents import issue_documents
    from policy.terms import Terms
    from tests.support.scenarios import october_closed, october_numbers
    from tests.support.sqlite_ledger import prepared_ledger

    ledger = prepared_ledger(tmp_path, monkeypatch, "2026-11-02", october_closed)
    root = tmp_path / "objects"
    storage = ObjectStorage(url=root.as_uri())
    issue_documents(Seller(), Terms(), storage, month="2026-10", actor="test", engine=ledger)
    assert export_month("2026-10", storage, Terms(), flow_run_id=None, engine=ledger).key == WORKBOOK
    (root / "backups/C001/C001-20261206").mkdir(parents=True)
    (root / "backups/C001/C001-20261206/users.jsonl.gz").write_bytes(b"customer data")
    (root / "ledger-snapshots/ledger-20261206").mkdir(parents=True)
    (root / "ledger-snapshots/ledger-20261206/installation.jsonl.gz").write_bytes(b"ledger")
    os.symlink(root / "backups/C001/C001-20261206/users.jsonl.gz", root / "exports/2026/10/linked.xlsx")
    return ledger, root, october_numbers(ledger)["ACME"].document_key


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield _shop(tmp_path_factory.mktemp("shop"), monkeypatch)


@pytest.fixture(scope="module")
def storage(shop):
    """The downloads server on that folder, for the module's tests that only read: one server, not one per
    test (its shutdown() waits out socketserver's half-second poll, after each test)."""
    ledger, root, _ = shop
    server = serve_exports(root, "127.0.0.1", 0, ledger)
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture
def own_storage(tmp_path, monkeypatch):
    """The downloads server on a shop of the test's own, which it may add to: (its port, the folder)."""
    ledger, root, _ = _shop(tmp_path, monkeypatch)
    server = serve_exports(root, "127.0.0.1", 0, ledger)
    yield server.server_address[1], root
    server.shutdown()


def _get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path)  # sent as written: no client-side clean-up of `..`
    response = connection.getresponse()
    return response.status, response.read()


def test_workbooks_and_invoices_are_served(shop, storage):
    _, root, document = shop
    assert _get(storage, f"/{WORKBOOK}") == (200, (root / WORKBOOK).read_bytes())
    assert _get(storage, f"/{document}") == (200, (root / document).read_bytes())


def test_the_listing_names_only_what_is_served_never_a_link_out_of_its_folder(own_storage):
    """A link `exports/pw.xlsx -> /etc/passwd` was listed at /exports/ with its target's size and time."""
    port, root = own_storage
    os.symlink("/etc/passwd", root / "exports/pw.xlsx")
    os.symlink(root / "backups", root / "exports/2026/linked-folder")   # a folder's link: nothing under it either
    status, page = _get(port, "/exports/")
    assert status == 200 and b"2026-10_billable-interventions.xlsx" in page
    assert b"pw.xlsx" not in page and b"linked.xlsx" not in page and b"users.jsonl.gz" not in page


@pytest.mark.parametrize("path", [
    "/exports/../backups/C001/C001-20261206/users.jsonl.gz",
    "/exports/%2e%2e/backups/C001/C001-20261206/users.jsonl.gz",
    "/invoices/../ledger-snapshots/ledger-20261206/installation.jsonl.gz",
    "/exports/2026/../../backups/C001/C001-20261206/users.jsonl.gz",
    "/exports/2026/10/linked.xlsx",                       # a link under exports/ to a backup
    "/backups/C001/C001-20261206/users.jsonl.gz",
    "/exports/../../../../etc/passwd",
])
def test_nothing_outside_exports_and_invoices_is_served_however_the_path_is_written(storage, path):
    status, body = _get(storage, path)
    assert status == 404 and b"customer data" not in body and b"ledger" not in body and b"root:" not in body


@pytest.mark.parametrize("path", ["/exports/%00", "/exports/x%00.xlsx", "/exports/" + "a" * 5000,
                                  "/invoices/" + "b/" * 3000])
def test_a_path_no_filesystem_takes_is_no_export_and_no_traceback(storage, path, capfd):
    """A NUL or a name longer than the filesystem takes printed a traceback per request on up's terminal."""
    assert _get(storage, path)[0] == 404
    assert "Traceback" not in capfd.readouterr().err
