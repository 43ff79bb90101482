"""`lifecycle keys` and the master key as a user meets them, on a SQLite ledger and a folder store: the escrow
copy is one line, private, never overwritten; a ledger snapshot whose home lost its master key is refused in
one line, then restored with `--master-key-file`; a customer's key rotated gives its next backup a new key."""

from __future__ import annotations

import subprocess
from datetime import date

from ledger.db import session_scope
from ledger.models import Backup
from operations.backup import backup_customer, snapshot_ledger
from tests.support.backup_shop import backup_shop
from tests.support.cli import lifecycle_in_process

DAY = date(2026, 11, 20)


def lifecycle(*args: str) -> subprocess.CompletedProcess:
    """The command as the user types it, run in this process (what it says and does, not a process's startup)."""
    return lifecycle_in_process(*args)


def test_escrow_then_a_snapshot_restored_with_it_when_the_homes_key_is_lost(tmp_path, monkeypatch):
    shop = backup_shop(tmp_path, monkeypatch, DAY.isoformat())
    monkeypatch.setenv("LIFECYCLE_STORAGE_URL", shop.objects.as_uri())
    nothing = lifecycle("keys", "export", "--out", str(tmp_path / "early.key"))
    assert (nothing.returncode, nothing.stderr.strip()) == (2, f"lifecycle: no master key at "
                                                                f"{tmp_path / 'home' / 'keys' / 'master.key'} yet (it is "
                                                                f"made by the first backup): nothing to export")
    snapshot = snapshot_ledger(DAY, shop.storage, flow_run_id=None, engine=shop.ledger)
    escrow = tmp_path / "escrow.key"
    done = lifecycle("keys", "export", "--out", str(escrow))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("master key ") and (escrow.stat().st_mode & 0o777) == 0o600
    assert escrow.read_text() == (tmp_path / "home" / "keys" / "master.key").read_text()

    (tmp_path / "home" / "keys" / "master.key").unlink()
    refused = lifecycle("db", "restore-snapshot", snapshot.backup_id, "--to", f"sqlite:///{tmp_path / 'new1.db'}")
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "no master key at" in refused.stderr and "--master-key-file or LIFECYCLE_MASTER_KEY_FILE" in refused.stderr
    restored = lifecycle("db", "restore-snapshot", snapshot.backup_id, "--to", f"sqlite:///{tmp_path / 'new2.db'}",
                         "--master-key-file", str(escrow))
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.startswith("restored ")
    assert not (tmp_path / "home" / "keys" / "master.key").exists()  # reading never makes a key


def test_a_customers_key_rotated_gives_its_next_backup_a_new_key(tmp_path, monkeypatch):
    shop = backup_shop(tmp_path, monkeypatch, DAY.isoformat())
    monkeypatch.setenv("LIFECYCLE_STORAGE_URL", shop.objects.as_uri())
    assert backup_customer("ACME", DAY, shop.platform, shop.storage, engine=shop.ledger).status == "good"
    rotated = lifecycle("keys", "rotate", "--customer", "ACME")
    assert rotated.returncode == 0, rotated.stderr
    assert backup_customer("ACME", date(2026, 11, 21), shop.platform, shop.storage, engine=shop.ledger).status == "good"
    with session_scope(shop.ledger) as session:
        first, second = (session.get(Backup, backup_id).manifest["encryption"]["key_id"]
                         for backup_id in ("ACME-20261120", "ACME-20261121"))
    assert first != second and rotated.stdout.strip() == (f"customer ACME: new backups use data key {second}; older "
                                                          f"ones keep theirs")
    unknown = lifecycle("keys", "rotate", "--customer", "NOPE")
    assert (unknown.returncode, unknown.stderr.strip()) == (
        2, "lifecycle: --customer 'NOPE': unknown customer (lifecycle show customers lists them)")


