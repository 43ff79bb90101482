"""The one-way layers of docs/explanation/architecture.md, as import-linter contracts in pyproject.toml: a module that imports
upward (the CLI from a block, Prefect from the ledger, anything from policy) fails here."""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_import_contract_is_kept():
    # the same as `lint-imports`, with this interpreter
    check = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True))"
    result = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=120)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert "0 broken" in report and f"{len(contracts)} kept" in report, report
