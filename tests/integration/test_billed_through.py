"""Imported history is never billed a second time (DESIGN "Billed through"), on SQLite and PostgreSQL.

Every amount below is computed by hand in the comments, from DESIGN's rule: a close of month M bills
fee x (U - S/2) / D for the U days of M after the billed-through day and on or after the start (S the
standby days among them, D the days of M), and what no invoice holds yet (interventions, surcharges).
The close runs as its flow's tasks do (draft, then finalise on a fixed issue day): nothing here
depends on today.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select, text

from ledger import views
from ledger.billed import billed_through_days
from ledger.db import session_scope
from ledger.imports import ImportRejected, import_file
from ledger.models import Customer
from policy.terms import Terms
from operations.close import draft, finalise
from tests.integration.test_cli import lifecycle
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv

INVOICE_HEADER = ["invoice_id", "customer_id", "issued_on", "due_on", "amount_ht", "period_start", "period_end",
                  "subscription"]
TERMS = Terms()

# WHOLE      sepa 490: INV-W-202610 (no period: issued 1 Nov, it billed October). 150 min of assistance in
#            October: 120 free, 30 billed -> 60.00. Invoice: 60.00 HT, 12.00 VAT, 72.00 TTC; no subscription line.
# CARD       card 300: INV-C-202610 billed October. 140 min: 20 billed -> 30 min -> 60.00; card 2 % = 1.20.
#            61.20 HT, 12.24 VAT, 73.44 TTC.
# QUIET      sepa 200: INV-Q-202610 billed October, no work: no invoice at all.
# PARTLY     sepa 620: INV-P-1 billed 16 Sep..15 Oct: 16..31 Oct left, 16 of 31 days: 620 x 16 / 31 = 320.00.
#            320.00 HT, 64.00 VAT, 384.00 TTC; the invoice records 2026-10-16..2026-10-31.
# RESTING    sepa 310: INV-R-1 billed 21 Sep..20 Oct; standby from 15 Oct: 21..31 Oct left (U = 11), all on
#            standby (S = 11): 310 x (11 - 5.5) / 31 = 55.00. 55.00 HT, 11.00 VAT, 66.00 TTC.
# FRESH      sepa 400: INV-F-202609 billed September only: October whole, 400.00 HT, 80.00 VAT, 480.00 TTC.
# LATE       card 300, contract from 20 Oct, no history: 20..31 Oct, 12 of 31 days: 300 x 12 / 31 = 116.129 -> 116.13;
#            card 2 % = 2.3226 -> 2.32; 118.45 HT, VAT 23.69, TTC 142.14.
# YEARLY     transfer, annual from 1 Oct 2026, 100/month: INV-Y-2026 (issued 1 Oct, no period: Oct 2026..Sep 2027)
#            billed the year: nothing in October.
# NEWYEAR    transfer, annual from 1 Oct 2026, 50/month, no history: 12 x 50 = 600.00, 120.00 VAT, 720.00 TTC.
OCTOBER = {
    "WHOLE": ("60.00", "12.00", "72.00", [("assistance", "60.00")]),
    "CARD": ("61.20", "12.24", "73.44", [("assistance", "60.00"), ("surcharge", "1.20")]),
    "PARTLY": ("320.00", "64.00", "384.00", [("subscription", "320.00")]),
    "RESTING": ("55.00", "11.00", "66.00", [("subscription", "55.00")]),
    "FRESH": ("400.00", "80.00", "480.00", [("subscription", "400.00")]),
    "LATE": ("118.45", "23.69", "142.14", [("subscription", "116.13"), ("surcharge", "2.32")]),
    "NEWYEAR": ("600.00", "120.00", "720.00", [("subscription", "600.00")]),
}


def load_history(ledger, tmp_path):
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [
        customer("WHOLE", fee="490.00"), customer("CARD", fee="300.00", method="card"),
        customer("QUIET", fee="200.00"), customer("PARTLY", fee="620.00"), customer("RESTING", fee="310.00"),
        customer("FRESH", fee="400.00"), customer("LATE", fee="300.00", method="card", start="2026-10-20"),
        customer("YEARLY", fee="100.00", method="transfer", cycle="annual", start="2026-10-01"),
        customer("NEWYEAR", fee="50.00", method="transfer", cycle="annual", start="2026-10-01"),
    ]), engine=ledger)
    import_file("invoices", write_csv(tmp_path / "i.csv", INVOICE_HEADER, [
        ["INV-W-202610", "WHOLE", "2026-11-01", "2026-12-01", "490.00", "", "", ""],
        ["INV-C-202610", "CARD", "2026-11-01", "2026-12-01", "300.00", "", "", ""],
        ["INV-Q-202610", "QUIET", "2026-11-01", "2026-12-01", "200.00", "", "", "true"],
        ["INV-P-1", "PARTLY", "2026-09-16", "2026-10-16", "620.00", "2026-09-16", "2026-10-15", ""],
        ["INV-R-1", "RESTING", "2026-09-21", "2026-10-21", "310.00", "2026-09-21", "2026-10-20", ""],
        ["INV-F-202609", "FRESH", "2026-10-01", "2026-10-31", "400.00", "", "", ""],
        ["INV-Y-2026", "YEARLY", "2026-10-01", "2026-10-31", "1200.00", "", "", ""],
    ]), engine=ledger)
    # RESTING paid INV-R-1: a standby still running is never imported for a customer in arrears
    import_file("payments", write_csv(tmp_path / "p.csv", ["payment_id", "invoice_id", "paid_on", "amount"],
                                      [["PAY-R-1", "INV-R-1", "2026-10-20", "372.00"]]), engine=ledger)
    import_file("standby", write_csv(tmp_path / "s.csv", ["customer_id", "reason", "start_on", "end_on"],
                                     [["RESTING", "temporary_inactivity", "2026-10-15", "2027-01-15"]]), engine=ledger)
    import_file("interventions", write_csv(tmp_path / "w.csv", ["intervention_id", "customer_id", "started_at",
                                                                "minutes", "category"], [
        ["W1", "WHOLE", "2026-10-06T10:00", "150", "assistance"],
        ["C1", "CARD", "2026-10-07T10:00", "140", "assistance"],
    ]), engine=ledger)
    return ledger


@pytest.fixture
def history(home, ledger, tmp_path):
    return load_history(ledger, tmp_path)


def close(ledger, month: str, issued_on: date):
    drafted = draft(month, TERMS, actor="test", flow_run_id=None, engine=ledger)
    return drafted, finalise(month, issued_on, TERMS, actor="test", flow_run_id=None, engine=ledger)


def monthly(ledger, month):
    with session_scope(ledger) as session:
        return {item["customer_id"]: item for item in views.invoices(session, month) if item["kind"] == "monthly"}


def test_a_month_wholly_partly_or_not_billed_by_imported_invoices_bills_only_the_rest_to_the_cent(history):
    drafted, closed = close(history, "2026-10", date(2026, 11, 1))
    found = monthly(history, "2026-10")
    assert set(found) == set(OCTOBER)          # QUIET and YEARLY: everything was billed already, no invoice
    for customer_id, (ht, vat, ttc, lines) in OCTOBER.items():
        invoice = found[customer_id]
        assert (invoice["total_ht"], invoice["total_vat"], invoice["total_ttc"]) == (ht, vat, ttc), customer_id
        assert [(line["category"], line["amount_ht"]) for line in invoice["lines"]] == lines, customer_id
    assert (found["PARTLY"]["period_start"], found["PARTLY"]["period_end"]) == ("2026-10-16", "2026-10-31")
    assert (found["LATE"]["period_start"], found["LATE"]["period_end"]) == ("2026-10-20", "2026-10-31")
    assert (found["NEWYEAR"]["period_start"], found["NEWYEAR"]["period_end"]) == ("2026-10-01", "2027-09-30")
    assert (found["WHOLE"]["period_start"], found["WHOLE"]["period_end"]) == (None, None)   # no subscription billed
    assert "à partir du 16 octobre 2026 : 16 jours sur 31" in found["PARTLY"]["lines"][0]["description"]

    # what finance reads: per customer what was billed already and by which invoice, and how many were skipped
    for report in (drafted, closed):
        assert report.skipped == 4                       # WHOLE, CARD, QUIET, YEARLY
        assert {item.customer_id for item in report.already_billed} == {"WHOLE", "CARD", "QUIET", "YEARLY",
                                                                        "PARTLY", "RESTING"}
    form = drafted.approval_form(None)
    assert ("- WHOLE Client WHOLE: subscription billed through 2026-10-31 by INV-W-202610 (nothing left to bill)"
            in form)
    assert "- PARTLY Client PARTLY: subscription billed through 2026-10-15 by INV-P-1 (15 of 31 days billed before)" in form
    assert "- YEARLY Client YEARLY: subscription billed through 2027-09-30 by INV-Y-2026 (nothing left to bill)" in form
    # the sentence of the close's log and result names the invoice that billed each customer's month already
    said = ("subscription already billed for 4 customer(s), not billed again (CARD by INV-C-202610, QUIET by "
            "INV-Q-202610, WHOLE by INV-W-202610, YEARLY by INV-Y-2026); 2 partly billed, the rest billed "
            "(PARTLY by INV-P-1, RESTING by INV-R-1)")
    assert drafted.subscription_summary() == closed.subscription_summary() == said
    assert said in form
    assert "INV-W-202610" in drafted.markdown("Draft invoices for 2026-10")
    [whole] = [item for item in drafted.already_billed if item.customer_id == "WHOLE"]
    assert whole.sentence() == "subscription billed through 2026-10-31 by INV-W-202610 (nothing left to bill)"

    # November: October's imported and own invoices bill nobody's November; each monthly customer pays it whole
    _, november = close(history, "2026-11", date(2026, 12, 1))
    found = monthly(history, "2026-11")
    assert {customer_id: invoice["total_ht"] for customer_id, invoice in found.items()} == {
        "WHOLE": "490.00", "CARD": "306.00", "QUIET": "200.00", "PARTLY": "620.00", "RESTING": "155.00",
        "FRESH": "400.00", "LATE": "306.00"}   # CARD, LATE: 300 + 2 % = 306.00; RESTING: all 30 days at half, 155.00
    assert november.already_billed == [] and november.skipped == 0


def test_rerunning_a_close_changes_nothing(history):
    close(history, "2026-10", date(2026, 11, 1))
    with session_scope(history) as session:
        before = views.invoices(session)
    again, _ = close(history, "2026-10", date(2026, 11, 2))
    assert again.status == "already_finalised"
    with session_scope(history) as session:
        assert views.invoices(session) == before


def test_no_day_before_a_customers_start_is_ever_billed(history):
    drafted, closed = close(history, "0001-01", date(2026, 11, 1))
    assert closed.invoices == 0 and drafted.invoices == 0
    assert closed.not_started == 9
    assert "9 customer(s) not started by 0001-01" in closed.subscription_summary()
    # September: only the customers whose history starts then (PARTLY from the 16th, RESTING from the 21st,
    # FRESH: its imported invoice billed September); LATE, the annual ones, WHOLE, CARD, QUIET start later
    drafted, _ = close(history, "2026-09", date(2026, 10, 1))
    assert drafted.invoices == 0 and drafted.skipped == 3 and drafted.not_started == 6


def test_an_imported_invoice_records_its_service_period_and_the_customers_start(history, tmp_path):
    with session_scope(history) as session:
        shown = {item["number"]: item for item in views.invoices(session) if item["kind"] == "imported"}
        starts = dict(session.execute(select(Customer.customer_id, Customer.subscription_start)).all())
    assert (shown["INV-W-202610"]["month"], shown["INV-W-202610"]["period_start"],
            shown["INV-W-202610"]["period_end"]) == ("2026-10", "2026-10-01", "2026-10-31")
    assert (shown["INV-Y-2026"]["month"], shown["INV-Y-2026"]["period_end"]) == ("2026-10", "2027-09-30")
    assert (shown["INV-P-1"]["month"], shown["INV-P-1"]["period_start"]) == ("2026-09", "2026-09-16")
    assert starts["WHOLE"] == date(2026, 10, 1) and starts["LATE"] == date(2026, 10, 20)
    assert starts["YEARLY"] == date(2026, 10, 1)

    # the same rows again: nothing changes; an earlier invoice moves the start back; a fee only (no subscription)
    # keeps its issue month and no period
    assert import_file("invoices", tmp_path / "i.csv", engine=history).unchanged == 7
    import_file("invoices", write_csv(tmp_path / "more.csv", INVOICE_HEADER, [
        ["INV-W-202608", "WHOLE", "2026-09-01", "2026-10-01", "490.00", "", "", ""],
        ["FEE-W-1", "WHOLE", "2026-09-12", "2026-10-12", "35.00", "", "", "false"],
    ]), engine=history)
    with session_scope(history) as session:
        assert session.get(Customer, "WHOLE").subscription_start == date(2026, 8, 1)
        [fee] = [item for item in views.invoices(session) if item["number"] == "FEE-W-1"]
    assert (fee["month"], fee["period_start"], fee["period_end"]) == ("2026-09", None, None)


def test_a_bad_or_changed_period_is_refused_at_its_row_and_column(history, tmp_path):
    bad = write_csv(tmp_path / "bad.csv", INVOICE_HEADER, [
        ["X-1", "WHOLE", "2026-11-01", "2026-12-01", "10.00", "2026-10-01", "", ""],
        ["X-2", "WHOLE", "2026-11-01", "2026-12-01", "10.00", "2026-10-31", "2026-10-01", ""],
        ["X-3", "WHOLE", "2026-11-01", "2026-12-01", "10.00", "2026-01-01", "2027-03-31", ""],
        ["X-4", "WHOLE", "2026-11-01", "2026-12-01", "10.00", "0001-01-01", "0001-01-31", ""],
        ["X-5", "WHOLE", "2026-11-01", "2026-12-01", "10.00", "", "", "maybe"],
    ])
    with pytest.raises(ImportRejected) as rejected:
        import_file("invoices", bad, engine=history)
    assert [line.split(": ")[0] for line in rejected.value.errors] == [
        "bad.csv:2:period_end", "bad.csv:3:period_end", "bad.csv:4:period_end", "bad.csv:5:period_start",
        "bad.csv:5:period_end", "bad.csv:6:subscription"]   # year 1 lies outside the dates' window, each cell
    changed = write_csv(tmp_path / "changed.csv", INVOICE_HEADER, [
        ["INV-W-202610", "WHOLE", "2026-11-01", "2026-12-01", "490.00", "2026-10-01", "2026-10-15", ""]])
    with pytest.raises(ImportRejected) as rejected:
        import_file("invoices", changed, engine=history)
    assert rejected.value.errors == ["changed.csv:2:period_end: 'INV-W-202610' was already imported with "
                                     "'2026-10-31'; a changed invoice row cannot be re-imported (now '2026-10-15')"]


def test_a_period_past_one_cycle_or_far_after_its_issue_is_refused_and_never_stops_the_billing(history, tmp_path):
    """A monthly customer's invoice for a year, or for a month long after its issue, would be the
    customer's billed-through day and stop every close in between: refused at its row, naming what is
    allowed. Billed ahead by a month, or an annual customer's year, is what invoices do: imported."""
    bad = write_csv(tmp_path / "long.csv", INVOICE_HEADER, [
        ["Y-1", "WHOLE", "2026-10-01", "2026-10-31", "490.00", "2026-11-01", "2027-10-31", ""],
        ["Y-2", "WHOLE", "2026-11-01", "2026-12-01", "490.00", "2027-03-01", "2027-03-31", "true"],
        ["Y-3", "YEARLY", "2026-10-01", "2026-10-31", "1200.00", "2026-10-01", "2027-10-01", ""],
        ["Y-4", "FRESH", "2026-10-25", "2026-11-25", "400.00", "2026-11-01", "2026-11-30", ""],
    ])
    with pytest.raises(ImportRejected) as rejected:
        import_file("invoices", bad, engine=history)
    assert rejected.value.errors == [
        "long.csv:2:period_end: the period 2026-11-01 to 2027-10-31 is longer than one billing cycle of this monthly "
        "customer: a period from 2026-11-01 ends by 2026-11-30 at the latest",
        "long.csv:3:period_start: the period starts 2027-03-01, past the month after the invoice's issue (2026-11-01): "
        "an invoice bills ahead one month at most, so its period starts by 2026-12-31 at the latest",
        "long.csv:4:period_end: the period 2026-10-01 to 2027-10-01 is longer than one billing cycle of this annual "
        "customer: a period from 2026-10-01 ends by 2027-09-30 at the latest"]
    with session_scope(history) as session:
        assert not [item for item in views.invoices(session) if item["number"].startswith("Y-")]
    # a fee (no subscription) is not a cycle's invoice; November billed ahead on 25 October is
    fine = write_csv(tmp_path / "fine.csv", INVOICE_HEADER, [
        ["Y-4", "FRESH", "2026-10-25", "2026-11-25", "400.00", "2026-11-01", "2026-11-30", ""],
        ["Y-5", "WHOLE", "2026-10-01", "2026-10-31", "90.00", "2026-11-01", "2027-10-31", "false"]])
    assert import_file("invoices", fine, engine=history).inserted == 2


