"""The service commitments, every quarter of an hour on working days: which promises are at risk, which
are broken.

The seeds promise times (a blocking bug "immediately", bugs and evolutions "within 15 working days",
mail answered "within 48 hours", weekend mail on Monday: 000, 001, 003, 004); the clocks are rules of
the terms (policy/commitments.py), the warnings and service hours too (policy/warnings.py). Each run
shows ops every open ticket, breached and at risk first, warns them before each due time and alerts
them at a breach (once each; outside service hours held until the opening, a blocking bug at once),
and deletes the credentials of closed tickets (operations/commitments.py does it; this flow shows it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from prefect import flow
from prefect.artifacts import create_table_artifact

from lifecycle_config.conditions import Reported
from operations.commitments import moment, run_commitments
from policy.calendar import PARIS
from policy.text import markdown_cells
from tasks.runtime import actor, check_window, flow_run_id, refusals_fail_quietly
from tasks.settings import load_run_settings


class AlertsNotSent(Reported):
    """Some alerts could not be sent; they stay recorded and go with the next run."""


@flow(name="commitments", log_prints=True, persist_result=True, result_serializer="json")
@refusals_fail_quietly
def commitments(as_of: Optional[datetime] = None) -> dict:
    """Every open ticket's commitments as of now: due times, on track / at risk / breached; ops warned 4 and 1
    working hours before each due time and alerted at a breach (once each), alerts computed outside service
    hours held until the next opening but a blocking bug's; closed tickets' credentials deleted.

    Args:
        as_of: the moment to look from (Europe/Paris when it has no offset); empty means now.
    """
    at = moment(as_of)  # refused when ahead of now, before anything is read
    settings = load_run_settings("commitments")
    check_window(settings.terms, as_of=at)  # as --as-of: 0001-01-01T00:00 is no moment to look from
    morning = run_commitments(at, settings.terms, settings.notifications, actor=actor(), flow_run_id=flow_run_id())
    create_table_artifact(markdown_cells(morning.tickets) or [{"ticket": None, "state": "no open ticket"}],
                          key="commitments",
                          description=f"Open tickets as of {morning.at.astimezone(PARIS):%Y-%m-%d %H:%M} (Paris): "
                                      f"breached and at risk first")
    create_table_artifact(markdown_cells(morning.metrics) or [{"month": None, "tickets": 0}], key="commitment-metrics",
                          description=f"The month so far as of {morning.at.astimezone(PARIS):%Y-%m-%d %H:%M} (Paris), "
                                      f"tickets closed in it, per customer, type and severity: working hours to "
                                      f"first response and to resolution (median, 90th percentile), time paused")
    print(morning.line())
    if morning.problems:
        raise AlertsNotSent("; ".join(morning.problems))
    return morning.summary()
