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
from policy.language import Language, N_, language_of, speak
from policy.money import cents
from policy.quota import Allocation, hourly_rate
from policy.refusals import Refusal
from policy.terms import Terms
from policy.vocabulary import BillingCycle, InvoiceKind, PaymentMethod

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
    language: str | None = None  # fr | en: the customer's; None: the terms' invoice_language

    @property
    def start(self) -> date | None:
        return self.subscription_start or self.contract_start

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
    words = customer.words(terms)
    discount_share = 1 - terms.standby_price_factor
    rate = customer.vat_rate
    if last_service_day is not None and last_service_day < first_day:
        return SubscriptionCharge([], None, None)   # nobody pays for a month after its service ended
    if customer.billing_cycle == BillingCycle.ANNUAL:
        contract = customer.contract_start
        if contract is not None and (year, number) < (contract.year, contract.month):
            return SubscriptionCharge([], None, None)
        lines, period = [], None
        coverage = subscription_coverage(customer, month, billed=billed, last_service_day=last_service_day)
        if coverage is not None:
            if coverage.days:
                fee = customer.monthly_fee
                amount = fee * 12 if coverage.whole else cents(fee * 12 * coverage.days / coverage.span_days)
                text = subscription_text(words, month, terms, annual=True, days=coverage.days,
                                         of_days=coverage.span_days, first=coverage.first)
                quantity = Decimal(12) if coverage.whole else Decimal(1)
                lines.append(Line(text, "subscription", quantity, fee if coverage.whole else amount, cents(amount),
                                  rate, month))
                period = (coverage.first, coverage.last)
        served_days = days if last_service_day is None else min(days, (last_service_day - first_day).days + 1)
        off = standby_count if standby_count is not None else len(
            {d for d in standby if (d.year, d.month) == (year, number) and (start is None or d >= start)})
        off = min(off, served_days)
        if off:
            refund = -cents(customer.monthly_fee * off * discount_share / days)
            # the quantity is the days given back: a cancellation reads them (operations/cancellation.py
            # standby_given) to give back the rest once; no price a day to the cent gives the refund exactly, so
            # the documents write the line 1 x its amount, the days in its text (figures.shown_line)
            lines.append(Line(subscription_text(words, month, terms, annual_standby=off),
                              "subscription", Decimal(off), cents(refund / off), refund, rate, month))
        return SubscriptionCharge(lines, period, coverage)
    coverage = subscription_coverage(customer, month, billed=billed, standby=standby, last_service_day=last_service_day)
    if not coverage.days:
        return SubscriptionCharge([], None, coverage)
    off = coverage.standby if standby_count is None else min(standby_count, coverage.days)
    amount = cents(customer.monthly_fee * (coverage.days - off * discount_share) / days)
    served = None
    if last_service_day is not None and last_service_day < coverage.first.replace(day=days):
        served = (last_service_day - first_day).days + 1
    text = subscription_text(words, month, terms, served=served, standby=off, days=coverage.days, of_days=days,
                             first=coverage.first)
    return SubscriptionCharge([Line(text, "subscription", Decimal(1), amount, amount, rate, month)],
                              (coverage.first, coverage.last), coverage)


def subscription_coverage(customer: Subscriber, month: str, *, billed: BilledPeriod | None = None,
                          standby: Iterable[date] = (), last_service_day: date | None = None) -> Unbilled | None:
    """The days `subscription_charge` bills of a month (an annual customer's: of the contract year starting
    in it), without its lines and their texts: what a close's report says was billed before. None: a month
    whose cycle bills nothing (an annual customer's other months, a month after the service ended)."""
    year, number = parse_month(month)
    if last_service_day is not None and last_service_day < date(year, number, 1):
        return None
    if customer.billing_cycle == BillingCycle.ANNUAL:
        contract = customer.contract_start
        if contract is None or (year, number) < (contract.year, contract.month) or number != contract.month:
            return None
        year_first, year_last = contract_year(month, contract)
        return unbilled(year_first, year_last, start=customer.start, billed=billed, last_service_day=last_service_day)
    return month_unbilled(month, start=customer.start, billed=billed, standby=standby,
                          last_service_day=last_service_day)


def subscription_lines(customer: Subscriber, month: str, standby: int, terms: Terms,
                       service: int | None = None) -> list[Line]:
    """The subscription lines of a month with nothing billed before: `standby` days counted, `service`
    the days a cancelled customer is still served (policy.cancellation; 0: none)."""
    year, number = parse_month(month)
    last_service_day = None if service is None else date(year, number, 1) + timedelta(days=service - 1)
    return subscription_charge(customer, month, terms, standby_count=standby, last_service_day=last_service_day).lines


