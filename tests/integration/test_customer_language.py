"""Customers read their own language: in the same runs, a French customer and an English one each get
their invoice (the PDF's text, the Factur-X XML's designations), its mail, a penalty invoice and the
arrears notices in their language, with the locale's amounts and dates. A customer's language is a
column of the customers import; a later change of it never rewrites an issued invoice."""

from __future__ import annotations

import email
import email.policy
import os
from datetime import date

import pytest
from lxml import etree
from sqlalchemy import select

from ledger import views
from ledger.db import session_scope
from ledger.imports import import_file
from ledger.models import AuditEntry, Customer, Invoice
from tests.integration.test_invoices import NS, page_text, shown_invoices, stored
from tests.support.builders import CUSTOMER_HEADER, customer, platform, write_csv

pytestmark = pytest.mark.prefect

NBSP = "\u00a0"
WITH_LANGUAGE = CUSTOMER_HEADER + ["language"]


def outbox(home) -> dict[str, list[email.message.EmailMessage]]:
    """The mails of the outbox (no SMTP configured), by recipient, oldest first."""
    mails: dict[str, list] = {}
    for path in sorted((home / "outbox").glob("*.eml"), key=lambda path: path.stat().st_mtime_ns):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        mails.setdefault(message["To"], []).append(message)
    return mails


def plain(message) -> str:
    return message.get_body(("plain",)).get_content()


def designations(pdf: bytes) -> list[str]:
    """The line names of the Factur-X XML embedded in the PDF (BT-153)."""
    from reports.invoice_document import check_facturx

    tree = etree.fromstring(check_facturx(pdf))
    return [node.text for node in tree.findall(".//ram:SpecifiedTradeProduct/ram:Name", NS)]


def notes(pdf: bytes) -> list[str]:
    from reports.invoice_document import check_facturx

    tree = etree.fromstring(check_facturx(pdf))
    return [node.text for node in tree.findall(".//rsm:ExchangedDocument/ram:IncludedNote/ram:Content", NS)]


