"""`PlatformControl`: the platform, as the flows reach it: its access flags (in its database or by
webhook) and, in its database, the customer's data tables that backups, restores and purges read.

The three flags are always written together (see `policy.access`). The webhook is signed with an
HMAC of the body so the platform can trust it, and carries an idempotency key so a retried call
is harmless.
"""

from __future__ import annotations

import json
import time
from typing import Literal, Optional

from prefect.blocks.core import Block
from pydantic import Field, SecretStr
from sqlalchemy import MetaData, Table, delete, func, select, text
from sqlalchemy.engine import Engine

import lifecycle_config
from lifecycle_config import clock
from lifecycle_config.databases import engine_for
from blocks.forms import Text, database_url_problem, http_url_problem, identifier_problem
from policy.access import Flags
from policy.signing import signed_headers


class PlatformError(RuntimeError):
    """The platform did not take an access change; `transient` when trying later may work (down, 5xx, 429)."""

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.transient = transient


class PlatformControl(Block):
    """How the flows switch a tenant's admin area, platform and operations on or off."""

    _block_type_name = "Platform Control"
    _block_type_slug = "platform-control"
    _description = "Switches a tenant's admin_enabled / platform_enabled / operations_enabled flags."

    mode: Literal["database", "webhook"] = Field("database", description="Write the flags in the platform "
                                                 "database, or POST them to the platform's webhook.")
    database_url: Optional[Text(2048, database_url_problem)] = Field(None, description="Platform database (SQLAlchemy URL); empty means "
                                        "LIFECYCLE_PLATFORM_URL or the embedded demo platform.")
    tenant_table: Text(63, identifier_problem) = Field("tenants", description="The table with one row per customer and the three flags.")
    tenant_column: Text(63, identifier_problem) = Field("tenant_id", description="The column that holds the customer id in every tenant table.")
    webhook_url: Optional[Text(2048, http_url_problem)] = Field(None, description="The platform's endpoint, for webhook mode.")
    webhook_secret: Optional[SecretStr] = Field(None, description="HMAC-SHA256 key signing each webhook body.")
    timeout_seconds: float = Field(10, ge=0.1, le=300, allow_inf_nan=False,
                                   description="Webhook timeout per attempt, in seconds: from 0.1 to 300.")
    retries: int = Field(3, ge=0, le=10, description="Webhook retries after the first attempt (network errors and "
                                                     "non-2xx): from 0 to 10.")

    def platform_url(self) -> str:
        return lifecycle_config.overridden("LIFECYCLE_PLATFORM_URL") or self.database_url or lifecycle_config.platform_url()

    def engine(self) -> Engine:
        """The platform database: the block's own pooled engine for it (the ledger's is another)."""
        return engine_for(self.platform_url())

    def tenant_tables(self) -> list[Table]:
        """The customer-data tables of the platform, parents before children."""
        return tenant_tables(self.engine(), self.tenant_column, self.tenant_table)

    def row_counts(self, customer_id: str, tables: list[Table] | None = None) -> dict[str, int]:
        tables = self.tenant_tables() if tables is None else tables
        with self.engine().connect() as connection:
            return {table.name: connection.scalar(select(func.count()).select_from(table)
                                                  .where(table.c[self.tenant_column] == customer_id))
                    for table in tables}

    def delete_rows(self, customer_id: str) -> dict[str, int]:
        """Delete the customer's rows from every data table, children first, in one transaction."""
        deleted = {}
        with self.engine().begin() as connection:
            for table in reversed(self.tenant_tables()):
                deleted[table.name] = connection.execute(
                    delete(table).where(table.c[self.tenant_column] == customer_id)).rowcount
        return deleted

    def apply(self, tenant_id: str, flags: Flags, *, reason: str, idempotency_key: str) -> None:
        if self.mode == "webhook":
            self._post(tenant_id, flags, reason, idempotency_key)
        else:
            self._write(tenant_id, flags)

    def read(self, tenant_id: str) -> Flags | None:
        """The flags the platform database holds now (database mode only)."""
        with self.engine().connect() as connection:
            row = connection.execute(
                text(f"SELECT admin_enabled, platform_enabled, operations_enabled FROM {self._table()} "
                     f"WHERE {self._column()} = :tenant"), {"tenant": tenant_id}
            ).first()
        return None if row is None else Flags(bool(row[0]), bool(row[1]), bool(row[2]))

    def _table(self) -> str:
        return _identifier(self.tenant_table)

    def _column(self) -> str:
        return _identifier(self.tenant_column)

    def _write(self, tenant_id: str, flags: Flags) -> None:
        with self.engine().begin() as connection:
            updated = connection.execute(
                text(f"UPDATE {self._table()} SET admin_enabled = :admin_enabled, "
                     f"platform_enabled = :platform_enabled, operations_enabled = :operations_enabled "
                     f"WHERE {self._column()} = :tenant"),
                {**flags.as_dict(), "tenant": tenant_id},
            ).rowcount
        if updated != 1:
            raise PlatformError(f"tenant {tenant_id!r} is not in the platform's {self.tenant_table} table")

    def _post(self, tenant_id: str, flags: Flags, reason: str, idempotency_key: str) -> None:
        import httpx

        if not self.webhook_url:
            raise PlatformError("PlatformControl is in webhook mode but has no webhook_url")
        body = json.dumps({"tenant_id": tenant_id, **flags.as_dict(), "reason": reason,
                           "idempotency_key": idempotency_key}, separators=(",", ":"), sort_keys=True).encode()
        secret = self.webhook_secret.get_secret_value().encode() if self.webhook_secret else b""
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(2 ** (attempt - 1), 10) * 0.5)
            # signed when sent (each attempt anew): a receiver refuses a request signed long ago or seen before
            headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key,
                       **signed_headers(secret, body, int(clock.now().timestamp()))}
            try:
                response = httpx.post(self.webhook_url, content=body, headers=headers, timeout=self.timeout_seconds)
            except httpx.HTTPError as error:
                problem = f"{type(error).__name__}: {error}"
                continue
            if 200 <= response.status_code < 300:
                return
            problem = f"HTTP {response.status_code}"
            if response.status_code < 500 and response.status_code != 429:  # refused: trying again changes nothing
                raise PlatformError(f"webhook for tenant {tenant_id!r} refused the change: {problem}")
        raise PlatformError(f"webhook for tenant {tenant_id!r} failed after {self.retries + 1} attempt(s): {problem}",
                            transient=True)


def tenant_tables(engine: Engine, tenant_column: Text(63, identifier_problem) = "tenant_id", tenant_table: Text(63, identifier_problem) = "tenants") -> list[Table]:
    """The customer-data tables of a platform-shaped database, found by reflection: every table with a
    tenant column but the tenants table itself (docs/reference/configuration.md), parents before children (the order
    to restore; reverse it to delete)."""
    metadata = MetaData()
    metadata.reflect(bind=engine)
    return [table for table in metadata.sorted_tables
            if tenant_column in table.columns and table.name != tenant_table]


def _identifier(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise PlatformError(f"not a plain SQL identifier: {name!r}")
    return name
