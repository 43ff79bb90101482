"""Credit note and refund as operations (operations/corrections.py), on a SQLite ledger, without Prefect: a
credit note on a paid invoice becomes the customer's credit, a refund pays part of it back; a refund beyond the
credit and a credit note beyond what is left are refused in one line, and nothing is written."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ledger.credits import credit_of
from ledger.db import session_scope
from ledger.imports import import_file
from ledger.models import Invoice
from operations.corrections import CorrectionNotMade, issue_credit_note, record_refund
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv
from tests.support.sqlite_ledger import sqlite_ledger


@pytest.fixture
def paid(tmp_path, monkeypatch):
    """ACME's imported invoice OLD-1 (100.00 HT, 120.00 TTC), paid in full."""
    ledger = sqlite_ledger(tmp_path, monkeypatch, "2026-11-02")
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME")]), engine=ledger)
    import_file("invoices", write_csv(tmp_path / "i.csv", ["invoice_id", "customer_id", "issued_on", "due_on",
                                                            "amount_ht", "vat_rate"],
                                      [["OLD-1", "ACME", "2026-10-01", "2026-10-31", "100.00", "0.20"]]), engine=ledger)
    import_file("payments", write_csv(tmp_path / "p.csv", ["payment_id", "invoice_id", "paid_on", "amount"],
                                      [["PAY-1", "OLD-1", "2026-10-20", "120.00"]]), engine=ledger)
    return ledger


def _credit(ledger) -> Decimal:
    with session_scope(ledger) as session:
        return credit_of(session, ["ACME"]).get("ACME", Decimal("0.00"))


def test_a_credit_note_on_a_paid_invoice_is_credit_and_a_refund_pays_it_back(paid):
    note = issue_credit_note("OLD-1", "Goodwill for the outage", "claire.finance", amount_ttc="24,00",
                             actor="test", flow_run_id="run-1")
    assert note.summary() == {"number": "2026-000001", "credits": "OLD-1", "customer_id": "ACME",
                              "total_ttc": "-24.00", "to_invoice": "0.00", "to_credit": "24.00", "balance": "0.00",
                              "created": True}
    # the same run asking again finds its note
    again = issue_credit_note("OLD-1", "Goodwill for the outage", "claire.finance", amount_ttc="24.00",
                              actor="test", flow_run_id="run-1")
    assert (again.number, again.created) == ("2026-000001", False)
    done = record_refund("ACME", "20.00", "VIR-1", date(2026, 11, 2), actor="test", flow_run_id=None)
    assert done.summary() == {"refund_id": "VIR-1", "customer_id": "ACME", "amount": "20.00", "credit_left": "4.00",
                              "created": True}
    assert _credit(paid) == Decimal("4.00")


def test_a_refund_beyond_the_credit_and_a_credit_note_beyond_the_invoice_are_refused(paid):
    issue_credit_note("OLD-1", "Goodwill", "claire.finance", amount_ttc="24.00", actor="test", flow_run_id="run-1")
    with pytest.raises(CorrectionNotMade) as refused:
        record_refund("ACME", "50.00", "VIR-2", date(2026, 11, 2), actor="test", flow_run_id=None)
    assert str(refused.value) == "50.00 EUR: ACME's credit is 24.00 EUR; a refund never exceeds it"
    with pytest.raises(CorrectionNotMade) as refused:
        record_refund("ACME", "12x", "VIR-2", date(2026, 11, 2), actor="test", flow_run_id=None)
    assert str(refused.value) == "--amount: not a number: '12x'"  # the value given back once
    with pytest.raises(CorrectionNotMade) as refused:  # a form's amount of 1.000 is a thousand, never 1.00
        record_refund("ACME", "1.000", "VIR-2", date(2026, 11, 2), actor="test", flow_run_id=None)
    assert str(refused.value) == "--amount: '1.000' has more than 2 decimal places"
    with pytest.raises(CorrectionNotMade, match=r"^credit note on OLD-1: .*only 96.00 TTC are left"):
        issue_credit_note("OLD-1", "Everything", "claire.finance", amount_ttc="120.00", actor="test",
                          flow_run_id="run-2")
    assert _credit(paid) == Decimal("24.00")
    with session_scope(paid) as session:
        assert session.scalar(select(func.count()).select_from(Invoice).where(Invoice.kind == "credit_note")) == 1


def test_a_refund_id_in_another_case_is_refused_as_the_import_refuses_it(paid):
    """`run refund --reference vir-1` beside VIR-1 recorded a second refund (a fifth probe): ids are unique
    ignoring case everywhere, the command's as the import's."""
    issue_credit_note("OLD-1", "Goodwill", "claire.finance", amount_ttc="24.00", actor="test", flow_run_id="run-1")
    record_refund("ACME", "10.00", "VIR-1", date(2026, 11, 2), actor="test", flow_run_id=None)
    with pytest.raises(CorrectionNotMade) as refused:
        record_refund("ACME", "5.00", "vir-1", date(2026, 11, 2), actor="test", flow_run_id=None)
    assert str(refused.value) == ("'vir-1' already exists as 'VIR-1': ids are unique ignoring case (write 'VIR-1' "
                                  "for that one, another id for a new one)")
    assert _credit(paid) == Decimal("14.00")


def test_a_credit_note_named_where_an_invoice_is_meant_is_said_to_be_one(paid, tmp_path):
    """2026-000001 is a credit note: crediting it, or importing a status for it, says so and names the invoice."""
    from ledger.imports import ImportRejected

    issue_credit_note("OLD-1", "Goodwill", "claire.finance", amount_ttc="24.00", actor="test", flow_run_id="run-1")
    with pytest.raises(CorrectionNotMade) as refused:
        issue_credit_note("2026-000001", "Again", "claire.finance", amount_ttc="1.00", actor="test",
                          flow_run_id="run-2")
    assert str(refused.value) == ("credit note on 2026-000001: 2026-000001 is a credit note, not an invoice (it credits invoice OLD-1): a credit "
                                  "note is never credited; name the invoice to correct")
    with pytest.raises(ImportRejected) as rejected:
        import_file("invoices", write_csv(tmp_path / "i2.csv", ["invoice_id", "customer_id", "issued_on", "due_on",
                                                                 "amount_ht", "vat_rate", "status"],
                                          [["2026-000001", "ACME", "2026-11-02", "2026-12-02", "20.00", "0.20",
                                            "disputed"]]), engine=paid)
    assert rejected.value.errors == ["i2.csv:2:invoice_id: '2026-000001' is a credit note the product issued, not an "
                                     "invoice: its status is not imported (a credit note is settled when it is issued)"]
    with session_scope(paid) as session:
        assert session.scalar(select(func.count()).select_from(Invoice)) == 2  # OLD-1 and its one credit note
