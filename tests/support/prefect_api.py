"""Watching flow runs through the Prefect REST API, as the UI does."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx


def run_at_once(api: str, *args: str, times: int = 2) -> None:
    """Start the same `lifecycle run ...` several times at once against the server, and check each succeeds."""
    env = {**os.environ, "PREFECT_API_URL": api}
    runs = [subprocess.Popen([sys.executable, "-m", "lifecycle.cli", "run", *args], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(times)]
    for process in runs:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        assert "locked" not in err


def paused_runs(api: str) -> set[str]:
    runs = httpx.post(f"{api}/flow_runs/filter", json={"flow_runs": {"state": {"type": {"any_": ["PAUSED"]}}},
                                                         "limit": 50}).json()
    return {run["id"] for run in runs}


def next_paused_run(api: str, known: set[str], timeout: float = 120) -> str:
    """The run that pauses next (not one left paused by an earlier test)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = paused_runs(api) - known
        if new:
            return new.pop()
        time.sleep(0.5)
    raise AssertionError("no run paused")
