"""The SHA-256 of each workbook as it was written (`exports.sha256`), so the downloads server serves a workbook only
when its file is byte for byte the one this installation wrote (by its size alone, a same-size file another
installation wrote at that name was served as this one's). Empty for the workbooks exported before: recorded by the
next `run export` of their month while their file still has its recorded size, checked by size until then.

Revision ID: 0024_export_sha256
Revises: 0023_claims_and_deletion_intents
"""
from alembic import op

revision = "0024_export_sha256"
down_revision = "0023_claims_and_deletion_intents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # one ALTER TABLE both databases take, not a batch (as 0021): nothing of the table is rebuilt
    op.execute("ALTER TABLE exports ADD COLUMN sha256 VARCHAR(64)")


def downgrade() -> None:
    op.execute("ALTER TABLE exports DROP COLUMN sha256")
