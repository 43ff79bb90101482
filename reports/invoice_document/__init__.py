"""A finalised invoice, penalty invoice or credit note as a Factur-X PDF (EN 16931 profile).

The input is the ledger's document as plain frozen dataclasses; nothing here reads a database or
talks to Prefect. Three outputs come from the same figures:

* `cii_xml`: the UN/CEFACT Cross Industry Invoice (D16B) that an accounting system reads, valid
  against the Factur-X 1.0x EN 16931 XSD and written to respect the EN 16931 business rules it can
  see (category O documents carry no VAT identifiers, no VAT rate, a VATEX-EU-O code...);
* `render_pdf`: the printed invoice (reportlab, A4, the TrueType fonts Vera/VeraBd embedded: PDF/A
  forbids the unembedded standard 14 fonts), in French by default, with the mandatory mentions of
  the Code de commerce (L441-9, L441-10, D441-5) and of the CGI (art. 242 nonies A);
* `facturx_pdf`: both combined by the `factur-x` library (PDF/A-3 XMP, `factur-x.xml` attached with
  AFRelationship Data), then finished with pypdf: an sRGB OutputIntent, the document information
  dictionary brought in line with the XMP packet, link annotations flagged printable.

The ledger's amounts are never recomputed differently: the totals are the ledger's, the VAT
breakdown is recomputed the way the ledger computes it (once per rate per document, half-up to the
cent) only to be compared with them, and any disagreement is a `ValueError`, never a silent fix.

Limits: PDF/A-3b conformance is approached, not proven (no veraPDF here); the schematron of EN 16931
is not run by the tests (it needs an XSLT 2 processor).
"""

from __future__ import annotations

import functools
import io
import os
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from xml.sax.saxutils import escape

import facturx
import reportlab
from lxml import etree
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (ArrayObject, DecodedStreamObject, DictionaryObject, NameObject, NumberObject,
                           TextStringObject)
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from policy.language import N_, speak
from policy.money import CENT, cents, vat_of

KINDS = ("invoice", "penalty", "credit_note")
LANGUAGES = ("fr", "en")
GUIDELINE = "urn:cen.eu:en16931:2017"
NBSP = "\u00a0"


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
    rcs: str | None = None            # "RCS Paris 123 456 789"


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


# --- wording ---------------------------------------------------------------------------------------

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


def _money(amount: Decimal, language: str, places: int = 2) -> str:
    """`1 234,50 €` (no-break spaces) in French, `€1,234.50` in English; `places` for unit prices."""
    return speak(language).money(amount, places)


def _unit_price(amount: Decimal, language: str) -> str:
    """Two decimals, or up to four when the price has them (130,6667 €)."""
    places = max(2, -amount.normalize().as_tuple().exponent)
    return _money(amount, language, min(places, 4))


def _number(value: Decimal, language: str) -> str:
    return speak(language).number(value.normalize() if value != 0 else Decimal(0))


def _percent(rate: Decimal, language: str) -> str:
    return speak(language).percent(rate)


def _quantity(line: DocumentLine, language: str) -> str:
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


def _date(day: date, language: str) -> str:
    return speak(language).short_date(day)


def _country(code: str, language: str) -> str:
    return speak(language).locale.territories.get(code, code)


def _grouped_iban(iban: str) -> str:
    compact = "".join(iban.split()).upper()
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))


# --- figures ---------------------------------------------------------------------------------------

def _category(doc: InvoiceDocument, rate: Decimal) -> str:
    if rate > 0:
        return "S"
    return "O" if doc.kind == "penalty" else "E"


def vat_breakdown(doc: InvoiceDocument) -> list[tuple[str, Decimal, Decimal, Decimal]]:
    """(category, rate, basis, tax) per VAT rate, highest rate first, in the ledger's sign.

    basis = the sum of the lines' `amount_ht` at that rate; tax = basis x rate, half-up to the cent
    (the ledger rounds VAT once per rate per document). Category S for a positive rate; a zero rate
    is O (outside the scope of VAT: late-payment penalties and the recovery indemnity) on a penalty
    document and E (exempt) otherwise. Raises ValueError when the tax does not add up to
    `doc.total_vat`: the document is then wrong, and is not corrected here."""
    bases: dict[Decimal, Decimal] = {}
    for line in doc.lines:
        if line.vat_rate < 0 or line.vat_rate >= 1:
            raise ValueError(f"line {line.description!r}: VAT rate {line.vat_rate} is not a rate in [0, 1)")
        bases[line.vat_rate] = bases.get(line.vat_rate, Decimal("0.00")) + line.amount_ht
    rows = [(_category(doc, rate), rate, basis, vat_of(basis, rate))
            for rate, basis in sorted(bases.items(), key=lambda item: item[0], reverse=True)]
    tax = sum((row[3] for row in rows), Decimal("0.00"))
    if tax != doc.total_vat:
        raise ValueError(f"document {doc.number}: the VAT of its lines per rate adds up to {tax}, "
                         f"not to its total_vat {doc.total_vat}")
    return rows


