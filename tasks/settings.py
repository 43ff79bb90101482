"""Loading the run's settings as a task, with retries: the blocks come from the Prefect API."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from blocks.settings import Settings, load_settings
from ledger.db import session_scope
from ledger.terms_copies import remember_terms
from lifecycle_config.scratch import sweep_scratch
from tasks.runtime import retry_unless_configuration


# never persisted: the blocks carry secrets; retried when the server or the ledger does not answer, never for a
# block saved with a value out of its bounds (the same block is read again)
@task(name="load-settings", retries=2, retry_delay_seconds=2, retry_condition_fn=retry_unless_configuration,
      cache_policy=NO_CACHE, persist_result=False)
def load_run_settings(source: str) -> Settings:
    """The blocks as they are now; the ledger keeps a copy of the terms this run uses, once load_settings
    accepted them (a block refused there leaves the copy the imports and `show terms` read as it was). Each
    run starts by sweeping the temporary folders of runs that were killed."""
    sweep_scratch()
    settings = load_settings()
    with session_scope(write=True) as session:
        remember_terms(session, settings.terms, source)
    return settings
