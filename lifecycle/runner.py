"""`lifecycle run X` as a run of deployment X, followed on the terminal.

When the server of `lifecycle up` (or `PREFECT_API_URL`) answers with the deployment and a worker
serves its pool, the command creates a flow run of that deployment, the way the UI's Run button
does: it appears on the deployment's page, runs on the worker with the server's configuration, and
its logs are printed here until it ends; the command exits with its result. Otherwise (no
deployment, no worker, or this command's own `LIFECYCLE_*` configuration differs from the one
`lifecycle up` runs with) the flow runs in this process, and the command says why.
"""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass
from datetime import timedelta, timezone

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


def configuration_differs(served: dict | None = None) -> str | None:
    """Which of this command's settings differ from those the server's worker runs with: as the server
    records them (`served`, written by `lifecycle up`/`deploy`), else as `lifecycle up` wrote them in this
    home's server.json."""
    from lifecycle_config.installation import configuration_differences

    recorded = (served or {}).get("config") or (config.server_record() or {}).get("config")
    if not recorded:
        return None
    return ", ".join(configuration_differences(recorded, config.snapshot(), os.environ.get)) or None


def route(deployment: str) -> Route:
    """Where `lifecycle run` should run `deployment` (flow-name/deployment-name)."""
    from prefect import get_client
    from prefect.client.schemas.objects import WorkPoolStatus

    from tasks.runtime import served_record

    try:
        with get_client(sync_client=True) as client:
            found = client.read_deployment_by_name(deployment)
            pool = client.read_work_pool(found.work_pool_name or WORK_POOL)
    except Exception:  # noqa: BLE001 - no such deployment (a bare or temporary server): the old way
        return Route(None, None)
    try:
        served = served_record()
    except Exception:  # noqa: BLE001 - the server busy: this home's own record, if any
        served = None
    differs = configuration_differs(served)
    if differs:
        return Route(None, f"this command's {differs} differ from the server's: running it here, not on the worker")
    if pool.status != WorkPoolStatus.READY:
        return Route(None, f"no worker serves the work pool {pool.name!r}: running it here")
    return Route(str(found.id), None)


#: the worker's own steps, the same for every run: not worth a line on the terminal
PLUMBING = re.compile(r"^(Running \d+ deployment pull step|Executing deployment step|Deployment step '.*' completed"
                      r"|All deployment steps completed)")


#: the engine's last word on a run that was refused or failed on a condition of the world, its traceback
#: dropped on the worker (tasks.runtime recognises a refusal by its class, Refusal): the run's one line,
#: printed last, says what and where
ENGINE_EXIT = "Engine execution exited with unexpected exception"


def _print_log(log, task_name: str | None) -> None:
    from policy.calendar import PARIS

    if PLUMBING.match(log.message) or log.message.rstrip() == ENGINE_EXIT:
        return
    stamp = log.timestamp.astimezone(timezone.utc).astimezone(PARIS).strftime("%H:%M:%S")
    level = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}.get(log.level, str(log.level))
    where = f"{task_name}: " if task_name else ""
    # a run's log may quote stored text (a customer's name): each of its lines printed as stored, a character a
    # terminal acts on escaped (its own line breaks kept: a traceback logged stays readable)
    from lifecycle.cli.common import literal

    message = "\n".join(literal(line) for line in log.message.split("\n"))
    print(f"{stamp} {level:<7} {where}{message}", file=sys.stderr, flush=True)


#: a run not started after this long is waiting for something: the terminal says what
QUIET_SECONDS = 10.0
#: and says it again, with how long, this often while it lasts
REMIND_SECONDS = 300.0


