"""The French rules (the e-invoicing reform's CIUS) a document must keep before it leaves, read on its XML.

EN 16931 is the European floor; the reform adds its own business rules (AFNOR XP Z12-012's BR-FR-*, as the
FNFE-MPE's schematron for Flux 2 writes them). A platform rejects a document that breaks one, after it left: this
module reads the same rules on the XML before it is stored or mailed, so that a document that breaks one is held
and its rule named. Only the rules our documents could break are read (we never write self-billing, deposit
invoices, attachments or item attributes); they keep their ids, and the checks the reform's rules imply without
an id of their own (the SIREN's key, the VAT point code matching the seller's option) are BR-FR-LC-xx.
"""

from __future__ import annotations

import re
from datetime import date

from lxml import etree

from policy.einvoicing import BuyerKind, luhn_valid, siren_problem
from reports.invoice_document.cii import VAT_DUE_ON_ISSUE, VAT_DUE_ON_PAYMENT
from reports.invoice_document.figures import BILLING_MODE

NS = {"rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
      "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
      "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
      "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"}

#: BR-FR-02: the characters a document's number may hold
NUMBER_FORM = re.compile(r"[A-Za-z0-9+\-_/]+")
#: BR-FR-04: the document types the French rules accept
DOCUMENT_TYPES = frozenset("380 389 393 501 386 500 384 471 472 473 261 262 381 396 502 503".split())
#: BR-FR-08: the billing modes ("cadres de facturation", BT-23)
BILLING_MODES = frozenset("B1 S1 M1 B2 S2 M2 S3 B4 S4 M4 S5 S6 B7 S7 B8 S8 M8".split())
#: BR-FR-15, BR-FR-16: the VAT categories and rates (in percent, as written) France knows
VAT_CATEGORIES = frozenset({"S", "E", "AE", "K", "G", "O", "Z"})
VAT_RATES = frozenset({"0", "10", "13", "20", "8.5", "19.6", "2.1", "5.5", "7", "20.6", "1.05", "0.9", "1.75", "9.2",
                       "9.6"})
#: BR-FR-CO-05: the credit notes' types, which name the invoice they credit
CREDIT_TYPES = frozenset({"261", "381", "396", "502", "503"})

AGREEMENT = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"
SETTLEMENT = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"

#: BR-FR-03: the dates a document of ours carries, by their business term
DATES = {
    "BT-2": "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString",
    "BT-9": f"{SETTLEMENT}/ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString",
    "BT-26": f"{SETTLEMENT}/ram:InvoiceReferencedDocument/ram:FormattedIssueDateTime/qdt:DateTimeString",
    "BT-72": "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeDelivery/ram:ActualDeliverySupplyChainEvent/"
             "ram:OccurrenceDateTime/udt:DateTimeString",
    "BT-73": f"{SETTLEMENT}/ram:BillingSpecifiedPeriod/ram:StartDateTime/udt:DateTimeString",
    "BT-74": f"{SETTLEMENT}/ram:BillingSpecifiedPeriod/ram:EndDateTime/udt:DateTimeString",
}


def _day(text: str | None) -> date | None:
    """A CII date (format 102, YYYYMMDD) of the years 2000 to 2099, else None."""
    if not text or not re.fullmatch(r"20\d{6}", text):
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def _identifier_failures(term: str, value: str) -> list[str]:
    failures = []
    if len(value) > 35:
        failures.append(f"BR-FR-01: {term} {value[:40]!r} is longer than 35 characters")
    if not NUMBER_FORM.fullmatch(value):
        failures.append(f"BR-FR-02: {term} {value[:40]!r} holds other characters than letters, digits and + - _ /")
    return failures


def _party_failures(tree, party: str, term_siren: str, term_siret: str, who: str, required: bool) -> list[str]:
    """A party's SIREN (present when `required`, of 9 digits whose key holds) and SIRET (beginning with it)."""
    failures = []
    siren = tree.findtext(f"{AGREEMENT}/ram:{party}/ram:SpecifiedLegalOrganization/ram:ID[@schemeID='0002']",
                          namespaces=NS)
    siret = tree.findtext(f"{AGREEMENT}/ram:{party}/ram:GlobalID[@schemeID='0009']", namespaces=NS)
    rule = "BR-FR-10" if party == "SellerTradeParty" else "BR-FR-11"
    if not siren:
        if required:
            failures.append(f"{rule}: the {who}'s SIREN ({term_siren}) is missing")
    elif not re.fullmatch(r"[0-9]{9}", siren):
        failures.append(f"{rule}: the {who}'s SIREN ({term_siren}) {siren!r} is not 9 digits")
    elif siren_problem(siren):
        failures.append(f"BR-FR-LC-01: the {who}'s SIREN ({term_siren}) {siren_problem(siren)}")
    if siret is not None and not (re.fullmatch(r"[0-9]{14}", siret) and siret[:9] == siren):
        failures.append(f"BR-FR-09: the {who}'s SIRET ({term_siret}) {siret!r} is not 14 digits beginning with its "
                        f"SIREN {siren!r}")
    elif siret is not None and not luhn_valid(siret):
        failures.append(f"BR-FR-LC-01: the {who}'s SIRET ({term_siret}) {siret} is no SIRET: its check digit does "
                        f"not hold")
    return failures


