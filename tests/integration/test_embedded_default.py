"""The embedded default as a user meets it: `lifecycle up --demo`, the deployments, Ctrl-C, a restart."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_prefect_yaml_lists_existing_flows_with_paris_schedules():
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    names = set()
    for deployment in config["deployments"]:
        path, function = deployment["entrypoint"].split(":")
        spec = importlib.util.spec_from_file_location(f"entry_{function}", ROOT / path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        flow = getattr(module, function)
        assert flow.__class__.__name__ == "Flow", deployment["name"]
        assert flow.description, f"{deployment['name']}: the UI shows the flow's docstring"
        for schedule in deployment.get("schedules", []):
            assert schedule["timezone"] == "Europe/Paris"
        assert deployment["work_pool"]["name"] == "lifecycle"
        assert deployment.get("concurrency_limit"), deployment["name"]
        names.add(deployment["name"])
    assert {"standby-expiry", "standby-request", "monthly-close", "arrears-escalation", "data-deletion",
            "billable-export", "nightly-backup", "verify-backups", "restore-backup"} <= names


def test_the_migration_builds_exactly_the_models(ledger):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from ledger.models import Base

    with ledger.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def _start(home: Path, port: int, *args: str) -> tuple[subprocess.Popen, list[str]]:
    env = {**os.environ, "LIFECYCLE_HOME": str(home)}
    for name in ("PREFECT_API_URL", "LIFECYCLE_DATABASE_URL", "LIFECYCLE_PLATFORM_URL", "LIFECYCLE_STORAGE_URL"):
        env.pop(name, None)
    process = subprocess.Popen([sys.executable, "-m", "lifecycle.cli", "up", "--port", str(port), *args], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if line.startswith("ready:"):
            return process, lines
    process.kill()
    raise AssertionError("lifecycle up did not become ready:\n" + "\n".join(lines))


def _stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGINT)
    return process.wait(timeout=60)


def _lifecycle(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LIFECYCLE_HOME": str(home)}
    for name in ("PREFECT_API_URL", "LIFECYCLE_DATABASE_URL", "LIFECYCLE_PLATFORM_URL"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "lifecycle.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.prefect
def test_up_serves_the_deployments_runs_them_and_stops_cleanly(tmp_path):
    home, port = tmp_path / "home", free_port()
    api = f"http://127.0.0.1:{port}/api"
    process, lines = _start(home, port, "--demo")
    try:
        assert any("in arrears: C002, C003, C004, C007; on standby: C009" in line for line in lines)
        deployments = {d["name"]: d for d in httpx.post(f"{api}/deployments/filter", json={}).json()}
        assert {"standby-expiry", "standby-request"} <= set(deployments)
        [schedule] = deployments["standby-expiry"]["schedules"]
        assert schedule["schedule"]["timezone"] == "Europe/Paris" and schedule["active"]
        assert set(deployments["standby-request"]["parameter_openapi_schema"]["properties"]) == {
            "customer_id", "reason", "start_on", "end_on", "requested_by"}
        blocks = {b["name"] + "/" + b["block_type"]["slug"] for b in
                  httpx.post(f"{api}/block_documents/filter", json={"include_secrets": False}).json()}
        assert {"lifecycle/policy-terms", "lifecycle/platform-control", "lifecycle/lifecycle-notifications",
                "lifecycle/lifecycle-object-storage"} <= blocks

        # what the UI's "Run" form does: a flow run of the deployment, picked up by the worker
        run = httpx.post(f"{api}/deployments/{deployments['standby-request']['id']}/create_flow_run",
                         json={"parameters": {"customer_id": "C015", "reason": "third_party_integration"}}).json()
        deadline, state = time.monotonic() + 180, None
        while time.monotonic() < deadline:
            state = httpx.get(f"{api}/flow_runs/{run['id']}").json()["state"]["type"]
            if state in ("COMPLETED", "FAILED", "CRASHED"):
                break
            time.sleep(1)
        assert state == "COMPLETED"
        with sqlite3.connect(home / "platform.db") as platform:
            assert platform.execute("SELECT admin_enabled, platform_enabled, operations_enabled FROM tenants "
                                    "WHERE tenant_id = 'C015'").fetchone() == (1, 1, 0)
        notices = json.loads(_lifecycle(home, "show", "notices", "--format", "json").stdout)
        assert [(n["customer_id"], n["kind"]) for n in notices] == [("C015", "standby_started")]

        # a CLI run uses this server: no temporary one
        cli = _lifecycle(home, "run", "standby-expiry")
        assert cli.returncode == 0, cli.stderr
        assert "temporary" not in cli.stderr
    finally:
        code = _stop(process)
    assert code == 0
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{api}/health", timeout=2)
    assert not (home / "server.json").exists()

    # a restart keeps every piece of data: the blocks as edited, the runs, the deployments
    process, lines = _start(home, port)
    try:
        assert not any("saved default block" in line for line in lines)
        runs = httpx.post(f"{api}/flow_runs/filter", json={}).json()
        assert run["id"] in {r["id"] for r in runs}
        assert len(httpx.post(f"{api}/deployments/filter", json={}).json()) == len(deployments)
    finally:
        assert _stop(process) == 0