def test_an_imported_invoice_never_bills_a_day_billed_already_by_the_product_or_an_import(history, tmp_path):
    """probe19b #2: October closed, an old system's invoice for October (or half of it and half of November) was
    taken silently and the customer owed those days twice. Refused at its row, naming the invoice and the days;
    so is a period left to its default (the month before a monthly customer's issue, an annual customer's year)
    and a row overlapping a row above. A credit note gives money back and never re-opens the days."""
    close(history, "2026-10", date(2026, 11, 1))
    fresh = monthly(history, "2026-10")["FRESH"]["number"]    # the product billed FRESH 2026-10-01..2026-10-31
    twice = ("(no subscription day is billed twice; subscription=false for an invoice that did not bill it)")
    bad = write_csv(tmp_path / "twice.csv", INVOICE_HEADER, [
        ["OLD-F-OCT", "FRESH", "2026-11-02", "2026-12-02", "400.00", "2026-10-01", "2026-10-31", ""],
        ["OLD-F-MID", "FRESH", "2026-11-02", "2026-12-02", "400.00", "2026-10-15", "2026-11-14", "true"],
        ["OLD-W-OCT", "WHOLE", "2026-11-05", "2026-12-05", "490.00", "", "", ""],        # implied: October
        ["OLD-Y-27", "YEARLY", "2026-11-16", "2026-12-16", "1200.00", "", "", ""],      # implied: Nov 2026..Oct 2027
        ["OLD-L-NOV", "LATE", "2026-11-02", "2026-12-02", "300.00", "2026-11-01", "2026-11-30", ""],
        ["OLD-L-MID", "LATE", "2026-11-02", "2026-12-02", "300.00", "2026-11-20", "2026-12-19", ""],  # the row above
        ["OLD-W-FEE", "WHOLE", "2026-11-05", "2026-12-05", "90.00", "", "", "false"],  # no subscription: no days
    ])
    with pytest.raises(ImportRejected) as rejected:
        import_file("invoices", bad, engine=history)
    assert rejected.value.errors == [
        f"twice.csv:2:period_start: the service period 2026-10-01 to 2026-10-31 bills 2026-10-01 to 2026-10-31 again: "
        f"{fresh} billed 2026-10-01 to 2026-10-31 already {twice}",
        f"twice.csv:3:period_start: the service period 2026-10-15 to 2026-11-14 bills 2026-10-15 to 2026-10-31 again: "
        f"{fresh} billed 2026-10-01 to 2026-10-31 already {twice}",
        f"twice.csv:4:issued_on: the service period 2026-10-01 to 2026-10-31 bills 2026-10-01 to 2026-10-31 again: "
        f"INV-W-202610 billed 2026-10-01 to 2026-10-31 already {twice}",
        f"twice.csv:5:issued_on: the service period 2026-11-01 to 2027-10-31 bills 2026-11-01 to 2027-09-30 again: "
        f"INV-Y-2026 billed 2026-10-01 to 2027-09-30 already {twice}",
        f"twice.csv:7:period_start: the service period 2026-11-20 to 2026-12-19 bills 2026-11-20 to 2026-11-30 again: "
        f"OLD-L-NOV (row 6 of this file) billed 2026-11-01 to 2026-11-30 already {twice}"]
    with session_scope(history) as session:
        assert not [item for item in views.invoices(session) if item["number"].startswith("OLD-")]
        assert billed_through_days(session, ["FRESH", "WHOLE", "LATE", "YEARLY"]) == {
            "FRESH": date(2026, 10, 31), "WHOLE": date(2026, 10, 31), "LATE": date(2026, 10, 31),
            "YEARLY": date(2027, 9, 30)}

    # November from the old system, then credited whole: the days stay billed, a second November is refused
    header = ["credit_note_id", "invoice_number", "amount_ttc", "reason", "issued_on"]
    november = write_csv(tmp_path / "nov.csv", INVOICE_HEADER, [
        ["OLD-F-NOV", "FRESH", "2026-11-02", "2026-12-02", "400.00", "2026-11-01", "2026-11-30", ""]])
    assert import_file("invoices", november, engine=history).inserted == 1
    assert import_file("credit-notes", write_csv(tmp_path / "cn.csv", header, [
        ["CN-F-NOV", "OLD-F-NOV", "480.00", "Billed by mistake", "2026-11-02"]]), engine=history).inserted == 1
    again = write_csv(tmp_path / "again.csv", INVOICE_HEADER, [
        ["OLD-F-NOV-2", "FRESH", "2026-12-01", "2026-12-31", "400.00", "", "", ""]])   # implied: November
    with pytest.raises(ImportRejected) as rejected:
        import_file("invoices", again, engine=history)
    assert rejected.value.errors == [
        f"again.csv:2:issued_on: the service period 2026-11-01 to 2026-11-30 bills 2026-11-01 to 2026-11-30 again: "
        f"OLD-F-NOV billed 2026-11-01 to 2026-11-30 already {twice}"]
    # the same file imported again changes nothing (its own row is no overlap of itself)
    assert import_file("invoices", november, engine=history).unchanged == 1
    # a void invoice bills no day; made open again once another billed its days, it would bill them twice
    void = ["OLD-W-VOID", "WHOLE", "2026-11-05", "2026-12-05", "490.00", "2026-10-01", "2026-10-31", ""]
    vheader = INVOICE_HEADER + ["status"]
    assert import_file("invoices", write_csv(tmp_path / "v.csv", vheader, [void + ["void"]]),
                       engine=history).inserted == 1
    with pytest.raises(ImportRejected) as rejected:
        import_file("invoices", write_csv(tmp_path / "v2.csv", vheader, [void + ["open"]]), engine=history)
    assert rejected.value.errors == [
        f"v2.csv:2:status: 'OLD-W-VOID' was void: made open again, the service period 2026-10-01 to 2026-10-31 "
        f"bills 2026-10-01 to 2026-10-31 again: INV-W-202610 billed 2026-10-01 to 2026-10-31 already {twice}"]
    # and the November close bills FRESH no day of November (nor anything else: it had no work)
    close(history, "2026-11", date(2026, 12, 1))
    assert "FRESH" not in monthly(history, "2026-11")


