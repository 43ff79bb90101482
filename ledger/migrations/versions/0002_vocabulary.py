"""Kinds and states as closed vocabularies: a CHECK constraint on each column that holds one.

Values are written out here, as they were when this migration was made; a later vocabulary comes
with its own migration. SQLite cannot add a constraint to a table: batch mode rebuilds each table, on
a connection with foreign keys off (ledger.migrate), and they are checked before the commit.

Revision ID: 0002_vocabulary
Revises: 0001_initial
"""
from alembic import op

from ledger.migrations.checks import foreign_keys_hold

revision = "0002_vocabulary"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

STAGES = ("current", "admin_disabled", "platform_disabled", "data_deleted")
CATEGORIES = ("bug_fix", "question", "feature_roadmap", "assistance", "data_modification", "operation_support",
              "data_extraction", "reporting", "user_error", "data_recovery", "customization", "training",
              "license_installation", "company_copy", "third_party_conflict", "feature_specific", "feature_urgent")

CHECKS = {
    "customers": {"payment_method": ("sepa", "card", "transfer", "transfer_installments", "other"),
                  "billing_cycle": ("monthly", "annual"), "stage": STAGES,
                  "deletion_status": ("notice_sent", "awaiting_approval", "refused")},
    "invoices": {"kind": ("monthly", "penalty", "imported"),
                 "status": ("draft", "open", "paid", "disputed", "written_off", "void")},
    "interventions": {"category": CATEGORIES, "source": ("import", "restore")},
    "monthly_closes": {"status": ("drafting", "drafted", "finalised")},
    "standby_periods": {"status": ("scheduled", "active", "ended", "cancelled"),
                        "source": ("import", "request", "demo"),
                        "reason": ("temporary_inactivity", "awaiting_approval", "third_party_integration")},
    "stage_changes": {"previous_stage": STAGES, "stage": STAGES},
    "backups": {"kind": ("tenant", "ledger", "safety"), "status": ("running", "good", "failed", "deleted")},
    "restore_jobs": {"target": ("sandbox", "in_place"), "status": ("running", "done", "failed")},
    "notices": {"transport": ("smtp", "outbox", "dry-run")},
}


def upgrade() -> None:
    for table, columns in CHECKS.items():
        with op.batch_alter_table(table) as batch:
            for column, values in columns.items():
                listed = ", ".join(f"'{value}'" for value in values)
                batch.create_check_constraint(op.f(f"ck_{table}_{column}"), f"{column} IN ({listed})")
    foreign_keys_hold()


def downgrade() -> None:
    for table, columns in CHECKS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.drop_constraint(op.f(f"ck_{table}_{column}"), type_="check")
    foreign_keys_hold()
