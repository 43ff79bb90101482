"""Missed commitments pay back (issue 26, items 4 and 5), on SQLite and PostgreSQL: a breach is credited by
the next close to the cent, never twice (a close run again, a draft redone, the months after), as its own
line citing its ticket in the customer's language, visible in the PDF, the Factur-X XML and the workbook;
a credit larger than the invoice is a credit note (381) on the invoice that billed the month (imported
history); a moment moved after the month's close is corrected on the next invoice; and the commitment
metrics LibreOffice recalculates from the workbook's own cells equal the ledger's.

Due times by hand (docs/reference/policy.md "Service commitments": Monday-Friday 09:00-18:00 Paris, no
public holiday in October 2026), with the terms' default credits turned on (first response 2 %, delivery
5 %, a critical blocking bug's workaround 10 % of the monthly fee; cap 30 %):

ACME (monthly, 500.00 EUR, VAT 20 %)
  T-1 assistance, Monday 12 Oct 10:00: first response due Wednesday 14 Oct 10:00, answered 11:00 -> missed:
      2 % of 500.00 = 10.00. Response: 12 Oct 10-18 (8 h) + 13 Oct (9 h) + 14 Oct 9-11 (2 h) = 19 working hours.
  T-2 bug (major), Thursday 1 Oct 10:00: answered 11:00 (1 h, met); delivery due at 18:00 of the 15th working
      day after 1 Oct, Thursday 22 Oct 18:00; resolved Friday 23 Oct 10:00 -> missed: 5 % = 25.00.
      Resolution: 1 Oct 10-18 (8 h) + 15 working days (2-22 Oct, 135 h) + 23 Oct 9-10 (1 h) = 144 h.
  T-3 question, Monday 5 Oct 10:00, answered 12:00 (2 h) -> met.
  T-4 question, Tuesday 6 Oct 09:00, answered 17:00 (8 h) -> met.
  October's invoice: 500.00 - 10.00 - 25.00 = 465.00 HT, VAT 93.00, 558.00 TTC.
DELTA (annual from 1 March, 100.00 EUR: its year billed by an imported invoice of 1,200.00 HT)
  T-9 blocking bug (critical), Monday 12 Oct 10:00: answered 11:00 (met); workaround due 4 working hours
      later, 14:00, found Tuesday 13 Oct 10:00 -> missed: 10 % of 100.00 = 10.00. October bills DELTA
      nothing else: a credit note of -10.00 HT, -12.00 TTC, on the imported invoice.
"""

from __future__ import annotations

import re
from itertools import takewhile
import subprocess
from datetime import date, datetime
from decimal import Decimal

import pytest
from lxml import etree
from openpyxl import load_workbook
from sqlalchemy import func, select

from blocks.seller import Seller
from blocks.storage import ObjectStorage
from ledger import keys
from ledger.db import session_scope
from ledger.imports import import_file
from ledger.models import Invoice, ServiceCredit
from operations.close import draft, finalise
from operations.commitments import month_metrics
from policy.calendar import PARIS
from policy.service_credits import ServiceCredits
from policy.terms import Terms
from reports.invoice_document import check_facturx
from operations.export import export_month
from operations.invoice_documents import issue_documents
from tests.integration.test_export import about_of, recalculate, records
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv

TERMS = Terms(service_credits=ServiceCredits(enabled=True))
TICKETS = ["ticket_id", "customer_id", "received_at", "type", "channel", "severity", "level", "first_response_at",
           "workaround_at", "resolved_at", "closed_at"]
ROWS = [
    ["T-1", "ACME", "2026-10-12T10:00", "assistance", "mail", "", "1", "2026-10-14T11:00", "", "", "2026-10-15T10:00"],
    ["T-2", "ACME", "2026-10-01T10:00", "bug", "mail", "major", "1", "2026-10-01T11:00", "", "2026-10-23T10:00",
     "2026-10-26T09:00"],
    ["T-3", "ACME", "2026-10-05T10:00", "question", "mail", "", "1", "2026-10-05T12:00", "", "", "2026-10-06T10:00"],
    ["T-4", "ACME", "2026-10-06T09:00", "question", "mail", "", "1", "2026-10-06T17:00", "", "", "2026-10-07T10:00"],
    ["T-9", "DELTA", "2026-10-12T10:00", "blocking_bug", "phone", "critical", "1", "2026-10-12T11:00",
     "2026-10-13T10:00", "", "2026-10-14T10:00"],
]


