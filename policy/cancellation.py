"""A customer's cancellation: when it takes effect, what its last month bills, what its statement says.

Seed 001 ("Cancel my subscription"): the request comes by registered letter with acknowledgment of
receipt; "once the request is received, a balance of any account will be communicated to you according
to the terms of your contract". The contract's numbers are terms: a notice from the day the letter
is received, then the end of the billing period (a month, an annual contract's year) or the notice's
last day. `effective_on` is the last day of service: the subscription is billed up to it, the
platform goes off after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Iterable

from policy.calendar import add_months, month_bounds, month_key
from policy.language import Language, speak
from policy.money import cents
from policy.terms import Terms
from policy.vocabulary import BillingCycle


def _contract_year_end(start: date, after: date) -> date:
    """The last day of the contract year (years counted from `start`) that contains `after`."""
    years = max(after.year - start.year - 1, 0)
    while add_months(start, 12 * (years + 1)) <= after:
        years += 1
    return add_months(start, 12 * (years + 1)) - timedelta(days=1)


def earliest_effective(received_on: date, billing_cycle: str, contract_start: date | None, terms: Terms) -> date:
    """The first day a cancellation received on `received_on` may take effect (its last day of service)."""
    notice_end = received_on + timedelta(days=terms.cancellation_notice_days)
    if terms.cancellation_ends == "notice_end":
        return notice_end
    if billing_cycle == BillingCycle.ANNUAL and contract_start is not None:
        return _contract_year_end(contract_start, notice_end)
    first, following = month_bounds(f"{notice_end.year:04d}-{notice_end.month:02d}")
    return following - timedelta(days=1)


def effective_problem(wanted: date | None, earliest: date, received_on: date) -> str | None:
    """Why a requested effective date cannot be used (None when it can, or when none was asked)."""
    if wanted is None:
        return None
    if wanted < received_on:
        return f"--effective-on {wanted} is before the letter was received ({received_on})"
    if wanted < earliest:
        return (f"--effective-on {wanted} is before the earliest day the terms allow ({earliest}: "
                f"{received_on} plus the notice, to the end of the period)")
    return None


def data_deletion_due(last_day: date, applied_on: date, terms: Terms) -> date:
    """The first day a cancelled customer's data may be deleted, for a cancellation whose last day of service
    is `last_day` and which the product applies (access off, the deletion announced by the mail of that day)
    on `applied_on`.

    The retention (`cancellation_data_retention_days`) counts from the last day the customer really had its
    platform: the last day of service, or, when the product applies the cancellation later (a letter recorded
    late, a missed morning), the day before it does. The mail of `applied_on` is the deletion notice, so the
    deletion is never due before it has run its full `deletion_notice_days` either (a retention shorter than
    the notice, or none)."""
    kept_from = max(last_day, applied_on - timedelta(days=1))
    return max(kept_from + timedelta(days=terms.cancellation_data_retention_days),
               applied_on + timedelta(days=terms.deletion_notice_days))


def service_days(month: str, ends_on: date | None) -> int | None:
    """How many days of `month` a customer whose service ends on `ends_on` is billed for (None: the whole
    month, no cancellation touches it; 0: the service ended before the month)."""
    first, following = month_bounds(month)
    if ends_on is None or ends_on >= following - timedelta(days=1):
        return None
    if ends_on < first:
        return 0
    return (ends_on - first).days + 1


def last_month_billed(last_day: date, closed: Iterable[str], billed_through: date | None) -> bool:
    """Whether a cancellation's last month is billed for good, so its final statement may go out.

    `closed`: the months the product's closes finalised; `billed_through`: the last day the customer's
    subscription is billed through (by any issued invoice, imported or the product's own). The month of the
    last day is billed once its close is finalised, or when the product will never close it: the customer was
    billed through the last day already and the product's first close is of a later month (a vendor that moved
    in with its history: that month was its old system's, billed by an imported invoice). While no close is
    finalised yet, the first close decides."""
    month = month_key(last_day)
    months = set(closed)
    if month in months:
        return True
    return billed_through is not None and billed_through >= last_day and bool(months) and min(months) > month


@dataclass(frozen=True)
class Unserved:
    """What an invoice billed of a subscription after the last day of service: `days` of its period's
    `of_days`, and the part of its subscription amount (HT) they cost, given back by a credit note."""

    first: date
    days: int
    of_days: int
    amount_ht: Decimal


def unserved(period_start: date, period_end: date, subscription_ht: Decimal, last_day: date, *,
             standby: Iterable[date] = (), standby_price_factor: Decimal | None = None) -> Unserved | None:
    """The days of a billed period after `last_day`, priced pro rata of what the period billed:
    amount x days / days of the period, half-up to the cent (None: nothing billed after the last day).

    A period priced with its standby days at `standby_price_factor` (a monthly customer's month: fee x
    (U - S/2) / D) gives back each day at what it was billed: a day weighs 1, a standby day (`standby`, its
    dates) the factor, and the days after the last day their weight's share of the amount. An unweighted
    pro rata would give back a standby day's half twice when the standby lies after the last day (and too
    little when it lies before)."""
    if period_end <= last_day or subscription_ht <= 0:
        return None
    first = max(period_start, last_day + timedelta(days=1))
    of_days = (period_end - period_start).days + 1
    days = (period_end - first).days + 1
    if days == of_days:
        return Unserved(first, days, of_days, subscription_ht)
    weight, weight_after = Decimal(of_days), Decimal(days)
    if standby_price_factor is not None:
        share = 1 - Decimal(standby_price_factor)
        off = {day for day in standby if period_start <= day <= period_end}
        weight -= len(off) * share
        weight_after -= sum(1 for day in off if day >= first) * share
    return Unserved(first, days, of_days, cents(subscription_ht * weight_after / weight))


@dataclass(frozen=True)
class StandbyGiven:
    """An annual customer's standby days of `month` given back by a close (a credit note's line, or a negative
    line netted on its invoice): `days` standby days, `amount_ht` (positive) given back for them."""

    month: str
    days: int
    amount_ht: Decimal


def standby_given_after(given: Iterable[StandbyGiven], standby: Iterable[date], last_day: date, first: date,
                        last: date, start: date | None = None) -> Decimal:
    """What the closes gave back of standby days after `last_day` that lie in `first`..`last` (a billed
    period): a cancellation gives those days back whole, so their standby half, given back already, comes
    off what it gives back, by day. A month's line is shared among its days pro rata: amount x days after the
    last day in the period / days of the line, half-up to the cent.

    `standby`: the standby dates (of the whole month of the last day at least); `start`: the customer's, before
    which no day was counted. A line counts its month's standby days from `start`, and only those up to the
    last day when its close knew of the cancellation: its days after the last day are those beyond the
    standby days up to it."""
    days = {day for day in standby if start is None or day >= start}
    total = Decimal("0.00")
    for line in given:
        if line.days <= 0 or line.amount_ht <= 0:
            continue
        month_first, following = month_bounds(line.month)
        month = [day for day in days if month_first <= day < following]
        beyond = line.days - sum(1 for day in month if day <= last_day)
        after = min(beyond, sum(1 for day in month if day > last_day and first <= day <= last))
        if after > 0:
            total += line.amount_ht if after == line.days else cents(line.amount_ht * after / line.days)
    return total


def unserved_text(words: Language, last_day: date, first: date, last: date, days: int, of_days: int) -> str:
    """The credit note's line (and reason) for the days billed after the last day of service."""
    return words.say("Subscription not served after the last day of service {last_day} (cancellation): "
                     "{first} to {last}, {days} of {of_days} days billed", last_day=last_day, first=first,
                     last=last, days=days, of_days=of_days)


