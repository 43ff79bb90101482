"""A backup whose objects are missing from storage is `gone`, no longer `corrupt`.

A restore that found its backup's objects deleted (by a retention running beside it, or by hand)
used to mark it `corrupt`, as if its bytes were damaged; ops then looked for a storage fault that
was not there. Missing is its own status.

Revision ID: 0015_backups
Revises: 0014_webhook
"""
from alembic import op

from ledger.migrations.checks import foreign_keys_hold

revision = "0015_backups"
down_revision = "0014_webhook"
branch_labels = None
depends_on = None

BACKUP_STATUSES = ("running", "good", "failed", "deleted", "corrupt", "gone")
EARLIER_STATUSES = ("running", "good", "failed", "deleted", "corrupt")


def _statuses(values) -> str:
    return "status IN (" + ", ".join(f"'{value}'" for value in values) + ")"


def upgrade() -> None:
    with op.batch_alter_table("backups") as batch:
        batch.drop_constraint(op.f("ck_backups_status"), type_="check")
        batch.create_check_constraint(op.f("ck_backups_status"), _statuses(BACKUP_STATUSES))
    foreign_keys_hold()


def downgrade() -> None:
    op.execute("UPDATE backups SET status = 'corrupt' WHERE status = 'gone'")
    with op.batch_alter_table("backups") as batch:
        batch.drop_constraint(op.f("ck_backups_status"), type_="check")
        batch.create_check_constraint(op.f("ck_backups_status"), _statuses(EARLIER_STATUSES))
    foreign_keys_hold()
