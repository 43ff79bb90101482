"""A database that is not a ledger is never made into one: LIFECYCLE_DATABASE_URL pointed at the customer
platform's database (tables, no ledger version) is refused in one line by a reader (`show`), by `db upgrade`
(never "was empty") and by `db check`, exit 2, and its tables are left as they were; an empty database still
becomes a ledger. A LIFECYCLE_HOME that is the filesystem's root is refused in one line."""

from __future__ import annotations

import os
import sqlite3
import subprocess

import pytest

from tests.support.builders import platform
from tests.support.cli import lifecycle_in_process

REFUSAL = ("lifecycle: sqlite:///{path} is not a ledger: it holds the tables {tables} and no ledger version; point "
           "LIFECYCLE_DATABASE_URL at the ledger or an empty database\n")


def lifecycle(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """The command as the user types it, run in this process (what it says and does, not a process's startup)."""
    return lifecycle_in_process(*args, env={**os.environ, "LIFECYCLE_TODAY": "2026-11-02", **env})


def tables(path) -> list[str]:
    with sqlite3.connect(path) as connection:
        return sorted(row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))


@pytest.mark.parametrize("command", [["show", "customers"], ["db", "upgrade"], ["db", "check"]])
def test_the_platform_s_database_given_as_the_ledger_is_refused_and_left_as_it_was(tmp_path, command):
    path = tmp_path / "platform.db"
    platform(f"sqlite:///{path}", ["T1", "T2"])
    before = tables(path)
    result = lifecycle(*command, env={"LIFECYCLE_HOME": str(tmp_path / "home"),
                                      "LIFECYCLE_DATABASE_URL": f"sqlite:///{path}"})
    shown = ", ".join(before[:3]) + (f" and {len(before) - 3} more" if len(before) > 3 else "")
    assert (result.returncode, result.stdout, result.stderr) == (2, "", REFUSAL.format(path=path, tables=shown))
    assert tables(path) == before


def test_an_empty_database_still_becomes_a_ledger(tmp_path):
    path = tmp_path / "ledger.db"
    result = lifecycle("db", "upgrade", env={"LIFECYCLE_HOME": str(tmp_path / "home"),
                                             "LIFECYCLE_DATABASE_URL": f"sqlite:///{path}"})
    assert result.returncode == 0 and "(was empty)" in result.stdout
    assert "alembic_version" in tables(path)


@pytest.mark.parametrize("home", ["/", "//", "/tmp/.."])
def test_a_home_at_the_filesystem_s_root_is_refused_in_one_line(home):
    result = lifecycle("show", "customers", env={"LIFECYCLE_HOME": home, "LIFECYCLE_DATABASE_URL": ""})
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (f"lifecycle: LIFECYCLE_HOME={home!r} is the filesystem's root: set it to a folder of its "
                             f"own (made when missing), e.g. /srv/lifecycle\n")
