"""Standby, one operation: a request checked against the rules, and the daily sweep that starts and ends periods.

The rules are in `policy.standby`; here they meet the ledger (periods, arrears, audit), the
platform (operations off and back on) and the customer (three notices). Each period is handled in
its own short transaction, so one failing platform call never undoes or blocks the others.

Plain Python: `request` returns a `RequestOutcome` (a refused request is an outcome with its reasons, which
the flow shows before it refuses), `sweep_standby` a `StandbyReport`. The Prefect tasks wrapping them are in
tasks/standby.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import ClassVar

from sqlalchemy import select

from blocks.settings import Settings
from ledger import audit, keys
from ledger.db import now, session_scope
from ledger.models import Customer, Notice, StandbyPeriod
from ledger.queries import invoice_label, overdue_invoices
from policy.chronology import before_start_problem
from policy.language import language_of, speak
from policy.notices import NoticeTemplate
from policy.standby import (REASON_WORDS, STANDBY_ENDING, STANDBY_STATES, Period, SweepStep, default_end,
                            default_end_problem, refusals, sweep)
from policy.text import markdown_literal, quoted
from policy.vocabulary import Stage, StandbySource, StandbyStatus, in_words
from policy.window import DateWindow
from operations.bugs import BugLog, log_to_python
from operations.effects import record_notice, record_switch
from operations.results import RunResult
from lifecycle_config.conditions import one_line
from lifecycle_config.failpoints import failpoint

@dataclass
class StandbyReport:
    day: date
    started: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    noticed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        def block(title: str, items: list[str]) -> str:
            listed = "\n".join(f"- {markdown_literal(item)}" for item in items)
            return f"### {title} ({len(items)})\n" + (listed or "_none_")

        return "\n\n".join([
            f"# Standby sweep for {self.day.isoformat()}",
            block("Standby started: operations off, admin and platform on", self.started),
            block("Standby ended: operations back on", self.ended),
            block("Expiry notices sent", self.noticed),
            block("Failed (will be tried again on the next run)", self.failed),
        ])


def _notify(session, settings: Settings, customer: Customer, period: StandbyPeriod, notice: NoticeTemplate, flow_run_id):
    language = language_of(customer.language, settings.terms.invoice_language)
    reason = speak(language).say(REASON_WORDS[period.reason]) if period.reason in REASON_WORDS else period.reason
    subject, body = notice.render(settings.terms, language, name=customer.name, start_on=period.start_on,
                                  end_on=period.end_on, reason=reason)
    return record_notice(session, customer, kind=notice.kind, key=keys.standby_notice(notice.kind, period.id),
                       subject=subject, body=body, flow_run_id=flow_run_id)


def _start(session, settings: Settings, period: StandbyPeriod, actor: str, flow_run_id) -> str:
    customer = session.get(Customer, period.customer_id)
    if customer.stage == Stage.DATA_DELETED:
        period.status = StandbyStatus.CANCELLED
        audit.record(session, "standby_cancelled", customer_id=customer.customer_id,
                     before={"status": StandbyStatus.SCHEDULED}, after={"status": StandbyStatus.CANCELLED, "why": "customer data deleted"},
                     actor=actor, flow_run_id=flow_run_id)
        return f"{customer.customer_id}: cancelled, the customer's data was deleted"
    period.status = StandbyStatus.ACTIVE
    period.started_at = now()
    record_switch(session, customer, on_standby=True, reason="standby_started",
                  key=keys.standby_switch("start", period.id), actor=actor, flow_run_id=flow_run_id)
    audit.record(session, "standby_started", customer_id=customer.customer_id, before={"status": StandbyStatus.SCHEDULED},
                 after={"status": StandbyStatus.ACTIVE, "start_on": period.start_on, "end_on": period.end_on,
                        "reason": period.reason}, actor=actor, flow_run_id=flow_run_id)
    _notify(session, settings, customer, period, STANDBY_STATES["active"].notice, flow_run_id)
    return f"{customer.customer_id}: {period.start_on} to {period.end_on} ({in_words(period.reason)})"


def _end(session, settings: Settings, period: StandbyPeriod, actor: str, flow_run_id) -> str:
    customer = session.get(Customer, period.customer_id)
    period.status = StandbyStatus.ENDED
    period.ended_at = now()
    if customer.stage != Stage.DATA_DELETED:
        record_switch(session, customer, on_standby=False, reason="standby_ended",
                      key=keys.standby_switch("end", period.id), actor=actor, flow_run_id=flow_run_id)
    audit.record(session, "standby_ended", customer_id=customer.customer_id, before={"status": StandbyStatus.ACTIVE},
                 after={"status": StandbyStatus.ENDED, "end_on": period.end_on}, actor=actor, flow_run_id=flow_run_id)
    _notify(session, settings, customer, period, STANDBY_STATES["ended"].notice, flow_run_id)
    return f"{customer.customer_id}: ended {period.end_on}"


def sweep_standby(day: date, settings: Settings, *, actor: str, flow_run_id: str | None, engine=None,
                  on_bug: BugLog = log_to_python) -> StandbyReport:
    """Start, warn and end every period that is due on `day`; a second run the same day does nothing."""
    report = StandbyReport(day)
    with session_scope(engine) as session:
        periods = session.scalars(
            select(StandbyPeriod).where(StandbyPeriod.status.in_((StandbyStatus.SCHEDULED, StandbyStatus.ACTIVE)),
                                        StandbyPeriod.start_on <= day)
        ).all()
        noticed = {
            int(key.split(":")[1])
            for key in session.scalars(select(Notice.notice_key).where(Notice.notice_key.like("standby_ending:%")))
        }
        steps = sweep({period.id: Period(period.start_on, period.end_on, period.status) for period in periods},
                      day, notice_days=settings.terms.standby_expiry_notice_days, noticed=noticed)
    for step in steps:
        _apply(step, day, settings, report, actor=actor, flow_run_id=flow_run_id, engine=engine, on_bug=on_bug)
        failpoint("standby.step-recorded")
    return report


def _apply(step: SweepStep, day: date, settings: Settings, report: StandbyReport, *, actor, flow_run_id, engine,
           on_bug: BugLog):
    try:
        with session_scope(engine, write=True) as session:
            # the row lock makes a concurrent sweep wait, then see the period already switched
            period = session.get(StandbyPeriod, step.period_id, with_for_update=True)
            expected = StandbyStatus.SCHEDULED if step.action == "start" else StandbyStatus.ACTIVE
            if period.status != expected:
                return  # another run got there first
            if step.action == "start":
                report.started.append(_start(session, settings, period, actor, flow_run_id))
            elif step.action == "end":
                report.ended.append(_end(session, settings, period, actor, flow_run_id))
            else:
                customer = session.get(Customer, period.customer_id)
                if _notify(session, settings, customer, period, STANDBY_ENDING, flow_run_id) is not None:
                    report.noticed.append(f"{customer.customer_id}: ends {period.end_on}")
    except Exception as error:  # one customer's failure must not stop the sweep
        report.failed.append(f"standby {step.period_id} ({step.action}): {one_line(error)}")
        on_bug(f"standby {step.period_id} ({step.action})", error)


@dataclass
class RequestOutcome:
    customer_id: str
    accepted: bool
    reasons: list[str]
    start_on: date | None = None
    end_on: date | None = None
    started: bool = False

    def markdown(self) -> str:
        if not self.accepted:
            return (f"# Standby refused for {markdown_literal(self.customer_id)}\n\n"
                    + "\n".join(f"- {markdown_literal(reason)}" for reason in self.reasons))
        state = "started today: operations are off" if self.started else f"scheduled; it starts on {self.start_on}"
        return (f"# Standby accepted for {markdown_literal(self.customer_id)}\n\n"
                f"- from {self.start_on} until {self.end_on} "
                f"(full service resumes on {self.end_on})\n- {state}\n- billed at 50 % for the standby days")


def request(
    customer_id: str,
    reason: str,
    start_on: date | None,
    end_on: date | None,
    requested_by: str,
    day: date,
    settings: Settings,
    *,
    actor: str,
    flow_run_id: str | None,
    engine=None,
) -> RequestOutcome:
    """Record an accepted request (and start it when its day has come) or the refusal with its reasons."""
    terms = settings.terms
    start_on = start_on or day
    beyond = None if end_on else default_end_problem(start_on, terms.standby_max_months,
                                                     DateWindow.of(terms, today=day))
    end_on = end_on or default_end(start_on, terms.standby_max_months)
    with session_scope(engine, write=True) as session:
        customer = session.get(Customer, customer_id)
        if customer is None:
            return RequestOutcome(customer_id, False, [f"unknown customer {quoted(customer_id)}"])
        existing = session.scalars(select(StandbyPeriod).where(StandbyPeriod.customer_id == customer_id)).all()
        problems = refusals(
            reason, start_on, end_on, max_months=terms.standby_max_months,
            existing=[Period(period.start_on, period.end_on, period.status) for period in existing],
            overdue_invoices=[invoice_label(invoice) for invoice in overdue_invoices(session, customer_id, day)],
            stage=customer.stage,
        )
        if start_on < day:
            problems.append(f"start_on {start_on} is in the past (today is {day})")
        if beyond:
            problems.append(f"end_on is {beyond}")
        early = before_start_problem(start_on, customer.subscription_start, "start_on")
        if early:
            problems.append(early)
        if problems:
            audit.record(session, "standby_refused", customer_id=customer_id, before=None,
                         after={"reason": reason, "start_on": start_on, "end_on": end_on, "requested_by": requested_by,
                                "refusals": problems}, actor=actor, flow_run_id=flow_run_id)
            return RequestOutcome(customer_id, False, problems, start_on, end_on)
        period = StandbyPeriod(customer_id=customer_id, reason=reason, start_on=start_on, end_on=end_on,
                               status=StandbyStatus.SCHEDULED, source=StandbySource.REQUEST, requested_by=requested_by, created_at=now())
        session.add(period)
        session.flush()
        audit.record(session, "standby_requested", customer_id=customer_id, before=None,
                     after={"reason": reason, "start_on": start_on, "end_on": end_on, "requested_by": requested_by},
                     actor=actor, flow_run_id=flow_run_id)
        started = False
        if start_on <= day:
            _start(session, settings, period, actor, flow_run_id)
            started = True
    return RequestOutcome(customer_id, True, [], start_on, end_on, started)


@dataclass(frozen=True)
class StandbySwept(RunResult):
    """The standby-expiry run's result: the periods started and ended, the expiry notices recorded."""
    flow: ClassVar[str] = "standby-expiry"
    day: date
    started: list[str]
    ended: list[str]
    noticed: list[str]


@dataclass(frozen=True)
class StandbyAsked(RunResult):
    """The standby-request run's result: an accepted period, started today or scheduled."""
    flow: ClassVar[str] = "standby-request"
    customer_id: str
    start_on: date
    end_on: date
    started: bool
