"""`show customers --month` listed every customer, the month accepted and ignored: a subject without a month
refuses --month in one line naming the subjects it filters; the others still take it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from lifecycle.cli import app
from tests.support.sqlite_ledger import sqlite_ledger


@pytest.mark.parametrize("subject", ["customers", "terms"])
def test_a_subject_without_a_month_refuses_month(tmp_path, monkeypatch, subject):
    sqlite_ledger(tmp_path, monkeypatch, "2026-11-20")
    result = CliRunner().invoke(app, ["show", subject, "--month", "2026-11"])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (f"lifecycle: --month: `show {subject}` lists them whatever the month; --month filters "
                             f"invoices, interventions, backups, notices, audit, tickets, drills\n")


def test_a_subject_with_a_month_still_takes_it(tmp_path, monkeypatch):
    sqlite_ledger(tmp_path, monkeypatch, "2026-11-20")
    result = CliRunner().invoke(app, ["show", "invoices", "--month", "2026-11", "--format", "json"])
    assert (result.exit_code, result.stdout) == (0, "[]\n")
