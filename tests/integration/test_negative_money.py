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
from operations.cancellation import receive, statement_of, take_effect
from ledger.db import session_scope
from ledger.imports import import_file
from ledger.models import Invoice, Notice
from policy.invoicing import NegativeInvoice
from policy.terms import Terms
from reports.invoice_document import check_facturx
from operations.invoice_documents import issue_documents
from operations.close import _insert_invoices, draft, finalise
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
    assert closed.invoices == 2 and len(closed.credit_notes) == 3
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
    from operations.close import discard

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


# --- each day given back once: standby credit and cancellation credit (issue: the half given back twice) ------

def cancel_late(ledger, customer_id: str, received_on: date, last_day: date, day: date,
                notice_days: int = 30) -> list[dict]:
    """A letter recorded after the months it ends were closed, under terms ending on the notice's last day;
    the cancellation takes effect on `day`. Returns its credit notes as `show invoices` lists them."""
    terms = Terms(cancellation_ends="notice_end", cancellation_notice_days=notice_days)
    with session_scope(ledger, write=True) as session:
        step, _, _ = receive(session, customer_id, received_on, last_day, terms,
                             requested_by="ops", actor="test", flow_run_id=None)
        assert step.effective_on == last_day
    with session_scope(ledger, write=True) as session:
        step, _ = take_effect(session, step.cancellation_id, day, TERMS, actor="test", flow_run_id=None)
    found = documents(ledger)
    no_invoice_below_zero(ledger)
    return [found[number] for number in step.credit_notes]


def test_a_late_cancellation_mid_standby_month_gives_back_the_standby_days_after_it_once(annual):
    # February's standby was given back by the close: 294.00 HT for 28 days (10.50 a day), by a credit note on
    # January's year (ANNUAL) or netted on February's invoice (ANNUALNET: 480.00 - 294.00). The last day of
    # service is 14 February. Unserved: 15 February to 31 December, 320 of 365 days: 7056 x 320 / 365 =
    # 6186.082... -> 6186.08 HT; its days 15..28 February had their half given back already: 294 x 14 / 28 =
    # 147.00, which comes off: 6039.08 HT, 1207.82 VAT (1207.816), 7246.90 TTC. Not 6186.08 (7423.30 TTC): the
    # half of 15..28 February given back twice.
    close(annual, "2026-02", date(2026, 3, 1))
    january = by_kind(annual, "2026-01", "monthly")
    for name in ("ANNUAL", "ANNUALNET"):
        [note] = cancel_late(annual, name, date(2026, 1, 1), date(2026, 2, 14), date(2026, 3, 5))
        assert (note["credits"], note["total_ht"], note["total_vat"], note["total_ttc"]) == (
            january[name]["number"], "-6039.08", "-1207.82", "-7246.90"), name
        assert "du 15 février 2026 au 31 décembre 2026, 320 jours facturés sur 365" in note["lines"][0]["description"]
    # what the customer keeps paying: 1 January to 14 February (45 of 365 days: 869.92 HT) less the half of
    # 1..14 February (147.00): 722.92 HT, 867.50 TTC. ANNUAL: 8467.20 - 352.80 - 7246.90 = 867.50 left on January.
    # ANNUALNET: its half of February came off February's invoice (223.20 TTC with its work): January keeps
    # 8467.20 - 7246.90 = 1220.30, i.e. 867.50 + the 352.80 given back on February's invoice.
    january = by_kind(annual, "2026-01", "monthly")
    assert (january["ANNUAL"]["balance"], january["ANNUALNET"]["balance"]) == ("867.50", "1220.30")
    assert by_kind(annual, "2026-02", "monthly")["ANNUALNET"]["balance"] == "223.20"


# Annual customers from 1 January 2026 at 588.00 (transfer, 20 % VAT), January closed (7056.00 HT, 8467.20 TTC).
# BEFORESTBY  standby from 15 February to 1 March (14 of 28 days): February's close gives back 588 x 14 x 50 % / 28 =
#             147.00 HT by a credit note on January. Its last day of service, recorded late, is 10 February: before
#             the standby starts, in the same month.
# ANNIV       a contract from 15 March 2026 at 600.00: March 2026 bills its first year (15 March 2026 to 14 March
#             2027, 7200.00 HT); March 2027 its second (15 March 2027 to 14 March 2028, 366 days: 7200.00) with
#             March 2027 on standby, all 31 days, netted on it: 600 x 31 x 50 % / 31 = 300.00, the invoice 6900.00
#             HT, 8280.00 TTC. The standby month straddles the two contract years.
# FIRSTYEAR   a contract from 15 March 2026 at 600.00, on standby from its first day to 31 March (17 days of a
#             31-day month): March 2026 bills the year, 7200.00, less 600 x 17 x 50 % / 31 = 164.516... -> 164.52
#             netted on it: 7035.48 HT, 8442.58 TTC (1407.096 VAT -> 1407.10).
@pytest.fixture
def standby_edges(home, ledger, tmp_path):
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [
        customer("BEFORESTBY", fee="588.00", method="transfer", cycle="annual", start="2026-01-01"),
        customer("ANNIV", fee="600.00", method="transfer", cycle="annual", start="2026-03-15"),
        customer("FIRSTYEAR", fee="600.00", method="transfer", cycle="annual", start="2026-03-15")]), engine=ledger)
    import_file("standby", write_csv(tmp_path / "s.csv", ["customer_id", "reason", "start_on", "end_on"], [
        ["BEFORESTBY", "temporary_inactivity", "2026-02-15", "2026-03-01"],
        ["FIRSTYEAR", "temporary_inactivity", "2026-03-15", "2026-04-01"],
        ["ANNIV", "temporary_inactivity", "2027-03-01", "2027-04-01"]]), engine=ledger)
    for month, issued in (("2026-01", date(2026, 2, 1)), ("2026-02", date(2026, 3, 1)), ("2026-03", date(2026, 4, 1)),
                          ("2027-03", date(2027, 4, 1))):
        close(ledger, month, issued)
    return ledger


