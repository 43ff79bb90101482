"""Two homes side by side on one ledger (SQLite file outside both, or PostgreSQL), as a user meets them: home A's
real `lifecycle up` claims the ledger when it starts; a fresh home B (no ledger file, no server record) is refused
by every command and by its own `up`, in one line naming A, and nothing is written; `lifecycle db adopt` in B is
refused while A's `up` runs, and moves the installation once A is stopped; A is refused from then on."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from ledger.db import session_scope
from ledger.installation import claim_of
from ledger.models import AuditEntry
from tests.support.cli import lifecycle_in_process, refused_before_any_run
from tests.support.ports import free_port
from tests.support.up import clean_env

pytestmark = pytest.mark.prefect


def test_a_ledger_served_by_one_homes_up_is_refused_by_another_home_until_it_adopts_it(tmp_path, ledger_url, ledger):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()

    def env(home):
        return clean_env(home, LIFECYCLE_DATABASE_URL=ledger_url, LIFECYCLE_PLATFORM_URL=f"sqlite:///{home / 'platform.db'}")

    def lifecycle(home, *args):
        """A ledger's command, and a `run` refused before any run, through the CLI's entry point in this process
        (tests/support/cli.py); `up`, which would serve had it not been refused, in a process of its own."""
        if args[0] == "run":
            return refused_before_any_run(*args, env=env(home))
        if args[0] != "up":
            return lifecycle_in_process(*args, env=env(home))
        return subprocess.run([sys.executable, "-m", "lifecycle.cli", *args], env=env(home), capture_output=True,
                              text=True, timeout=300)

    up = subprocess.Popen([sys.executable, "-m", "lifecycle.cli", "up", "--port", str(free_port())], env=env(a),
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while (claim_of(ledger) or {}).get("home") != str(a.resolve()):
            assert up.poll() is None and time.monotonic() < deadline, "A's `lifecycle up` never claimed the ledger"
            time.sleep(0.5)
        assert claim_of(ledger)["how"] == "up" and claim_of(ledger)["pid"] == up.pid
        with session_scope(ledger) as session:
            audited = session.scalar(select(func.count()).select_from(AuditEntry))
        for args in (["show", "customers"], ["run", "arrears", "--as-of", "2026-11-20"],
                     ["up", "--port", str(free_port())], ["db", "adopt"]):
            refused = lifecycle(b, *args)
            assert refused.returncode == 2, (args, refused.stderr)
            [line] = refused.stderr.strip().splitlines()
            assert f"LIFECYCLE_HOME '{a.resolve()}'" in line and "nothing was done" in line, (args, line)
        assert "its `lifecycle up` still runs" in line  # db adopt, the last one
        assert claim_of(ledger)["home"] == str(a.resolve())
        with session_scope(ledger) as session:
            assert session.scalar(select(func.count()).select_from(AuditEntry)) == audited
        assert not (b / "server.json").exists()
    finally:
        up.send_signal(signal.SIGINT)  # Ctrl-C, as a user stops it
        up.wait(timeout=120)

    adopted = lifecycle(b, "db", "adopt")
    assert adopted.returncode == 0, adopted.stderr
    assert f"it was served by '{a.resolve()}'" in adopted.stdout
    assert lifecycle(b, "show", "customers").returncode == 0
    refused = lifecycle(a, "show", "customers")
    assert refused.returncode == 2 and f"is served by LIFECYCLE_HOME '{b.resolve()}'" in refused.stderr


def test_a_joining_up_writes_nothing_and_a_failed_up_gives_the_claim_back_on_both_ledgers(tmp_path, monkeypatch,
                                                                                        ledger):
    """On SQLite and PostgreSQL: whether this `up` took a claim that was not there (the insert's row count) decides
    what a failed `up` gives back; an `up` joining the serving home's server writes nothing."""
    from ledger.installation import claim, give_back

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    monkeypatch.setenv("LIFECYCLE_HOME", str(b))
    assert claim(ledger, how="up", api_url="http://0.0.0.0:4200/api", pid=7) is None  # none before: made here
    give_back(None, pid=7, engine=ledger)  # that `up` failed before it was ready
    assert claim_of(ledger) is None
    monkeypatch.setenv("LIFECYCLE_HOME", str(a))
    assert claim(ledger, how="up", api_url="http://0.0.0.0:4200/api", pid=1) is None
    monkeypatch.setenv("LIFECYCLE_HOME", str(b))
    previous = claim(ledger, how="up", api_url="http://prefect.internal:4200/api", pid=2, joins_server=True)
    assert previous["home"] == str(a.resolve())
    held = claim_of(ledger)
    assert (held["home"], held["pid"], held["api_url"]) == (str(a.resolve()), 1, "http://0.0.0.0:4200/api")
    give_back(previous, pid=2, engine=ledger)  # the joining up failed: nothing of A's is touched
    assert claim_of(ledger)["pid"] == 1
