"""A fresh home (no ledger file, no server record) given a ledger another home serves took it: two homes then
worked on one ledger with two sets of settings, keys and storage. The ledger records the home whose `lifecycle
up` serves it (`ledger_claim`); every other home's commands and `up` refuse it in one line naming that home, exit
2, and `lifecycle db adopt` moves it on purpose, refused while that home's `up` still runs (its up.lock held)."""

from __future__ import annotations

import fcntl
import socket

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from ledger.db import session_scope
from ledger.installation import LedgerHeld, claim, claim_of
from ledger.models import AuditEntry
from lifecycle.cli import app
from tests.support.sqlite_ledger import sqlite_ledger


@pytest.fixture
def two_homes(tmp_path, monkeypatch):
    """Homes A and B side by side, both pointed at one ledger file outside either; A claims it (as its `up` does)."""
    engine = sqlite_ledger(tmp_path, monkeypatch, "2026-11-20")
    monkeypatch.delenv("PREFECT_HOME", raising=False)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    monkeypatch.setenv("LIFECYCLE_HOME", str(a))
    claim(engine, how="up", api_url="http://127.0.0.1:9/api", pid=0)
    monkeypatch.setenv("LIFECYCLE_HOME", str(b))
    return engine, a, b


def test_another_homes_commands_refuse_a_ledger_a_home_serves_naming_that_home(two_homes):
    engine, a, b = two_homes
    for command in (["show", "customers"], ["run", "arrears", "--as-of", "2026-11-20"]):
        result = CliRunner().invoke(app, command)
        assert (result.exit_code, result.stdout) == (2, ""), result.output
        [line] = result.stderr.splitlines()
        assert line.startswith("lifecycle: the ledger at 'sqlite:///") and "nothing was done" in line
        assert f"is served by LIFECYCLE_HOME '{a.resolve()}' on '{socket.gethostname()}'" in line
        assert f"not by this one ('{b.resolve()}'" in line and "`lifecycle db adopt`" in line
    with pytest.raises(LedgerHeld):  # B's `up` too, at the moment it would claim it
        claim(engine, how="up")
    assert claim_of(engine)["home"] == str(a.resolve())


def test_the_serving_home_and_a_ledger_no_home_claimed_work_as_before(two_homes, monkeypatch, tmp_path):
    engine, a, _ = two_homes
    monkeypatch.setenv("LIFECYCLE_HOME", str(a))
    assert CliRunner().invoke(app, ["show", "customers"]).exit_code == 0
    from ledger.models import LedgerClaim

    with session_scope(engine, write=True) as session:  # a ledger no `up` ever started on
        session.execute(LedgerClaim.__table__.delete())
    monkeypatch.setenv("LIFECYCLE_HOME", str(tmp_path / "home"))  # a fresh home, an unclaimed ledger: taken
    assert CliRunner().invoke(app, ["show", "customers"]).exit_code == 0


def test_db_adopt_moves_the_ledger_to_this_home_once_the_other_up_is_stopped(two_homes, monkeypatch):
    engine, a, b = two_homes
    with (a / "up.lock").open("a+") as held:  # A's `lifecycle up` runs: the lock it holds for its whole life
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        refused = CliRunner().invoke(app, ["db", "adopt"])
        assert refused.exit_code == 2
        [line] = refused.stderr.splitlines()
        assert f"LIFECYCLE_HOME '{a.resolve()}'" in line and "its `lifecycle up` still runs" in line
        assert "nothing was done" in line
        assert claim_of(engine)["home"] == str(a.resolve())
    adopted = CliRunner().invoke(app, ["db", "adopt"])  # A's `up` stopped: its lock is free
    assert adopted.exit_code == 0, adopted.output
    assert "now serves the ledger" in adopted.stdout and f"it was served by '{a.resolve()}'" in adopted.stdout
    assert (claim_of(engine)["home"], claim_of(engine)["how"]) == (str(b.resolve()), "adopt")
    assert CliRunner().invoke(app, ["show", "customers"]).exit_code == 0
    with session_scope(engine) as session:
        moved = session.scalar(select(AuditEntry).where(AuditEntry.action == "ledger_adopted"))
        assert (moved.before["home"], moved.after["home"]) == (str(a.resolve()), str(b.resolve()))
    monkeypatch.setenv("LIFECYCLE_HOME", str(a))  # the old home now refuses it, naming B
    result = CliRunner().invoke(app, ["show", "customers"])
    assert result.exit_code == 2 and f"is served by LIFECYCLE_HOME '{b.resolve()}'" in result.stderr


def test_a_homes_own_ledger_file_stays_its_own_whatever_its_claim_says(tmp_path, monkeypatch):
    """A home copied with its ledger file (`cp -r a a2`) holds a claim naming a: its own file is still its own, and
    its first `up` claims it."""
    import shutil

    engine = sqlite_ledger(tmp_path, monkeypatch, "2026-11-20")
    a = tmp_path / "a"
    a.mkdir()
    shutil.copy(tmp_path / "ledger.db", a / "ledger.db")
    monkeypatch.setenv("LIFECYCLE_HOME", str(a))
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", f"sqlite:///{a / 'ledger.db'}")
    from lifecycle_config.databases import engine_for
    claim(engine_for(f"sqlite:///{a / 'ledger.db'}"), how="up")
    shutil.copytree(a, tmp_path / "a2")
    monkeypatch.setenv("LIFECYCLE_HOME", str(tmp_path / "a2"))
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", f"sqlite:///{tmp_path / 'a2' / 'ledger.db'}")
    assert CliRunner().invoke(app, ["show", "customers"]).exit_code == 0
    engine.dispose()


def test_a_home_that_uses_the_serving_homes_own_server_is_one_of_its_clients(two_homes, monkeypatch):
    """A worker or an ops shell on another machine of the same installation reaches the ledger through the serving
    home's server (a server of the installation's own): it is not a second installation. Another server, or a
    loopback address from another machine (which names another server there), is not that."""
    engine, a, _ = two_homes
    from ledger.models import LedgerClaim

    with session_scope(engine, write=True) as session:
        session.get(LedgerClaim, True).api_url = "http://prefect.internal:4200/api"
    monkeypatch.setenv("PREFECT_API_URL", "http://prefect.internal:4200/api")
    assert CliRunner().invoke(app, ["show", "customers"]).exit_code == 0
    monkeypatch.setenv("PREFECT_API_URL", "http://prefect.elsewhere:4200/api")
    assert CliRunner().invoke(app, ["show", "customers"]).exit_code == 2
    from lifecycle_config.installation import same_server

    loopback = {"home": str(a), "host": "machine-1", "api_url": "http://127.0.0.1:4200/api"}
    assert same_server(loopback, "http://127.0.0.1:4200/api", host="machine-1")
    assert not same_server(loopback, "http://127.0.0.1:4200/api", host="machine-2")