@pytest.fixture
def credited(home, ledger, tmp_path, monkeypatch):
    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-12-05")
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [
        customer("ACME", fee="500.00"),
        customer("DELTA", fee="100.00", method="transfer", cycle="annual", start="2026-03-01")]), engine=ledger)
    import_file("invoices", write_csv(tmp_path / "i.csv", [
        "invoice_id", "customer_id", "issued_on", "due_on", "amount_ht", "vat_rate", "period_start", "period_end",
        "subscription"], [["OLD-D", "DELTA", "2026-03-01", "2026-03-31", "1200.00", "0.20", "2026-03-01",
                           "2027-02-28", "true"]]), engine=ledger)
    import_file("tickets", write_csv(tmp_path / "t.csv", TICKETS, ROWS), engine=ledger)
    return ledger


def close(ledger, month: str, issued_on: date):
    draft(month, TERMS, actor="test", flow_run_id=None, engine=ledger)
    return finalise(month, issued_on, TERMS, actor="test", flow_run_id=None, engine=ledger)


def documents(ledger, month: str) -> dict[tuple[str, str], Invoice]:
    with session_scope(ledger) as session:
        found = session.scalars(select(Invoice).where(Invoice.close_month == month)).all()
        for invoice in found:
            invoice.lines  # loaded before the session ends
            session.expunge(invoice)
        return {(invoice.customer_id, invoice.kind): invoice for invoice in found}


def lines(invoice: Invoice) -> list[tuple[str, Decimal]]:
    return [(line.description, line.amount_ht) for line in sorted(invoice.lines, key=lambda line: line.position)]


def credits_applied(ledger) -> list[tuple]:
    with session_scope(ledger) as session:
        return session.execute(select(ServiceCredit.customer_id, ServiceCredit.month, ServiceCredit.ticket_id,
                                      ServiceCredit.clock, ServiceCredit.amount, ServiceCredit.close_month)
                               .order_by(ServiceCredit.close_month, ServiceCredit.ticket_id)).all()


CREDIT_T1 = "Crédit de service : engagement manqué (première réponse), ticket T-1, octobre 2026, 2\u00a0% de " \
            "l'abonnement mensuel"
CREDIT_T2 = "Crédit de service : engagement manqué (livraison), ticket T-2, octobre 2026, 5\u00a0% de l'abonnement " \
            "mensuel"
CREDIT_T9 = "Crédit de service : engagement manqué (contournement d'un bug bloquant), ticket T-9, octobre 2026, " \
            "10\u00a0% de l'abonnement mensuel"