def test_another_installations_master_key_never_wraps_a_key_here_nor_is_rotated(tmp_path, monkeypatch):
    """LIFECYCLE_MASTER_KEY_FILE naming another installation's key: `keys rotate` wrapped the customer's new data
    key under it (the next backups unreadable with this installation's own key), and `rotate-master` wrote a
    new key into that other installation's file before it failed."""
    shop = backup_shop(tmp_path, monkeypatch, DAY.isoformat())
    monkeypatch.setenv("LIFECYCLE_STORAGE_URL", shop.objects.as_uri())
    assert backup_customer("ACME", DAY, shop.platform, shop.storage, engine=shop.ledger).status == "good"
    keys_before = sorted(path.name for path in (shop.objects / "keys").rglob("*.json"))
    other = tmp_path / "other-installation.key"
    other.write_text("kVYR/eYsIgv3KlwSn70HHPe3OHNw8rMSc5HV1E16ivo=\n")
    other.chmod(0o600)
    monkeypatch.setenv("LIFECYCLE_MASTER_KEY_FILE", str(other))
    for command in (("keys", "rotate", "--customer", "ACME"), ("keys", "rotate-master")):
        refused = lifecycle(*command)
        assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert f"which {other} does not hold: that file is another installation's master key" in refused.stderr
    assert other.read_text() == "kVYR/eYsIgv3KlwSn70HHPe3OHNw8rMSc5HV1E16ivo=\n"
    assert sorted(path.name for path in (shop.objects / "keys").rglob("*.json")) == keys_before
    monkeypatch.delenv("LIFECYCLE_MASTER_KEY_FILE")
    assert lifecycle("keys", "rotate", "--customer", "ACME").returncode == 0  # its own key still works


def test_a_damaged_master_key_file_is_named_by_its_own_variable(tmp_path, monkeypatch):
    """The master key file's faults were said as the credentials key file's: "(LIFECYCLE_CREDENTIALS_KEY_FILE
    unset) ...; nothing was sealed", sending the user to another file."""
    backup_shop(tmp_path, monkeypatch, DAY.isoformat())
    master = tmp_path / "home" / "keys" / "master.key"
    master.parent.mkdir(parents=True, exist_ok=True)
    master.write_text("kVYR/eYsIgv3KlwSn70HHPe3OHNw8rMSc5HV1E16ivo=\n")
    master.chmod(0o644)
    refused = lifecycle("keys", "export", "--out", str(tmp_path / "escrow.key"))
    assert (refused.returncode, refused.stderr.strip()) == (
        2, f"lifecycle: the key file {master} (LIFECYCLE_MASTER_KEY_FILE unset) is readable by others than its owner "
           f"(mode 644): `chmod 600 {master}`; no data key was wrapped or unwrapped")


def test_a_snapshot_restore_with_a_wrong_master_key_leaves_the_target_empty(tmp_path, monkeypatch):
    """It said "nothing was restored" but had made the ledger's tables in --to: the same command with the
    right key was then refused, the target "not empty"."""
    shop = backup_shop(tmp_path, monkeypatch, DAY.isoformat())
    monkeypatch.setenv("LIFECYCLE_STORAGE_URL", shop.objects.as_uri())
    snapshot = snapshot_ledger(DAY, shop.storage, flow_run_id=None, engine=shop.ledger)
    other = tmp_path / "other-installation.key"
    other.write_text("kVYR/eYsIgv3KlwSn70HHPe3OHNw8rMSc5HV1E16ivo=\n")
    other.chmod(0o600)
    target = f"sqlite:///{tmp_path / 'new.db'}"
    wrong = lifecycle("db", "restore-snapshot", snapshot.backup_id, "--to", target, "--master-key-file", str(other))
    assert wrong.returncode == 2 and "nothing was restored" in wrong.stderr, wrong.stderr
    assert not (tmp_path / "new.db").exists()  # not even a 0-byte file: nothing is left after a failure
    right = lifecycle("db", "restore-snapshot", snapshot.backup_id, "--to", target)
    assert right.returncode == 0 and right.stdout.startswith("restored "), right.stderr


