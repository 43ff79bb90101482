"""Moving in from another billing system, in the customer's own language.

- `customers.language`: the language of every text the customer receives (`fr`/`en`; null = the terms'
  `invoice_language`, so customers imported before keep what they had).
- `customers.subscription_start`: the first day its subscription may be billed (its `contract_start`, else
  the first day of its earliest imported invoice's service period; null = no bound).
- `invoices.period_start` / `period_end`: the subscription service period an invoice billed (inclusive),
  and `bills_subscription`: whether it billed the subscription for that period at all. Together they give
  each customer's billed-through day, so a close never bills a subscription day twice.

Revision ID: 0011_moving_in
Revises: 0010_arrears_sweeps
"""
import sqlalchemy as sa
from alembic import op

revision = "0011_moving_in"
down_revision = "0010_arrears_sweeps"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column("subscription_start", sa.Date(), nullable=True))
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("period_start", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("period_end", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("bills_subscription", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_column("bills_subscription")
        batch_op.drop_column("period_end")
        batch_op.drop_column("period_start")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("subscription_start")
        batch_op.drop_column("language")
