"""What a task needs to know about the run it is part of: its id, and the business date.

Scheduled flows take their business date from the run's scheduled time in Paris, never from
`now()`, so a run that starts late (or is retried tomorrow) still does yesterday's work.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

from policy.calendar import paris_date


def flow_run_id() -> str | None:
    from prefect.runtime import flow_run

    value = flow_run.id
    return str(value) if value else None


def actor(default: str = "flow") -> str:
    from prefect.runtime import flow_run

    name = flow_run.flow_name
    return f"flow:{name}" if name else default


def business_date(as_of: date | None) -> date:
    if as_of is not None:
        return as_of
    from prefect.runtime import flow_run

    scheduled = flow_run.scheduled_start_time
    if scheduled is not None:
        return paris_date(scheduled if scheduled.tzinfo else scheduled.replace(tzinfo=timezone.utc))
    return paris_date(datetime.now(timezone.utc))