def french_rule_failures(xml: bytes, buyer_kind: BuyerKind | str, *, vat_on_debits: bool = False) -> list[str]:
    """Every French rule the document (its CII XML) breaks, each "BR-FR-xx: what is wrong", in the rules' order;
    [] when it may leave. `buyer_kind`: a French business's SIREN is required (the platform routes by it);
    `vat_on_debits`: the seller's option, which the VAT point code (BT-8) must say."""
    tree = etree.fromstring(xml)
    failures: list[str] = []
    number = tree.findtext("rsm:ExchangedDocument/ram:ID", namespaces=NS) or ""
    failures += _identifier_failures("the number (BT-1)", number)
    credited = tree.findtext(f"{SETTLEMENT}/ram:InvoiceReferencedDocument/ram:IssuerAssignedID", namespaces=NS)
    if credited is not None:
        failures += _identifier_failures("the credited invoice's number (BT-25)", credited)
    for term, path in DATES.items():
        for node in tree.iterfind(path, namespaces=NS):
            if _day(node.text) is None:
                failures.append(f"BR-FR-03: {term} {node.text!r} is no date of the years 2000 to 2099 (YYYYMMDD)")
    type_code = tree.findtext("rsm:ExchangedDocument/ram:TypeCode", namespaces=NS)
    if type_code not in DOCUMENT_TYPES:
        failures.append(f"BR-FR-04: the document type (BT-3) {type_code!r} is not one the French rules accept")
    subjects = [node.text for node in tree.iterfind("rsm:ExchangedDocument/ram:IncludedNote/ram:SubjectCode",
                                                    namespaces=NS)]
    for subject, what in (("PMT", "the recovery indemnity"), ("PMD", "the late-payment penalties"),
                          ("AAB", "the discount for early payment, or its absence")):
        if subject not in subjects:
            failures.append(f"BR-FR-05: no note {subject} (BT-21) states {what}")
        elif subjects.count(subject) > 1:
            failures.append(f"BR-FR-06: the note {subject} (BT-21) is there {subjects.count(subject)} times")
    mode = tree.findtext("rsm:ExchangedDocumentContext/ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID",
                         namespaces=NS)
    if mode is None:
        failures.append(f"BR-FR-08: no billing mode (BT-23; ours is {BILLING_MODE}, services)")
    elif mode not in BILLING_MODES:
        failures.append(f"BR-FR-08: the billing mode (BT-23) {mode!r} is not one of the French list")
    failures += _party_failures(tree, "SellerTradeParty", "BT-30", "BT-29", "seller", required=True)
    failures += _party_failures(tree, "BuyerTradeParty", "BT-47", "BT-46", "buyer",
                                required=BuyerKind(buyer_kind) == BuyerKind.FR_BUSINESS)
    if not tree.findtext(f"{AGREEMENT}/ram:BuyerTradeParty/ram:URIUniversalCommunication/ram:URIID", namespaces=NS):
        failures.append("BR-FR-12: the buyer's electronic address (BT-49) is missing")
    if not tree.findtext(f"{AGREEMENT}/ram:SellerTradeParty/ram:URIUniversalCommunication/ram:URIID", namespaces=NS):
        failures.append("BR-FR-13: the seller's electronic address (BT-34) is missing")
    taxes = tree.xpath(f"{SETTLEMENT}/ram:ApplicableTradeTax | rsm:SupplyChainTradeTransaction/"
                       f"ram:IncludedSupplyChainTradeLineItem/ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax",
                       namespaces=NS)
    for tax in taxes:
        category = tax.findtext("ram:CategoryCode", namespaces=NS)
        if category not in VAT_CATEGORIES:
            failures.append(f"BR-FR-15: the VAT category {category!r} is not one France uses")
        rate = tax.findtext("ram:RateApplicablePercent", namespaces=NS)
        if rate is not None and (rate.rstrip("0").rstrip(".") if "." in rate else rate) not in VAT_RATES:
            failures.append(f"BR-FR-16: the VAT rate {rate}% is not a French rate")
    if type_code in CREDIT_TYPES and not tree.xpath(
            f"{SETTLEMENT}/ram:InvoiceReferencedDocument[ram:IssuerAssignedID and "
            f"ram:FormattedIssueDateTime/qdt:DateTimeString]", namespaces=NS):
        failures.append("BR-FR-CO-05: a credit note names the invoice it credits (BT-25) with its date (BT-26)")
    issued = _day(tree.findtext(DATES["BT-2"], namespaces=NS))
    due = _day(tree.findtext(DATES["BT-9"], namespaces=NS))
    if issued and due and due < issued:
        failures.append(f"BR-FR-CO-07: due on {due} (BT-9), before its issue on {issued} (BT-2)")
    wanted = VAT_DUE_ON_ISSUE if vat_on_debits else VAT_DUE_ON_PAYMENT
    for tax in tree.iterfind(f"{SETTLEMENT}/ram:ApplicableTradeTax", namespaces=NS):
        if tax.findtext("ram:CategoryCode", namespaces=NS) != "S":
            continue
        code = tax.findtext("ram:DueDateTypeCode", namespaces=NS)
        if code != wanted:
            said = "opted for VAT on debits" if vat_on_debits else "did not opt for VAT on debits"
            failures.append(f"BR-FR-LC-02: the VAT point code (BT-8) is {code!r}, not {wanted!r}: the seller {said}")
            break
    return failures
