"""The real services of the integration tests: a ledger on SQLite and on PostgreSQL, a platform
database, one Prefect server, and one `lifecycle up` for the session.

Every test that touches the ledger runs twice, once per database. PostgreSQL is the machine's
server on 127.0.0.1:5432 (user postgres, trust auth; `LIFECYCLE_TEST_PG` names another); the suite
makes its own database there and empties it between tests. Without a reachable PostgreSQL its
tests are skipped with the reason, except in CI (`CI=true`), where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.support.ports import free_port

PG_ADMIN_URL = os.environ.get("LIFECYCLE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_admin():
    """An engine on the PostgreSQL server, or a skip (a failure in CI) saying why there is none."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect():
            pass
    except Exception as error:  # noqa: BLE001 - any reason the server cannot be reached
        admin.dispose()
        reason = f"PostgreSQL not reachable at {PG_ADMIN_URL.split('@')[-1]}: {type(error).__name__}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI runs every test on both databases)")
        pytest.skip(reason)
    return admin


def create_pg_database(admin, migrate: bool = True) -> str:
    name = f"lifecycle_test_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    if migrate:
        from ledger.migrate import upgrade

        upgrade(url)
    return url


def drop_pg_database(admin, url: str) -> None:
    from lifecycle_config.databases import engine_for

    engine_for(url).dispose()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[-1]}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pg_admin():
    admin = _pg_admin()
    yield admin
    admin.dispose()


@pytest.fixture(scope="session")
def pg_database(pg_admin):
    """A database of our own on the machine's PostgreSQL, migrated once, dropped at the end."""
    url = create_pg_database(pg_admin)
    yield url
    drop_pg_database(pg_admin, url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    from ledger.migrate import upgrade

    path = tmp_path_factory.mktemp("template") / "ledger.db"
    upgrade(f"sqlite:///{path}")
    from lifecycle_config.databases import engine_for

    engine_for(f"sqlite:///{path}").dispose()
    return path


def _empty_pg(url: str) -> None:
    from lifecycle_config.databases import engine_for
    from ledger.models import Base

    engine = engine_for(url)
    names = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "ledger.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_database")
    _empty_pg(url)
    return url


@pytest.fixture
def home(tmp_path, monkeypatch, ledger_url) -> Path:
    """A LIFECYCLE_HOME of its own, with the ledger of this run's database and a demo-shaped platform."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("LIFECYCLE_HOME", str(home))
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", ledger_url)
    monkeypatch.setenv("LIFECYCLE_PLATFORM_URL", f"sqlite:///{home / 'platform.db'}")
    monkeypatch.delenv("LIFECYCLE_STORAGE_URL", raising=False)
    return home


@pytest.fixture
def ledger(home, ledger_url):
    from lifecycle_config.databases import engine_for

    return engine_for(ledger_url)


@pytest.fixture(scope="session")
def prefect_server():
    """One Prefect server for the whole session; flows called in tests run against it."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        from prefect.settings import PREFECT_API_URL

        yield PREFECT_API_URL.value()
        _bound_the_harness_drain()


def _bound_the_harness_drain(seconds: float = 60) -> None:
    """The harness drains Prefect's log and event workers before it stops its server; once in CI that drain
    never returned (every test had passed, the session hung in teardown). Bounded here: after `seconds`
    the drain is abandoned with a warning, and the server stops as usual."""
    import asyncio
    import warnings

    import prefect.testing.utilities as harness

    original = harness.run_coro_as_sync

    def bounded(coroutine, *args, **kwargs):
        async def within():
            try:
                return await asyncio.wait_for(coroutine, seconds)
            except asyncio.TimeoutError:
                warnings.warn(f"Prefect's log/event workers did not drain in {seconds:.0f} s; stopping the test "
                              f"server anyway", RuntimeWarning)

        return original(within(), *args, **kwargs)

    harness.run_coro_as_sync = bounded


@pytest.fixture(scope="session")
def ops_inbox():
    """Where ops alerts arrive: an SMTP server (aiosmtpd) and a webhook, both on loopback."""
    from tests.support.servers import Webhook, smtp_server

    hook = Webhook("ops-hook-secret")
    with smtp_server() as (port, received), hook.running() as url:
        yield {"smtp_port": port, "mails": received, "webhook": hook, "webhook_url": url}


@pytest.fixture(scope="session")
def up_server(tmp_path_factory, ops_inbox):
    """`lifecycle up --demo` in a home of its own, for the session: the real scheduler, worker and
    automations. Its notifications block sends through the session's SMTP server and ops webhook,
    as ops would set it in the UI."""
    from tests.support.up import Up

    server = Up(tmp_path_factory.mktemp("up") / "home", free_port())
    server.start("--demo")
    _configure_notifications(server.api, ops_inbox)
    yield server
    if server.process.poll() is None:
        server.stop()


def _configure_notifications(api: str, inbox: dict) -> None:
    import subprocess
    import sys

    script = (
        "from blocks.notifications import Notifications\n"
        "block = Notifications.load('lifecycle')\n"
        f"block.smtp_host, block.smtp_port, block.security = '127.0.0.1', {inbox['smtp_port']}, 'none'\n"
        "block.ops_email = 'ops@vendor.example'\n"
        f"block.ops_webhook_url, block.ops_webhook_secret = {inbox['webhook_url']!r}, 'ops-hook-secret'\n"
        "block.save('lifecycle', overwrite=True)\n"
    )
    env = {**os.environ, "PREFECT_API_URL": api}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=120)

