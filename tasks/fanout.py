"""Spreading a night's work over every worker of the pool: one run of a shard deployment per shard.

A vendor that outgrows one machine keeps the same flows: `nightly-backup` splits its customers into
shards (`backup_shard_size` in the terms) and starts one `backup-shard` run per shard with
`run_deployment`, so any worker of the `lifecycle` pool, on any machine, takes one; the shard
deployment's concurrency limit caps how many hit the platform and the storage at once. Where no
worker serves the pool (a temporary server, a test in process), the shards run here, one after
the other, as they always did.
"""

from __future__ import annotations

import time

SHARD_DEPLOYMENT = "backup-shard/backup-shard"
POOL = "lifecycle"


def shards(customer_ids: list[str], size: int) -> list[list[str]]:
    return [customer_ids[start:start + size] for start in range(0, len(customer_ids), size)]


def workers_can_take_shards() -> str | None:
    """Why the shards cannot go to the workers (None: they can): this run is not a deployment run, the
    shard deployment is not there, or no worker serves the pool."""
    from prefect import get_client
    from prefect.client.schemas.objects import WorkPoolStatus
    from prefect.runtime import deployment

    if not deployment.id:
        return "this run is not a deployment run"
    try:
        with get_client(sync_client=True) as client:
            client.read_deployment_by_name(SHARD_DEPLOYMENT)
            pool = client.read_work_pool(POOL)
    except Exception as error:  # noqa: BLE001 - a bare server: run here
        return f"no {SHARD_DEPLOYMENT} deployment here ({type(error).__name__})"
    if pool.status != WorkPoolStatus.READY:
        return f"no worker serves the work pool {POOL!r}"
    return None


def run_shards(parameters: list[dict], *, progress=None, poll_seconds: float = 2.0) -> dict[str, str]:
    """Start one shard run per parameter set, wait for them all (each retries on its own); returns each
    run's name and final state name, in the order given."""
    from prefect import get_client
    from prefect.deployments import run_deployment

    started = [run_deployment(SHARD_DEPLOYMENT, parameters=params, timeout=0) for params in parameters]
    ended: dict[str, str] = {}
    with get_client(sync_client=True) as client:
        while len(ended) < len(started):
            for run in started:
                if run.name in ended:
                    continue
                state = client.read_flow_run(run.id).state
                if state is not None and state.is_final():
                    ended[run.name] = state.name
            if progress is not None:
                progress(len(ended), len(started))
            if len(ended) < len(started):
                time.sleep(poll_seconds)
    return {run.name: ended[run.name] for run in started}