def test_show_invoices_filters_by_service_month_and_by_issue_month(history):
    close(history, "2026-10", date(2026, 11, 1))
    october = json.loads(lifecycle("show", "invoices", "--month", "2026-10", "--format", "json").stdout)
    issued = json.loads(lifecycle("show", "invoices", "--issued-in", "2026-11", "--format", "json").stdout)
    whole = lambda records: sorted(item["number"] for item in records if item["customer_id"] == "WHOLE")  # noqa: E731
    own = monthly(history, "2026-10")["WHOLE"]["number"]
    assert whole(october) == sorted(["INV-W-202610", own])   # both bill October's service
    assert whole(issued) == sorted(["INV-W-202610", own])    # both issued on 1 November
    assert all(item["month"] == "2026-10" for item in october)
    assert all(item["issued_on"].startswith("2026-11") for item in issued)
    assert "INV-F-202609" not in {item["number"] for item in october + issued}
    table = lifecycle("show", "invoices", "--month", "2026-10").stdout.splitlines()
    assert "period_start" in table[0] and "period_end" in table[0]
    refused = lifecycle("show", "customers", "--issued-in", "2026-11", check=False)
    assert refused.returncode == 2 and "only invoices" in refused.stderr


def test_a_ledger_from_before_gets_the_periods_its_invoices_billed(history, ledger_url):
    """Migration 0012: invoices written before periods existed get the ones they billed, once."""
    from alembic import command
    from sqlalchemy import update

    from ledger.id_indexes import INDEXES
    from ledger.migrate import _config, upgrade
    from ledger.models import Invoice

    close(history, "2026-10", date(2026, 11, 1))
    history.dispose()
    # what came after 0016 undone by its own downgrades (a migration added later is undone here too); the
    # upgrade below from 0011 would otherwise meet its tables already there, fail, and leave this database
    # without the tables it rolled back (every later test of the worker then failed to empty it)
    command.downgrade(_config(ledger_url), "0016_ids_nocase")
    with history.begin() as connection:   # as a ledger of 0011 holds them: no period, month = issue month
        connection.execute(update(Invoice).values(period_start=None, period_end=None, bills_subscription=False))
        for invoice_id, issued_on in connection.execute(select(Invoice.id, Invoice.issued_on)
                                                        .where(Invoice.kind == "imported")).all():
            connection.execute(update(Invoice).where(Invoice.id == invoice_id).values(month=f"{issued_on:%Y-%m}"))
        connection.execute(update(Customer).values(subscription_start=None))
        connection.execute(text("DROP TABLE installation"))   # a ledger of 0011 had no identity yet (0013)
        connection.execute(text("DROP TABLE webhook_receipts"))   # nor the webhook's receipts (0014)
        for index in INDEXES:                                        # nor lower(id) indexed (0016)
            connection.execute(text(f"DROP INDEX {index.name}"))
    history.dispose()
    command.stamp(_config(ledger_url), "0011_moving_in")
    upgrade(ledger_url)
    with session_scope(history) as session:
        shown = {(item["customer_id"], item["kind"]): item for item in views.invoices(session)
                 if item["number"] not in ("INV-P-1", "INV-R-1")}
        starts = dict(session.execute(select(Customer.customer_id, Customer.subscription_start)).all())
    period = lambda key: (shown[key]["month"], shown[key]["period_start"], shown[key]["period_end"])  # noqa: E731
    assert period(("WHOLE", "imported")) == ("2026-10", "2026-10-01", "2026-10-31")
    assert period(("FRESH", "imported")) == ("2026-09", "2026-09-01", "2026-09-30")
    assert period(("YEARLY", "imported")) == ("2026-10", "2026-10-01", "2027-09-30")
    assert period(("FRESH", "monthly")) == ("2026-10", "2026-10-01", "2026-10-31")
    assert period(("NEWYEAR", "monthly")) == ("2026-10", "2026-10-01", "2027-09-30")
    assert period(("WHOLE", "monthly")) == ("2026-10", None, None)      # it billed interventions only
    assert (starts["WHOLE"], starts["FRESH"], starts["LATE"]) == (date(2026, 10, 1), date(2026, 9, 1),
                                                                  date(2026, 10, 20))
    # and the next close bills November once
    _, november = close(history, "2026-11", date(2026, 12, 1))
    assert monthly(history, "2026-11")["WHOLE"]["total_ht"] == "490.00"


