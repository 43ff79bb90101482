"""E-invoicing through the vendor's approved platform: who each customer is for the reform (`buyer_kind`), the
flows deposited on the platform and the statuses it gave back.

Existing customers get the kind the customers import gives by default (policy.einvoicing.buyer_kind_of): a
SIREN makes a French business, a VAT number of another country a foreign one, anything else a private person.

Revision ID: 0020_einvoicing
Revises: 0019_service_credits
"""
import sqlalchemy as sa
from alembic import op

revision = "0020_einvoicing"
down_revision = "0019_service_credits"
branch_labels = None
depends_on = None

KINDS = ("fr_business", "foreign_business", "private")


def _one_of(column: str, values) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"{column} IN ({', '.join(repr(value) for value in values)})",
                              name=op.f(f"ck_einvoice_flows_{column}"))


def upgrade() -> None:
    # one ALTER TABLE both databases take, not a batch: SQLite's batch mode copies the table and would lose the
    # expression index on lower(customer_id) (migration 0016), which it cannot reflect
    op.execute(f"ALTER TABLE customers ADD COLUMN buyer_kind VARCHAR(20) DEFAULT 'private' NOT NULL "
               f"CONSTRAINT ck_customers_buyer_kind CHECK (buyer_kind IN ({', '.join(repr(k) for k in KINDS)}))")
    customers = sa.table("customers", sa.column("siren", sa.String), sa.column("vat_number", sa.String),
                         sa.column("buyer_kind", sa.String))
    bind = op.get_bind()
    bind.execute(sa.update(customers).where(customers.c.siren.is_not(None), customers.c.siren != "")
                 .values(buyer_kind="fr_business"))
    bind.execute(sa.update(customers).where(sa.or_(customers.c.siren.is_(None), customers.c.siren == ""),
                                            customers.c.vat_number.is_not(None), customers.c.vat_number != "",
                                            sa.func.upper(sa.func.substr(customers.c.vat_number, 1, 2)) != "FR")
                 .values(buyer_kind="foreign_business"))

    op.create_table(
        "einvoice_flows",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tracking_id", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.String(length=64), nullable=True),
        sa.Column("deposit", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.String(length=64), nullable=True),
        sa.Column("period", sa.String(length=16), nullable=True),
        sa.Column("syntax", sa.String(length=16), nullable=False),
        sa.Column("processing_rule", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("flow_id", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deposited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("flow_run_id", sa.String(length=64), nullable=True),
        _one_of("kind", ("document", "status", "e_reporting")),
        _one_of("state", ("pending", "deposited", "refused")),
        _one_of("syntax", ("Factur-X", "UBL", "CII", "CDAR")),
        _one_of("processing_rule", ("B2B", "B2BInt", "B2C")),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name=op.f("fk_einvoice_flows_invoice_id_invoices")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.customer_id"],
                                name=op.f("fk_einvoice_flows_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_einvoice_flows")),
        sa.UniqueConstraint("tracking_id", name=op.f("uq_einvoice_flows_tracking_id")),
    )
    op.create_index(op.f("ix_einvoice_flows_invoice_id"), "einvoice_flows", ["invoice_id"])
    op.create_index(op.f("ix_einvoice_flows_customer_id"), "einvoice_flows", ["customer_id"])
    op.create_table(
        "einvoice_statuses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("flow_pk", sa.Integer(), nullable=False),
        sa.Column("code", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=80), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["flow_pk"], ["einvoice_flows.id"], name=op.f("fk_einvoice_statuses_flow_pk_einvoice_flows")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_einvoice_statuses")),
        sa.UniqueConstraint("flow_pk", "code", "at", name=op.f("uq_einvoice_statuses_flow_pk_code_at")),
    )
    op.create_index(op.f("ix_einvoice_statuses_flow_pk"), "einvoice_statuses", ["flow_pk"])


def downgrade() -> None:
    op.drop_table("einvoice_statuses")
    op.drop_table("einvoice_flows")
    op.execute("ALTER TABLE customers DROP COLUMN buyer_kind")  # SQLite 3.35+ drops a column with its CHECK