def test_an_escrow_path_that_cannot_be_made_is_said_as_every_out_says_it(tmp_path, monkeypatch):
    """It gave the system's bare words: `--out .../x: No such file or directory`, `Not a directory`."""
    shop = backup_shop(tmp_path, monkeypatch, DAY.isoformat())
    monkeypatch.setenv("LIFECYCLE_STORAGE_URL", shop.objects.as_uri())
    snapshot_ledger(DAY, shop.storage, flow_run_id=None, engine=shop.ledger)   # makes the master key
    (tmp_path / "notes.txt").write_text("x")
    from lifecycle_config import escaped

    missing = lifecycle("keys", "export", "--out", str(tmp_path / "nowhere" / "escrow.key"))
    assert (missing.returncode, missing.stderr.strip()) == (
        2, f"lifecycle: --out {escaped(str(tmp_path / 'nowhere' / 'escrow.key'))}: its folder "
           f"{escaped(str(tmp_path / 'nowhere'))} does not exist: make it first, or name a file in a folder that exists")
    under = lifecycle("keys", "export", "--out", str(tmp_path / "notes.txt" / "escrow.key"))
    assert (under.returncode, under.stderr.strip()) == (
        2, f"lifecycle: --out {escaped(str(tmp_path / 'notes.txt' / 'escrow.key'))} cannot be made: "
           f"{escaped(str(tmp_path / 'notes.txt'))} is a file, not a folder")


def test_a_failed_snapshot_restore_leaves_no_file_behind(tmp_path, monkeypatch):
    """A failed `db restore-snapshot` left a 0-byte --to file (the check that the target is empty made it): the
    home's master key lost, the snapshot gone from storage, a wrong key file: nothing is left after any failure;
    a file that was there before (an empty one the user made) stays."""
    shop = backup_shop(tmp_path, monkeypatch, DAY.isoformat())
    monkeypatch.setenv("LIFECYCLE_STORAGE_URL", shop.objects.as_uri())
    snapshot = snapshot_ledger(DAY, shop.storage, flow_run_id=None, engine=shop.ledger)
    master = tmp_path / "home" / "keys" / "master.key"
    kept = master.read_bytes()
    master.unlink()
    no_key = lifecycle("db", "restore-snapshot", snapshot.backup_id, "--to", f"sqlite:///{tmp_path / 'a.db'}")
    assert no_key.returncode == 2 and "no master key at" in no_key.stderr, no_key.stderr
    master.write_bytes(kept)
    master.chmod(0o600)
    before = tmp_path / "made-before.db"
    before.write_bytes(b"")
    still = lifecycle("db", "restore-snapshot", snapshot.backup_id, "--to", f"sqlite:///{before}",
                      "--master-key-file", str(tmp_path / "missing.key"))
    assert still.returncode == 2
    (shop.objects / snapshot.manifest_key).unlink()  # the snapshot's manifest gone from storage
    gone = lifecycle("db", "restore-snapshot", snapshot.backup_id, "--to", f"sqlite:///{tmp_path / 'b.db'}")
    assert gone.returncode != 0 and "gone from storage" in gone.stderr, gone.stderr
    empty_before = lifecycle("db", "restore-snapshot", snapshot.backup_id, "--to", f"sqlite:///{before}")
    assert empty_before.returncode != 0
    assert not [path.name for path in tmp_path.glob("[ab].db*")]
    assert before.read_bytes() == b""  # the user's own file stays, as it was


def test_a_key_command_given_another_store_than_the_backups_refuses_and_drops_no_master_key(tmp_path, monkeypatch):
    """Probe 14: with the backups in the store the storage block names and no server to read it from, `keys
    rotate-master` worked on the environment's store (LIFECYCLE_STORAGE_URL, else the home's objects): it
    rewrapped that store's keys, then dropped the old master key, and every backup's data key in the real store
    was left wrapped by a key nobody held. A store that holds none of the data keys of the ledger's backups is
    refused before anything is written, by `rotate-master` and `rotate` alike."""
    shop = backup_shop(tmp_path, monkeypatch, DAY.isoformat())
    monkeypatch.setenv("LIFECYCLE_STORAGE_URL", shop.objects.as_uri())
    assert backup_customer("ACME", DAY, shop.platform, shop.storage, engine=shop.ledger).status == "good"
    master = tmp_path / "home" / "keys" / "master.key"
    held = master.read_text()
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("LIFECYCLE_STORAGE_URL", elsewhere.as_uri())
    with session_scope(shop.ledger) as session:
        key_id = session.get(Backup, "ACME-20261120").manifest["encryption"]["key_id"]
    for command in (("keys", "rotate-master"), ("keys", "rotate", "--customer", "BETA")):
        refused = lifecycle(*command)
        assert (refused.returncode, refused.stderr.strip()) == (
            2, f"lifecycle: folder {elsewhere} holds none of the data keys the ledger's backups were made under "
               f"({key_id} of ACME): it is not the storage the backups are in; the storage block names it: start "
               f"the server of `lifecycle up` (or set PREFECT_API_URL to this installation's server, or "
               f"LIFECYCLE_STORAGE_URL to the backups' storage) and run this again; nothing was changed"), command
    assert master.read_text() == held and not list(elsewhere.rglob("*.json"))
    monkeypatch.setenv("LIFECYCLE_STORAGE_URL", shop.objects.as_uri())
    rotated = lifecycle("keys", "rotate-master")
    assert rotated.returncode == 0 and "(1 rewrapped)" in rotated.stdout, rotated.stderr


