"""A customer's delivery address, printed on its invoices when it is not its billing address (one of the mentions
the e-invoicing reform adds from 2026, BG-15 in the Factur-X XML). Empty for every existing customer: their
invoices stay as they were.

Revision ID: 0021_delivery_address
Revises: 0020_einvoicing
"""
from alembic import op

revision = "0021_delivery_address"
down_revision = "0020_einvoicing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # one ALTER TABLE both databases take, not a batch: SQLite's batch mode copies the table and would lose the
    # expression index on lower(customer_id) (migration 0016), which it cannot reflect
    op.execute("ALTER TABLE customers ADD COLUMN delivery_address TEXT")


def downgrade() -> None:
    op.execute("ALTER TABLE customers DROP COLUMN delivery_address")
