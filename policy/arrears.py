"""Arrears escalation as data and one small engine (seed 001 "Late payment of my subscription?").

"After 1 month of delay, access to your administrator area is deactivated. After 2 months of
delay, the complete platform is deactivated (data is not lost). After 6 months your data is
deleted. In case of a late payment, penalties of 10% and a fixed compensation of 40 € are also
applied to overdue invoices."

The stage is never "the next step after the last one": it is what the anchor (the due date of the
oldest unpaid invoice) implies on the day, so a late run records every stage it passed, a payment
brings the customer down as well as up, and a partial payment moves nothing. The deletion is the
one step that is not automatic: it needs a notice, a waiting time and an approval.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from policy.access import Flags
from policy.balances import counts_for_arrears, paid
from policy.calendar import add_months
from policy.money import cents
from policy.language import speak
from policy.notices import N_, NoticeTemplate
from policy.standby import STANDBY_STATES
from policy.terms import Terms
from policy.vocabulary import DeletionStatus, Stage


class Entry(StrEnum):
    """How a customer enters a state: the engine moves them there on the day its threshold comes, or only a
    person's approval does (the deletion: announced ahead, then approved; the engine stops below it)."""

    AUTOMATIC = "automatic"
    APPROVED = "approved"


@dataclass(frozen=True)
class OverdueState:
    """One state of the ladder (Kill Bill's overdue state): its effect (what the customer may still reach),
    what they are told on entering it (and, for a state entered on approval, ahead of it), and how it is
    entered. Its condition, the months after the anchor, is the terms' (`Ladder.of`)."""

    stage: Stage
    access: Flags         # operations are off anyway while on standby
    notice: NoticeTemplate
    warning: NoticeTemplate | None = None
    entry: Entry = Entry.AUTOMATIC


#: the ladder's states, lowest first: the first is the clear one (no threshold), each other has one in the terms
STATES: tuple[OverdueState, ...] = (
    OverdueState(Stage.CURRENT, Flags(True, True, True), NoticeTemplate(
        "access_restored", N_("Your access is restored"),
        N_("Hello {name},\n\nThank you for your payment: your platform and administrator area are fully available "
        "again from {on}.\n"))),
    OverdueState(Stage.ADMIN_DISABLED, Flags(False, True, True), NoticeTemplate(
        "admin_disabled", N_("Payment overdue: your administrator area is deactivated"),
        N_("Hello {name},\n\nYour invoice due on {anchor} is still unpaid. As announced in our terms ({admin_after} "
        "of delay), access to your administrator area is deactivated from {on}. Your platform stays online.\n\n"
        "To restore access, please settle {owed}; to regularize your situation, contact us on {contact}.\n"))),
    OverdueState(Stage.PLATFORM_DISABLED, Flags(False, False, False), NoticeTemplate(
        "platform_disabled", N_("Payment overdue: your platform is deactivated"),
        N_("Hello {name},\n\nYour invoice due on {anchor} is still unpaid. As announced in our terms "
        "({platform_after} of delay), your whole platform is deactivated from {on}. No data is lost.\n\n"
        "After {deletion_after} of delay your data will be deleted. Please settle {owed}; to regularize your "
        "situation, contact us on {contact}.\n"))),
    OverdueState(Stage.DATA_DELETED, Flags(False, False, False), NoticeTemplate(
        "data_deleted", N_("Your platform's data has been deleted"),
        N_("Hello {name},\n\nAs announced, your platform's data and its backups were deleted on {on} after "
        "{deletion_after} of unpaid invoices. Your invoices remain available on request.\n")),
        warning=NoticeTemplate(
            "deletion_notice", N_("Your platform's data will be deleted on {due}"),
            N_("Hello {name},\n\nYour invoice due on {anchor} has been unpaid for {unpaid_for}. As announced "
            "in our terms, your platform's data and all its backups will be deleted on or after {due} unless the "
            "overdue amount ({owed}) is settled before then: contact us on {contact}. Invoices are kept.\n")),
        entry=Entry.APPROVED),
)

_STATE = {state.stage: state for state in STATES}
RANK = {state.stage: rank for rank, state in enumerate(STATES)}


