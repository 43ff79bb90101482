"""Served webhooks refuse a replayed request (`webhook_receipts`), and the ledger names the key that
seals ticket credentials (`installation.credentials_key_id`).

A request to the helpdesk's webhook is taken once: its timestamped signature is kept, under a unique
key, until a replay of it would be stale anyway (5 minutes after its moment), so every server process
sharing the ledger refuses the same request, also after a restart. The fingerprint of the credentials
key lets a process whose key file is missing or another installation's refuse to seal, rather than seal
with a key the installation does not hold.

Revision ID: 0014_webhook
Revises: 0013_installation
"""
import sqlalchemy as sa
from alembic import op

revision = "0014_webhook"
down_revision = "0013_installation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_receipts",
        sa.Column("signature", sa.String(length=80), nullable=False),
        sa.Column("endpoint", sa.String(length=40), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("signature", name=op.f("pk_webhook_receipts")),
    )
    op.create_index(op.f("ix_webhook_receipts_expires_at"), "webhook_receipts", ["expires_at"])
    with op.batch_alter_table("installation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credentials_key_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("installation", schema=None) as batch_op:
        batch_op.drop_column("credentials_key_id")
    op.drop_index(op.f("ix_webhook_receipts_expires_at"), table_name="webhook_receipts")
    op.drop_table("webhook_receipts")
