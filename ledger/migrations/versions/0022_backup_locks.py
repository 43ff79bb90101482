"""A backup's Object Lock as the store holds it (mode and retain-until), so `show backups` and the deletion
certificate say how long each copy stays immutable without asking the store; NULL for every existing backup and
for any backup kept where nothing locks (a folder, a bucket without Object Lock). A backup whose objects retention
or a purge let go while still locked is `deleted` without a `deleted_at` until its lock passes and the objects go.

Revision ID: 0022_backup_locks
Revises: 0021_delivery_address
"""
from alembic import op

revision = "0022_backup_locks"
down_revision = "0021_delivery_address"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ALTER TABLEs, not a batch (see 0021): both databases take them as they are
    op.execute("ALTER TABLE backups ADD COLUMN lock_mode VARCHAR(16)")
    op.execute("ALTER TABLE backups ADD COLUMN locked_until TIMESTAMP WITH TIME ZONE"
               if op.get_bind().dialect.name == "postgresql" else "ALTER TABLE backups ADD COLUMN locked_until DATETIME")


def downgrade() -> None:
    op.execute("ALTER TABLE backups DROP COLUMN locked_until")
    op.execute("ALTER TABLE backups DROP COLUMN lock_mode")
