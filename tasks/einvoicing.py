"""The e-invoicing operations as a run calls them: thin tasks (no cache: each run deposits and reads anew), and
the hook a run that issues documents calls right after (a close, a credit note, penalties)."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from operations import einvoicing_documents, einvoicing_payments, einvoicing_statuses

deposit_documents_task = task(einvoicing_documents.deposit_documents, name="deposit-einvoice-documents",
                              cache_policy=NO_CACHE, persist_result=False)
poll_statuses_task = task(einvoicing_statuses.poll_statuses, name="poll-einvoice-statuses", cache_policy=NO_CACHE,
                          persist_result=False)
apply_effects_task = task(einvoicing_statuses.apply_effects, name="apply-einvoice-status-effects",
                          cache_policy=NO_CACHE, persist_result=False)
send_cashed_task = task(einvoicing_payments.send_cashed, name="send-einvoice-cashed", cache_policy=NO_CACHE,
                        persist_result=False)


def deposit_issued(settings, numbers: list[str], *, actor: str, flow_run_id: str | None) -> str | None:
    """Right after a run issued documents: deposit those that go through the platform. The platform down (or
    misconfigured) never fails the calling run: they stay pending for the e-invoicing run, said in one line
    (printed, and returned; None when there is no platform or nothing to deposit)."""
    from lifecycle_config import Misconfigured
    from lifecycle_config.conditions import is_world_condition, one_line

    if not numbers:
        return None
    try:
        if not settings.einvoicing.configured():
            return None
        done = deposit_documents_task(settings, actor=actor, flow_run_id=flow_run_id, numbers=list(numbers))
    except Exception as error:  # noqa: BLE001 - only the world's conditions wait for the e-invoicing run
        if not (is_world_condition(error) or isinstance(error, Misconfigured)):
            raise
        said = f"e-invoicing: documents not deposited now ({one_line(error)}): the e-invoicing run deposits them"
    else:
        if done.nothing_done():
            return None
        said = f"e-invoicing: {done.line()}"
    print(said)
    return said
