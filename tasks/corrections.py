"""The corrections' Prefect tasks: operations/corrections.py's credit note and refund as task runs of their
flows (no cache: a correction is a write asked once)."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from operations.corrections import issue_credit_note, record_refund

credit_note_task = task(issue_credit_note, name="issue-credit-note", cache_policy=NO_CACHE, persist_result=False)
refund_task = task(record_refund, name="record-refund", cache_policy=NO_CACHE, persist_result=False)
