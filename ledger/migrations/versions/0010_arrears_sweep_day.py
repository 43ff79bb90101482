"""The business day of the last arrears sweep that looked at a customer (`customers.arrears_swept_on`):
a catch-up sweep for an earlier day, run after it, leaves that customer as the later sweep saw it
(its payments and its time), instead of cancelling a deletion notice the later one gave or switching
a platform back on.

Revision ID: 0010_arrears_sweep_day
Revises: 0009_credited_lines
"""
import sqlalchemy as sa
from alembic import op

revision = "0010_arrears_sweep_day"
down_revision = "0009_credited_lines"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("arrears_swept_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("arrears_swept_on")
