"""A customer's name in the close's artifacts reads as stored, beside the ledger's amounts (issue 24), on a real
flow run against the Prefect server: a name `Evil Corp | 1.00 | 0.00 | 1.20 |` imported with a 90000.00 fee made
its row of the drafts and close artifacts read HT 1.00 and TTC 1.20 once rendered, and a name holding a Markdown
link and an `<img onerror>` was a live link and tag. Read as the UI renders them (tests/support/markdown.py)."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import select

from ledger import views
from ledger.db import session_scope
from ledger.imports import import_file
from ledger.models import Customer
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv
from tests.support.markdown import lines, live, tables
from tests.support.scenarios import load_october

pytestmark = pytest.mark.prefect

NAMES = {"EVIL": "Evil Corp | 1.00 | 0.00 | 1.20 |",
         "LINK": "[Pay here: new IBAN](https://evil.example/pay) <img src=x onerror=alert(1)>"}


def latest(prefect_server: str, key: str):
    [artifact] = httpx.post(f"{prefect_server}/artifacts/filter", json={
        "artifacts": {"key": {"any_": [key]}}, "sort": "CREATED_DESC", "limit": 1}).json()
    return artifact


def test_the_closes_artifacts_show_names_as_stored_beside_the_ledgers_amounts(prefect_server, home, ledger, tmp_path):
    from flows.monthly_close import monthly_close

    load_october(ledger, tmp_path)
    import_file("customers", write_csv(tmp_path / "names.csv", CUSTOMER_HEADER, [
        customer("EVIL", name=NAMES["EVIL"], fee="90000.00"), customer("LINK", name=NAMES["LINK"], fee="80000.00")]),
        engine=ledger)
    assert monthly_close(month="2026-10")["status"] == "finalised"
    with session_scope(ledger) as session:
        issued = {item["customer_id"]: item for item in views.invoices(session, "2026-10") if item["kind"] == "monthly"}
        names = dict(session.execute(select(Customer.customer_id, Customer.name)).all())
    assert (issued["EVIL"]["total_ht"], issued["EVIL"]["total_ttc"]) == ("90000.00", "108000.00")

    for key, number in (("monthly-close-drafts", lambda _: "draft"), ("monthly-close", lambda item: item["number"])):
        markdown = latest(prefect_server, key)["data"]
        [table] = tables(markdown)
        shown = {row[1]: row for row in table[1:]}
        for customer_id, name in NAMES.items():
            item = issued[customer_id]
            assert shown[customer_id] == [number(item), customer_id, name, item["total_ht"], item["total_vat"],
                                          item["total_ttc"]], key
        assert live(markdown) == [], key
    listed = json.loads(latest(prefect_server, "monthly-close-invoices")["data"])
    for row in listed:  # the UI renders each text cell of a table artifact as Markdown of its own
        item = issued[row["customer"]]
        assert [lines(row[column]) for column in ("number", "total_ht", "total_vat", "total_ttc")] == [
            [item["number"]], [item["total_ht"]], [item["total_vat"]], [item["total_ttc"]]]
        assert lines(row["name"]) == [names[row["customer"]]] and live(row["name"]) == []
    assert {names[customer_id] for customer_id in NAMES} == set(NAMES.values())
