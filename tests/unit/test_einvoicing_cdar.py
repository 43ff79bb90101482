"""The 212 Encaissée message (XP Z12-012's CDAR) the vendor sends on a paid invoice, and e-reporting's periods
and file: read back as the platform reads them, to the cent."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from lxml import etree

from policy.ereporting import ReportKind, ended_before, period
from reports.einvoicing_cdar import NS, Cashed, cashed_message, read_cashed
from reports.einvoicing_ereporting import EReport, PaymentData, RateTotals, Transaction, ereport_xml, read_ereport, \
    split_by_rate


def cashed(amount: str) -> Cashed:
    return Cashed(message_id="F2026-000007-212-PAY-1", invoice_number="F2026-000007",
                  invoice_issued_on=date(2026, 11, 2), seller_siren="732829320", seller_name="Exemple SaaS SAS",
                  buyer_siren="552100554", buyer_name="Acme & Fils", amount=Decimal(amount),
                  cashed_on=date(2026, 11, 20), made_at=datetime(2026, 11, 21, 6, 0, tzinfo=timezone.utc))


def test_a_212_names_the_invoice_the_parties_the_amount_and_the_day():
    content = cashed_message(cashed("1080.00"))
    root = etree.fromstring(content)      # well formed, UTF-8, with its declaration
    assert content.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert root.tag == "{urn:un:unece:uncefact:data:standard:CrossDomainAcknowledgementAndResponse:100}" \
                       "CrossDomainAcknowledgementAndResponse"
    assert root.find("rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID",
                     NS).text == "urn.cpro.gouv.fr:1p0:CDV:invoice"
    assert root.find(".//ram:RecipientTradeParty/ram:Name", NS).text == "Acme & Fils"
    read = read_cashed(content)
    assert (read.invoice_number, read.invoice_issued_on, read.code, read.label) == (
        "F2026-000007", date(2026, 11, 2), 212, "Encaissée")
    assert (read.seller_siren, read.buyer_siren) == ("732829320", "552100554")
    assert (read.amount, read.currency, read.cashed_on) == (Decimal("1080.00"), "EUR", date(2026, 11, 20))
    assert read.message_id == "F2026-000007-212-PAY-1"


def test_a_refunds_correction_carries_the_negative_amount():
    read = read_cashed(cashed_message(cashed("-30.5")))
    assert str(read.amount) == "-30.50"


def test_what_is_no_cdar_is_said():
    with pytest.raises(ValueError, match="not a CDAR"):
        read_cashed(b"<Invoice/>")


def test_the_periods_are_the_decades_for_transactions_and_the_month_for_payments():
    assert (period("2026-02-D3").first, period("2026-02-D3").last) == (date(2026, 2, 21), date(2026, 2, 28))
    assert (period("2026-10-D2").first, period("2026-10-D2").last, period("2026-10-D2").kind) == (
        date(2026, 10, 11), date(2026, 10, 20), ReportKind.TRANSACTIONS)
    assert (period("2026-10").first, period("2026-10").last, period("2026-10").kind) == (
        date(2026, 10, 1), date(2026, 10, 31), ReportKind.PAYMENTS)
    for wrong in ("2026-13", "2026-10-D4", "october", "2026-10-1"):
        with pytest.raises(ValueError, match="YYYY-MM-D1"):
            period(wrong)


def test_a_run_on_the_first_sends_the_last_decade_and_the_month_ended():
    names = [item.name for item in ended_before(date(2026, 11, 1))]
    assert names[-2:] == ["2026-10-D3", "2026-10"]
    assert "2026-11-D1" not in names and "2026-10-D2" in names
    assert [item.name for item in ended_before(date(2026, 11, 11))][-1] == "2026-11-D1"


def test_a_payment_splits_over_its_rates_to_the_cent():
    rates = [RateTotals(Decimal("20.00"), Decimal("100.00"), Decimal("20.00")),
             RateTotals(Decimal("5.50"), Decimal("10.00"), Decimal("0.55"))]
    parts = split_by_rate(Decimal("100.00"), rates)
    assert parts == ((Decimal("20.00"), Decimal("91.92")), (Decimal("5.50"), Decimal("8.08")))
    assert sum(part for _, part in parts) == Decimal("100.00")


def test_an_ereport_reads_back_with_its_totals():
    report = EReport("2026-10-D1", "transactions", "B2BInt", date(2026, 10, 1), date(2026, 10, 10), "732829320",
                     "FR44732829320",
                     (Transaction("F2026-000001", "380", date(2026, 10, 2), "DE1", "foreign_business", "DE123456789",
                                  (RateTotals(Decimal("20.00"), Decimal("500.00"), Decimal("100.00")),)),
                      Transaction("F2026-000002", "381", date(2026, 10, 9), "DE1", "foreign_business", "DE123456789",
                                  (RateTotals(Decimal("20.00"), Decimal("-50.00"), Decimal("-10.00")),))),
                     (PaymentData("F2026-000001", "P1", date(2026, 10, 5), Decimal("600.00"),
                                  ((Decimal("20.00"), Decimal("600.00")),)),))
    read = read_ereport(ereport_xml(report))
    assert (read["period"], read["processingRule"], read["from"], read["to"]) == (
        "2026-10-D1", "B2BInt", "2026-10-01", "2026-10-10")
    assert [item["type"] for item in read["transactions"]] == ["380", "381"]
    assert read["transactions"][1]["rates"] == [{"rate": "20.00", "taxBase": "-50.00", "tax": "-10.00",
                                                 "total": "-60.00"}]
    assert read["totals"] == {"taxBase": "450.00", "tax": "90.00", "total": "540.00", "paid": "600.00"}
