"""`lifecycle db check` on a PostgreSQL ledger an older release wrote, as a user runs it: one line per stored row
and rule that today's imports refuse, exit 1; `db upgrade` ends with the count and does not fail."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.support import cli
from tests.support.older_release import EXPECTED, older_release_ledger


def lifecycle(*args: str) -> subprocess.CompletedProcess:
    """`lifecycle db ...` through the CLI's entry point, in this process (a ledger's command: no process of its
    own is needed to judge what it says, tests/support/cli.py)."""
    return cli.lifecycle(*args, env={**os.environ, "LIFECYCLE_TODAY": "2026-11-20"})


@pytest.mark.parametrize("ledger_url", ["postgresql"], indirect=True)
def test_an_older_releases_rows_are_flagged_on_postgresql(home, ledger, tmp_path, monkeypatch):
    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-11-20")
    clean = lifecycle("db", "check")
    assert clean.returncode == 0 and clean.stdout == "ledger checked: nothing to flag\n", clean.stderr
    older_release_ledger(ledger, tmp_path)
    flagged = lifecycle("db", "check")
    assert flagged.returncode == 1 and flagged.stdout.splitlines() == EXPECTED, flagged.stderr
    assert flagged.stderr.startswith("lifecycle: ledger checked: 13 problem(s) in 7 stored row(s)")
    upgraded = lifecycle("db", "upgrade")
    assert upgraded.returncode == 0
    assert upgraded.stdout.splitlines()[-1].startswith("ledger checked: 13 problem(s) in 7 stored row(s)")
