"""The service commitments, every quarter of an hour: every open ticket's clocks, the alerts they call for
(sent to ops), and the credentials of closed tickets purged. The clocks are rules of the terms
(policy/commitments.py), the warnings and service hours too (policy/warnings.py); `run_commitments` is the
whole run, in plain Python, at the run's moment (`as_of`, else the product's clock), never the wall clock.

Each alert is recorded (a warning once per ticket, clock and offset; a breach once per ticket and clock:
`ticket_alerts.alert_key`) before it is sent, so a run that dies between the two sends it with the next
run; it is sent under its row's lock and only while unsent, so two runs at once never send it twice. An
alert computed outside service hours is held (`deliver_after`, the next opening) and sent by the first
run at or after it; a blocking bug's goes at once.
A closed ticket's credentials are deleted (the token set to NULL; seed 003: "deleted completely once
the request is closed") and the purge is audited without the secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal
from typing import ClassVar

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from blocks.notifications import Notifications
from operations.results import RunResult
from ledger import audit, keys
from ledger.db import insert_if_missing, now, session_scope
from lifecycle_config import clock
from ledger.models import Customer, Ticket, TicketAlert
from ledger.ticket_history import TicketEvent, clock_facts, remember_pause_rule
from ledger.views import clocked_ticket, ticket_clocks
from policy.calendar import PARIS, NonexistentLocalTime, month_bounds, month_key, offset_problem, paris_date, paris_instant
from policy.commitment_metrics import measure, metrics
from policy.commitments import ClockState, WorkingCalendar, ticket_state
from policy.warnings import delivery_moment, due_warning, next_warning_at
from policy.pauses import reopened_at
from policy.refusals import Refusal
from policy.terms import Terms
from policy.vocabulary import TicketStatus

#: the state alerted as such; before it, the terms' warnings (at risk is shown, no longer alerted)
ALERTED = (ClockState.BREACHED,)
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
    held: list[datetime] = field(default_factory=list)     # deliver_after of each alert held for later
    purged: list[str] = field(default_factory=list)

    def count(self, state: ClockState) -> int:
        return sum(1 for row in self.rows if row["state"] == state.value)


@dataclass(frozen=True)
class Commitments:
    """What a morning's look found and did: the open tickets (worst first), the alerts due and those that
    could not be sent (`problems`: they stay recorded and go with the next run), the credentials purged."""

    at: datetime
    tickets: tuple[dict, ...]
    alerts: int                  # alerts due this run (sent, or tried)
    problems: tuple[str, ...]    # "<subject>: <error>" of each alert not sent
    purged: tuple[str, ...]
    held: tuple[datetime, ...] = ()  # when each alert held for service hours may go (deliver_after)
    metrics: tuple[dict, ...] = ()   # the month so far, per customer, type and severity (month_metrics)

    def count(self, state: ClockState) -> int:
        return sum(1 for row in self.tickets if row["state"] == state.value)

    def line(self) -> str:
        return (f"{self.at.astimezone(PARIS):%Y-%m-%d %H:%M}: {len(self.tickets)} open ticket(s), "
                f"{self.count(ClockState.BREACHED)} breached, {self.count(ClockState.AT_RISK)} at risk; "
                f"{self.alerts - len(self.problems)} alert(s) sent{self._held()}; {len(self.purged)} closed "
                f"ticket(s)' credentials deleted")

    def _held(self) -> str:
        if not self.held:
            return ""
        return f", {len(self.held)} held until {min(self.held).astimezone(PARIS):%Y-%m-%d %H:%M} (service hours)"

    def summary(self) -> dict:
        """The commitments flow's result (Looked, which the command line reads)."""
        return Looked(self.at, len(self.tickets), self.count(ClockState.BREACHED), self.count(ClockState.AT_RISK),
                      self.alerts, list(self.purged), list(self.tickets), len(self.held),
                      min(self.held).astimezone(PARIS) if self.held else None, list(self.metrics)).summary()


