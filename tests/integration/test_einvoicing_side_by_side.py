"""A month's documents deposited side by side (the e-invoicing block's `parallel_deposits` at a time), on SQLite and
PostgreSQL, to the fake platform on loopback (a real HTTP server): a slow platform gets every document once, several
at a time, each recorded deposited once in the ledger with its own audit line; a platform that refuses one document
and cannot take another keeps the first refused and the second pending while the others are deposited, and the next
run deposits what waits without sending any document twice; a platform that never answers holds the run for one
request's time-outs, the documents not started left for the next run."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from sqlalchemy import select, update

from blocks.einvoicing import TOKEN_VARIABLE, EInvoicing
from blocks.notifications import Notifications
from blocks.platform import PlatformControl
from blocks.seller import Seller
from blocks.settings import Settings
from blocks.storage import ObjectStorage
from ledger.db import session_scope
from ledger.einvoicing import EinvoiceFlow
from ledger.imports import import_file
from ledger.models import AuditEntry, Customer
from operations.close import draft, finalise
from operations.einvoicing_documents import deposit_documents
from operations.invoice_documents import issue_documents
from policy.einvoicing import BuyerKind, FlowState
from policy.terms import Terms
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv
from tests.support.fake_einvoicing import FakePlatform, hanging_platform

CUSTOMERS = 16
AT_ONCE = 4


@pytest.fixture
def platform():
    fake = FakePlatform()
    with fake.running():
        yield fake


@pytest.fixture
def month(ledger, tmp_path, monkeypatch, platform):
    """October closed for CUSTOMERS French businesses, each with its invoice issued and stored, not deposited."""
    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-11-02")
    monkeypatch.setenv(TOKEN_VARIABLE, platform.token)
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [
        customer(f"C{index:02d}", fee=f"{100 + index}.00") for index in range(CUSTOMERS)]), engine=ledger)
    with session_scope(ledger, write=True) as session:
        session.execute(update(Customer).values(siren="552120222", buyer_kind=BuyerKind.FR_BUSINESS))
    draft("2026-10", Terms(), actor="test", flow_run_id=None, engine=ledger)
    report = finalise("2026-10", date(2026, 11, 2), Terms(), actor="test", flow_run_id=None, engine=ledger)
    settings = Settings(Terms(), ObjectStorage(url=(tmp_path / "store").as_uri()), PlatformControl(),
                        Notifications(outbox_dir=str(tmp_path / "outbox")), Seller(),
                        EInvoicing(base_url=platform.url, retries=0, timeout_seconds=10, parallel_deposits=AT_ONCE))
    issued = issue_documents(settings.seller, settings.terms, settings.storage, month="2026-10", actor="test",
                             engine=ledger, platform=settings.einvoicing)
    numbers = sorted(item.number for item in report.listed)
    assert len(numbers) == CUSTOMERS and sorted(issued.through_platform) == numbers
    return settings, numbers


def _flows(ledger) -> dict[str, EinvoiceFlow]:
    with session_scope(ledger) as session:
        return {flow.tracking_id: flow for flow in session.scalars(select(EinvoiceFlow))}


def _audited(ledger, action: str) -> Counter:
    with session_scope(ledger) as session:
        return Counter(entry["tracking_id"] for entry in session.scalars(
            select(AuditEntry.after).where(AuditEntry.action == action)))


def test_a_slow_platform_gets_every_document_once_several_at_a_time(ledger, month, platform):
    settings, numbers = month
    platform.delay = 0.3
    done = deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)

    assert done.deposited == numbers and (done.already, done.waiting, done.refused, done.left) == ([], [], [], [])
    assert done.line().startswith(f"{CUSTOMERS} document(s) deposited on the e-invoicing platform ({numbers[0]}, ")
    assert sorted(platform.posted) == numbers                 # each document sent once
    assert 1 < platform.most_at_once <= AT_ONCE               # side by side, never more than asked
    flows = _flows(ledger)
    assert sorted(flows) == numbers and {flow.state for flow in flows.values()} == {FlowState.DEPOSITED}
    assert {flow.tracking_id: flow.flow_id for flow in flows.values()} == platform.by_tracking
    assert _audited(ledger, "einvoice_deposited") == Counter(numbers)   # one audit line each

    again = deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)
    assert again.nothing_done() and sorted(platform.posted) == numbers


def test_a_platform_failing_on_some_documents_loses_or_doubles_none_of_the_others(ledger, month, platform):
    settings, numbers = month
    refused, failing = numbers[3], numbers[9]
    platform.lie(refused, 400, {"reason": "the buyer's SIREN is unknown to the directory"}, store=False)
    platform.fail_always.add(failing)
    platform.delay = 0.1

    first = deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)
    # the 503 makes the run stop starting documents (the platform may be down): those already sent finish
    waiting = [line.split(":", 1)[0] for line in first.waiting]
    said = first.deposited + waiting + [line.split(":", 1)[0] for line in first.refused] + first.left
    assert sorted(said) == numbers                            # every document said once, none lost
    assert waiting == [failing] and first.refused == [f"{refused}: HTTP 400: the buyer's SIREN is unknown to the "
                                                      f"directory"]
    assert "did not answer (HTTP 503) after 1 attempt(s)" in first.waiting[0]
    assert first.left == numbers[CUSTOMERS - len(first.left):]   # those not started yet: the last ones
    assert sorted(platform.by_tracking) == sorted(first.deposited)
    flows = _flows(ledger)
    assert flows[refused].state == FlowState.REFUSED and flows[failing].state == FlowState.PENDING
    assert {number for number, flow in flows.items() if flow.state == FlowState.DEPOSITED} == set(first.deposited)

    platform.fail_always.clear()                              # the platform takes it again
    second = deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)
    assert sorted(second.deposited) == sorted([failing] + first.left) and second.refused == []
    assert sorted(platform.by_tracking) == sorted(set(numbers) - {refused})
    assert Counter(platform.posted)[failing] == 2             # its 503, then its deposit
    assert all(count == 1 for number, count in Counter(platform.posted).items() if number != failing)
    assert _audited(ledger, "einvoice_deposited") == Counter(set(numbers) - {refused})
    assert _audited(ledger, "einvoice_refused") == Counter([refused])


def test_a_platform_that_never_answers_holds_the_run_for_one_request_s_time_outs(ledger, month):
    settings, numbers = month
    with hanging_platform() as (url, accepted):
        settings.einvoicing = EInvoicing(base_url=url, retries=1, timeout_seconds=0.5, parallel_deposits=AT_ONCE)
        done = deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)
        # the requests the platform received, not the seconds they took (a loaded machine stretches those): the
        # first AT_ONCE documents' two attempts each, side by side; the others never tried
        assert len(accepted) == 2 * AT_ONCE
    assert done.deposited == [] and len(done.waiting) == AT_ONCE and done.left == numbers[AT_ONCE:]
    assert done.line().endswith(f"the platform did not answer: {CUSTOMERS - AT_ONCE} left pending for the next run")
    assert {flow.state for flow in _flows(ledger).values()} == {FlowState.PENDING}