def test_a_french_and_an_english_customer_get_their_invoice_and_its_mail_in_their_language(
        prefect_server, home, ledger, tmp_path):
    from flows.monthly_close import monthly_close

    import_file("customers", write_csv(tmp_path / "c.csv", WITH_LANGUAGE, [
        customer("VIN", name="Vins de Loire", fee="1490.00", method="card") + ["fr"],
        customer("TEA", name="Tea Merchants Ltd", fee="1490.00", method="card") + ["en"],
        customer("OLD", name="Client d'avant", fee="100.00") + [""],          # none: the terms' (fr)
    ]), engine=ledger)
    import_file("interventions", write_csv(tmp_path / "i.csv", ["intervention_id", "customer_id", "started_at",
                                                                 "minutes", "category"], [
        ["V1", "VIN", "2026-10-02T09:00", "60", "customization"],
        ["V2", "VIN", "2026-10-03T09:00", "60", "customization"],
        ["T1", "TEA", "2026-10-02T09:00", "60", "customization"],
        ["T2", "TEA", "2026-10-03T09:00", "60", "customization"],
    ]), engine=ledger)
    with session_scope(ledger) as session:  # as `lifecycle show customers` shows them
        assert {c["customer_id"]: c["language"] for c in views.customers(session)} == {
            "VIN": "fr", "TEA": "en", "OLD": None}

    monthly_close(month="2026-10")
    invoices = {item["customer_id"]: item for item in shown_invoices(ledger, "2026-10")}
    vin, tea, old = invoices["VIN"], invoices["TEA"], invoices["OLD"]
    # the same amounts (1490.00 + 2 h of customization at 120.00 + 2 % card fee), each in its language
    assert [line["amount_ht"] for line in vin["lines"]] == [line["amount_ht"] for line in tea["lines"]] == [
        "1490.00", "240.00", "34.60"]
    french = ["Abonnement octobre 2026", "Personnalisation : 2 interventions, 120 min facturées",
              f"Frais de paiement par carte (2{NBSP}% de 1{NBSP}730,00{NBSP}€)"]
    english = ["Subscription October 2026", "Customization: 2 interventions, 120 min billed",
               "Card payment fee (2% of €1,730.00)"]
    assert [line["description"] for line in vin["lines"]] == french
    assert [line["description"] for line in tea["lines"]] == english
    assert old["lines"][0]["description"] == "Abonnement octobre 2026"

    # the PDF a customer opens, and the XML its accounting software reads
    vin_pdf, tea_pdf = stored(vin["document"]), stored(tea["document"])
    assert designations(vin_pdf) == french and designations(tea_pdf) == english
    vin_text, tea_text = page_text(vin_pdf), page_text(tea_pdf)
    for mention in ("FACTURE", "Désignation", "Abonnement octobre 2026", "Personnalisation", "Net à payer",
                    "Payable par carte bancaire à l'échéance.", "Date d'échéance", "L441-10"):
        assert mention in vin_text, mention
    for mention in ("INVOICE", "Description", "Subscription October 2026", "Customization", "Amount due",
                    "Paid by card on the due date.", "€2,117.52", "French Commercial Code"):
        assert mention in tea_text, mention
    for english_word in ("Subscription", "INVOICE", "Amount due", "Card payment"):
        assert english_word not in vin_text
    for french_word in ("Abonnement", "FACTURE", "Net à payer", "Personnalisation", "€ TTC"):
        assert french_word not in tea_text
    assert any("pénalités de retard au taux de 10" in note for note in notes(vin_pdf))
    assert any("late-payment penalties at the rate of 10%" in note for note in notes(tea_pdf))

    # the mails in the outbox
    mails = outbox(home)
    [vin_mail], [tea_mail] = mails["vin@example.com"], mails["tea@example.com"]
    assert vin_mail["Subject"] == f"Facture {vin['number']} – 2{NBSP}117,52{NBSP}€ TTC"
    assert tea_mail["Subject"] == f"Invoice {tea['number']} – €2,117.52 incl. VAT"
    vin_body, tea_body = plain(vin_mail), plain(tea_mail)
    assert vin_body.startswith("Bonjour,") and "Cordialement,\nLe service client" in vin_body
    assert f"d'un montant de 2{NBSP}117,52{NBSP}€ TTC" in vin_body and "Payer en ligne" in vin_body
    assert tea_body.startswith("Hello,") and "Kind regards,\nCustomer service" in tea_body
    assert "for €2,117.52 incl. VAT" in tea_body and "Pay online" in tea_body
    assert "Bonjour" not in tea_body and "Kind regards" not in vin_body

    # a credit note on each: its line, its document and its mail in the customer's language
    from flows.corrections import issue_credit_note

    notes_made = {invoice["customer_id"]: issue_credit_note(invoice=invoice["number"], amount_ttc="120.00",
                                                            reason="Goodwill", requested_by="claire.finance")
                  for invoice in (vin, tea)}
    credit_notes = {item["number"]: item for item in shown_invoices(ledger) if item["kind"] == "credit_note"}
    vin_note, tea_note = (credit_notes[notes_made[customer_id]["number"]] for customer_id in ("VIN", "TEA"))
    assert [line["description"] for line in vin_note["lines"]] == ["Avoir : Goodwill"]
    assert [line["description"] for line in tea_note["lines"]] == ["Credit: Goodwill"]
    vin_note_pdf, tea_note_pdf = stored(vin_note["document"]), stored(tea_note["document"])
    assert designations(vin_note_pdf) == ["Avoir : Goodwill"] and designations(tea_note_pdf) == ["Credit: Goodwill"]
    assert "AVOIR" in page_text(vin_note_pdf) and f"Avoir sur la facture N° {vin['number']}" in page_text(vin_note_pdf)
    assert "CREDIT NOTE" in page_text(tea_note_pdf) and f"Credit note for invoice No. {tea['number']}" in \
        page_text(tea_note_pdf)
    mails = outbox(home)
    assert mails["vin@example.com"][-1]["Subject"] == f"Avoir {vin_note['number']} – 120,00{NBSP}€ TTC"
    assert mails["tea@example.com"][-1]["Subject"] == f"Credit note {tea_note['number']} – €120.00 incl. VAT"
    assert f"sur la facture n° {vin['number']} : Goodwill." in plain(mails["vin@example.com"][-1])
    assert f"on invoice {tea['number']}: Goodwill." in plain(mails["tea@example.com"][-1])

    # TEA moves to French: audited like any change, and its issued invoice stays as it was issued
    import_file("customers", write_csv(tmp_path / "c2.csv", WITH_LANGUAGE, [
        customer("TEA", name="Tea Merchants Ltd", fee="1490.00", method="card") + ["fr"]]), engine=ledger)
    with session_scope(ledger) as session:
        assert session.get(Customer, "TEA").language == "fr"
        [change] = session.scalars(select(AuditEntry).where(AuditEntry.action == "customer_updated",
                                                            AuditEntry.customer_id == "TEA")).all()
        assert (change.before, change.after) == ({"language": "en"}, {"language": "fr"})
        issued = session.scalars(select(Invoice).where(Invoice.number == tea["number"])).one()
        assert [line.description for line in issued.lines] == english
    assert stored(tea["document"]) == tea_pdf


def test_a_language_other_than_fr_or_en_is_refused_at_its_cell(home, ledger, tmp_path):
    from ledger.imports import ImportRejected

    path = write_csv(tmp_path / "customers.csv", WITH_LANGUAGE, [
        customer("ONE") + ["fr"], customer("TWO") + ["de"]])
    with pytest.raises(ImportRejected) as refused:
        import_file("customers", path, engine=ledger)
    [error] = refused.value.errors
    assert error.startswith("customers.csv:3:language") and "must be one of fr/en, not 'de'" in error
    with session_scope(ledger) as session:
        assert session.scalars(select(Customer)).all() == []


