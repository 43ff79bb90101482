"""Ids are unique ignoring case: an index on lower(id) of every id an import is given.

An import refuses a row whose id equals an id of the ledger but for case (`C020` when `c020` exists:
one id to a person and to a filesystem that ignores case). It finds those ids by lower(id); without
these indexes each look-up would read its table whole (a second a chunk against a million
interventions). Not unique: a ledger imported before may hold two such ids already, and keeps them.

Revision ID: 0016_ids_nocase
Revises: 0015_backups
"""
import sqlalchemy as sa
from alembic import op

revision = "0016_ids_nocase"
down_revision = "0015_backups"
branch_labels = None
depends_on = None

IDS = (("customers", "customer_id"), ("invoices", "invoice_key"), ("invoices", "number"),
       ("invoices", "external_id"), ("payments", "payment_id"), ("customer_credits", "refund_id"),
       ("interventions", "intervention_id"), ("tickets", "ticket_id"))


def upgrade() -> None:
    for table, column in IDS:
        op.create_index(f"ix_{table}_{column}_nocase", table, [sa.func.lower(sa.column(column))])


def downgrade() -> None:
    for table, column in reversed(IDS):
        op.drop_index(f"ix_{table}_{column}_nocase", table_name=table)