def moment(as_of: datetime | None) -> datetime:
    """The moment to look from: `as_of` (Europe/Paris when it has no offset) or now; one ahead of now is
    refused, since clocks are read as they stand."""
    if as_of is None:
        return clock.now()
    if as_of.tzinfo is None:
        try:
            paris_instant(as_of)  # a Paris time the spring change skips names no moment
        except NonexistentLocalTime as error:
            raise MomentRefused(f"as_of {error}") from None
    problem = offset_problem(as_of)
    if problem:
        raise MomentRefused(f"as_of {as_of.isoformat()}: {problem}")
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
        # a changed pause rule applies from this run's moment on: time already paused stays paused
        remember_pause_rule(session, terms, at, recorded_at=now(), flow_run_id=flow_run_id)
        morning = look(session, terms, at, flow_run_id=flow_run_id)
        morning.purged = purge_credentials(session, at, actor=actor, flow_run_id=flow_run_id)
        figures = month_metrics(session, terms, at)
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
    return Commitments(at, tuple(morning.rows), len(morning.alerts), tuple(problems), tuple(morning.purged),
                       tuple(morning.held), tuple(figures))


def _shown(value) -> str | int | None:
    """A figure as the artifact shows it: hours to the hundredth, a rate in percent (the workbook's formats)."""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return value


def month_metrics(session: Session, terms: Terms, at: datetime) -> list[dict]:
    """The month of `at` so far (Paris): the tickets closed in it by `at`, measured as the workbook measures
    them (policy.commitment_metrics, clocks as of each ticket's close), per customer, type and severity."""
    month = month_key(paris_date(at))
    start = datetime.combine(month_bounds(month)[0], time(0), tzinfo=PARIS)
    calendar = WorkingCalendar.of(terms)
    measured = []
    closed = list(session.scalars(select(Ticket).where(Ticket.closed_at >= start, Ticket.closed_at <= at)))
    facts = clock_facts(session, [ticket.ticket_id for ticket in closed])  # their pauses and customers' tiers
    for ticket in closed:
        clocked = clocked_ticket(ticket, known_until=ticket.closed_at)
        measured.append(measure(ticket.ticket_id, ticket.customer_id, clocked,
                                ticket_clocks(ticket, terms, ticket.closed_at, known_until=ticket.closed_at,
                                              **facts.of(ticket)), calendar))
    rows = []
    for row in metrics(measured):
        rate = row.pop("rate")
        rows.append({"month": month, **{name: _shown(value) for name, value in row.items()},
                     "rate": f"{rate * 100:.1f} %" if rate is not None else ""})
    return rows


def look(session: Session, terms: Terms, at: datetime, *, flow_run_id: str | None) -> Morning:
    """Every open ticket's clocks as of `at`; the alerts due are recorded (not sent): the tightest warning
    whose moment came, each breach; each held until the next opening when `at` is outside service hours
    (a blocking bug's not). The alerts to send are those unsent whose moment to go has come by `at`."""
    morning = Morning(at)
    calendar = WorkingCalendar.of(terms)
    names = dict(session.execute(select(Customer.customer_id, Customer.name)).all())
    # open: never closed, or reopened since its close (known by `at`)
    reopened = select(TicketEvent.id).where(TicketEvent.ticket_id == Ticket.ticket_id, TicketEvent.at <= at,
                                            TicketEvent.status == TicketStatus.REOPENED,
                                            TicketEvent.at > Ticket.closed_at)
    candidates = list(session.scalars(select(Ticket).where(or_(Ticket.closed_at.is_(None), exists(reopened)),
                                                           Ticket.received_at <= at)
                                      .order_by(Ticket.received_at, Ticket.ticket_id)))
    facts = clock_facts(session, [ticket.ticket_id for ticket in candidates])
    for ticket in candidates:
        if ticket.closed_at is not None and not reopened_at(ticket.closed_at, facts.events.get(ticket.ticket_id, ()),
                                                            at):
            continue  # closed again after its reopening
        clocks = ticket_clocks(ticket, terms, at, **facts.of(ticket))
        state = ticket_state(clocks)
        if state is None:
            continue
        goes = delivery_moment(at, ticket.type, calendar)
        record = dict(ticket_id=ticket.ticket_id, created_at=now(), computed_at=at, deliver_after=goes,
                      flow_run_id=flow_run_id)
        for each in clocks:
            if each.state in ALERTED and not each.informational:
                insert_if_missing(session, TicketAlert, alert_key=keys.ticket_alert(ticket.ticket_id, each.name,
                                                                                   each.state.value),
                                  clock=each.name, state=each.state.value, due_at=each.due_at, **record)
            warning = due_warning(each, terms.warnings, at, calendar)
            if warning is not None:
                offset, _ = warning
                insert_if_missing(session, TicketAlert, alert_key=keys.ticket_warning(ticket.ticket_id, each.name,
                                                                                     offset.minutes),
                                  clock=each.name, state="warning", offset_minutes=offset.minutes,
                                  due_at=each.due_at, **record)
        running = [each for each in clocks if each.stopped_at is None and not each.informational]
        nearest = min(running, key=lambda each: each.due_at) if running else None
        warn = next_warning_at(clocks, terms.warnings, at, calendar)
        morning.rows.append({
            "ticket": ticket.ticket_id, "customer": f"{ticket.customer_id} {names.get(ticket.customer_id, '')}".strip(),
            "type": ticket.type, "severity": ticket.severity or "", "state": state.value,
            "next due (Paris)": f"{nearest.due_at:%Y-%m-%d %H:%M}" if nearest else "",
            "clock": nearest.name if nearest else "",
            "next warning (Paris)": f"{warn:%Y-%m-%d %H:%M}" if warn else "",
            "clocks": ", ".join(f"{each.name} {each.state.value}" for each in clocks),
        })
    morning.rows.sort(key=lambda row: (ORDER[ClockState(row["state"])], row["next due (Paris)"], row["ticket"]))
    session.flush()
    unsent = session.execute(select(TicketAlert.id, TicketAlert.deliver_after).where(TicketAlert.sent_at.is_(None))
                             .order_by(TicketAlert.id)).all()
    morning.alerts = [alert_id for alert_id, goes in unsent if goes is None or goes <= at]
    morning.held = [goes for _, goes in unsent if goes is not None and goes > at]
    return morning


