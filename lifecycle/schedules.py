"""Whether the scheduler really schedules: every scheduled deployment has its upcoming runs.

A deployment with a schedule is worth nothing until Prefect's scheduler service has created its
flow runs; last wave a broken dependency kept it from creating any while everything else looked
fine. `lifecycle up` says "ready" only once each active schedule has an upcoming run, and shows
when each deployment runs next, in Europe/Paris.
"""

from __future__ import annotations

import time
from datetime import datetime

from policy.calendar import PARIS


def scheduled_deployments(client, pool: str) -> list:
    """The deployments of `pool` with at least one active schedule."""
    return [deployment for deployment in client.read_deployments()
            if deployment.work_pool_name == pool and any(s.active for s in deployment.schedules)]


def next_run(client, deployment) -> datetime | None:
    from prefect.client.schemas.filters import (DeploymentFilter, DeploymentFilterId, FlowRunFilter,
                                                FlowRunFilterState, FlowRunFilterStateType)
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    runs = client.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
        flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))),
        sort=FlowRunSort.EXPECTED_START_TIME_ASC, limit=1)
    return runs[0].expected_start_time if runs else None


class NoUpcomingRuns(RuntimeError):
    pass


def wait_for_upcoming_runs(pool: str, *, timeout: float, poll: float = 2.0) -> dict[str, datetime]:
    """Each scheduled deployment's next run, once the scheduler has created them all; raises
    NoUpcomingRuns naming the deployments still without one after `timeout` seconds."""
    from prefect import get_client

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        deployments = scheduled_deployments(client, pool)
        upcoming: dict[str, datetime] = {}
        while True:
            for deployment in deployments:
                if deployment.name not in upcoming:
                    found = next_run(client, deployment)
                    if found is not None:
                        upcoming[deployment.name] = found
            missing = sorted(d.name for d in deployments if d.name not in upcoming)
            if not missing:
                return dict(sorted(upcoming.items(), key=lambda item: item[1]))
            if time.monotonic() >= deadline:
                raise NoUpcomingRuns(f"the scheduler created no upcoming run for {', '.join(missing)} within "
                                     f"{int(timeout)} s")
            time.sleep(poll)


def paris(instant: datetime) -> str:
    """'Tue 24 Nov 2026 01:30 CET': how the terminal shows a run's time."""
    return instant.astimezone(PARIS).strftime("%a %d %b %Y %H:%M %Z")
