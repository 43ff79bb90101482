"""The initial ledger: customers, invoices, payments, support time, standby, arrears, backups, audit.

Revision ID: 0001_initial
Revises: 
Create Date: 2026-11-22 21:29:59.149142
"""
from alembic import op
import sqlalchemy as sa


revision = '0001_initial'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=True),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('flow_run_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_customer_id'), ['customer_id'], unique=False)

    op.create_table('backups',
    sa.Column('backup_id', sa.String(length=80), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('rows', sa.BigInteger(), nullable=True),
    sa.Column('bytes', sa.BigInteger(), nullable=True),
    sa.Column('schema_fingerprint', sa.String(length=64), nullable=True),
    sa.Column('manifest_key', sa.Text(), nullable=True),
    sa.Column('manifest', sa.JSON(), nullable=True),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('flow_run_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('backup_id', name=op.f('pk_backups'))
    )
    with op.batch_alter_table('backups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_backups_customer_id'), ['customer_id'], unique=False)

    op.create_table('customer_locks',
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('holder', sa.String(length=160), nullable=False),
    sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_customer_locks'))
    )
    op.create_table('customers',
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('monthly_fee', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('payment_method', sa.String(length=32), nullable=False),
    sa.Column('billing_cycle', sa.String(length=16), nullable=False),
    sa.Column('contract_start', sa.Date(), nullable=True),
    sa.Column('vat_rate', sa.Numeric(precision=6, scale=4), nullable=False),
    sa.Column('included_minutes', sa.Integer(), nullable=True),
    sa.Column('dunning_exempt', sa.Boolean(), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('deletion_status', sa.String(length=32), nullable=True),
    sa.Column('deletion_due_on', sa.Date(), nullable=True),
    sa.Column('deletion_flow_run_id', sa.String(length=64), nullable=True),
    sa.Column('admin_enabled', sa.Boolean(), nullable=False),
    sa.Column('platform_enabled', sa.Boolean(), nullable=False),
    sa.Column('operations_enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_customers'))
    )
    op.create_table('exports',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('bytes', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('flow_run_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exports')),
    sa.UniqueConstraint('month', 'fingerprint', name=op.f('uq_exports_month_fingerprint')),
    sa.UniqueConstraint('month', 'version', name=op.f('uq_exports_month_version'))
    )
    op.create_table('invoice_sequences',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.Column('last_issued_on', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_invoice_sequences'))
    )
    op.create_table('monthly_closes',
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('terms', sa.JSON(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('flow_run_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('month', name=op.f('pk_monthly_closes'))
    )
    op.create_table('terms_copies',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('terms', sa.JSON(), nullable=False),
    sa.Column('first_used_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_terms_copies')),
    sa.UniqueConstraint('fingerprint', name=op.f('uq_terms_copies_fingerprint'))
    )
    op.create_table('deletion_certificates',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('approved_by', sa.String(length=120), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('deleted', sa.JSON(), nullable=False),
    sa.Column('flow_run_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.customer_id'], name=op.f('fk_deletion_certificates_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deletion_certificates')),
    sa.UniqueConstraint('customer_id', name=op.f('uq_deletion_certificates_customer_id'))
    )
    op.create_table('invoices',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('invoice_key', sa.String(length=160), nullable=False),
    sa.Column('number', sa.String(length=16), nullable=True),
    sa.Column('external_id', sa.String(length=64), nullable=True),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('total_ht', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('total_vat', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('total_ttc', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('penalty_for_id', sa.Integer(), nullable=True),
    sa.Column('close_month', sa.String(length=7), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finalised_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('flow_run_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.customer_id'], name=op.f('fk_invoices_customer_id_customers')),
    sa.ForeignKeyConstraint(['penalty_for_id'], ['invoices.id'], name=op.f('fk_invoices_penalty_for_id_invoices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
    sa.UniqueConstraint('external_id', name=op.f('uq_invoices_external_id')),
    sa.UniqueConstraint('invoice_key', name=op.f('uq_invoices_invoice_key')),
    sa.UniqueConstraint('number', name=op.f('uq_invoices_number')),
    sa.UniqueConstraint('penalty_for_id', name=op.f('uq_invoices_penalty_for_id'))
    )
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoices_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoices_month'), ['month'], unique=False)

    op.create_table('notices',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('notice_key', sa.String(length=160), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('to', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('transport', sa.String(length=16), nullable=False),
    sa.Column('location', sa.Text(), nullable=True),
    sa.Column('flow_run_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.customer_id'], name=op.f('fk_notices_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notices')),
    sa.UniqueConstraint('notice_key', name=op.f('uq_notices_notice_key'))
    )
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notices_customer_id'), ['customer_id'], unique=False)

    op.create_table('quota_periods',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('included_minutes', sa.Integer(), nullable=False),
    sa.Column('used_minutes', sa.Integer(), nullable=False),
    sa.Column('over_minutes', sa.Integer(), nullable=False),
    sa.Column('standby_days', sa.Integer(), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.customer_id'], name=op.f('fk_quota_periods_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quota_periods')),
    sa.UniqueConstraint('customer_id', 'month', name=op.f('uq_quota_periods_customer_id_month'))
    )
    op.create_table('stage_changes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('previous_stage', sa.String(length=32), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('effective_on', sa.Date(), nullable=False),
    sa.Column('anchor_due_on', sa.Date(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('flow_run_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.customer_id'], name=op.f('fk_stage_changes_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stage_changes')),
    sa.UniqueConstraint('customer_id', 'effective_on', 'stage', name=op.f('uq_stage_changes_customer_id_effective_on_stage'))
    )
    with op.batch_alter_table('stage_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stage_changes_customer_id'), ['customer_id'], unique=False)

    op.create_table('standby_periods',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('start_on', sa.Date(), nullable=False),
    sa.Column('end_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requested_by', sa.String(length=120), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.customer_id'], name=op.f('fk_standby_periods_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standby_periods')),
    sa.UniqueConstraint('customer_id', 'start_on', name=op.f('uq_standby_periods_customer_id_start_on'))
    )
    with op.batch_alter_table('standby_periods', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_standby_periods_customer_id'), ['customer_id'], unique=False)

    op.create_table('interventions',
    sa.Column('intervention_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('ticket', sa.String(length=64), nullable=True),
    sa.Column('engineer', sa.String(length=120), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('free_minutes', sa.Integer(), nullable=True),
    sa.Column('billed_minutes', sa.Integer(), nullable=True),
    sa.Column('amount_ht', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('invoice_id', sa.Integer(), nullable=True),
    sa.Column('close_month', sa.String(length=7), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.customer_id'], name=op.f('fk_interventions_customer_id_customers')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_interventions_invoice_id_invoices')),
    sa.PrimaryKeyConstraint('intervention_id', name=op.f('pk_interventions'))
    )
    with op.batch_alter_table('interventions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_interventions_close_month'), ['close_month'], unique=False)
        batch_op.create_index('ix_interventions_customer_month', ['customer_id', 'month'], unique=False)
        batch_op.create_index(batch_op.f('ix_interventions_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_interventions_month'), ['month'], unique=False)

    op.create_table('invoice_lines',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('service_month', sa.String(length=7), nullable=True),
    sa.Column('quantity', sa.Numeric(precision=12, scale=4), nullable=False),
    sa.Column('unit_price', sa.Numeric(precision=14, scale=4), nullable=False),
    sa.Column('amount_ht', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('vat_rate', sa.Numeric(precision=6, scale=4), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_lines_invoice_id_invoices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_lines')),
    sa.UniqueConstraint('invoice_id', 'position', name=op.f('uq_invoice_lines_invoice_id_position'))
    )
    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_lines_invoice_id'), ['invoice_id'], unique=False)

    op.create_table('payments',
    sa.Column('payment_id', sa.String(length=64), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_payments_invoice_id_invoices')),
    sa.PrimaryKeyConstraint('payment_id', name=op.f('pk_payments'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_invoice_id'), ['invoice_id'], unique=False)

    op.create_table('restore_jobs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('request_key', sa.String(length=120), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('backup_id', sa.String(length=80), nullable=False),
    sa.Column('target', sa.String(length=16), nullable=False),
    sa.Column('requested_by', sa.String(length=120), nullable=False),
    sa.Column('ticket', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('seconds', sa.Numeric(precision=12, scale=3), nullable=True),
    sa.Column('intervention_id', sa.String(length=64), nullable=True),
    sa.Column('safety_backup_id', sa.String(length=80), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['backup_id'], ['backups.backup_id'], name=op.f('fk_restore_jobs_backup_id_backups')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.customer_id'], name=op.f('fk_restore_jobs_customer_id_customers')),
    sa.ForeignKeyConstraint(['intervention_id'], ['interventions.intervention_id'], name=op.f('fk_restore_jobs_intervention_id_interventions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_restore_jobs')),
    sa.UniqueConstraint('request_key', name=op.f('uq_restore_jobs_request_key'))
    )
    with op.batch_alter_table('restore_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_restore_jobs_customer_id'), ['customer_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('restore_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_restore_jobs_customer_id'))

    op.drop_table('restore_jobs')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payments_invoice_id'))

    op.drop_table('payments')
    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_lines_invoice_id'))

    op.drop_table('invoice_lines')
    with op.batch_alter_table('interventions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_interventions_month'))
        batch_op.drop_index(batch_op.f('ix_interventions_invoice_id'))
        batch_op.drop_index('ix_interventions_customer_month')
        batch_op.drop_index(batch_op.f('ix_interventions_close_month'))

    op.drop_table('interventions')
    with op.batch_alter_table('standby_periods', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_standby_periods_customer_id'))

    op.drop_table('standby_periods')
    with op.batch_alter_table('stage_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stage_changes_customer_id'))

    op.drop_table('stage_changes')
    op.drop_table('quota_periods')
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notices_customer_id'))

    op.drop_table('notices')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoices_month'))
        batch_op.drop_index(batch_op.f('ix_invoices_customer_id'))

    op.drop_table('invoices')
    op.drop_table('deletion_certificates')
    op.drop_table('terms_copies')
    op.drop_table('monthly_closes')
    op.drop_table('invoice_sequences')
    op.drop_table('exports')
    op.drop_table('customers')
    op.drop_table('customer_locks')
    with op.batch_alter_table('backups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_backups_customer_id'))

    op.drop_table('backups')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_customer_id'))
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))

    op.drop_table('audit_log')

