"""The outbox: a notice and an access change are recorded first, as pending, then dispatched.

With SMTP down, the arrears sweep used to switch the platform, fail on the mail and roll the ledger
back: customers lost access with no notice and no record. Now the stage, the access change
(`platform_effects`) and the notice are written in one transaction, and a dispatcher applies and
sends them afterwards, by key, with retries; what could not go out stays pending, visible, and the
next run completes it.

Revision ID: 0004_outbox
Revises: 0003_faults
"""
import sqlalchemy as sa
from alembic import op

from ledger.migrations.checks import foreign_keys_hold

revision = "0004_outbox"
down_revision = "0003_faults"
branch_labels = None
depends_on = None

STATUSES = "status IN ('pending', 'sent', 'failed')"
EFFECT_STATUSES = "status IN ('pending', 'applied', 'failed')"


def upgrade() -> None:
    with op.batch_alter_table("notices") as batch:
        batch.add_column(sa.Column("status", sa.String(length=16), nullable=False, server_default="sent"))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("claimed_by", sa.String(length=255), nullable=True))
        batch.alter_column("sent_at", existing_type=sa.DateTime(timezone=True), nullable=True)
        batch.alter_column("transport", existing_type=sa.String(length=16), nullable=True)
        batch.create_check_constraint(op.f("ck_notices_status"), STATUSES)
    op.execute("UPDATE notices SET created_at = sent_at")
    op.create_table(
        "platform_effects",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("effect_key", sa.String(length=160), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("admin_enabled", sa.Boolean(), nullable=False),
        sa.Column("platform_enabled", sa.Boolean(), nullable=False),
        sa.Column("operations_enabled", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=255), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("flow_run_id", sa.String(length=64), nullable=True),
        sa.CheckConstraint(EFFECT_STATUSES, name=op.f("ck_platform_effects_status")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.customer_id"],
                                name=op.f("fk_platform_effects_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_effects")),
        sa.UniqueConstraint("effect_key", name=op.f("uq_platform_effects_effect_key")),
    )
    with op.batch_alter_table("platform_effects") as batch:
        batch.create_index(batch.f("ix_platform_effects_customer_id"), ["customer_id"], unique=False)
    foreign_keys_hold()


def downgrade() -> None:
    op.drop_table("platform_effects")
    op.execute("DELETE FROM notices WHERE status != 'sent'")
    with op.batch_alter_table("notices") as batch:
        batch.drop_constraint(op.f("ck_notices_status"), type_="check")
        batch.alter_column("transport", existing_type=sa.String(length=16), nullable=False)
        batch.alter_column("sent_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        for column in ("claimed_by", "claimed_at", "created_at", "last_error", "attempts", "status"):
            batch.drop_column(column)
    foreign_keys_hold()
