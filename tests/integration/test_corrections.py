"""Corrections as finance makes them, on SQLite and PostgreSQL, to the cent: a credit note (partly, then
wholly) that the customer receives as a Factur-X document; a double payment that becomes credit, partly
refunded, the rest applied at the next close; arrears that a credit note or a dispute lifts."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from lxml import etree
from sqlalchemy import select, text

from ledger import views
from ledger.db import session_scope
from ledger.imports import ImportRejected, import_file
from ledger.models import AuditEntry, CustomerCredit
from tests.integration.test_invoices import NS, mailbox, page_text, shown_invoices, stored  # noqa: F401 (fixture)
from tests.support.builders import CUSTOMER_HEADER, customer, platform, write_csv
from tests.support.scenarios import load_october

pytestmark = pytest.mark.prefect


@pytest.fixture
def october(prefect_server, home, ledger, tmp_path):
    from flows.monthly_close import monthly_close

    load_october(ledger, tmp_path)
    monthly_close(month="2026-10")
    return ledger


def by_number(ledger) -> dict[str, dict]:
    return {item["number"]: item for item in shown_invoices(ledger)}


def invoice_of(ledger, customer_id: str, month: str = "2026-10") -> dict:
    [invoice] = [item for item in shown_invoices(ledger, month)
                 if item["customer_id"] == customer_id and item["kind"] == "monthly"]
    return invoice


def customer_row(ledger, customer_id: str) -> dict:
    with session_scope(ledger) as session:
        [row] = [item for item in views.customers(session) if item["customer_id"] == customer_id]
    return row


def xml(pdf: bytes):
    from reports.invoice_document import check_facturx

    return etree.fromstring(check_facturx(pdf))


def test_an_invoice_credited_partly_then_wholly_reaches_the_customer_to_the_cent(october, mailbox):
    from flows.corrections import issue_credit_note

    acme = invoice_of(october, "ACME")            # 900.00 HT, 180.00 VAT, 1080.00 TTC
    mails = len(mailbox)
    # never a cent past the invoice (probe19b #1: 1080.01, which 900.01 HT makes, was taken, the cent as credit)
    past = issue_credit_note(invoice=acme["number"], amount_ttc="1080.01", reason="Goodwill for the outage",
                             requested_by="claire.finance", return_state=True)
    assert past.is_failed() and ("this credit note would credit 1080.01 TTC; only 1080.00 TTC are left to credit "
                                 "(invoice 1080.00, credited already 0.00)") in past.message
    partly = issue_credit_note(invoice=acme["number"], amount_ttc="100.00", reason="Goodwill for the outage",
                               requested_by="claire.finance")
    note = by_number(october)[partly["number"]]
    assert (note["kind"], note["credits"], note["customer_id"]) == ("credit_note", acme["number"], "ACME")
    assert (note["total_ht"], note["total_vat"], note["total_ttc"]) == ("-83.33", "-16.67", "-100.00")
    assert by_number(october)[acme["number"]]["balance"] == "980.00"

    # the customer receives it: a Factur-X credit note (381) naming the invoice, amounts positive as EN 16931 wants
    tree = xml(stored(note["document"]))
    assert tree.find(".//ram:TypeCode", NS).text == "381"
    assert tree.find(".//ram:InvoiceReferencedDocument/ram:IssuerAssignedID", NS).text == acme["number"]
    assert tree.find(".//ram:GrandTotalAmount", NS).text == "100.00"
    assert tree.find(".//ram:TaxTotalAmount", NS).text == "16.67"
    text = page_text(stored(note["document"]))
    assert "AVOIR" in text and acme["number"] in text and "100,00" in text and "Goodwill for the outage" in text
    [mail] = mailbox[mails:]
    assert mail["to"] == ["acme@example.com"] and partly["number"] in mail["message"]["Subject"]
    [attachment] = list(mail["message"].iter_attachments())
    assert attachment.get_content() == stored(note["document"])

    # never more than what is left: the five lines whole (1080.00) are refused, nothing is numbered
    refused = issue_credit_note(invoice=acme["number"], lines=[1, 2, 3, 4, 5], reason="Cancelled",
                                requested_by="claire.finance", return_state=True)
    assert refused.is_failed() and "only 980.00 TTC are left to credit" in refused.message
    lines = issue_credit_note(invoice=acme["number"], lines=[2, 3, 4, 5], reason="Work not done",
                              requested_by="claire.finance")
    assert int(lines["number"][-6:]) == int(partly["number"][-6:]) + 1          # gapless, in the invoice series
    shown = by_number(october)[lines["number"]]
    assert (shown["total_ht"], shown["total_vat"], shown["total_ttc"]) == ("-400.00", "-80.00", "-480.00")
    # data recovery's time and its fee are two lines (quantity x unit price = amount on each)
    assert [line["amount_ht"] for line in shown["lines"]] == ["-60.00", "-60.00", "-250.00", "-30.00"]
    assert by_number(october)[acme["number"]]["balance"] == "500.00"
    # line 4 (300.00 TTC) fits in what is left, but it was credited whole already: never twice
    again = issue_credit_note(invoice=acme["number"], lines=[4], reason="Work not done", requested_by="claire.finance",
                              return_state=True)
    assert again.is_failed() and "line 4 was credited by an earlier credit note already" in again.message
    wholly = issue_credit_note(invoice=acme["number"], amount_ttc="500.00", reason="Subscription waived",
                               requested_by="claire.finance")
    assert (wholly["balance"], wholly["to_credit"]) == ("0.00", "0.00")
    assert by_number(october)[acme["number"]]["status"] == "paid"
    nothing = issue_credit_note(invoice=acme["number"], amount_ttc="0.01", reason="More", requested_by="x",
                                return_state=True)
    assert nothing.is_failed() and "nothing is left to credit" in nothing.message
    with session_scope(october) as session:
        audited = session.scalars(select(AuditEntry).where(AuditEntry.action == "credit_note_issued")).all()
    assert [entry.after["total_ttc"] for entry in audited] == ["-100.00", "-480.00", "-500.00"]
    assert {entry.after["requested_by"] for entry in audited} == {"claire.finance"}


def pdf_text(pdf: bytes) -> str:
    """The page as `pdftotext` reads it (what a customer's reader shows), spaces made plain."""
    import subprocess

    made = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True)
    return " ".join(made.stdout.decode().replace("\u00a0", " ").split())