def test_a_breach_is_credited_by_the_next_close_to_the_cent_and_never_twice(credited, tmp_path):
    # a draft redone (finance refused it, or a run died) gives the same lines, and keeps one record per miss
    draft("2026-10", TERMS, actor="test", flow_run_id=None, engine=credited)
    october = close(credited, "2026-10", date(2026, 11, 2))
    assert october.status == "finalised"
    made = documents(credited, "2026-10")
    acme = made[("ACME", "monthly")]
    assert lines(acme) == [("Abonnement octobre 2026", Decimal("500.00")), (CREDIT_T1, Decimal("-10.00")),
                           (CREDIT_T2, Decimal("-25.00"))]
    assert (acme.total_ht, acme.total_vat, acme.total_ttc) == (Decimal("465.00"), Decimal("93.00"), Decimal("558.00"))

    # more than DELTA's invoice (October bills it nothing): a credit note on the invoice that billed its year
    note = made[("DELTA", "credit_note")]
    assert ("DELTA", "monthly") not in made
    assert lines(note) == [(CREDIT_T9, Decimal("-10.00"))]
    assert (note.total_ht, note.total_vat, note.total_ttc) == (Decimal("-10.00"), Decimal("-2.00"), Decimal("-12.00"))
    with session_scope(credited) as session:
        assert session.get(Invoice, note.credits_id).external_id == "OLD-D"
        assert session.scalar(select(func.count()).select_from(Invoice).where(Invoice.total_ttc < 0,
                                                                              Invoice.kind != "credit_note")) == 0
    assert credits_applied(credited) == [
        ("ACME", "2026-10", "T-1", "first_response", Decimal("10.00"), "2026-10"),
        ("ACME", "2026-10", "T-2", "delivery", Decimal("25.00"), "2026-10"),
        ("DELTA", "2026-10", "T-9", "blocking_workaround", Decimal("10.00"), "2026-10")]

    # the close run again, and the next month's close: nothing given back twice
    assert close(credited, "2026-10", date(2026, 11, 2)).status == "already_finalised"
    close(credited, "2026-11", date(2026, 12, 1))
    november = documents(credited, "2026-11")
    assert set(november) == {("ACME", "monthly")}
    assert lines(november[("ACME", "monthly")]) == [("Abonnement novembre 2026", Decimal("500.00"))]
    assert len(credits_applied(credited)) == 3

    # the PDF and the Factur-X XML of each, as the customer receives them
    issue_documents(Seller(), TERMS, ObjectStorage(), month="2026-10", actor="test", engine=credited)
    for document, expected, type_code in ((acme, [CREDIT_T1, CREDIT_T2], "380"), (note, [CREDIT_T9], "381")):
        with ObjectStorage().store().open(keys.invoice_document(document.number, date(2026, 11, 2))) as handle:
            pdf = handle.read()
        text = " ".join(subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True,
                                       check=True).stdout.decode().split())
        tree = etree.fromstring(check_facturx(pdf))
        assert tree.findtext(".//{*}ExchangedDocument/{*}TypeCode") == type_code
        items = [(item.findtext(".//{*}SpecifiedTradeProduct/{*}Name"),
                  item.findtext(".//{*}SpecifiedTradeSettlementLineMonetarySummation/{*}LineTotalAmount"))
                 for item in tree.iter("{*}IncludedSupplyChainTradeLineItem")]
        for description in expected:
            # the PDF wraps a long line in its cell: its words are all there, in order
            assert re.search(r"\s+".join(map(re.escape, description.replace("\u00a0", " ").split())),
                             text.replace("\u00a0", " ")), (description, text)
            [amount] = [amount for name, amount in items if name == description]
            assert Decimal(amount).copy_abs() == (Decimal("25.00") if "T-2" in description else Decimal("10.00"))


def test_a_moment_moved_after_the_close_is_corrected_on_the_next_invoice(credited, tmp_path):
    close(credited, "2026-10", date(2026, 11, 2))
    # the helpdesk's export corrected: T-1 was answered at 09:30, before its due time -> met, nothing was owed
    moved = [row[:] for row in ROWS if row[0] == "T-1"]
    moved[0][7] = "2026-10-14T09:30"
    import_file("tickets", write_csv(tmp_path / "moved.csv", TICKETS, moved), engine=credited)
    close(credited, "2026-11", date(2026, 12, 1))
    acme = documents(credited, "2026-11")[("ACME", "monthly")]
    assert lines(acme) == [
        ("Abonnement novembre 2026", Decimal("500.00")),
        ("Correction de crédit de service : engagement (première réponse), ticket T-1, octobre 2026", Decimal("10.00"))]
    assert (acme.total_ht, acme.total_ttc) == (Decimal("510.00"), Decimal("612.00"))
    # October's invoice stays as issued; the next close corrects nothing more
    assert lines(documents(credited, "2026-10")[("ACME", "monthly")])[1] == (CREDIT_T1, Decimal("-10.00"))
    close(credited, "2026-12", date(2027, 1, 4))
    assert lines(documents(credited, "2026-12")[("ACME", "monthly")]) == [("Abonnement décembre 2026",
                                                                            Decimal("500.00"))]
    with session_scope(credited) as session:
        assert session.execute(select(ServiceCredit.ticket_id, func.sum(ServiceCredit.amount))
                               .group_by(ServiceCredit.ticket_id).order_by(ServiceCredit.ticket_id)).all() == [
            ("T-1", Decimal("0.00")), ("T-2", Decimal("25.00")), ("T-9", Decimal("10.00"))]


