"""A smoke run of the benchmark harness at scale S: it keeps working, and ours agrees with the baselines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_harness_runs_every_operation_and_the_checks_agree(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIFECYCLE_")}
    result = subprocess.run([sys.executable, "-m", "benchmarks", "--scale", "S", "--ops", "close", "export", "arrears",
                             "backup", "restore", "--big-mb", "2", "--out", str(tmp_path)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    table = [line for line in result.stdout.splitlines() if line.startswith("| ")][1:]
    rows = {(cells[2], cells[3]): cells for cells in ([c.strip() for c in line.split("|")] for line in table)}
    check = {key: cells[7] for key, cells in rows.items()}
    assert check[("close", "ours")] == check[("close", "pandas")]                 # the same invoices, to the cent
    assert check[("arrears", "ours")] == check[("arrears", "sql")]                # the same stages
    assert check[("export", "ours")] == check[("export", "openpyxl")] == check[("export", "xlsxwriter")] == "10000"
    assert check[("backup", "ours")] == check[("backup", "boto3")]                # the same bytes (content hash)
    assert check[("backup", "ours")].startswith("users sha256 ")
    assert check[("restore", "ours")] == check[("restore", "bulk")] and int(check[("restore", "ours")]) > 0
    assert "restore / backup (ours):" in result.stdout