def subscription_text(words: Language, month: str, terms: Terms, *, annual: bool = False, annual_standby: int = 0,
                      served: int | None = None, standby: int = 0, days: int | None = None,
                      of_days: int | None = None, first: date | None = None) -> str:
    """Every text of a subscription line, in the customer's language (one place for all of them).

    `days` of `of_days` billed from `first`: a month (or an annual contract's year) of which part was billed
    before, or that starts after its first day; `served`: the days a cancellation left; `standby`: the days
    on standby at the terms' price factor; `annual_standby`: an annual customer's standby days given back."""
    factor = terms.standby_price_factor
    return words.remember(("subscription", month, factor, annual, annual_standby, served, standby, days, of_days, first),
                          lambda: _subscription_text(words, month, factor, annual, annual_standby, served, standby,
                                                     days, of_days, first))


def _subscription_text(words: Language, month: str, standby_price_factor: Decimal, annual: bool, annual_standby: int,
                       served: int | None, standby: int, days: int | None, of_days: int | None,
                       first: date | None) -> str:
    year, number = parse_month(month)
    month_days = days_in_month(year, number)
    name = _month_name(month, words)
    factor = words.percent(standby_price_factor)
    partly = days is not None and of_days is not None and days != of_days and first is not None
    if annual:
        description = words.say("Annual subscription from {month}", month=name)
        if partly:
            description = words.say("{description} (from {first}: {days} of {of_days} days not billed before)",
                                    description=description, first=first, days=days, of_days=of_days)
        return description
    if annual_standby:
        return words.say("Standby {month}: {standby} of {days} days at {rate}", month=name, standby=annual_standby,
                         days=month_days, rate=factor)
    description = words.say("Subscription {month}", month=name)
    if served is not None and served < month_days:
        description = words.say("{description} (service ended on day {served} of {days}: cancellation)",
                                description=description, served=served, days=month_days)
    elif partly:
        description = words.say("{description} (from {first}: {days} of {of_days} days)",
                                description=description, first=first, days=days, of_days=of_days)
    if standby:
        description = words.say("{description} ({standby} of {days} days on standby at {rate})",
                                description=description, standby=standby, days=month_days, rate=factor)
    return description


@dataclass(frozen=True)
class CategoryWork:
    """A month's billed interventions of one category, summed: what an invoice line says of them. The close
    has the database sum them (ledger/pricing.py); `category_work` sums priced allocations the same way."""

    category: str
    count: int
    billed_minutes: int
    amount_ht: Decimal


def category_work(allocations: Iterable[Allocation]) -> list[CategoryWork]:
    """The allocations that cost something, summed per category."""
    by_category: dict[str, list[Allocation]] = defaultdict(list)
    for allocation in allocations:
        if allocation.amount_ht:
            by_category[allocation.category].append(allocation)
    return [CategoryWork(category, len(items), sum(item.billed_minutes for item in items),
                         sum((item.amount_ht for item in items), Decimal("0.00")))
            for category, items in by_category.items()]


def line_unit(category: str, quantity: Decimal, unit_price: Decimal, amount_ht: Decimal, terms: Terms) -> str:
    """The UN/ECE Rec 20 unit of a ledger line's quantity, for the documents: "HUR" for an intervention's time
    written as hours x its category's hourly rate (`intervention_lines`; a credit note's line crediting it
    whole too, negated), else "C62" (one: a fee's count, a month's subscription, an amount written 1 x itself).
    A fee equal to its category's hourly rate could not be told from its time: both are then "C62"."""
    if category not in CATEGORIES or quantity * unit_price != amount_ht:
        return "C62"
    price = abs(unit_price)
    return "HUR" if price == hourly_rate(category, terms) and price != fixed_fee(category, terms) else "C62"


