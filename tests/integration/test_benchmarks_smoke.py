"""A smoke run of the benchmark harness at scale XS (S's customers, a tenth of its interventions: the harness is
what is checked here, not the size): it keeps working, and ours agrees with the baselines."""

from __future__ import annotations

import os
import subprocess
import sys
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
