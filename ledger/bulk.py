"""Many rows updated by their key in one statement: the new values go into a temporary table in bulk
(multi-row INSERTs), then one `UPDATE ... FROM` applies them, on SQLite (3.33 or later) and PostgreSQL alike.

An UPDATE per row, even batched by the driver, is a statement per row for the database to plan and run:
the close prices every intervention of the month (10 million at the largest scale), and those updates were
most of its time. The temporary table lives in the caller's transaction and connection: a crash or a
rollback leaves nothing behind, and it is dropped before the transaction ends.
"""

from __future__ import annotations

from operator import itemgetter
from uuid import uuid4

from sqlalchemy import Column, MetaData, Table, insert, text
from sqlalchemy.orm import Session

#: rows handed to the driver at once
SLICE = 10_000


def update_by_key(session: Session, table: Table, key: str, rows: list[dict], columns: list[str]) -> None:
    """Set `columns` of `table` from `rows` (dicts with `key` and each of `columns`), matched on `key`."""
    if not rows:
        return
    staging = Table(f"staging_{table.name}_{uuid4().hex[:8]}", MetaData(),
                    *(Column(name, table.c[name].type) for name in [key, *columns]), prefixes=["TEMPORARY"])
    connection = session.connection()
    staging.create(connection)   # within the transaction: a rollback takes it away on both databases
    fill(connection, staging, [key, *columns], rows)
    assignments = ", ".join(f"{name} = {staging.name}.{name}" for name in columns)
    connection.execute(text(f"UPDATE {table.name} SET {assignments} FROM {staging.name} "
                            f"WHERE {table.name}.{key} = {staging.name}.{key}"))
    staging.drop(connection)


def snapshot(session: Session, prefix: str, query, key: str | None = None) -> Table:
    """What `query` reads, copied in one statement into a temporary table of its columns' names and types (`key`
    its primary key, for reading it a range at a time): one state of the rows, which the caller reads as often as
    it needs while other sessions commit, held by the database, not in memory. The caller drops it."""
    table = Table(f"{prefix}_{uuid4().hex[:8]}", MetaData(),
                  *(Column(column.name, column.type, primary_key=column.name == key)
                    for column in query.selected_columns), prefixes=["TEMPORARY"])
    connection = session.connection()
    table.create(connection)   # within the transaction: a rollback takes it away on both databases
    connection.execute(insert(table).from_select([column.name for column in query.selected_columns], query))
    if connection.dialect.name == "postgresql":   # a temporary table has no statistics until asked
        connection.execute(text(f"ANALYZE {table.name}"))
    return table


def fill(connection, staging: Table, names: list[str], rows: list[dict]) -> None:
    """The rows into the temporary table by the driver's fastest path: COPY on PostgreSQL, one prepared
    statement run over all rows on SQLite (SQLAlchemy's multi-row INSERTs stop at SQLite's parameter limit:
    pages of about sixty rows). Values are bound as SQLAlchemy binds them (a Decimal as a float on SQLite,
    which stores no decimals; a vocabulary word as its string). Column defaults are not applied: give every
    value a default would have given."""
    driver = connection.connection.driver_connection
    dialect = connection.dialect   # each column's conversion as SQLAlchemy binds it on this database
    converted = [(position, process) for position, process in enumerate(
        staging.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names) if process is not None]
    values = _values(names, converted)
    if dialect.name == "postgresql":
        # the column types' own conversions too (a vocabulary word as its string, an instant in UTC)
        with driver.cursor() as cursor, cursor.copy(f"COPY {staging.name} ({', '.join(names)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(values(row))
        return
    statement = f"INSERT INTO {staging.name} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})"
    cursor = driver.cursor()
    try:
        for start in range(0, len(rows), SLICE):
            cursor.executemany(statement, [values(row) for row in rows[start:start + SLICE]])
    finally:
        cursor.close()


def _values(names: list[str], converted: list[tuple[int, object]]):
    """A row's values in `names` order, each converted by its column's bind processor (None stays None)."""
    pick = itemgetter(*names)
    if len(names) == 1:
        only = names[0]
        pick = lambda row: (row[only],)   # noqa: E731  (itemgetter of one name gives the value, not a tuple)
    if not converted:
        return pick

    def values(row: dict) -> list:
        found = list(pick(row))
        for position, process in converted:
            if found[position] is not None:
                found[position] = process(found[position])
        return found
    return values
