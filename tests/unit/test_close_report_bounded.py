"""A close's report holds the month's invoices as a count, totals and a few summaries (the largest by amount, the
first by number), not one summary per invoice: at 200,000 customers the list alone was 130 MB in the flow's
result, its artifact and the approval form. What it says must still be the ledger's invoices, to the cent."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from benchmarks.workload import Scale, generate_ledger
from ledger.db import session_scope
from ledger.models import Invoice
from lifecycle_config.databases import engine_for
from operations import close
from policy.terms import Terms
from policy.vocabulary import InvoiceKind
from tests.support.sqlite_ledger import sqlite_ledger


def test_the_report_gives_the_ledgers_totals_its_largest_and_first_invoices(tmp_path, monkeypatch):
    sqlite_ledger(tmp_path, monkeypatch, "2026-11-02").dispose()
    path = tmp_path / "generated.db"
    generate_ledger(f"sqlite:///{path}", Scale(40, 2_000), seed=7)
    engine = engine_for(f"sqlite:///{path}")
    monkeypatch.setattr(close, "LARGEST", 3)
    monkeypatch.setattr(close, "LISTED", 7)

    drafted = close.draft("2026-10", Terms(), actor="test", flow_run_id=None, engine=engine)
    closed = close.finalise("2026-10", date(2026, 11, 2), Terms(), actor="test", flow_run_id=None, engine=engine)

    with session_scope(engine) as session:
        rows = session.execute(select(Invoice.customer_id, Invoice.number, Invoice.total_ht, Invoice.total_vat,
                                      Invoice.total_ttc).where(Invoice.close_month == "2026-10",
                                                               Invoice.kind == InvoiceKind.MONTHLY)).all()
    assert len(rows) > 30
    for report in (drafted, closed):   # the draft's figures are the final ones: numbering changes no amount
        assert report.invoices == len(rows)
        assert (report.total_ht, report.total_vat, report.total_ttc) == tuple(
            sum((row[column] for row in rows), Decimal("0.00")) for column in (2, 3, 4))
        assert str(report.total_ttc) == str(sum((row.total_ttc for row in rows), Decimal("0.00")))  # 2 places
        by_amount = sorted(rows, key=lambda row: (-row.total_ttc, row.customer_id))[:3]
        assert [(item.customer_id, item.total_ttc) for item in report.largest] == [
            (row.customer_id, row.total_ttc) for row in by_amount]
    assert [(item.number, item.customer_id) for item in closed.listed] == sorted(
        (row.number, row.customer_id) for row in rows)[:7]
    assert closed.summary()["invoices"] == len(rows)
    assert f"invoices: **{len(rows)}**" in closed.markdown("Monthly close 2026-10")
    assert f"{len(rows)} draft invoice(s)" in drafted.approval_form(None)
    assert drafted.largest[0].customer_id in drafted.approval_form(None)
