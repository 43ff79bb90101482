"""The outbox's dispatcher as a Prefect task: operations/dispatch.py's `dispatch`, its own task run (no cache),
and `deliver` sending through it, so a run shows what it sent and applied apart."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from operations import dispatch as outbox

dispatch_task = task(outbox.dispatch, name="dispatch-outbox", cache_policy=NO_CACHE, persist_result=False)


def deliver(settings, customer_ids: list[str] | None = None) -> list[str]:
    """operations.dispatch.deliver in a run: the outbox dispatched as its task."""
    return outbox.deliver(settings, customer_ids, send=dispatch_task)
