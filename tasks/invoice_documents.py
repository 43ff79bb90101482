"""The invoice documents as a run issues them: operations/invoice_documents.py's `issue_documents` as a task
(retried once: storage may hiccup), and `finish_documents` with the outbox dispatched as its task."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from operations import invoice_documents as documents
from tasks.dispatch import deliver
from tasks.runtime import retry_unless_configuration

issue_documents_task = task(documents.issue_documents, name="issue-invoice-documents", cache_policy=NO_CACHE,
                            persist_result=False, retries=1, retry_delay_seconds=10,
                            retry_condition_fn=retry_unless_configuration)


def finish_documents(settings, **options) -> documents.Finished:
    """operations.invoice_documents.finish_documents in a run."""
    return documents.finish_documents(settings, deliver=deliver, **options)
