"""Probe 17 (D6): a FIFO put where a backup's object or manifest was in the folder store hung `run restore` and
`run verify-backups` for ever (a plain open of a FIFO waits for a writer). Whatever stands at a key and is not a
regular file (a FIFO, a socket, a folder) is refused at once as damaged storage, in one line, on every read path of
the folder store; a restore and a drill then take the backup for corrupt, never wait. A guard alarm turns a hang
back into a failure."""

from __future__ import annotations

import os
import signal
import socket
from contextlib import contextmanager
from datetime import date

import pytest

from blocks.storage import FolderStore, NotAnObject, StoredObject
from ledger.db import session_scope
from ledger.models import Backup
from operations.backup_archive import CorruptBackup
from operations.drill import drill
from operations.restore import restore_customer
from tests.support.backup_shop import backed_up_shop

DAY = date(2026, 11, 20)


@contextmanager
def at_once(seconds: int = 20):
    """The block must end within `seconds`: a read that waits on a FIFO fails the test instead of hanging it."""
    def waited(*_):
        raise TimeoutError(f"still waiting after {seconds} s: a read waits on what stands at the key")

    previous = signal.signal(signal.SIGALRM, waited)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _put_in_place(path, kind: str, keep: list) -> None:
    path.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        here = os.getcwd()
        os.chdir(path.parent)  # a socket's path has at most 107 bytes: bound by its name, from its folder
        try:
            listener.bind(path.name)
        finally:
            os.chdir(here)
        listener.listen()
        keep.append(listener)
    else:
        path.mkdir()


@pytest.mark.parametrize("kind, said", [("fifo", "a FIFO"), ("socket", "a socket"), ("folder", "a folder")])
def test_every_read_of_a_folder_store_refuses_what_is_not_a_file_at_once(tmp_path, kind, said):
    store, keep = FolderStore(tmp_path / "objects"), []
    store.put_stream("backups/ACME/ACME-20261120/users.jsonl.gz", __import__("io").BytesIO(b"rows"))
    _put_in_place(tmp_path / "objects/backups/ACME/ACME-20261120/manifest.json", kind, keep)
    try:
        with at_once():
            with pytest.raises(NotAnObject) as refused:
                store.open("backups/ACME/ACME-20261120/manifest.json")
            [line] = str(refused.value).splitlines()
            assert line == (f"object 'backups/ACME/ACME-20261120/manifest.json' is {said}, not a stored file: it "
                            f"cannot be read (damaged storage; remove it)")
            listed = store.list("backups/ACME/")
            if kind == "folder":  # a folder is a prefix of keys: nothing to list, nothing stored at its name
                assert not store.exists("backups/ACME/ACME-20261120/manifest.json")
                assert listed == [StoredObject("backups/ACME/ACME-20261120/users.jsonl.gz", 4)]
            else:  # listed, so a deletion removes it; asked for, it is damaged, not missing
                with pytest.raises(NotAnObject):
                    store.exists("backups/ACME/ACME-20261120/manifest.json")
                assert listed == [StoredObject("backups/ACME/ACME-20261120/manifest.json", 0),
                                  StoredObject("backups/ACME/ACME-20261120/users.jsonl.gz", 4)]
                assert store.delete("backups/ACME/ACME-20261120/manifest.json") == [
                    "backups/ACME/ACME-20261120/manifest.json"]
                assert not (tmp_path / "objects/backups/ACME/ACME-20261120/manifest.json").exists()
        with store.open("backups/ACME/ACME-20261120/users.jsonl.gz") as handle:  # a file is read as before
            assert handle.read() == b"rows"
    finally:
        for listener in keep:
            listener.close()


@pytest.fixture
def shop(tmp_path, monkeypatch):
    return backed_up_shop(tmp_path, monkeypatch, DAY)


def _fifo_at(shop, backup_id: str, which: str) -> None:
    with session_scope(shop.ledger) as session:
        backup = session.get(Backup, backup_id)
        key = backup.manifest_key if which == "manifest" else backup.manifest["tables"][0]["key"]
    _put_in_place(shop.objects / key, "fifo", [])


@pytest.mark.parametrize("which", ["manifest", "table object"])
def test_a_restore_from_a_backup_with_a_fifo_in_storage_fails_at_once_as_corrupt(shop, which):
    _fifo_at(shop, "ACME-20261120", which)
    with at_once(), pytest.raises(CorruptBackup) as corrupt:
        restore_customer("ACME", None, "sandbox", "alice", "T-1", platform=shop.platform, storage=shop.storage,
                         sandbox_url=shop.sandbox_url, flow_run_id=None, actor="test", request_key="r-1",
                         engine=shop.ledger)
    [line] = str(corrupt.value).splitlines()
    assert "is a FIFO, not a stored file" in line
    assert line.endswith("backup ACME-20261120 is now marked corrupt and will not be chosen again")
    with session_scope(shop.ledger) as session:
        assert session.get(Backup, "ACME-20261120").status == "corrupt"


def test_a_drill_over_a_backup_with_a_fifo_in_storage_marks_it_corrupt_and_goes_on(shop):
    _fifo_at(shop, "BETA-20261120", "manifest")
    with at_once():
        results = {r.backup: r for r in drill(["ACME-20261120", "BETA-20261120"], shop.sandbox_url, shop.platform,
                                              shop.storage, engine=shop.ledger)}
    assert results["ACME-20261120"].ok
    assert not results["BETA-20261120"].ok
    assert results["BETA-20261120"].detail.startswith("CorruptBackup: backup BETA-20261120: its manifest is damaged")
    assert "is a FIFO, not a stored file" in results["BETA-20261120"].detail


def test_a_fifo_in_place_of_a_key_object_is_a_damaged_key_not_a_hang(shop):
    from operations.backup_keys import KeyDestroyed

    (key_object,) = (shop.objects / "keys" / "customers" / "ACME").glob("*.json")
    _put_in_place(key_object, "fifo", [])
    with at_once(), pytest.raises(KeyDestroyed) as damaged:
        restore_customer("ACME", None, "sandbox", "alice", "T-1", platform=shop.platform, storage=shop.storage,
                         sandbox_url=shop.sandbox_url, flow_run_id=None, actor="test", request_key="r-1",
                         engine=shop.ledger)
    assert "is damaged in the key store" in str(damaged.value)
    with session_scope(shop.ledger) as session:
        assert session.get(Backup, "ACME-20261120").status == "good"