def test_arrears_penalties_and_notices_reach_each_customer_in_its_language(prefect_server, home, ledger, tmp_path,
                                                                            monkeypatch):
    from flows.arrears import arrears_escalation

    import_file("customers", write_csv(tmp_path / "c.csv", WITH_LANGUAGE, [
        customer("DUFR", name="Dupont SARL", fee="100.00") + ["fr"],
        customer("DUEN", name="Duncan Ltd", fee="100.00") + ["en"],
    ]), engine=ledger)
    import_file("invoices", write_csv(tmp_path / "i.csv", ["invoice_id", "customer_id", "issued_on", "due_on",
                                                            "amount_ht", "vat_rate"], [
        ["F-FR", "DUFR", "2026-01-01", "2026-01-31", "1000.00", "0.20"],
        ["F-EN", "DUEN", "2026-01-01", "2026-01-31", "1000.00", "0.20"],
    ]), engine=ledger)
    platform(os.environ["LIFECYCLE_PLATFORM_URL"], ["DUFR", "DUEN"])

    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-02-01")  # the sweep as run that day
    arrears_escalation(as_of=date(2026, 2, 1))          # the day after the due date: a penalty invoice each
    with session_scope(ledger) as session:
        penalties = {invoice.customer_id: ([line.description for line in invoice.lines], invoice.description)
                     for invoice in session.scalars(select(Invoice).where(Invoice.kind == "penalty"))}
    assert penalties["DUFR"] == ([f"Pénalité de retard : 10{NBSP}% de 1{NBSP}200,00{NBSP}€ TTC impayés au "
                                  f"31 janvier 2026 (facture F-FR)", "Indemnité forfaitaire pour frais de recouvrement"],
                                 "Retard de paiement de la facture F-FR")
    assert penalties["DUEN"] == (["Late payment penalty: 10% of €1,200.00 incl. VAT unpaid on January 31, 2026 "
                                  "(invoice F-EN)", "Fixed compensation for recovery costs"],
                                 "Late payment of invoice F-EN")
    documents = {item["customer_id"]: stored(item["document"]) for item in shown_invoices(ledger)
                 if item["kind"] == "penalty"}
    assert designations(documents["DUFR"]) == penalties["DUFR"][0]
    assert designations(documents["DUEN"]) == penalties["DUEN"][0]
    assert "Pénalités de retard et indemnité forfaitaire" in page_text(documents["DUFR"])
    assert "Late-payment penalties and fixed indemnity" in page_text(documents["DUEN"])

    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-02-28")  # the sweep as run that day
    arrears_escalation(as_of=date(2026, 2, 28))         # 31 Jan + 1 month: the administrator area goes off
    # a late run, 6 months and 6 days after the due date: the platform stage and the deletion notice at once
    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-08-06")  # the sweep as run that day
    arrears_escalation(as_of=date(2026, 8, 6))
    mails = outbox(home)
    french = {message["Subject"]: plain(message) for message in mails["dufr@example.com"]}
    english = {message["Subject"]: plain(message) for message in mails["duen@example.com"]}
    assert set(french) >= {"Retard de paiement : votre espace administrateur est désactivé",
                           "Retard de paiement : votre plateforme est désactivée",
                           "Les données de votre plateforme seront supprimées le 5 septembre 2026"}
    assert set(english) >= {"Payment overdue: your administrator area is deactivated",
                            "Payment overdue: your platform is deactivated",
                            "Your platform's data will be deleted on September 5, 2026"}
    admin_fr = french["Retard de paiement : votre espace administrateur est désactivé"]
    assert admin_fr.startswith("Bonjour Dupont SARL,") and "Votre facture échue le 31 janvier 2026" in admin_fr
    assert f"merci de régler 1{NBSP}200,00{NBSP}€" in admin_fr and "(1 mois de retard)" in admin_fr
    admin_en = english["Payment overdue: your administrator area is deactivated"]
    assert admin_en.startswith("Hello Duncan Ltd,") and "Your invoice due on January 31, 2026" in admin_en
    assert "please settle €1,200.00" in admin_en and "(1 month of delay)" in admin_en
    # what is true on the day it is sent: 6 months and 6 days, not "close to 6 months"
    assert "est impayée depuis 6 mois et 6 jours" in french["Les données de votre plateforme seront supprimées "
                                                             "le 5 septembre 2026"]
    assert "has been unpaid for 6 months and 6 days" in english["Your platform's data will be deleted on "
                                                                "September 5, 2026"]
    # the penalty invoices' mails too
    assert any(subject.startswith("Facture ") and subject.endswith(f"160,00{NBSP}€ TTC") for subject in french)
    assert any(subject.startswith("Invoice ") and subject.endswith("€160.00 incl. VAT") for subject in english)
