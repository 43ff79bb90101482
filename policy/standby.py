"""Standby: putting a platform to sleep for at most three months at half price.

Seed 001 "Put my platform to sleep": during standby no operation can be launched, the platform
stays reachable and the administrator can log in; it cannot exceed 3 months; accepted for three
reasons only. docs/reference/policy.md adds: refused while the customer is in arrears; a period covers
[start_on, end_on); a notice goes out before it ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from policy.calendar import add_months
from policy.notices import N_, NoticeTemplate
from policy.vocabulary import Stage, StandbyStatus


class StandbyReason(StrEnum):
    TEMPORARY_INACTIVITY = "temporary_inactivity"
    AWAITING_APPROVAL = "awaiting_approval"
    THIRD_PARTY_INTEGRATION = "third_party_integration"


REASONS = tuple(reason.value for reason in StandbyReason)
#: a reason as the customer reads it (its notice names it)
REASON_WORDS = {StandbyReason.TEMPORARY_INACTIVITY: N_("temporary inactivity"),
                StandbyReason.AWAITING_APPROVAL: N_("awaiting approval"),
                StandbyReason.THIRD_PARTY_INTEGRATION: N_("third-party integration")}


@dataclass(frozen=True)
class StandbyState:
    """A standby state as data: whether operations may run in it, and what the customer is told on
    entering it (the arrears ladder decides the admin area and the platform)."""

    status: str
    operations: bool
    notice: NoticeTemplate | None


STANDBY_STATES: dict[str, StandbyState] = {state.status: state for state in (
    StandbyState("scheduled", True, None),
    StandbyState("active", False, NoticeTemplate(
        "standby_started", N_("Your platform is on standby until {end_on}"),
        N_("Hello {name},\n\nAs requested, your platform is on standby from {start_on} until {end_on} (reason: "
        "{reason}).\n\nDuring standby your platform stays online at its address, your administrators can log "
        "in and your data is kept, but no operation can be launched. Your licence is billed at {standby_price} of "
        "your subscription for these days.\n\nFull service resumes on {end_on}.\n"))),
    StandbyState("ended", True, NoticeTemplate(
        "standby_ended", N_("Your platform is back to full service"),
        N_("Hello {name},\n\nYour platform's standby ended on {end_on}: operations can be launched again and "
        "your subscription is billed at its full price from today.\n"))),
    StandbyState("cancelled", True, None),
)}

#: the warning before a standby ends, `standby_expiry_notice_days` ahead
STANDBY_ENDING = NoticeTemplate(
    "standby_ending", N_("Your platform's standby ends on {end_on}"),
    N_("Hello {name},\n\nYour platform's standby ends on {end_on}, in {standby_warning_days} at most. From that day "
    "operations can be launched again and your subscription is billed at its full price.\n"))


@dataclass(frozen=True)
class Period:
    """A standby period as the rules see it: [start_on, end_on)."""

    start_on: date
    end_on: date
    status: str = StandbyStatus.SCHEDULED


def default_end(start_on: date, max_months: int) -> date:
    return add_months(start_on, max_months)


def default_end_problem(start_on: date, max_months: int, window) -> str | None:
    """Why the end a standby takes when none is given (start_on + `max_months`) is refused: past the window's
    horizon, as an end written out would be (`window`: a policy.window.DateWindow). None: it lies within."""
    end_on = default_end(start_on, max_months)
    problem = window.problem(end_on, shown=f"the end it takes when none is given, {end_on} (start_on + "
                                           f"standby_max_months),")
    return f"empty: {problem}: write an end_on within it" if problem else None


def period_problems(reason: str, start_on: date, end_on: date, max_months: int) -> list[str]:
    """What is wrong with a requested period on its own, in words for the requester."""
    problems = []
    if reason not in REASONS:
        problems.append(f"reason must be one of {', '.join(REASONS)} (seed 001), not {reason!r}")
    if end_on <= start_on:
        problems.append(f"end_on {end_on} must be after start_on {start_on}")
    elif end_on > add_months(start_on, max_months):
        problems.append(
            f"a standby cannot exceed {max_months} months (seed 001): "
            f"{start_on} to {end_on} ends after {add_months(start_on, max_months)}"
        )
    return problems


def overlapping(start_on: date, end_on: date, others: list[Period]) -> Period | None:
    """The first live period that shares a day with [start_on, end_on)."""
    for other in others:
        if other.status == StandbyStatus.CANCELLED:
            continue
        if start_on < other.end_on and other.start_on < end_on:
            return other
    return None


def arrears_refusal(overdue_invoices: list[str], stage: str) -> str | None:
    """Why a customer in arrears (overdue invoices, or access restricted by the ladder) gets no standby: a
    standby is never a way round a suspension. The same words for a request and an imported row."""
    if overdue_invoices:
        return "refused while the customer is in arrears: overdue invoice(s) " + ", ".join(overdue_invoices)
    if stage != Stage.CURRENT:
        return f"refused while access is restricted (arrears stage {stage})"
    return None


def refusals(
    reason: str,
    start_on: date,
    end_on: date,
    *,
    max_months: int,
    existing: list[Period],
    overdue_invoices: list[str],
    stage: str,
) -> list[str]:
    """Every reason to refuse a standby request; empty means it is accepted."""
    problems = period_problems(reason, start_on, end_on, max_months)
    refused = arrears_refusal(overdue_invoices, stage)
    if refused:
        problems.append(refused)
    clash = overlapping(start_on, end_on, existing)
    if clash is not None:
        word = "already on standby" if clash.status == StandbyStatus.ACTIVE else "another standby is planned"
        problems.append(f"{word}: {clash.start_on} to {clash.end_on} overlaps the request")
    return problems


@dataclass(frozen=True)
class SweepStep:
    action: str  # start | expiry_notice | end
    period_id: int


def sweep(periods: dict[int, Period], day: date, *, notice_days: int, noticed: set[int]) -> list[SweepStep]:
    """The steps the daily sweep takes on `day`, in order, catching up missed days.

    A period starts once `start_on` <= day and ends once `end_on` <= day; a period both due to start
    and to end is started then ended in the same run so that the record shows both. The expiry notice
    goes out once, from `end_on - notice_days`, and only while the period is still running after today.
    """
    steps: list[SweepStep] = []
    for period_id, period in sorted(periods.items(), key=lambda item: (item[1].start_on, item[0])):
        status = period.status
        if status == StandbyStatus.SCHEDULED and period.start_on <= day:
            steps.append(SweepStep("start", period_id))
            status = StandbyStatus.ACTIVE
        if status != StandbyStatus.ACTIVE:
            continue
        if period.end_on <= day:
            steps.append(SweepStep("end", period_id))
        elif period_id not in noticed and period.end_on - timedelta(days=notice_days) <= day:
            steps.append(SweepStep("expiry_notice", period_id))
    return steps