def intervention_lines(billed: dict[str, list[Allocation] | list[CategoryWork]], month: str, rate: Decimal,
                       terms: Terms, words: Language | None = None) -> list[Line]:
    """One line per category and service month; a month other than the invoice's is named (late work).
    A category's fixed fee (data recovery's) is a line of its own beside its time's: `count` x the fee, so
    that each line's quantity x unit price is its amount wherever the time's is (EN 16931 BT-131); the
    time's line is the hours x the hourly rate (an amount the hours to 4 decimals do not give exactly, as a
    sum of interventions each rounded to the cent, is quantity 1 x that amount: its minutes are in its text;
    no other part of the product reads an intervention line's quantity).
    `billed`: each service month's priced allocations, or their sums per category (CategoryWork).
    `words`: the customer's language (default: the terms' invoice_language)."""
    words = words or speak(terms.invoice_language)
    lines = []
    for service_month in sorted(billed):
        items = billed[service_month]
        works = items if all(isinstance(item, CategoryWork) for item in items) else category_work(items)
        for work in sorted((work for work in works if work.amount_ht), key=lambda work: work.category):
            minutes = work.billed_minutes
            fee = fixed_fee(work.category, terms)
            fees = fee * work.count
            time = work.amount_ht - fees  # each intervention's amount is its time's, to the cent, + the fee
            if time:
                text = intervention_text(words, work.category, work.count, minutes, service_month, month, terms)
                hours, hourly = (Decimal(minutes) / 60).quantize(Decimal("0.0001")), hourly_rate(work.category, terms)
                quantity, price = (hours, hourly) if hours * hourly == time else (Decimal(1), time)
                lines.append(Line(text, work.category, quantity, price, time, rate, service_month))
            if fees:
                lines.append(Line(fee_text(words, work.category, service_month, month), work.category,
                                  Decimal(work.count), fee, fees, rate, service_month))
    return lines


def intervention_text(words: Language, category: str, count: int, minutes: int, service_month: str, month: str,
                      terms: Terms) -> str:
    """An intervention line's text, in the customer's language: its time (a fixed fee is a line of its own,
    `fee_text`)."""
    return words.remember(("intervention", category, count, minutes, service_month, month),
                          lambda: _intervention_text(words, category, count, minutes, service_month, month))


def fee_text(words: Language, category: str, service_month: str, month: str) -> str:
    """The text of a category's fixed-fee line (data recovery's), in the customer's language; its quantity
    is the interventions, its unit price the fee."""
    return words.remember(("fee", category, service_month, month), lambda: _late(words, words.say(
        "{category}: {fee_name} per intervention", category=words.say(CATEGORY_WORDS[category]),
        fee_name=words.say(FEE_WORDS[CATEGORIES[category].fee_name])), service_month, month))


def _intervention_text(words: Language, category: str, count: int, minutes: int, service_month: str,
                       month: str) -> str:
    text = words.say_n("{category}: {count} intervention, {minutes} min billed",
                       "{category}: {count} interventions, {minutes} min billed", count,
                       category=words.say(CATEGORY_WORDS[category]), minutes=minutes)
    if charge_of(category) is Charge.QUOTA:
        text = words.say("{text} beyond the monthly quota", text=text)
    return _late(words, text, service_month, month)


def _late(words: Language, text: str, service_month: str, month: str) -> str:
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
        if not amount:  # 2 % of a few cents: no line of 0.00 is printed
            return None
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
                  terms: Terms, service: int | None = None, subscription: list[Line] | None = None) -> list[Line]:
    """A month's lines: the subscription (`subscription` when the caller priced it already, against what
    was billed before), the interventions, and the surcharge on them all."""
    lines = subscription_lines(customer, month, standby, terms, service) if subscription is None else list(subscription)
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


# --- what the ledger can hold ----------------------------------------------------------------------------
#
# The ledger keeps amounts as Numeric(14, 2) (at most 999,999,999,999.99), a line's unit price as
# Numeric(14, 4) (at most 9,999,999,999.9999) and its quantity as Numeric(12, 4). The largest invoice a
# close computes from a monthly fee F is an annual customer's: 12 x F for the year (its unit price F, or
# up to 12 x F for a year billed in part), a payment surcharge of at most 100 % of it (card_surcharge_rate
# <= 1) plus the flat payment fees, then VAT below 100 % (policy.vat): under 48 x F + 4 x the fees. With F at
# most FEE_BOUND (8 integer digits), 12 x F < 1.2e9 fits a unit price and 48 x F < 4.8e9 leaves more than
# 995e9 for the work of the month (minutes x hourly rates), data recoveries and late penalties. Work is
# bounded per row, not per month: a customer's invoice that would still not fit is refused for that
# customer alone (ledger_fit_problem), and the close bills every other customer.

FEE_INTEGER_DIGITS = 8
FEE_BOUND = Decimal("99999999.99")
MONEY_LIMIT = Decimal("999999999999.99")
UNIT_PRICE_LIMIT = Decimal("9999999999.9999")
QUANTITY_LIMIT = Decimal("99999999.9999")