def _sign(doc: InvoiceDocument) -> int:
    """-1 for a credit note the ledger carries in negative amounts, else 1.

    EN 16931 writes a credit note (TypeCode 381) with positive amounts: the type carries the sign.
    The XML and the printed credit note therefore both show the credited amounts positive, whichever
    sign the ledger stores them with (a line of the opposite sign stays of the opposite sign)."""
    return -1 if doc.kind == "credit_note" and doc.total_ttc < 0 else 1


def _check(doc: InvoiceDocument) -> list[tuple[str, Decimal, Decimal, Decimal]]:
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
    seller = doc.seller
    if not (seller.siren and seller.siren.isdigit() and len(seller.siren) == 9):
        raise ValueError(f"{where}: the seller's SIREN must be 9 digits, not {seller.siren!r}")
    for party in (seller, doc.buyer):
        if party.siren is not None and not (party.siren.isdigit() and len(party.siren) == 9):
            raise ValueError(f"{where}: SIREN {party.siren!r} of {party.name!r} is not 9 digits")
        if party.siret is not None and not (party.siret.isdigit() and len(party.siret) == 14):
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


# --- the CII XML -----------------------------------------------------------------------------------

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
NSMAP = {"rsm": RSM, "qdt": QDT, "ram": RAM, "udt": UDT}


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attributes: str) -> etree._Element:
    prefix, _, name = tag.rpartition(":")
    element = etree.SubElement(parent, f"{{{NSMAP[prefix or 'ram']}}}{name}", attributes)
    if text is not None:
        element.text = text
    return element


def _amount(value: Decimal) -> str:
    return f"{value.quantize(CENT):f}"


def _price(value: Decimal) -> str:
    """A unit price: 2 decimals, or 4 when it has more than 2."""
    return f"{value.quantize(CENT if value == cents(value) else Decimal('0.0001')):f}"


def _xml_date(parent: etree._Element, tag: str, day: date) -> None:
    _sub(_sub(parent, tag), "udt:DateTimeString", day.strftime("%Y%m%d"), format="102")


def _rate_percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}" if rate else "0"


def _legal_form(party: Party, language: str) -> str | None:
    """"SAS au capital de 10 000 EUR", or the legal form alone."""
    if party.legal_form and party.share_capital:
        return f"{party.legal_form} {LABELS[language]['capital']} {party.share_capital}"
    return party.legal_form or None


def _legal_description(party: Party, language: str) -> str | None:
    return " – ".join(part for part in (_legal_form(party, language), party.rcs) if part) or None


def _xml_party(parent: etree._Element, tag: str, party: Party, language: str, with_vat_id: bool) -> None:
    node = _sub(parent, tag)
    if party.siret:
        _sub(node, "GlobalID", party.siret, schemeID="0009")  # ISO 6523 ICD 0009: SIRET
    _sub(node, "Name", party.name)
    description = _legal_description(party, language)
    if description:
        _sub(node, "Description", description)  # BT-33, seller additional legal information
    if party.siren:
        _sub(_sub(node, "SpecifiedLegalOrganization"), "ID", party.siren, schemeID="0002")  # 0002: SIREN
    address = _sub(node, "PostalTradeAddress")
    if party.postcode.strip():  # empty elements are warned against (PEPPOL-EN16931-R008)
        _sub(address, "PostcodeCode", party.postcode)
    street = [line for line in party.address_lines if line.strip()]
    if len(street) > 3:  # CII has three lines: the last one carries the rest
        street = street[:2] + [", ".join(street[2:])]
    for tag_name, line in zip(("LineOne", "LineTwo", "LineThree"), street):
        _sub(address, tag_name, line)
    if party.city.strip():
        _sub(address, "CityName", party.city)
    _sub(address, "CountryID", party.country)
    if party.email:
        _sub(_sub(node, "URIUniversalCommunication"), "URIID", party.email, schemeID="EM")
    if with_vat_id and party.vat_number:
        _sub(_sub(node, "SpecifiedTaxRegistration"), "ID", party.vat_number, schemeID="VA")


