"""What a document says, once: its parties, dates, lines and totals, checked, with its VAT breakdown.

This module exists so that the XML and the printed page cannot disagree. The ledger's document comes
in as plain frozen dataclasses (`InvoiceDocument`, its `Party`s and `DocumentLine`s, built by
operations/invoice_documents.py); `Figures.of` checks everything a Factur-X document needs that the
dataclasses cannot say and works out, once, what both outputs read: the VAT breakdown, the sign the
amounts are shown with, the VAT category of a rate. Nothing here reads a database or words anything.

The ledger's amounts are never recomputed differently: the totals are the ledger's, the VAT breakdown
is recomputed the way the ledger computes it (once per rate per document, half-up to the cent) only
to be compared with them, and any disagreement is a `ValueError`, never a silent fix.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from policy.money import cents, vat_of
from policy.vat import vat_rate_problem

KINDS = ("invoice", "penalty", "credit_note")
#: BT-23, the French "cadre de facturation" of every document this product issues: S1, an invoice of services
#: (support, interventions, subscriptions; a penalty or a credit note follows the services it bears on)
BILLING_MODE = "S1"
LANGUAGES = ("fr", "en")

#: (category, rate, basis, tax): one VAT rate of a document, in the ledger's sign
VatRow = tuple[str, Decimal, Decimal, Decimal]


@dataclass(frozen=True)
class Party:
    name: str                         # legal name
    address_lines: tuple[str, ...]    # street lines
    postcode: str
    city: str
    country: str = "FR"               # ISO 3166-1 alpha-2
    siren: str | None = None          # 9 digits (seller: required; buyer: optional)
    siret: str | None = None          # 14 digits
    vat_number: str | None = None     # e.g. FR40123456789
    email: str | None = None
    # seller-only legal mentions (None for the buyer)
    legal_form: str | None = None     # "SAS"
    share_capital: str | None = None  # "10 000 EUR"
    rcs: str | None = None            # "RCS Paris 123 456 782"


@dataclass(frozen=True)
class DocumentLine:
    description: str
    quantity: Decimal     # e.g. Decimal("1.50") hours or 1
    unit: str             # UN/ECE rec 20 code: "HUR" (hour), "C62" (one/unit), "MON" (month)
    unit_price: Decimal   # HT, up to 4 decimals
    vat_rate: Decimal     # 0.20, 0.10, 0 ...
    amount_ht: Decimal    # 2 decimals, as the ledger has it (never recomputed)


@dataclass(frozen=True)
class InvoiceDocument:
    number: str                                # "2026-000123"
    kind: str                                  # "invoice" | "penalty" | "credit_note"
    issue_date: date
    due_date: date | None
    service_period: tuple[date, date] | None   # first and last day billed
    seller: Party
    buyer: Party
    buyer_reference: str                       # the customer id
    lines: tuple[DocumentLine, ...]
    total_ht: Decimal                          # the ledger's totals, to the cent
    total_vat: Decimal
    total_ttc: Decimal
    iban: str
    bic: str
    payment_terms: str                         # "Payable à 30 jours, par prélèvement SEPA."
    late_penalty_rate_text: str                # "10 %" (the policy's rate)
    recovery_indemnity: Decimal                # 40.00
    payment_link: str | None = None            # for card and SEPA customers
    credited_number: str | None = None         # for a credit note: the invoice it credits
    note: str | None = None
    language: str = "fr"                       # "fr" (default) or "en"
    sample_seller: bool = False                # True: a visible "SPECIMEN" band on every page
    # TTC already settled before issue (a customer credit applied: an earlier overpayment or credit
    # note); 0 <= prepaid <= total_ttc, always 0 on a credit note. The amount due is total_ttc - prepaid.
    prepaid: Decimal = Decimal("0.00")
    # the 2026 mentions: the seller opted for VAT on debits (BT-8 "5": due on issue; else "72": on receipt, the
    # default for services); the credited invoice's issue date (BT-26, a credit note); where the services are
    # delivered when it is not the billing address (BG-15)
    vat_on_debits: bool = False
    credited_issue_date: date | None = None
    delivery: Party | None = None


def shown_line(line: DocumentLine) -> DocumentLine:
    """The line as both outputs write it: its quantity x unit price is its amount, exactly (EN 16931 BT-131 =
    BT-129 x BT-146, Peppol R120: a reader multiplies them and finds the amount, or refuses the line). The
    ledger's lines are made so (policy/invoicing.py: a fee is a line of its own, a standby give-back is one
    amount); a line that is not (one stored before they were, or a sum of amounts each rounded to the cent)
    is written as 1 x its amount, its text saying the rest (the minutes, the days). Its amount, the ledger's,
    is never changed."""
    if line.quantity * line.unit_price == line.amount_ht:
        return line
    return replace(line, quantity=Decimal(1), unit="C62", unit_price=line.amount_ht)


def category(doc: InvoiceDocument, rate: Decimal) -> str:
    """The EN 16931 VAT category of a rate on this document: S, E (exempt) or O (outside the scope)."""
    if rate > 0:
        return "S"
    return "O" if doc.kind == "penalty" else "E"


def vat_breakdown(doc: InvoiceDocument) -> list[VatRow]:
    """(category, rate, basis, tax) per VAT rate, highest rate first, in the ledger's sign.

    basis = the sum of the lines' `amount_ht` at that rate; tax = basis x rate, half-up to the cent
    (the ledger rounds VAT once per rate per document). Category S for a positive rate; a zero rate
    is O (outside the scope of VAT: late-payment penalties and the recovery indemnity) on a penalty
    document and E (exempt) otherwise. Raises ValueError when the tax does not add up to
    `doc.total_vat`: the document is then wrong, and is not corrected here."""
    bases: dict[Decimal, Decimal] = {}
    for line in doc.lines:
        problem = vat_rate_problem(line.vat_rate)
        if problem:
            raise ValueError(f"line {line.description!r}: {problem}")
        bases[line.vat_rate] = bases.get(line.vat_rate, Decimal("0.00")) + line.amount_ht
    rows = [(category(doc, rate), rate, basis, vat_of(basis, rate))
            for rate, basis in sorted(bases.items(), key=lambda item: item[0], reverse=True)]
    tax = sum((row[3] for row in rows), Decimal("0.00"))
    if tax != doc.total_vat:
        raise ValueError(f"document {doc.number}: the VAT of its lines per rate adds up to {tax}, "
                         f"not to its total_vat {doc.total_vat}")
    return rows


def sign(doc: InvoiceDocument) -> int:
    """-1 for a credit note the ledger carries in negative amounts, else 1.

    EN 16931 writes a credit note (TypeCode 381) with positive amounts: the type carries the sign.
    The XML and the printed credit note therefore both show the credited amounts positive, whichever
    sign the ledger stores them with (a line of the opposite sign stays of the opposite sign)."""
    return -1 if doc.kind == "credit_note" and doc.total_ttc < 0 else 1


@dataclass(frozen=True)
class Figures:
    """A checked document and what follows from it, built once by `Figures.of` and read by both the
    XML (cii.py) and the printed page (pdf.py)."""

    document: InvoiceDocument
    vat: tuple[VatRow, ...]   # vat_breakdown, highest rate first, in the ledger's sign
    sign: int                 # what the ledger's amounts are multiplied by to be shown (see `sign`)

    @property
    def categories(self) -> set[str]:
        """The VAT categories the document holds (S, E, O)."""
        return {row[0] for row in self.vat}

    @property
    def due(self) -> Decimal:
        """What remains to pay (to credit, on a credit note), in the ledger's sign: TTC less the prepaid."""
        return self.document.total_ttc - self.document.prepaid

    def category(self, rate: Decimal) -> str:
        return category(self.document, rate)

    @classmethod
    def of(cls, doc: InvoiceDocument) -> Figures:
        """The document's figures once it is checked: a `ValueError` with a one-line reason names the
        first thing a Factur-X document needs that it lacks or gets wrong."""
        rows = tuple(_check(doc))
        return cls(document=replace(doc, lines=tuple(shown_line(line) for line in doc.lines)), vat=rows,
                   sign=sign(doc))


