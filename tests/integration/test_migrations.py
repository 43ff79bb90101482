"""A ledger made by an older release upgrades in place with every row, and then refuses unknown words."""

from __future__ import annotations

import pytest
from sqlalchemy import func, inspect, select, text, update
from sqlalchemy.exc import IntegrityError, StatementError

from ledger.models import Base, Invoice
from lifecycle_config.databases import engine_for
from tests.integration.conftest import create_pg_database, drop_pg_database
from tests.support.scenarios import load_october


@pytest.fixture(params=["sqlite", "postgresql"])
def first_schema_ledger(request, tmp_path):
    """An empty ledger at the first migration, as release 0.1 left it."""
    from alembic import command

    from ledger.migrate import _config

    admin = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old-ledger.db'}"
    else:
        admin = request.getfixturevalue("pg_admin")
        url = create_pg_database(admin, migrate=False)
    engine = engine_for(url)
    with engine.begin() as connection:
        config = _config(url)
        config.attributes["connection"] = connection
        command.upgrade(config, "0001_initial")
    yield url, engine
    if admin is not None:
        drop_pg_database(admin, url)


def counts(engine) -> dict[str, int]:
    """Rows per table of the ledger as it is (a later release's tables are not there yet)."""
    present = set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        return {table.name: connection.scalar(select(func.count()).select_from(table))
                for table in Base.metadata.sorted_tables if table.name in present}


def as_release_01_left_it(old, tmp_path) -> None:
    """October closed, in a ledger of the first schema: the rows today's code writes, with the columns that
    schema has (release 0.1 wrote the same facts; later columns did not exist)."""
    from sqlalchemy import MetaData

    from ledger.migrate import upgrade
    from policy.terms import Terms
    from operations.close import draft, finalise

    today = engine_for(f"sqlite:///{tmp_path / 'today.db'}")
    upgrade(str(today.url))
    load_october(today, tmp_path)
    draft("2026-10", Terms(), actor="release-0.1", flow_run_id=None, engine=today)
    finalise("2026-10", __import__("datetime").date(2026, 11, 1), Terms(), actor="release-0.1", flow_run_id=None,
             engine=today)
    schema = MetaData()
    schema.reflect(old)
    with today.connect() as source, old.begin() as target:
        for table in schema.sorted_tables:
            if table.name == "alembic_version":
                continue
            typed = Base.metadata.tables[table.name]  # read as today's model types them (booleans, dates)
            rows = [dict(row._mapping) for row in source.execute(select(*(typed.c[c.name] for c in table.columns)))]
            if rows:
                target.execute(table.insert(), rows)


def test_an_old_ledger_upgrades_with_every_row_and_then_refuses_unknown_values(first_schema_ledger, tmp_path):
    from ledger.migrate import HEAD, upgrade

    url, engine = first_schema_ledger
    as_release_01_left_it(engine, tmp_path)
    before = counts(engine)
    assert before["invoices"] == 3 and before["interventions"] == 10

    assert upgrade(url) == ("0001_initial", HEAD)
    after = counts(engine)
    assert {name: after[name] for name in before} == before and set(after) == {t.name for t in Base.metadata.sorted_tables}
    with engine.connect() as connection:  # foreign keys still hold after SQLite rebuilt the tables
        if engine.dialect.name == "sqlite":
            assert connection.execute(text("PRAGMA foreign_key_check")).fetchall() == []
    # the invoices issued before documents existed are marked so: no close mails them unasked
    with engine.connect() as connection:
        assert connection.execute(text("SELECT DISTINCT document_key FROM invoices")).scalars().all() == [""]
    with pytest.raises(IntegrityError, match="ck_invoices_status"):  # the database itself, whoever writes
        with engine.begin() as connection:
            connection.execute(text("UPDATE invoices SET status = 'paid-ish'"))
    with pytest.raises(StatementError, match="'paid-ish' is not a valid InvoiceStatus"):  # and the ledger's code
        with engine.begin() as connection:
            connection.execute(update(Invoice).values(status="paid-ish"))


def _db_upgrade(home, url: str, *, killed_after_a_step: bool):
    """`lifecycle db upgrade` in a process of its own; killed (SIGKILL, as a power cut) once the first migration of
    the upgrade is applied, inside the upgrade, when `killed_after_a_step`."""
    import subprocess
    import sys

    from tests.support.up import clean_env

    env = clean_env(home, LIFECYCLE_DATABASE_URL=url)
    if killed_after_a_step:
        env["LIFECYCLE_FAILPOINT"] = "ledger.migration-applied"
    return subprocess.run([sys.executable, "-m", "lifecycle.cli", "db", "upgrade"], env=env, capture_output=True,
                          text=True, timeout=600)


def test_a_migration_killed_half_way_leaves_a_fresh_ledger_empty_and_the_next_upgrade_just_works(tmp_path):
    """Probe 19a (D5): `lifecycle demo` killed during its first migration left a ledger of 19 tables and no
    version (Python's sqlite3 commits before each CREATE by itself), which every command refused as "not a
    ledger". The whole upgrade is one transaction now: killed after the first migration, the file holds no table,
    and the next `db upgrade` makes the ledger."""
    import signal

    from ledger.migrate import HEAD

    home = tmp_path / "home"
    home.mkdir()
    url = f"sqlite:///{home / 'ledger.db'}"
    killed = _db_upgrade(home, url, killed_after_a_step=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    engine = engine_for(url)
    assert inspect(engine).get_table_names() == []  # nothing of the killed upgrade: not "not a ledger"
    engine.dispose()
    again = _db_upgrade(home, url, killed_after_a_step=False)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.splitlines()[0] == f"ledger at {HEAD} (was empty)"
    assert set(inspect(engine).get_table_names()) == {t.name for t in Base.metadata.sorted_tables} | {"alembic_version"}


def test_an_upgrade_killed_half_way_leaves_an_older_ledger_at_its_version_with_every_row(first_schema_ledger,
                                                                                          tmp_path):
    """An older ledger killed while it upgrades (on SQLite, after the first migration rebuilt its tables in batch
    mode): it stays at its old version with every row, and the next upgrade takes it to the newest one. PostgreSQL's
    DDL is transactional already: the same there."""
    import signal

    from ledger.db import current_revision
    from ledger.migrate import HEAD

    url, engine = first_schema_ledger
    as_release_01_left_it(engine, tmp_path)
    before = counts(engine)
    assert before["invoices"] == 3 and before["interventions"] == 10
    home = tmp_path / "home"
    home.mkdir()
    killed = _db_upgrade(home, url, killed_after_a_step=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    engine.dispose()
    assert current_revision(engine) == "0001_initial"
    assert counts(engine) == before
    again = _db_upgrade(home, url, killed_after_a_step=False)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.splitlines()[0] == f"ledger at {HEAD} (was 0001_initial)"
    engine.dispose()
    after = counts(engine)
    assert {name: after[name] for name in before} == before
