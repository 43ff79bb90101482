"""212 Encaissée and e-reporting, on SQLite and PostgreSQL, against a fake approved platform on loopback: a
French business's payment sends its 212 once (two runs, one flow; a kill between sending and recording still
one), a refund sends the correction, nothing is owed when the seller opted for VAT on debits, and a foreign
customer's month goes to e-reporting, read back to the cent."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from blocks.einvoicing import EInvoicing
from blocks.notifications import Notifications
from blocks.platform import PlatformControl
from blocks.seller import Seller
from blocks.settings import Settings
from blocks.storage import ObjectStorage
from ledger.db import session_scope
from ledger.einvoicing import EinvoiceFlow
from ledger.imports import import_file
from ledger.models import Customer, Invoice
from operations.close import draft, finalise
from operations.einvoicing import FlowSpec, deposit_once
from operations.einvoicing_payments import PeriodRefused, report_due, report_period, send_cashed
from policy.einvoicing import BuyerKind, FlowKind, FlowState, ProcessingRule, Syntax
from policy.terms import Terms
from reports.einvoicing_cdar import read_cashed
from reports.einvoicing_ereporting import read_ereport
from tests.support.builders import write_csv
from tests.support.cli import lifecycle_in_process
from tests.support.fake_einvoicing import FakePlatform
from tests.support.scenarios import load_october

ACME_SIREN = "732829320"


@pytest.fixture
def platform(tmp_path):
    fake = FakePlatform(log_path=tmp_path / "platform-flows.jsonl")
    with fake.running():
        yield fake


def settings_for(platform: FakePlatform, **seller) -> Settings:
    chosen = Seller()
    if seller:
        chosen = chosen.model_copy(update=seller)     # vat_on_debits: the seller block's option (helper A's field)
    return Settings(terms=Terms(), storage=ObjectStorage(), platform=PlatformControl(), notifications=Notifications(),
                    seller=chosen, einvoicing=EInvoicing(base_url=platform.url))


@pytest.fixture
def issued(ledger, tmp_path, monkeypatch, platform):
    """October closed on 2 November: ACME a French business whose invoice the platform took, GAMMA a German
    company, BETA a private person (mailed, reported)."""
    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-11-02")
    monkeypatch.setenv("LIFECYCLE_EINVOICING_TOKEN", platform.token)
    load_october(ledger, tmp_path)
    draft("2026-10", Terms(), actor="test", flow_run_id=None, engine=ledger)
    finalise("2026-10", date(2026, 11, 2), Terms(), actor="test", flow_run_id=None, engine=ledger)
    with session_scope(ledger, write=True) as session:
        for customer_id, kind, siren, vat in (("ACME", BuyerKind.FR_BUSINESS, ACME_SIREN, None),
                                              ("GAMMA", BuyerKind.FOREIGN_BUSINESS, None, "DE129273398"),
                                              ("BETA", BuyerKind.PRIVATE, None, None)):
            row = session.get(Customer, customer_id)
            row.buyer_kind, row.siren, row.vat_number = kind, siren, vat
        numbers = {invoice.customer_id: (invoice.id, invoice.number) for invoice in session.scalars(select(Invoice))}
    # ACME's document deposited (helper B's run does it; here, the same one way)
    invoice_id, number = numbers["ACME"]
    deposit_once(EInvoicing(base_url=platform.url),
                 FlowSpec(number, FlowKind.DOCUMENT, Syntax.FACTUR_X, ProcessingRule.B2B, f"{number}.pdf",
                          lambda: b"%PDF-1.7 the invoice", invoice_id=invoice_id, customer_id="ACME"),
                 actor="test", engine=ledger)
    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-11-25")
    return {customer: number for customer, (_, number) in numbers.items()}


def pay(tmp_path, rows, name="p.csv"):
    import_file("payments", write_csv(tmp_path / name, ["payment_id", "invoice_id", "paid_on", "amount"], rows))


def cdar_flows(platform: FakePlatform) -> dict:
    return {flow.tracking_id: read_cashed(flow.content) for flow in platform.deposits("CDAR")}


def test_each_payment_sends_its_212_once_with_the_amount_and_the_day(issued, platform, tmp_path, ledger):
    acme = issued["ACME"]                                   # 1080.00 TTC
    pay(tmp_path, [["PAY-1", acme, "2026-11-10", "500.00"], ["PAY-2", acme, "2026-11-20", "580.00"],
                   ["PAY-G", issued["GAMMA"], "2026-11-15", "158.24"]])     # GAMMA: no 212, it is reported
    first = send_cashed(settings_for(platform), actor="test", flow_run_id=None)
    assert first.line() == "212 Encaissée: 2 sent"
    sent = cdar_flows(platform)
    assert sorted(sent) == [f"{acme}-212-PAY-1", f"{acme}-212-PAY-2"]
    one = sent[f"{acme}-212-PAY-1"]
    assert (one.invoice_number, one.invoice_issued_on, one.code, one.label) == (acme, date(2026, 11, 2), 212,
                                                                                 "Encaissée")
    assert (one.amount, one.cashed_on, one.buyer_siren) == (Decimal("500.00"), date(2026, 11, 10), ACME_SIREN)
    assert (sent[f"{acme}-212-PAY-2"].amount, sent[f"{acme}-212-PAY-2"].cashed_on) == (Decimal("580.00"),
                                                                                       date(2026, 11, 20))
    assert {flow.processing_rule for flow in platform.deposits("CDAR")} == {"B2B"}
    # the second run sends nothing: one flow per payment
    again = send_cashed(settings_for(platform), actor="test", flow_run_id=None)
    assert again.line() == "212 Encaissée: 0 sent" and len(platform.deposits("CDAR")) == 2
    with session_scope(ledger) as session:
        flows = session.scalars(select(EinvoiceFlow).where(EinvoiceFlow.kind == FlowKind.STATUS)).all()
    assert {(flow.payment_id, flow.state) for flow in flows} == {("PAY-1", FlowState.DEPOSITED),
                                                                ("PAY-2", FlowState.DEPOSITED)}
    assert "CDAR" in (tmp_path / "platform-flows.jsonl").read_text()     # the platform's log of flows


@pytest.mark.parametrize("point", ["einvoicing.recorded", "einvoicing.sent"])
def test_a_kill_between_sending_and_recording_still_deposits_one_212(issued, platform, tmp_path, ledger, point):
    acme = issued["ACME"]
    pay(tmp_path, [["PAY-1", acme, "2026-11-10", "1080.00"]])
    script = ("from tests.integration.test_einvoicing_payments import settings_for_url\n"
              "from operations.einvoicing_payments import send_cashed\n"
              f"send_cashed(settings_for_url({platform.url!r}), actor='test', flow_run_id=None)\n")
    killed = subprocess.run([sys.executable, "-c", script], env={**os.environ, "LIFECYCLE_FAILPOINT": point},
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    assert len(platform.deposits("CDAR")) == (1 if point == "einvoicing.sent" else 0)
    after = send_cashed(settings_for(platform), actor="test", flow_run_id=None)
    [flow] = platform.deposits("CDAR")
    assert flow.tracking_id == f"{acme}-212-PAY-1" and read_cashed(flow.content).amount == Decimal("1080.00")
    assert [item["already"] for item in after.sent] == [point == "einvoicing.sent"]   # the 409 was the deposit
    with session_scope(ledger) as session:
        [row] = session.scalars(select(EinvoiceFlow).where(EinvoiceFlow.kind == FlowKind.STATUS)).all()
    assert (row.state, row.flow_id) == (FlowState.DEPOSITED, flow.flow_id)


def settings_for_url(url: str) -> Settings:
    """The settings of the killed run's process (the token comes from LIFECYCLE_EINVOICING_TOKEN)."""
    return Settings(terms=Terms(), storage=ObjectStorage(), platform=PlatformControl(), notifications=Notifications(),
                    seller=Seller(), einvoicing=EInvoicing(base_url=url))


