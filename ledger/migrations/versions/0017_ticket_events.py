"""A ticket's status history (`ticket_events`), the pause rule's (`pause_rules`), and a customer's
commitment tier (`customers.commitment_tier`): the facts from which the clocks pause, restart and follow a
customer's own commitment set (policy/pauses.py).

Revision ID: 0017_ticket_events
Revises: 0016_ids_nocase
"""
import sqlalchemy as sa
from alembic import op

revision = "0017_ticket_events"
down_revision = "0016_ids_nocase"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('open', 'waiting_customer', 'in_progress', 'resolved', 'closed', 'reopened')",
                           name=op.f("ck_ticket_events_status")),
        sa.CheckConstraint("source IN ('import', 'webhook', 'demo')", name=op.f("ck_ticket_events_source")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.ticket_id"],
                                name=op.f("fk_ticket_events_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_events")),
        sa.UniqueConstraint("ticket_id", "at", "status", name=op.f("uq_ticket_events_ticket_id_at_status")),
    )
    op.create_index(op.f("ix_ticket_events_ticket_id"), "ticket_events", ["ticket_id"])
    op.create_table(
        "pause_rules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("flow_run_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pause_rules")),
    )
    op.create_index(op.f("ix_pause_rules_effective_at"), "pause_rules", ["effective_at"])
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("commitment_tier", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("commitment_tier")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite's batch mode copies the table, and an expression index is not reflected: 0016's is made again
        op.execute("CREATE INDEX IF NOT EXISTS ix_customers_customer_id_nocase ON customers (lower(customer_id))")
    op.drop_index(op.f("ix_pause_rules_effective_at"), table_name="pause_rules")
    op.drop_table("pause_rules")
    op.drop_index(op.f("ix_ticket_events_ticket_id"), table_name="ticket_events")
    op.drop_table("ticket_events")
