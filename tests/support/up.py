"""`lifecycle up` as a user runs it, for the tests that need the real scheduler, worker and automations.

One instance per test session (a server start costs 20-30 s here). It keeps every line `up` prints,
so a test can look at what the terminal showed, and talks to the server through its REST API as
the UI does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from lifecycle.deathwatch import command_line  # noqa: F401 - the tests read processes as `up` does
from tests.support import cli

FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
RETRIED = {429, 502, 503}


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a user's shell: this home, no Prefect server chosen, no variable of the test's;
    but the session's day (LIFECYCLE_TODAY, when set), so that the product and the test agree on today."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("LIFECYCLE_", "PREFECT_API_URL", "PREFECT_HOME", "PREFECT_UI_URL"))
           or key == "LIFECYCLE_TODAY"}
    env.update({"LIFECYCLE_HOME": str(home), "PREFECT_LOGGING_LEVEL": "INFO"}, **extra)
    return env


#: the message of a scheduled run the test session cancelled so that it does not fire under a test
HELD = "held by the test session"


class Up:
    def __init__(self, home: Path, port: int):
        self.home, self.port = home, port
        self.api = f"http://127.0.0.1:{port}/api"
        self.lines: list[str] = []
        self.process: subprocess.Popen | None = None
        self._ready = threading.Event()

    def start(self, *args: str, timeout: float = 300) -> list[str]:
        """Start `lifecycle up` and return the lines it printed up to "ready:"."""
        self._ready.clear()
        first = len(self.lines)
        self.process = subprocess.Popen([sys.executable, "-m", "lifecycle.cli", "up", "--port", str(self.port), *args],
                                        env=clean_env(self.home), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True)
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()
        if not self._ready.wait(timeout):
            self.process.kill()
            raise AssertionError("lifecycle up did not become ready:\n" + "\n".join(self.lines[first:]))
        self._hold_the_schedules_during_the_session()
        return self.lines[first:]

    def _hold_the_schedules_during_the_session(self, hours: float = 2) -> None:
        """Cancel the scheduled runs that would fire while the suite runs: at 06:30 Paris the real arrears
        sweep would run today under a test that sweeps 40 days ago then today, and each test here drives
        the days it needs itself. The runs stay (cancelled), so the scheduler does not create them again;
        later ones stay scheduled, and one test forces one of them due to see the worker take it."""
        soon = (datetime.now(timezone.utc) + timedelta(hours=hours)).isoformat()
        for run in self.post("/flow_runs/filter", {"flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}},
                                                                 "expected_start_time": {"before_": soon}},
                                                   "limit": 200}):
            if run["auto_scheduled"]:
                self.post(f"/flow_runs/{run['id']}/set_state", {"state": {
                    "type": "CANCELLED", "name": "Cancelled", "message": HELD}, "force": True})

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.lines.append(line.rstrip())
            if line.startswith("ready:"):
                self._ready.set()

    def stop(self) -> int:
        """Ctrl-C, as a user stops it; returns its exit code."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=90)

    def lifecycle(self, *args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
        """`lifecycle ARGS` in a user's shell on this home: a ledger's command (`show`...) through the CLI's entry
        point in this process, a command that reaches the server in a process of its own (tests/support/cli.py)."""
        return cli.lifecycle(*args, env=clean_env(self.home, **env), timeout=timeout)

    def popen(self, *args: str, **env: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "lifecycle.cli", *args], env=clean_env(self.home, **env),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    # --- the REST API, as the UI uses it -----------------------------------------------------------

    def get(self, path: str):
        return self._call("GET", path).json()

    def post(self, path: str, body: dict | None = None):
        return self._call("POST", path, json=body or {}).json()

    def _call(self, method: str, path: str, **kwargs) -> httpx.Response:
        """One API call, tried again as Prefect's own client does: on 429/502/503 (an embedded server on
        SQLite answers 503 when its database is busy, PrefectHQ/prefect#18934, meaning "try again"), and
        for a read, on a time-out; any other error fails the test at once."""
        reading = method == "GET" or path.endswith("/filter") or "idempotency_key" in (kwargs.get("json") or {})
        for attempt in range(6):
            try:
                response = httpx.request(method, f"{self.api}{path}", timeout=60, **kwargs)
            except httpx.TimeoutException:
                if not reading or attempt == 5:
                    raise
                continue
            if response.status_code not in RETRIED or attempt == 5:
                break
            time.sleep(min(2 ** attempt, 10))
        response.raise_for_status()
        return response

    def deployments(self) -> dict[str, dict]:
        return {d["name"]: d for d in self.post("/deployments/filter", {"limit": 200})}

    def run_button(self, deployment: str, parameters: dict | None = None, **extra) -> str:
        """What the UI's Run button does: a flow run of the deployment, for the worker to take. With a key of
        its own, so that a click whose answer timed out (an embedded server on SQLite busy with eight runs
        starting, PrefectHQ/prefect#18934) is asked again safely: the server gives back the run it made."""
        import uuid

        deployment_id = self.deployments()[deployment]["id"]
        return self.post(f"/deployments/{deployment_id}/create_flow_run",
                         {"parameters": parameters or {}, "idempotency_key": f"run-button-{uuid.uuid4()}",
                          **extra})["id"]

    def wait(self, run_id: str, until: set[str] = FINAL, timeout: float = 240) -> dict:
        deadline = time.monotonic() + timeout
        run = None
        while time.monotonic() < deadline:
            run = self.get(f"/flow_runs/{run_id}")
            if run["state"] and (run["state"]["type"] in until or run["state"]["name"] in until):
                return run
            time.sleep(1)
        raise AssertionError(f"run {run_id} is {run['state'] if run else None} after {timeout} s, not {until}")

    def runs_of(self, deployment: str) -> list[dict]:
        deployment_id = self.deployments()[deployment]["id"]
        return self.post("/flow_runs/filter", {"deployments": {"id": {"any_": [deployment_id]}}, "limit": 200,
                                               "sort": "EXPECTED_START_TIME_DESC"})

    def next_suspended(self, deployment: str, known: set[str], timeout: float = 180) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for run in self.runs_of(deployment):
                if run["id"] not in known and run["state"]["name"] == "Suspended":
                    return run
            time.sleep(1)
        raise AssertionError(f"no run of {deployment} was suspended within {timeout} s")

    def resume(self, run_id: str, run_input: dict) -> dict:
        """What the form's Submit does; returns Prefect's answer (status ACCEPT or REJECT, and why)."""
        return self.post(f"/flow_runs/{run_id}/resume", {"run_input": run_input})

    def run_input(self, run: dict, which: str):
        keyset = run["state"]["state_details"]["run_input_keyset"]
        return self._call("GET", f"/flow_runs/{run['id']}/input/{keyset[which]}").text

    def server_log(self) -> str:
        return (self.home / "logs" / "server.log").read_text(errors="replace")


def processes_of(flow_run_id: str) -> list[int]:
    """The processes running a flow run: the worker starts each with its id in the environment."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if f"PREFECT__FLOW_RUN_ID={flow_run_id}".encode() in environ:
            found.append(int(proc.name))
    return found


def parent_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            parent = parent_of(int(proc.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(proc.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def signal_all(pids: list[int], *signals: int) -> None:
    """Send each signal to every process, in turn (SIGSTOP then SIGKILL: all frozen before any dies, so
    none sees another die and has a last word, as when a machine is lost)."""
    for sig in signals:
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass


def first_time_of_day(cron: str) -> str:
    """A cron's first run of the day, "HH:MM", from its minute and hour fields' first value ("*/15 8-18" is
    08:00): a deployment's description names it with its time zone, since the UI's schedule column does not."""
    def first(field: str) -> int:
        head = field.split(",")[0].split("/")[0].split("-")[0]
        return 0 if head == "*" else int(head)

    minute, hour = cron.split()[:2]
    return f"{first(hour):02d}:{first(minute):02d}"
