"""Corrections: credit notes, settlements that are not payments, and the customer's credit.

An issued invoice never changes; finance corrects it with a credit note, an invoice of its own kind
(`credit_note`, negative totals) that names the invoice it credits (`credits_id`). What settles an
invoice is no longer only a customer's payment: a credit note, or a customer credit applied at a
close, settles it too (`payments.kind`), so every balance in the ledger keeps being one sum. Money the
vendor owes a customer (an overpayment, a credit note beyond what was left to pay) is a movement of
`customer_credits`; a refund or an application at a close takes it back out.

Revision ID: 0006_corrections
Revises: 0005_invoice_documents
"""
import sqlalchemy as sa
from alembic import op

from ledger.migrations.checks import foreign_keys_hold

revision = "0006_corrections"
down_revision = "0005_invoice_documents"
branch_labels = None
depends_on = None

KINDS_BEFORE = "kind IN ('monthly', 'penalty', 'imported')"
KINDS_AFTER = "kind IN ('monthly', 'penalty', 'imported', 'credit_note')"


def upgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.drop_constraint(op.f("ck_invoices_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_invoices_kind"), KINDS_AFTER)
        batch.add_column(sa.Column("credits_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_invoices_credits_id_invoices"), "invoices", ["credits_id"], ["id"])
        batch.create_index(op.f("ix_invoices_credits_id"), ["credits_id"])
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="payment"))
        batch.create_check_constraint(op.f("ck_payments_kind"), "kind IN ('payment', 'credit_note', 'credit')")
        batch.add_column(sa.Column("credit_note_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_payments_credit_note_id_invoices"), "invoices", ["credit_note_id"], ["id"])
    op.create_table(
        "customer_credits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("movement_key", sa.String(length=160), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("payment_id", sa.String(length=64), nullable=True),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("refund_id", sa.String(length=64), nullable=True),
        sa.Column("reference", sa.String(length=120), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("flow_run_id", sa.String(length=64), nullable=True),
        sa.CheckConstraint("kind IN ('overpayment', 'credit_note', 'applied', 'refund')",
                           name=op.f("ck_customer_credits_kind")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.customer_id"],
                                name=op.f("fk_customer_credits_customer_id_customers")),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.payment_id"],
                                name=op.f("fk_customer_credits_payment_id_payments")),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name=op.f("fk_customer_credits_invoice_id_invoices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_credits")),
        sa.UniqueConstraint("movement_key", name=op.f("uq_customer_credits_movement_key")),
        sa.UniqueConstraint("refund_id", name=op.f("uq_customer_credits_refund_id")),
    )
    op.create_index(op.f("ix_customer_credits_customer_id"), "customer_credits", ["customer_id"])
    foreign_keys_hold()


def downgrade() -> None:
    op.drop_index(op.f("ix_customer_credits_customer_id"), table_name="customer_credits")
    op.drop_table("customer_credits")
    with op.batch_alter_table("payments") as batch:
        batch.drop_constraint(op.f("fk_payments_credit_note_id_invoices"), type_="foreignkey")
        batch.drop_column("credit_note_id")
        batch.drop_constraint(op.f("ck_payments_kind"), type_="check")
        batch.drop_column("kind")
    with op.batch_alter_table("invoices") as batch:
        batch.drop_index(op.f("ix_invoices_credits_id"))
        batch.drop_constraint(op.f("fk_invoices_credits_id_invoices"), type_="foreignkey")
        batch.drop_column("credits_id")
        batch.drop_constraint(op.f("ck_invoices_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_invoices_kind"), KINDS_BEFORE)
