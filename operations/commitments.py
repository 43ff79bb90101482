"""The service commitments, each morning: every open ticket's clocks, the alerts they call for (sent to
ops), and the credentials of closed tickets purged. The clocks are rules of the terms
(policy/commitments.py); `run_commitments` is the whole morning, in plain Python.

Each alert is recorded (once per ticket, clock and state: `ticket_alerts.alert_key`) before it is
sent, so a run that dies between the two sends it with the next run; it is sent under its row's lock
and only while unsent, so two runs at once never send it twice.
A closed ticket's credentials are deleted (the token set to NULL; seed 003: "deleted completely once
the request is closed") and the purge is audited without the secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from blocks.notifications import Notifications
from operations.results import RunResult
from ledger import audit, keys
from ledger.db import insert_if_missing, now, session_scope
from lifecycle_config import clock
from ledger.models import Customer, Ticket, TicketAlert
from ledger.views import ticket_clocks
from policy.calendar import PARIS
from policy.commitments import ClockState, ticket_state
from policy.refusals import Refusal
from policy.terms import Terms

ALERTED = (ClockState.AT_RISK, ClockState.BREACHED)
#: the order ops read: what is lost first, then what is at risk, then the rest
ORDER = {ClockState.BREACHED: 0, ClockState.AT_RISK: 1, ClockState.ON_TRACK: 2, ClockState.MISSED: 3,
         ClockState.MET: 4}


class MomentRefused(Refusal):
    """An `as_of` ahead of now."""


@dataclass
class Morning:
    at: datetime
    rows: list[dict] = field(default_factory=list)         # one per open ticket, worst first
    alerts: list[int] = field(default_factory=list)        # ticket_alerts ids to send
    purged: list[str] = field(default_factory=list)

    def count(self, state: ClockState) -> int:
        return sum(1 for row in self.rows if row["state"] == state.value)


@dataclass(frozen=True)
class Commitments:
    """What a morning's look found and did: the open tickets (worst first), the alerts due and those that
    could not be sent (`problems`: they stay recorded and go with the next run), the credentials purged."""

    at: datetime
    tickets: tuple[dict, ...]
    alerts: int                  # alerts due this morning (sent, or tried)
    problems: tuple[str, ...]    # "<subject>: <error>" of each alert not sent
    purged: tuple[str, ...]

    def count(self, state: ClockState) -> int:
        return sum(1 for row in self.tickets if row["state"] == state.value)

    def line(self) -> str:
        return (f"{self.at.astimezone(PARIS):%Y-%m-%d %H:%M}: {len(self.tickets)} open ticket(s), "
                f"{self.count(ClockState.BREACHED)} breached, {self.count(ClockState.AT_RISK)} at risk; "
                f"{self.alerts - len(self.problems)} alert(s) sent; {len(self.purged)} closed ticket(s)' "
                f"credentials deleted")

    def summary(self) -> dict:
        """The commitments flow's result (Looked, which the command line reads)."""
        return Looked(self.at, len(self.tickets), self.count(ClockState.BREACHED), self.count(ClockState.AT_RISK),
                      self.alerts, list(self.purged), list(self.tickets)).summary()


def moment(as_of: datetime | None) -> datetime:
    """The moment to look from: `as_of` (Europe/Paris when it has no offset) or now; one ahead of now is
    refused, since clocks are read as they stand."""
    if as_of is None:
        return clock.now()
    at = as_of if as_of.tzinfo else as_of.replace(tzinfo=PARIS)
    if at > clock.now():
        raise MomentRefused(f"--as-of {at.isoformat()} is ahead of now: clocks are read as they stand")
    return at


def run_commitments(as_of: datetime | None, terms: Terms, notifications: Notifications, *, actor: str,
                    flow_run_id: str | None, engine=None) -> Commitments:
    """The morning: every open ticket's clocks as of `as_of` (now when empty), the alerts due recorded then
    sent to ops (once per ticket, clock and state), and closed tickets' credentials deleted."""
    at = moment(as_of)
    with session_scope(engine, write=True) as session:
        morning = look(session, terms, at, flow_run_id=flow_run_id)
        morning.purged = purge_credentials(session, at, actor=actor, flow_run_id=flow_run_id)
    problems = []
    for alert_id in morning.alerts:
        # sent under its row's lock, and only if no other run sent it meanwhile: two runs at once never send twice
        with session_scope(engine, write=True) as session:
            if not claim(session, alert_id):
                continue
            subject, body = alert_text(session, alert_id)
            try:
                notifications.alert_ops(subject, body)
                error = None
            except Exception as failure:  # noqa: BLE001 - kept, and tried again by the next run
                error = f"{type(failure).__name__}: {failure}"
                problems.append(f"{subject}: {error}")
            mark_sent(session, alert_id, error)
    return Commitments(at, tuple(morning.rows), len(morning.alerts), tuple(problems), tuple(morning.purged))


