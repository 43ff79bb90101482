"""Standby's Prefect tasks: operations/standby.py's request and daily sweep as task runs of their flows
(no cache), the sweep with the run's logger for the bugs it meets on a period."""

from __future__ import annotations

from datetime import date

from prefect import task
from prefect.cache_policies import NO_CACHE

from blocks.settings import Settings
from operations.standby import StandbyReport, request, sweep_standby
from tasks.runtime import log_bug

request_task = task(request, name="standby-request", cache_policy=NO_CACHE, persist_result=False)


@task(name="standby-sweep", cache_policy=NO_CACHE, persist_result=False)
def sweep_standby_task(day: date, settings: Settings, *, actor: str, flow_run_id: str | None,
                       engine=None) -> StandbyReport:
    return sweep_standby(day, settings, actor=actor, flow_run_id=flow_run_id, engine=engine, on_bug=log_bug)
