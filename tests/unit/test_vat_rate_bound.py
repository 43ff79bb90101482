"""One bound for a VAT rate (policy.vat: from 0 to less than 1), the same where a rate enters and where it is
used: the customers' and invoices' imports refuse `1` at its cell, the terms block refuses it naming `vat_rate`,
`lifecycle db check` flags a customer an older release stored with it, and the document's figures refuse it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError
from sqlalchemy import update
from typer.testing import CliRunner

from ledger.db import session_scope
from ledger.imports import ImportRejected, import_file
from ledger.models import Customer
from lifecycle.cli import app
from policy.terms import Terms
from policy.vat import vat_rate_problem
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv
from tests.support.sqlite_ledger import sqlite_ledger

INVOICE_HEADER = ["invoice_id", "customer_id", "issued_on", "due_on", "amount_ht", "vat_rate"]


@pytest.mark.parametrize("rate", ["0", "0.021", "0.055", "0.10", "0.20", "0.9999"])
def test_the_french_rates_and_anything_below_one_are_vat_rates(rate):
    assert vat_rate_problem(Decimal(rate)) is None


@pytest.mark.parametrize("rate", ["1", "1.0000", "-0.01"])
def test_a_rate_of_100_percent_or_below_zero_is_no_vat_rate(rate):
    assert vat_rate_problem(Decimal(rate)).startswith("a VAT rate is from 0 to less than 1 (0.20 for 20 %")


@pytest.mark.parametrize("rate", ["1", "1.00"])
def test_the_imports_refuse_a_vat_rate_of_one_at_its_cell_and_write_nothing(tmp_path, monkeypatch, rate):
    ledger = sqlite_ledger(tmp_path, monkeypatch, "2026-11-02")
    with pytest.raises(ImportRejected) as rejected:
        import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("X5", vat=rate)]),
                    engine=ledger)
    assert rejected.value.errors == [f"c.csv:2:vat_rate: a VAT rate is from 0 to less than 1 (0.20 for 20 %; "
                                     f"French rates 0, 0.021, 0.055, 0.10, 0.20), not {rate}"]
    import_file("customers", write_csv(tmp_path / "ok.csv", CUSTOMER_HEADER, [customer("X5")]), engine=ledger)
    with pytest.raises(ImportRejected) as rejected:
        import_file("invoices", write_csv(tmp_path / "i.csv", INVOICE_HEADER,
                                          [["F-1", "X5", "2026-10-01", "2026-10-31", "100.00", rate]]), engine=ledger)
    assert [line.split(": ")[0] for line in rejected.value.errors] == ["i.csv:2:vat_rate"]
    with session_scope(ledger) as session:
        assert session.get(Customer, "X5").vat_rate == Decimal("0.20")


def test_the_terms_block_refuses_a_vat_rate_of_one_naming_the_field():
    with pytest.raises(ValidationError) as refused:
        Terms(vat_rate=Decimal(1))
    assert refused.value.errors()[0]["loc"] == ("vat_rate",)
    assert "a VAT rate is from 0 to less than 1" in str(refused.value)
    assert Terms(vat_rate=Decimal("0.055")).vat_rate == Decimal("0.055")


def test_db_check_flags_a_customer_an_older_release_stored_with_a_rate_of_one(tmp_path, monkeypatch):
    ledger = sqlite_ledger(tmp_path, monkeypatch, "2026-11-02")
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("X5")]), engine=ledger)
    with session_scope(ledger) as session:
        session.execute(update(Customer).where(Customer.customer_id == "X5").values(vat_rate=Decimal(1)))
    result = CliRunner().invoke(app, ["db", "check"])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == ["customers 'X5': vat_rate: a VAT rate is from 0 to less than 1 (0.20 for "
                                          "20 %; French rates 0, 0.021, 0.055, 0.10, 0.20), not 1.0000"]
