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


def test_pip_install_dot_installs_every_package_of_the_product():
    """`pip install .` (deploy/ installs so, not with -e) takes the packages pyproject.toml finds: every folder
    of the product with an __init__.py must be among them (a listed set once left out ledger.imports)."""
    from setuptools import find_packages

    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    found = set(find_packages(str(ROOT), include=include))
    on_disk = {str(path.parent.relative_to(ROOT)).replace("/", ".") for path in ROOT.rglob("__init__.py")
               if not {"tests", "build", ".git"} & set(path.relative_to(ROOT).parts)}
    assert on_disk and on_disk <= found, on_disk - found
    assert not {name for name in found if name.split(".")[0] == "tests"}
