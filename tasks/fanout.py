"""Spreading a night's work over every worker of the pool: one run of a shard deployment per shard.

A vendor that outgrows one machine keeps the same flows: `nightly-backup` (and the weekly drill)
splits its customers into shards (sizes in the terms) and starts one shard run per shard with
`run_deployment`, so any worker of the `lifecycle` pool, on any machine, takes one. Two Prefect
global concurrency limits, set from the terms each time, cap how many shards read the platform
database and use the object storage at once, whatever the number of workers. A shard whose worker
was lost (its run marked crashed by the zombie automation of automations.yaml) is started again
on a live worker; its customers already done that night are skipped. Where no worker serves the
pool (a temporary server, a test in process), the caller runs the shards here, as it always did.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

POOL = "lifecycle"
BACKUP_SHARD = "backup-shard/backup-shard"
VERIFY_SHARD = "verify-shard/verify-shard"

#: the Prefect global concurrency limits a shard holds while it runs
PLATFORM_DATABASE = "platform-database"
OBJECT_STORAGE = "object-storage"
#: the restore drill's sandbox is one database: one backup is restored and read back there at a time
SANDBOX = "sandbox"

#: a crashed shard (its worker or machine lost) is started again at most this many times
RERUNS_OF_A_LOST_SHARD = 2

#: a shard's slot of a global limit outlives a killed holder by at most this long (Prefect leases)
SLOT_LEASE_SECONDS = 120


def shards(items: list, size: int) -> list[list]:
    return [items[start:start + size] for start in range(0, len(items), size)]


def workers_can_take_shards(deployment_name: str = BACKUP_SHARD) -> str | None:
    """Why the shards cannot go to the workers (None: they can): this run is not a deployment run, the
    shard deployment is not there, or no worker serves the pool."""
    from prefect import get_client
    from prefect.client.schemas.objects import WorkPoolStatus
    from prefect.runtime import deployment

    if not deployment.id:
        return "this run is not a deployment run"
    try:
        with get_client(sync_client=True) as client:
            client.read_deployment_by_name(deployment_name)
            pool = client.read_work_pool(POOL)
    except Exception as error:  # noqa: BLE001 - a bare server: run here
        return f"no {deployment_name} deployment here ({type(error).__name__})"
    if pool.status != WorkPoolStatus.READY:
        return f"no worker serves the work pool {POOL!r}"
    return None


def set_limits(terms) -> dict[str, int]:
    """Make the global concurrency limits say what the terms say (they may have been edited in the UI)."""
    from prefect import get_client

    from prefect.client.schemas.actions import DeploymentUpdate

    limits = {PLATFORM_DATABASE: terms.platform_database_shards, OBJECT_STORAGE: terms.object_storage_shards,
              SANDBOX: 1}
    with get_client(sync_client=True) as client:
        for name, limit in limits.items():
            client.upsert_global_concurrency_limit_by_name(name, limit)
        # shard runs beyond the limit wait on the server (AwaitingConcurrencySlot), not in a worker's process
        for deployment_name, limit in ((BACKUP_SHARD, terms.platform_database_shards),
                                       (VERIFY_SHARD, terms.object_storage_shards)):
            try:
                shard_deployment = client.read_deployment_by_name(deployment_name)
            except Exception:  # noqa: BLE001 - not deployed here: nothing to cap
                continue
            if shard_deployment.global_concurrency_limit is None or \
                    shard_deployment.global_concurrency_limit.limit != limit:
                client.update_deployment(shard_deployment.id, DeploymentUpdate(concurrency_limit=limit))
    return limits


@contextmanager
def holding(*limits: str):
    """Hold one slot of each global limit while a shard works (waits for a free one). A shard run outside
    a server's limits (none created) goes ahead, as Prefect does with an unknown limit."""
    from prefect.concurrency.sync import concurrency

    with concurrency(list(limits), occupy=1, lease_duration=SLOT_LEASE_SECONDS, strict=False,
                     raise_on_lease_renewal_failure=True):
        yield


def run_shards(deployment_name: str, parameters: list[dict], *, progress=None, poll_seconds: float = 5.0,
               say=print, key: str | None = None) -> dict[str, str]:
    """Start one shard run per parameter set and wait for them all. A shard that fails retries on its own
    (its flow's retries); one that crashed (its worker died) is started again, up to
    RERUNS_OF_A_LOST_SHARD times. Returns each shard's last run name and final state name, in order.
    The wait asks the server once per poll for every unfinished run (not once per run: on a small
    machine a poll per shard every 2 s cost the server half a core)."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.deployments import run_deployment

    from tasks.runtime import installation_tags

    reruns = [0] * len(parameters)
    tags = installation_tags()  # a worker serving another ledger refuses them

    def start(index: int):
        # one run per shard and attempt: a retried parent finds the shard runs it started (Prefect's idempotency)
        return run_deployment(deployment_name, parameters=parameters[index], timeout=0, tags=tags,
                              idempotency_key=f"{key}:shard-{index + 1}:attempt-{reruns[index]}" if key else None)

    runs = [start(index) for index in range(len(parameters))]
    ended: dict[int, str] = {}
    with get_client(sync_client=True) as client:
        while len(ended) < len(runs):
            waiting = {runs[index].id: index for index in range(len(runs)) if index not in ended}
            for run in client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=list(waiting))),
                                             limit=len(waiting)):
                index, state = waiting[run.id], run.state
                if state is None or not state.is_final():
                    continue
                if state.is_crashed() and reruns[index] < RERUNS_OF_A_LOST_SHARD:
                    reruns[index] += 1
                    runs[index] = start(index)
                    say(f"shard {index + 1} ({run.name}) crashed ({state.message or 'its worker was lost'}): "
                        f"started again as {runs[index].name}, on any live worker")
                    continue
                ended[index] = state.name
            if progress is not None:
                progress(len(ended), len(runs))
            if len(ended) < len(runs):
                time.sleep(poll_seconds)
    return {runs[index].name: ended[index] for index in range(len(runs))}