def alert_text(session: Session, alert_id: int) -> tuple[str, str]:
    alert = session.get(TicketAlert, alert_id)
    ticket = session.get(Ticket, alert.ticket_id)
    customer = session.get(Customer, ticket.customer_id)
    due, received = alert.due_at.astimezone(PARIS), ticket.received_at.astimezone(PARIS)
    kind = f"a {ticket.type}{' (' + ticket.severity + ')' if ticket.severity else ''}"
    if alert.state == "warning":
        left = _working_time(alert.offset_minutes)
        subject = (f"[lifecycle] ticket {ticket.ticket_id} due in {left}: {alert.clock} due {due:%Y-%m-%d %H:%M} "
                   f"(Paris)")
        said = f"its {alert.clock} clock is due {due:%Y-%m-%d %H:%M} (Paris), in {left} or less"
    else:
        word = "BREACHED" if alert.state == ClockState.BREACHED else "at risk"
        subject = f"[lifecycle] ticket {ticket.ticket_id} {word}: {alert.clock} due {due:%Y-%m-%d %H:%M} (Paris)"
        said = f"its {alert.clock} clock is {alert.state}, due {due:%Y-%m-%d %H:%M} (Paris)"
    held = ""
    if alert.computed_at is not None and alert.deliver_after is not None and alert.deliver_after > alert.computed_at:
        held = (f"Computed {alert.computed_at.astimezone(PARIS):%Y-%m-%d %H:%M} (Paris), outside service hours: held "
                f"until the opening, {alert.deliver_after.astimezone(PARIS):%Y-%m-%d %H:%M} (Paris).\n")
    body = (f"Ticket {ticket.ticket_id} of {customer.customer_id} ({customer.name}), {kind} received "
            f"{received:%Y-%m-%d %H:%M} (Paris): {said}.\n{held}"
            f"lifecycle show tickets lists every open ticket with its due times; the commitments run's artifact "
            f"shows them breached and at risk first.\n")
    return subject, body


def _working_time(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if rest:
        return f"{minutes} working minute{'s' if minutes > 1 else ''}"
    return f"{hours} working hour{'s' if hours > 1 else ''}"


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
    held: int = 0                    # alerts computed outside service hours, waiting for the opening
    held_until: datetime | None = None  # the earliest opening they wait for (Paris)
    metrics: list[dict] = field(default_factory=list)  # the month so far, per customer, type and severity