class Waiting:
    """Says once what a run that has not started waits for, again when that changes, and every
    REMIND_SECONDS while it lasts: a wait is never silent."""

    def __init__(self, echo, *, quiet: float = QUIET_SECONDS, remind: float = REMIND_SECONDS, clock=time.monotonic):
        self.echo, self.quiet, self.remind, self.clock = echo, quiet, remind, clock
        self.started = clock()
        self.last_check = self.said_at = None
        self.said: str | None = None

    def check(self, kind: str, reason) -> None:
        now = self.clock()
        if kind not in ("SCHEDULED", "PENDING"):
            self.started, self.said = now, None
            return
        if now - self.started < self.quiet or (self.last_check is not None and now - self.last_check < self.quiet):
            return
        self.last_check = now
        try:
            why = reason()
        except Exception as error:  # noqa: BLE001 - the server busy: say so rather than nothing
            why = f"waiting for the run to start (the server did not say why: {type(error).__name__})"
        if why != self.said or now - self.said_at >= self.remind:
            waited = int(now - self.started)
            self.echo(why + (f" (for {waited // 60} min {waited % 60:02d} s)" if why == self.said else ""))
            self.said, self.said_at = why, now


def waiting_for(client, run, state) -> str:
    """What a run that has not started waits for, in one line: a slot of its deployment's concurrency limit
    (and which runs hold it, since when), a worker of its pool (none online), or the worker starting it."""
    from prefect.client.schemas.filters import (FlowRunFilter, FlowRunFilterDeploymentId, FlowRunFilterState,
                                                FlowRunFilterStateType)
    from prefect.client.schemas.objects import StateType

    from policy.calendar import PARIS

    deployment = client.read_deployment(run.deployment_id)
    if state is not None and state.name == "AwaitingConcurrencySlot":
        holders = [other for other in client.read_flow_runs(
            flow_run_filter=FlowRunFilter(deployment_id=FlowRunFilterDeploymentId(any_=[deployment.id]),
                                          state=FlowRunFilterState(type=FlowRunFilterStateType(
                                              any_=[StateType.RUNNING, StateType.PENDING, StateType.CANCELLING]))),
            limit=10)
            if other.id != run.id]
        limit = deployment.global_concurrency_limit.limit if deployment.global_concurrency_limit else None
        at_most = f" (at most {limit} at once)" if limit else ""
        if not holders:
            return f"waiting for a concurrency slot of {deployment.name}{at_most}"
        held = ", ".join(f"{other.name} ({other.state_name} since "
                         f"{other.state.timestamp.astimezone(PARIS):%Y-%m-%d %H:%M})" for other in holders)
        return (f"waiting for a concurrency slot of {deployment.name}{at_most} held by run {held}; a run whose "
                f"worker was lost is marked crashed within minutes and frees it")
    pool_name = run.work_pool_name or deployment.work_pool_name or WORK_POOL
    online = [worker for worker in client.read_workers_for_work_pool(pool_name)
              if getattr(worker.status, "value", worker.status) == "ONLINE"]
    if not online:
        return (f"waiting for a worker to pick it up (no worker online for pool {pool_name}: is `lifecycle up` "
                f"running?)")
    if state is not None and state.type == StateType.PENDING:
        return f"waiting for the worker to start it (taken by a worker of pool {pool_name})"
    return f"waiting for a worker of pool {pool_name} to pick it up ({len(online)} online)"


#: how often the run's state and its new logs are read while it runs
POLL_SECONDS = 0.5
#: how long, at most, the last logs of a run that ended may take to arrive: its process sends them in batches
#: (PREFECT_LOGGING_TO_API_BATCH_INTERVAL) and as it exits; the engine's last word ends the wait sooner
LAST_LOGS_SECONDS = 3.0
#: the engine's last log line of every run it ends, whatever the state (a crashed process has none)
LAST_WORD = "Finished in state"
#: ... but the process of a run that suspends says it too ("Finished in state Suspended(...)"), and the run goes
#: on later in another process: that is no last word of the run
NOT_THE_END = ("Suspended", "Paused")
#: how late a log line may reach the server after a later one was printed: a run's lines come from the
#: worker and from the run's process (one after the other when a suspended run resumes), each sending its own
#: batches, so a line stamped earlier can arrive after one stamped later; each look reads back this far
LATE_LOGS_SECONDS = 60.0
#: the logs read at once; a look reads page after page until one is not full
LOG_PAGE = 200


