"""The daily arrears sweep as a Prefect task: operations/arrears.py's sweep, with the run's logger for the
bugs it meets on a customer (their tracebacks stay in the run's log) and no cache."""

from __future__ import annotations

from datetime import date

from prefect import task
from prefect.cache_policies import NO_CACHE

from blocks.settings import Settings
from operations.arrears import ArrearsReport, sweep
from tasks.runtime import log_bug


@task(name="arrears-sweep", cache_policy=NO_CACHE, persist_result=False)
def sweep_task(day: date, settings: Settings, *, dry_run: bool, actor: str, flow_run_id: str | None, engine=None,
               forced_reason: str | None = None) -> ArrearsReport:
    return sweep(day, settings, dry_run=dry_run, actor=actor, flow_run_id=flow_run_id, engine=engine,
                 forced_reason=forced_reason, on_bug=log_bug)
