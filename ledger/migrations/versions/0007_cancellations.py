"""Cancellations: a customer's cancellation (received, withdrawn, effective, closed) is a row of
`cancellations`; `customers.cancelled_on` is the day its service ended, which every rule that bills,
backs up or switches access reads.

Revision ID: 0007_cancellations
Revises: 0006_corrections
"""
import sqlalchemy as sa
from alembic import op

from ledger.migrations.checks import foreign_keys_hold

revision = "0007_cancellations"
down_revision = "0006_corrections"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cancellations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("final_backup_id", sa.String(length=80), nullable=True),
        sa.Column("flow_run_id", sa.String(length=64), nullable=True),
        sa.CheckConstraint("status IN ('received', 'withdrawn', 'effective', 'closed')",
                           name=op.f("ck_cancellations_status")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.customer_id"],
                                name=op.f("fk_cancellations_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cancellations")),
        sa.UniqueConstraint("customer_id", "received_on", name=op.f("uq_cancellations_customer_id_received_on")),
    )
    op.create_index(op.f("ix_cancellations_customer_id"), "cancellations", ["customer_id"])
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("cancelled_on", sa.Date(), nullable=True))
    foreign_keys_hold()


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("cancelled_on")
    op.drop_index(op.f("ix_cancellations_customer_id"), table_name="cancellations")
    op.drop_table("cancellations")
