"""Create or migrate the ledger with Alembic; the migrations ship inside the package."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from ledger.db import current_revision
from lifecycle_config.databases import engine_for, normalise_url

HERE = Path(__file__).parent
#: the newest migration; commands compare against it without importing Alembic (which is slow)
HEAD = "0001_initial"


def _config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(HERE / "migrations"))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(url: str) -> tuple[str | None, str]:
    """Bring the ledger at `url` to the newest schema; returns (before, after) revisions."""
    from alembic import command

    engine = engine_for(url)
    before = current_revision(engine)
    if before != HEAD:
        with engine.begin() as connection:
            config = _config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    return before, current_revision(engine) or ""


def ensure_current(engine: Engine, url: str) -> None:
    """Migrate a missing or old ledger before a command uses it."""
    if current_revision(engine) != HEAD:
        upgrade(url)
