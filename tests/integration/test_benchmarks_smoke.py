"""A smoke run of the benchmark harness at scale XS (S's customers, a tenth of its interventions: the harness is
what is checked here, not the size): it keeps working, and ours agrees with the baselines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.integration.conftest import PG_ADMIN_URL, _pg_admin

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_the_harness_runs_every_operation_and_the_checks_agree(tmp_path, database):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIFECYCLE_")}
    if database == "postgresql":
        _pg_admin().dispose()   # a skip (a failure in CI) when there is no server
        env["LIFECYCLE_BENCH_PG"] = PG_ADMIN_URL
    result = subprocess.run([sys.executable, "-m", "benchmarks", "--scale", "XS", "--ops", "close", "export", "arrears",
                             "backup", "restore", "--big-mb", "2", "--out", str(tmp_path), "--database", database,
                             "--drop"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    table = [line for line in result.stdout.splitlines() if line.startswith("| ")][1:]
    rows = {(cells[2], cells[3]): cells for cells in ([c.strip() for c in line.split("|")] for line in table)}
    check = {key: cells[7] for key, cells in rows.items()}
    assert check[("close", "ours")] == check[("close", "pandas")] == check[("close", "sql")]   # the same invoices
    assert f"## {database}" in result.stdout
    assert check[("arrears", "ours")] == check[("arrears", "sql")]                # the same stages
    assert check[("export", "ours")] == check[("export", "openpyxl")] == check[("export", "xlsxwriter")] == "1000"
    assert check[("backup", "ours")] == check[("backup", "boto3")]                # the same bytes (content hash)
    assert check[("backup", "ours")].startswith("users sha256 ")
    assert check[("restore", "ours")] == check[("restore", "bulk")] and int(check[("restore", "ours")]) > 0
    assert "restore / backup (ours):" in result.stdout
    if database == "postgresql":   # --drop: nothing of the run is left on the server
        from benchmarks.databases import PostgresDatabases

        store = PostgresDatabases(tmp_path, PG_ADMIN_URL)
        with store.admin.connect() as connection:
            left = connection.scalars(text("SELECT datname FROM pg_database WHERE starts_with(datname, :p)"),
                                      {"p": store.prefix}).all()
        store.finish(False)
        assert left == []


def test_the_deposit_benchmark_deposits_every_document_once_side_by_side(ledger, ledger_url, tmp_path, monkeypatch):
    """`benchmarks.einvoicing_deposit`, whose figures the night model of RESULTS.md rests on, keeps running the
    deposits as a run does (N at a time) and counts what the platform took."""
    from operations.close import draft, finalise
    from policy.terms import Terms
    from tests.support.scenarios import load_october

    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-11-02")
    load_october(ledger, tmp_path)   # October closed: its three invoices are what the benchmark deposits
    draft("2026-10", Terms(), actor="test", flow_run_id=None, engine=ledger)
    finalise("2026-10", date(2026, 11, 2), Terms(), actor="test", flow_run_id=None, engine=ledger)
    result = subprocess.run([sys.executable, "-m", "benchmarks.einvoicing_deposit", "--ledger", ledger_url,
                             "--documents", "3", "--kb", "1", "--parallel", "2", "--delay", "0.05"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    said = json.loads(result.stdout.splitlines()[-1])
    assert (said["documents"], said["deposited"], said["parallel"]) == (3, 3, 2)