def test_a_last_day_before_a_standby_starts_in_its_month_takes_off_all_that_standby(standby_edges):
    ledger = standby_edges
    [standby] = by_kind(ledger, "2026-02", "credit_note").values()
    assert (standby["customer_id"], standby["total_ht"]) == ("BEFORESTBY", "-147.00")
    # unserved: 11 February to 31 December, 324 of 365 days: 7056 x 324 / 365 = 6263.408... -> 6263.41 HT; all 14
    # standby days lie after the last day: their 147.00 comes off: 6116.41 HT, 1223.28 VAT (1223.282), 7339.69 TTC
    [note] = cancel_late(ledger, "BEFORESTBY", date(2026, 1, 11), date(2026, 2, 10), date(2026, 3, 5))
    assert (note["total_ht"], note["total_vat"], note["total_ttc"]) == ("-6116.41", "-1223.28", "-7339.69")
    # January keeps 8467.20 - 176.40 (the standby's note) - 7339.69 = 951.11 TTC: its 41 days served, 7056 x 41 /
    # 365 = 792.59 HT (951.11 TTC), none of them on standby
    assert by_kind(ledger, "2026-01", "monthly")["BEFORESTBY"]["balance"] == "951.11"


def test_a_standby_month_across_a_contract_anniversary_is_given_back_by_day_on_the_year_it_belongs_to(standby_edges):
    ledger = standby_edges
    second = by_kind(ledger, "2027-03", "monthly")["ANNIV"]
    assert [(line["category"], line["amount_ht"]) for line in second["lines"]] == [
        ("subscription", "7200.00"), ("subscription", "-300.00")]
    assert second["total_ttc"] == "8280.00"
    # last day 28 March 2027: the first year (to 14 March) is served. The second year billed 7200.00 for its days
    # (the -300.00 is March's standby, given back apart): unserved 29 March 2027 to 14 March 2028, 352 of 366
    # days: 7200 x 352 / 366 = 6924.590... -> 6924.59; of March's 31 standby days only 29..31 lie after the last
    # day: 300 x 3 / 31 = 29.03 comes off: 6895.56 HT, 1379.11 VAT (1379.112), 8274.67 TTC.
    [note] = cancel_late(ledger, "ANNIV", date(2027, 2, 26), date(2027, 3, 28), date(2027, 4, 5))
    assert (note["credits"], note["total_ht"], note["total_vat"], note["total_ttc"]) == (
        second["number"], "-6895.56", "-1379.11", "-8274.67")
    assert "du 29 mars 2027 au 14 mars 2028, 352 jours facturés sur 366" in note["lines"][0]["description"]
    assert by_kind(ledger, "2027-03", "monthly")["ANNIV"]["balance"] == "5.33"     # 8280.00 - 8274.67
    assert by_kind(ledger, "2026-03", "monthly")["ANNIV"]["balance"] == "8640.00"  # the first year, untouched


def test_a_contracts_first_partial_month_on_standby_gives_back_the_standby_days_after_the_last_day_once(standby_edges):
    ledger = standby_edges
    first = by_kind(ledger, "2026-03", "monthly")["FIRSTYEAR"]
    assert (first["total_ht"], first["total_ttc"]) == ("7035.48", "8442.58")
    # last day 20 March 2026 (4 days' notice from 16 March): unserved 21 March 2026 to 14 March 2027, 359 of 365
    # days: 7200 x 359 / 365 = 7081.643... -> 7081.64 (the year's line; the standby netted on it is given back
    # apart). Of the line's 17 standby days, 21..31 March lie after the last day: 164.52 x 11 / 17 = 106.454... ->
    # 106.45 comes off: 6975.19 HT, 1395.04 VAT (1395.038), 8370.23 TTC. The invoice keeps 72.35 TTC: 6 days of
    # the year, 7200 x 6 / 365 = 118.36, less their standby half, 164.52 x 6 / 17 = 58.07: 60.29 HT (72.35 TTC).
    # The second year, billed by March 2027's close (7200.00 HT, no standby), is given back whole.
    second = by_kind(ledger, "2027-03", "monthly")["FIRSTYEAR"]
    note, whole = cancel_late(ledger, "FIRSTYEAR", date(2026, 3, 16), date(2026, 3, 20), date(2027, 4, 5),
                              notice_days=4)
    assert (note["credits"], note["total_ht"], note["total_vat"], note["total_ttc"]) == (
        first["number"], "-6975.19", "-1395.04", "-8370.23")
    assert (whole["credits"], whole["total_ht"], whole["total_ttc"]) == (second["number"], "-7200.00", "-8640.00")
    assert "du 21 mars 2026 au 14 mars 2027, 359 jours facturés sur 365" in note["lines"][0]["description"]
    assert by_kind(ledger, "2026-03", "monthly")["FIRSTYEAR"]["balance"] == "72.35"