def test_a_line_credit_note_names_its_lines_in_the_customers_language(october):
    from flows.corrections import issue_credit_note
    from ledger.models import Customer

    with session_scope(october) as session:
        session.get(Customer, "BETA").language = "en"
    acme, beta = invoice_of(october, "ACME"), invoice_of(october, "BETA")
    for invoice, language, word in ((acme, "fr", "Avoir : "), (beta, "en", "Credit: ")):
        made = issue_credit_note(invoice=invoice["number"], lines=[1], reason="Cancelled", requested_by="claire")
        billed = invoice["lines"][0]["description"]
        shown = by_number(october)[made["number"]]
        assert [line["description"] for line in shown["lines"]] == [word + billed], language
        pdf = stored(shown["document"])
        names = [node.text for node in xml(pdf).findall(".//ram:SpecifiedTradeProduct/ram:Name", NS)]
        assert names == [word + billed], language
        text = pdf_text(pdf)
        assert " ".join((word + billed).split()) in text, language
        assert ("Credit: " in text) == (language == "en") and ("Avoir : " in text) == (language == "fr"), language
    # hours are hours (UN/ECE Rec 20 HUR) in the XML, and « h » on the page; a fee's count is units (C62)
    invoice = stored(acme["document"])
    units = [(node.text, node.get("unitCode")) for node in xml(invoice).iter(f"{{{NS['ram']}}}BilledQuantity")]
    assert units == [("1.0000", "C62"), ("0.5000", "HUR"), ("0.5000", "HUR"), ("1.0000", "C62"), ("0.2500", "HUR")]
    assert "0,5 h" in pdf_text(invoice) and "0,25 h" in pdf_text(invoice)


