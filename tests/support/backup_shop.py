"""A small shop for the backup operations' fast tests: a migrated SQLite ledger with ACME and BETA, a SQLite
platform shaped like the demo's with their rows, and object storage in a folder; no server."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text

from blocks.platform import PlatformControl
from blocks.storage import ObjectStorage
from ledger.imports import import_file
from tests.support.builders import CUSTOMER_HEADER, customer, platform, write_csv
from tests.support.sqlite_ledger import sqlite_ledger

#: rows each customer has on the platform
USERS = {"ACME": 30, "BETA": 4}


@dataclass
class Shop:
    ledger: object              # the ledger's engine
    platform: PlatformControl
    storage: ObjectStorage
    objects: Path               # the storage folder
    sandbox_url: str
    platform_engine: object


def backup_shop(tmp_path: Path, monkeypatch, today: str) -> Shop:
    ledger = sqlite_ledger(tmp_path, monkeypatch, today)
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME"), customer("BETA")]),
                engine=ledger)
    engine = platform(os.environ["LIFECYCLE_PLATFORM_URL"], list(USERS))
    with engine.begin() as connection:
        for tenant, count in USERS.items():
            connection.execute(text("INSERT INTO users (tenant_id, email, full_name, role, created_at) VALUES "
                                    "(:t, :e, 'Hélène', 'investor', '2025-01-02 03:04:05')"),
                               [{"t": tenant, "e": f"{tenant}{n}@example.com"} for n in range(count)])
            connection.execute(text("INSERT INTO operations (tenant_id, title, target_amount, status, opened_on) "
                                    "VALUES (:t, 'Projet Émeraude', 12345.67, 'open', '2026-05-01')"), [{"t": tenant}])
    objects = tmp_path / "objects"
    return Shop(ledger, PlatformControl(), ObjectStorage(url=objects.as_uri()), objects,
                f"sqlite:///{tmp_path / 'sandbox.db'}", engine)


def backed_up_shop(tmp_path: Path, monkeypatch, day) -> Shop:
    """The shop with a good backup of each of its customers (ACME, BETA) taken on `day`."""
    from operations.backup import backup_customer

    shop = backup_shop(tmp_path, monkeypatch, day.isoformat())
    for customer_id in ("ACME", "BETA"):
        assert backup_customer(customer_id, day, shop.platform, shop.storage, engine=shop.ledger).status == "good"
    return shop


def stored_plain(storage: ObjectStorage, key: str, customer_id: str | None = None) -> bytes:
    """An object of a backup as the product reads it back (decrypted under its owner's data key): what a test
    checks of a manifest; the stored bytes themselves are ciphertext."""
    from operations.backup_objects import BackupObjects

    return BackupObjects(storage, customer_id=customer_id).read_bytes(key)
