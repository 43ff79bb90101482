"""Issue 24: one installation's CLI never writes into ANOTHER installation's storage folder. Home C's `keys export
--out $A/objects/exports/c-escrow.key` put C's master key where A's downloads server served it, and home A's `run
export --out $B/objects/exports/2026/11/` put A's workbook at B's own November link. Every option that writes a
file at a path the user gives (`run export --out`, `keys export --out`, `db restore-snapshot --to`) refuses a
path inside any storage folder: one known by the marker a folder store leaves at its root, or, made before
that marker, by its layout (a `keys/` of data keys beside `exports/`, `invoices/`, `backups/`)."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
import typer

from blocks.storage import STORE_MARKER, FolderStore, storage_folder_holding
from operations.backup import snapshot_ledger
from tests.support.backup_shop import backup_shop
from lifecycle_config import escaped
from tests.support.cli import lifecycle_in_process

DAY = date(2026, 11, 20)


def _files(root: Path) -> dict:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def _folders(root: Path) -> list:
    return sorted(path for path in root.rglob("*") if path.is_dir())


@pytest.fixture
def homes(tmp_path, monkeypatch):
    """Home C (this test's: a ledger snapshot taken, so a master key to export) and two other installations'
    storage folders: A's written by its folder store (marked), B's as a store made before the marker holds it
    (no marker; keys/, exports/, invoices/, backups/). Returns (C's snapshot id, A's folder, B's folder)."""
    (tmp_path / "c").mkdir()
    shop = backup_shop(tmp_path / "c", monkeypatch, DAY.isoformat())
    monkeypatch.setenv("LIFECYCLE_STORAGE_URL", shop.objects.as_uri())
    snapshot = snapshot_ledger(DAY, shop.storage, flow_run_id=None, engine=shop.ledger)
    a = tmp_path / "a" / "objects"
    store = FolderStore(a)
    store.put_stream("exports/2026/10/2026-10_billable-interventions.xlsx", io.BytesIO(b"PK A's workbook"))
    store.put_stream("invoices/2026/11/2026-000001.pdf", io.BytesIO(b"%PDF A's invoice"))
    b = tmp_path / "b" / "objects"
    for key, data in {"keys/customers/ACME/key-1.json": b"{}", "backups/ACME/ACME-20261119/manifest.json": b"{}",
                      "exports/2026/10/2026-10_billable-interventions.xlsx": b"PK B's workbook"}.items():
        (b / key).parent.mkdir(parents=True, exist_ok=True)
        (b / key).write_bytes(data)
    (tmp_path / "to-a").symlink_to(a)
    return snapshot.backup_id, a, b


def _another(store: Path) -> str:
    """The refusal's words for a path inside `store`, another installation's storage folder (named by its real
    path)."""
    return (f"is inside {escaped(str(store.resolve()), 4096)}, the storage folder of another lifecycle installation "
            f"(its stored objects, which its downloads server serves as its own): name a file or folder outside "
            f"every storage folder; nothing was written there")


def test_a_folder_store_is_known_by_its_marker_or_by_its_layout_and_a_home_is_none(homes, tmp_path):
    _, a, b = homes
    assert (a / STORE_MARKER).is_file() and b"Write nothing here by hand" in (a / STORE_MARKER).read_bytes()
    assert not (b / STORE_MARKER).exists()
    assert FolderStore(a).list("") and STORE_MARKER not in [item.key for item in FolderStore(a).list("")]
    for path, store in ((a / "exports/c-escrow.key", a), (a / "invoices/2026/12/escrow2.key", a), (a, a),
                        (tmp_path / "to-a" / "exports" / "x.key", a), (b / "exports/2026/11/", b), (b / "new.db", b)):
        assert storage_folder_holding(path) == str(store.resolve()), path
    home = tmp_path / "c" / "home"  # a home's keys/ holds its master key file, and no stored object beside it
    assert (home / "keys" / "master.key").is_file()
    assert storage_folder_holding(home / "escrow.key") is None and storage_folder_holding(tmp_path / "x") is None


@pytest.mark.parametrize("which, name", [("a", "exports/c-escrow.key"), ("a", "invoices/2026/12/escrow2.key"),
                                         ("b", "exports/c-escrow.key"), ("b", "keys/escrow.key"),
                                         ("link", "exports/c-escrow.key")])
def test_keys_export_never_writes_the_master_key_into_another_installations_storage(homes, tmp_path, which, name):
    _, a, b = homes
    root = {"a": a, "b": b, "link": tmp_path / "to-a"}[which]
    before, folders = _files(root), _folders(root)
    out = root / name
    refused = lifecycle_in_process("keys", "export", "--out", str(out))
    assert (refused.returncode, refused.stderr.strip()) == (2, f"lifecycle: --out {escaped(str(out))} "
                                                               f"{_another(root)}")
    assert not out.exists() and _files(root) == before and _folders(root) == folders


def test_a_store_whose_marker_was_deleted_with_workbooks_and_invoices_only_is_known_by_its_layout(homes, tmp_path):
    """probe19a: such a store (never backed up: no keys/) was not recognised, and `keys export --out` from another
    installation wrote its master key under its exports/, served by that installation's downloads server."""
    _, a, _ = homes
    (a / STORE_MARKER).unlink()
    assert sorted(path.name for path in a.iterdir()) == ["exports", "invoices"]
    before, folders = _files(a), _folders(a)
    out = a / "exports" / "2026" / "10" / "escrow.key"
    assert storage_folder_holding(out) == str(a.resolve())
    refused = lifecycle_in_process("keys", "export", "--out", str(out))
    assert (refused.returncode, refused.stderr.strip()) == (2, f"lifecycle: --out {escaped(str(out))} {_another(a)}")
    assert not out.exists() and _files(a) == before and _folders(a) == folders
    lone = tmp_path / "mine"  # one folder of that name alone is anybody's folder
    (lone / "exports").mkdir(parents=True)
    assert storage_folder_holding(lone / "exports" / "x.key") is None


@pytest.mark.parametrize("which", ["a", "b"])
def test_a_snapshot_is_never_restored_into_another_installations_storage(homes, which):
    snapshot, a, b = homes
    root = {"a": a, "b": b}[which]
    before = _files(root)
    target = f"sqlite:///{root / 'restored.db'}"
    refused = lifecycle_in_process("db", "restore-snapshot", snapshot, "--to", target)
    assert (refused.returncode, refused.stderr.strip()) == (
        2, f"lifecycle: --to {escaped(target)} {_another(root)}")
    assert _files(root) == before


@pytest.mark.parametrize("which, name", [("a", "exports/2026/11/"), ("a", "exports/2026/10/"),
                                         ("b", "exports/2026/11/"), ("b", "mine.xlsx"), ("link", "exports/2026/11/")])
def test_run_export_out_never_writes_a_workbook_into_another_installations_storage(homes, tmp_path, capsys,
                                                                                    which, name):
    """Checked before the run (run_checks.out_target), --force or not: nothing made, no folder either."""
    from lifecycle.cli.run_checks import out_target, shown

    _, a, b = homes
    root = {"a": a, "b": b, "link": tmp_path / "to-a"}[which]
    before, folders = _files(root), _folders(root)
    out = Path(f"{root}/{name}")
    for force in (False, True):
        with pytest.raises(typer.Exit) as ended:
            out_target(out, force, "2026-11")
        assert ended.value.exit_code == 2
        assert capsys.readouterr().err == f"lifecycle: --out {shown(out)} {_another(root)}\n"
    assert _files(root) == before and _folders(root) == folders


def test_outside_every_storage_folder_is_still_written(homes, tmp_path):
    """A folder beside the stores, or another home's own folder (its keys/ holds only its master key file)."""
    from lifecycle.cli.run_checks import out_target

    written = lifecycle_in_process("keys", "export", "--out", str(tmp_path / "a" / "c-escrow.key"))
    assert written.returncode == 0, written.stderr
    assert out_target(tmp_path / "a" / "exports-copy/", False, "2026-11") == tmp_path / "a" / "exports-copy"
