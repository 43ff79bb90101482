"""A credit note's line that credits a whole line of its invoice says which (`credited_position`): a
line credited once is never credited again by a later note, which the invoice's total alone did not
prevent (two notes on the same line of an invoice with other lines).

Revision ID: 0009_credited_lines
Revises: 0008_tickets
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_credited_lines"
down_revision = "0008_tickets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credited_position", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.drop_column("credited_position")
