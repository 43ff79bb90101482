"""Many rows updated by their key in one statement: the new values go into a temporary table in bulk
(multi-row INSERTs), then one `UPDATE ... FROM` applies them, on SQLite (3.33 or later) and PostgreSQL alike.

An UPDATE per row, even batched by the driver, is a statement per row for the database to plan and run:
the close prices every intervention of the month (10 million at the largest scale), and those updates were
most of its time. The temporary table lives in the caller's transaction and connection: a crash or a
rollback leaves nothing behind, and it is dropped before the transaction ends.
"""

from __future__ import annotations

from uuid import uuid4

from sqlalchemy import Column, MetaData, Table, insert, text
from sqlalchemy.orm import Session

#: rows per multi-row INSERT into the temporary table (SQLAlchemy splits further within the driver's limits)
SLICE = 10_000


def update_by_key(session: Session, table: Table, key: str, rows: list[dict], columns: list[str]) -> None:
    """Set `columns` of `table` from `rows` (dicts with `key` and each of `columns`), matched on `key`."""
    if not rows:
        return
    staging = Table(f"staging_{table.name}_{uuid4().hex[:8]}", MetaData(),
                    *(Column(name, table.c[name].type) for name in [key, *columns]), prefixes=["TEMPORARY"])
    connection = session.connection()
    staging.create(connection)   # within the transaction: a rollback takes it away on both databases
    for start in range(0, len(rows), SLICE):
        connection.execute(insert(staging), rows[start:start + SLICE])
    assignments = ", ".join(f"{name} = {staging.name}.{name}" for name in columns)
    connection.execute(text(f"UPDATE {table.name} SET {assignments} FROM {staging.name} "
                            f"WHERE {table.name}.{key} = {staging.name}.{key}"))
    staging.drop(connection)
