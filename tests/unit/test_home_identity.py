"""A home WITHOUT a ledger file of its own, pointed (LIFECYCLE_DATABASE_URL) at another installation's ledger, was
accepted: a home whose server.json or own Prefect server's record names installation A refuses B's ledger in one
line, exit 2, before anything is read or written; a fresh home (neither yet) takes the ledger it is given; the
same installation's ledger is taken."""

from __future__ import annotations

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from ledger.installation import installation_id
from lifecycle.cli import app
from tests.support.sqlite_ledger import sqlite_ledger

ANOTHER = "0b3c52de-5a0e-4c4b-9a55-aaaaaaaaaaaa"


@pytest.fixture
def pointed(tmp_path, monkeypatch):
    """A home (tmp_path/home, no ledger.db in it) pointed at a ledger file elsewhere; its installation id."""
    engine = sqlite_ledger(tmp_path, monkeypatch, "2026-11-20")
    monkeypatch.delenv("PREFECT_HOME", raising=False)
    return tmp_path / "home", installation_id(engine)


def server_json(home, installation: str) -> None:
    (home / "server.json").write_text(json.dumps({"api_url": "http://127.0.0.1:9", "pid": 0, "downloads": None,
                                                  "config": {"LIFECYCLE_HOME": str(home)},
                                                  "installation": installation}))


def prefect_record(home, installation: str) -> None:
    """The Variable `lifecycle up`/`deploy` registers in the home's own Prefect database."""
    (home / "prefect").mkdir(exist_ok=True)
    with sqlite3.connect(home / "prefect" / "prefect.db") as prefect:
        prefect.execute("CREATE TABLE variable (name TEXT, value TEXT)")
        prefect.execute("INSERT INTO variable VALUES ('lifecycle_installation', ?)", (json.dumps(installation),))


@pytest.mark.parametrize("record", [server_json, prefect_record])
def test_a_home_of_installation_a_refuses_the_ledger_of_b_in_one_line(pointed, record):
    home, ledger_id = pointed
    record(home, ANOTHER)
    result = CliRunner().invoke(app, ["show", "customers"])
    assert (result.exit_code, result.stdout) == (2, "")
    [line] = result.stderr.splitlines()
    assert line.startswith("lifecycle: LIFECYCLE_DATABASE_URL=") and f"installation {ledger_id}" in line
    assert f"belongs to installation {ANOTHER}" in line and "nothing was done" in line


@pytest.mark.parametrize("record", [server_json, prefect_record])
def test_a_home_of_the_same_installation_takes_its_ledger(pointed, record):
    home, ledger_id = pointed
    record(home, ledger_id)
    assert CliRunner().invoke(app, ["show", "customers"]).exit_code == 0


def test_a_fresh_home_takes_the_ledger_it_is_given(pointed):
    assert CliRunner().invoke(app, ["show", "customers"]).exit_code == 0


def test_a_server_json_written_for_another_home_says_nothing_of_this_one(pointed, tmp_path):
    home, _ = pointed
    server_json(home, ANOTHER)
    recorded = json.loads((home / "server.json").read_text())
    recorded["config"]["LIFECYCLE_HOME"] = str(tmp_path / "elsewhere")  # a home copied with its server.json
    (home / "server.json").write_text(json.dumps(recorded))
    assert CliRunner().invoke(app, ["show", "customers"]).exit_code == 0
