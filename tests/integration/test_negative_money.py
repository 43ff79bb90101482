"""Money owed to a customer is a credit note (type 381) and a credit, never an invoice (issue 24), on SQLite
and PostgreSQL: an annual customer's standby month, and a cancellation whose last day of service lies
before months already billed (a letter recorded late).

Every amount is computed by hand in the comments. The closes run as their flow's tasks do (draft, then
finalise on a fixed issue day), the cancellation's steps as the flows' ledger steps; documents and mails
are made as the flows make them, with the default (sample) seller and the home's storage: nothing here
depends on today nor needs the Prefect server.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from blocks.seller import Seller
from blocks.storage import ObjectStorage
from ledger import views
from ledger.cancellations import receive, statement_of, take_effect
from ledger.db import session_scope
from ledger.imports import import_file
from ledger.models import Invoice, Notice
from policy.invoicing import NegativeInvoice
from policy.terms import Terms
from reports.invoice_document import check_facturx
from tasks.invoice_documents import issue_documents
from tasks.monthly_close import _insert_invoices, draft, finalise
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv

TERMS = Terms()
PAYMENTS = ["payment_id", "invoice_id", "paid_on", "amount"]


def close(ledger, month: str, issued_on: date):
    draft(month, TERMS, actor="test", flow_run_id=None, engine=ledger)
    return finalise(month, issued_on, TERMS, actor="test", flow_run_id=None, engine=ledger)


def documents(ledger):
    with session_scope(ledger) as session:
        return {item["number"]: item for item in views.invoices(session) if item["number"]}


def by_kind(ledger, month: str, kind: str) -> dict[str, dict]:
    with session_scope(ledger) as session:
        return {item["customer_id"]: item for item in views.invoices(session, month) if item["kind"] == kind}


def credit(ledger, customer_id: str) -> str:
    with session_scope(ledger) as session:
        [row] = [item for item in views.customers(session) if item["customer_id"] == customer_id]
    return row["credit"]


def mail_of(ledger, number: str) -> Notice:
    with session_scope(ledger) as session:
        invoice = session.scalars(select(Invoice).where(Invoice.number == number)).one()
        notice = session.scalars(select(Notice).where(Notice.invoice_id == invoice.id)).one()
        session.expunge(notice)
        return notice


def type_code(home, number: str, issued_on: date) -> str:
    from ledger import keys
    from lxml import etree

    with ObjectStorage().store().open(keys.invoice_document(number, issued_on)) as handle:
        tree = etree.fromstring(check_facturx(handle.read()))
    return tree.findtext(".//{*}ExchangedDocument/{*}TypeCode")


def no_invoice_below_zero(ledger):
    with session_scope(ledger) as session:
        assert not session.scalars(select(Invoice.number).where(Invoice.kind != "credit_note",
                                                                Invoice.total_ttc < 0)).all()
        assert not session.scalars(select(Invoice.number).where(Invoice.kind == "credit_note",
                                                                Invoice.total_ttc >= 0)).all()


# Annual customers from 1 January 2026 at 588.00 a month, paying by transfer (no surcharge), 20 % VAT, all on
# standby the whole of February (1 Feb to 1 Mar: 28 of 28 days). January bills each a year: 12 x 588 = 7056.00 HT,
# 1411.20 VAT, 8467.20 TTC. February gives back 588 x 28 x 50 % / 28 = 294.00 HT (58.80 VAT, 352.80 TTC).
# Standby days carry no included minutes: every minute of February's work is billed, 120.00 an hour.
# ANNUAL      no work, January unpaid: a credit note of 352.80 TTC settles that much of January (8467.20 -> 8114.40).
# ANNUALPAID  no work, January paid: the credit note's 352.80 is the customer's credit.
# ANNUALWORK  60 min: 120.00 HT, below the 294.00 given back: a credit note of 352.80 on January, and an invoice
#             of 120.00 HT, 24.00 VAT, 144.00 TTC for the work alone (never one of -174.00).
# ANNUALNET   240 min: 480.00 HT, more than given back: one invoice, netted: 480.00 - 294.00 = 186.00 HT,
#             37.20 VAT, 223.20 TTC (DESIGN: the standby days come back as a negative subscription line).
ANNUALS = ("ANNUAL", "ANNUALPAID", "ANNUALWORK", "ANNUALNET")


@pytest.fixture
def annual(home, ledger, tmp_path):
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [
        customer(name, fee="588.00", method="transfer", cycle="annual", start="2026-01-01") for name in ANNUALS]),
        engine=ledger)
    import_file("standby", write_csv(tmp_path / "s.csv", ["customer_id", "reason", "start_on", "end_on"], [
        [name, "temporary_inactivity", "2026-02-01", "2026-03-01"] for name in ANNUALS]), engine=ledger)
    import_file("interventions", write_csv(tmp_path / "w.csv", ["intervention_id", "customer_id", "started_at",
                                                                "minutes", "category"], [
        ["W1", "ANNUALWORK", "2026-02-10T10:00", "60", "assistance"],
        ["N1", "ANNUALNET", "2026-02-11T10:00", "240", "assistance"],
    ]), engine=ledger)
    close(ledger, "2026-01", date(2026, 2, 1))
    january = by_kind(ledger, "2026-01", "monthly")
    assert {name: january[name]["total_ttc"] for name in ANNUALS} == dict.fromkeys(ANNUALS, "8467.20")
    import_file("payments", write_csv(tmp_path / "p.csv", PAYMENTS, [
        ["PAY-A", january["ANNUALPAID"]["number"], "2026-02-10", "8467.20"]]), engine=ledger)
    return ledger


def test_an_annual_customers_standby_gives_back_by_credit_note_never_a_negative_invoice(annual, home):
    january = by_kind(annual, "2026-01", "monthly")
    closed = close(annual, "2026-02", date(2026, 3, 1))
    no_invoice_below_zero(annual)

    invoices = by_kind(annual, "2026-02", "monthly")
    assert {name: (item["total_ht"], item["total_vat"], item["total_ttc"]) for name, item in invoices.items()} == {
        "ANNUALWORK": ("120.00", "24.00", "144.00"), "ANNUALNET": ("186.00", "37.20", "223.20")}
    assert [(line["category"], line["amount_ht"]) for line in invoices["ANNUALWORK"]["lines"]] == [
        ("assistance", "120.00")]
    assert [(line["category"], line["amount_ht"]) for line in invoices["ANNUALNET"]["lines"]] == [
        ("subscription", "-294.00"), ("assistance", "480.00")]

    notes = by_kind(annual, "2026-02", "credit_note")
    assert set(notes) == {"ANNUAL", "ANNUALPAID", "ANNUALWORK"}
    for name, note in notes.items():
        assert (note["total_ht"], note["total_vat"], note["total_ttc"]) == ("-294.00", "-58.80", "-352.80"), name
        assert note["credits"] == january[name]["number"] and note["status"] == "paid" and note["issued_on"] == "2026-03-01"
        assert [(line["description"], line["amount_ht"]) for line in note["lines"]] == [
            ("Veille février 2026 : 28 jours sur 28 à 50\u00a0%", "-294.00")]
    # the money reaches the customer: off January's balance when it is unpaid, the customer's credit when it is paid
    january = by_kind(annual, "2026-01", "monthly")
    assert (january["ANNUAL"]["balance"], credit(annual, "ANNUAL")) == ("8114.40", "0.00")
    assert (january["ANNUALPAID"]["balance"], credit(annual, "ANNUALPAID")) == ("0.00", "352.80")
    assert january["ANNUALWORK"]["balance"] == "8114.40"
    # one gapless run of numbers: the two invoices and the three credit notes, in customer order
    numbers = sorted([item["number"] for item in invoices.values()] + [item["number"] for item in notes.values()])
    assert [int(number[5:]) for number in numbers] == list(range(int(numbers[0][5:]), int(numbers[0][5:]) + 5))
    assert len(closed.invoices) == 2 and len(closed.credit_notes) == 3
    assert "3 credit note(s), 1058.40 EUR TTC given back" in closed.markdown("x")

    # the documents and mails of the close: each credit note is a Factur-X credit note (381), mailed as one
    issued = issue_documents(Seller(), TERMS, ObjectStorage(), month="2026-02", actor="test", engine=annual)
    assert sorted(issued.mails) == numbers and issued.refused == []
    for name, note in notes.items():
        assert type_code(home, note["number"], date(2026, 3, 1)) == "381"
        mail = mail_of(annual, note["number"])
        assert mail.subject == f"Avoir {note['number']} – 352,80\u00a0€ TTC"
        assert f"sur la facture n° {january[name]['number']}" in mail.body and "Veille février 2026" in mail.body
    assert type_code(home, invoices["ANNUALWORK"]["number"], date(2026, 3, 1)) == "380"

    # a close run again changes nothing: no second credit note
    again = close(annual, "2026-02", date(2026, 3, 1))
    assert again.status == "already_finalised" and len(by_kind(annual, "2026-02", "credit_note")) == 3


def test_a_refused_close_discards_its_credit_notes_and_a_negative_invoice_is_never_written(annual):
    from tasks.monthly_close import discard

    drafted = draft("2026-02", TERMS, actor="test", flow_run_id=None, engine=annual)
    assert len(drafted.credit_notes) == 3 and all(item.number is None for item in drafted.credit_notes)
    assert discard("2026-02", why="refused", actor="test", flow_run_id=None, engine=annual) == 5
    assert by_kind(annual, "2026-02", "credit_note") == {} and by_kind(annual, "2026-02", "monthly") == {}

    # the guard where invoices are written: a total below zero is refused, whoever computed it
    from policy.invoicing import Totals
    with session_scope(annual, write=True) as session:
        from ledger.models import Customer
        someone = session.get(Customer, "ANNUAL")
        with pytest.raises(NegativeInvoice, match="issued as a credit note, never as an invoice"):
            _insert_invoices(session, "2026-02", [(someone, [], Totals(Decimal("-294.00"), Decimal("-58.80"),
                                                                       Decimal("-352.80")), None)], None, None)


# Monthly customers at 300.00 (sepa, 20 % VAT), billed September, October and November 2026 (360.00 TTC each).
# LEAVER     a letter received on 20 August, recorded only in December: 30 days of notice run to 19 September,
#            to the end of that month (the default terms): last day 30 September. October and November were
#            billed for nothing: two credit notes of 300.00 HT, 60.00 VAT, 360.00 TTC. October was paid: its
#            360.00 become the customer's credit; November was open: its balance is settled (paid, not chased).
# MIDWAY     terms ending on the notice's last day: received 1 September, last day 1 October. October 2..31,
#            30 of 31 days: 300 x 30 / 31 = 290.3225... -> 290.32 HT, 58.06 VAT, 348.38 TTC; November whole: 360.00.
@pytest.fixture
def billed_autumn(home, ledger, tmp_path):
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [
        customer(name, fee="300.00", start="2026-01-01") for name in ("LEAVER", "MIDWAY", "STAYER")]), engine=ledger)
    for month, issued in (("2026-09", date(2026, 10, 1)), ("2026-10", date(2026, 11, 1)),
                          ("2026-11", date(2026, 12, 1))):
        close(ledger, month, issued)
    october = by_kind(ledger, "2026-10", "monthly")
    import_file("payments", write_csv(tmp_path / "p.csv", PAYMENTS, [
        ["PAY-L", october["LEAVER"]["number"], "2026-11-20", "360.00"]]), engine=ledger)
    return ledger


def test_a_cancellation_whose_last_day_lies_before_billed_months_gives_them_back(billed_autumn, home):
    ledger = billed_autumn
    october, november = by_kind(ledger, "2026-10", "monthly"), by_kind(ledger, "2026-11", "monthly")
    steps = {}
    with session_scope(ledger, write=True) as session:
        # the months after the last day are closed: the letter is recorded all the same (the contract's last day)
        step, _, new = receive(session, "LEAVER", date(2026, 8, 20), None, TERMS, requested_by="ops", actor="test",
                               flow_run_id=None)
        assert new and step.effective_on == date(2026, 9, 30)
        steps["LEAVER"] = step.cancellation_id
        step, _, _ = receive(session, "MIDWAY", date(2026, 9, 1), None, Terms(cancellation_ends="notice_end"),
                             requested_by="ops", actor="test", flow_run_id=None)
        assert step.effective_on == date(2026, 10, 1)
        steps["MIDWAY"] = step.cancellation_id
    made = {}
    for name, cancellation_id in steps.items():
        with session_scope(ledger, write=True) as session:
            step, _ = take_effect(session, cancellation_id, date(2026, 12, 5), TERMS, actor="test", flow_run_id=None)
            made[name] = step
        with session_scope(ledger, write=True) as session:   # another run: nothing twice
            assert take_effect(session, cancellation_id, date(2026, 12, 5), TERMS, actor="test",
                               flow_run_id=None) is None
    no_invoice_below_zero(ledger)
    assert "credit note" in made["LEAVER"].sentence and len(made["LEAVER"].credit_notes) == 2

    found = documents(ledger)
    notes = {name: [found[number] for number in step.credit_notes] for name, step in made.items()}
    assert [(note["credits"], note["total_ht"], note["total_vat"], note["total_ttc"]) for note in notes["LEAVER"]] == [
        (october["LEAVER"]["number"], "-300.00", "-60.00", "-360.00"),
        (november["LEAVER"]["number"], "-300.00", "-60.00", "-360.00")]
    assert [(note["credits"], note["total_ht"], note["total_vat"], note["total_ttc"]) for note in notes["MIDWAY"]] == [
        (october["MIDWAY"]["number"], "-290.32", "-58.06", "-348.38"),
        (november["MIDWAY"]["number"], "-300.00", "-60.00", "-360.00")]
    assert notes["MIDWAY"][0]["lines"][0]["description"] == (
        "Abonnement non servi après le dernier jour de service, le 1er octobre 2026 (résiliation) : "
        "du 2 octobre 2026 au 31 octobre 2026, 30 jours facturés sur 31")

    # the money: October paid -> the customer's credit; November open -> settled, no longer owed nor chased
    october, november = by_kind(ledger, "2026-10", "monthly"), by_kind(ledger, "2026-11", "monthly")
    assert (november["LEAVER"]["status"], november["LEAVER"]["balance"]) == ("paid", "0.00")
    assert credit(ledger, "LEAVER") == "360.00"
    assert (october["MIDWAY"]["balance"], november["MIDWAY"]["balance"]) == ("11.62", "0.00")   # 360.00 - 348.38
    assert credit(ledger, "MIDWAY") == "0.00"
    with session_scope(ledger) as session:
        statement = statement_of(session, "LEAVER", date(2026, 12, 5))
        # September's 360.00 still open, October's 360.00 given back as credit: nothing owed either way
        assert [line.amount for line in statement.lines] == [Decimal("360.00"), Decimal("-360.00")]
        assert statement.total == Decimal("0.00")
    assert by_kind(ledger, "2026-11", "monthly")["STAYER"]["balance"] == "360.00"      # untouched

    # each credit note's document and mail, as the cancellations flow makes them
    numbers = made["LEAVER"].credit_notes + made["MIDWAY"].credit_notes
    issued = issue_documents(Seller(), TERMS, ObjectStorage(), numbers=numbers, actor="test", engine=ledger)
    assert sorted(issued.mails) == sorted(numbers)
    note = notes["MIDWAY"][0]
    assert type_code(home, note["number"], date(2026, 12, 5)) == "381"
    mail = mail_of(ledger, note["number"])
    assert mail.subject == f"Avoir {note['number']} – 348,38\u00a0€ TTC"
    assert "Abonnement non servi" in mail.body

    # the next close bills neither of them anything
    close(ledger, "2026-12", date(2027, 1, 1))
    assert set(by_kind(ledger, "2026-12", "monthly")) == {"STAYER"}


def test_a_late_cancellation_of_an_annual_year_gives_back_its_unserved_days_less_the_standby_given_back(annual):
    # ANNUAL's year (7056.00 HT, 8467.20 TTC) was given back February's standby (294.00 HT) by the close; a letter
    # received on 1 January 2026 under terms ending on the notice's last day ends the service on 31 January.
    # Unserved: 1 February to 31 December, 334 of 365 days: 7056 x 334 / 365 = 6456.723... -> 6456.72 HT, less the
    # 294.00 given back already for February: 6162.72 HT, 1232.54 VAT (1232.544), 7395.26 TTC. January's invoice
    # then asks 8467.20 - 352.80 - 7395.26 = 719.14 (its 31 days, at 365ths of the year).
    close(annual, "2026-02", date(2026, 3, 1))
    january = by_kind(annual, "2026-01", "monthly")["ANNUAL"]
    with session_scope(annual, write=True) as session:
        step, _, _ = receive(session, "ANNUAL", date(2026, 1, 1), None, Terms(cancellation_ends="notice_end"),
                             requested_by="ops", actor="test", flow_run_id=None)
        assert step.effective_on == date(2026, 1, 31)
    with session_scope(annual, write=True) as session:
        step, _ = take_effect(session, step.cancellation_id, date(2026, 3, 5), TERMS, actor="test", flow_run_id=None)
    [number] = step.credit_notes
    note = documents(annual)[number]
    assert (note["credits"], note["total_ht"], note["total_vat"], note["total_ttc"]) == (
        january["number"], "-6162.72", "-1232.54", "-7395.26")
    assert "du 1er février 2026 au 31 décembre 2026, 334 jours facturés sur 365" in note["lines"][0]["description"]
    assert by_kind(annual, "2026-01", "monthly")["ANNUAL"]["balance"] == "719.14"
    no_invoice_below_zero(annual)
