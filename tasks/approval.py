"""Human approvals: a flow run waits with a form in the Prefect UI (docs/how-to/approve-a-close.md).

The form cannot decide by accident: `approve` has no default and shows as a list with nothing
chosen (a toggle would submit `false` untouched), the reviewer must be named, a refusal must say
why, and the form's description shows what is at stake. The Prefect server checks the same JSON
schema before it accepts an answer, so a script gets the same refusal as the UI.

A deployment run is suspended while it waits (days, for finance): no worker process is held and
the run starts again from the top when answered, so everything before the wait is idempotent. A
run without a deployment (a test, a temporary server) cannot be resumed that way and is paused.
"""

from __future__ import annotations

import re
from typing import Annotated

from prefect.input import RunInput
from pydantic import Field, WithJsonSchema, model_validator

#: the JSON schema rule the server enforces: a refusal carries a comment
_REFUSAL_NEEDS_A_COMMENT = {
    "if": {"properties": {"approve": {"const": False}}, "required": ["approve"]},
    "then": {"properties": {"comment": {"type": "string", "minLength": 1, "pattern": r"\S"}},
             "required": ["comment"]},
}


class Approval(RunInput):
    """Approve or refuse, who decided, and why."""

    model_config = {"json_schema_extra": _REFUSAL_NEEDS_A_COMMENT}

    approve: Annotated[bool, WithJsonSchema({
        "title": "Approve",
        "enum": [True, False],
        "description": "Choose true to approve, false to refuse. Nothing is decided until you choose.",
    })]
    reviewer: str = Field(..., min_length=1, pattern=r"\S", description="Your name: it goes into the audit log.")
    comment: str = Field("", description="Why. Required when you refuse.")

    @model_validator(mode="after")
    def _refusal_says_why(self):
        if not self.approve and not self.comment.strip():
            raise ValueError("a refusal needs a comment saying why")
        return self


def answered(key: str) -> Approval | None:
    """The answer already given to this run's form `key`, else None. A suspended deployment run starts again
    from the top once answered: it reads its answer here instead of saying again that it waits (and having
    Prefect log "Suspending flow run" once more) before it acts on it."""
    from prefect.context import FlowRunContext
    from prefect.input.actions import read_flow_run_input
    from prefect.input.run_input import keyset_from_base_key

    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return None
    value = read_flow_run_input(keyset_from_base_key(f"suspended-{key}")["response"], flow_run_id=context.flow_run.id)
    return Approval(**value) if value else None


def decided(decision: Approval, who: str) -> str:
    """The log line of an answer: "finance approved by Alice: fine", "finance refused by Bob (why)"."""
    if decision.approve:
        return f"{who} approved by {decision.reviewer}" + (f": {decision.comment}" if decision.comment else "")
    return f"{who} refused by {decision.reviewer} ({decision.comment})"


def wait_for_decision(description: str, *, key: str, timeout_hours: float) -> Approval:
    """Show the form with `description` (markdown) and wait for the answer; raises FlowPauseTimeout
    when nobody answers in time (a suspended run is failed by the server instead)."""
    from prefect.flow_runs import pause_flow_run, suspend_flow_run
    from prefect.runtime import deployment

    form = Approval.with_initial_data(description=description)
    timeout = int(timeout_hours * 3600)
    if deployment.id:
        return suspend_flow_run(wait_for_input=form, timeout=timeout, key=key)
    return pause_flow_run(wait_for_input=form, timeout=timeout, key=key)


def pause_key(*parts: str) -> str:
    """A pause key as Prefect wants it: lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")


def ui_base() -> str:
    from prefect.settings import PREFECT_UI_URL

    return (PREFECT_UI_URL.value() or "").rstrip("/")


def run_url(flow_run_id: str | None) -> str:
    base = ui_base()
    return f"{base}/runs/flow-run/{flow_run_id}" if base else f"flow run {flow_run_id}"


def artifact_url(artifact_id) -> str | None:
    base = ui_base()
    return f"{base}/artifacts/artifact/{artifact_id}" if base and artifact_id else None
