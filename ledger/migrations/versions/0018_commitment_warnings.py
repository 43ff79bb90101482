"""Warnings before a breach, in service hours: a ticket alert may be a warning at an offset before its due
time (`offset_minutes`, working minutes; the alert key names it, so each offset goes once), and is held
until `deliver_after` when the run that computed it (`computed_at`, the run's moment) was outside the
working calendar's hours. Older alerts have neither: they go at once, as before.

Revision ID: 0018_commitment_warnings
Revises: 0016_ids_nocase
"""
import sqlalchemy as sa
from alembic import op

revision = "0018_commitment_warnings"
down_revision = "0017_ticket_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ticket_alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("offset_minutes", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("computed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("deliver_after", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ticket_alerts", schema=None) as batch_op:
        batch_op.drop_column("deliver_after")
        batch_op.drop_column("computed_at")
        batch_op.drop_column("offset_minutes")