def test_a_rotation_while_another_runs_is_refused_and_changes_nothing(tmp_path, monkeypatch):
    """Probe 14: two `keys rotate-master` at once each wrote a new key into the file over the other's and rewrapped
    keys under it; the one that ended last dropped every other key, leaving the keys the other had rewrapped
    wrapped by a key nobody held. One rotation holds the key file's lock; another is refused in one line."""
    import fcntl

    shop = backup_shop(tmp_path, monkeypatch, DAY.isoformat())
    monkeypatch.setenv("LIFECYCLE_STORAGE_URL", shop.objects.as_uri())
    assert backup_customer("ACME", DAY, shop.platform, shop.storage, engine=shop.ledger).status == "good"
    master = tmp_path / "home" / "keys" / "master.key"
    held, objects = master.read_text(), {path: path.read_bytes() for path in (shop.objects / "keys").rglob("*.json")}
    with open(master.with_name("master.key.rotating"), "a") as running:  # the other rotation, at work
        fcntl.flock(running, fcntl.LOCK_EX | fcntl.LOCK_NB)
        refused = lifecycle("keys", "rotate-master")
    assert (refused.returncode, refused.stderr.strip()) == (
        1, f"lifecycle: another `lifecycle keys rotate-master` is rotating {master} now (it holds {master}.rotating): "
           f"let it end, then run this again if it did not finish; nothing was changed")
    assert master.read_text() == held
    assert {path: path.read_bytes() for path in (shop.objects / "keys").rglob("*.json")} == objects
    done = lifecycle("keys", "rotate-master")  # the lock freed: the rotation runs
    assert done.returncode == 0 and "(1 rewrapped)" in done.stdout, done.stderr


def test_a_data_key_wrapped_while_the_master_key_rotates_is_readable_under_the_new_one(tmp_path, monkeypatch):
    """Probe 15: a backup that read the master key just before `keys rotate-master` wrote the new one stored its
    data key after the rotation's last pass: wrapped by the old key, which the rotation then dropped from the
    file, so every backup made with that key was unreadable. Here the backup pauses between reading the master
    key and storing its data key (a slow store), and the rotation runs meanwhile."""
    import threading

    from operations.backup_keys import create_key, unwrap

    shop = backup_shop(tmp_path, monkeypatch, DAY.isoformat())
    monkeypatch.setenv("LIFECYCLE_STORAGE_URL", shop.objects.as_uri())
    assert backup_customer("ACME", DAY, shop.platform, shop.storage, engine=shop.ledger).status == "good"
    read = tmp_path / "crossed.log"
    monkeypatch.setenv("LIFECYCLE_FAILPOINT_LOG", str(read))
    monkeypatch.setenv("LIFECYCLE_FAILPOINT_PAUSE", "keys.master-read=2")
    store = shop.storage.store()
    made = {}
    backup = threading.Thread(target=lambda: made.update(key=create_key(store, "ACME")))
    backup.start()
    while not (read.exists() and "keys.master-read" in read.read_text()):  # the old master key is read
        backup.join(0.05)
    rotated = lifecycle("keys", "rotate-master")
    backup.join(60)
    assert rotated.returncode == 0, rotated.stderr
    assert len((tmp_path / "home" / "keys" / "master.key").read_text().split()) == 1  # the old key dropped
    assert unwrap(store, "ACME", made["key"].key_id) == made["key"].key