def test_the_workbook_shows_each_credit_beside_its_ticket_and_metrics_libreoffice_recalculates_to_the_ledger(
        credited, tmp_path):
    close(credited, "2026-10", date(2026, 11, 2))
    exported = export_month("2026-10", ObjectStorage(), TERMS, flow_run_id=None, engine=credited)
    original = tmp_path / "2026-10.xlsx"
    with ObjectStorage().store().open(exported.key) as handle:
        original.write_bytes(handle.read())
    computed = load_workbook(recalculate(original, tmp_path / "recalc"), data_only=True)

    clocks = records(computed, "commitments")
    assert sorted((row["ticket_id"], row["clock"], row["result"], row["service_credit"]) for row in clocks) == [
        ("T-1", "Première réponse", "Manqué", 10), ("T-2", "Livraison", "Manqué", 25),
        ("T-2", "Première réponse", "Tenu", None), ("T-3", "Première réponse", "Tenu", None),
        ("T-4", "Première réponse", "Tenu", None), ("T-9", "Contournement (bug bloquant)", "Manqué", 10),
        ("T-9", "Première réponse", "Tenu", None)]

    # the metrics: each ticket's working hours, then per group the figures LibreOffice computed from them
    about = about_of(computed)
    sheet = computed[about["sheet.metrics"]]
    assert sheet.title == "Mesures des engagements" and computed.sheetnames[-1] == "À propos"
    body = list(sheet.iter_rows(values_only=True))
    codes = [about[f"column.{sheet.title}.{label}"] if label else None for label in body[0]]
    tickets = [dict(zip(codes, row)) for row in takewhile(any, body[1:])]
    assert [(row["ticket_id"], row["response_hours"], row["resolution_hours"], row["paused_hours"])
            for row in tickets] == [("T-2", 1, 144, 0), ("T-3", 2, None, 0), ("T-4", 8, None, 0),
                                    ("T-1", 19, None, 0), ("T-9", 1, None, 0)]
    header = body.index(next(row for row in body[len(tickets) + 2:] if row[0] == "Client"))
    codes = [about[f"column.{sheet.title}.{label}"] if label else None for label in body[header]]
    figures = [dict(zip(codes, row)) for row in body[header + 1:] if row[0]]
    with session_scope(credited) as session:
        ledger = month_metrics(session, TERMS, datetime(2026, 10, 31, 23, 59, tzinfo=PARIS))
    assert len(figures) == len(ledger) == 4

    def same(sheet_value, ledger_value) -> bool:
        if ledger_value in (None, ""):
            return sheet_value in (None, "")
        if isinstance(ledger_value, str) and ledger_value.endswith(" %"):
            return f"{sheet_value * 100:.1f} %" == ledger_value
        return Decimal(str(round(sheet_value, 2))).quantize(Decimal("0.01")) == Decimal(str(ledger_value))

    for shown, expected in zip(figures, ledger):
        assert shown["customer_id"] == expected["customer_id"]
        for name in ("tickets", "met", "missed", "rate", "median_response", "p90_response", "median_resolution",
                     "p90_resolution", "paused_hours"):
            assert same(shown[name], expected[name]), (name, shown, expected)
    # by hand: ACME's questions answered in 2 and 8 working hours: median 5, 90th percentile 2 + 0.9 x 6 = 7.4
    questions = next(row for row in ledger if row["type"] == "question")
    assert (questions["tickets"], questions["median_response"], questions["p90_response"], questions["rate"]) == (
        2, "5.00", "7.40", "100.0 %")
    bug = next(row for row in ledger if row["type"] == "bug")
    assert (bug["met"], bug["missed"], bug["rate"], bug["median_resolution"]) == (1, 1, "50.0 %", "144.00")


def test_a_clock_that_waited_for_the_customer_is_not_credited(credited, tmp_path):
    # T-1 was answered an hour late (due Wednesday 14 October 10:00, answered 11:00) unless it waited: three
    # working hours waiting for the customer on the Monday move its due time to 13:00, so it was met
    import_file("ticket-events", write_csv(tmp_path / "e.csv", ["ticket_id", "at", "status"], [
        ["T-1", "2026-10-12T11:00", "waiting_customer"], ["T-1", "2026-10-12T14:00", "in_progress"]]),
        engine=credited)
    close(credited, "2026-10", date(2026, 11, 2))
    acme = documents(credited, "2026-10")[("ACME", "monthly")]
    assert lines(acme) == [("Abonnement octobre 2026", Decimal("500.00")), (CREDIT_T2, Decimal("-25.00"))]
    assert (acme.total_ht, acme.total_ttc) == (Decimal("475.00"), Decimal("570.00"))
    assert [row.ticket_id for row in credits_applied(credited) if row.customer_id == "ACME"] == ["T-2"]
