"""Tickets: the helpdesk's support requests, whose moments stop the clocks of the service commitments
(seeds 000, 001, 003, 004), with a customer's credentials kept only as a Fernet token until the
ticket is closed; `ticket_alerts` makes each at-risk or breached alert go to ops once per ticket,
clock and state.

Revision ID: 0008_tickets
Revises: 0007_cancellations
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_tickets"
down_revision = "0007_cancellations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("ticket_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=True),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("workaround_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("customization_delivered_on", sa.Date(), nullable=True),
        sa.Column("credentials_token", sa.Text(), nullable=True),
        sa.Column("credentials_purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("type IN ('blocking_bug', 'bug', 'evolution', 'new_feature', 'question', 'assistance', "
                           "'customization', 'other')", name=op.f("ck_tickets_type")),
        sa.CheckConstraint("channel IN ('mail', 'form', 'phone', 'chat')", name=op.f("ck_tickets_channel")),
        sa.CheckConstraint("severity IN ('critical', 'major', 'minor')", name=op.f("ck_tickets_severity")),
        sa.CheckConstraint("source IN ('import', 'webhook', 'demo')", name=op.f("ck_tickets_source")),
        sa.CheckConstraint("level IN (1, 2)", name=op.f("ck_tickets_level")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.customer_id"], name=op.f("fk_tickets_customer_id_customers")),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_tickets")),
    )
    op.create_index(op.f("ix_tickets_customer_id"), "tickets", ["customer_id"])
    op.create_index(op.f("ix_tickets_closed_at"), "tickets", ["closed_at"])
    op.create_table(
        "ticket_alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_key", sa.String(length=160), nullable=False),
        sa.Column("ticket_id", sa.String(length=64), nullable=False),
        sa.Column("clock", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("flow_run_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.ticket_id"], name=op.f("fk_ticket_alerts_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_alerts")),
        sa.UniqueConstraint("alert_key", name=op.f("uq_ticket_alerts_alert_key")),
    )


def downgrade() -> None:
    op.drop_table("ticket_alerts")
    op.drop_index(op.f("ix_tickets_closed_at"), table_name="tickets")
    op.drop_index(op.f("ix_tickets_customer_id"), table_name="tickets")
    op.drop_table("tickets")
