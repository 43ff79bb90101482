"""A period's e-reporting as the file deposited on the platform: the transactions or the payments of the
customers outside domestic B2B, for one processing rule (B2BInt: foreign businesses; B2C: private persons).

The DGFiP's own e-reporting format (the platform's "flux 10") is not shipped with the project, so this is an XML
of the product's own, documented here and faithful to the data the reform asks for; a platform that wants
another layout maps it (the e-invoicing block is the one place that speaks to it).

    <EReport xmlns="urn:lifecycle:e-reporting:1" period="2026-10-D1" kind="transactions"
             processingRule="B2BInt" from="2026-10-01" to="2026-10-10" currency="EUR">
      <Seller siren="..." vatNumber="..."/>
      <Transaction number="F2026-000012" type="380" issuedOn="2026-10-05" customer="ACME"
                   buyerKind="foreign_business" buyerVatNumber="DE..." category="services">
        <Rate rate="20.00" taxBase="100.00" tax="20.00" total="120.00"/>
      </Transaction>
      <Payment invoice="F2026-000012" paymentId="PAY-1" paidOn="2026-10-20" amount="120.00">
        <Rate rate="20.00" amount="120.00"/>
      </Payment>
      <Totals taxBase="..." tax="..." total="..." paid="..."/>
    </EReport>

A credit note is a transaction of type 381 with negative amounts, as the ledger carries it. Amounts are to the
cent; a payment's split per VAT rate follows its invoice's totals (the last rate takes the rounding cent).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from lxml import etree

NAMESPACE = "urn:lifecycle:e-reporting:1"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class RateTotals:
    rate: Decimal          # percent, e.g. 20.00
    tax_base: Decimal
    tax: Decimal

    @property
    def total(self) -> Decimal:
        return self.tax_base + self.tax


@dataclass(frozen=True)
class Transaction:
    number: str
    type_code: str         # 380 an invoice, 381 a credit note
    issued_on: date
    customer_id: str
    buyer_kind: str
    buyer_vat_number: str | None
    rates: tuple[RateTotals, ...]


@dataclass(frozen=True)
class PaymentData:
    invoice_number: str
    payment_id: str
    paid_on: date
    amount: Decimal
    rates: tuple[tuple[Decimal, Decimal], ...]   # (rate, the part of the amount at that rate)


@dataclass(frozen=True)
class EReport:
    period: str
    kind: str              # transactions | payments
    rule: str              # B2BInt | B2C
    first: date
    last: date
    seller_siren: str
    seller_vat_number: str | None
    transactions: tuple[Transaction, ...] = field(default_factory=tuple)
    payments: tuple[PaymentData, ...] = field(default_factory=tuple)


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT))


def split_by_rate(amount: Decimal, rates: list[RateTotals]) -> tuple[tuple[Decimal, Decimal], ...]:
    """A payment's amount split over its invoice's VAT rates in proportion of their totals; the last rate takes
    what rounding left, so the parts add up to the amount to the cent."""
    whole = sum((rate.total for rate in rates), Decimal("0"))
    if not rates or whole == 0:
        return ()
    parts, left = [], amount
    for position, rate in enumerate(rates):
        part = left if position == len(rates) - 1 else (amount * rate.total / whole).quantize(CENT)
        parts.append((rate.rate, part))
        left -= part
    return tuple(parts)


def ereport_xml(report: EReport) -> bytes:
    root = etree.Element(f"{{{NAMESPACE}}}EReport", nsmap={None: NAMESPACE})
    for name, value in (("period", report.period), ("kind", report.kind), ("processingRule", report.rule),
                        ("from", report.first.isoformat()), ("to", report.last.isoformat()), ("currency", "EUR")):
        root.set(name, value)
    seller = etree.SubElement(root, f"{{{NAMESPACE}}}Seller", siren=report.seller_siren)
    if report.seller_vat_number:
        seller.set("vatNumber", report.seller_vat_number)
    base = tax = paid = Decimal("0.00")
    for item in report.transactions:
        element = etree.SubElement(root, f"{{{NAMESPACE}}}Transaction", number=item.number, type=item.type_code,
                                   issuedOn=item.issued_on.isoformat(), customer=item.customer_id,
                                   buyerKind=item.buyer_kind, category="services")
        if item.buyer_vat_number:
            element.set("buyerVatNumber", item.buyer_vat_number)
        for rate in item.rates:
            etree.SubElement(element, f"{{{NAMESPACE}}}Rate", rate=_money(rate.rate), taxBase=_money(rate.tax_base),
                             tax=_money(rate.tax), total=_money(rate.total))
            base, tax = base + rate.tax_base, tax + rate.tax
    for item in report.payments:
        element = etree.SubElement(root, f"{{{NAMESPACE}}}Payment", invoice=item.invoice_number,
                                   paymentId=item.payment_id, paidOn=item.paid_on.isoformat(),
                                   amount=_money(item.amount))
        for rate, part in item.rates:
            etree.SubElement(element, f"{{{NAMESPACE}}}Rate", rate=_money(rate), amount=_money(part))
        paid += item.amount
    etree.SubElement(root, f"{{{NAMESPACE}}}Totals", taxBase=_money(base), tax=_money(tax), total=_money(base + tax),
                     paid=_money(paid))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def read_ereport(content: bytes) -> dict:
    """A deposited e-report read back as plain data (what the platform, or a test, sees)."""
    root = etree.fromstring(content)
    ns = {"e": NAMESPACE}
    return {
        **dict(root.attrib),
        "seller": dict(root.find("e:Seller", ns).attrib),
        "transactions": [{**dict(item.attrib), "rates": [dict(rate.attrib) for rate in item.findall("e:Rate", ns)]}
                         for item in root.findall("e:Transaction", ns)],
        "payments": [{**dict(item.attrib), "rates": [dict(rate.attrib) for rate in item.findall("e:Rate", ns)]}
                     for item in root.findall("e:Payment", ns)],
        "totals": dict(root.find("e:Totals", ns).attrib),
    }
