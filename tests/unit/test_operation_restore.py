"""A restore on request as an operation (operations/restore.py), on a SQLite ledger and a folder store,
without Prefect: the customer's rows come back identical in the sandbox and the restore is billed once as a
data recovery; an unknown customer or backup is refused with nothing billed; a damaged object refuses the
restore before any write and marks the backup corrupt."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import MetaData, func, select

from ledger.db import session_scope
from ledger.models import Backup, Intervention, RestoreJob
from lifecycle_config.databases import engine_for
from operations.backup import backup_customer
from operations.backup_archive import CorruptBackup
from operations.restore import RestoreRefused, restore_customer
from policy.refusals import Refusal
from tests.support.backup_shop import backup_shop

DAY = date(2026, 11, 20)


@pytest.fixture
def shop(tmp_path, monkeypatch):
    shop = backup_shop(tmp_path, monkeypatch, DAY.isoformat())
    assert backup_customer("ACME", DAY, shop.platform, shop.storage, engine=shop.ledger).status == "good"
    return shop


def rows_of(engine, tenant: str) -> dict[str, list[tuple]]:
    metadata = MetaData()
    metadata.reflect(bind=engine, only=["users", "operations", "documents"])
    with engine.connect() as connection:
        return {name: [tuple(row) for row in connection.execute(select(table).where(table.c.tenant_id == tenant)
                                                                .order_by(table.c.id))]
                for name, table in metadata.tables.items()}


def restore(shop, customer_id="ACME", backup_id=None, key="request-1"):
    return restore_customer(customer_id, backup_id, "sandbox", "alice", "T-1", platform=shop.platform,
                            storage=shop.storage, sandbox_url=shop.sandbox_url, flow_run_id=None, actor="test",
                            request_key=key, engine=shop.ledger)


def test_a_restore_to_the_sandbox_gives_identical_rows_and_bills_once(shop):
    outcome = restore(shop)
    assert (outcome.backup_id, outcome.target, outcome.rows) == ("ACME-20261120", "sandbox",
                                                                 {"users": 30, "operations": 1, "documents": 0})
    assert rows_of(engine_for(shop.sandbox_url), "ACME") == rows_of(shop.platform_engine, "ACME")
    summary = outcome.summary("ACME")
    assert (summary["intervention_id"], summary["repeated"], summary["gone"]) == (outcome.intervention_id, False, [])
    with session_scope(shop.ledger) as session:
        billed = session.get(Intervention, outcome.intervention_id)
        assert (billed.category, billed.source, billed.ticket, billed.engineer) == ("data_recovery", "restore", "T-1",
                                                                                    "alice")
        assert billed.minutes == outcome.minutes >= 1
    again = restore(shop)                                        # the same request: nothing more billed
    assert again.repeated and again.intervention_id == outcome.intervention_id
    with session_scope(shop.ledger) as session:
        assert session.scalar(select(func.count()).select_from(Intervention)) == 1


@pytest.mark.parametrize("customer_id, backup_id, reason", [
    ("NOPE", None, "unknown customer 'NOPE'"),
    ("BETA", None, "customer 'BETA' has no good backup to restore"),
    ("ACME", "ACME-20250101", "no backup 'ACME-20250101' of customer 'ACME'"),
])
def test_what_cannot_be_restored_is_refused_and_nothing_is_billed(shop, customer_id, backup_id, reason):
    with pytest.raises(RestoreRefused) as refused:
        restore(shop, customer_id, backup_id)
    assert isinstance(refused.value, Refusal) and str(refused.value) == reason
    with session_scope(shop.ledger) as session:
        assert session.scalar(select(func.count()).select_from(Intervention)) == 0


def test_a_damaged_object_refuses_before_any_write_and_marks_the_backup_corrupt(shop):
    with session_scope(shop.ledger) as session:
        key = session.get(Backup, "ACME-20261120").manifest["tables"][0]["key"]
    (shop.objects / key).write_bytes(b"not the backup")
    with pytest.raises(CorruptBackup) as corrupt:
        restore(shop)
    assert "is corrupted or truncated" in str(corrupt.value)
    assert str(corrupt.value).endswith("backup ACME-20261120 is now marked corrupt and will not be chosen again")
    with session_scope(shop.ledger) as session:
        assert session.get(Backup, "ACME-20261120").status == "corrupt"
        assert session.scalars(select(RestoreJob.status)).all() == ["failed"]
        assert session.scalar(select(func.count()).select_from(Intervention)) == 0


@pytest.mark.parametrize("damage", [b"[1", b"not json", b'{"format": "wrapped-key/v1", "wrapped": 5}'],
                         ids=["truncated", "not-json", "wrapped-not-text"])
def test_a_damaged_key_object_is_said_as_the_key_and_never_marks_the_backup_corrupt(shop, damage):
    """The backup is good, only its data key's object in the key store was damaged (a versioned store keeps its
    good version): it said "its manifest is damaged" and marked the backup corrupt, never chosen again."""
    from operations.backup_keys import KeyDestroyed

    (key_object,) = (shop.objects / "keys" / "customers" / "ACME").glob("*.json")
    key_object.write_bytes(damage)
    with pytest.raises(KeyDestroyed) as damaged:
        restore(shop)
    assert "is damaged in the key store" in str(damaged.value) and "manifest" not in str(damaged.value)
    with session_scope(shop.ledger) as session:
        assert session.get(Backup, "ACME-20261120").status == "good"
        assert session.scalar(select(func.count()).select_from(Intervention)) == 0


NOT_AN_IDENTIFIER = "is not an SQL identifier: a letter or _ then letters, digits or _, 63 characters at most"


@pytest.mark.parametrize("map_columns, reason", [
    ("a.b=c," * 20000, "--map-columns is 120000 characters long: at most 2000 (name the columns renamed since the "
                       "backup, table.old=new, separated by commas)"),
    (",".join(f"users.c{n}=d{n}" for n in range(51)), "--map-columns names 51 renames: at most 50"),
    ("users.email=mail,users.email=address", "--map-columns users.email: renamed twice; name it once"),
    ("users.email=" + "m" * 64, f"--map-columns 'users.email={'m' * 28}…' (76 characters): '{'m' * 40}…' (64 "
                                f"characters) {NOT_AN_IDENTIFIER}"),
    ("users.email=ma\x1bil", f"--map-columns 'users.email=ma\\x1bil': 'ma\\x1bil' {NOT_AN_IDENTIFIER}"),
    ("users.email=b; DROP TABLE x", f"--map-columns 'users.email=b; DROP TABLE x': 'b; DROP TABLE x' "
                                    f"{NOT_AN_IDENTIFIER}"),
], ids=["too-long", "too-many", "twice", "long-name", "control-character", "sql"])
def test_a_map_of_columns_out_of_bounds_is_refused_in_one_line_before_anything(shop, map_columns, reason):
    with pytest.raises(RestoreRefused) as refused:
        restore_customer("ACME", None, "in_place", "alice", "T-1", platform=shop.platform, storage=shop.storage,
                         sandbox_url=shop.sandbox_url, flow_run_id=None, actor="test", request_key="request-1",
                         engine=shop.ledger, map_columns=map_columns)
    assert str(refused.value) == reason
    with session_scope(shop.ledger) as session:
        assert session.scalar(select(func.count()).select_from(RestoreJob)) == 0


def test_a_map_of_columns_naming_a_table_the_backup_has_not_refuses_as_an_unknown_column_does(shop):
    """`a.b=c` was taken without a word while `users.a=b` was refused: both are mistakes of the request."""
    before = rows_of(shop.platform_engine, "ACME")
    for map_columns in ("a.b=c", "users.a=b"):
        with pytest.raises(RestoreRefused) as refused:
            restore_customer("ACME", None, "in_place", "alice", "T-1", platform=shop.platform, storage=shop.storage,
                             sandbox_url=shop.sandbox_url, flow_run_id=None, actor="test", request_key=map_columns,
                             engine=shop.ledger, map_columns=map_columns)
        table, _, column = map_columns.partition("=")[0].partition(".")
        assert f"--map-columns {table}.{column}: the backup has no such {'table' if table == 'a' else 'column'}" \
            in str(refused.value)
    assert rows_of(shop.platform_engine, "ACME") == before
    with session_scope(shop.ledger) as session:
        assert session.scalar(select(func.count()).select_from(Intervention)) == 0


def test_a_sandbox_inside_another_installations_storage_folder_is_refused(shop, tmp_path):
    """Issue 24: a sandbox in another installation's storage folder (known by the marker its folder store leaves
    at its root) made this home's restore write a database among that one's objects. Refused; nothing made."""
    import io

    from blocks.storage import FolderStore

    other = tmp_path / "other-home" / "objects"
    FolderStore(other).put_stream("exports/2026/10/2026-10_billable-interventions.xlsx", io.BytesIO(b"PK theirs"))
    before = sorted(other.rglob("*"))
    sandbox = other / "exports" / "sandbox.db"
    shop.sandbox_url = f"sqlite:///{sandbox}"
    with pytest.raises(RestoreRefused) as refused:
        restore(shop)
    assert str(refused.value) == (f"the sandbox sqlite:///{sandbox} (LIFECYCLE_SANDBOX_URL) is a file inside {other}, "
                                  f"the storage folder of another lifecycle installation: point LIFECYCLE_SANDBOX_URL "
                                  f"at a database outside every storage folder; nothing was restored")
    assert sorted(other.rglob("*")) == before
    with session_scope(shop.ledger) as session:
        assert session.scalar(select(func.count()).select_from(Intervention)) == 0


def test_a_sandbox_inside_the_storage_folder_is_refused_before_anything_is_read(shop, tmp_path):
    """Issue 24, a sibling of `run export --out`: LIFECYCLE_SANDBOX_URL naming a SQLite file inside the storage's
    folder (directly, or through a link to it) made the restore write a database among the stored objects, over
    one if it bore that name. Refused in one line; nothing is made there, nothing billed."""
    (tmp_path / "to-objects").symlink_to(shop.objects)
    before = sorted(shop.objects.rglob("*"))
    for sandbox in (shop.objects / "sandbox.db", tmp_path / "to-objects" / "backups" / "sandbox.db"):
        shop.sandbox_url = f"sqlite:///{sandbox}"
        with pytest.raises(RestoreRefused) as refused:
            restore(shop, key=f"request-{sandbox.name}-{len(str(sandbox))}")
        assert str(refused.value) == (f"the sandbox sqlite:///{sandbox} (LIFECYCLE_SANDBOX_URL) is a file inside the "
                                      f"storage folder {shop.objects}, among the stored objects: point "
                                      f"LIFECYCLE_SANDBOX_URL at a database outside it; nothing was restored")
    assert sorted(shop.objects.rglob("*")) == before
    with session_scope(shop.ledger) as session:
        assert session.scalar(select(func.count()).select_from(Intervention)) == 0


def _database_picture(path) -> dict:
    """Every table of a SQLite file with its rows, read only."""
    import sqlite3

    with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as database:
        names = [row[0] for row in database.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {name: sorted(database.execute(f'SELECT * FROM "{name}"').fetchall()) for name in names}


def _nothing_billed(shop) -> None:
    with session_scope(shop.ledger) as session:
        assert session.scalar(select(func.count()).select_from(Intervention)) == 0


def test_a_sandbox_that_is_another_database_is_refused_before_anything_is_written(shop, tmp_path):
    """Probe 19a (D4): LIFECYCLE_SANDBOX_URL may name any database, and a sandbox restore dropped and replaced its
    tables: a foreign `users(id, email, salary)` was dropped and refilled with ACME's rows; the live platform's
    rows were replaced (no safeguard of a restore in place, billed each time). Only an empty database, or one
    marked as this installation's sandbox, is written: the platform's database, the ledger, a database of another
    application, are refused in one line, as they were, nothing billed."""
    import sqlite3

    foreign = tmp_path / "hr.db"
    with sqlite3.connect(foreign) as database:
        database.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, salary NUMERIC)")
        database.execute("INSERT INTO users VALUES (1, 'cfo@example.com', 250000)")
    platform_file = shop.platform_engine.url.database
    ledger_file = shop.ledger.url.database
    (tmp_path / "platform-link.db").symlink_to(platform_file)  # another spelling of the platform's file
    cases = {
        f"sqlite:///{foreign}": "holds tables (users) and is no sandbox of this installation (it carries no "
                                "lifecycle sandbox marker)",
        f"sqlite:///{platform_file}": "is the platform's database (LIFECYCLE_PLATFORM_URL)",
        f"sqlite:///{tmp_path / 'platform-link.db'}": "is the platform's database (LIFECYCLE_PLATFORM_URL)",
        f"sqlite:///{ledger_file}": "is the ledger (LIFECYCLE_DATABASE_URL)",
    }
    from pathlib import Path

    before = {url: _database_picture(Path(url[len("sqlite:///"):])) for url in cases}
    for number, (url, said) in enumerate(cases.items()):
        shop.sandbox_url = url
        with pytest.raises(RestoreRefused) as refused:
            restore(shop, key=f"request-{number}")
        assert str(refused.value).startswith(f"the sandbox {url} (LIFECYCLE_SANDBOX_URL) {said}"), str(refused.value)
        assert str(refused.value).endswith("nothing was restored") and "\n" not in str(refused.value)
    for url, picture in before.items():
        assert _database_picture(Path(url[len("sqlite:///"):])) == picture, url
    _nothing_billed(shop)


def test_a_sandbox_is_marked_as_this_installations_and_another_installations_is_refused(shop, tmp_path):
    """An empty sandbox gets the product's marker (the installation id of the ledger that made it) with its first
    restore, and is used again by the next; a sandbox made by another installation (its marker names it) is
    refused, its rows untouched; a table of another shape that lifecycle did not make in a marked sandbox is never
    dropped."""
    import sqlite3

    from ledger.installation import installation_id

    first = restore(shop)
    assert first.rows["users"] == 30
    sandbox = tmp_path / "sandbox.db"
    picture = _database_picture(sandbox)
    assert picture["lifecycle_sandbox"][0][0] == installation_id(shop.ledger)
    assert {row[0] for row in picture["lifecycle_sandbox_tables"]} == {"users", "operations", "documents"}
    assert restore(shop, key="request-2").rows["users"] == 30  # its own sandbox: used again

    theirs = tmp_path / "their-sandbox.db"  # a copy made whole (the sandbox's log included)
    with sqlite3.connect(sandbox) as source, sqlite3.connect(theirs) as copy:
        source.backup(copy)
    with sqlite3.connect(theirs) as database:
        database.execute("UPDATE lifecycle_sandbox SET installation_id = 'installation-of-another-home'")
    before = _database_picture(theirs)
    shop.sandbox_url = f"sqlite:///{theirs}"
    with pytest.raises(RestoreRefused) as refused:
        restore(shop, key="request-3")
    assert str(refused.value) == (f"the sandbox sqlite:///{theirs} (LIFECYCLE_SANDBOX_URL) is the sandbox of another "
                                  f"installation (installation-of-another-home), not of this one "
                                  f"({installation_id(shop.ledger)}): point LIFECYCLE_SANDBOX_URL at this "
                                  f"installation's sandbox or an empty database; nothing was restored")
    assert _database_picture(theirs) == before

    shop.sandbox_url = f"sqlite:///{sandbox}"  # ours, but someone put a `documents` of their own shape in it
    with sqlite3.connect(sandbox) as database:
        database.execute("DROP TABLE documents")
        database.execute("DELETE FROM lifecycle_sandbox_tables WHERE table_name = 'documents'")
        database.execute("CREATE TABLE documents (id INTEGER PRIMARY KEY, secret TEXT)")
        database.execute("INSERT INTO documents VALUES (1, 'kept')")
    before = _database_picture(sandbox)
    with pytest.raises(RestoreRefused, match=r"holds a table 'documents' that lifecycle did not make, of another "
                                             r"shape than the backup's: .*nothing was restored$"):
        restore(shop, key="request-4")
    assert _database_picture(sandbox) == before