class RunLogs:
    """A run's log lines, each printed once, none lost: the lines come from the worker and from the run's
    process(es), each sending its own batches, so one stamped earlier may reach the server after one stamped
    later; each look reads back LATE_LOGS_SECONDS before the latest line printed, page after page."""

    def __init__(self, read_page, show):
        self.read_page, self.show = read_page, show   # read_page(after, offset) -> lines sorted by time
        self.seen: set = set()
        self.latest = None

    def print_new(self) -> bool:
        """Print the lines not printed yet; whether the run's last word was among them."""
        last_word, offset = False, 0
        after = self.latest - timedelta(seconds=LATE_LOGS_SECONDS) if self.latest is not None else None
        while True:
            page = self.read_page(after, offset)
            for log in page:
                if log.id not in self.seen:
                    self.seen.add(log.id)
                    self.show(log)
                    self.latest = log.timestamp if self.latest is None else max(self.latest, log.timestamp)
                    last_word = last_word or _is_last_word(log)
            if len(page) < LOG_PAGE:
                return last_word
            offset += LOG_PAGE


def _is_last_word(log) -> bool:
    """Whether a log line is the engine's word that the run ended (not a task's, not a suspension's)."""
    if log.task_run_id is not None or not log.message.startswith(LAST_WORD):
        return False
    return not log.message[len(LAST_WORD):].lstrip().startswith(NOT_THE_END)


def run_and_follow(target: Route, parameters: dict, *, echo, poll_seconds: float = POLL_SECONDS):
    """Create a run of the deployment, print its logs until it ends, return its result (None when
    the result cannot be read here); raise RunFailed when it did not complete."""
    from prefect import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId, LogFilterTimestamp
    from prefect.client.schemas.sorting import LogSort

    from tasks.approval import run_url
    from tasks.runtime import STARTED_BY, installation_tags, login

    with get_client(sync_client=True) as client:
        # the run carries this ledger's identity: a worker serving another ledger refuses it
        run = client.create_flow_run_from_deployment(target.deployment_id, parameters=parameters,
                                                     tags=[*installation_tags(), STARTED_BY + login()])
        url = run_url(str(run.id))
        echo(f"run {run.name} of {client.read_deployment(target.deployment_id).name} on the worker: {url}")
        task_names: dict = {}

        def task_name(task_run_id) -> str | None:
            if task_run_id is None:
                return None
            if task_run_id not in task_names:
                task_names[task_run_id] = client.read_task_run(task_run_id).name
            return task_names[task_run_id]

        def read_page(after, offset: int) -> list:
            return client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id]),
                                              timestamp=LogFilterTimestamp(after_=after)),
                                    sort=LogSort.TIMESTAMP_ASC, limit=LOG_PAGE, offset=offset)

        run_logs = RunLogs(read_page, lambda log: _print_log(log, task_name(log.task_run_id)))
        print_new_logs = run_logs.print_new

        told_waiting = False
        waiting = Waiting(echo)
        try:
            ended = False
            while True:
                state = client.read_flow_run(run.id).state
                ended = print_new_logs() or ended
                kind = state.type.value if state else "PENDING"
                waiting.check(kind, lambda: waiting_for(client, run, state))
                if kind == "PAUSED" and not told_waiting:
                    echo(f"waiting for a decision in the UI: {url}")
                told_waiting = kind == "PAUSED"
                if kind in FINAL:
                    deadline = time.monotonic() + LAST_LOGS_SECONDS
                    while not ended and time.monotonic() < deadline:  # the last batch of logs is on its way
                        time.sleep(poll_seconds / 2)
                        ended = print_new_logs()
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
