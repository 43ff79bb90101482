"""The columns of each import file of docs/reference/import-formats.md: name, parser, and whether it is required."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ledger.imports.cells import (address, boolean, choice, day, email, identifier, instant, monthly_fee,
                                  positive_money, vat_rate,
                                  siren, text, vat_number, whole)
from policy.categories import CATEGORIES
from policy.einvoicing import BuyerKind
from policy.language import LANGUAGES
from policy.standby import REASONS
from policy.terms import Terms
from policy.vocabulary import (BillingCycle, InvoiceStatus, PaymentMethod, Severity, TicketChannel, TicketStatus,
                               TicketType)

PAYMENT_METHODS = tuple(PaymentMethod)
MINUTES_IN_A_MONTH = 31 * 24 * 60
#: the statuses an imported invoice may carry (a paid one is paid by its payments)
INVOICE_STATUSES = (InvoiceStatus.OPEN, InvoiceStatus.DISPUTED, InvoiceStatus.WRITTEN_OFF, InvoiceStatus.VOID)


@dataclass(frozen=True)
class Column:
    name: str
    parse: Callable[[Any], Any]
    required: bool = True
    #: a fact of the past (an invoice issued, a payment, work done): no later than today (an instant: now); the one
    #: rule the import and `lifecycle db check` read
    past: bool = False


def schemas(terms: Terms) -> dict[str, tuple[Column, ...]]:
    """The columns of each file, with the bounds of the terms (an intervention's most minutes)."""
    return {
        "customers": (
            Column("customer_id", identifier), Column("name", text(200, printed=True)), Column("email", email),
            Column("monthly_fee", monthly_fee), Column("payment_method", choice(*PAYMENT_METHODS)),
            Column("billing_cycle", choice(*BillingCycle), False), Column("contract_start", day, False),
            Column("vat_rate", vat_rate, False), Column("included_minutes", whole(0, MINUTES_IN_A_MONTH), False),
            Column("dunning_exempt", boolean, False), Column("billing_address", address, False),
            Column("delivery_address", address, False),  # printed when it is not the billing address
            Column("siren", siren, False), Column("vat_number", vat_number, False),
            Column("language", choice(*LANGUAGES), False),  # empty: the terms' invoice_language
            Column("commitment_tier", identifier, False),  # a tier of the terms (checked by the import); empty: none
            # empty: policy.einvoicing.buyer_kind_of(siren, vat_number); a fr_business needs a valid siren
            Column("buyer_kind", choice(*BuyerKind), False),
        ),
        "invoices": (
            Column("invoice_id", identifier), Column("customer_id", identifier), Column("issued_on", day, past=True),
            Column("due_on", day), Column("amount_ht", positive_money), Column("vat_rate", vat_rate, False),
            Column("description", text(500, printed=True), False), Column("status", choice(*INVOICE_STATUSES), False),
            Column("period_start", day, False), Column("period_end", day, False),
            Column("subscription", boolean, False),
        ),
        "payments": (
            Column("payment_id", identifier), Column("invoice_id", identifier), Column("paid_on", day, past=True),
            Column("amount", positive_money),
        ),
        "interventions": (
            Column("intervention_id", identifier), Column("customer_id", identifier), Column("started_at", instant, past=True),
            Column("minutes", whole(1, terms.intervention_max_minutes)), Column("category", choice(*CATEGORIES)),
            Column("ticket", identifier, False), Column("engineer", text(120), False),
            Column("description", text(2000, lines=True), False),
        ),
        "standby": (
            Column("customer_id", identifier), Column("reason", choice(*REASONS)), Column("start_on", day),
            Column("end_on", day, False),
        ),
        "credit-notes": (
            Column("credit_note_id", identifier), Column("invoice_number", identifier),
            Column("amount_ttc", positive_money), Column("reason", text(500, printed=True)), Column("issued_on", day),
            Column("again", boolean, False),  # true: alike to a note already issued (invoice, amount, reason) on purpose
        ),
        "tickets": (
            # a ticket's moments happened: none later than now, to the minute (as an intervention's start)
            Column("ticket_id", identifier), Column("customer_id", identifier),
            Column("received_at", instant, past=True),
            Column("type", choice(*TicketType)), Column("channel", choice(*TicketChannel), False),
            Column("severity", choice(*Severity), False), Column("level", whole(1, 2), False),
            Column("first_response_at", instant, False, past=True), Column("workaround_at", instant, False, past=True),
            Column("resolved_at", instant, False, past=True), Column("closed_at", instant, False, past=True),
            Column("customization_delivered_on", day, False, past=True), Column("credentials", text(4000, lines=True), False),
        ),
        "ticket-events": (
            # a status a ticket took: it happened, so no later than now (as a ticket's moments)
            Column("ticket_id", identifier), Column("at", instant, past=True), Column("status", choice(*TicketStatus)),
        ),
        "refunds": (
            Column("refund_id", identifier), Column("customer_id", identifier), Column("amount", positive_money),
            Column("refunded_on", day, past=True), Column("reference", text(120)),
        ),
    }


#: the columns with the default terms: which are required does not depend on the terms
SCHEMAS = schemas(Terms())
