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


WORKER = ("import sys, time; from lifecycle.deathwatch import watch_server; watch_server(sys.argv[1], sys.argv[2], "
          "every=0.1); print('watching', flush=True); time.sleep(600)")


def test_a_worker_stops_once_another_server_answers_at_its_address(tmp_path):
    """A worker serves the server its own `up` started: another server on the same port (another home's, its data
    elsewhere) makes it stop, where an orphaned worker took that server's runs."""
    import http.server

    from tests.support.ports import serve_in_thread

    answer = {"home": str(tmp_path / "prefect")}

    class Settings(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Settings)
    serve_in_thread(server)
    api = f"http://127.0.0.1:{server.server_address[1]}/api"
    worker = subprocess.Popen([sys.executable, "-c", WORKER, api, str(tmp_path / "prefect")], cwd=PROJECT_ROOT,
                              env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert worker.stdout.readline() == "watching\n"
        for _ in range(5):   # its own server: it keeps serving
            time.sleep(0.1)
        assert worker.poll() is None
        answer["home"] = str(tmp_path / "another-home" / "prefect")
        assert worker.wait(timeout=120) == -signal.SIGTERM
        assert worker.stderr.read() == (f"lifecycle: the server at {api} is no longer the one this worker's `lifecycle "
                                        f"up` started (its data in {tmp_path / 'another-home' / 'prefect'}, not "
                                        f"{tmp_path / 'prefect'}): this worker stops\n")
    finally:
        worker.kill()
        worker.wait()
        server.shutdown()
