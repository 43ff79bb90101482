"""The customer's data on the platform: every table with a tenant column, found by reflection.

INTERFACES.md: the `tenants` table holds one row per customer (and the access flags); every other
table with a `tenant_id` column (the name is a setting) is that customer's data.
"""

from __future__ import annotations

from sqlalchemy import MetaData, Table, delete, func, select
from sqlalchemy.engine import Engine


def tenant_tables(engine: Engine, tenant_column: str = "tenant_id", tenant_table: str = "tenants") -> list[Table]:
    """The customer-data tables, parents before children (the order to restore; reverse it to delete)."""
    metadata = MetaData()
    metadata.reflect(bind=engine)
    return [table for table in metadata.sorted_tables
            if tenant_column in table.columns and table.name != tenant_table]


def row_counts(engine: Engine, tables: list[Table], customer_id: str, tenant_column: str = "tenant_id") -> dict[str, int]:
    with engine.connect() as connection:
        return {table.name: connection.scalar(select(func.count()).select_from(table)
                                              .where(table.c[tenant_column] == customer_id))
                for table in tables}


def delete_rows(engine: Engine, tables: list[Table], customer_id: str, tenant_column: str = "tenant_id") -> dict[str, int]:
    """Delete the customer's rows from every data table, children first, in one transaction."""
    deleted = {}
    with engine.begin() as connection:
        for table in reversed(tables):
            deleted[table.name] = connection.execute(delete(table).where(table.c[tenant_column] == customer_id)).rowcount
    return deleted