def cii_xml(doc: InvoiceDocument) -> bytes:
    """The CrossIndustryInvoice (EN 16931 profile) of the document, UTF-8, in the order of the XSD."""
    rows = _check(doc)
    words = LABELS[doc.language]
    sign = _sign(doc)
    categories = {row[0] for row in rows}
    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=NSMAP)

    context = _sub(root, "rsm:ExchangedDocumentContext")
    _sub(_sub(context, "GuidelineSpecifiedDocumentContextParameter"), "ID", GUIDELINE)

    header = _sub(root, "rsm:ExchangedDocument")
    _sub(header, "ID", doc.number)
    _sub(header, "TypeCode", "381" if doc.kind == "credit_note" else "380")
    _xml_date(header, "IssueDateTime", doc.issue_date)
    indemnity = _money(doc.recovery_indemnity, doc.language)
    notes = [(doc.note, None),
             (words["penalties"].format(rate=doc.late_penalty_rate_text, indemnity=indemnity), "PMD"),
             (words["indemnity_note"].format(indemnity=indemnity), "PMT"),
             (words["no_discount"], "AAB")]
    for content, subject in notes:
        if content:
            note = _sub(header, "IncludedNote")
            _sub(note, "Content", content)
            if subject:
                _sub(note, "SubjectCode", subject)

    transaction = _sub(root, "rsm:SupplyChainTradeTransaction")
    for number, line in enumerate(doc.lines, start=1):
        amount = line.amount_ht * sign
        category = _category(doc, line.vat_rate)
        item = _sub(transaction, "IncludedSupplyChainTradeLineItem")
        _sub(_sub(item, "AssociatedDocumentLineDocument"), "LineID", str(number))
        _sub(_sub(item, "SpecifiedTradeProduct"), "Name", line.description)
        price = _sub(_sub(item, "SpecifiedLineTradeAgreement"), "NetPriceProductTradePrice")
        # EN 16931 BR-27: a net price is never negative; a negative line carries a negative quantity
        _sub(price, "ChargeAmount", _price(abs(line.unit_price)))
        quantity = abs(line.quantity) * (-1 if amount < 0 else 1)
        _sub(_sub(item, "SpecifiedLineTradeDelivery"), "BilledQuantity", f"{quantity:f}", unitCode=line.unit)
        settlement = _sub(item, "SpecifiedLineTradeSettlement")
        tax = _sub(settlement, "ApplicableTradeTax")
        _sub(tax, "TypeCode", "VAT")
        _sub(tax, "CategoryCode", category)
        if category != "O":  # BR-O-05: no rate outside the scope of VAT
            _sub(tax, "RateApplicablePercent", _rate_percent(line.vat_rate))
        _sub(_sub(settlement, "SpecifiedTradeSettlementLineMonetarySummation"), "LineTotalAmount", _amount(amount))

    agreement = _sub(transaction, "ApplicableHeaderTradeAgreement")
    if doc.buyer_reference.strip():
        _sub(agreement, "BuyerReference", doc.buyer_reference)
    # BR-O-02: a document outside the scope of VAT carries neither the seller's nor the buyer's VAT id
    with_vat_ids = "O" not in categories
    _xml_party(agreement, "SellerTradeParty", doc.seller, doc.language, with_vat_ids)
    _xml_party(agreement, "BuyerTradeParty", doc.buyer, doc.language, with_vat_ids)
    # BT-72, the date of supply: the last day of service, else the issue date (an empty element is
    # valid but warned against by the EN 16931 schematron)
    delivery = _sub(_sub(transaction, "ApplicableHeaderTradeDelivery"), "ActualDeliverySupplyChainEvent")
    _xml_date(delivery, "OccurrenceDateTime", doc.service_period[1] if doc.service_period else doc.issue_date)

    settlement = _sub(transaction, "ApplicableHeaderTradeSettlement")
    _sub(settlement, "PaymentReference", doc.number)
    _sub(settlement, "InvoiceCurrencyCode", "EUR")
    means = _sub(settlement, "SpecifiedTradeSettlementPaymentMeans")
    _sub(means, "TypeCode", "58")  # UNTDID 4461 58: SEPA credit transfer
    _sub(_sub(means, "PayeePartyCreditorFinancialAccount"), "IBANID", "".join(doc.iban.split()).upper())
    _sub(_sub(means, "PayeeSpecifiedCreditorFinancialInstitution"), "BICID", doc.bic.strip().upper())
    for category, rate, basis, amount in rows:
        tax = _sub(settlement, "ApplicableTradeTax")
        _sub(tax, "CalculatedAmount", _amount(amount * sign))
        _sub(tax, "TypeCode", "VAT")
        if category in ("E", "O"):
            _sub(tax, "ExemptionReason", words["exempt_o" if category == "O" else "exempt_e"])
        _sub(tax, "BasisAmount", _amount(basis * sign))
        _sub(tax, "CategoryCode", category)
        if category == "O":
            _sub(tax, "ExemptionReasonCode", "VATEX-EU-O")
        else:
            _sub(tax, "RateApplicablePercent", _rate_percent(rate))
    if doc.service_period:
        period = _sub(settlement, "BillingSpecifiedPeriod")
        _xml_date(period, "StartDateTime", doc.service_period[0])
        _xml_date(period, "EndDateTime", doc.service_period[1])
    terms = _sub(settlement, "SpecifiedTradePaymentTerms")
    if doc.payment_terms.strip():
        _sub(terms, "Description", doc.payment_terms)
    if doc.due_date:
        _xml_date(terms, "DueDateDateTime", doc.due_date)
    summation = _sub(settlement, "SpecifiedTradeSettlementHeaderMonetarySummation")
    _sub(summation, "LineTotalAmount", _amount(doc.total_ht * sign))
    _sub(summation, "TaxBasisTotalAmount", _amount(doc.total_ht * sign))
    _sub(summation, "TaxTotalAmount", _amount(doc.total_vat * sign), currencyID="EUR")
    _sub(summation, "GrandTotalAmount", _amount(doc.total_ttc * sign))
    if doc.prepaid:  # BT-113; BR-CO-16: due = grand total - prepaid (no rounding amount here)
        _sub(summation, "TotalPrepaidAmount", _amount(doc.prepaid))
    _sub(summation, "DuePayableAmount", _amount((doc.total_ttc - doc.prepaid) * sign))
    if doc.kind == "credit_note":
        _sub(_sub(settlement, "InvoiceReferencedDocument"), "IssuerAssignedID", doc.credited_number)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# --- the printed document --------------------------------------------------------------------------

