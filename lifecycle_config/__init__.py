"""Where the embedded default keeps its files, and how the environment overrides it.

Every local file lives under one folder (`LIFECYCLE_HOME`) so that a user can move, back up or wipe
an installation as a whole; each URL can point elsewhere for production. This package is a leaf:
it imports nothing of the project, so the CLI, blocks, ledger, tasks and flows all read the same
configuration without reaching up to one another. Nothing here imports Prefect: the CLI reads
this on every command and must stay fast.
"""

from __future__ import annotations

import os
from pathlib import Path

#: How long a temporary Prefect server may take to start on a small machine.
PREFECT_STARTUP_TIMEOUT = "120"
#: seconds between a running flow's heartbeats when the environment does not say (Prefect's default): a
#: lost worker's runs are marked crashed after three missed beats (automations.yaml, lifecycle-lost-run).
#: deploy/'s PostgreSQL-backed servers use 30 s (Prefect's smallest); the embedded SQLite server of
#: `lifecycle up` keeps 180 s: every beat is an event its triggers service writes, and SQLite under that
#: load answers "database is locked", which Prefect's in-memory messaging redelivers as duplicate alerts
HEARTBEAT_SECONDS = "180"
#: upcoming runs Prefect's scheduler keeps per deployment (Prefect's default is 100: a hundred days of each
#: daily deployment). Two weeks is what ops look ahead at, and each `prefect deploy` of `lifecycle up`
#: rewrites them in one transaction: with 100 per daily deployment the embedded SQLite server held its
#: write lock long enough for its own background tasks to give up ("database is locked" in CI)
SCHEDULER_MAX_RUNS = "14"


def home() -> Path:
    raw = os.environ.get("LIFECYCLE_HOME")
    path = Path(raw) if raw else Path.cwd() / ".lifecycle"
    return path.expanduser().resolve()


def _sqlite(name: str) -> str:
    return f"sqlite:///{home() / name}"


def database_url() -> str:
    return os.environ.get("LIFECYCLE_DATABASE_URL") or _sqlite("ledger.db")


def platform_url() -> str:
    return os.environ.get("LIFECYCLE_PLATFORM_URL") or _sqlite("platform.db")


def sandbox_url() -> str:
    return os.environ.get("LIFECYCLE_SANDBOX_URL") or _sqlite("sandbox.db")


def storage_url() -> str:
    return os.environ.get("LIFECYCLE_STORAGE_URL") or f"file://{home() / 'objects'}"


def outbox_dir() -> Path:
    return home() / "outbox"


def prefect_home() -> Path:
    return home() / "prefect"


def server_file() -> Path:
    """Written by `lifecycle up`: where its Prefect server answers, for the other commands."""
    return home() / "server.json"


def download_base() -> str | None:
    """Where the workbooks can be downloaded over HTTP: set by `lifecycle up` while it runs."""
    explicit = os.environ.get("LIFECYCLE_DOWNLOAD_URL")
    if explicit:
        return explicit
    import json

    try:
        recorded = json.loads(server_file().read_text())
        os.kill(int(recorded["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return recorded.get("downloads")


#: the settings read from the environment that change what a run does, besides the URLs and the home: the
#: day it believes it is (clock), the key unsealing ticket credentials (keyfile), where workbook links lead,
#: and the tests' failpoints. Any other LIFECYCLE_* variable set is compared as it is, so none goes unseen.
RUN_VARIABLES = ("LIFECYCLE_TODAY", "LIFECYCLE_CREDENTIALS_KEY_FILE", "LIFECYCLE_DOWNLOAD_URL", "LIFECYCLE_FAILPOINT",
                 "LIFECYCLE_FAILPOINT_LOG", "LIFECYCLE_FAILPOINT_PAUSE")


def snapshot() -> dict[str, str]:
    """The settings a run depends on: `lifecycle up` records them, so that a command can tell whether
    the worker would run with the same ones (docs/reference/cli.md, "Which Prefect server"). Every
    `LIFECYCLE_*` variable counts: those with a default as this process resolves them, the others as set
    ("" when unset)."""
    from lifecycle_config.keyfile import key_file

    values = {name: value for name, value in os.environ.items() if name.startswith("LIFECYCLE_")}
    values.update({name: os.environ.get(name, "").strip() for name in RUN_VARIABLES})
    values.update({"LIFECYCLE_HOME": str(home()), "LIFECYCLE_DATABASE_URL": database_url(),
                   "LIFECYCLE_PLATFORM_URL": platform_url(), "LIFECYCLE_SANDBOX_URL": sandbox_url(),
                   "LIFECYCLE_STORAGE_URL": storage_url(), "LIFECYCLE_CREDENTIALS_KEY_FILE": str(key_file()),
                   "LIFECYCLE_DOWNLOAD_URL": download_base() or ""})
    return values


def overridden(variable: str) -> str | None:
    """The value of a variable the user set explicitly, which wins over a block for one run."""
    value = os.environ.get(variable)
    return value or None


def heartbeat_seconds() -> int:
    return int(os.environ.get("PREFECT_FLOWS_HEARTBEAT_FREQUENCY") or HEARTBEAT_SECONDS)


def prepare_prefect_environment() -> None:
    """Point Prefect at our home before it is imported, so blocks edited in the UI are the ones
    every run sees, and give a temporary server time to start."""
    home().mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(prefect_home()))
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", PREFECT_STARTUP_TIMEOUT)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", HEARTBEAT_SECONDS)
    os.environ.setdefault("PREFECT_SERVER_SERVICES_SCHEDULER_MAX_RUNS", SCHEDULER_MAX_RUNS)
