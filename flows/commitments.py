"""The service commitments, each morning: which promises are at risk, which are broken.

The seeds promise times (a blocking bug "immediately", bugs and evolutions "within 15 working days",
mail answered "within 48 hours", weekend mail on Monday: 000, 001, 003, 004); the clocks are rules of
the terms (policy/commitments.py). Each morning this run shows ops every open ticket, breached and at
risk first, alerts them once per ticket and state, and deletes the credentials of closed tickets.
"""

from __future__ import annotations

from lifecycle_config.conditions import Reported
from datetime import datetime
from typing import Optional

from prefect import flow
from prefect.artifacts import create_table_artifact

from ledger.commitments import alert_text, claim, look, mark_sent, purge_credentials
from ledger.db import session_scope
from lifecycle_config import clock
from policy.calendar import PARIS
from policy.commitments import ClockState
from tasks.runtime import Refusal, actor, flow_run_id, refusals_fail_quietly
from tasks.settings import load_run_settings


class AlertsNotSent(Reported):
    """Some alerts could not be sent; they stay recorded and go with the next run."""


class MomentRefused(Refusal):
    """An `as_of` ahead of now."""


@flow(name="commitments", log_prints=True, persist_result=True, result_serializer="json")
@refusals_fail_quietly
def commitments(as_of: Optional[datetime] = None) -> dict:
    """Every open ticket's commitments as of now: due times, on track / at risk / breached, an alert to ops
    when a ticket becomes at risk or breached (once per ticket and state); closed tickets' credentials deleted.

    Args:
        as_of: the moment to look from (Europe/Paris when it has no offset); empty means now.
    """
    if as_of is None:
        at = clock.now()
    else:
        at = as_of if as_of.tzinfo else as_of.replace(tzinfo=PARIS)
    if at > clock.now():
        raise MomentRefused(f"--as-of {at.isoformat()} is ahead of now: clocks are read as they stand")
    settings = load_run_settings("commitments")
    with session_scope(write=True) as session:
        morning = look(session, settings.terms, at, flow_run_id=flow_run_id())
        morning.purged = purge_credentials(session, at, actor=actor(), flow_run_id=flow_run_id())
    problems = []
    for alert_id in morning.alerts:
        # sent under its row's lock, and only if no other run sent it meanwhile: two runs at once never send twice
        with session_scope(write=True) as session:
            if not claim(session, alert_id):
                continue
            subject, body = alert_text(session, alert_id)
            try:
                settings.notifications.alert_ops(subject, body)
                error = None
            except Exception as failure:  # noqa: BLE001 - kept, and tried again by the next run
                error = f"{type(failure).__name__}: {failure}"
                problems.append(f"{subject}: {error}")
            mark_sent(session, alert_id, error)
    create_table_artifact(morning.rows or [{"ticket": None, "state": "no open ticket"}], key="commitments",
                          description=f"Open tickets as of {at.astimezone(PARIS):%Y-%m-%d %H:%M} (Paris): breached and "
                                      f"at risk first")
    breached, at_risk = morning.count(ClockState.BREACHED), morning.count(ClockState.AT_RISK)
    print(f"{at.astimezone(PARIS):%Y-%m-%d %H:%M}: {len(morning.rows)} open ticket(s), {breached} breached, {at_risk} "
          f"at risk; {len(morning.alerts) - len(problems)} alert(s) sent; {len(morning.purged)} closed ticket(s)' "
          f"credentials deleted")
    if problems:
        raise AlertsNotSent("; ".join(problems))
    return {"at": at.isoformat(), "open": len(morning.rows), "breached": breached, "at_risk": at_risk,
            "alerts": len(morning.alerts), "purged": morning.purged, "tickets": morning.rows}