def state(stage: Stage | str) -> OverdueState:
    """The ladder's state of a stage: its access, its notices."""
    return _STATE[Stage(stage)]


@dataclass(frozen=True)
class Rung:
    """A state above the clear one with its condition: it applies once `months` have passed since the anchor
    (the due date of the oldest unpaid invoice), clipped to the month's end (Kill Bill's
    timeSinceEarliestUnpaidInvoiceEqualsOrExceeds)."""

    state: OverdueState
    months: int

    @property
    def stage(self) -> Stage:
        return self.state.stage

    def applies_on(self, anchor_on: date) -> date:
        return add_months(anchor_on, self.months)


@dataclass(frozen=True)
class Ladder:
    """The escalation with the terms' thresholds: the rungs above `current`, lowest first."""

    rungs: tuple[Rung, ...]

    @classmethod
    def of(cls, terms: Terms) -> Ladder:
        """The terms' months for each state above the clear one (seed 001: 1, 2 and 6)."""
        months = {Stage.ADMIN_DISABLED: terms.admin_disabled_after_months,
                  Stage.PLATFORM_DISABLED: terms.platform_disabled_after_months,
                  Stage.DATA_DELETED: terms.data_deleted_after_months}
        return cls(tuple(Rung(item, months[item.stage]) for item in STATES[1:]))

    def __iter__(self) -> Iterator[Rung]:
        return iter(self.rungs)


def ladder(terms: Terms) -> Ladder:
    """The escalation with the terms' thresholds: the rungs above `current`, in order."""
    return Ladder.of(terms)


def flags_for(stage: Stage | str, on_standby: bool) -> Flags:
    """What the customer may reach: the stage's state, with operations off while on standby."""
    access = state(stage).access
    if on_standby:
        return replace(access, operations_enabled=access.operations_enabled and STANDBY_STATES["active"].operations)
    return access


@dataclass(frozen=True)
class Owed:
    """An invoice as arrears see it, with its payments (day paid, amount TTC)."""

    ref: str
    kind: str  # monthly | imported | penalty
    status: str
    due_on: date
    total_ttc: Decimal
    payments: tuple[tuple[date, Decimal], ...] = ()

    def balance_on(self, day: date) -> Decimal:
        """What is still owed at the end of `day`."""
        return self.total_ttc - paid(self.payments, day)

    def counts(self) -> bool:
        return counts_for_arrears(self.kind, self.status)


def overdue(invoices: list[Owed], day: date) -> list[Owed]:
    """The invoices that make the customer late on `day`: owed, past due, not fully paid."""
    return [invoice for invoice in invoices
            if invoice.counts() and invoice.due_on < day and invoice.balance_on(day) > 0]


def anchor(invoices: list[Owed], day: date) -> date | None:
    """Due date of the oldest invoice still unpaid and overdue on `day` (penalties never anchor)."""
    late = overdue(invoices, day)
    return min(invoice.due_on for invoice in late) if late else None


def overdue_balance(invoices: list[Owed], day: date) -> Decimal:
    """What the customer is late with on `day`, TTC: what the notices ask to settle."""
    return sum((invoice.balance_on(day) for invoice in overdue(invoices, day)), Decimal("0.00"))


def implied_stage(anchor_on: date | None, day: date, rules: Ladder) -> Stage:
    """The highest stage whose threshold (anchor + months, clipped to the month's end) has come."""
    stage = Stage.CURRENT
    if anchor_on is None:
        return stage
    for rung in rules:
        if rung.applies_on(anchor_on) <= day:
            stage = rung.stage
    return stage


@dataclass(frozen=True)
class Transition:
    previous: Stage
    stage: Stage
    effective_on: date


