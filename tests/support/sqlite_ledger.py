"""A migrated SQLite ledger for the fast tier: migrated once per process, copied for each test, so an
operation's unit test runs on the real schema without PostgreSQL or a Prefect server."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

_template: Path | None = None


def _migrated_template() -> Path:
    global _template
    if _template is None:
        from ledger.migrate import upgrade
        from lifecycle_config.databases import engine_for

        path = Path(tempfile.mkdtemp(prefix="ledger-template-")) / "ledger.db"
        upgrade(f"sqlite:///{path}")
        engine_for(f"sqlite:///{path}").dispose()
        _template = path
    return _template


def sqlite_ledger(tmp_path: Path, monkeypatch, today: str):
    """A fresh migrated ledger in `tmp_path`, the product's home and platform database beside it, and the
    product's day set to `today` (LIFECYCLE_TODAY): returns the ledger's engine."""
    from lifecycle_config.databases import engine_for

    path = tmp_path / "ledger.db"
    shutil.copy(_migrated_template(), path)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("LIFECYCLE_HOME", str(home))
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("LIFECYCLE_PLATFORM_URL", f"sqlite:///{home / 'platform.db'}")
    monkeypatch.setenv("LIFECYCLE_TODAY", today)
    monkeypatch.delenv("LIFECYCLE_STORAGE_URL", raising=False)
    return engine_for(f"sqlite:///{path}")
