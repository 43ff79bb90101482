"""`lifecycle db check` and `db upgrade` on a SQLite ledger an older release wrote: every stored row today's import
rules refuse is one line (table, id, rule), exit 1; a clean ledger says so, exit 0. Nothing is changed."""

from __future__ import annotations

from typer.testing import CliRunner

from lifecycle.cli import app
from tests.support.older_release import EXPECTED, older_release_ledger
from tests.support.sqlite_ledger import sqlite_ledger


def test_a_clean_ledger_has_nothing_to_flag(tmp_path, monkeypatch):
    sqlite_ledger(tmp_path, monkeypatch, "2026-11-20")
    result = CliRunner().invoke(app, ["db", "check"])
    assert result.exit_code == 0 and result.stdout == "ledger checked: nothing to flag\n"
    upgraded = CliRunner().invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0 and upgraded.stdout.splitlines()[-1] == "ledger checked: nothing to flag"


def test_rows_an_older_release_let_in_are_listed_one_line_each_with_the_rule(tmp_path, monkeypatch):
    ledger = sqlite_ledger(tmp_path, monkeypatch, "2026-11-20")
    older_release_ledger(ledger, tmp_path)
    result = CliRunner().invoke(app, ["db", "check"])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == EXPECTED
    assert result.stderr == ("lifecycle: ledger checked: 13 problem(s) in 7 stored row(s) that today's import rules "
                             "would refuse (correct them and import them again: "
                             "docs/how-to/moving-in-from-an-older-release.md)\n")
    again = CliRunner().invoke(app, ["db", "check"])  # it changed nothing
    assert again.stdout.splitlines() == EXPECTED
    upgraded = CliRunner().invoke(app, ["db", "upgrade"])  # ends with the count, and does not fail
    assert upgraded.exit_code == 0
    assert upgraded.stdout.splitlines()[-1] == ("ledger checked: 13 problem(s) in 7 stored row(s) that today's import "
                                                "rules would refuse; `lifecycle db check` lists them")
