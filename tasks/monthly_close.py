"""The monthly close's Prefect tasks: each step of operations/close.py as a task of the run (its own task
run, no cache), so the flow shows drafting, finalising and discarding apart."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from operations.close import discard, draft, finalise

draft_task = task(draft, name="draft-invoices", cache_policy=NO_CACHE, persist_result=False)
finalise_task = task(finalise, name="finalise-invoices", cache_policy=NO_CACHE, persist_result=False)
discard_task = task(discard, name="discard-drafts", cache_policy=NO_CACHE, persist_result=False)
