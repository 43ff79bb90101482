"""`lifecycle run X` as a run of deployment X, followed on the terminal.

When the server of `lifecycle up` (or `PREFECT_API_URL`) answers with the deployment and a worker
serves its pool, the command creates a flow run of that deployment, the way the UI's Run button
does: it appears on the deployment's page, runs on the worker with the server's configuration, and
its logs are printed here until it ends; the command exits with its result. Otherwise (no
deployment, no worker, or this command's own `LIFECYCLE_*` configuration differs from the one
`lifecycle up` runs with) the flow runs in this process, and the command says why.
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass
from datetime import timezone

import lifecycle_config as config

WORK_POOL = "lifecycle"
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


class RunFailed(RuntimeError):
    """The deployment run ended in a failed, crashed or cancelled state; the message is its own.
    `refused`: a rule refused what was asked (the user's mistake), rather than something breaking."""

    def __init__(self, message: str, refused: bool = False):
        super().__init__(message)
        self.refused = refused


@dataclass(frozen=True)
class Route:
    deployment_id: str | None   # None: run in this process
    note: str | None            # why not a deployment run, when the user should know


def configuration_differs() -> str | None:
    """Which of this command's settings differ from those `lifecycle up` runs its worker with."""
    import json

    try:
        recorded = json.loads(config.server_file().read_text()).get("config")
    except (OSError, ValueError):
        return None
    if not recorded:
        return None
    mine = config.snapshot()
    changed = [name for name in sorted(mine) if recorded.get(name) != mine[name]]
    return ", ".join(changed) or None


def route(deployment: str) -> Route:
    """Where `lifecycle run` should run `deployment` (flow-name/deployment-name)."""
    from prefect import get_client
    from prefect.client.schemas.objects import WorkPoolStatus

    try:
        with get_client(sync_client=True) as client:
            found = client.read_deployment_by_name(deployment)
            pool = client.read_work_pool(found.work_pool_name or WORK_POOL)
    except Exception:  # noqa: BLE001 - no such deployment (a bare or temporary server): the old way
        return Route(None, None)
    differs = configuration_differs()
    if differs:
        return Route(None, f"this command's {differs} differ from the server's: running it here, not on the worker")
    if pool.status != WorkPoolStatus.READY:
        return Route(None, f"no worker serves the work pool {pool.name!r}: running it here")
    return Route(str(found.id), None)


#: the worker's own steps, the same for every run: not worth a line on the terminal
PLUMBING = re.compile(r"^(Running \d+ deployment pull step|Executing deployment step|Deployment step '.*' completed"
                      r"|All deployment steps completed)")


#: the engine's traceback of a run that was refused (the asker's mistake, already told in one line)
REFUSAL_TRACEBACK = re.compile(r"^Engine execution exited with unexpected exception.*\n[\w.]*Refused: [^\n]*\Z",
                               re.S)


#: the engine's last word on a run that failed on a condition of the world, its traceback dropped
#: (tasks.runtime): the run's one line, printed last, says what and where
ENGINE_EXIT = "Engine execution exited with unexpected exception"


def _print_log(log, task_name: str | None) -> None:
    from policy.calendar import PARIS

    if PLUMBING.match(log.message) or REFUSAL_TRACEBACK.match(log.message.rstrip()) or log.message == ENGINE_EXIT:
        return
    stamp = log.timestamp.astimezone(timezone.utc).astimezone(PARIS).strftime("%H:%M:%S")
    level = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}.get(log.level, str(log.level))
    where = f"{task_name}: " if task_name else ""
    print(f"{stamp} {level:<7} {where}{log.message}", file=sys.stderr, flush=True)


def run_and_follow(target: Route, parameters: dict, *, echo, poll_seconds: float = 1.0):
    """Create a run of the deployment, print its logs until it ends, return its result (None when
    the result cannot be read here); raise RunFailed when it did not complete."""
    from prefect import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId, LogFilterTimestamp
    from prefect.client.schemas.sorting import LogSort

    from tasks.approval import run_url
    from tasks.runtime import installation_tags

    with get_client(sync_client=True) as client:
        # the run carries this ledger's identity: a worker serving another ledger refuses it
        run = client.create_flow_run_from_deployment(target.deployment_id, parameters=parameters,
                                                     tags=installation_tags())
        url = run_url(str(run.id))
        echo(f"run {run.name} of {client.read_deployment(target.deployment_id).name} on the worker: {url}")
        seen: set = set()
        since = None
        task_names: dict = {}

        def task_name(task_run_id) -> str | None:
            if task_run_id is None:
                return None
            if task_run_id not in task_names:
                task_names[task_run_id] = client.read_task_run(task_run_id).name
            return task_names[task_run_id]

        def print_new_logs():
            nonlocal since
            for log in client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id]),
                                                  timestamp=LogFilterTimestamp(after_=since)),
                                        sort=LogSort.TIMESTAMP_ASC, limit=200):
                if log.id not in seen:
                    seen.add(log.id)
                    _print_log(log, task_name(log.task_run_id))
                    since = log.timestamp

        told_waiting = False
        try:
            while True:
                state = client.read_flow_run(run.id).state
                print_new_logs()
                kind = state.type.value if state else "PENDING"
                if kind == "PAUSED" and not told_waiting:
                    echo(f"waiting for a decision in the UI: {url}")
                told_waiting = kind == "PAUSED"
                if kind in FINAL:
                    time.sleep(2 * poll_seconds)  # logs are shipped in batches: take the last ones
                    print_new_logs()
                    break
                time.sleep(poll_seconds)
        except KeyboardInterrupt:
            echo(f"stopped following; the run goes on: {url}")
            raise
        if kind != "COMPLETED":
            raise RunFailed(state.message or f"the run ended {state.name}: {url}", refused=state.name == "Refused")
        try:
            return state.result()
        except Exception:  # noqa: BLE001 - the worker's result storage is not readable from here
            echo(f"completed; its result is on the worker's machine: {url}")
            return None
