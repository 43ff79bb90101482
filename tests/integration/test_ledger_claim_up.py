"""Two homes side by side on one ledger (SQLite file outside both, or PostgreSQL), as a user meets them: home A's
real `lifecycle up` claims the ledger when it starts; a fresh home B (no ledger file, no server record) is refused
by every command and by its own `up`, in one line naming A, and nothing is written; `lifecycle db adopt` in B is
refused while A's `up` runs, and moves the installation once A is stopped; A is refused from then on."""

from __future__ import annotations

import os
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


def test_a_joining_up_or_worker_of_another_home_is_refused_and_rewrites_nothing_of_the_serving_home(
        tmp_path, ledger_url, ledger):
    """Probe 17 (D2): a fresh home's `up` with PREFECT_API_URL at A's server and A's ledger was taken for one more
    machine of A's installation: it applied the deployments again, overwrote the server's record of what its
    worker serves with its own LIFECYCLE_HOME (A's own `lifecycle run` then said its settings differed), and
    started a worker on A's pool with no keys and no platform, which took A's runs. A machine joins only with the
    configuration the server records: this one is refused in one line naming A, `up` and `worker` alike, before
    anything is written; the server's record, its deployments and its pool's workers stay A's."""
    import httpx

    a, j = tmp_path / "a", tmp_path / "j"
    a.mkdir(), j.mkdir()
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"

    def env(home, **extra):
        return clean_env(home, LIFECYCLE_DATABASE_URL=ledger_url,
                         LIFECYCLE_PLATFORM_URL=f"sqlite:///{home / 'platform.db'}", **extra)

    def seen_by_the_server() -> dict:
        """What A's server holds that a joining `up` rewrote: its record, its deployments, its pool's workers."""
        served = httpx.get(f"{api}/variables/name/lifecycle_served", timeout=30).json()["value"]
        deployments = sorted((d["name"], d["updated"], tuple(sorted(d["tags"])))
                             for d in httpx.post(f"{api}/deployments/filter", json={}, timeout=30).json())
        workers = sorted(w["name"] for w in httpx.post(f"{api}/work_pools/lifecycle/workers/filter", json={},
                                                       timeout=30).json())
        return {"served": served, "deployments": deployments, "workers": workers}

    log = (tmp_path / "a-up.log").open("w+")
    up = subprocess.Popen([sys.executable, "-m", "lifecycle.cli", "up", "--port", str(port)], env=env(a),
                          stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        while "ready: the UI is at" not in (tmp_path / "a-up.log").read_text():
            assert up.poll() is None and time.monotonic() < deadline, (tmp_path / "a-up.log").read_text()[-3000:]
            time.sleep(1)
        while not seen_by_the_server()["workers"]:  # A's worker's first heartbeat
            assert time.monotonic() < deadline, "A's worker never came online"
            time.sleep(1)
        before = seen_by_the_server()
        assert before["served"]["config"]["LIFECYCLE_HOME"] == str(a.resolve())
        joining = subprocess.Popen([sys.executable, "-m", "lifecycle.cli", "up", "--port", str(free_port())],
                                   env=env(j, PREFECT_API_URL=api), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        try:
            deadline = time.monotonic() + 240
            while joining.poll() is None and seen_by_the_server() == before:
                assert time.monotonic() < deadline, "the joining `up` neither ended nor wrote anything"
                time.sleep(1)
            assert seen_by_the_server() == before  # nothing of A's rewritten, no worker of J's on A's pool
        finally:
            if joining.poll() is None:
                joining.send_signal(signal.SIGINT)
            out, err = joining.communicate(timeout=120)
        assert joining.returncode == 2, (out, err)
        [line] = [said for said in err.splitlines() if said.startswith("lifecycle:")]
        assert (f"the Prefect server at '{api}' serves this ledger for LIFECYCLE_HOME '{a.resolve()}' on "
                in line), line
        assert "whose workers run with another configuration than this home's (" in line
        assert "LIFECYCLE_HOME" in line and "nothing was done" in line
        # no worker started here (on this machine it would bear the name of A's: its log tells it), and nothing
        # else made: a refused command leaves its home as it found it (it left logs/, prefect/ and up.lock)
        assert sorted(os.listdir(j)) == [], sorted(os.listdir(j))
        worker = subprocess.run([sys.executable, "-m", "lifecycle.cli", "worker"], env=env(j, PREFECT_API_URL=api),
                                capture_output=True, text=True, timeout=300)
        assert worker.returncode == 2, worker.stderr
        [line] = worker.stderr.strip().splitlines()
        assert f"serves this ledger for LIFECYCLE_HOME '{a.resolve()}'" in line and "nothing was done" in line
        assert sorted(os.listdir(j)) == [], sorted(os.listdir(j))
        assert seen_by_the_server() == before
        assert claim_of(ledger)["home"] == str(a.resolve())
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(timeout=120)
        log.close()


def test_a_bind_mounted_ledger_db_of_another_home_is_refused_and_gets_no_log(tmp_path, monkeypatch, sqlite_template):
    """Probe 19a (D3), as it was met: `touch $F/ledger.db; mount --bind $B/ledger.db $F/ledger.db`, then F's
    commands. F's name of B's file has one link and is no symbolic link, so F took it as its own and wrote a
    -wal of its own beside it (a split write log). Now refused in one line naming both homes, exit 2, no -wal or
    -shm beside F's name. The mount is made in a mount namespace of its own (`unshare --mount`, root or a user
    namespace), so nothing outlives the test; a machine that cannot mount fails here, saying so."""
    import shutil

    from ledger.installation import claim
    from lifecycle_config.databases import engine_for

    b, f = tmp_path / "b", tmp_path / "f"
    b.mkdir(), f.mkdir()
    shutil.copy(sqlite_template, b / "ledger.db")
    monkeypatch.setenv("LIFECYCLE_HOME", str(b))
    engine = engine_for(f"sqlite:///{b / 'ledger.db'}")
    claim(engine, how="up", pid=1)  # B's `up` serves its own ledger
    engine.dispose()
    (f / "ledger.db").touch()
    unshare = shutil.which("unshare")
    assert unshare, "`unshare` (util-linux) is needed to make the bind mount of this test"
    env = clean_env(f, LIFECYCLE_DATABASE_URL=f"sqlite:///{f / 'ledger.db'}")
    for command in (["show", "customers"], ["db", "upgrade"], ["import", "tickets", str(tmp_path / "t1.csv")]):
        script = ('mount --bind "$1" "$2" || { echo "MOUNT FAILED" >&2; exit 97; }; shift 2; exec "$@"')
        done = subprocess.run([unshare, "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                               str(b / "ledger.db"), str(f / "ledger.db"), sys.executable, "-m", "lifecycle.cli",
                               *command], env=env, capture_output=True, text=True, timeout=300)
        if done.returncode == 97 or "unshare:" in done.stderr:
            pytest.fail(f"this machine cannot make the bind mount this test needs (root, or user namespaces): "
                        f"{done.stderr.strip()}")
        assert (done.returncode, done.stdout) == (2, ""), (command, done.stderr)
        [line] = done.stderr.strip().splitlines()
        assert line.startswith(f"lifecycle: the ledger file '{f / 'ledger.db'}' of this LIFECYCLE_HOME "
                               f"('{f.resolve()}'"), line
        assert f"is the very file of the ledger.db of LIFECYCLE_HOME '{b.resolve()}' (the same device and inode: a " \
               f"bind mount or a volume)" in line and "nothing was done" in line
        assert sorted(p.name for p in f.iterdir()) == ["ledger.db"], command  # no log beside F's name
    assert (f / "ledger.db").stat().st_size == 0  # the mount is gone with its namespace: F's own empty file
    assert claim_of(engine_for(f"sqlite:///{b / 'ledger.db'}"))["home"] == str(b.resolve())
