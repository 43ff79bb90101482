"""Transactions on the ledger: short, committed on success, rolled back on any error.

The engine comes from `lifecycle_config.databases` (SQLite tuned for concurrent writers, or
PostgreSQL); `write=True` asks SQLite for its write lock at the start of the transaction.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

import lifecycle_config
from ledger.models import Base
from lifecycle_config.databases import engine_for


def ledger_engine() -> Engine:
    return engine_for(lifecycle_config.database_url())


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


def one_at_a_time(session: Session, name: str) -> None:
    """Let one transaction at a time past this point for `name`, until it commits or rolls back.

    For a "look, then write the next version" step that has no row to lock yet (two closes of one
    month writing its workbook together both saw no version and the second died on the unique key).
    SQLite's write transaction is one at a time already; PostgreSQL takes an advisory lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": name})


def insert_if_missing(session: Session, model, **values) -> bool:
    """Insert a keyed row unless it exists, without failing when another transaction inserts it first;
    True when this call inserted it.

    A plain "select, then add if absent" lets two runs that start together both insert, and the
    second dies on the unique key. `ON CONFLICT DO NOTHING` makes the second wait for the first
    to commit and then find the row: the caller then locks it with `SELECT ... FOR UPDATE`.
    """
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    # RETURNING, not the row count: the ORM session reports -1 rows for an insert on PostgreSQL
    key = inspect(model).primary_key
    return session.execute(insert(model).values(**values).on_conflict_do_nothing().returning(*key)).first() is not None


def now() -> datetime:
    """When a record is written (created_at, audit entries, locks' heartbeats): the machine's real clock,
    never LIFECYCLE_TODAY (lifecycle_config.clock), since locks compare it with live processes."""
    return datetime.now(timezone.utc)


def current_revision(engine: Engine) -> str | None:
    if not inspect(engine).has_table("alembic_version"):
        return None
    with engine.connect() as connection:
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


__all__ = ["Base", "ledger_engine", "session_scope", "rehearsal", "now"]
