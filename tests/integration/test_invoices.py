"""Invoices customers receive, as a customer and an accountant meet them: the close stores each
invoice's Factur-X PDF and mails it; the PDF says what French law asks; its embedded XML carries the
ledger's own totals; a mail server that is down never blocks the close; a document is never rendered
twice; `send-invoices` sends again."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from lxml import etree
from sqlalchemy import select

from ledger import views
from ledger.db import session_scope
from ledger.models import AuditEntry, Invoice, Notice
from tests.support.scenarios import EXPECTED, load_october

pytestmark = pytest.mark.prefect

NS = {"rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
      "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"}


@pytest.fixture
def october(prefect_server, home, ledger, tmp_path):
    return load_october(ledger, tmp_path)


@pytest.fixture
def mailbox(prefect_server):
    from blocks.notifications import Notifications
    from tests.support.servers import smtp_server

    with smtp_server() as (port, received):
        Notifications(smtp_host="127.0.0.1", smtp_port=port, security="none").save("lifecycle", overwrite=True)
        try:
            yield received
        finally:
            Notifications.delete("lifecycle")


def stored(number_key: str) -> bytes:
    from blocks.settings import load_settings

    with load_settings().storage.store().open(number_key) as handle:
        return handle.read()


def shown_invoices(ledger, month=None):
    with session_scope(ledger) as session:
        return views.invoices(session, month)


def xml_totals(pdf: bytes) -> dict[str, str]:
    from reports.invoice_document import check_facturx

    tree = etree.fromstring(check_facturx(pdf))  # the factur-x package's XSD check and PDF/A-3 metadata
    summation = tree.find(".//ram:SpecifiedTradeSettlementHeaderMonetarySummation", NS)
    return {name: summation.find(f"ram:{name}", NS).text for name in
            ("LineTotalAmount", "TaxBasisTotalAmount", "TaxTotalAmount", "GrandTotalAmount", "DuePayableAmount")}


def page_text(pdf: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def euros(amount: str) -> str:
    whole, cents = f"{Decimal(amount):,.2f}".split(".")
    return f"{whole.replace(',', ' ')},{cents}"


def test_the_close_mails_each_customer_its_factur_x_invoice_with_the_ledgers_totals(october, mailbox):
    from flows.monthly_close import monthly_close

    monthly_close(month="2026-10")
    issued = {item["customer_id"]: item for item in shown_invoices(october, "2026-10") if item["kind"] == "monthly"}
    assert set(issued) == set(EXPECTED)
    for customer_id, invoice in issued.items():
        ht, vat, ttc, _ = EXPECTED[customer_id]
        year, month = invoice["issued_on"][:4], invoice["issued_on"][5:7]
        assert invoice["document"] == f"invoices/{year}/{month}/{invoice['number']}.pdf"
        assert invoice["mail_status"] == "sent"
        pdf = stored(invoice["document"])
        assert xml_totals(pdf) == {"LineTotalAmount": ht, "TaxBasisTotalAmount": ht, "TaxTotalAmount": vat,
                                   "GrandTotalAmount": ttc, "DuePayableAmount": ttc}
        text = page_text(pdf)
        for mention in (invoice["number"], "FACTURE", euros(ht), euros(vat), euros(ttc), "40,00 €", "L441-10",
                        "SPECIMEN", "123456782", "FR76 3000 6000 0112 3456 7890 189"):
            assert mention in text, (customer_id, mention)
    # the payment link for card and SEPA customers, not for instalments (GAMMA)
    assert "pay.example.com" in page_text(stored(issued["ACME"]["document"]))
    assert "pay.example.com" in page_text(stored(issued["BETA"]["document"]))
    assert "pay.example.com" not in page_text(stored(issued["GAMMA"]["document"]))

    # one mail per customer, at SMTP, with its own PDF attached: the same bytes as stored
    by_customer = {mail["to"][0]: mail["message"] for mail in mailbox}
    assert set(by_customer) == {f"{c.lower()}@example.com" for c in EXPECTED}
    for customer_id, invoice in issued.items():
        message = by_customer[f"{customer_id.lower()}@example.com"]
        [attachment] = list(message.iter_attachments())
        assert attachment.get_filename() == f"{invoice['number']}.pdf"
        assert attachment.get_content() == stored(invoice["document"])
        # French customers (the terms' invoice_language): "Facture 2026-000001 – 1 788,00 € TTC"
        assert message["Subject"].replace("\u00a0", " ") == f"Facture {invoice['number']} – {euros(invoice['total_ttc'])} € TTC"

    # run again: nothing rendered again, nothing mailed again
    monthly_close(month="2026-10")
    assert len(mailbox) == len(EXPECTED)


def test_a_mail_server_that_is_down_leaves_the_mail_pending_and_never_blocks_the_close(october, prefect_server):
    from blocks.notifications import Notifications
    from flows.invoices import send_invoices
    from flows.monthly_close import monthly_close
    from tests.support.ports import free_port
    from tests.support.servers import smtp_server

    Notifications(smtp_host="127.0.0.1", smtp_port=free_port(), security="none").save("lifecycle", overwrite=True)
    try:
        result = monthly_close(month="2026-10")
        assert result["status"] == "finalised"                    # the close is done; its mails wait
        assert {item["mail_status"] for item in shown_invoices(october, "2026-10")} == {"pending"}
        with smtp_server() as (port, received):
            Notifications(smtp_host="127.0.0.1", smtp_port=port, security="none").save("lifecycle", overwrite=True)
            monthly_close(month="2026-10")                        # the next run sends what waited, once
            assert sorted(mail["to"][0] for mail in received) == sorted(f"{c.lower()}@example.com" for c in EXPECTED)
            assert {item["mail_status"] for item in shown_invoices(october, "2026-10")} == {"sent"}
            again = send_invoices(month="2026-10", customer_id="BETA")  # a customer lost the mail
            assert len(again["sent"]) == 1 and len(received) == len(EXPECTED) + 1
            assert received[-1]["to"] == ["beta@example.com"]
        # the mail server down again: the mail is queued, not sent, and the run says so
        pending = send_invoices(month="2026-10", customer_id="BETA")
        beta = [item["number"] for item in shown_invoices(october, "2026-10") if item["customer_id"] == "BETA"]
        assert (pending["sent"], pending["waiting"]) == ([], beta)
    finally:
        Notifications.delete("lifecycle")
    with session_scope(october) as session:
        assert session.scalars(select(AuditEntry.action).where(AuditEntry.action == "invoice_resent")).all() == \
            ["invoice_resent"] * 2


def test_an_issued_invoice_is_never_rendered_over(october, prefect_server):
    from blocks.settings import load_settings
    from flows.invoices import send_invoices
    from flows.monthly_close import monthly_close
    from operations.invoice_documents import issue_documents

    monthly_close(month="2026-10")
    by_customer = {item["customer_id"]: item for item in shown_invoices(october, "2026-10")}
    acme, beta = by_customer["ACME"], by_customer["BETA"]
    original = stored(acme["document"])
    monthly_close(month="2026-10")                       # a second close and a re-send find the document
    send_invoices(month="2026-10", customer_id="ACME")
    assert stored(acme["document"]) == original

    # a run killed after storing a document and before recording it: the next one finds it and keeps it
    settings = load_settings()

    def forget(number):
        with session_scope(october, write=True) as session:
            invoice = session.scalars(select(Invoice).where(Invoice.number == number)).one()
            invoice.document_key = invoice.document_sha256 = None

    forget(acme["number"])
    again = issue_documents(settings.seller, settings.terms, settings.storage, numbers=[acme["number"]], actor="test")
    assert (again.stored, again.refused, again.mails) == ([acme["number"]], [], [])  # mailed already: not again
    assert stored(acme["document"]) == original
    # a file under a number that is not that invoice (another invoice's PDF, or anything else) is refused
    # and left as it is, never overwritten
    settings.storage.store().put_stream(acme["document"], io.BytesIO(stored(beta["document"])))
    forget(acme["number"])
    refused = issue_documents(settings.seller, settings.terms, settings.storage, numbers=[acme["number"]], actor="t")
    assert refused.stored == [] and f"holds invoice {beta['number']}" in refused.refused[0]
    assert stored(acme["document"]) == stored(beta["document"])
    assert [item["document"] for item in shown_invoices(october, "2026-10") if item["customer_id"] == "ACME"] == [None]


def test_a_penalty_invoice_gets_its_document_with_no_vat_and_the_indemnity(prefect_server, home, ledger, tmp_path):
    from flows.arrears import arrears_escalation
    from tests.support.builders import CUSTOMER_HEADER, customer, write_csv
    from ledger.imports import import_file

    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("LATE", fee="500.00")]),
                engine=ledger)
    import_file("invoices", write_csv(tmp_path / "i.csv", ["invoice_id", "customer_id", "issued_on", "due_on",
                                                            "amount_ht", "vat_rate"],
                                      [["OLD-1", "LATE", "2026-01-01", "2026-01-31", "1000.00", "0.20"]]),
                engine=ledger)
    arrears_escalation(as_of="2026-02-05", force_reason=None)
    [penalty] = [item for item in shown_invoices(ledger) if item["kind"] == "penalty"]
    # 10 % of 1200.00 TTC + 40.00, no VAT on either (outside its scope)
    assert (penalty["total_ht"], penalty["total_vat"], penalty["total_ttc"]) == ("160.00", "0.00", "160.00")
    pdf = stored(penalty["document"])
    assert xml_totals(pdf) == {"LineTotalAmount": "160.00", "TaxBasisTotalAmount": "160.00", "TaxTotalAmount": "0.00",
                               "GrandTotalAmount": "160.00", "DuePayableAmount": "160.00"}
    text = page_text(pdf)
    assert penalty["number"] in text and "40,00" in text and "160,00" in text
    with session_scope(ledger) as session:
        [mail] = session.scalars(select(Notice).where(Notice.kind == "invoice")).all()
        assert mail.attachment_key == penalty["document"] and mail.status == "sent"