def test_a_credit_note_asked_again_is_refused_unless_meant(october):
    # finance's first run was killed once its note was issued, and finance runs the same command again
    from flows.corrections import issue_credit_note

    acme = invoice_of(october, "ACME")
    first = issue_credit_note(invoice=acme["number"], amount_ttc="50.00", reason="Goodwill", requested_by="claire")
    twice = issue_credit_note(invoice=acme["number"], amount_ttc="50.00", reason="Goodwill", requested_by="claire",
                              return_state=True)
    # it says the note exists, and where it stands (its document went out with the first run)
    issued_on = by_number(october)[first["number"]]["issued_on"]
    assert twice.is_failed() and twice.message.startswith(
        f"credit note on {acme['number']}: credit note {first['number']} already credits 50.00 TTC on invoice "
        f"{acme['number']} for the same reason (issued {issued_on}, mailed "), twice.message
    assert twice.message.endswith("): to issue another, say --again"), twice.message
    meant = issue_credit_note(invoice=acme["number"], amount_ttc="50.00", reason="Goodwill", requested_by="claire",
                              again=True)
    assert int(meant["number"][-6:]) == int(first["number"][-6:]) + 1         # the refusal numbered nothing
    assert by_number(october)[acme["number"]]["balance"] == "980.00"          # 1080.00 - 2 x 50.00


def test_a_double_payment_is_partly_refunded_and_the_rest_settles_the_next_invoice(october, mailbox, tmp_path):
    from flows.corrections import refund
    from flows.monthly_close import monthly_close

    beta = invoice_of(october, "BETA")            # 424.66 TTC
    payments = write_csv(tmp_path / "p.csv", ["payment_id", "invoice_id", "paid_on", "amount"],
                         [["PAY-1", beta["number"], beta["issued_on"], "424.66"],    # never before its issue
                          ["PAY-2", beta["number"], beta["issued_on"], "424.66"]])
    import_file("payments", payments, engine=october)
    assert customer_row(october, "BETA")["credit"] == "424.66"
    assert by_number(october)[beta["number"]]["balance"] == "0.00"

    too_much = refund(customer_id="BETA", amount="424.67", reference="VIR-1", return_state=True)
    assert too_much.is_failed() and "credit is 424.66 EUR; a refund never exceeds it" in too_much.message
    done = refund(customer_id="BETA", amount="300.00", reference="VIR-1")
    assert (done["credit_left"], customer_row(october, "BETA")["credit"]) == ("124.66", "124.66")
    assert refund(customer_id="BETA", amount="300.00", reference="VIR-1")["created"] is False  # recorded once
    with session_scope(october) as session:
        [movement] = session.scalars(select(CustomerCredit).where(CustomerCredit.kind == "refund")).all()
        assert (movement.reference, str(movement.amount)) == ("VIR-1", "-300.00")

    # the next close applies what is left to BETA's November invoice, and the document says so
    monthly_close(month="2026-11", force_reason="the test closes November early")
    november = invoice_of(october, "BETA", "2026-11")
    total = november["total_ttc"]
    from decimal import Decimal

    applied = min(Decimal("124.66"), Decimal(total))
    assert november["balance"] == str(Decimal(total) - applied)
    assert customer_row(october, "BETA")["credit"] == str(Decimal("124.66") - applied)
    tree = xml(stored(november["document"]))
    assert tree.find(".//ram:TotalPrepaidAmount", NS).text == str(applied)
    assert tree.find(".//ram:DuePayableAmount", NS).text == str(Decimal(total) - applied)
    assert "crédit imputé" in page_text(stored(november["document"]))


