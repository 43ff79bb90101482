"""Connections to the databases the configuration names: the ledger, the platform, the sandbox.

The same on SQLite and PostgreSQL. SQLite is the embedded default and several flow runs may write
at once (a worker runs flows in parallel): WAL lets readers go on while one writer commits, a busy
timeout makes writers queue instead of failing with "database is locked", and `BEGIN IMMEDIATE`
(asked for by `connection.info["write"]`) takes the write lock at the start of a write
transaction so two writers never deadlock on a lock upgrade. PostgreSQL URLs may be written
`postgresql://`: they are driven with psycopg 3, the driver we ship.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

BUSY_TIMEOUT_MS = 30_000


def normalise_url(url: str) -> str:
    """Accept plain `postgresql://` URLs and drive them with psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # let SQLAlchemy issue BEGIN itself (pysqlite's own transaction handling defers it)
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if connection.info.get("write") else "BEGIN")


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        _sqlite_setup(engine)
        return engine
    return create_engine(url, pool_pre_ping=True)


@lru_cache(maxsize=16)
def _cached(url: str) -> Engine:
    return make_engine(url)


def engine_for(url: str) -> Engine:
    """One engine (and its pool) per database, whichever way its URL is written."""
    return _cached(normalise_url(url))