def test_a_refund_sends_the_correction_on_the_invoice_it_gives_back_on(issued, platform, tmp_path):
    from operations.corrections import issue_credit_note

    acme = issued["ACME"]
    pay(tmp_path, [["PAY-1", acme, "2026-11-10", "1080.00"]])
    note = issue_credit_note(acme, "Goodwill for the outage", "claire.finance", amount_ttc="100.00", actor="test",
                             flow_run_id=None)
    assert note.to_credit == Decimal("100.00")       # the invoice was paid: the credit note is ACME's credit
    import_file("refunds", write_csv(tmp_path / "r.csv", ["refund_id", "customer_id", "amount", "refunded_on",
                                                          "reference"], [["RF-1", "ACME", "60.00", "2026-11-25",
                                                                          "BANK-77"]]))
    done = send_cashed(settings_for(platform), actor="test", flow_run_id=None)
    sent = cdar_flows(platform)
    assert sorted(sent) == [f"{acme}-212-PAY-1", f"{acme}-212-refund-RF-1"]
    correction = sent[f"{acme}-212-refund-RF-1"]
    assert (correction.invoice_number, correction.code, correction.amount, correction.cashed_on) == (
        acme, 212, Decimal("-60.00"), date(2026, 11, 25))
    assert [item["amount"] for item in done.sent] == ["1080.00", "-60.00"] and done.unlinked == []
    assert send_cashed(settings_for(platform), actor="test", flow_run_id=None).sent == []   # once


