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


def _refused_characters(lines: bool) -> str:
    """A regular-expression class of every assigned character policy.text refuses in a one-line text (`lines`
    False) or in a text of lines: built from the rule itself, so the form refuses what the model does (a list
    written by hand missed the tag characters, the Hangul fillers, private use...). Unassigned code points,
    which no keyboard types, and a text of combining marks alone are left to the model (the run then ends
    Refused, saying so): with them the class is 30 KB, and the server quotes the pattern in its answer (now
    about 400 characters). About a second, once per process, when a form's schema is first built."""
    import unicodedata

    from policy.text import control_problem

    def refused_alone(char: str) -> bool:
        # judged beside a letter: a combining mark is refused in a text of marks alone (the model says so),
        # never after a letter, and the class is of what is refused wherever it stands; the unassigned code
        # points (three quarters of them all) are left out first, without judging the text they would make
        return unicodedata.category(char) != "Cn" and control_problem("a" + char, lines=lines) is not None

    ranges, start = [], None
    for code in range(0x110000 + 1):
        refused = code <= 0x10FFFF and (0xD800 <= code <= 0xDFFF or refused_alone(chr(code)))
        if refused and start is None:
            start = code
        elif not refused and start is not None:
            ranges.append((start, code - 1))
            start = None

    def escaped(code: int) -> str:  # Python's escapes: the server checks answers with Python's re
        return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"

    return "".join(escaped(first) if first == last else f"{escaped(first)}-{escaped(last)}" for first, last in ranges)


#: `_refused_characters(False)` and `(True)`, written out: computing them takes a second, and Prefect saves a
#: form's schema after the run shows as paused, so a form answered at once found no schema (the suite saw it).
#: tests/unit/test_form_texts.py computes them again from policy.text and fails when they differ.
REFUSED_IN_ONE_LINE = (
    "\\u0000-\\u001F\\u007F-\\u009F\\u00AD\\u034F\\u0600-\\u0605\\u061C\\u06DD\\u070F\\u0890-\\u0891"
    "\\u08E2\\u115F-\\u1160\\u180E\\u200B\\u200E-\\u200F\\u2028-\\u202E\\u2060-\\u2064\\u2066-\\u206F"
    "\\u2800\\u3164\\uD800-\\uF8FF\\uFEFF\\uFFA0\\uFFF9-\\uFFFC\\U000110BD\\U000110CD"
    "\\U00013430-\\U00013438\\U0001BCA0-\\U0001BCA3\\U0001D173-\\U0001D17A\\U000E0001"
    "\\U000E0020-\\U000E007F\\U000F0000-\\U000FFFFD\\U00100000-\\U0010FFFD")
REFUSED_IN_LINES = (
    "\\u0000-\\u0008\\u000B-\\u000C\\u000E-\\u001F\\u007F-\\u009F\\u00AD\\u034F\\u0600-\\u0605\\u061C"
    "\\u06DD\\u070F\\u0890-\\u0891\\u08E2\\u115F-\\u1160\\u180E\\u200B\\u200E-\\u200F\\u2028-\\u202E"
    "\\u2060-\\u2064\\u2066-\\u206F\\u2800\\u3164\\uD800-\\uF8FF\\uFEFF\\uFFA0\\uFFF9-\\uFFFC\\U000110BD"
    "\\U000110CD\\U00013430-\\U00013438\\U0001BCA0-\\U0001BCA3\\U0001D173-\\U0001D17A\\U000E0001"
    "\\U000E0020-\\U000E007F\\U000F0000-\\U000FFFFD\\U00100000-\\U0010FFFD")


def _plain_text_patterns(schema: dict) -> None:
    """The form's schema, as the Prefect server checks an answer before it accepts it: a refusal carries a
    comment; the reviewer is one line that shows something, the comment may hold lines; neither holds a
    character policy.text refuses, so a wrong answer is rejected while the form stays open."""
    schema.update(_REFUSAL_NEEDS_A_COMMENT)
    one_line, lines = REFUSED_IN_ONE_LINE, REFUSED_IN_LINES
    # the class once (the server quotes the whole pattern when it rejects an answer): not blank, then none of them
    schema["properties"]["reviewer"]["pattern"] = f"^(?!\\s*$)[^{one_line}]*$"
    schema["properties"]["comment"]["pattern"] = f"^[^{lines}]*$"


class Approval(RunInput):
    """Approve or refuse, who decided, and why."""

    model_config = {"json_schema_extra": _plain_text_patterns}

    approve: Annotated[bool, WithJsonSchema({
        "title": "Approve",
        "enum": [True, False],
        "description": "Choose true to approve, false to refuse. Nothing is decided until you choose.",
    })]
    reviewer: str = Field(..., min_length=1, max_length=NAME_LENGTH, description="Your name: it goes into the audit log.")
    comment: str = Field("", max_length=COMMENT_LENGTH, description="Why. Required when you refuse.")

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
