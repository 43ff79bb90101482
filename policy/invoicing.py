"""A customer's monthly invoice, line by line (docs/reference/policy.md "Invoices", "Payment methods").

Rounding, documented once: every line amount is rounded half-up to the cent when it is made
(subscription, each intervention, surcharge); VAT is computed once per rate per invoice on the sum
of that rate's lines, half-up to the cent; TTC = HT + VAT exactly. Nothing is rounded twice.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

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


def subscription_lines(customer: Subscriber, month: str, standby: int, terms: Terms,
                       service: int | None = None) -> list[Line]:
    """Monthly customers: fee x (D - S/2) / D. Annual customers: 12 x fee in the month their contract
    year starts, and their standby days come back as a negative line (seed 001: standby is 50 %).
    `service`: the days of the month a cancelled customer is still served (policy.cancellation); a monthly
    customer pays fee x (days served - S/2) / D, nobody pays for a month after its service ended."""
    year, number = parse_month(month)
    days = days_in_month(year, number)
    if service == 0:
        return []
    served = days if service is None else service
    standby = min(standby, served)
    discount_share = 1 - terms.standby_price_factor
    start = customer.contract_start
    if start is not None and (year, number) < (start.year, start.month):
        return []
    rate = customer.vat_rate
    name = _month_name(month)
    if customer.billing_cycle == BillingCycle.ANNUAL:
        lines = []
        if start is not None and number == start.month:
            fee = customer.monthly_fee
            lines.append(Line(f"Annual subscription from {name}", "subscription", Decimal(12), fee,
                              cents(fee * 12), rate, month))
        if standby:
            refund = -cents(customer.monthly_fee * standby * discount_share / days)
            lines.append(Line(f"Standby {name}: {standby} of {days} days at {int(terms.standby_price_factor * 100)} %",
                              "subscription", Decimal(standby), cents(refund / standby), refund, rate, month))
        return lines
    amount = cents(customer.monthly_fee * (served - standby * discount_share) / days)
    description = f"Subscription {name}"
    if served < days:
        description += f" (service ended on day {served} of {days}: cancellation)"
    if standby:
        description += f" ({standby} of {days} days on standby at {int(terms.standby_price_factor * 100)} %)"
    return [Line(description, "subscription", Decimal(1), amount, amount, rate, month)]


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
                  terms: Terms, service: int | None = None) -> list[Line]:
    lines = subscription_lines(customer, month, standby, terms, service)
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