# Monthly customers at 300.00 (sepa, 20 % VAT), March 2026 closed (31 days), the last day of service 14 March
# recorded late. Each day of March is billed 300 / 31, a standby day half of it.
# EARLYSTBY   standby 1..14 March (14 days): 300 x (31 - 7) / 31 = 232.258... -> 232.26 HT. The 17 days after the
#             last day were billed whole: 300 x 17 / 31 = 164.516... -> 164.52 HT given back (232.26 x 17 / 24);
#             a plain pro rata (232.26 x 17 / 31 = 127.37) would keep 37.15 of days not served.
# LATESTBY    standby 15..31 March (17 days, after the last day): 300 x (31 - 8.5) / 31 = 217.741... -> 217.74 HT.
#             The 17 days after were billed at half: 300 x 8.5 / 31 = 82.258... -> 82.26 HT given back
#             (217.74 x 8.5 / 22.5); a plain pro rata (119.41) would give their half back a second time.
def test_a_monthly_customers_late_cancellation_mid_standby_month_gives_back_each_day_as_billed(home, ledger, tmp_path):
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [
        customer(name, fee="300.00", start="2026-01-01") for name in ("EARLYSTBY", "LATESTBY")]), engine=ledger)
    import_file("standby", write_csv(tmp_path / "s.csv", ["customer_id", "reason", "start_on", "end_on"], [
        ["EARLYSTBY", "temporary_inactivity", "2026-03-01", "2026-03-15"],
        ["LATESTBY", "temporary_inactivity", "2026-03-15", "2026-04-01"]]), engine=ledger)
    close(ledger, "2026-03", date(2026, 4, 1))
    march = by_kind(ledger, "2026-03", "monthly")
    assert (march["EARLYSTBY"]["total_ht"], march["LATESTBY"]["total_ht"]) == ("232.26", "217.74")
    given = {}
    for name in ("EARLYSTBY", "LATESTBY"):
        [note] = cancel_late(ledger, name, date(2026, 2, 12), date(2026, 3, 14), date(2026, 4, 5))
        assert note["credits"] == march[name]["number"]
        given[name] = (note["total_ht"], note["total_vat"], note["total_ttc"])
    assert given == {"EARLYSTBY": ("-164.52", "-32.90", "-197.42"), "LATESTBY": ("-82.26", "-16.45", "-98.71")}
    # what is left to pay is March 1..14 as served: 300 x (14 - 7) / 31 = 67.74 HT (EARLYSTBY: 278.71 - 197.42 =
    # 81.29 TTC), 300 x 14 / 31 = 135.48 HT (LATESTBY: 261.29 - 98.71 = 162.58 TTC)
    march = by_kind(ledger, "2026-03", "monthly")
    assert (march["EARLYSTBY"]["balance"], march["LATESTBY"]["balance"]) == ("81.29", "162.58")


def test_a_cancellation_known_at_the_standby_months_close_but_in_effect_after_it_takes_off_nothing_twice(annual):
    # the letter (last day 14 February) is recorded before February's close, which gives back the standby of 1..14
    # February only: 588 x 14 x 50 % / 28 = 147.00 HT (176.40 TTC); the cancellation takes effect after the close.
    # None of that standby lies after the last day: the whole 15 February..31 December comes back, 320 of 365 days,
    # 6186.08 HT, 1237.22 VAT (1237.216), 7423.30 TTC. January is left with 8467.20 - 176.40 - 7423.30 = 867.50:
    # the same as when the close gave back all February and the letter came after it (each day once either way).
    with session_scope(annual, write=True) as session:
        step, _, _ = receive(session, "ANNUAL", date(2026, 1, 1), date(2026, 2, 14),
                             Terms(cancellation_ends="notice_end"), requested_by="ops", actor="test", flow_run_id=None)
    close(annual, "2026-02", date(2026, 3, 1))
    standby = by_kind(annual, "2026-02", "credit_note")["ANNUAL"]
    assert (standby["total_ht"], standby["total_ttc"]) == ("-147.00", "-176.40")
    with session_scope(annual, write=True) as session:
        step, _ = take_effect(session, step.cancellation_id, date(2026, 3, 5), TERMS, actor="test", flow_run_id=None)
    [note] = [documents(annual)[number] for number in step.credit_notes]
    assert (note["total_ht"], note["total_vat"], note["total_ttc"]) == ("-6186.08", "-1237.22", "-7423.30")
    assert by_kind(annual, "2026-01", "monthly")["ANNUAL"]["balance"] == "867.50"
    no_invoice_below_zero(annual)
