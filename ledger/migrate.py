"""Create or migrate the ledger with Alembic; the migrations ship inside the package."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from ledger.db import current_revision
from lifecycle_config.databases import BUSY_TIMEOUT_MS, engine_for, normalise_url, said_in_one_line
from lifecycle_config.installation import without_password
from policy.refusals import Refusal

HERE = Path(__file__).parent
#: the newest migration; commands compare against it without importing Alembic (which is slow)
HEAD = "0024_export_sha256"


def _config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(HERE / "migrations"))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def _migration_engine(url: str) -> Engine:
    """SQLite cannot alter a table in place: a migration rebuilds it (Alembic's batch mode), which
    foreign keys forbid half-way. Migrations run on a connection of their own with them off, and
    check them themselves before they commit (`PRAGMA foreign_key_check`).

    All of an upgrade is one transaction, as on PostgreSQL (whose DDL is transactional): Python's sqlite3
    driver commits by itself before each CREATE, ALTER or DROP, so a migration killed half-way left a ledger
    of some tables and no version, which every command then refused as "not a ledger" (and a killed rebuild of
    a table could lose its rows). SQLAlchemy's pysqlite recipe: the driver's own transaction handling off
    (`isolation_level = None`), and BEGIN emitted by SQLAlchemy as the transaction begins (IMMEDIATE: the
    write lock taken at once). A kill leaves the ledger as it was: empty, or at its old version with its rows."""
    if make_url(normalise_url(url)).get_backend_name() != "sqlite":
        return engine_for(url)
    engine = create_engine(normalise_url(url), poolclass=NullPool)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # no BEGIN nor COMMIT of the driver's own around DDL
        dbapi_connection.execute("PRAGMA foreign_keys = OFF")  # outside any transaction, where it takes effect
        dbapi_connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    said_in_one_line(engine)  # a full disk, a ledger another process holds: one line, as on every engine
    return engine


class NotALedger(Refusal):
    """A database that holds tables but no ledger version of ours (the customer platform's, another
    application's): never made into a ledger, read or written as one."""


def ours(revision: str) -> bool:
    """Whether `revision` is one of the ledger's migrations (another application may use Alembic too)."""
    return (HERE / "migrations" / "versions" / f"{revision}.py").is_file()


def not_a_ledger_problem(engine: Engine, url: str) -> str | None:
    """Why the database at `url` is no ledger (None: it is one, or it is empty and may become one)."""
    revision = current_revision(engine)
    if revision is not None and (ours(revision) or re.fullmatch(r"\d{4}_\w+", revision)):
        return None  # a ledger (of a newer release, maybe: Alembic then says it does not know its version)
    tables = sorted(inspect(engine).get_table_names())
    if not tables:
        return None
    held = ", ".join(tables[:3]) + (f" and {len(tables) - 3} more" if len(tables) > 3 else "")
    version = f"the version {revision!r} of no ledger" if revision is not None else "no ledger version"
    return (f"{without_password(url)} is not a ledger: it holds the tables {held} and {version}; point "
            f"LIFECYCLE_DATABASE_URL at the ledger or an empty database")


def upgrade(url: str) -> tuple[str | None, str]:
    """Bring the ledger at `url` to the newest schema; returns (before, after) revisions. A database that
    holds tables but is no ledger is refused (NotALedger), never migrated into one."""
    from alembic import command

    problem = not_a_ledger_problem(engine_for(url), url)
    if problem:
        raise NotALedger(problem)
    before = current_revision(engine_for(url))
    if before != HEAD:
        engine = _migration_engine(url)
        with engine.begin() as connection:
            config = _config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        if engine is not engine_for(url):
            engine.dispose()
    return before, current_revision(engine_for(url)) or ""


def upgrade_on(connection, url: str) -> None:
    """Make or migrate the ledger on `connection`, inside the caller's transaction (a snapshot restored into a
    server database: its schema and its rows committed together). Not for SQLite, whose migrations need a
    connection with foreign keys off (upgrade)."""
    from alembic import command

    config = _config(url)
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def ensure_current(engine: Engine, url: str) -> None:
    """Migrate a missing or old ledger before a command uses it."""
    if current_revision(engine) != HEAD:
        upgrade(url)
