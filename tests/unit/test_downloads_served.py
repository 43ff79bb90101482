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


@pytest.fixture
def two_homes(tmp_path, monkeypatch):
    """Homes A and B, each with its ledger and storage folder, and B's downloads server: (B's port, A's folder,
    B's folder, B's ACME document)."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, a, _ = _shop(tmp_path / "a", monkeypatch)
    ledger, b, document = _shop(tmp_path / "b", monkeypatch)
    server = serve_exports(b, "127.0.0.1", 0, ledger)
    yield server.server_address[1], a, b, document
    server.shutdown()


def _files(root) -> dict:
    return {path: path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file() and not path.is_symlink()}


def test_a_file_another_installation_put_under_exports_or_invoices_is_neither_served_nor_listed(two_homes):
    """Issue 24: home C's `keys export --out $B/objects/exports/c-escrow.key` (its master key) and home A's `run
    export --out $B/objects/exports/2026/11/` (A's customers) were served by B's downloads server, and listed at
    /exports/, as B's own. B serves only the names its ledger records: B exported October, not November."""
    port, a, b, _ = two_homes
    strays = {"exports/c-escrow.key": b"master key escrow of C",
              "invoices/2026/12/escrow2.key": b"master key escrow of C",
              "exports/2026/11/2026-11_billable-interventions.xlsx": (a / WORKBOOK).read_bytes(),
              "invoices/2026/11/2026-999999.pdf": b"%PDF another installation's invoice"}
    for key, data in strays.items():
        (b / key).parent.mkdir(parents=True, exist_ok=True)
        (b / key).write_bytes(data)
    ours = _files(b)
    for key, data in strays.items():
        status, body = _get(port, f"/{key}")
        assert status == 404 and data not in body, key
    status, page = _get(port, "/exports/")
    assert status == 200 and b"2026-10_billable-interventions.xlsx" in page
    assert b"c-escrow" not in page and b"2026-11_billable-interventions" not in page
    assert _get(port, f"/{WORKBOOK}") == (200, (b / WORKBOOK).read_bytes())
    assert _files(b) == ours  # nothing of B's changed by serving


def test_a_recorded_name_whose_file_was_replaced_is_said_not_ours_never_served(two_homes):
    """B's own October workbook and ACME's invoice document replaced by other bytes (another installation's
    `--out --force`, a hand): one clear answer, not the file. A deposit again (`-r1`) the ledger never made
    is no document either."""
    port, _, b, document = two_homes
    (b / WORKBOOK).write_bytes(b"PK another installation's workbook")
    (b / document).write_bytes(b"%PDF another installation's invoice")
    again = document.removesuffix(".pdf") + "-r1.pdf"
    (b / again).write_bytes(b"%PDF a deposit again never made")
    for key, kind in ((WORKBOOK, b"workbook"), (document, b"document")):
        status, body = _get(port, f"/{key}")
        assert status == 409 and b"not the " + kind + b" this installation wrote" in body, key
        assert b"another installation" not in body
    status, body = _get(port, f"/{again}")
    assert status == 404 and b"never made" not in body
    status, page = _get(port, "/exports/")
    assert status == 200 and b"2026-10_billable-interventions.xlsx" not in page
