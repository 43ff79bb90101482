"""The children `lifecycle up` starts die with it however it dies (lifecycle.deathwatch): a parent killed with
SIGKILL takes its watched child and the child's own children with it; and the next `up` of a home stops what a
killed `up` of an earlier release recorded and left running, and nothing else."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lifecycle.deathwatch import _alive

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PARENT = ("import subprocess, sys, time; from lifecycle.deathwatch import Lifeline; import os; line = Lifeline(); "
          "child = subprocess.Popen(line.command('tests.support.lifeline_child'), **line.popen(dict(os.environ)), "
          "stdout=sys.stdout); print('child', child.pid, flush=True); time.sleep(600)")


def gone(pids: list[int], polls: int = 300) -> bool:
    """Whether every process ends, looked at again and again (a bound of polls, not a time asserted)."""
    for _ in range(polls):
        if not any(_alive(pid) for pid in pids):
            return True
        time.sleep(0.1)
    return False


def test_a_watched_child_and_its_own_children_end_when_their_parent_is_killed_outright():
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    parent = subprocess.Popen([sys.executable, "-c", PARENT], env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                              text=True)
    said = dict(parent.stdout.readline().split() for _ in range(2))  # in either order
    child, grandchild = int(said["child"]), int(said["grandchild"])
    try:
        assert _alive(child) and _alive(grandchild)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert gone([child, grandchild])
    finally:
        for pid in (child, grandchild):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_unwatched_the_module_runs_as_python_m_runs_it():
    result = subprocess.run([sys.executable, "-m", "lifecycle.deathwatch", "json.tool"], input='{"a": 1}',
                            capture_output=True, text=True, cwd=PROJECT_ROOT,
                            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    assert (result.returncode, json.loads(result.stdout)) == (0, {"a": 1})


def test_the_next_up_stops_the_recorded_children_a_killed_up_left_and_only_those(tmp_path, monkeypatch):
    from lifecycle.deathwatch import record
    from lifecycle.server import hold_home, _left_behind

    monkeypatch.setenv("LIFECYCLE_HOME", str(tmp_path / "home"))
    left = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(601)"], start_new_session=True)
    try:
        (tmp_path / "home").mkdir()
        recorded = record(left.pid)
        (tmp_path / "home" / "up.lock").write_text(json.dumps({
            "pid": 999999, "ui": "http://127.0.0.1:21700", "children": [
                recorded, {"pid": stranger.pid, "command": "python -m lifecycle.deathwatch prefect worker start"}]}))
        said: list[str] = []
        held = hold_home("http://127.0.0.1:21700")
        _left_behind(held.previous, said.append)
        held.close()
        assert left.wait() == -signal.SIGTERM
        assert stranger.poll() is None   # its command line is not the one recorded: not that `up`'s child
        assert said == [f"stopping what the previous `lifecycle up` of this home (process 999999) left running when "
                        f"it was killed: process {left.pid}"]
    finally:
        for process in (left, stranger):
            process.kill()
            process.wait()