def test_a_data_key_read_while_the_master_key_rotates_is_unwrapped(tmp_path, monkeypatch):
    """Its sibling on the reading side: a backup or restore that read a key object just before the rotation
    rewrapped it, then the key file just after the rotation dropped the old key, said the data key was wrapped
    by a key the file does not hold (and sent the user to the escrow copy), though nothing was lost."""
    from operations.backup_keys import current_key

    shop = backup_shop(tmp_path, monkeypatch, DAY.isoformat())
    monkeypatch.setenv("LIFECYCLE_STORAGE_URL", shop.objects.as_uri())
    assert backup_customer("ACME", DAY, shop.platform, shop.storage, engine=shop.ledger).status == "good"
    store = shop.storage.store()
    expected = current_key(store, "ACME")
    reader, got, failed = _reader_paused_after_reading_the_record(store, expected.key_id, tmp_path, monkeypatch)
    rotated = lifecycle("keys", "rotate-master")
    reader.join(60)
    assert rotated.returncode == 0 and "(1 rewrapped)" in rotated.stdout, rotated.stderr
    assert failed == {} and got["key"] == expected.key


def test_a_master_key_file_where_no_lock_can_be_made_still_wraps_new_keys(tmp_path, monkeypatch):
    """A secret mounted read-only (LIFECYCLE_MASTER_KEY_FILE): the rotation's lock beside it cannot be made, and no
    rotation can rewrite the file there either; a backup's new data key is wrapped as before. (The lock is kept
    from being made by a folder under its name: a read-only folder stops no one when the tests run as root.)"""
    from operations.backup_keys import create_key, unwrap

    shop = backup_shop(tmp_path, monkeypatch, DAY.isoformat())
    monkeypatch.setenv("LIFECYCLE_STORAGE_URL", shop.objects.as_uri())
    assert backup_customer("ACME", DAY, shop.platform, shop.storage, engine=shop.ledger).status == "good"
    lock = tmp_path / "home" / "keys" / "master.key.wrapping"
    lock.unlink(missing_ok=True)
    lock.mkdir()  # no lock file can be opened there
    store = shop.storage.store()
    made = create_key(store, "ACME")
    assert unwrap(store, "ACME", made.key_id) == made.key
    held = (tmp_path / "home" / "keys" / "master.key").read_text()
    refused = lifecycle("keys", "rotate-master")  # a rotation needs the lock: it never runs without it
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "takes no lock file" in refused.stderr and "nothing was changed" in refused.stderr
    assert (tmp_path / "home" / "keys" / "master.key").read_text() == held


def test_a_data_key_read_while_the_installation_moves_to_a_kms_master_key_is_unwrapped_by_kms(tmp_path, monkeypatch):
    """A reader read a key object still wrapped by the key file; meanwhile `keys rotate-master` moved every data key
    under the KMS key (moto's KMS on loopback) and the home's key file was taken away (KMS is the master key now).
    The reader's second look found the KMS-wrapped record but only looked for a file key, and sent the user to an
    escrow copy though nothing was lost: it now unwraps the record it read again, by KMS."""
    import boto3

    from blocks.master_kms import KmsMaster
    from operations.backup_keys import current_key, rotate_to_kms
    from tests.support.servers import s3_server

    shop = backup_shop(tmp_path, monkeypatch, DAY.isoformat())
    monkeypatch.setenv("LIFECYCLE_STORAGE_URL", shop.objects.as_uri())
    assert backup_customer("ACME", DAY, shop.platform, shop.storage, engine=shop.ledger).status == "good"
    store = shop.storage.store()
    expected = current_key(store, "ACME")
    with s3_server() as endpoint:
        kms = boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                           aws_secret_access_key="test")
        store.master_kms = KmsMaster(kms, kms.create_key()["KeyMetadata"]["KeyId"], endpoint)
        reader, got, failed = _reader_paused_after_reading_the_record(store, expected.key_id, tmp_path, monkeypatch)
        assert rotate_to_kms(store)[1] == 1
        (tmp_path / "home" / "keys" / "master.key").rename(tmp_path / "master.key.retired")
        reader.join(60)
    assert failed == {} and got["key"] == expected.key


