"""A customer's monthly invoice, line by line (docs/reference/policy.md "Invoices", "Payment methods").

Rounding, documented once: every line amount is rounded half-up to the cent when it is made
(subscription, each intervention, surcharge); VAT is computed once per rate per invoice on the sum
of that rate's lines, half-up to the cent; TTC = HT + VAT exactly. Nothing is rounded twice.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Iterable

from policy.billed_through import BilledPeriod, Unbilled, contract_year, month_unbilled, unbilled
from policy.calendar import days_in_month, parse_month
from policy.categories import CATEGORIES, Charge, charge_of, fixed_fee
from policy.money import cents
from policy.quota import Allocation, hourly_rate
from policy.terms import Terms
from policy.vocabulary import BillingCycle, PaymentMethod

NO_VAT = ("penalty", "indemnity")


@dataclass(frozen=True)
class Line:
    description: str
    category: str
    quantity: Decimal
    unit_price: Decimal
    amount_ht: Decimal
    vat_rate: Decimal
    service_month: str | None = None


@dataclass(frozen=True)
class Subscriber:
    """What billing needs to know of a customer."""

    monthly_fee: Decimal
    payment_method: str
    billing_cycle: str  # monthly | annual
    contract_start: date | None
    vat_rate: Decimal
    subscription_start: date | None = None   # the first day it may be billed; None: its contract_start

    @property
    def start(self) -> date | None:
        return self.subscription_start or self.contract_start


def subscription_problems(payment_method: str, billing_cycle: str, contract_start: date | None,
                          terms: Terms) -> list[tuple[str, str]]:
    """What is wrong with a subscription's contract, as (field, reason) pairs."""
    problems = []
    if payment_method == PaymentMethod.TRANSFER and billing_cycle != BillingCycle.ANNUAL and terms.transfer_requires_annual:
        problems.append(("payment_method", "a subscription paid by transfer must be paid at once for a year: use "
                                           "billing_cycle annual or transfer_installments (seed 001 'The transfer')"))
    if billing_cycle == BillingCycle.ANNUAL and contract_start is None:
        problems.append(("contract_start", "an annual contract needs the day its year starts"))
    return problems


def _month_name(month: str) -> str:
    year, number = parse_month(month)
    return date(year, number, 1).strftime("%B %Y")


def subscription_description(kind: str, month: str, *, days: int = 0, of_days: int = 0, standby: int = 0,
                             standby_percent: int = 50, first: date | None = None, served: int | None = None) -> str:
    """Every text of a subscription line, in one place (the words a customer reads on its invoice).

    kind `month`: a monthly subscription (`days` of `of_days` billed from `first` when not the whole month,
    `served` days when a cancellation ended it, `standby` days at `standby_percent`); `year`: an annual
    one (`days` of `of_days` from `first` when part of the year was billed before); `standby`: an annual
    customer's standby days given back."""
    name = _month_name(month)
    if kind == "year":
        text = f"Annual subscription from {name}"
        if days != of_days and first is not None:
            text += f" (from {first.isoformat()}: {days} of {of_days} days not billed before)"
        return text
    if kind == "standby":
        return f"Standby {name}: {standby} of {of_days} days at {standby_percent} %"
    text = f"Subscription {name}"
    if served is not None:
        text += f" (service ended on day {served} of {of_days}: cancellation)"
    elif days != of_days and first is not None:
        text += f" (from {first.isoformat()}: {days} of {of_days} days)"
    if standby:
        text += f" ({standby} of {of_days} days on standby at {standby_percent} %)"
    return text


@dataclass(frozen=True)
class SubscriptionCharge:
    """What a close bills of a customer's subscription for a month: its lines, the service period they bill
    (the invoice records it, so the customer is billed through its end), and what was left aside."""

    lines: list[Line]
    period: tuple[date, date] | None
    unbilled: Unbilled | None   # None: a month its cycle does not bill (an annual customer's other months)


def subscription_charge(customer: Subscriber, month: str, terms: Terms, *, standby: Iterable[date] = (),
                        billed: BilledPeriod | None = None, last_service_day: date | None = None,
                        standby_count: int | None = None) -> SubscriptionCharge:
    """DESIGN "Billed through": a month bills only its days after the billed-through day and on or after
    the customer's start: fee x (U - S/2) / D, with U those days, S the standby days among them, D the days
    of the month (U = 0: no line). Annual customers: 12 x fee in the month their contract year starts, for
    the days of that year not billed before (all of them: exactly 12 x fee; none: no line), and their
    standby days given back as a negative line.

    `standby`: the days of the month on standby; `standby_count` instead, for a caller that only counts
    them (they are then taken among the billed days, as many as there are)."""
    year, number = parse_month(month)
    days = days_in_month(year, number)
    first_day = date(year, number, 1)
    start = customer.start
    percent = int(terms.standby_price_factor * 100)
    discount_share = 1 - terms.standby_price_factor
    rate = customer.vat_rate
    if last_service_day is not None and last_service_day < first_day:
        return SubscriptionCharge([], None, None)   # nobody pays for a month after its service ended
    if customer.billing_cycle == BillingCycle.ANNUAL:
        contract = customer.contract_start
        if contract is not None and (year, number) < (contract.year, contract.month):
            return SubscriptionCharge([], None, None)
        lines, period, coverage = [], None, None
        if contract is not None and number == contract.month:
            year_first, year_last = contract_year(month)
            coverage = unbilled(year_first, year_last, start=start, billed=billed)
            if coverage.days:
                fee = customer.monthly_fee
                amount = fee * 12 if coverage.whole else cents(fee * 12 * coverage.days / coverage.span_days)
                text = subscription_description("year", month, days=coverage.days, of_days=coverage.span_days,
                                                first=coverage.first)
                quantity = Decimal(12) if coverage.whole else Decimal(1)
                lines.append(Line(text, "subscription", quantity, fee if coverage.whole else amount, cents(amount),
                                  rate, month))
                period = (coverage.first, coverage.last)
        served_days = days if last_service_day is None else min(days, (last_service_day - first_day).days + 1)
        off = standby_count if standby_count is not None else len({d for d in standby if d.year == year and d.month == number})
        off = min(off, served_days)
        if off:
            refund = -cents(customer.monthly_fee * off * discount_share / days)
            lines.append(Line(subscription_description("standby", month, standby=off, of_days=days,
                                                       standby_percent=percent),
                              "subscription", Decimal(off), cents(refund / off), refund, rate, month))
        return SubscriptionCharge(lines, period, coverage)
    coverage = month_unbilled(month, start=start, billed=billed, standby=standby, last_service_day=last_service_day)
    if not coverage.days:
        return SubscriptionCharge([], None, coverage)
    off = coverage.standby if standby_count is None else min(standby_count, coverage.days)
    amount = cents(customer.monthly_fee * (coverage.days - off * discount_share) / days)
    served = None
    if last_service_day is not None and last_service_day < coverage.first.replace(day=days):
        served = (last_service_day - first_day).days + 1
    text = subscription_description("month", month, days=coverage.days, of_days=days, standby=off,
                                    standby_percent=percent, first=coverage.first, served=served)
    return SubscriptionCharge([Line(text, "subscription", Decimal(1), amount, amount, rate, month)],
                              (coverage.first, coverage.last), coverage)


