"""The close drafts a batch of customers at a time (operations.close.CUSTOMERS_PER_BATCH), so that what it holds
is one batch's invoices and texts, not the month's: the batch must never change what is billed. The same
generated ledger (customers with standby, billing history, a month of work) closed in batches of 7 customers and
in one batch gives the same invoices, lines, prices and quotas, to the cent."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from benchmarks.workload import Scale, generate_ledger
from ledger.db import session_scope
from ledger.models import Intervention, Invoice, InvoiceLine, QuotaPeriod
from lifecycle_config.databases import engine_for
from operations import close
from policy.terms import Terms
from tests.support.sqlite_ledger import sqlite_ledger


def _closed(engine) -> dict:
    """What a user checks of a close: every invoice (number, totals), its lines, each intervention's price and
    invoice, each quota, by their keys (ids differ from run to run)."""
    close.draft("2026-10", Terms(), actor="test", flow_run_id=None, engine=engine)
    closed = close.finalise("2026-10", date(2026, 11, 2), Terms(), actor="test", flow_run_id=None, engine=engine)
    with session_scope(engine) as session:
        keys = dict(session.execute(select(Invoice.id, Invoice.invoice_key)).all())
        return {
            "total_ttc": closed.total_ttc,
            "already_billed": (closed.subscription_summary(), [(item.customer_id, item.invoice, item.days)
                                                               for item in closed.already_billed]),
            "invoices": session.execute(select(Invoice.invoice_key, Invoice.number, Invoice.total_ht, Invoice.total_vat,
                                               Invoice.total_ttc, Invoice.period_start, Invoice.period_end)
                                        .where(Invoice.close_month == "2026-10").order_by(Invoice.invoice_key)).all(),
            "lines": sorted((keys[row.invoice_id], row.position, row.description, row.amount_ht) for row in
                            session.execute(select(InvoiceLine.invoice_id, InvoiceLine.position,
                                                   InvoiceLine.description, InvoiceLine.amount_ht))),
            "interventions": sorted((row.intervention_id, row.free_minutes, row.billed_minutes, row.amount_ht,
                                     keys.get(row.invoice_id)) for row in session.execute(
                select(Intervention.intervention_id, Intervention.free_minutes, Intervention.billed_minutes,
                       Intervention.amount_ht, Intervention.invoice_id))),
            "quotas": session.execute(select(QuotaPeriod.customer_id, QuotaPeriod.included_minutes,
                                             QuotaPeriod.used_minutes, QuotaPeriod.over_minutes)
                                      .order_by(QuotaPeriod.customer_id, QuotaPeriod.month)).all(),
        }


def test_a_close_in_batches_bills_what_a_close_in_one_batch_bills(tmp_path, monkeypatch):
    sqlite_ledger(tmp_path, monkeypatch, "2026-11-02").dispose()
    whole, batched = tmp_path / "ledger.db", tmp_path / "batched.db"
    for path in (whole, batched):   # the same rows: the generation is deterministic for its seed
        generate_ledger(f"sqlite:///{path}", Scale(40, 2_000), seed=7)

    in_one = _closed(engine_for(f"sqlite:///{whole}"))
    monkeypatch.setattr(close, "CUSTOMERS_PER_BATCH", 7)   # 40 customers: six batches, the last one short
    in_batches = _closed(engine_for(f"sqlite:///{batched}"))

    assert len(in_one["invoices"]) > 30 and in_one["total_ttc"] > 0
    assert sum(1 for item in in_one["interventions"] if item[4]) > 1_000   # work attached to its invoice
    assert in_batches == in_one