def _reader_paused_after_reading_the_record(store, key_id: str, tmp_path, monkeypatch):
    """A reader of ACME's data key (a backup or restore) in a thread of its own, held for 2 s once it has read the
    key object's wrapping (failpoint keys.record-read): what it got and what it met, filled when it ends."""
    import threading

    from operations.backup_keys import unwrap

    read = tmp_path / "crossed.log"
    monkeypatch.setenv("LIFECYCLE_FAILPOINT_LOG", str(read))
    monkeypatch.setenv("LIFECYCLE_FAILPOINT_PAUSE", "keys.record-read=2")
    got, failed = {}, {}

    def restore():
        try:
            got["key"] = unwrap(store, "ACME", key_id)
        except Exception as error:  # noqa: BLE001 - what the reader met, asserted by the tests
            failed["error"] = error

    reader = threading.Thread(target=restore)
    reader.start()
    while not (read.exists() and "keys.record-read" in read.read_text()):  # the old wrapping is read
        reader.join(0.05)
    monkeypatch.delenv("LIFECYCLE_FAILPOINT_PAUSE")
    return reader, got, failed


def test_a_master_key_file_that_is_missing_or_no_key_leaves_no_lock_file_beside_it(tmp_path, monkeypatch):
    """Issue 24 (L9): LIFECYCLE_MASTER_KEY_FILE naming a path that is not there, in a folder that is not there, or a
    file that is not this installation's key: `keys rotate`, `keys rotate-master` (and a backup's new data key)
    refused it, but had first made the locks `<name>.wrapping` and `<name>.rotating` beside it, and the folders
    up to it, in a place the user never meant. A failed key read leaves nothing behind."""
    from operations.backup_keys import create_key

    shop = backup_shop(tmp_path, monkeypatch, DAY.isoformat())
    monkeypatch.setenv("LIFECYCLE_STORAGE_URL", shop.objects.as_uri())
    assert backup_customer("ACME", DAY, shop.platform, shop.storage, engine=shop.ledger).status == "good"
    keys_before = {path: path.read_bytes() for path in (shop.objects / "keys").rglob("*.json")}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "not-a-key.txt").write_text("hello\n")
    (elsewhere / "not-a-key.txt").chmod(0o600)
    (elsewhere / "other.key").write_text("kVYR/eYsIgv3KlwSn70HHPe3OHNw8rMSc5HV1E16ivo=\n")
    (elsewhere / "other.key").chmod(0o600)
    before = sorted(elsewhere.iterdir())
    for named in (elsewhere / "typo" / "master.key", elsewhere / "missing.key", elsewhere / "not-a-key.txt",
                  elsewhere / "other.key"):
        monkeypatch.setenv("LIFECYCLE_MASTER_KEY_FILE", str(named))
        for command in (("keys", "rotate", "--customer", "ACME"), ("keys", "rotate-master")):
            refused = lifecycle(*command)
            assert refused.returncode in (1, 2) and len(refused.stderr.strip().splitlines()) == 1, (named, refused.stderr)
            assert sorted(elsewhere.iterdir()) == before, (named, command, sorted(elsewhere.iterdir()))
        try:
            create_key(shop.storage.store(), "ACME")  # a backup's new data key, under that file
        except Exception:  # noqa: BLE001 - refused, as the commands above: what it leaves is checked
            pass
        else:
            raise AssertionError(f"a data key was wrapped under {named}")
        assert sorted(elsewhere.iterdir()) == before, (named, sorted(elsewhere.iterdir()))
    assert {path: path.read_bytes() for path in (shop.objects / "keys").rglob("*.json")} == keys_before


