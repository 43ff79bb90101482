"""Missed commitments pay back: a service credit per missed clock, a share of the month's subscription.

Off by default (`Terms.service_credits.enabled`). When on, a clock that is not informational and whose due
time falls in a month (Paris) is *missed in that month* when it had not stopped by its due time: evaluated
as of the month's end, it is `missed` or `breached` (policy.commitments). Each such miss earns
`share` x the customer's monthly fee (the fee on the customer's record, whoever billed that month: the close,
an annual invoice or imported history), to the cent (half-up), the first matching rate of the terms
(its clock, and its severity when the rate names one). A customer's credits for a month are capped at
`monthly_cap` x the fee: misses are served in the order of their due time then ticket id, the last one
served gets what the cap has left, the rest nothing.

What a month's misses earn is recomputed from the facts on every close (operations/service_credits.py):
the difference with what earlier closes applied goes on the next invoice, as a correction. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from policy.language import N_, Language
from policy.money import cents
from policy.vocabulary import Severity

Share = Annotated[Decimal, Field(ge=0, le=1, max_digits=6, decimal_places=4)]


class CreditRate(BaseModel):
    """The share of the monthly fee one missed clock gives back."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    clock: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="The commitment's name (Terms.commitments).")
    severity: Severity | None = Field(None, description="Only tickets of this severity; empty: any severity.")
    share: Share = Field(description="Share of the month's subscription (monthly fee) given back per miss, 0-1.")


def default_rates() -> list[CreditRate]:
    return [
        CreditRate(clock="blocking_workaround", severity=Severity.CRITICAL, share=Decimal("0.10")),
        CreditRate(clock="blocking_workaround", share=Decimal("0.05")),
        CreditRate(clock="delivery", share=Decimal("0.05")),
        CreditRate(clock="first_response", share=Decimal("0.02")),
    ]


class ServiceCredits(BaseModel):
    """What the vendor gives back when it misses a commitment (off by default)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(False, description="Whether missed commitments earn service credits at all.")
    rates: list[CreditRate] = Field(default_factory=default_rates, description="Per clock (and severity): the "
                                    "share of the monthly fee per miss; the first matching row applies.")
    monthly_cap: Share = Field(Decimal("0.30"), description="At most this share of the monthly fee per customer "
                               "and month, all misses together.")


@dataclass(frozen=True)
class Miss:
    """A clock missed in a month: the ticket, the commitment, the ticket's severity and the due time."""

    ticket_id: str
    clock: str
    severity: str | None
    due_at: datetime


@dataclass(frozen=True)
class Earned:
    miss: Miss
    share: Decimal
    amount: Decimal      # >= 0: what the customer is given back, excl. VAT
    capped: bool


def share_for(rates: list[CreditRate], clock: str, severity: str | None) -> Decimal:
    """The first rate of the clock whose severity is the ticket's or unset; 0 when none matches."""
    for rate in rates:
        if rate.clock == clock and (rate.severity is None or rate.severity == severity):
            return rate.share
    return Decimal(0)


def month_credits(misses: list[Miss], fee: Decimal, terms: ServiceCredits) -> list[Earned]:
    """What a customer's misses of one month earn, capped; misses that earn nothing are left out."""
    left = cents(fee * terms.monthly_cap)
    earned = []
    for miss in sorted(misses, key=lambda miss: (miss.due_at, miss.ticket_id, miss.clock)):
        share = share_for(terms.rates, miss.clock, miss.severity)
        full = cents(fee * share)
        amount = min(full, left)
        if amount <= 0:
            continue
        left -= amount
        earned.append(Earned(miss, share, amount, amount < full))
    return earned


#: a commitment as an invoice line names it (a commitment the terms added is named by its own name)
CLOCK_WORDS = {"first_response": N_("first response"), "blocking_workaround": N_("workaround of a blocking bug"),
               "delivery": N_("delivery"), "new_feature": N_("new feature")}


def clock_words(words: Language, clock: str) -> str:
    return words.say(CLOCK_WORDS[clock]) if clock in CLOCK_WORDS else clock


def credit_text(words: Language, clock: str, ticket_id: str, month_name: str, share: Decimal, capped: bool) -> str:
    """A service credit line's text, in the customer's language."""
    text = words.say("Service credit: missed commitment ({clock}), ticket {ticket}, {month}, {share} of the "
                     "monthly fee", clock=clock_words(words, clock), ticket=ticket_id, month=month_name,
                     share=words.percent(share))
    if capped:
        text = words.say("{text} (monthly cap reached)", text=text)
    return text


def correction_text(words: Language, clock: str, ticket_id: str, month_name: str) -> str:
    """A correction of a credit an earlier invoice applied (its moments changed since), in the customer's language."""
    return words.say("Service credit correction: commitment ({clock}), ticket {ticket}, {month}",
                     clock=clock_words(words, clock), ticket=ticket_id, month=month_name)
