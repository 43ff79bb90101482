"""The life-cycle message the vendor sends on one of its invoices: XP Z12-012's CDAR (UN/CEFACT Cross Domain
Acknowledgement and Response, D22B), here for 212 Encaissée — the invoice was paid, with the amount and the day.

Why the vendor sends it: for services, VAT is due when the price is cashed (unless the vendor opted for VAT on
debits), so the tax administration learns of the payment from the seller, through its platform, as this
status. A refund of money cashed sends the same message with a negative amount: the correction.

The message follows the French CDV profile's structure (the MDT numbers are its data elements):
- `ExchangedDocumentContext`: business process REGULATED (MDT-2), guideline `urn.cpro.gouv.fr:1p0:CDV:invoice`
  (MDT-3);
- `ExchangedDocument`: the message's id (MDT-4), when it was made (MDT-8), the sender (MDT-21, the seller: SE),
  the issuer (MDT-38..40, the seller by its SIREN, scheme 0002) and the recipient (MDT-57..59, the buyer by its
  SIREN, BY);
- `AcknowledgementDocument`: type 23 (MDT-77: a processing-phase status a trading party sends; 305 is the
  platforms' transmission phase), and its `ReferenceReferencedDocument`: the invoice's number (MDT-87), its type (MDT-91:
  380 an invoice), its issue day (MDT-100), the status code and label (MDT-105, MDT-106: 212, Encaissée), the
  invoice's issuer (MDT-129: the seller's SIREN), and one `SpecifiedDocumentStatus` whose characteristic
  (MDG-43) carries the amount cashed (MDT-207 type MEN, MDT-215 with its currency) and the day it was cashed
  (MDT-219, format 102).
Only the elements this product fills are written; the message is checked here as well-formed XML and read back
by `read_cashed` (its test), not against the XSD and schematron of the CDV profile, which the project does not
ship (the amount's characteristic type MEN in particular is taken from the profile's description, unchecked).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from lxml import etree

RSM = "urn:un:unece:uncefact:data:standard:CrossDomainAcknowledgementAndResponse:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
NS = {"rsm": RSM, "ram": RAM, "udt": UDT, "qdt": QDT}

GUIDELINE = "urn.cpro.gouv.fr:1p0:CDV:invoice"
BUSINESS_PROCESS = "REGULATED"
SIREN_SCHEME = "0002"
CASHED_CODE, CASHED_LABEL = 212, "Encaissée"
AMOUNT_CASHED = "MEN"      # the characteristic's type: the amount cashed (montant encaissé)


@dataclass(frozen=True)
class Cashed:
    """What a 212 Encaissée says of one payment (or, negative, of one refund): all the message needs."""
    message_id: str           # the flow's tracking id: unique per payment or refund
    invoice_number: str
    invoice_issued_on: date
    seller_siren: str
    seller_name: str
    buyer_siren: str | None   # None: a buyer known by no SIREN (never the case for a domestic B2B invoice)
    buyer_name: str
    amount: Decimal           # cashed (a payment) or given back (a refund: negative), to the cent
    cashed_on: date
    made_at: datetime         # when the message was made (aware)
    invoice_type: str = "380"  # UNTDID 1001: 380 an invoice
    currency: str = "EUR"


def _e(parent, ns: str, name: str, text: str | None = None, **attributes) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{name}", {key: value for key, value in attributes.items()})
    if text is not None:
        element.text = text
    return element


def _party(parent, name: str, siren: str | None, label: str, role: str) -> None:
    party = _e(parent, RAM, name)
    if siren:
        _e(party, RAM, "GlobalID", siren[:9], schemeID=SIREN_SCHEME)
    _e(party, RAM, "Name", label)
    _e(party, RAM, "RoleCode", role)


def cashed_message(cashed: Cashed) -> bytes:
    """The CDAR of a 212 Encaissée, as UTF-8 XML."""
    root = etree.Element(f"{{{RSM}}}CrossDomainAcknowledgementAndResponse", nsmap=NS)
    context = _e(root, RSM, "ExchangedDocumentContext")
    _e(_e(context, RAM, "BusinessProcessSpecifiedDocumentContextParameter"), RAM, "ID", BUSINESS_PROCESS)
    _e(_e(context, RAM, "GuidelineSpecifiedDocumentContextParameter"), RAM, "ID", GUIDELINE)

    exchanged = _e(root, RSM, "ExchangedDocument")
    _e(exchanged, RAM, "ID", cashed.message_id)
    _e(exchanged, RAM, "Name", f"{CASHED_CODE} {CASHED_LABEL}")
    made = cashed.made_at.strftime("%Y%m%d%H%M%S")
    _e(_e(exchanged, RAM, "IssueDateTime"), UDT, "DateTimeString", made, format="204")
    _e(_e(exchanged, RAM, "SenderTradeParty"), RAM, "RoleCode", "SE")
    _party(exchanged, "IssuerTradeParty", cashed.seller_siren, cashed.seller_name, "SE")
    _party(exchanged, "RecipientTradeParty", cashed.buyer_siren, cashed.buyer_name, "BY")

    acknowledgement = _e(root, RSM, "AcknowledgementDocument")
    _e(_e(acknowledgement, RAM, "MultipleReferencesIndicator"), UDT, "Indicator", "false")
    _e(acknowledgement, RAM, "TypeCode", "23")    # a status of the processing phase, sent by a trading party
    _e(_e(acknowledgement, RAM, "IssueDateTime"), UDT, "DateTimeString", made, format="204")
    referenced = _e(acknowledgement, RAM, "ReferenceReferencedDocument")
    _e(referenced, RAM, "IssuerAssignedID", cashed.invoice_number)
    _e(referenced, RAM, "TypeCode", cashed.invoice_type)
    _e(_e(referenced, RAM, "FormattedIssueDateTime"), QDT, "DateTimeString",
       cashed.invoice_issued_on.strftime("%Y%m%d"), format="102")
    _e(referenced, RAM, "ProcessConditionCode", str(CASHED_CODE))
    _e(referenced, RAM, "ProcessCondition", CASHED_LABEL)
    _e(_e(referenced, RAM, "IssuerTradeParty"), RAM, "GlobalID", cashed.seller_siren[:9], schemeID=SIREN_SCHEME)
    status = _e(referenced, RAM, "SpecifiedDocumentStatus")
    characteristic = _e(status, RAM, "SpecifiedDocumentCharacteristic")
    _e(characteristic, RAM, "TypeCode", AMOUNT_CASHED)
    _e(characteristic, RAM, "ValueAmount", f"{cashed.amount.quantize(Decimal('0.01'))}", currencyID=cashed.currency)
    _e(_e(characteristic, RAM, "ValueDateTime"), UDT, "DateTimeString", cashed.cashed_on.strftime("%Y%m%d"),
       format="102")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


@dataclass(frozen=True)
class CashedRead:
    """A 212 message read back: what its recipient learns."""
    message_id: str
    invoice_number: str
    invoice_issued_on: date
    code: int
    label: str
    seller_siren: str
    buyer_siren: str | None
    amount: Decimal
    currency: str
    cashed_on: date


def read_cashed(content: bytes) -> CashedRead:
    """A CDAR of a 212 read back (lxml raises on XML that is not well formed)."""
    root = etree.fromstring(content)
    if root.tag != f"{{{RSM}}}CrossDomainAcknowledgementAndResponse":
        raise ValueError(f"not a CDAR: the root is {root.tag}")

    def one(path: str, node=root) -> etree._Element:
        found = node.find(path, NS)
        if found is None:
            raise ValueError(f"the CDAR has no {path}")
        return found

    referenced = one("rsm:AcknowledgementDocument/ram:ReferenceReferencedDocument")
    amount = one("ram:SpecifiedDocumentStatus/ram:SpecifiedDocumentCharacteristic/ram:ValueAmount", referenced)
    buyer = root.find("rsm:ExchangedDocument/ram:RecipientTradeParty/ram:GlobalID", NS)

    def day(text: str) -> date:
        return datetime.strptime(text, "%Y%m%d").date()

    return CashedRead(
        message_id=one("rsm:ExchangedDocument/ram:ID").text,
        invoice_number=one("ram:IssuerAssignedID", referenced).text,
        invoice_issued_on=day(one("ram:FormattedIssueDateTime/qdt:DateTimeString", referenced).text),
        code=int(one("ram:ProcessConditionCode", referenced).text),
        label=one("ram:ProcessCondition", referenced).text,
        seller_siren=one("ram:IssuerTradeParty/ram:GlobalID", referenced).text,
        buyer_siren=buyer.text if buyer is not None else None,
        amount=Decimal(amount.text), currency=amount.get("currencyID"),
        cashed_on=day(one("ram:SpecifiedDocumentStatus/ram:SpecifiedDocumentCharacteristic/ram:ValueDateTime/"
                          "udt:DateTimeString", referenced).text))
