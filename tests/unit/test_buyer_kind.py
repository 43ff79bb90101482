"""Who each customer is for the e-invoicing reform, as the customers import and `db check` read it: the kind a file
gives, else the default from its SIREN and VAT number; a French business without a valid SIREN is refused at its
row; a column left out of the file keeps what the ledger has."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from ledger.db import session_scope
from ledger.imports import ImportRejected, import_file
from ledger.models import Customer
from lifecycle.cli import app
from policy.einvoicing import BuyerKind, buyer_kind_problem
from tests.support.builders import write_csv
from tests.support.sqlite_ledger import sqlite_ledger

HEADER = ["customer_id", "name", "email", "monthly_fee", "payment_method", "siren", "vat_number", "buyer_kind"]
SIREN = "732829320"            # a valid sample SIREN (its Luhn key holds)
SIRET = "73282932000074"       # an establishment of it


def row(customer_id: str, siren: str = "", vat: str = "", kind: str = "") -> list[str]:
    return [customer_id, f"Client {customer_id}", f"{customer_id.lower()}@example.com", "500.00", "sepa", siren, vat,
            kind]


def kinds(ledger) -> dict[str, str]:
    with session_scope(ledger) as session:
        return {customer.customer_id: customer.buyer_kind.value for customer in session.scalars(select(Customer))}


@pytest.fixture
def ledger(tmp_path, monkeypatch):
    return sqlite_ledger(tmp_path, monkeypatch, "2026-11-02")


def test_the_kind_defaults_from_the_siren_and_the_vat_number_and_a_given_one_wins(ledger, tmp_path):
    path = write_csv(tmp_path / "customers.csv", HEADER, [
        row("FR1", siren=SIREN), row("FR2", siren=SIRET), row("DE1", vat="DE136695976"), row("P1"),
        row("FRVAT", vat="FR44732829320"),  # a French VAT number without a SIREN says nothing of a business
        row("DE2", siren=SIREN, kind="foreign_business"), row("P2", vat="DE136695976", kind="private")])
    assert import_file("customers", path, engine=ledger).inserted == 7
    assert kinds(ledger) == {"FR1": "fr_business", "FR2": "fr_business", "DE1": "foreign_business", "P1": "private",
                             "FRVAT": "private", "DE2": "foreign_business", "P2": "private"}


def test_a_french_business_without_a_valid_siren_is_refused_at_its_row(ledger, tmp_path):
    path = write_csv(tmp_path / "customers.csv", HEADER, [
        row("OK", siren=SIREN, kind="fr_business"), row("NONE", kind="fr_business"),
        row("KEY", siren="732829321", kind="fr_business"), row("PRIVKEY", siren="732829321", kind="private")])
    with pytest.raises(ImportRejected) as rejected:
        import_file("customers", path, engine=ledger)
    assert rejected.value.errors == [
        "customers.csv:3:buyer_kind: a fr_business customer needs its siren (its documents go through the platform, "
        "routed by it)",
        "customers.csv:4:siren: 732829321 is not a valid SIREN (its check digit is wrong)",
        # a wrong SIREN is refused whoever the buyer is: it would be printed on the invoice
        "customers.csv:5:siren: 732829321 is not a valid SIREN (its check digit is wrong)"]
    assert kinds(ledger) == {}


def test_a_column_left_out_keeps_the_ledgers_kind_and_removing_a_french_business_siren_is_refused(ledger, tmp_path):
    import_file("customers", write_csv(tmp_path / "a.csv", HEADER, [row("C1", siren=SIREN, kind="private")]),
                engine=ledger)
    short = HEADER[:5] + ["siren"]
    import_file("customers", write_csv(tmp_path / "b.csv", short, [row("C1", siren=SIRET)[:6]]), engine=ledger)
    assert kinds(ledger) == {"C1": "private"}  # no buyer_kind column: the ledger's kind stays
    import_file("customers", write_csv(tmp_path / "c.csv", HEADER, [row("C1", siren=SIRET, kind="fr_business")]),
                engine=ledger)
    assert kinds(ledger) == {"C1": "fr_business"}
    with pytest.raises(ImportRejected) as rejected:
        import_file("customers", write_csv(tmp_path / "d.csv", short, [row("C1")[:6]]), engine=ledger)
    assert rejected.value.errors == ["d.csv:2:siren: a fr_business customer needs its siren (its documents go "
                                     "through the platform, routed by it)"]


def test_db_check_flags_a_stored_french_business_without_a_siren(tmp_path, monkeypatch):
    ledger = sqlite_ledger(tmp_path, monkeypatch, "2026-11-20")
    import_file("customers", write_csv(tmp_path / "a.csv", HEADER, [row("C1", siren=SIREN), row("C2")]),
                engine=ledger)
    with session_scope(ledger) as session:  # as a hand edit of the database would leave it
        session.execute(update(Customer).where(Customer.customer_id == "C1").values(siren=None))
    result = CliRunner().invoke(app, ["db", "check"])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == ["customers 'C1': buyer_kind: a fr_business customer needs its siren (its "
                                          "documents go through the platform, routed by it)"]


def test_show_customers_says_each_kind(tmp_path, monkeypatch):
    ledger = sqlite_ledger(tmp_path, monkeypatch, "2026-11-20")
    import_file("customers", write_csv(tmp_path / "a.csv", HEADER, [row("C1", siren=SIREN), row("C2")]),
                engine=ledger)
    result = CliRunner().invoke(app, ["show", "customers", "--format", "json"])
    assert result.exit_code == 0
    assert '"buyer_kind": "fr_business"' in result.stdout and '"buyer_kind": "private"' in result.stdout


def test_the_rule_itself():
    assert buyer_kind_problem(BuyerKind.FR_BUSINESS, SIREN) is None
    assert buyer_kind_problem(BuyerKind.FR_BUSINESS, SIRET) is None
    assert buyer_kind_problem(BuyerKind.PRIVATE, None) is None
    assert buyer_kind_problem(BuyerKind.FOREIGN_BUSINESS, None) is None
    assert "check digit" in buyer_kind_problem(BuyerKind.FR_BUSINESS, "732829321")