@pytest.mark.dates  # built from today: .ci/run runs it on each listed day
def test_a_credit_note_or_a_dispute_lifts_the_arrears_stage_it_caused(prefect_server, home, ledger, tmp_path):
    from flows.arrears import arrears_escalation
    from flows.corrections import issue_credit_note
    from policy.calendar import today_paris

    # invoices due 45 days ago: a month late today (a credit note is dated the day it is issued: today)
    today = today_paris()
    issued, due = (today - timedelta(days=75)).isoformat(), (today - timedelta(days=45)).isoformat()
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER,
                                       [customer("LATE", fee="500.00"), customer("SLOW", fee="500.00")]), engine=ledger)
    tenants = platform(os.environ["LIFECYCLE_PLATFORM_URL"], ["LATE", "SLOW"])
    import_file("invoices", write_csv(tmp_path / "i.csv", ["invoice_id", "customer_id", "issued_on", "due_on",
                                                            "amount_ht", "vat_rate"],
                                      [["OLD-1", "LATE", issued, due, "1000.00", "0.20"],
                                       ["OLD-2", "SLOW", issued, due, "1000.00", "0.20"]]), engine=ledger)
    arrears_escalation(as_of=today, force_reason=None)
    assert customer_row(ledger, "LATE")["stage"] == customer_row(ledger, "SLOW")["stage"] == "admin_disabled"
    [penalty] = [item["balance"] for item in shown_invoices(ledger) if item["kind"] == "penalty"
                 and item["customer_id"] == "LATE"]

    # LATE: the invoice was wrong by 1000.00 TTC; a credit note leaves 200.00, still overdue
    issue_credit_note(invoice="OLD-1", amount_ttc="1000.00", reason="Wrong user count", requested_by="finance")
    assert by_number(ledger)["OLD-1"]["balance"] == "200.00"
    arrears_escalation(as_of=today, force_reason=None)
    assert customer_row(ledger, "LATE")["stage"] == "admin_disabled"
    issue_credit_note(invoice="OLD-1", amount_ttc="200.00", reason="Wrong user count", requested_by="finance")
    arrears_escalation(as_of=today, force_reason=None)
    late = customer_row(ledger, "LATE")
    assert (late["stage"], late["admin_enabled"]) == ("current", True)
    with tenants.connect() as connection:     # and the platform's administrator area is on again
        assert connection.execute(text("SELECT admin_enabled FROM tenants WHERE tenant_id = 'LATE'")).scalar() in (1, True)
    # the penalty invoice stays owed: a credit note corrects the invoice, not the lateness
    assert [item["balance"] for item in shown_invoices(ledger) if item["kind"] == "penalty"
            and item["customer_id"] == "LATE"] == [penalty]

    # SLOW: its invoice is disputed by re-importing its row with the new status
    import_file("invoices", write_csv(tmp_path / "d.csv", ["invoice_id", "customer_id", "issued_on", "due_on",
                                                            "amount_ht", "vat_rate", "status"],
                                      [["OLD-2", "SLOW", issued, due, "1000.00", "0.20", "disputed"]]), engine=ledger)
    arrears_escalation(as_of=today, force_reason=None)
    assert customer_row(ledger, "SLOW")["stage"] == "current"


def test_a_product_invoice_is_disputed_by_its_number_and_never_voided(october, tmp_path):
    acme = invoice_of(october, "ACME")
    header = ["invoice_id", "customer_id", "issued_on", "due_on", "amount_ht", "status"]
    row = [acme["number"], "ACME", acme["issued_on"], acme["due_on"], acme["total_ht"]]
    with pytest.raises(ImportRejected) as rejected:
        import_file("invoices", write_csv(tmp_path / "v.csv", header, [row + ["void"]]), engine=october)
    assert "correct it with a credit note" in rejected.value.errors[0]
    result = import_file("invoices", write_csv(tmp_path / "d.csv", header, [row + ["disputed"]]), engine=october)
    assert result.updated == 1 and by_number(october)[acme["number"]]["status"] == "disputed"
    wrong = [acme["number"], "ACME", acme["issued_on"], acme["due_on"], "1.00", "open"]
    with pytest.raises(ImportRejected) as rejected:
        import_file("invoices", write_csv(tmp_path / "w.csv", header, [wrong]), engine=october)
    # told as the product's own invoice, never as one "already imported" (it never was)
    assert rejected.value.errors == [f"w.csv:2:amount_ht: {acme['number']!r} is an invoice this installation issued, "
                                     f"with {acme['total_ht']!r} (now '1.00'): imported invoices keep their own ids, "
                                     f"and a row naming an issued one changes only its status"]


