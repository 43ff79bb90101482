"""Small helpers that write import files and a platform database for tests, the way users would."""

from __future__ import annotations

import csv
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import MetaData, insert

CUSTOMER_HEADER = ["customer_id", "name", "email", "monthly_fee", "payment_method", "billing_cycle",
                   "contract_start", "vat_rate", "included_minutes", "dunning_exempt"]


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, header: list[str], rows: list[list]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def customer(customer_id: str, *, name: str | None = None, fee: str = "500.00", method: str = "sepa",
             cycle: str = "monthly", start: str = "", vat: str = "0.20", minutes: str = "", exempt: str = "false"):
    return [customer_id, name or f"Client {customer_id}", f"{customer_id.lower()}@example.com", fee, method, cycle,
            start, vat, minutes, exempt]


def platform(url: str, tenants: list[str]):
    """A platform database shaped like the demo's, with every flag on."""
    from lifecycle_config.databases import engine_for
    from lifecycle.demo import platform_tables

    engine = engine_for(url)
    metadata = MetaData()
    tables = platform_tables(metadata)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(tables["tenants"]), [
            {"tenant_id": tenant, "name": tenant, "admin_enabled": True, "platform_enabled": True,
             "operations_enabled": True} for tenant in tenants
        ])
    return engine
