"""A cancellation as an operation (operations/cancellation.py), on a SQLite ledger, without Prefect: a letter
recorded months late, the service ended with the days billed after the last day given back, and the final
statement once the last month is billed for good (N1: an imported invoice billed it and the product's first
close came later); a second letter while one stands is refused, and nothing more is recorded."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from blocks.notifications import Notifications
from blocks.platform import PlatformControl
from blocks.seller import Seller
from blocks.settings import Settings
from blocks.storage import ObjectStorage
from ledger.db import session_scope
from ledger.imports import import_file
from ledger.models import Cancellation, Customer, Invoice, MonthlyClose, Notice
from operations.cancellation import CancellationNotRecorded, end_services, record_letter, send_statements
from policy.terms import Terms
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv
from tests.support.sqlite_ledger import sqlite_ledger

TODAY = date(2026, 10, 12)
INVOICE_HEADER = ["invoice_id", "customer_id", "issued_on", "due_on", "amount_ht", "vat_rate", "description",
                  "status", "period_start", "period_end"]


@pytest.fixture
def moved_in(tmp_path, monkeypatch):
    """C1 (990.00 a month) moved in with its old system's invoices of July, August and September, all open."""
    ledger = sqlite_ledger(tmp_path, monkeypatch, TODAY.isoformat())
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("C1", fee="990.00")]),
                engine=ledger)
    rows = [[f"OLD-{month}", "C1", f"2026-{month + 1:02d}-01", f"2026-{month + 1:02d}-28", "990.00", "0.20",
             f"Subscription 2026-{month:02d}", "open", f"2026-{month:02d}-01", last]
            for month, last in ((7, "2026-07-31"), (8, "2026-08-31"), (9, "2026-09-30"))]
    import_file("invoices", write_csv(tmp_path / "i.csv", INVOICE_HEADER, rows), engine=ledger)
    return ledger


def _settings(tmp_path) -> Settings:
    return Settings(Terms(), ObjectStorage(url=(tmp_path / "store").as_uri()), PlatformControl(), Notifications(),
                    Seller())


def _notices(ledger) -> list[str]:
    with session_scope(ledger) as session:
        return list(session.scalars(select(Notice.kind).where(Notice.customer_id == "C1").order_by(Notice.id)))


def test_a_letter_recorded_late_ends_the_service_gives_back_what_was_billed_after_and_sends_the_statement(
        moved_in, tmp_path):
    settings = _settings(tmp_path)
    letter = record_letter("C1", date(2026, 6, 10), None, settings, requested_by="ops", actor="test",
                           flow_run_id=None)
    # 30 days' notice from 10 June, to the end of the month; nothing was issued yet on 10 June
    assert (letter.effective_on, letter.status, letter.statement.total) == (date(2026, 7, 31), "received",
                                                                           Decimal("0.00"))
    assert _notices(moved_in) == ["cancellation_received"]

    [ended] = end_services(TODAY, settings, actor="test", flow_run_id=None, today=TODAY)
    assert ended.status == "effective" and len(ended.credit_notes) == 2   # August and September given back
    with session_scope(moved_in) as session:
        c1 = session.get(Customer, "C1")
        assert (c1.platform_enabled, c1.cancelled_on, c1.deletion_due_on) == (False, date(2026, 7, 31),
                                                                              date(2027, 1, 9))
        notes = session.scalars(select(Invoice.total_ttc).where(Invoice.number.in_(ended.credit_notes))).all()
        assert notes == [Decimal("-1188.00"), Decimal("-1188.00")]
    assert _notices(moved_in) == ["cancellation_received", "cancellation_effective"]
    assert end_services(TODAY, settings, actor="test", flow_run_id=None, today=TODAY) == []   # never twice

    # no close of this product yet: the first one decides whether July is its to bill
    assert send_statements(TODAY, settings, actor="test", flow_run_id=None) == []
    with session_scope(moved_in, write=True) as session:   # the product's first close, of September
        stamp = datetime(2026, 10, 1, 6, tzinfo=timezone.utc)
        session.add(MonthlyClose(month="2026-09", status="finalised", terms={}, started_at=stamp, finished_at=stamp))
    # July was the old system's: the statement goes out, July's invoice still to pay
    [closed] = send_statements(TODAY, settings, actor="test", flow_run_id=None)
    assert (closed.status, closed.statement.total) == ("closed", Decimal("1188.00"))
    assert [(line.invoice, line.amount) for line in closed.statement.lines] == [("OLD-7", Decimal("1188.00"))]
    assert _notices(moved_in) == ["cancellation_received", "cancellation_effective", "cancellation_statement"]
    assert send_statements(TODAY, settings, actor="test", flow_run_id=None) == []


def test_a_second_letter_while_one_stands_is_refused_naming_how_to_withdraw_it(moved_in, tmp_path):
    settings = _settings(tmp_path)
    record_letter("C1", date(2026, 10, 1), None, settings, requested_by="ops", actor="test", flow_run_id=None)
    with pytest.raises(CancellationNotRecorded) as refused:
        record_letter("C1", date(2026, 10, 5), None, settings, requested_by="ops", actor="test", flow_run_id=None)
    assert str(refused.value) == ("C1 has a cancellation already (received 2026-10-01, last day 2026-10-31): "
                                  "withdraw it first (lifecycle run cancel --customer C1 --withdraw)")
    with pytest.raises(CancellationNotRecorded, match="C1: received_on 2026-10-13 is after today"):
        record_letter("C1", date(2026, 10, 13), None, settings, requested_by="ops", actor="test", flow_run_id=None)
    with session_scope(moved_in) as session:
        assert session.scalar(select(func.count()).select_from(Cancellation)) == 1
    assert _notices(moved_in) == ["cancellation_received"]