@pytest.mark.prefect
def test_the_close_run_counts_and_names_what_it_did_not_bill_again(history, prefect_server):
    """The flow as `lifecycle run monthly-close` runs it: its result counts the customers skipped, and the
    drafts artifact finance reads names, per customer, the invoice that billed the month already."""
    import httpx

    from flows.monthly_close import monthly_close

    result = monthly_close(month="2026-10", force_reason="a month of the test's own history, whatever today is")
    assert (result["status"], result["invoices"], result["total_ht"]) == ("finalised", 7, "1614.65")
    assert (result["subscription_already_billed"], result["subscription_partly_billed"]) == (4, 2)
    assert "WHOLE by INV-W-202610" in result["not_billed_again"]    # what `lifecycle run monthly-close` prints
    assert result["subscription_not_started"] == 0
    [drafts] = httpx.post(f"{prefect_server}/artifacts/filter", json={
        "artifacts": {"key": {"any_": ["monthly-close-drafts"]}}, "sort": "CREATED_DESC", "limit": 1}).json()
    assert "## Subscription already billed (not billed again)" in drafts["data"]
    assert "- WHOLE Client WHOLE: subscription billed through 2026-10-31 by INV-W-202610" in drafts["data"]


def test_the_demos_history_is_never_billed_again(home, ledger):
    """A demo made on 22 November 2026 imported the subscriptions through September (`INV-C002-202609`,
    ...), so closing September bills none of them again; October, which its history left to the next
    close, bills every monthly customer's subscription once."""
    lifecycle("demo", "--customers", "12", "--as-of", "2026-11-22")
    with session_scope(ledger) as session:
        annual = {customer_id for customer_id, cycle in session.execute(
            select(Customer.customer_id, Customer.billing_cycle)) if cycle == "annual"}
    september, _ = close(ledger, "2026-09", date(2026, 11, 22))
    assert not [line for invoice in monthly(ledger, "2026-09").values() for line in invoice["lines"]
                if line["category"] == "subscription" and line["amount_ht"] != "0.00"
                and invoice["customer_id"] not in annual]
    assert september.skipped >= 12 - len(annual)
    [c002] = [item for item in september.already_billed if item.customer_id == "C002"]
    assert c002.sentence() == "subscription billed through 2026-09-30 by INV-C002-202609 (nothing left to bill)"
    close(ledger, "2026-10", date(2026, 11, 22))
    october = monthly(ledger, "2026-10")
    billed = {customer_id for customer_id, invoice in october.items()
              if any(line["category"] == "subscription" for line in invoice["lines"])}
    assert billed >= {f"C{number:03d}" for number in range(1, 13)} - annual