FONT, FONT_BOLD = "Vera", "VeraBd"
INK = colors.HexColor("#1f2933")
ACCENT = colors.HexColor("#1f4e79")
MUTED = colors.HexColor("#52606d")
RULE = colors.HexColor("#c3cbd3")
STRIPE = colors.HexColor("#f2f5f8")
ALARM = colors.HexColor("#b3261e")
WATERMARK = colors.HexColor("#f6dcda")
MARGIN = 18 * mm


@functools.cache
def _fonts() -> None:
    """Vera and Vera Bold, shipped with reportlab, registered as embedded TrueType (subset) fonts."""
    folder = os.path.join(os.path.dirname(reportlab.__file__), "fonts")
    pdfmetrics.registerFont(TTFont(FONT, os.path.join(folder, "Vera.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, os.path.join(folder, "VeraBd.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD)


def _style(name: str, size: float = 8.5, bold: bool = False, color=INK, align: int = 0,
           leading: float | None = None, space_after: float = 0) -> ParagraphStyle:
    return ParagraphStyle(name, fontName=FONT_BOLD if bold else FONT, fontSize=size,
                          leading=leading or size * 1.3, textColor=color, alignment=align, spaceAfter=space_after)


def _table_style(commands: list[tuple]) -> TableStyle:
    """A table's style, its cell font Vera: reportlab's default, Helvetica, would be declared unembedded."""
    return TableStyle([("FONTNAME", (0, 0), (-1, -1), FONT), *commands])


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(text, style)


def _x(text: str) -> str:
    return escape(text)


def _address(party: Party, language: str) -> list[str]:
    lines = [_x(line) for line in party.address_lines if line.strip()]
    lines.append(_x(f"{party.postcode} {party.city}".strip()))
    if party.country != "FR":
        lines.append(_x(_country(party.country, language)))
    return lines


def _seller_lines(seller: Party, language: str) -> list[str]:
    words = LABELS[language]
    legal_form = _legal_form(seller, language)
    lines = [_x(legal_form)] if legal_form else []
    lines += _address(seller, language)
    sep = words["sep"]
    ids = [f"SIREN{sep} {seller.siren}"]
    if seller.siret:
        ids.append(f"SIRET{sep} {seller.siret}")
    lines.append(_x(" · ".join(ids)))
    if seller.vat_number:
        lines.append(_x(f"{words['vat_id']}{sep} {seller.vat_number}"))
    if seller.rcs:
        lines.append(_x(seller.rcs))
    if seller.email:
        lines.append(_x(seller.email))
    return lines


def _footer_parts(seller: Party, language: str) -> list[str]:
    parts = [part for part in (seller.name, _legal_form(seller, language), seller.rcs) if part]
    parts.append(f"SIRET {seller.siret}" if seller.siret else f"SIREN {seller.siren}")
    if seller.vat_number:
        parts.append(f"{LABELS[language]['col_vat']} {seller.vat_number}")
    return parts


class _NumberedCanvas(rl_canvas.Canvas):
    """Holds the pages back until the end, to print "Page n/N" on each."""

    def __init__(self, *args, **kwargs):
        kwargs["initialFontName"] = FONT  # else reportlab declares an (unembedded) Helvetica
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []

    def showPage(self):  # noqa: N802 (reportlab's name)
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self.setFont(FONT, 7.5)
            self.setFillColor(MUTED)
            self.drawRightString(A4[0] - MARGIN, 10 * mm, f"Page {self._pageNumber}/{total}")
            super().showPage()
        super().save()


def _decorate(canvas: rl_canvas.Canvas, doc_template, document: InvoiceDocument) -> None:
    """Each page: the footer (seller's legal identity) and, for a sample seller, the SPECIMEN marks."""
    width, height = A4
    words = LABELS[document.language]
    canvas.saveState()
    if document.sample_seller:
        canvas.setFillColor(WATERMARK)
        canvas.setFont(FONT_BOLD, 96)
        canvas.translate(width / 2, height / 2)
        canvas.rotate(40)
        canvas.drawCentredString(0, -30, "SPECIMEN")
        canvas.rotate(-40)
        canvas.translate(-width / 2, -height / 2)
        canvas.setFillColor(ALARM)
        canvas.rect(0, height - 11 * mm, width, 11 * mm, stroke=0, fill=1)
        canvas.setFillColor(colors.white)
        canvas.setFont(FONT_BOLD, 10)
        canvas.drawCentredString(width / 2, height - 7 * mm, words["specimen"])
    canvas.setStrokeColor(RULE)
    canvas.setLineWidth(0.5)
    canvas.line(MARGIN, 15 * mm, width - MARGIN, 15 * mm)
    canvas.setFillColor(MUTED)
    canvas.setFont(FONT, 7)
    # the legal identity is never cut: what does not fit beside the page number goes on a second line
    parts = _footer_parts(document.seller, document.language)
    room = width - 2 * MARGIN - 22 * mm
    first = []
    while parts and (not first or pdfmetrics.stringWidth(" – ".join(first + parts[:1]), FONT, 7) <= room):
        first.append(parts.pop(0))
    canvas.drawString(MARGIN, 10 * mm, " – ".join(first))
    if parts:
        canvas.drawString(MARGIN, 7 * mm, " – ".join(parts))
    canvas.restoreState()


def _title(doc: InvoiceDocument) -> str:
    words = LABELS[doc.language]
    return f"{words['credit_note' if doc.kind == 'credit_note' else 'invoice'].capitalize()} {doc.number}"


def render_pdf(doc: InvoiceDocument) -> bytes:
    """The printed document: A4, fonts embedded, French by default; long documents flow onto further
    pages with the table header repeated. Same document, same bytes (reportlab's invariant mode)."""
    rows = _check(doc)
    _fonts()
    lang = doc.language
    words = LABELS[lang]
    sign = _sign(doc)
    body = _style("body")
    small = _style("small", 7.5, color=MUTED)
    right = _style("right", align=TA_RIGHT)
    bold = _style("bold", bold=True)
    cell = _style("cell", 8.5)
    cell_right = _style("cell_right", 8.5, align=TA_RIGHT)
    head_cell = _style("head", 8, bold=True, color=colors.white)
    head_right = _style("head_right", 8, bold=True, color=colors.white, align=TA_RIGHT)
    width = A4[0] - 2 * MARGIN

    # the heading: seller on the left, the document's identity on the right
    seller = [_p(_x(doc.seller.name), _style("seller", 13, bold=True, color=ACCENT, space_after=2))]
    seller += [_p(line, _style("seller_line", 8, leading=10.5)) for line in _seller_lines(doc.seller, lang)]
    is_credit = doc.kind == "credit_note"
    identity = [_p(words["credit_note" if is_credit else "invoice"], _style("title", 22, True, ACCENT, TA_RIGHT, 26)),
                _p(f"<b>{words['number']} {_x(doc.number)}</b>", _style("number", 11, align=TA_RIGHT, space_after=4))]
    sep = words["sep"]
    identity.append(_p(f"{words['issued']}{sep} {_date(doc.issue_date, lang)}", right))
    if doc.due_date:
        identity.append(_p(f"<b>{words['due']}{sep} {_date(doc.due_date, lang)}</b>", right))
    if is_credit:
        identity.append(_p(_x(words["credits"].format(number=doc.credited_number)), right))
    heading = Table([[seller, identity]], colWidths=[width * 0.55, width * 0.45])
    heading.setStyle(_table_style([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                 ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))

    # the buyer, in a box on the right (window envelope side); references on the left
    buyer = [_p(words["billed_to"], _style("billed", 8, True, MUTED, space_after=2)),
             _p(f"<b>{_x(doc.buyer.name)}</b>", _style("buyer_name", 10, leading=13))]
    buyer += [_p(line, body) for line in _address(doc.buyer, lang)]
    buyer_ids = []
    if doc.buyer.siren:
        buyer_ids.append(f"SIREN{sep} {doc.buyer.siren}")
    if doc.buyer.vat_number:
        buyer_ids.append(f"{words['vat_id']}{sep} {doc.buyer.vat_number}")
    buyer += [_p(_x(line), small) for line in buyer_ids]
    refs = [_p(f"{words['customer_ref']}{sep} <b>{_x(doc.buyer_reference)}</b>", body)]
    if doc.service_period:
        start, end = (_date(day, lang) for day in doc.service_period)
        refs.append(_p(_x(words["period"].format(start=start, end=end)), body))
    if doc.kind != "penalty":  # a penalty is no supply: no nature of operation to state
        refs.append(_p(words["operation"], small))
    else:
        refs.append(Spacer(1, 3))
        refs.append(_p(f"<b>{words['penalty_subtitle']}</b>", body))
    parties = Table([[refs, buyer]], colWidths=[width * 0.5, width * 0.5])
    parties.setStyle(_table_style([
        ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (0, 0), 0),
        ("BOX", (1, 0), (1, 0), 0.6, RULE), ("BACKGROUND", (1, 0), (1, 0), STRIPE),
        ("LEFTPADDING", (1, 0), (1, 0), 8), ("TOPPADDING", (1, 0), (1, 0), 6), ("BOTTOMPADDING", (1, 0), (1, 0), 7)]))

    # the lines
    table = [[_p(words["col_desc"], head_cell), _p(words["col_qty"], head_right), _p(words["col_price"], head_right),
              _p(words["col_vat"], head_right), _p(words["col_amount"], head_right)]]
    for line in doc.lines:
        category = _category(doc, line.vat_rate)
        table.append([_p(_x(line.description), cell), _p(_quantity(line, lang), cell_right),
                      _p(_unit_price(line.unit_price * sign, lang), cell_right),
                      _p("–" if category == "O" else _percent(line.vat_rate, lang), cell_right),
                      _p(_money(line.amount_ht * sign, lang), cell_right)])
    lines = Table(table, colWidths=[width - 98 * mm, 16 * mm, 30 * mm, 16 * mm, 36 * mm], repeatRows=1)
    lines.setStyle(_table_style([
        ("BACKGROUND", (0, 0), (-1, 0), ACCENT), ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, STRIPE]),
        ("LINEBELOW", (0, -1), (-1, -1), 0.6, RULE), ("TOPPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4)]))

    # the totals
    totals = [[words["total_ht"], _money(doc.total_ht * sign, lang)]]
    for category, rate, basis, tax in rows:
        label = {"O": words["vat_row_o"], "E": words["vat_row_e"]}.get(category) or words["vat_row"].format(
            rate=_percent(rate, lang))
        if len(rows) > 1:  # several rates: the HT basis of each is a mandatory mention (CGI 242 nonies A)
            label += f" ({words['basis']} {_money(basis * sign, lang)})"
        totals.append([label, _money(tax * sign, lang)])
    ttc_row = len(totals)
    totals.append([words["total_ttc"], _money(doc.total_ttc * sign, lang)])
    if doc.prepaid:  # a credit applied before issue: shown deducted, the net is what remains to pay
        totals.append([words["prepaid"], _money(-doc.prepaid, lang)])
    totals.append([words["net_credit" if is_credit else "net"], _money((doc.total_ttc - doc.prepaid) * sign, lang)])
    total_rows = [[_p(_x(label), body), _p(amount, cell_right)] for label, amount in totals[:-1]]
    total_rows.append([_p(f"<b>{_x(totals[-1][0])}</b>", _style("net", 10, color=colors.white)),
                       _p(f"<b>{totals[-1][1]}</b>", _style("net_amount", 10, color=colors.white, align=TA_RIGHT))])
    summary = Table(total_rows, colWidths=[58 * mm, 34 * mm], hAlign="RIGHT")
    summary.setStyle(_table_style([
        ("LINEABOVE", (0, ttc_row), (-1, ttc_row), 0.6, RULE),
        ("BACKGROUND", (0, -1), (-1, -1), ACCENT), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, -1), (-1, -1), 5), ("BOTTOMPADDING", (0, -1), (-1, -1), 6)]))

    # payment and mentions
    payment = [_p(words["payment"].upper(), _style("section", 8, True, ACCENT, space_after=3)),
               _p(_x(doc.payment_terms), body),
               _p(_x(words["transfer"].format(iban=_grouped_iban(doc.iban), bic=doc.bic.strip().upper())), bold)]
    if not is_credit:
        payment.append(_p(_x(words["reference"].format(number=doc.number)), small))
    if doc.payment_link:
        link = _x(doc.payment_link)
        payment.append(_p(words["pay_online"].format(
            link=f'<link href="{link}" color="#1f4e79"><u>{link}</u></link>'), body))
    mentions = []
    categories = {row[0] for row in rows}
    if "O" in categories:
        mentions.append(words["mention_o"])
    if "E" in categories:
        mentions.append(words["mention_e"])
    indemnity = _money(doc.recovery_indemnity, lang)
    mentions.append(words["penalties"].format(rate=doc.late_penalty_rate_text, indemnity=indemnity))
    mentions.append(words["no_discount"])
    mention_style = _style("mention", 7.5, color=MUTED, leading=9.5, space_after=2)
    notes = [_p(_x(doc.note), _style("note", 8.5, space_after=4))] if doc.note else []

    story = [heading, Spacer(1, 8 * mm), parties, Spacer(1, 7 * mm), lines, Spacer(1, 4 * mm),
             KeepTogether([summary]), Spacer(1, 6 * mm), *notes,
             KeepTogether(payment + [Spacer(1, 4 * mm)] + [_p(_x(text), mention_style) for text in mentions])]

    buffer = io.BytesIO()
    top = MARGIN + (8 * mm if doc.sample_seller else 0)
    template = SimpleDocTemplate(
        # the frame pads its content by 6 pt: the content spans MARGIN to MARGIN, like the footer
        buffer, pagesize=A4, leftMargin=MARGIN - 6, rightMargin=MARGIN - 6, topMargin=top, bottomMargin=20 * mm,
        title=_title(doc), author=doc.seller.name, subject=f"{_title(doc)} – {doc.buyer.name}",
        creator="support-lifecycle", invariant=1, lang="fr-FR" if lang == "fr" else "en-GB")
    decorate = functools.partial(_decorate, document=doc)
    template.build(story, onFirstPage=decorate, onLaterPages=decorate, canvasmaker=_NumberedCanvas)
    return buffer.getvalue()


# --- Factur-X --------------------------------------------------------------------------------------

def _srgb_profile() -> bytes:
    """An sRGB ICC profile made by LittleCMS through Pillow (a reportlab dependency).

    LittleCMS stamps its profiles version 4.3/4.4; PDF/A-3 (ISO 32000-1) names ICC.1:2004-10, version
    4.2, whose tags (mluc, para, sf32, XYZ, chrm) are all this profile uses: the header says 4.2. The
    profile ID (bytes 84-99) is left as LittleCMS wrote it, zero, which means "not computed"."""
    from PIL import ImageCms

    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    if profile[8] == 4 and profile[9] > 0x20:
        profile[8:12] = bytes([4, 0x20, 0, 0])
    return bytes(profile)


def _pdf_date(xmp_date: datetime | None) -> str:
    moment = xmp_date or datetime.now(timezone.utc)
    if moment.tzinfo is None:  # pypdf gives the XMP dates as naive UTC
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("D:%Y%m%d%H%M%S+00'00'")


def _finish_pdfa(pdf: bytes) -> bytes:
    """What factur-x leaves to do for PDF/A-3b: an OutputIntent (device RGB colours need one), the
    Info dictionary equal to the XMP packet (Producer, dates; no Keywords the XMP lacks), printable
    link annotations."""
    reader = PdfReader(io.BytesIO(pdf))
    writer = PdfWriter(clone_from=reader)
    writer.pdf_header = b"%PDF-1.7"  # PDF/A-3 is ISO 32000-1 (/AF, associated files)
    icc = DecodedStreamObject()
    icc.set_data(_srgb_profile())
    icc[NameObject("/N")] = NumberObject(3)
    icc_ref = writer._add_object(icc.flate_encode())
    intent = DictionaryObject({
        NameObject("/Type"): NameObject("/OutputIntent"),
        NameObject("/S"): NameObject("/GTS_PDFA1"),
        NameObject("/OutputConditionIdentifier"): TextStringObject("sRGB IEC61966-2.1"),
        NameObject("/Info"): TextStringObject("sRGB IEC61966-2.1"),
        NameObject("/RegistryName"): TextStringObject("http://www.color.org"),
        NameObject("/DestOutputProfile"): icc_ref,
    })
    writer._root_object[NameObject("/OutputIntents")] = ArrayObject([intent])
    for page in writer.pages:
        for annotation in page.get("/Annots", None) or []:
            annotation.get_object()[NameObject("/F")] = NumberObject(4)  # Print
    xmp = reader.xmp_metadata
    info = dict(reader.metadata or {})
    info.pop("/Keywords", None)  # factur-x's XMP has no pdf:Keywords
    info.pop("/Trapped", None)   # nor pdf:Trapped
    if xmp is not None:
        info["/Producer"] = xmp.pdf_producer or info.get("/Producer", "")
        info["/Creator"] = xmp.xmp_creator_tool or info.get("/Creator", "")
        info["/CreationDate"] = _pdf_date(xmp.xmp_create_date)
        info["/ModDate"] = _pdf_date(xmp.xmp_modify_date)
    writer.metadata = {key: str(value) for key, value in info.items()}
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def facturx_pdf(doc: InvoiceDocument) -> bytes:
    """The printed document with its CII XML embedded as `factur-x.xml` (EN 16931), as PDF/A-3b as
    reportlab + factur-x + pypdf make it (XMP pdfaid part 3 / B, sRGB OutputIntent, fonts embedded)."""
    xml = cii_xml(doc)
    pdf = render_pdf(doc)
    metadata = {"author": doc.seller.name, "title": _title(doc), "subject": f"{_title(doc)} – {doc.buyer.name}"}
    combined = facturx.generate_from_binary(
        pdf, xml, flavor="factur-x", level="en16931", check_xsd=True,
        lang="fr-FR" if doc.language == "fr" else "en-GB", pdf_metadata=metadata,
        xmp_compression=False)  # PDF/A-1 forbade a filtered catalog XMP: plain text is safe everywhere
    return _finish_pdfa(combined)


def check_facturx(pdf_bytes: bytes) -> bytes:
    """The embedded EN 16931 XML of a Factur-X PDF, once checked; ValueError with a one-line reason."""
    try:
        reader = PdfReader(io.BytesIO(pdf_bytes))
        root = reader.trailer["/Root"]
    except Exception as error:  # pypdf raises many kinds on garbage
        raise ValueError(f"not a readable PDF: {_one_line(error)}") from error
    try:
        filename, xml = facturx.get_xml_from_pdf(pdf_bytes, check_xsd=False)
    except Exception as error:
        raise ValueError(f"no Factur-X XML could be extracted: {_one_line(error)}") from error
    if not xml or filename != "factur-x.xml":
        raise ValueError("the PDF embeds no factur-x.xml")
    try:
        tree = etree.fromstring(xml)
        facturx.xml_check_xsd(tree, flavor="factur-x", level="en16931")
    except Exception as error:
        raise ValueError(f"factur-x.xml is not valid against the EN 16931 XSD: {_one_line(error)}") from error
    guideline = tree.findtext(f"{{{RSM}}}ExchangedDocumentContext/{{{RAM}}}GuidelineSpecifiedDocumentContextParameter/"
                              f"{{{RAM}}}ID")
    if guideline != GUIDELINE:
        raise ValueError(f"factur-x.xml declares the guideline {guideline!r}, not {GUIDELINE}")
    metadata = root.get("/Metadata")
    if metadata is None:
        raise ValueError("the PDF has no XMP metadata")
    try:
        packet = etree.fromstring(metadata.get_object().get_data())
    except Exception as error:
        raise ValueError(f"the PDF's XMP metadata is not XML: {_one_line(error)}") from error
    pdfaid = "http://www.aiim.org/pdfa/ns/id/"
    parts = [element.text for element in packet.iter(f"{{{pdfaid}}}part")]
    parts += [value for element in packet.iter() if (value := element.get(f"{{{pdfaid}}}part"))]
    if "3" not in [(part or "").strip() for part in parts]:
        raise ValueError("the PDF's XMP metadata does not declare PDF/A-3 (pdfaid:part 3)")
    return xml


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text[:300] or type(error).__name__