class DocumentTooLarge(Refusal):
    """A customer's invoice or credit note whose figures the ledger's columns cannot hold: a close leaves
    that customer out, in one line, and bills the others."""


def refuse_too_large(lines: list["Line"], total: "Totals", who: str) -> None:
    problem = ledger_fit_problem(lines, total, who)
    if problem:
        raise DocumentTooLarge(problem)


def ledger_fit_problem(lines: list["Line"], total: "Totals", who: str) -> str | None:
    """Why a document's figures do not fit the ledger's columns (None: they do), in one line."""
    too_large = [(line.amount_ht, MONEY_LIMIT, "a line's amount") for line in lines]
    too_large += [(line.unit_price, UNIT_PRICE_LIMIT, "a unit price") for line in lines]
    too_large += [(line.quantity, QUANTITY_LIMIT, "a quantity") for line in lines]
    too_large += [(total.ht, MONEY_LIMIT, "its total HT"), (total.vat, MONEY_LIMIT, "its VAT"),
                  (total.ttc, MONEY_LIMIT, "its total TTC")]
    for value, limit, what in too_large:
        if abs(value) > limit:
            return (f"{who}: {what} of {value} is more than the ledger keeps ({limit}): not billed; check the "
                    f"customer's fee, rates and minutes")
    return None


def totals(lines: list[Line]) -> Totals:
    """VAT rounded once per rate per invoice; penalties and indemnities carry none."""
    ht = sum((line.amount_ht for line in lines), Decimal("0.00"))
    by_rate: dict[Decimal, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for line in lines:
        if line.category not in NO_VAT:
            by_rate[line.vat_rate] += line.amount_ht
    vat = sum((cents(amount * rate) for rate, amount in by_rate.items()), Decimal("0.00"))
    return Totals(ht, vat, ht + vat)


# --- money owed to a customer is a credit note, never an invoice ------------------------------------------


class NegativeInvoice(ValueError):
    """An invoice (a commercial invoice, type 380) whose total is negative: money owed to the customer is
    a credit note (type 381) and a credit, never an invoice. Raised where invoices are written, as a guard."""


def negative_invoice_problem(kind: InvoiceKind, total_ttc: Decimal, who: str) -> str | None:
    """Why a document of `kind` with `total_ttc` must not be issued as an invoice (None: it may)."""
    if kind != InvoiceKind.CREDIT_NOTE and total_ttc < 0:
        return (f"{who}: an invoice of {total_ttc} EUR TTC is money owed to the customer; it is issued as a "
                f"credit note, never as an invoice")
    return None


def refuse_negative(kind: str, total_ttc: Decimal, who: str) -> None:
    problem = negative_invoice_problem(kind, total_ttc, who)
    if problem:
        raise NegativeInvoice(problem)


@dataclass(frozen=True)
class MonthDocuments:
    """What a close issues to a customer for a month: an invoice's lines (positive total, or none), and the
    lines given back by a credit note (negative, or none): DESIGN "Invoices", no invoice below zero."""

    invoice: list[Line]
    credit: list[Line]


def month_documents(customer: Subscriber, month: str, subscription: list[Line], billed: dict[str, list[Allocation]],
                    terms: Terms, *, creditable: bool = True, credits: list[Line] = ()) -> MonthDocuments:
    """The month's lines, netted on one invoice when their total is not below zero (an annual customer's
    standby days given back beside its work, service credits beside the subscription); otherwise what is
    given back (the negative subscription lines, the service credits) goes on a credit note and the rest
    (work, its surcharge, a correction taking a credit back) on an invoice of its own. `creditable`: there is
    an invoice to credit; without one nothing was paid, nothing is given back. The payment surcharge is
    computed on what is billed, before the credits (policy.service_credits)."""
    lines = monthly_lines(customer, month, 0, billed, terms, subscription=subscription)
    if lines or credits:
        lines = lines + list(credits)
    if totals(lines).ht >= 0:
        return MonthDocuments(lines, [])
    given_back = [line for line in subscription if line.amount_ht < 0] + [line for line in credits if line.amount_ht < 0]
    rest = monthly_lines(customer, month, 0, billed, terms,
                         subscription=[line for line in subscription if line.amount_ht >= 0])
    rest += [line for line in credits if line.amount_ht >= 0]
    return MonthDocuments(rest, given_back if creditable else [])
