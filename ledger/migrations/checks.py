"""What every migration that rebuilds tables checks before it commits.

SQLite cannot alter a constraint: batch mode rebuilds the table, on a connection with foreign keys
off (ledger.migrate), so the foreign keys are checked here before the migration commits.
"""

from __future__ import annotations

from alembic import op


def foreign_keys_hold() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        broken = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"foreign keys broken by the migration: {broken[:5]}")
