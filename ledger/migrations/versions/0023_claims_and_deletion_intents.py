"""Two records that make a crash or a second home visible: which home serves this ledger (`ledger_claim`, one
row, written by `lifecycle up` and `lifecycle db adopt`), and an approved deletion recorded before its keys are
shredded (`deletion_intents`), completed with its certificate by the same run or the next one.

Revision ID: 0023_claims_and_deletion_intents
Revises: 0022_backup_locks
"""
import sqlalchemy as sa
from alembic import op

revision = "0023_claims_and_deletion_intents"
down_revision = "0022_backup_locks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_claim",
        sa.Column("only_row", sa.Boolean(), nullable=False),
        sa.Column("home", sa.Text(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("api_url", sa.Text(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("how", sa.String(length=16), nullable=False),
        sa.CheckConstraint("only_row", name=op.f("ck_ledger_claim_only_row")),
        sa.PrimaryKeyConstraint("only_row", name=op.f("pk_ledger_claim")),
    )
    op.create_table(
        "deletion_intents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(length=120), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("key_ids", sa.JSON(), nullable=False),
        sa.Column("flow_run_id", sa.String(length=64), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.customer_id"],
                                name=op.f("fk_deletion_intents_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deletion_intents")),
        sa.UniqueConstraint("customer_id", name=op.f("uq_deletion_intents_customer_id")),
    )


def downgrade() -> None:
    op.drop_table("deletion_intents")
    op.drop_table("ledger_claim")