def subscription_lines(customer: Subscriber, month: str, standby: int, terms: Terms,
                       service: int | None = None) -> list[Line]:
    """The subscription lines of a month with nothing billed before: `standby` days counted, `service`
    the days a cancelled customer is still served (policy.cancellation; 0: none)."""
    year, number = parse_month(month)
    last_service_day = None if service is None else date(year, number, 1) + timedelta(days=service - 1)
    return subscription_charge(customer, month, terms, standby_count=standby, last_service_day=last_service_day).lines


def intervention_lines(billed: dict[str, list[Allocation]], month: str, rate: Decimal, terms: Terms) -> list[Line]:
    """One line per category and service month; a month other than the invoice's is named (late work)."""
    lines = []
    for service_month in sorted(billed):
        by_category: dict[str, list[Allocation]] = defaultdict(list)
        for allocation in billed[service_month]:
            if allocation.amount_ht:
                by_category[allocation.category].append(allocation)
        for category in sorted(by_category):
            items = by_category[category]
            minutes = sum(item.billed_minutes for item in items)
            text = f"{category.replace('_', ' ').capitalize()}: {len(items)} intervention(s), {minutes} min billed"
            if charge_of(category) is Charge.QUOTA:
                text += " beyond the monthly quota"
            fee = fixed_fee(category, terms)
            if fee:
                text += f", with the {fee} EUR {CATEGORIES[category].fee_name} each"
            if service_month != month:
                text += f" (late, {_month_name(service_month)})"
            lines.append(Line(text, category, (Decimal(minutes) / 60).quantize(Decimal("0.0001")), hourly_rate(category, terms),
                              sum((item.amount_ht for item in items), Decimal("0.00")), rate, service_month))
    return lines


def surcharge_line(method: str, lines: list[Line], rate: Decimal, terms: Terms) -> Line | None:
    """Seed 001: card +2 % of the invoice; transfer in instalments and other means 20 EUR HT; SEPA free."""
    base = sum((line.amount_ht for line in lines), Decimal("0.00"))
    if method == PaymentMethod.CARD and terms.card_surcharge_enabled and base > 0:
        amount = cents(base * terms.card_surcharge_rate)
        return Line(f"Card payment fee ({terms.card_surcharge_rate * 100:.0f} % of {base} EUR)", "surcharge",
                    Decimal(1), amount, amount, rate)
    if method == PaymentMethod.TRANSFER_INSTALLMENTS and terms.installment_fee_enabled:
        return Line("Instalment transfer processing fee", "surcharge", Decimal(1), terms.installment_fee,
                    terms.installment_fee, rate)
    if method == PaymentMethod.OTHER and terms.other_payment_fee_enabled:
        return Line("Payment processing fee (other means of payment)", "surcharge", Decimal(1), terms.other_payment_fee,
                    terms.other_payment_fee, rate)
    return None


def monthly_lines(customer: Subscriber, month: str, standby: int, billed: dict[str, list[Allocation]],
                  terms: Terms, service: int | None = None, subscription: list[Line] | None = None) -> list[Line]:
    """A month's lines: the subscription (`subscription` when the caller priced it already, against what
    was billed before), the interventions, and the surcharge on them all."""
    lines = subscription_lines(customer, month, standby, terms, service) if subscription is None else list(subscription)
    lines += intervention_lines(billed, month, customer.vat_rate, terms)
    if not lines:
        return []
    surcharge = surcharge_line(customer.payment_method, lines, customer.vat_rate, terms)
    return lines + ([surcharge] if surcharge else [])


@dataclass(frozen=True)
class Totals:
    ht: Decimal
    vat: Decimal
    ttc: Decimal


def totals(lines: list[Line]) -> Totals:
    """VAT rounded once per rate per invoice; penalties and indemnities carry none."""
    ht = sum((line.amount_ht for line in lines), Decimal("0.00"))
    by_rate: dict[Decimal, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for line in lines:
        if line.category not in NO_VAT:
            by_rate[line.vat_rate] += line.amount_ht
    vat = sum((cents(amount * rate) for rate, amount in by_rate.items()), Decimal("0.00"))
    return Totals(ht, vat, ht + vat)