def transitions(current: Stage, anchor_on: date | None, day: date, rules: Ladder,
                exempt: bool = False) -> list[Transition]:
    """Every stage change the facts imply today, in order.

    Going up, each stage passed is recorded on the day it applied; going down (a payment moved or
    cleared the anchor) the customer lands directly on the stage the new anchor implies, today.
    A state entered on approval (`data_deleted`) is never reached here (only a purge, after its notice
    and approval, gets there): the customer stops on the highest automatic state below it, and a state
    entered on approval is never left.
    """
    current = Stage(current)
    if state(current).entry is Entry.APPROVED:
        return []
    target = Stage.CURRENT if exempt else implied_stage(anchor_on, day, rules)
    automatic = [rung.stage for rung in rules if rung.state.entry is Entry.AUTOMATIC and RANK[rung.stage] <= RANK[target]]
    target = automatic[-1] if automatic else Stage.CURRENT
    if RANK[target] < RANK[current]:
        return [Transition(current, target, day)]
    steps, previous = [], current
    for rung in rules:
        if RANK[previous] < RANK[rung.stage] <= RANK[target]:
            steps.append(Transition(previous, rung.stage, rung.applies_on(anchor_on)))
            previous = rung.stage
    return steps


@dataclass(frozen=True)
class DeletionPlan:
    notice_on: date       # the first day the deletion notice may go out
    earliest: date        # anchor + 6 months: the deletion is never before


def deletion_plan(anchor_on: date, terms: Terms) -> DeletionPlan:
    earliest = add_months(anchor_on, terms.data_deleted_after_months)
    return DeletionPlan(earliest - timedelta(days=terms.deletion_notice_days), earliest)


def deletion_due_on(plan: DeletionPlan, noticed_on: date, terms: Terms) -> date:
    """The later of anchor + 6 months and notice + 30 days: never a deletion without its full notice."""
    return max(plan.earliest, noticed_on + timedelta(days=terms.deletion_notice_days))


def unpaid_for(anchor_on: date, day: date) -> tuple[int, int]:
    """How long an invoice due on `anchor_on` has been unpaid on `day`, as (whole months, days beyond
    them): a notice says what is true ("6 months and 6 days"), not a rounded "close to 6 months"."""
    months = (day.year - anchor_on.year) * 12 + day.month - anchor_on.month
    if months > 0 and add_months(anchor_on, months) > day:
        months -= 1
    months = max(months, 0)
    return months, (day - add_months(anchor_on, months)).days


def deletion_eligible(anchor_on: date | None, stage: Stage | str, exempt: bool, day: date, terms: Terms) -> bool:
    """Whether a deletion should be announced (or stay announced): platform off, not exempt, and the
    notice day (anchor + 6 months - 30 days) has come. When it stops being true the deletion is cancelled."""
    return (anchor_on is not None and Stage(stage) is Stage.PLATFORM_DISABLED and not exempt
            and day >= deletion_plan(anchor_on, terms).notice_on)


def deletion_due(status: str | None, due_on: date | None, day: date) -> bool:
    """An announced deletion whose day has come, not refused: it waits for (or gets) its approval."""
    return status in (DeletionStatus.NOTICE_SENT, DeletionStatus.AWAITING_APPROVAL) and due_on is not None and day >= due_on


@dataclass(frozen=True)
class Penalty:
    invoice_ref: str
    base: Decimal        # TTC balance at the end of the due date
    penalty: Decimal     # 10 % of it
    indemnity: Decimal   # the fixed 40 EUR


def penalty_for(invoice: Owed, day: date, terms: Terms, exempt: bool) -> Penalty | None:
    """Due once the day after the due date, on what was unpaid at the end of that date; none for a
    penalty invoice, an excluded invoice or an exempt customer."""
    if exempt or not invoice.counts() or day <= invoice.due_on:
        return None
    base = invoice.balance_on(invoice.due_on)
    if base <= 0:
        return None
    return Penalty(invoice.ref, base, cents(base * terms.late_penalty_rate), terms.late_indemnity)


@dataclass(frozen=True)
class PenaltyTexts:
    description: str     # the penalty invoice's own description (its note)
    penalty: str         # line 1
    indemnity: str       # line 2


def penalty_texts(penalty: Penalty, label: str, due_on: date, terms: Terms, language: str) -> PenaltyTexts:
    """What a penalty invoice says, in the customer's language (stored with it when it is issued)."""
    words = speak(language)
    return PenaltyTexts(
        words.say("Late payment of invoice {number}", number=label),
        words.say("Late payment penalty: {rate} of {base} incl. VAT unpaid on {due_on} (invoice {number})",
                  rate=words.percent(terms.late_penalty_rate), base=penalty.base, due_on=due_on, number=label),
        words.say("Fixed compensation for recovery costs"))
