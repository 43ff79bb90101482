"""Connections to the ledger, the same on SQLite and PostgreSQL.

SQLite is the embedded default and several flow runs may write at once (a worker runs flows in
parallel): WAL lets readers go on while one writer commits, a busy timeout makes writers queue
instead of failing with "database is locked", and `BEGIN IMMEDIATE` takes the write lock at the
start of a write transaction so two writers never deadlock on a lock upgrade.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from ledger.models import Base

BUSY_TIMEOUT_MS = 30_000


def normalise_url(url: str) -> str:
    """Accept plain `postgresql://` URLs and drive them with psycopg 3, the driver we ship."""
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


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    return make_engine(url)


def ledger_engine() -> Engine:
    from lifecycle import config

    return engine_for(normalise_url(config.database_url()))


@contextmanager
def session_scope(engine: Engine | None = None, *, write: bool = False) -> Iterator[Session]:
    """One short transaction: commit on success, roll back on any error.

    `write=True` takes SQLite's write lock up front; on PostgreSQL it changes nothing.
    """
    engine = engine or ledger_engine()
    with engine.connect() as connection:
        if write:
            connection.info["write"] = True
        try:
            with Session(bind=connection, expire_on_commit=False) as session:
                with session.begin():
                    yield session
        finally:
            connection.info.pop("write", None)


@contextmanager
def rehearsal(engine: Engine | None = None) -> Iterator[Session]:
    """A transaction that is always rolled back: a dry run does all its work and keeps none of it."""
    engine = engine or ledger_engine()
    with engine.connect() as connection:
        with Session(bind=connection, expire_on_commit=False) as session:
            session.begin()
            try:
                yield session
            finally:
                session.rollback()


def insert_if_missing(session: Session, model, **values) -> None:
    """Insert a keyed row unless it exists, without failing when another transaction inserts it first.

    A plain "select, then add if absent" lets two runs that start together both insert, and the
    second dies on the unique key. `ON CONFLICT DO NOTHING` makes the second wait for the first
    to commit and then find the row: the caller then locks it with `SELECT ... FOR UPDATE`.
    """
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(model).values(**values).on_conflict_do_nothing())


def now() -> datetime:
    return datetime.now(timezone.utc)


def current_revision(engine: Engine) -> str | None:
    if not inspect(engine).has_table("alembic_version"):
        return None
    with engine.connect() as connection:
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


__all__ = ["Base", "make_engine", "engine_for", "ledger_engine", "session_scope", "rehearsal", "now"]
