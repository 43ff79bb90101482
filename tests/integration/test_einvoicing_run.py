"""The e-invoicing run as finance and ops meet it, on SQLite and PostgreSQL, against the fake platform on loopback
(LIFECYCLE_EINVOICING_URL / _TOKEN set as a vendor would): October's close deposits the French business
customers' invoices right away and mails only the private customer's; the platform rejects one (213); `lifecycle
run e-invoicing` (its row of the CLI's table, in process: the options asked, the flow run, its result printed)
lists it with the platform's reason and ends well; finance corrects the customer's address and `--redeposit`
deposits it again as <number>-r1; a second run deposits nothing twice. Without a platform, the run says so."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from blocks.einvoicing import EInvoicing
from ledger.db import session_scope
from ledger.einvoicing import EinvoiceFlow
from ledger.models import Customer, Invoice, Notice
from operations.einvoicing import record_statuses
from policy.einvoicing import BuyerKind, FlowState
from tests.support.fake_einvoicing import FakePlatform
from tests.support.scenarios import load_october

pytestmark = pytest.mark.prefect


@pytest.fixture
def platform(monkeypatch, tmp_path):
    fake = FakePlatform(log_path=tmp_path / "platform-flows.jsonl")
    with fake.running():
        monkeypatch.setenv("LIFECYCLE_EINVOICING_URL", fake.url)
        monkeypatch.setenv("LIFECYCLE_EINVOICING_TOKEN", fake.token)
        yield fake


def run_einvoicing(capsys, **options) -> tuple[object, list[str]]:
    """`lifecycle run e-invoicing [--as-of DAY] [--redeposit NUMBER]` in process: its row's options, flow, result
    type and printer, as lifecycle.cli.run does when no worker serves the deployment."""
    from lifecycle.cli.run import RUN_COMMANDS

    command = RUN_COMMANDS["e-invoicing"]
    given = {"as_of": None, "redeposit": None, **options}
    summary = command.flow_function()(**command.ask(**given))
    result = command.result_type().from_summary(summary)
    capsys.readouterr()
    command.show(result, given)
    return result, capsys.readouterr().out.splitlines()


def numbers_of(ledger) -> dict[str, str]:
    with session_scope(ledger) as session:
        return {customer: number for customer, number in session.execute(
            select(Invoice.customer_id, Invoice.number).where(Invoice.month == "2026-10", Invoice.number.is_not(None)))}


def mailed(ledger) -> set[str]:
    with session_scope(ledger) as session:
        return set(session.scalars(select(Notice.customer_id).where(Notice.kind == "invoice")))


def test_a_close_deposits_once_a_rejection_is_listed_corrected_and_deposited_again(prefect_server, home, ledger,
                                                                                   tmp_path, platform, capsys):
    from flows.monthly_close import monthly_close

    load_october(ledger, tmp_path)
    with session_scope(ledger, write=True) as session:   # French businesses, as the customers import makes them
        for customer_id, siren in (("ACME", "552120222"), ("BETA", "732829320")):
            session.execute(update(Customer).where(Customer.customer_id == customer_id)
                            .values(siren=siren, buyer_kind=BuyerKind.FR_BUSINESS))
    closed = monthly_close(month="2026-10")
    numbers = numbers_of(ledger)
    acme, beta = numbers["ACME"], numbers["BETA"]
    assert closed["einvoicing"] == f"e-invoicing: 2 document(s) deposited on the e-invoicing platform ({acme}, {beta})"
    assert sorted(flow.tracking_id for flow in platform.deposits()) == sorted([acme, beta])
    assert mailed(ledger) == {"GAMMA"}                    # the private customer's invoice is mailed as before

    # the platform rejects BETA's invoice; the statuses are read (helper C's polling, here the foundation's)
    platform.add_status(beta, 213, "Rejetée", reason="BR-FR-12: the buyer's address lacks its postcode")
    with session_scope(ledger, write=True) as session:
        for flow in session.scalars(select(EinvoiceFlow)):
            record_statuses(session, flow, EInvoicing().statuses(flow.flow_id))

    result, lines = run_einvoicing(capsys, as_of="2026-11-03")
    assert result.configured and result.deposited == [] and len(platform.deposits()) == 2   # nothing twice
    assert [row["status"] for row in result.attention] == ["213 Rejetée"]
    assert result.attention[0]["number"] == beta and result.attention[0]["customer"] == "BETA"
    assert lines[0].startswith("2026-11-03: 0 document(s) deposited; ")
    assert lines[-1].startswith(f"  {beta} BETA: 213 Rejetée since ")
    assert lines[-1].endswith("(BR-FR-12: the buyer's address lacks its postcode)")

    # ACME's last status is 200 Déposée: not deposited again, in one line
    from flows.einvoicing import einvoicing

    state = einvoicing(redeposit=acme, return_state=True)
    assert state.is_failed() and state.message == (f"--redeposit {acme}: {acme}'s last status is 200 Déposée: only "
                                                   f"a rejected document (213, 221, 501) is deposited again")

    with session_scope(ledger, write=True) as session:   # finance corrects BETA's address
        session.execute(update(Customer).where(Customer.customer_id == "BETA")
                        .values(billing_address="12 rue de la Paix\n75002 Paris\nFR"))
    result, lines = run_einvoicing(capsys, redeposit=beta)
    assert result.redeposited == f"{beta}-r1: deposited" and lines[0] == f"deposited again: {beta}-r1: deposited"
    assert platform.flow(f"{beta}-r1").content != platform.flow(beta).content
    assert len(platform.deposits()) == 3
    with session_scope(ledger) as session:
        assert session.scalar(select(EinvoiceFlow.state).where(EinvoiceFlow.tracking_id == f"{beta}-r1")) \
            == FlowState.DEPOSITED
    log = (tmp_path / "platform-flows.jsonl").read_text().splitlines()
    assert len(log) == 3 and f'"trackingId": "{beta}-r1"' in log[-1]


def test_the_platform_down_never_fails_the_close_and_the_run_deposits_what_waits(prefect_server, home, ledger,
                                                                                 tmp_path, platform, capsys):
    from flows.monthly_close import monthly_close

    load_october(ledger, tmp_path)
    with session_scope(ledger, write=True) as session:
        session.execute(update(Customer).where(Customer.customer_id == "ACME")
                        .values(siren="552120222", buyer_kind=BuyerKind.FR_BUSINESS))
    platform.fail_next(4)                                 # the first attempt and its 3 retries: 503 maintenance
    closed = monthly_close(month="2026-10")
    acme = numbers_of(ledger)["ACME"]
    assert closed["status"] == "finalised" and closed["einvoicing"].startswith(
        f"e-invoicing: 0 document(s) deposited on the e-invoicing platform; 1 pending, deposited by the next run: "
        f"{acme}: the e-invoicing platform at {platform.url} did not answer (HTTP 503) after 4 attempt(s)")
    assert platform.deposits() == [] and "ACME" not in mailed(ledger)
    result, lines = run_einvoicing(capsys)
    assert result.deposited == [acme] and [flow.tracking_id for flow in platform.deposits()] == [acme]


def test_without_a_platform_the_run_says_documents_are_mailed(prefect_server, home, ledger, capsys, monkeypatch):
    monkeypatch.delenv("LIFECYCLE_EINVOICING_URL", raising=False)
    result, lines = run_einvoicing(capsys)
    assert not result.configured
    assert lines == [f"{result.day}: no e-invoicing platform is set: documents are mailed"]


def test_a_redeposit_asked_without_a_platform_is_refused_not_ignored(prefect_server, home, ledger, monkeypatch):
    from flows.einvoicing import einvoicing

    monkeypatch.delenv("LIFECYCLE_EINVOICING_URL", raising=False)
    state = einvoicing(redeposit="2026-000002", return_state=True)
    assert state.is_failed() and state.message == ("--redeposit 2026-000002: no e-invoicing platform is set: "
                                                   "documents are mailed, nothing was deposited again")


def test_a_flow_id_too_long_for_the_ledger_leaves_the_document_pending_and_the_close_goes_on(
        prefect_server, home, ledger, tmp_path, platform, capsys):
    from flows.monthly_close import monthly_close

    load_october(ledger, tmp_path)
    with session_scope(ledger, write=True) as session:
        session.execute(update(Customer).where(Customer.customer_id == "ACME")
                        .values(siren="552120222", buyer_kind=BuyerKind.FR_BUSINESS))
    acme = "2026-000001"
    platform.lie(acme, 201, {"flowId": "L" * 300 + acme})   # PostgreSQL's varchar(200) would refuse it
    closed = monthly_close(month="2026-10")
    assert numbers_of(ledger)["ACME"] == acme
    assert closed["status"] == "finalised" and closed["einvoicing"] == (
        f"e-invoicing: 0 document(s) deposited on the e-invoicing platform; 1 pending, deposited by the next run: "
        f"{acme}: the platform's answer to deposit {acme} was not understood (HTTP 201, no usable flowId): it stays "
        f"pending; ask the platform")
    del platform.lies[acme]                                  # the next run: the platform's 409 names its flow
    result, lines = run_einvoicing(capsys)
    assert result.deposited == [acme] and [flow.tracking_id for flow in platform.deposits()] == [acme]