@dataclass(frozen=True)
class StatementLine:
    """An open invoice (its number, issue and due dates; disputed or not), or the customer's credit
    (`invoice` None), with what is left on it: positive owed, negative a credit."""

    amount: Decimal
    invoice: str | None = None
    issued_on: date | None = None
    due_on: date | None = None
    disputed: bool = False

    def label(self, words: Language) -> str:
        if self.invoice is None:
            return words.say("Your credit (overpayments and credit notes not yet refunded)")
        if self.disputed:
            return words.say("Invoice {number} of {issued_on}, due {due_on} (disputed)", number=self.invoice,
                             issued_on=self.issued_on, due_on=self.due_on)
        return words.say("Invoice {number} of {issued_on}, due {due_on}", number=self.invoice,
                         issued_on=self.issued_on, due_on=self.due_on)


@dataclass(frozen=True)
class Statement:
    """A customer's account on a day: what it owes, what it is owed, and the difference."""

    day: date
    lines: tuple[StatementLine, ...]

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))

    def sentence(self, words: Language) -> str:
        if self.total > 0:
            return words.say("{amount} remain to pay", amount=self.total)
        if self.total < 0:
            return words.say("{amount} are owed to you and will be refunded", amount=-self.total)
        return words.say("nothing is owed on either side")

    def text(self, language: str) -> str:
        """The statement as the customer reads it, in `language`."""
        words = speak(language)
        # the credit is shown as what it is, an amount in the customer's favour (its sign is the balance's)
        rows = "\n".join(words.say("  - {label}: {amount}", label=line.label(words),
                                    amount=-line.amount if line.invoice is None else line.amount)
                         for line in self.lines) or words.say("  - no open item")
        return words.say("Your account on {day}:\n{rows}\nBalance: {total} ({sentence}).\n", day=self.day,
                         rows=rows, total=self.total, sentence=self.sentence(words))


# --- what the customer is told at each step (declarative, like the arrears ladder's notices) -------------

from policy.notices import N_, NoticeTemplate  # noqa: E402

NOTICES = {
    "received": NoticeTemplate(
        "cancellation_received", N_("Your cancellation is received: service until {effective_on}"),
        N_("Dear {name},\n\nWe received your registered letter of cancellation on {received_on}. Following the terms "
        "of your contract, your service runs until {effective_on} included; your platform is switched off after "
        "that day, and your last invoice bills the service up to it.\n\n{statement}\nIf you change your mind, "
        "tell us before {effective_on}: the cancellation is then withdrawn and nothing changes.\n")),
    "withdrawn": NoticeTemplate(
        "cancellation_withdrawn", N_("Your cancellation is withdrawn"),
        N_("Dear {name},\n\nAs you asked, your cancellation received on {received_on} is withdrawn: your service "
        "goes on as before.\n")),
    "effective": NoticeTemplate(
        "cancellation_effective", N_("Your service has ended on {effective_on}"),
        N_("Dear {name},\n\nYour cancellation took effect: your service ended on {effective_on} and your platform is "
        "switched off. A last backup of your data is kept until {deletion_due_on}; your data and its backups are "
        "deleted on or after that day (this message is the notice of that deletion). Your invoices are kept {invoice_retention}. Your final balance follows with your last "
        "invoice.\n")),
    "statement": NoticeTemplate(
        "cancellation_statement", N_("Your final balance: {balance}"),
        N_("Dear {name},\n\nHere is the final balance of your account, now that your last invoice is issued.\n\n"
        "{statement}\nContact {contact} for any question.\n")),
}
