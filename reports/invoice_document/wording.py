"""The words of a document: its labels and sentences, and how it writes money, dates and quantities.

This module exists so that the XML and the printed page say the same things in the customer's
language. Every label is written here in English, marked with `N_`, and translated by the customer's
catalogue (policy/locales, read through policy.language: no label goes out untranslated); amounts,
percentages and dates are written the locale's way by policy.language too. Nothing here is a figure:
what to say comes from figures.py, how to say it from here.
"""

from __future__ import annotations

import functools
from datetime import date
from decimal import Decimal

from policy.language import N_, speak
from reports.invoice_document.figures import DocumentLine, InvoiceDocument, Party

NBSP = "\u00a0"

#: every label of the document, written in English; the customer's catalogue translates it
#: (policy.language: no label goes out untranslated)
LABEL_MESSAGES = {
    "invoice": N_("INVOICE"), "credit_note": N_("CREDIT NOTE"), "number": N_("No."), "issued": N_("Issue date"),
    "due": N_("Due date"), "period": N_("Service period from {start} to {end}"),
    "credits": N_("Credit note for invoice No. {number}"),
    "penalty_subtitle": N_("Late-payment penalties and fixed indemnity for recovery costs"),
    "billed_to": N_("Billed to"), "customer_ref": N_("Customer reference"), "vat_id": N_("EU VAT number"),
    "capital": N_("with a share capital of"), "operation": N_("Nature of the transaction: supply of services"),
    "col_desc": N_("Description"), "col_qty": N_("Qty"), "col_price": N_("Unit price excl. VAT"),
    "col_vat": N_("VAT"), "col_amount": N_("Amount excl. VAT"), "total_ht": N_("Total excl. VAT"),
    "vat_row": N_("VAT {rate}"), "vat_row_o": N_("VAT (out of scope)"), "basis": N_("basis"),
    "vat_row_e": N_("VAT (exempt)"), "total_ttc": N_("Total incl. VAT"),
    "prepaid": N_("Already settled (credit applied)"), "net": N_("Amount due"), "net_credit": N_("Amount credited"),
    "payment": N_("Payment"), "transfer": N_("Payment by bank transfer: IBAN {iban} BIC {bic}"),
    "reference": N_("Please quote {number} as the transfer reference."),
    "pay_online": N_("Pay online: {link}"),
    "penalties": N_("In case of late payment, late-payment penalties at the rate of {rate} are due, as well "
                    "as a fixed indemnity for recovery costs of {indemnity} (articles L441-10 and D441-5 "
                    "of the French Commercial Code)."),
    "indemnity_note": N_("Fixed indemnity for recovery costs in case of late payment: {indemnity} "
                         "(article D441-5 of the French Commercial Code)."),
    "no_discount": N_("No discount for early payment."),
    "vat_on_debits": N_("Option for the payment of VAT on debits."),
    "delivered_at": N_("Delivery address"),
    "exempt_e": N_("Exempt from VAT"),
    "exempt_o": N_("Not subject to VAT"),
    "mention_e": N_("Lines at 0%: exempt from VAT."),
    "mention_o": N_("Late-payment penalties and the fixed recovery indemnity are outside the scope of VAT."),
    "specimen": N_("SPECIMEN — sample seller, to be replaced in the settings (seller block)"),
    "colon": N_("{label}:"),   # "Issue date:" / "Date d'émission :"
    "hour": N_("h"),
}


@functools.cache
def _labels(language: str) -> dict[str, str]:
    words = speak(language)
    labels = {key: words.template(message) for key, message in LABEL_MESSAGES.items()}
    labels["sep"] = labels["colon"].format(label="")
    return labels


class _Labels:
    """`LABELS[language][key]`: the document's labels in a language, from its catalogue."""

    def __getitem__(self, language: str) -> dict[str, str]:
        return _labels(language)


LABELS = _Labels()


def money(amount: Decimal, language: str, places: int = 2) -> str:
    """`1 234,50 €` (no-break spaces) in French, `€1,234.50` in English; `places` for unit prices."""
    return speak(language).money(amount, places)


def unit_price(amount: Decimal, language: str) -> str:
    """Two decimals, or up to four when the price has them (130,6667 €)."""
    places = max(2, -amount.normalize().as_tuple().exponent)
    return money(amount, language, min(places, 4))


def _number(value: Decimal, language: str) -> str:
    return speak(language).number(value.normalize() if value != 0 else Decimal(0))


def percent(rate: Decimal, language: str) -> str:
    return speak(language).percent(rate)


def quantity(line: DocumentLine, language: str) -> str:
    """A line's quantity with its unit: `1,5 h`, `1 mois`, `3 jours`, `2` (a unit, C62)."""
    words = speak(language)
    figure = _number(line.quantity, language)
    count = 1 if abs(line.quantity) == 1 else 2
    if line.unit == "HUR":
        return f"{figure}{NBSP}{LABELS[language]['hour']}"
    if line.unit == "MON":
        return words.say_n("{figure} month", "{figure} months", count, figure=figure).replace(" ", NBSP)
    if line.unit == "DAY":
        return words.say_n("{figure} day", "{figure} days", count, figure=figure).replace(" ", NBSP)
    return figure if line.unit == "C62" else f"{figure}{NBSP}{line.unit}"


def short_date(day: date, language: str) -> str:
    return speak(language).short_date(day)


def country_name(code: str, language: str) -> str:
    return speak(language).locale.territories.get(code, code)


def grouped_iban(iban: str) -> str:
    compact = "".join(iban.split()).upper()
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))


def legal_form(party: Party, language: str) -> str | None:
    """"SAS au capital de 10 000 EUR", or the legal form alone."""
    if party.legal_form and party.share_capital:
        return f"{party.legal_form} {LABELS[language]['capital']} {party.share_capital}"
    return party.legal_form or None


def legal_description(party: Party, language: str) -> str | None:
    """The legal form and the RCS registration in one line (the XML's BT-33)."""
    return " – ".join(part for part in (legal_form(party, language), party.rcs) if part) or None


def title(doc: InvoiceDocument) -> str:
    """"Facture 2026-000123" / "Credit note 2026-000141": the PDF's title, in its metadata too."""
    words = LABELS[doc.language]
    return f"{words['credit_note' if doc.kind == 'credit_note' else 'invoice'].capitalize()} {doc.number}"


def penalties(doc: InvoiceDocument) -> str:
    """The mandatory mention of late-payment penalties and the recovery indemnity (L441-10, D441-5):
    printed under the payment block and carried by the XML as its PMD note."""
    indemnity = money(doc.recovery_indemnity, doc.language)
    return LABELS[doc.language]["penalties"].format(rate=doc.late_penalty_rate_text, indemnity=indemnity)