def test_credit_notes_and_refunds_import_all_or_nothing(october, tmp_path):
    acme, beta = invoice_of(october, "ACME"), invoice_of(october, "BETA")
    header = ["credit_note_id", "invoice_number", "amount_ttc", "reason", "issued_on"]
    on = acme["issued_on"]  # the close's day: a credit note is never dated before the invoice it credits
    rows = [["CN-1", acme["number"], "1000.00", "Goodwill", on],
            ["CN-2", acme["number"], "80.02", "More goodwill", on],   # 0.02 past what CN-1 left
            ["CN-3", beta["number"], "24.66", "Standby error", on]]
    with pytest.raises(ImportRejected) as rejected:
        import_file("credit-notes", write_csv(tmp_path / "cn.csv", header, rows), engine=october)
    assert rejected.value.errors == [f"cn.csv:3:amount_ttc: this credit note would credit 80.02 TTC; only 80.00 TTC "
                                     f"are left to credit (invoice 1080.00, credited already 1000.00)"]
    # a cent past is past too (amounts VAT rounding makes: 900.01 HT, 833.34 HT, 66.67 HT), on the first note (the
    # invoice's 1080.00 + 0.01) and on the note after one (80.00 where 1000.01 left 79.99)
    for first, second, said in (("1080.01", "80.00", "cn.csv:2:amount_ttc: this credit note would credit 1080.01 TTC; "
                                 "only 1080.00 TTC are left to credit (invoice 1080.00, credited already 0.00)"),
                                ("1000.01", "80.00", "cn.csv:3:amount_ttc: this credit note would credit 80.00 TTC; "
                                 "only 79.99 TTC are left to credit (invoice 1080.00, credited already 1000.01)")):
        rows[0][2], rows[1][2] = first, second
        with pytest.raises(ImportRejected) as rejected:
            import_file("credit-notes", write_csv(tmp_path / "cn.csv", header, rows), engine=october)
        assert rejected.value.errors == [said]
    rows[0][2] = "1000.00"
    assert not [item for item in shown_invoices(october) if item["kind"] == "credit_note"]   # nothing written
    rows[1][2] = "80.00"
    result = import_file("credit-notes", write_csv(tmp_path / "cn.csv", header, rows), engine=october)
    assert result.inserted == 3
    notes = sorted((item["number"], item["credits"], item["total_ttc"]) for item in shown_invoices(october)
                   if item["kind"] == "credit_note")
    assert [(credits, ttc) for _, credits, ttc in notes] == [(acme["number"], "-1000.00"), (acme["number"], "-80.00"),
                                                             (beta["number"], "-24.66")]
    again = import_file("credit-notes", write_csv(tmp_path / "cn.csv", header, rows), engine=october)
    assert (again.inserted, again.unchanged) == (0, 3)

    # ACME pays the 1080.00 it was first asked: the credit notes settled the invoice already, so all is credit
    import_file("payments", write_csv(tmp_path / "p.csv", ["payment_id", "invoice_id", "paid_on", "amount"],
                                      [["P-1", acme["number"], acme["issued_on"], "1080.00"]]), engine=october)
    assert customer_row(october, "ACME")["credit"] == "1080.00"
    refunds = ["refund_id", "customer_id", "amount", "refunded_on", "reference"]
    paid_on = acme["issued_on"]   # the credit exists from that payment's day: no refund before it
    rows = [["R-1", "ACME", "1000.00", paid_on, "VIR 2026-11 A"], ["R-2", "ACME", "100.00", paid_on, "VIR B"]]
    with pytest.raises(ImportRejected) as rejected:
        import_file("refunds", write_csv(tmp_path / "r.csv", refunds, rows), engine=october)
    assert rejected.value.errors == ["r.csv:3:amount: 100.00 EUR: ACME's credit is 80.00 EUR; a refund never exceeds it"]
    assert customer_row(october, "ACME")["credit"] == "1080.00"
    rows[1][2] = "80.00"
    assert import_file("refunds", write_csv(tmp_path / "r.csv", refunds, rows), engine=october).inserted == 2
    assert customer_row(october, "ACME")["credit"] == "0.00"
    assert import_file("refunds", write_csv(tmp_path / "r.csv", refunds, rows), engine=october).unchanged == 2
