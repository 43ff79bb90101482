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


@pytest.mark.parametrize("damage", [
    {"api_url": 5}, {"api_url": ["http://127.0.0.1:9/api"]}, {"pid": "x"}, {"pid": True}, {"downloads": 7},
    {"installation": 12}, {"installation": {"id": "x"}},
])
def test_a_server_json_field_of_another_type_is_ignored_and_the_sound_ones_still_hold(pointed, damage, tmp_path):
    # a server.json edited by hand: `api_url: 5` ended every command that looks for the home's server (keys,
    # db restore-snapshot, run) in a traceback; a damaged field says nothing, the home's installation still does
    import lifecycle_config
    from lifecycle.server import running_server

    home, ledger_id = pointed
    for installation in (ledger_id, ANOTHER):
        server_json(home, installation)
        recorded = {**json.loads((home / "server.json").read_text()), **damage}
        (home / "server.json").write_text(json.dumps(recorded))
        assert running_server() is None
        assert not set(damage) & set(lifecycle_config.server_record())
        result = CliRunner().invoke(app, ["db", "restore-snapshot", "LEDGER-20261120", "--to",
                                          f"sqlite:///{tmp_path / 'restored.db'}"])
        assert "Traceback" not in result.output and len(result.stderr.splitlines()) == 1, result.output
        assert result.exit_code == 2
        if installation == ANOTHER and "installation" not in damage:  # still A's home: B's ledger refused first
            assert f"belongs to installation {ANOTHER}" in result.stderr
        else:  # the home's server looked for, none found: the snapshot is then looked for, and there is none
            assert "no good ledger snapshot 'LEDGER-20261120'" in result.stderr


def test_a_server_json_whose_config_is_damaged_names_no_home(pointed):
    home, _ = pointed
    (home / "server.json").write_text(json.dumps({"api_url": 5, "config": ["LIFECYCLE_HOME"], "installation": ANOTHER}))
    result = CliRunner().invoke(app, ["show", "customers"])
    assert result.exit_code == 0 and "Traceback" not in result.output
