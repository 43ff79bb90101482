"""A fact dated before what it depends on is refused at its row (or in one line), on SQLite and PostgreSQL, and
nothing is written: a payment before its invoice was issued (it would wipe the late penalty), a refund before
the credit it pays back, support time, a ticket, a standby, a subscription period or a cancellation letter
before the customer's start; a letter received more than a year ago needs a reason. An imported standby is
refused to a customer in arrears in the request's own words: a standby is never a way round a suspension."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ledger.db import session_scope
from ledger.imports import ImportRejected, import_file
from ledger.models import AuditEntry, Cancellation, CustomerCredit, StandbyPeriod
from tests.integration.test_hostile_input import ledger_state
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv

INVOICES = ["invoice_id", "customer_id", "issued_on", "due_on", "amount_ht", "vat_rate"]
PAYMENTS = ["payment_id", "invoice_id", "paid_on", "amount"]
REFUNDS = ["refund_id", "customer_id", "amount", "refunded_on", "reference"]
STANDBY = ["customer_id", "reason", "start_on", "end_on"]
START = "before the customer's start (2026-03-01): no fact of a customer lies before it"


@pytest.fixture
def history(ledger, tmp_path, monkeypatch):
    """Today 2026-12-06. LATE (monthly, no contract_start) starts with its first imported period, March 2026,
    and owes INV-L-03 (issued 2026-04-01, due 2026-05-01, 1188.00 TTC); KEPT (contract_start 2026-03-01) paid
    INV-K-03 twice, the second time on 2026-12-06: 1188.00 of credit from that day."""
    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-12-06")
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER,
                                       [customer("LATE", fee="990.00"),
                                        customer("KEPT", fee="990.00", start="2026-03-01")]), engine=ledger)
    import_file("invoices", write_csv(tmp_path / "i.csv", INVOICES, [
        ["INV-L-03", "LATE", "2026-04-01", "2026-05-01", "990.00", "0.20"],
        ["INV-K-03", "KEPT", "2026-04-01", "2026-05-01", "990.00", "0.20"]]), engine=ledger)
    import_file("payments", write_csv(tmp_path / "p.csv", PAYMENTS, [
        ["PK1", "INV-K-03", "2026-04-20", "1188.00"], ["PK2", "INV-K-03", "2026-12-06", "1188.00"]]), engine=ledger)
    return ledger


def refused(kind: str, path, ledger) -> list[str]:
    before = ledger_state(ledger)
    with pytest.raises(ImportRejected) as rejected:
        import_file(kind, path, engine=ledger)
    assert ledger_state(ledger) == before
    return rejected.value.errors


def test_a_payment_before_its_invoice_was_issued_is_refused_at_its_row(history, tmp_path):
    rows = [["PQ", "INV-L-03", "2000-01-01", "588.00"], ["PR", "INV-L-03", "2026-03-31", "1.00"]]
    assert refused("payments", write_csv(tmp_path / "pay.csv", PAYMENTS, rows), history) == [
        "pay.csv:2:paid_on: paid on 2000-01-01, before invoice INV-L-03 was issued (2026-04-01): a payment is never "
        "dated before its invoice",
        "pay.csv:3:paid_on: paid on 2026-03-31, before invoice INV-L-03 was issued (2026-04-01): a payment is never "
        "dated before its invoice"]
    # on the day it was issued, it stands
    import_file("payments", write_csv(tmp_path / "ok.csv", PAYMENTS, [["PS", "INV-L-03", "2026-04-01", "1.00"]]),
                engine=history)


def test_a_refund_before_the_credit_it_pays_back_is_refused_at_its_row(history, tmp_path):
    rows = [["R1", "KEPT", "1188.00", "2000-01-01", "VIR-1"]]
    assert refused("refunds", write_csv(tmp_path / "r.csv", REFUNDS, rows), history) == [
        "r.csv:2:refunded_on: refunded on 2000-01-01, when the customer's credit was 0.00 EUR (less than 1188.00 "
        "EUR); it had it from 2026-12-06: a refund is never dated before the credit it pays back"]
    import_file("refunds", write_csv(tmp_path / "ok.csv", REFUNDS, [["R1", "KEPT", "1188.00", "2026-12-06", "VIR-1"]]),
                engine=history)
    with session_scope(history) as session:
        assert session.scalar(select(func.sum(CustomerCredit.amount)).where(
            CustomerCredit.customer_id == "KEPT")) == Decimal("0.00")


def test_the_refund_command_refuses_a_refund_before_the_credit(history):
    from ledger.credits import record_refund
    from policy.corrections import CorrectionRefused

    with session_scope(history, write=True) as session, pytest.raises(CorrectionRefused) as said:
        record_refund(session, "KEPT", Decimal("1188.00"), refund_id="R9", reference="VIR-9",
                      refunded_on=date(2026, 12, 5), actor="test", flow_run_id=None)
    assert str(said.value).startswith("refunded on 2026-12-05, when the customer's credit was 0.00 EUR")


def test_facts_before_the_customers_start_are_refused_at_their_rows(history, tmp_path):
    assert refused("standby", write_csv(tmp_path / "s.csv", STANDBY, [
        ["KEPT", "temporary_inactivity", "2000-01-01", "2000-02-01"]]), history) == [
        f"s.csv:2:start_on: start_on 2000-01-01 is {START} (if it started earlier, give its contract_start in the "
        f"customers file)"]
    errors = refused("interventions", write_csv(tmp_path / "w.csv", [
        "intervention_id", "customer_id", "started_at", "minutes", "category"], [
        ["W1", "LATE", "2024-02-29T10:00", "30", "assistance"], ["W2", "LATE", "2026-03-01T10:00", "30", "assistance"]]),
        history)
    assert errors == [f"w.csv:2:started_at: started_at 2024-02-29 is {START} (if it started earlier, give its "
                      f"contract_start in the customers file)"]
    errors = refused("tickets", write_csv(tmp_path / "t.csv", ["ticket_id", "customer_id", "received_at", "type"], [
        ["T1", "KEPT", "2026-02-28T10:00", "question"]]), history)
    assert errors == [f"t.csv:2:received_at: received_at 2026-02-28 is {START} (if it started earlier, give its "
                      f"contract_start in the customers file)"]
    # an invoice billing a month before the contract's start (its default period: the month before its issue)
    errors = refused("invoices", write_csv(tmp_path / "i.csv", INVOICES, [
        ["INV-K-02", "KEPT", "2026-03-01", "2026-03-31", "990.00", "0.20"]]), history)
    assert errors == ["i.csv:2:issued_on: the service period starting 2026-02-01 is before the customer's start "
                      "(2026-03-01): no fact of a customer lies before it (if it started earlier, give its "
                      "contract_start in the customers file)"]


def test_an_imported_standby_is_refused_in_arrears_in_the_requests_words(history, tmp_path):
    assert refused("standby", write_csv(tmp_path / "s.csv", STANDBY, [
        ["LATE", "temporary_inactivity", "2026-12-01", "2027-02-28"]]), history) == [
        "s.csv:2:customer_id: LATE: standby refused while the customer is in arrears: overdue invoice(s) INV-L-03"]
    # a period over already is history: imported as it was; a customer not in arrears plans one
    import_file("standby", write_csv(tmp_path / "ok.csv", STANDBY, [
        ["LATE", "awaiting_approval", "2026-04-01", "2026-05-01"],
        ["KEPT", "temporary_inactivity", "2026-12-10", "2027-02-28"]]), engine=history)
    with session_scope(history) as session:
        assert sorted(session.execute(select(StandbyPeriod.customer_id, StandbyPeriod.start_on))) == [
            ("KEPT", date(2026, 12, 10)), ("LATE", date(2026, 4, 1))]


@pytest.mark.prefect
def test_a_cancellation_letter_before_the_start_is_refused_and_one_of_long_ago_needs_a_reason(
        prefect_server, history, tmp_path):
    from flows.cancellation import cancellation_request

    import_file("customers", write_csv(tmp_path / "old.csv", CUSTOMER_HEADER,
                                       [customer("OLD", fee="990.00", start="2024-01-01")]), engine=history)
    before = ledger_state(history)
    state = cancellation_request(customer_id="LATE", received_on=date(2000, 1, 1), return_state=True)
    assert state.is_failed() and state.message == (
        f"LATE: received_on 2000-01-01 is {START} (if it started earlier, give its contract_start in the customers "
        f"file)")
    state = cancellation_request(customer_id="OLD", received_on=date(2025, 6, 1), return_state=True)
    assert state.is_failed() and state.message.startswith(
        "--received-on 2025-06-01 is 553 days ago (more than 366): its last day of service would be 2025-07-31, and "
        "every invoice billed after it would be credited back: refused (a typo?)")
    after = ledger_state(history)
    del before["terms_copies"], after["terms_copies"]   # each run keeps the terms it read; nothing else is written
    assert after == before
    done = cancellation_request(customer_id="OLD", received_on=date(2025, 6, 1),
                                force_reason="letter found in the archive")
    assert (done["received_on"], done["effective_on"]) == ("2025-06-01", "2025-07-31")
    with session_scope(history) as session:
        assert session.scalar(select(Cancellation.effective_on).where(Cancellation.customer_id == "OLD")) == \
            date(2025, 7, 31)
        [override] = session.scalars(select(AuditEntry).where(AuditEntry.action == "date_check_overridden")).all()
        assert override.after["reason"] == "letter found in the archive"