def _check(doc: InvoiceDocument) -> list[VatRow]:
    """Everything a Factur-X document needs that the dataclasses cannot say; the VAT breakdown."""
    where = f"document {doc.number}"
    if doc.kind not in KINDS:
        raise ValueError(f"{where}: kind {doc.kind!r} is not one of {', '.join(KINDS)}")
    if doc.language not in LANGUAGES:
        raise ValueError(f"{where}: language {doc.language!r} is not one of {', '.join(LANGUAGES)}")
    if not doc.number.strip():
        raise ValueError("a document needs a number")
    if not doc.lines:
        raise ValueError(f"{where}: a document needs at least one line")
    if doc.kind == "credit_note" and not doc.credited_number:
        raise ValueError(f"{where}: a credit note names the invoice it credits (credited_number)")
    seller = doc.seller  # digits 0-9: str.isdigit() alone also takes Arabic-Indic or full-width ones
    if not (seller.siren and seller.siren.isascii() and seller.siren.isdigit() and len(seller.siren) == 9):
        raise ValueError(f"{where}: the seller's SIREN must be 9 digits, not {seller.siren!r}")
    for party in (seller, doc.buyer):
        if party.siren is not None and not (party.siren.isascii() and party.siren.isdigit() and len(party.siren) == 9):
            raise ValueError(f"{where}: SIREN {party.siren!r} of {party.name!r} is not 9 digits")
        if party.siret is not None and not (party.siret.isascii() and party.siret.isdigit() and len(party.siret) == 14):
            raise ValueError(f"{where}: SIRET {party.siret!r} of {party.name!r} is not 14 digits")
        if len(party.country) != 2 or not party.country.isalpha() or not party.country.isupper():
            raise ValueError(f"{where}: country {party.country!r} of {party.name!r} is not ISO 3166-1 alpha-2")
    amounts = [doc.total_ht, doc.total_vat, doc.total_ttc, doc.recovery_indemnity, doc.prepaid]
    amounts += [line.amount_ht for line in doc.lines]
    if any(amount != cents(amount) for amount in amounts):
        raise ValueError(f"{where}: an amount has more than 2 decimals")
    for line in doc.lines:
        if line.unit_price != line.unit_price.quantize(Decimal("0.0001")):
            raise ValueError(f"{where}: unit price {line.unit_price} of {line.description!r} has more than 4 decimals")
        if not line.description.strip():
            raise ValueError(f"{where}: a line has no description")
    rows = vat_breakdown(doc)
    lines_ht = sum((line.amount_ht for line in doc.lines), Decimal("0.00"))
    if lines_ht != doc.total_ht:
        raise ValueError(f"{where}: its lines add up to {lines_ht} HT, not to its total_ht {doc.total_ht}")
    if doc.total_ht + doc.total_vat != doc.total_ttc:
        raise ValueError(f"{where}: total_ht {doc.total_ht} + total_vat {doc.total_vat} != total_ttc {doc.total_ttc}")
    # a credit applied settles part of what is owed: never a negative amount due, never on a credit
    # note (which owes nothing; BT-113 would be read as money already refunded)
    if doc.prepaid and doc.kind == "credit_note":
        raise ValueError(f"{where}: a credit note has nothing already settled (prepaid {doc.prepaid})")
    if doc.prepaid and not 0 < doc.prepaid <= doc.total_ttc:
        raise ValueError(f"{where}: prepaid {doc.prepaid} is not between 0 and its total_ttc {doc.total_ttc}")
    categories = {row[0] for row in rows}
    if "O" in categories and len(categories) > 1:
        # EN 16931 BR-O-11/12: a document outside the scope of VAT holds nothing else
        raise ValueError(f"{where}: a penalty document mixes lines outside the scope of VAT with VAT rates")
    if categories & {"S", "E"} and not seller.vat_number:
        raise ValueError(f"{where}: VAT is charged or exempted, so the seller's VAT number is required")
    return rows