def test_no_212_is_owed_when_the_seller_opted_for_vat_on_debits(issued, platform, tmp_path):
    pay(tmp_path, [["PAY-1", issued["ACME"], "2026-11-10", "1080.00"]])
    done = send_cashed(settings_for(platform, vat_on_debits=True), actor="test", flow_run_id=None)
    assert done.line() == "212 Encaissée: none sent (the seller opted for VAT on debits: no payment status is owed)"
    assert platform.deposits("CDAR") == []


def test_a_foreign_customers_month_goes_to_e_reporting_to_the_cent(issued, platform, tmp_path, monkeypatch):
    with pytest.raises(PeriodRefused, match=r"--period 2026-11 ends on 2026-11-30 \(today is 2026-11-25\)"):
        report_period(settings_for(platform), "2026-11", actor="test", flow_run_id=None)
    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-12-01")
    pay(tmp_path, [["PAY-G", issued["GAMMA"], "2026-11-15", "100.00"], ["PAY-G2", issued["GAMMA"], "2026-11-30",
                                                                       "58.24"]])
    done = report_due(settings_for(platform), actor="test", flow_run_id=None)
    by_id = {flow.tracking_id: flow for flow in platform.deposits()}
    assert sorted(item for item in by_id if item.startswith("e-reporting")) == [
        "e-reporting-B2BInt-2026-11", "e-reporting-B2BInt-2026-11-D1", "e-reporting-B2C-2026-11-D1"]
    transactions = read_ereport(by_id["e-reporting-B2BInt-2026-11-D1"].content)
    assert by_id["e-reporting-B2BInt-2026-11-D1"].processing_rule == "B2BInt"
    [gamma] = transactions["transactions"]
    assert (gamma["number"], gamma["type"], gamma["issuedOn"], gamma["customer"], gamma["buyerKind"],
            gamma["buyerVatNumber"]) == (issued["GAMMA"], "380", "2026-11-02", "GAMMA", "foreign_business",
                                         "DE129273398")
    assert gamma["rates"] == [{"rate": "5.50", "taxBase": "149.99", "tax": "8.25", "total": "158.24"}]
    assert transactions["totals"] == {"taxBase": "149.99", "tax": "8.25", "total": "158.24", "paid": "0.00"}
    payments = read_ereport(by_id["e-reporting-B2BInt-2026-11"].content)
    assert [(item["paymentId"], item["paidOn"], item["amount"], item["rates"]) for item in payments["payments"]] == [
        ("PAY-G", "2026-11-15", "100.00", [{"rate": "5.50", "amount": "100.00"}]),
        ("PAY-G2", "2026-11-30", "58.24", [{"rate": "5.50", "amount": "58.24"}])]
    assert payments["totals"]["paid"] == "158.24" and payments["kind"] == "payments"
    b2c = read_ereport(by_id["e-reporting-B2C-2026-11-D1"].content)
    assert [(item["customer"], item["buyerKind"]) for item in b2c["transactions"]] == [("BETA", "private")]
    assert b2c["totals"]["total"] == "424.66"
    assert "ACME" not in str(transactions) + str(b2c)            # a French business is deposited, not reported
    assert done.line() == ("e-reporting of 2026-10-D2, 2026-10-D3, 2026-10, 2026-11-D1, 2026-11-D2, 2026-11-D3, "
                           "2026-11: 3 report(s) sent, 0 sent before")
    again = report_period(settings_for(platform), "2026-11-D1", actor="test", flow_run_id=None)
    assert again.line() == "e-reporting of 2026-11-D1: 0 report(s) sent, 2 sent before"
    assert len([flow for flow in platform.deposits() if flow.tracking_id.startswith("e-reporting")]) == 3


