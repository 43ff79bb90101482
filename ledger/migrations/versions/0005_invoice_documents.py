"""Invoices customers receive: the buyer's legal identity, each invoice's document, mail attachments.

An invoice existed only in the ledger and finance's workbook. French law wants the buyer's address
and, for a company, its SIREN and VAT number on the invoice; the Factur-X PDF of each finalised
invoice is kept in object storage (`document_key`, its SHA-256 so a re-render can be told apart);
the mail that carries it is a notice like any other, with the document as its attachment.

Revision ID: 0005_invoice_documents
Revises: 0004_outbox
"""
import sqlalchemy as sa
from alembic import op

from ledger.migrations.checks import foreign_keys_hold

revision = "0005_invoice_documents"
down_revision = "0004_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("billing_address", sa.Text(), nullable=True))
        batch.add_column(sa.Column("siren", sa.String(length=14), nullable=True))
        batch.add_column(sa.Column("vat_number", sa.String(length=20), nullable=True))
    with op.batch_alter_table("invoices") as batch:
        batch.add_column(sa.Column("document_key", sa.Text(), nullable=True))
        batch.add_column(sa.Column("document_sha256", sa.String(length=64), nullable=True))
    with op.batch_alter_table("notices") as batch:
        batch.add_column(sa.Column("attachment_key", sa.Text(), nullable=True))
        batch.add_column(sa.Column("invoice_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_notices_invoice_id_invoices"), "invoices", ["invoice_id"], ["id"])
        batch.create_index(op.f("ix_notices_invoice_id"), ["invoice_id"])
    # invoices issued before documents existed are never rendered and mailed behind finance's back by the
    # next close: an empty key says so (`send-invoices` renders them when asked)
    op.execute("UPDATE invoices SET document_key = '' WHERE number IS NOT NULL AND kind IN ('monthly', 'penalty')")
    foreign_keys_hold()


def downgrade() -> None:
    with op.batch_alter_table("notices") as batch:
        batch.drop_index(op.f("ix_notices_invoice_id"))
        batch.drop_constraint(op.f("fk_notices_invoice_id_invoices"), type_="foreignkey")
        batch.drop_column("invoice_id")
        batch.drop_column("attachment_key")
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("document_sha256")
        batch.drop_column("document_key")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("vat_number")
        batch.drop_column("siren")
        batch.drop_column("billing_address")
