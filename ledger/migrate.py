"""Create or migrate the ledger with Alembic; the migrations ship inside the package."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from ledger.db import current_revision
from lifecycle_config.databases import BUSY_TIMEOUT_MS, engine_for, normalise_url, said_in_one_line

HERE = Path(__file__).parent
#: the newest migration; commands compare against it without importing Alembic (which is slow)
HEAD = "0021_delivery_address"


def _config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(HERE / "migrations"))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def _migration_engine(url: str) -> Engine:
    """SQLite cannot alter a table in place: a migration rebuilds it (Alembic's batch mode), which
    foreign keys forbid half-way. Migrations run on a connection of their own with them off, and
    check them themselves before they commit (`PRAGMA foreign_key_check`)."""
    if make_url(normalise_url(url)).get_backend_name() != "sqlite":
        return engine_for(url)
    engine = create_engine(normalise_url(url), poolclass=NullPool)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA foreign_keys = OFF")
        dbapi_connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    said_in_one_line(engine)  # a full disk, a ledger another process holds: one line, as on every engine
    return engine


def upgrade(url: str) -> tuple[str | None, str]:
    """Bring the ledger at `url` to the newest schema; returns (before, after) revisions."""
    from alembic import command

    before = current_revision(engine_for(url))
    if before != HEAD:
        engine = _migration_engine(url)
        with engine.begin() as connection:
            config = _config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        if engine is not engine_for(url):
            engine.dispose()
    return before, current_revision(engine_for(url)) or ""


def ensure_current(engine: Engine, url: str) -> None:
    """Migrate a missing or old ledger before a command uses it."""
    if current_revision(engine) != HEAD:
        upgrade(url)
