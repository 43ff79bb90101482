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
from pydantic import Field, ValidationError, WithJsonSchema, field_validator, model_validator

from tasks.runtime import COMMENT_LENGTH, NAME_LENGTH, TextRefused

#: the JSON schema rule the server enforces: a refusal carries a comment
_REFUSAL_NEEDS_A_COMMENT = {
    "if": {"properties": {"approve": {"const": False}}, "required": ["approve"]},
    "then": {"properties": {"comment": {"type": "string", "minLength": 1, "pattern": r"\S"}},
             "required": ["comment"]},
}


#: the characters a form's text never holds (policy.text refuses the same): C0 and C1 controls, DEL, and the
#: invisible ones that reorder or hide text (zero-width, bidi controls and isolates, the BOM); a line break
#: only in the comment. The server checks this pattern before it accepts an answer, the model says why.
_HIDDEN = r"\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u00AD\u061C\u200B-\u200F\u2028-\u202E\u2060-\u206F\uFEFF"
_ONE_LINE = "^[^" + _HIDDEN + r"\u0009\u000A\u000D]*[^" + _HIDDEN + r"\s][^" + _HIDDEN + r"\u0009\u000A\u000D]*$"
_LINES = "^[^" + _HIDDEN + "]*$"


class Approval(RunInput):
    """Approve or refuse, who decided, and why."""

    model_config = {"json_schema_extra": _REFUSAL_NEEDS_A_COMMENT}

    approve: Annotated[bool, WithJsonSchema({
        "title": "Approve",
        "enum": [True, False],
        "description": "Choose true to approve, false to refuse. Nothing is decided until you choose.",
    })]
    reviewer: str = Field(..., min_length=1, max_length=NAME_LENGTH, json_schema_extra={"pattern": _ONE_LINE},
                          description="Your name: it goes into the audit log.")
    comment: str = Field("", max_length=COMMENT_LENGTH, json_schema_extra={"pattern": _LINES},
                         description="Why. Required when you refuse.")

    @field_validator("reviewer", "comment", mode="before")
    @classmethod
    def _plain_text(cls, value, info):
        """What the schema's pattern refuses, said as every other entry says it (policy.text)."""
        from policy.text import text_problem

        if isinstance(value, str) and value:
            limit = NAME_LENGTH if info.field_name == "reviewer" else COMMENT_LENGTH
            problem = text_problem(value, limit, lines=info.field_name == "comment")
            if problem and not (info.field_name == "comment" and problem == "is empty"):
                raise ValueError(f"{info.field_name} {problem}")
        return value

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
    if not value:
        return None
    try:
        return Approval(**value)
    except ValidationError as error:  # a character the schema's pattern cannot name (a tag, a private-use one)
        first = error.errors()[0]
        raise TextRefused(f"the answer's {first['msg'].removeprefix('Value error, ')}: nothing was decided; "
                          f"start the run again and answer in plain text") from None


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
