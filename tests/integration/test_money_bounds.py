"""The largest fee a customers file may hold bills an invoice the ledger keeps, on SQLite and PostgreSQL, and a
customer whose invoice would not fit (a fee an older release let in) is left out of the close in one line while
every other customer is billed. Amounts computed by hand in the comments; nothing depends on today."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import update

from ledger import views
from ledger.db import session_scope
from ledger.imports import import_file
from ledger.imports.rows import ImportRejected
from ledger.models import Customer
from policy.invoicing import FEE_BOUND
from policy.terms import Terms
from tasks.monthly_close import draft, finalise
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv

TERMS = Terms()


def invoices_of(ledger, month: str) -> dict[str, tuple[str, str, str]]:
    with session_scope(ledger) as session:
        return {item["customer_id"]: (item["total_ht"], item["total_vat"], item["total_ttc"])
                for item in views.invoices(session, month) if item["kind"] == "monthly"}


def test_a_fee_above_the_bound_is_refused_at_its_cell_and_the_bound_itself_is_billed(home, ledger, tmp_path):
    assert FEE_BOUND == Decimal("99999999.99")
    with pytest.raises(ImportRejected) as refused:
        import_file("customers", write_csv(tmp_path / "big.csv", CUSTOMER_HEADER, [
            customer("BIG", fee="999999999999.99", method="other")]), engine=ledger)
    [error] = refused.value.errors
    assert error.startswith("big.csv:2:monthly_fee: a monthly fee is at most 99999999.99 EUR"), error
    # at the bound, annual, VAT 99.99 % (the largest VAT rate): 12 x 99,999,999.99 = 1,199,999,999.88 HT,
    # 1,199,879,999.88 VAT, 2,399,879,999.76 TTC
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [
        customer("MAX", fee="99999999.99", method="transfer", cycle="annual", start="2026-01-01", vat="0.9999"),
        customer("SMALL", fee="500.00")]), engine=ledger)
    draft("2026-01", TERMS, actor="test", flow_run_id=None, engine=ledger)
    finalise("2026-01", date(2026, 2, 1), TERMS, actor="test", flow_run_id=None, engine=ledger)
    assert invoices_of(ledger, "2026-01") == {"MAX": ("1199999999.88", "1199879999.88", "2399879999.76"),
                                              "SMALL": ("500.00", "100.00", "600.00")}


def test_a_customer_whose_invoice_the_ledger_cannot_keep_never_blocks_the_others(home, ledger, tmp_path):
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [
        customer("H3", fee="500.00", method="other", start="2026-01-01"), customer("OK1", fee="500.00"),
        customer("OK2", fee="250.00")]), engine=ledger)
    with session_scope(ledger, write=True) as session:  # as an older release let it in
        session.execute(update(Customer).where(Customer.customer_id == "H3").values(monthly_fee=Decimal("999999999999.99")))
    drafted = draft("2026-01", TERMS, actor="test", flow_run_id=None, engine=ledger)
    [line] = drafted.not_billed
    assert line.startswith("H3's invoice for 2026-01: ") and "not billed" in line and "\n" not in line
    finalise("2026-01", date(2026, 2, 1), TERMS, actor="test", flow_run_id=None, engine=ledger)
    assert invoices_of(ledger, "2026-01") == {"OK1": ("500.00", "100.00", "600.00"),
                                              "OK2": ("250.00", "50.00", "300.00")}