def look(session: Session, terms: Terms, at: datetime, *, flow_run_id: str | None) -> Morning:
    """Every open ticket's clocks as of `at`; the alerts due are recorded (not sent)."""
    morning = Morning(at)
    names = dict(session.execute(select(Customer.customer_id, Customer.name)).all())
    for ticket in session.scalars(select(Ticket).where(Ticket.closed_at.is_(None), Ticket.received_at <= at)
                                  .order_by(Ticket.received_at, Ticket.ticket_id)):
        clocks = ticket_clocks(ticket, terms, at)
        state = ticket_state(clocks)
        if state is None:
            continue
        for clock in clocks:
            if clock.state in ALERTED and not clock.informational:
                insert_if_missing(session, TicketAlert, alert_key=keys.ticket_alert(ticket.ticket_id, clock.name,
                                                                                   clock.state.value),
                                  ticket_id=ticket.ticket_id, clock=clock.name, state=clock.state.value,
                                  due_at=clock.due_at, created_at=now(), flow_run_id=flow_run_id)
        running = [clock for clock in clocks if clock.stopped_at is None and not clock.informational]
        nearest = min(running, key=lambda clock: clock.due_at) if running else None
        morning.rows.append({
            "ticket": ticket.ticket_id, "customer": f"{ticket.customer_id} {names.get(ticket.customer_id, '')}".strip(),
            "type": ticket.type, "severity": ticket.severity or "", "state": state.value,
            "next due (Paris)": f"{nearest.due_at:%Y-%m-%d %H:%M}" if nearest else "",
            "clock": nearest.name if nearest else "",
            "clocks": ", ".join(f"{clock.name} {clock.state.value}" for clock in clocks),
        })
    morning.rows.sort(key=lambda row: (ORDER[ClockState(row["state"])], row["next due (Paris)"], row["ticket"]))
    morning.alerts = list(session.scalars(select(TicketAlert.id).where(TicketAlert.sent_at.is_(None))
                                          .order_by(TicketAlert.id)))
    return morning


def alert_text(session: Session, alert_id: int) -> tuple[str, str]:
    alert = session.get(TicketAlert, alert_id)
    ticket = session.get(Ticket, alert.ticket_id)
    customer = session.get(Customer, ticket.customer_id)
    word = "BREACHED" if alert.state == ClockState.BREACHED else "at risk"
    due, received = alert.due_at.astimezone(PARIS), ticket.received_at.astimezone(PARIS)
    subject = f"[lifecycle] ticket {ticket.ticket_id} {word}: {alert.clock} due {due:%Y-%m-%d %H:%M} (Paris)"
    body = (f"Ticket {ticket.ticket_id} of {customer.customer_id} ({customer.name}), a {ticket.type}"
            f"{' (' + ticket.severity + ')' if ticket.severity else ''} received {received:%Y-%m-%d %H:%M} "
            f"(Paris): its {alert.clock} clock is {alert.state}, due {due:%Y-%m-%d %H:%M} (Paris).\n"
            f"lifecycle show tickets lists every open ticket with its due times; the commitments run's artifact "
            f"shows them breached and at risk first.\n")
    return subject, body


def claim(session: Session, alert_id: int) -> bool:
    """Lock the alert's row; True when it is still to send."""
    alert = session.scalar(select(TicketAlert).where(TicketAlert.id == alert_id).with_for_update()
                           .execution_options(populate_existing=True))
    return alert is not None and alert.sent_at is None


def mark_sent(session: Session, alert_id: int, error: str | None) -> None:
    alert = session.get(TicketAlert, alert_id)
    if error is None:
        alert.sent_at, alert.last_error = now(), None
    else:
        alert.last_error = error


def purge_credentials(session: Session, at: datetime, *, actor: str, flow_run_id: str | None) -> list[str]:
    """Delete the credentials of every ticket closed by `at`; one audit entry each, without the secret."""
    purged = []
    for ticket in session.scalars(select(Ticket).where(Ticket.credentials_token.is_not(None),
                                                       Ticket.closed_at.is_not(None), Ticket.closed_at <= at)
                                  .with_for_update()):
        ticket.credentials_token, ticket.credentials_purged_at = None, now()
        audit.record(session, "ticket_credentials_purged", customer_id=ticket.customer_id, before=None, actor=actor,
                     flow_run_id=flow_run_id, after={"ticket": ticket.ticket_id, "closed_at": ticket.closed_at})
        purged.append(ticket.ticket_id)
    return purged


@dataclass(frozen=True)
class Looked(RunResult):
    """The commitments run's result: the open tickets (worst first), the alerts, the credentials purged."""
    flow: ClassVar[str] = "commitments"
    at: datetime
    open: int
    breached: int
    at_risk: int
    alerts: int
    purged: list[str]
    tickets: list[dict]              # ticket, customer, type, severity, state, next due (Paris), clock, clocks
