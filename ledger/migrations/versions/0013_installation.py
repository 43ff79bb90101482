"""The ledger's identity (`installation`): one row, a UUID made when the ledger is created or migrated.

Every run carries the identity of the ledger it was meant for, and a worker refuses a run meant for
another ledger; a command refuses a Prefect server registered by another installation
(lifecycle_config/installation.py).

Revision ID: 0013_installation
Revises: 0012_billed
"""
import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0013_installation"
down_revision = "0012_billed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "installation",
        sa.Column("only_row", sa.Boolean(), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("only_row", name=op.f("ck_installation_only_row")),
        sa.PrimaryKeyConstraint("only_row", name=op.f("pk_installation")),
        sa.UniqueConstraint("id", name=op.f("uq_installation_id")),
    )
    op.bulk_insert(table, [{"only_row": True, "id": str(uuid.uuid4()), "created_at": datetime.now(timezone.utc)}])


def downgrade() -> None:
    op.drop_table("installation")
