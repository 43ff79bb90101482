"""Alembic environment: runs on the connection `ledger.migrate` hands it, or on the configured URL."""

from alembic import context
from sqlalchemy import create_engine

from ledger.models import Base
from lifecycle_config.failpoints import failpoint

config = context.config
target_metadata = Base.metadata


def _applied(**_) -> None:
    """After each migration, inside the upgrade's one transaction: where the tests kill an upgrade half-way."""
    failpoint("ledger.migration-applied")


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                          on_version_apply=_applied)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
