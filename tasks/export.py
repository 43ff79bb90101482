"""The billable export as a Prefect task: operations/export.py's `export_month`, its own task run of the
billable-export flow, no cache (each run reads the ledger as it is)."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from operations.export import export_month

export_task = task(export_month, name="write-workbook", cache_policy=NO_CACHE, persist_result=False)