def test_a_rotation_kept_waiting_by_backups_says_what_it_waits_for_and_gives_up_with_nothing_changed(tmp_path,
                                                                                                    monkeypatch):
    """Issue 24 (L8): `keys rotate-master` waited silently, for ever, while backups held the wrapping lock
    (`master.key.wrapping`, shared while they wrap a data key). It says once what it waits for, gives up after
    --wait seconds in one line with the key file and every key object as they were, and runs once they end."""
    import fcntl
    import sys
    import threading
    import time

    shop = backup_shop(tmp_path, monkeypatch, DAY.isoformat())
    monkeypatch.setenv("LIFECYCLE_STORAGE_URL", shop.objects.as_uri())
    assert backup_customer("ACME", DAY, shop.platform, shop.storage, engine=shop.ledger).status == "good"
    master = tmp_path / "home" / "keys" / "master.key"
    lock = master.with_name("master.key.wrapping")
    held, objects = master.read_text(), {path: path.read_bytes() for path in (shop.objects / "keys").rglob("*.json")}
    with open(lock, "a") as backup:  # a backup wrapping a data key (a stuck store)
        fcntl.flock(backup, fcntl.LOCK_SH)
        gave_up = lifecycle("keys", "rotate-master", "--wait", "1")
    assert gave_up.returncode == 1, gave_up.stderr
    assert gave_up.stderr.splitlines() == [
        f"waiting for backups wrapping data keys to finish (they hold {lock} shared): at most 1 s (--wait)",
        f"lifecycle: backups were still wrapping data keys after 1 s (they hold {lock}): the rotation gave up before "
        f"writing anything; nothing was changed; run it again once those backups end, or give a longer --wait"]
    assert master.read_text() == held
    assert {path: path.read_bytes() for path in (shop.objects / "keys").rglob("*.json")} == objects
    backup = open(lock, "a")  # noqa: SIM115 - closed by the thread below, as a backup ending
    fcntl.flock(backup, fcntl.LOCK_SH)
    returned = threading.Event()

    def backup_ending_once_the_rotation_waits() -> None:
        # the backup ends once the rotation has said it waits (a 1 s timer ended it before a loaded machine's
        # rotation reached the lock: it then never waited); the command's stderr is sys.stderr while it runs here
        while not returned.is_set():
            if "waiting for backups wrapping data keys" in getattr(sys.stderr, "getvalue", str)():
                break
            time.sleep(0.05)
        backup.close()

    ending = threading.Thread(target=backup_ending_once_the_rotation_waits)
    ending.start()
    waited = lifecycle("keys", "rotate-master", "--wait", "30")
    returned.set()
    ending.join()
    assert waited.returncode == 0 and "(1 rewrapped)" in waited.stdout, waited.stderr
    assert waited.stderr.count("waiting for backups wrapping data keys") == 1
    assert len(master.read_text().split()) == 1 and master.read_text() != held


def test_an_escrow_copy_or_a_restored_snapshot_is_never_written_inside_the_storage_folder(tmp_path, monkeypatch):
    """Issue 24, the siblings of `run export --out`: `keys export --out` wrote the master key into the storage
    folder, beside the data keys it wraps (a leaked bucket then holds both), and `db restore-snapshot --to
    sqlite:///<storage>/...` made a database among the stored objects. Both refused in one line, nothing made."""
    from lifecycle_config import escaped

    shop = backup_shop(tmp_path, monkeypatch, DAY.isoformat())
    monkeypatch.setenv("LIFECYCLE_STORAGE_URL", shop.objects.as_uri())
    snapshot = snapshot_ledger(DAY, shop.storage, flow_run_id=None, engine=shop.ledger)
    (tmp_path / "to-objects").symlink_to(shop.objects)
    before = sorted(shop.objects.rglob("*"))
    inside = (f"is inside the storage folder {escaped(str(shop.objects), 4096)} (where the installation keeps its stored "
              f"objects: workbooks, backups, keys): name a file or folder outside it; nothing was written there")
    for out in (shop.objects / "escrow.key", tmp_path / "to-objects" / "keys" / "escrow.key"):
        refused = lifecycle("keys", "export", "--out", str(out))
        assert (refused.returncode, refused.stderr.strip()) == (2, f"lifecycle: --out {escaped(str(out))} {inside}")
    for target in (shop.objects / "restored.db", tmp_path / "to-objects" / "restored.db"):
        refused = lifecycle("db", "restore-snapshot", snapshot.backup_id, "--to", f"sqlite:///{target}")
        assert (refused.returncode, refused.stderr.strip()) == (
            2, f"lifecycle: --to {escaped(f'sqlite:///{target}')} {inside}")
    assert sorted(shop.objects.rglob("*")) == before
    assert lifecycle("keys", "export", "--out", str(tmp_path / "escrow.key")).returncode == 0  # outside: written
