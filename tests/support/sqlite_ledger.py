"""A migrated SQLite ledger for the fast tier: migrated once per process, copied for each test, so an
operation's unit test runs on the real schema without PostgreSQL or a Prefect server. A scenario many tests
start from (October imported, drafted, closed) is likewise built once per process and copied
(`prepared_ledger`): building it cost ~0.6 s of CPU per test, over some 45 tests of the fast tier."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path

_template: Path | None = None
#: the ledgers `prepared_ledger` built in this process, by the scenario's name and the day it was built on
_prepared: dict[tuple[str, str], Path] = {}


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


def sqlite_ledger(tmp_path: Path, monkeypatch, today: str, *, template: Path | None = None):
    """A fresh migrated ledger in `tmp_path` (a copy of `template` when given), the product's home and platform
    database beside it, and the product's day set to `today` (LIFECYCLE_TODAY): returns the ledger's engine."""
    from lifecycle_config.databases import engine_for

    path = tmp_path / "ledger.db"
    shutil.copy(template or _migrated_template(), path)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("LIFECYCLE_HOME", str(home))
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("LIFECYCLE_PLATFORM_URL", f"sqlite:///{home / 'platform.db'}")
    monkeypatch.setenv("LIFECYCLE_TODAY", today)
    monkeypatch.delenv("LIFECYCLE_STORAGE_URL", raising=False)
    return engine_for(f"sqlite:///{path}")


def prepared_ledger(tmp_path: Path, monkeypatch, today: str, prepare: Callable) -> object:
    """`sqlite_ledger` with `prepare(engine, folder)` done on it: done once per process for each scenario
    (`prepare`'s qualified name) and day, on the first test's own ledger, then copied for every other test. The
    copy is the ledger file alone: `prepare` must leave nothing a test reads outside it (import files it
    writes in `folder` are read only by itself). Returns the ledger's engine."""
    key = (f"{prepare.__module__}.{prepare.__qualname__}", today)
    if key in _prepared:
        return sqlite_ledger(tmp_path, monkeypatch, today, template=_prepared[key])
    folder = tmp_path / f"prepare-{prepare.__name__}"
    folder.mkdir()
    engine = sqlite_ledger(tmp_path, monkeypatch, today)
    prepare(engine, folder)
    kept = Path(tempfile.mkdtemp(prefix="ledger-prepared-")) / "ledger.db"
    # SQLite's backup: the ledger runs in WAL mode, and a copy of its file alone could miss the last commits
    with sqlite3.connect(tmp_path / "ledger.db") as source, sqlite3.connect(kept) as target:
        source.backup(target)
    source.close()
    target.close()
    _prepared[key] = kept
    return engine


def home_with_ledger(home: Path) -> Path:
    """`home` (made when missing) holding a migrated, empty ledger of its own (LIFECYCLE_HOME/ledger.db, its
    default place): for a test of what a command says of its arguments, which would otherwise pay the first use
    of a fresh home, migrating a ledger from nothing (~1.5 s of CPU; tests/unit/test_not_a_ledger.py and the
    integration tier keep that path)."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(_migrated_template(), home / "ledger.db")
    return home
