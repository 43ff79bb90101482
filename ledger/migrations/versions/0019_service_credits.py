"""Service credits: what each close gave back for a missed commitment, once per miss and close.

A close finds what it applied before by `credit_key`; a finalised close's rows are never recomputed, a
later close adds the difference (a correction) under its own key (policy/service_credits.py).

Revision ID: 0019_service_credits
Revises: 0016_ids_nocase
"""
import sqlalchemy as sa
from alembic import op

revision = "0019_service_credits"
down_revision = "0018_commitment_warnings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_credits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("credit_key", sa.String(length=400), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("ticket_id", sa.String(length=64), nullable=False),
        sa.Column("clock", sa.String(length=64), nullable=False),
        sa.Column("share", sa.Numeric(6, 4), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("close_month", sa.String(length=7), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.customer_id"],
                                name=op.f("fk_service_credits_customer_id_customers")),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name=op.f("fk_service_credits_invoice_id_invoices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_credits")),
        sa.UniqueConstraint("credit_key", name=op.f("uq_service_credits_credit_key")),
    )
    op.create_index(op.f("ix_service_credits_customer_id"), "service_credits", ["customer_id"])
    op.create_index(op.f("ix_service_credits_close_month"), "service_credits", ["close_month"])
    op.create_index(op.f("ix_service_credits_invoice_id"), "service_credits", ["invoice_id"])


def downgrade() -> None:
    op.drop_table("service_credits")
