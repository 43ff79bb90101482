"""The business days the arrears sweep ran for (`arrears_sweeps`): a sweep for a day before one already
swept changes nothing. The later sweep saw more (payments and time) and did everything an earlier day
could (penalties go by due date, stages carry their own effective dates); an earlier day's view would
only rewrite it backwards: a platform switched back on, or off for a customer who has paid since, a
deletion notice cancelled and given again, the same stage recorded twice.

Revision ID: 0010_arrears_sweeps
Revises: 0009_credited_lines
"""
import sqlalchemy as sa
from alembic import op

revision = "0010_arrears_sweeps"
down_revision = "0009_credited_lines"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "arrears_sweeps",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("first_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("forced_reason", sa.Text(), nullable=True),
        sa.Column("flow_run_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_arrears_sweeps")),
    )


def downgrade() -> None:
    op.drop_table("arrears_sweeps")
