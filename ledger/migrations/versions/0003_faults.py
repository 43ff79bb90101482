"""Faults: a lock says who holds it and beats while held; a backup found damaged is `corrupt`.

A lock row used to outlive a killed run for its whole 12-hour time-to-live, so every backup,
restore and purge of that customer failed all night. Now it carries its holder's host, process,
flow run and a heartbeat, and a lock whose holder is gone is taken over at once (ledger.locks).

Revision ID: 0003_faults
Revises: 0002_vocabulary
"""
import sqlalchemy as sa
from alembic import op

from ledger.migrations.checks import foreign_keys_hold

revision = "0003_faults"
down_revision = "0002_vocabulary"
branch_labels = None
depends_on = None

BACKUP_STATUSES = ("running", "good", "failed", "deleted", "corrupt")
EARLIER_STATUSES = ("running", "good", "failed", "deleted")


def _statuses(values) -> str:
    return "status IN (" + ", ".join(f"'{value}'" for value in values) + ")"


def upgrade() -> None:
    with op.batch_alter_table("customer_locks") as batch:
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("host", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("flow_run_id", sa.String(length=64), nullable=True))
    with op.batch_alter_table("backups") as batch:
        batch.drop_constraint(op.f("ck_backups_status"), type_="check")
        batch.create_check_constraint(op.f("ck_backups_status"), _statuses(BACKUP_STATUSES))
    foreign_keys_hold()


def downgrade() -> None:
    op.execute("UPDATE backups SET status = 'failed' WHERE status = 'corrupt'")
    with op.batch_alter_table("backups") as batch:
        batch.drop_constraint(op.f("ck_backups_status"), type_="check")
        batch.create_check_constraint(op.f("ck_backups_status"), _statuses(EARLIER_STATUSES))
    with op.batch_alter_table("customer_locks") as batch:
        for column in ("flow_run_id", "pid", "host", "heartbeat_at"):
            batch.drop_column(column)
    foreign_keys_hold()
