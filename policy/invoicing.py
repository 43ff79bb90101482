"""A customer's monthly invoice, line by line (DESIGN "Monthly close", "Payment methods", "Precise rules").

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
from policy.language import Language, N_, language_of, speak
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
    language: str | None = None  # fr | en: the customer's; None: the terms' invoice_language

    def words(self, terms: Terms) -> Language:
        """The language the customer's invoice lines are drafted in (stored so: a later change of
        language does not rewrite an issued invoice)."""
        return speak(language_of(self.language, terms.invoice_language))


#: a category as an invoice line names it
CATEGORY_WORDS = {
    "bug_fix": N_("Bug fix"), "question": N_("Question"), "feature_roadmap": N_("Feature roadmap"),
    "assistance": N_("Assistance"), "data_modification": N_("Data modification"),
    "operation_support": N_("Operation support"), "data_extraction": N_("Data extraction"),
    "reporting": N_("Reporting"), "user_error": N_("User error"), "data_recovery": N_("Data recovery"),
    "customization": N_("Customization"), "training": N_("Training"),
    "license_installation": N_("License installation"), "company_copy": N_("Company copy"),
    "third_party_conflict": N_("Third party conflict"), "feature_specific": N_("Feature specific"),
    "feature_urgent": N_("Feature urgent"),
}
#: a fixed fee (policy.categories' `fee_name`) as an invoice line names it
FEE_WORDS = {"recovery fee": N_("recovery fee")}


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


def _month_name(month: str, words: Language) -> str:
    return words.month(*parse_month(month))


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
    words = customer.words(terms)
    if customer.billing_cycle == BillingCycle.ANNUAL:
        lines = []
        if start is not None and number == start.month:
            fee = customer.monthly_fee
            lines.append(Line(subscription_text(words, month, terms, annual=True), "subscription", Decimal(12), fee,
                              cents(fee * 12), rate, month))
        if standby:
            refund = -cents(customer.monthly_fee * standby * discount_share / days)
            lines.append(Line(subscription_text(words, month, terms, annual_standby=standby),
                              "subscription", Decimal(standby), cents(refund / standby), refund, rate, month))
        return lines
    amount = cents(customer.monthly_fee * (served - standby * discount_share) / days)
    description = subscription_text(words, month, terms, served=served, standby=standby)
    return [Line(description, "subscription", Decimal(1), amount, amount, rate, month)]


def subscription_text(words: Language, month: str, terms: Terms, *, annual: bool = False, annual_standby: int = 0,
                      served: int | None = None, standby: int = 0) -> str:
    """Every text of a subscription line, in the customer's language (one place for all of them)."""
    year, number = parse_month(month)
    days = days_in_month(year, number)
    name = _month_name(month, words)
    factor = words.percent(terms.standby_price_factor)
    if annual:
        return words.say("Annual subscription from {month}", month=name)
    if annual_standby:
        return words.say("Standby {month}: {standby} of {days} days at {rate}", month=name, standby=annual_standby,
                         days=days, rate=factor)
    description = words.say("Subscription {month}", month=name)
    if served is not None and served < days:
        description = words.say("{description} (service ended on day {served} of {days}: cancellation)",
                                description=description, served=served, days=days)
    if standby:
        description = words.say("{description} ({standby} of {days} days on standby at {rate})",
                                description=description, standby=standby, days=days, rate=factor)
    return description


def intervention_lines(billed: dict[str, list[Allocation]], month: str, rate: Decimal, terms: Terms,
                       words: Language | None = None) -> list[Line]:
    """One line per category and service month; a month other than the invoice's is named (late work).
    `words`: the customer's language (default: the terms' invoice_language)."""
    words = words or speak(terms.invoice_language)
    lines = []
    for service_month in sorted(billed):
        by_category: dict[str, list[Allocation]] = defaultdict(list)
        for allocation in billed[service_month]:
            if allocation.amount_ht:
                by_category[allocation.category].append(allocation)
        for category in sorted(by_category):
            items = by_category[category]
            minutes = sum(item.billed_minutes for item in items)
            text = intervention_text(words, category, len(items), minutes, service_month, month, terms)
            lines.append(Line(text, category, (Decimal(minutes) / 60).quantize(Decimal("0.0001")), hourly_rate(category, terms),
                              sum((item.amount_ht for item in items), Decimal("0.00")), rate, service_month))
    return lines


def intervention_text(words: Language, category: str, count: int, minutes: int, service_month: str, month: str,
                      terms: Terms) -> str:
    """An intervention line's text, in the customer's language."""
    text = words.say_n("{category}: {count} intervention, {minutes} min billed",
                       "{category}: {count} interventions, {minutes} min billed", count,
                       category=words.say(CATEGORY_WORDS[category]), minutes=minutes)
    if charge_of(category) is Charge.QUOTA:
        text = words.say("{text} beyond the monthly quota", text=text)
    fee = fixed_fee(category, terms)
    if fee:
        text = words.say("{text}, with the {fee} {fee_name} each", text=text, fee=fee,
                         fee_name=words.say(FEE_WORDS[CATEGORIES[category].fee_name]))
    if service_month != month:
        text = words.say("{text} (late, {month})", text=text, month=_month_name(service_month, words))
    return text


def surcharge_line(method: str, lines: list[Line], rate: Decimal, terms: Terms,
                   words: Language | None = None) -> Line | None:
    """Seed 001: card +2 % of the invoice; transfer in instalments and other means 20 EUR HT; SEPA free."""
    words = words or speak(terms.invoice_language)
    base = sum((line.amount_ht for line in lines), Decimal("0.00"))
    if method == PaymentMethod.CARD and terms.card_surcharge_enabled and base > 0:
        amount = cents(base * terms.card_surcharge_rate)
        return Line(surcharge_text(words, method, terms, base), "surcharge", Decimal(1), amount, amount, rate)
    if method == PaymentMethod.TRANSFER_INSTALLMENTS and terms.installment_fee_enabled:
        return Line(surcharge_text(words, method, terms, base), "surcharge", Decimal(1), terms.installment_fee,
                    terms.installment_fee, rate)
    if method == PaymentMethod.OTHER and terms.other_payment_fee_enabled:
        return Line(surcharge_text(words, method, terms, base), "surcharge", Decimal(1), terms.other_payment_fee,
                    terms.other_payment_fee, rate)
    return None


def surcharge_text(words: Language, method: str, terms: Terms, base: Decimal) -> str:
    """A payment surcharge line's text, in the customer's language."""
    if method == PaymentMethod.CARD:
        return words.say("Card payment fee ({rate} of {base})", rate=words.percent(terms.card_surcharge_rate),
                         base=base)
    if method == PaymentMethod.TRANSFER_INSTALLMENTS:
        return words.say("Instalment transfer processing fee")
    return words.say("Payment processing fee (other means of payment)")


def monthly_lines(customer: Subscriber, month: str, standby: int, billed: dict[str, list[Allocation]],
                  terms: Terms, service: int | None = None) -> list[Line]:
    lines = subscription_lines(customer, month, standby, terms, service)
    lines += intervention_lines(billed, month, customer.vat_rate, terms, customer.words(terms))
    if not lines:
        return []
    surcharge = surcharge_line(customer.payment_method, lines, customer.vat_rate, terms, customer.words(terms))
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