@pytest.mark.prefect
def test_lifecycle_run_e_reporting_sends_a_period_and_says_so(issued, platform, prefect_server):
    env = {**os.environ, "PREFECT_API_URL": prefect_server, "LIFECYCLE_EINVOICING_URL": platform.url}

    def run(*args):  # in this process: the command's exit, lines and deposits are judged, not its process
        return lifecycle_in_process("run", "e-reporting", *args, env=env)

    early = run("--period", "2026-11-D3")
    assert early.returncode == 2 and early.stderr.strip().splitlines()[-1] == (
        "lifecycle: --period 2026-11-D3 ends on 2026-11-30 (today is 2026-11-25): a period is reported once it has "
        "ended")
    first = run("--period", "2026-11-D1")
    assert first.returncode == 0, first.stderr
    lines = first.stdout.strip().splitlines()
    assert lines[0] == "e-reporting of 2026-11-D1: 2 report(s) sent, 0 sent before"
    gamma = platform.flow("e-reporting-B2BInt-2026-11-D1")
    assert f"  2026-11-D1 B2BInt: 1 transaction(s) 158.24 EUR TTC, 0 payment(s) 0.00 EUR; flow {gamma.flow_id}" in lines
    again = run("--period", "2026-11-D1")
    assert again.stdout.strip().splitlines()[0] == "e-reporting of 2026-11-D1: 0 report(s) sent, 2 sent before"
    assert len([flow for flow in platform.deposits() if flow.tracking_id.startswith("e-reporting")]) == 2


@pytest.mark.prefect
@pytest.mark.parametrize("period, line", [
    ("2026-10-D4", "--period '2026-10-D4' is no e-reporting period: write YYYY-MM-D1, YYYY-MM-D2, YYYY-MM-D3 (a "
                   "decade's transactions) or YYYY-MM (a month's payments)"),
    ("0001-01", "period: the month 0001-01 is before 2000-01"),
])
def test_the_deployments_form_refuses_what_is_no_period_in_one_line(issued, platform, prefect_server, period, line):
    from flows.e_reporting import e_reporting
    from policy.refusals import Refusal

    with pytest.raises(Refusal) as refused:
        e_reporting(period=period)
    assert line in str(refused.value) and "\n" not in str(refused.value)
    assert not [flow for flow in platform.deposits() if flow.tracking_id.startswith("e-reporting")]
