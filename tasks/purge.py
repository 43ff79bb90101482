"""Purge: delete a customer's platform data and every backup of it, all versions, and say what went.

Used by the arrears flow after an approved deletion (seed 001: "After 6 months your data is
deleted"). The tenants row stays (with every flag off) and so do invoices, payments and the audit
trail: accounting records are kept for ten years. It takes the customer's lock, so no backup or
restore of the same customer runs meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select, update

from blocks.platform import PlatformControl
from blocks.storage import ObjectStorage
from ledger import keys
from ledger.db import now, session_scope
from ledger.locks import customer_lock
from ledger.models import Backup
from policy.vocabulary import BackupStatus
from lifecycle_config.failpoints import failpoint


@dataclass
class PurgePlan:
    customer_id: str
    tables: dict[str, int] = field(default_factory=dict)       # table -> rows of the customer
    backups: list[str] = field(default_factory=list)            # backup ids in the ledger
    objects: list[str] = field(default_factory=list)            # object keys in storage

    def markdown(self, title: str) -> str:
        rows = "\n".join(f"| {name} | {count} |" for name, count in self.tables.items()) or "| (no data table) | 0 |"
        backups = "\n".join(f"- {backup_id}" for backup_id in self.backups) or "_none_"
        return (f"# {title}\n\n**Customer {self.customer_id}**\n\n## Platform data\n\n| table | rows |\n|---|---:|\n"
                f"{rows}\n\n## Backups ({len(self.backups)}, {len(self.objects)} objects)\n\n{backups}\n\n"
                "Invoices, payments and the audit trail are kept (10-year legal retention).")


def plan_purge(customer_id: str, platform: PlatformControl, storage: ObjectStorage, engine=None) -> PurgePlan:
    plan = PurgePlan(customer_id, platform.row_counts(customer_id))
    with session_scope(engine) as session:
        plan.backups = list(session.scalars(select(Backup.backup_id).where(Backup.customer_id == customer_id,
                                                                           Backup.status != BackupStatus.DELETED)))
    plan.objects = [item.key for item in storage.store().list(keys.customer_backups(customer_id))]
    return plan


def purge_customer(customer_id: str, platform: PlatformControl, storage: ObjectStorage, *, holder: str,
                   engine=None) -> dict:
    """Delete everything of the customer's data; returns what was deleted (rows per table, object versions)."""
    with customer_lock(customer_id, holder, engine=engine):
        rows = platform.delete_rows(customer_id)
        failpoint("purge.platform-deleted")
        store = storage.store()
        objects = []
        for item in store.list(keys.customer_backups(customer_id)):
            objects += store.delete(item.key)
            failpoint("purge.object-deleted")
        with session_scope(engine, write=True) as session:
            backups = list(session.scalars(select(Backup.backup_id).where(Backup.customer_id == customer_id,
                                                                          Backup.status != BackupStatus.DELETED)))
            session.execute(update(Backup).where(Backup.backup_id.in_(backups)).values(status=BackupStatus.DELETED,
                                                                                         deleted_at=now()))
    return {"platform_rows": rows, "backups": backups, "objects": objects}
