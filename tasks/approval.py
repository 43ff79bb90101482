"""Human approvals: a flow run pauses with a form in the Prefect UI (INTERFACES.md "Approvals")."""

from __future__ import annotations

import re

from prefect.input import RunInput


class Approval(RunInput):
    """The resume form: approve or refuse, who decided, and why."""

    approve: bool = False
    reviewer: str = ""
    comment: str = ""


def pause_key(*parts: str) -> str:
    """A pause key as Prefect wants it: lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")


def run_url(flow_run_id: str | None) -> str:
    from prefect.settings import PREFECT_UI_URL

    base = (PREFECT_UI_URL.value() or "").rstrip("/")
    return f"{base}/runs/flow-run/{flow_run_id}" if base else f"flow run {flow_run_id}"
