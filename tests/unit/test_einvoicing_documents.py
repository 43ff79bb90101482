"""Documents deposited on the e-invoicing platform (operations/einvoicing_documents.py), on a SQLite ledger, a
storage folder and the fake platform on loopback (a real HTTP server): October's invoices of the two French
business customers are deposited once and not mailed, the private customer's is mailed as before; without a
platform everything is mailed; the platform down leaves them pending for the next run; CII deposits the XML the
PDF carries, UBL the same document as UBL (held when its data changed since it was stored); a kill between
sending and recording never deposits twice; a rejected document, its customer's data corrected, is deposited again
as <number>-r1 beside the original."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import httpx
import pytest
from lxml import etree
from sqlalchemy import select, update

from blocks.einvoicing import TOKEN_VARIABLE, EInvoicing
from blocks.notifications import Notifications
from blocks.platform import PlatformControl
from blocks.seller import Seller
from blocks.settings import Settings
from blocks.storage import ObjectStorage
from ledger.db import session_scope
from ledger.einvoicing import EinvoiceFlow
from ledger.models import AuditEntry, Customer, Notice
from lifecycle.downloads import serve_exports
from operations.close import draft, finalise
from operations.einvoicing import record_statuses
from operations.einvoicing_documents import NOT_SET, RedepositRefused, deposit_documents, redeposit
from operations.invoice_documents import issue_documents
from operations.send_invoices import send_invoices
from policy.einvoicing import BuyerKind, FlowState
from policy.terms import Terms
from reports.invoice_document import check_facturx
from tests.support.fake_einvoicing import FakePlatform
from tests.support.scenarios import load_october, october_numbers
from tests.support.sqlite_ledger import prepared_ledger

ROOT = Path(__file__).resolve().parents[2]
SIRENS = {"ACME": "552120222", "BETA": "732829320"}   # valid SIRENs (their Luhn key holds)


@pytest.fixture
def platform():
    fake = FakePlatform()
    with fake.running():
        yield fake


@pytest.fixture
def closed(tmp_path, monkeypatch, platform):
    """October closed and its documents issued with the platform set: ACME and BETA French businesses (as the
    customers import makes a customer with a SIREN), GAMMA a private person."""
    monkeypatch.setenv(TOKEN_VARIABLE, platform.token)
    ledger = prepared_ledger(tmp_path, monkeypatch, "2026-11-02", _october_closed_with_french_businesses)
    settings = Settings(Terms(), ObjectStorage(url=(tmp_path / "store").as_uri()), PlatformControl(),
                        Notifications(outbox_dir=str(tmp_path / "outbox")), Seller(),
                        EInvoicing(base_url=platform.url, retries=0, timeout_seconds=5))
    numbers = {customer_id: invoice.number for customer_id, invoice in october_numbers(ledger).items()}
    return ledger, settings, numbers


def _october_closed_with_french_businesses(ledger, folder):
    """October loaded, ACME and BETA made French businesses, then drafted and finalised on 2026-11-02."""
    load_october(ledger, folder)
    with session_scope(ledger, write=True) as session:
        for customer_id, siren in SIRENS.items():
            session.execute(update(Customer).where(Customer.customer_id == customer_id)
                            .values(siren=siren, buyer_kind=BuyerKind.FR_BUSINESS))
    draft("2026-10", Terms(), actor="test", flow_run_id=None, engine=ledger)
    finalise("2026-10", date(2026, 11, 2), Terms(), actor="test", flow_run_id=None, engine=ledger)


def _issue(settings, ledger):
    return issue_documents(settings.seller, settings.terms, settings.storage, month="2026-10", actor="test",
                           engine=ledger, platform=settings.einvoicing)


def _mailed(ledger) -> set[str]:
    with session_scope(ledger) as session:
        return set(session.scalars(select(Notice.customer_id).where(Notice.kind == "invoice")))


def _flows(ledger) -> dict[str, EinvoiceFlow]:
    with session_scope(ledger) as session:
        return {flow.tracking_id: flow for flow in session.scalars(select(EinvoiceFlow))}


def test_french_businesses_documents_are_deposited_once_and_not_mailed_the_private_one_is_mailed(closed, platform,
                                                                                                  tmp_path):
    ledger, settings, numbers = closed
    issued = _issue(settings, ledger)
    assert sorted(issued.through_platform) == sorted([numbers["ACME"], numbers["BETA"]])
    assert issued.mails == [numbers["GAMMA"]] and _mailed(ledger) == {"GAMMA"}

    done = deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)
    assert sorted(done.deposited) == sorted([numbers["ACME"], numbers["BETA"]])
    assert (done.waiting, done.refused) == ([], [])
    acme = platform.flow(numbers["ACME"])
    stored = (tmp_path / "store" / "invoices" / "2026" / "11" / f"{numbers['ACME']}.pdf").read_bytes()
    assert (acme.name, acme.syntax, acme.processing_rule, acme.content) == (
        f"{numbers['ACME']}.pdf", "Factur-X", "B2B", stored)     # the stored PDF as it is
    assert {flow.state for flow in _flows(ledger).values()} == {FlowState.DEPOSITED}

    again = deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)
    assert (again.deposited, again.already, again.waiting) == ([], [], [])
    assert len(platform.deposits()) == 2   # each once


def test_without_a_platform_every_document_is_mailed_as_before(closed, platform):
    ledger, settings, numbers = closed
    settings.einvoicing = EInvoicing()
    issued = _issue(settings, ledger)
    assert sorted(issued.mails) == sorted(numbers[name] for name in ("ACME", "BETA", "GAMMA"))
    assert issued.through_platform == []
    done = deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)
    assert done.line() == NOT_SET == "no e-invoicing platform is set: documents are mailed"
    assert platform.deposits() == []


def test_a_document_mailed_before_the_platform_was_set_is_not_deposited(closed, platform):
    ledger, settings, numbers = closed
    platform_block, settings.einvoicing = settings.einvoicing, EInvoicing()
    _issue(settings, ledger)                      # mailed: delivered
    settings.einvoicing = platform_block
    done = deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)
    assert (done.deposited, platform.deposits()) == ([], [])


def test_the_platform_down_leaves_them_pending_said_and_the_next_run_deposits_them(closed, platform):
    ledger, settings, numbers = closed
    _issue(settings, ledger)
    settings.einvoicing.parallel_deposits = 1   # one after the other (side by side: test_einvoicing_side_by_side)
    platform.fail_next(1)
    done = deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)
    assert done.deposited == [] and len(done.waiting) == 1 and len(done.left) == 1   # the second never tried
    assert "did not answer (HTTP 503) after 1 attempt(s): what waits is sent by the next run" in done.waiting[0]
    assert "1 pending, deposited by the next run" in done.line()
    assert done.line().endswith("; the platform did not answer: 1 left pending for the next run")
    assert {flow.state for flow in _flows(ledger).values()} == {FlowState.PENDING}
    later = deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)
    assert sorted(later.deposited) == sorted([numbers["ACME"], numbers["BETA"]])
    assert len(platform.deposits()) == 2


def test_a_deposit_the_platform_refuses_is_kept_with_its_reason_and_not_sent_again(closed, platform):
    ledger, settings, numbers = closed
    _issue(settings, ledger)
    platform.refuse_deposits = "the buyer's SIREN is unknown to the directory"
    done = deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)
    assert sorted(done.refused) == sorted(f"{numbers[name]}: HTTP 400: the buyer's SIREN is unknown to the directory"
                                          for name in ("ACME", "BETA"))
    platform.refuse_deposits = None
    assert deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger).deposited == []
    assert platform.deposits() == []


def test_cii_deposits_the_xml_the_pdf_carries(closed, platform, tmp_path):
    ledger, settings, numbers = closed
    settings.einvoicing = settings.einvoicing.model_copy(update={"format": "CII"})
    _issue(settings, ledger)
    deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)
    beta = platform.flow(numbers["BETA"])
    stored = (tmp_path / "store" / "invoices" / "2026" / "11" / f"{numbers['BETA']}.pdf").read_bytes()
    assert (beta.name, beta.syntax, beta.content) == (f"{numbers['BETA']}.xml", "CII", check_facturx(stored))
    assert etree.fromstring(beta.content).findtext(".//{*}ExchangedDocument/{*}ID") == numbers["BETA"]


def test_ubl_deposits_the_ubl_of_the_document_the_pdf_carries(closed, platform, tmp_path):
    ledger, settings, numbers = closed
    settings.einvoicing = settings.einvoicing.model_copy(update={"format": "UBL"})
    _issue(settings, ledger)
    done = deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)
    assert sorted(done.deposited) == sorted([numbers["ACME"], numbers["BETA"]])
    beta = platform.flow(numbers["BETA"])
    assert (beta.name, beta.syntax, beta.processing_rule) == (f"{numbers['BETA']}.xml", "UBL", "B2B")
    ubl = etree.fromstring(beta.content)
    assert etree.QName(ubl).namespace == "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
    stored = (tmp_path / "store" / "invoices" / "2026" / "11" / f"{numbers['BETA']}.pdf").read_bytes()
    cii = etree.fromstring(check_facturx(stored))
    assert ubl.findtext("{*}ID") == numbers["BETA"] == cii.findtext(".//{*}ExchangedDocument/{*}ID")
    assert ubl.findtext("{*}CustomizationID") == "urn:cen.eu:en16931:2017"
    for ubl_total, cii_total in (("TaxExclusiveAmount", "TaxBasisTotalAmount"), ("TaxInclusiveAmount",
                                                                                 "GrandTotalAmount"),
                                 ("PayableAmount", "DuePayableAmount")):   # to the cent, as the issued document
        assert ubl.findtext(f"{{*}}LegalMonetaryTotal/{{*}}{ubl_total}") == cii.findtext(
            f".//{{*}}SpecifiedTradeSettlementHeaderMonetarySummation/{{*}}{cii_total}")
    assert ubl.find("{*}AccountingCustomerParty//{*}PartyLegalEntity/{*}CompanyID").text == SIRENS["BETA"]
    assert len(platform.deposits()) == 2


def test_a_ubl_document_whose_data_changed_since_it_was_stored_is_held_with_why(closed, platform):
    ledger, settings, numbers = closed
    settings.einvoicing = settings.einvoicing.model_copy(update={"format": "UBL"})
    _issue(settings, ledger)
    with session_scope(ledger, write=True) as session:   # the customer's address changed after the close
        session.execute(update(Customer).where(Customer.customer_id == "ACME")
                        .values(billing_address="12 rue de la Paix\n75002 Paris\nFR"))
    done = deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)
    assert done.deposited == [numbers["BETA"]]
    assert done.waiting == [f"{numbers['ACME']}: held: its data (customer, seller or terms) changed since it was "
                            f"issued, so its UBL would not say what the issued document says: deposit it as "
                            f"Factur-X or CII (the e-invoicing block's format)"]
    assert f"1 pending, deposited by the next run: {done.waiting[0]}" in done.line()
    assert [flow.tracking_id for flow in platform.deposits()] == [numbers["BETA"]]


def test_a_rejected_ubl_document_corrected_is_deposited_again_as_ubl(closed, platform):
    ledger, settings, numbers = closed
    acme = numbers["ACME"]
    settings.einvoicing = settings.einvoicing.model_copy(update={"format": "UBL"})
    platform.reject(acme, "BR-FR-12: the buyer's address lacks its postcode")
    _issue(settings, ledger)
    deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)
    _read_statuses(settings, ledger)
    with session_scope(ledger, write=True) as session:   # finance corrects the customer's address
        session.execute(update(Customer).where(Customer.customer_id == "ACME")
                        .values(billing_address="12 rue de la Paix\n75002 Paris\nFR"))
    done = redeposit(settings, acme, actor="finance", flow_run_id=None, engine=ledger)
    assert (done.tracking_id, done.state) == (f"{acme}-r1", FlowState.DEPOSITED)
    again = platform.flow(f"{acme}-r1")
    assert (again.name, again.syntax) == (f"{acme}-r1.xml", "UBL")
    address = etree.fromstring(again.content).find("{*}AccountingCustomerParty//{*}PostalAddress")
    assert address.findtext("{*}PostalZone") == "75002"          # rendered from the corrected data


def test_every_format_the_block_offers_is_accepted():
    assert [EInvoicing(format=name).format for name in ("Factur-X", "UBL", "CII")] == ["Factur-X", "UBL", "CII"]
    with pytest.raises(ValueError, match="Factur-X"):
        EInvoicing(format="PDF")


def test_send_invoices_says_a_french_business_s_documents_go_through_the_platform(closed, platform, tmp_path):
    ledger, settings, numbers = closed
    sending = send_invoices(settings, month="2026-10", customer_id="ACME", actor="test")
    assert sending.result.sent == [] and sending.result.through_platform == [numbers["ACME"]]
    assert sending.result.deposit == f"1 document(s) deposited on the e-invoicing platform ({numbers['ACME']})"
    # GAMMA's document, left unrendered by the close, is finished on the way and mailed; ACME's and BETA's never
    assert _mailed(ledger) == {"GAMMA"} and [flow.tracking_id for flow in platform.deposits()] == [numbers["ACME"]]
    again = send_invoices(settings, month="2026-10", customer_id="ACME", actor="test")   # never mailed, never twice
    assert again.result.through_platform == [numbers["ACME"]] and len(platform.deposits()) == 1


@pytest.mark.parametrize("point", ["einvoicing.recorded", "einvoicing.sent"])
def test_a_kill_between_sending_and_recording_never_deposits_twice(closed, platform, tmp_path, point):
    ledger, settings, numbers = closed
    _issue(settings, ledger)
    script = textwrap.dedent(f"""
        from blocks.einvoicing import EInvoicing
        from blocks.notifications import Notifications
        from blocks.platform import PlatformControl
        from blocks.seller import Seller
        from blocks.settings import Settings
        from blocks.storage import ObjectStorage
        from operations.einvoicing_documents import deposit_documents
        from policy.terms import Terms
        settings = Settings(Terms(), ObjectStorage(url={settings.storage.url!r}), PlatformControl(),
                            Notifications(outbox_dir={str(tmp_path / 'outbox')!r}), Seller(),
                            EInvoicing(base_url={platform.url!r}, retries=0))
        deposit_documents(settings, actor="killed", flow_run_id=None)
    """)
    env = {**os.environ, "LIFECYCLE_FAILPOINT": point, "PYTHONPATH": str(ROOT)}
    killed = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, timeout=120)
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    # the documents go side by side: the kill finds one of them (or both) recorded, and none's answer recorded
    assert _flows(ledger) and {flow.state for flow in _flows(ledger).values()} == {FlowState.PENDING}
    sent = sorted(flow.tracking_id for flow in platform.deposits())
    assert len(sent) >= 1 if point == "einvoicing.sent" else sent == []

    done = deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)
    assert sorted(done.deposited + done.already) == sorted([numbers["ACME"], numbers["BETA"]])
    assert sorted(done.already) == sent   # the platform's 409: those deposits
    assert sorted(flow.tracking_id for flow in platform.deposits()) == sorted([numbers["ACME"], numbers["BETA"]])
    assert {flow.state for flow in _flows(ledger).values()} == {FlowState.DEPOSITED}


def _read_statuses(settings, ledger):
    """The statuses as the platform gives them, kept (helper C's polling does this in a run)."""
    with session_scope(ledger, write=True) as session:
        for flow in session.scalars(select(EinvoiceFlow).where(EinvoiceFlow.state == FlowState.DEPOSITED)):
            record_statuses(session, flow, settings.einvoicing.statuses(flow.flow_id))


def test_a_rejected_document_corrected_is_deposited_again_beside_the_original(closed, platform, tmp_path):
    ledger, settings, numbers = closed
    acme, beta = numbers["ACME"], numbers["BETA"]
    platform.reject(acme, "BR-FR-12: the buyer's address lacks its postcode")
    _issue(settings, ledger)
    deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)
    _read_statuses(settings, ledger)

    with pytest.raises(RedepositRefused) as refused:
        redeposit(settings, beta, actor="finance", flow_run_id=None, engine=ledger)
    assert refused.value.one_line() == (f"--redeposit {beta}: {beta}'s last status is 200 Déposée: only a rejected "
                                        f"document (213, 221, 501) is deposited again")

    with session_scope(ledger, write=True) as session:   # finance corrects the customer's address
        session.execute(update(Customer).where(Customer.customer_id == "ACME")
                        .values(billing_address="12 rue de la Paix\n75002 Paris\nFR"))
    done = redeposit(settings, acme, actor="finance", flow_run_id=None, engine=ledger)
    assert (done.tracking_id, done.state) == (f"{acme}-r1", FlowState.DEPOSITED)
    folder = tmp_path / "store" / "invoices" / "2026" / "11"
    original, corrected = (folder / f"{acme}.pdf").read_bytes(), (folder / f"{acme}-r1.pdf").read_bytes()
    assert platform.flow(acme).content == original                 # the original is kept as it was
    assert platform.flow(f"{acme}-r1").content == corrected != original
    buyer = etree.fromstring(check_facturx(corrected)).find(".//{*}BuyerTradeParty/{*}PostalTradeAddress")
    assert "75002" in etree.tostring(buyer).decode()                # rendered from the corrected data
    with session_scope(ledger) as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "einvoice_redeposit")).all()
    assert (entry.actor, entry.after["tracking_id"], entry.after["previous"]) == ("finance", f"{acme}-r1", acme)

    with pytest.raises(RedepositRefused, match=f"{acme}-r1 is deposited and has no status yet"):
        redeposit(settings, acme, actor="finance", flow_run_id=None, engine=ledger)

    # the downloads server serves the corrected document the ledger deposited again, and no `-r1` it never made
    (folder / f"{beta}-r1.pdf").write_bytes(b"%PDF put there by hand")
    server = serve_exports(tmp_path / "store", "127.0.0.1", 0, ledger)
    try:
        for name, answer in ((f"{acme}-r1.pdf", (200, corrected)), (f"{beta}-r1.pdf", (404, None))):
            with httpx.Client(base_url=f"http://127.0.0.1:{server.server_address[1]}") as client:
                got = client.get(f"/invoices/2026/11/{name}")
            assert got.status_code == answer[0] and (answer[1] is None or got.content == answer[1]), name
    finally:
        server.shutdown()


def test_the_artifact_lists_a_rejected_document_until_it_is_deposited_again(closed, platform):
    from operations.einvoicing_documents import attention_rows

    ledger, settings, numbers = closed
    acme, beta = numbers["ACME"], numbers["BETA"]
    platform.reject(beta, "BR-FR-12: the buyer's address lacks its postcode")
    _issue(settings, ledger)
    deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger, numbers=[beta])
    platform.fail_next(1)                                   # ACME's deposit waits: not deposited yet
    deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)
    _read_statuses(settings, ledger)
    rows = attention_rows(engine=ledger)
    assert [(row["number"], row["customer"], row["status"], row["reason"]) for row in rows] == [
        (acme, "ACME", "not deposited yet", "1 attempt(s)"),
        (beta, "BETA", "213 Rejetée", "BR-FR-12: the buyer's address lacks its postcode")]
    redeposit(settings, beta, actor="finance", flow_run_id=None, engine=ledger)
    deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)
    assert attention_rows(engine=ledger) == []    # BETA judged by its new deposit, ACME deposited


@pytest.mark.parametrize("status, body", [
    (201, {}),                                     # a flowId missing
    (200, "<html>ok</html>"),                      # an HTML page
    (201, {"flowId": "L" * 300}),                  # longer than the ledger's column
    (201, {"flowId": "F1\x1b[2J\u202e"}),          # control and invisible characters
    (201, {"flowId": True}),
    (307, {"reason": "moved"}),                    # neither taken nor refused
])
def test_an_answer_without_a_usable_flow_id_leaves_the_document_pending_never_refused(closed, platform, status, body):
    ledger, settings, numbers = closed
    _issue(settings, ledger)
    platform.lie(numbers["ACME"], status, body)
    done = deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)
    assert done.deposited == [numbers["BETA"]] and done.refused == []
    assert len(done.waiting) == 1 and done.waiting[0].startswith(
        f"{numbers['ACME']}: the platform's answer to deposit {numbers['ACME']} was not understood (HTTP {status}, ")
    assert done.waiting[0].endswith("): it stays pending; ask the platform")
    assert _flows(ledger)[numbers["ACME"]].state == FlowState.PENDING
    with pytest.raises(RedepositRefused):      # pending: no second deposit of the same document
        redeposit(settings, numbers["ACME"], actor="test", flow_run_id=None, engine=ledger)
    del platform.lies[numbers["ACME"]]          # the platform answers again: its 409 gives the flow it holds
    later = deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)
    assert later.deposited == [numbers["ACME"]] or later.already == [numbers["ACME"]]
    assert _flows(ledger)[numbers["ACME"]].flow_id == platform.flow(numbers["ACME"]).flow_id
    assert len(platform.deposits()) == 2


def test_a_409_naming_another_documents_flow_is_no_deposit(closed, platform):
    ledger, settings, numbers = closed
    _issue(settings, ledger)
    first, second = sorted([numbers["ACME"], numbers["BETA"]])
    deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger, numbers=[first])
    platform.lie(second, 409, {"flowId": platform.flow(first).flow_id}, store=False)
    done = deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)
    assert done.deposited == [] and done.refused == []
    assert done.waiting == [f"{second}: the platform's answer to deposit {second} was not understood (HTTP 409 names "
                            f"flow {platform.flow(first).flow_id!r}, which is not this document's): it stays pending; "
                            f"ask the platform"]
    assert _flows(ledger)[second].state == FlowState.PENDING and _flows(ledger)[second].flow_id is None


def test_one_flow_id_never_stands_for_two_documents(closed, platform):
    ledger, settings, numbers = closed
    _issue(settings, ledger)
    first, second = sorted([numbers["ACME"], numbers["BETA"]])
    deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger, numbers=[first])
    platform.lie(second, 201, {"flowId": platform.flow(first).flow_id}, store=False)
    done = deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)
    assert done.deposited == []
    assert done.waiting == [f"{second}: the platform gave flow {platform.flow(first).flow_id!r} for {second}, already "
                            f"{first}'s: it stays pending; ask the platform"]
    assert _flows(ledger)[second].state == FlowState.PENDING


def test_a_platform_that_never_answers_holds_a_run_for_one_requests_time_outs_not_one_per_document(closed):
    from tests.support.fake_einvoicing import hanging_platform

    ledger, settings, numbers = closed
    _issue(settings, ledger)
    first, second = sorted([numbers["ACME"], numbers["BETA"]])
    with hanging_platform() as (url, accepted):
        # one after the other (side by side, as many documents are tried at once: test_einvoicing_side_by_side)
        settings.einvoicing = EInvoicing(base_url=url, retries=1, timeout_seconds=0.3, parallel_deposits=1)
        done = deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)
        # the requests the platform received, not the seconds they took (a loaded machine stretches those): the
        # first document's two attempts, and the second document never tried
        assert len(accepted) == 2
    assert done.deposited == [] and done.left == [second]
    assert done.line().endswith("1 pending, deposited by the next run: " + done.waiting[0]
                                + "; the platform did not answer: 1 left pending for the next run")
    assert "did not answer (ReadTimeout" in done.waiting[0]
    assert {flow.state for flow in _flows(ledger).values()} == {FlowState.PENDING}


def test_a_poll_stops_asking_once_the_platform_did_not_answer(closed, platform):
    from operations.einvoicing_statuses import poll_statuses
    from tests.support.fake_einvoicing import hanging_platform

    ledger, settings, numbers = closed
    _issue(settings, ledger)
    deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)
    # a poll asks the oldest flows first: the order the deposits were recorded in, which is not the documents'
    # order once they go side by side (CI's faketime day saw BETA's recorded before ACME's)
    from sqlalchemy import select

    from ledger.db import session_scope
    from ledger.einvoicing import EinvoiceFlow

    with session_scope(ledger) as session:
        first, second = session.scalars(select(EinvoiceFlow.tracking_id).order_by(EinvoiceFlow.id)).all()
    with hanging_platform() as (url, accepted):
        settings.einvoicing = EInvoicing(base_url=url, retries=0, timeout_seconds=0.3)
        read = poll_statuses(settings, actor="test", flow_run_id=None, engine=ledger)
        assert len(accepted) == 1
    assert read.new == [] and read.unreachable[1] == f"{second}: not asked, the platform did not answer"
    assert read.line() == "0 new status(es) read on 2 flow(s) (2 not answered: read again by the next run)"


def test_a_refusal_s_reason_is_kept_and_said_on_one_line_without_its_control_characters(closed, platform):
    # the platform's (or a proxy's) words on a refused deposit were kept and printed as they came: a line break
    # forged a line of the run's output, an ESC drove the terminal, a bidi override reordered the line; they
    # are kept as a polled status's reason is (blocks.einvoicing.stored_reason)
    from sqlalchemy import select

    from ledger.db import session_scope
    from ledger.einvoicing import EinvoiceFlow

    ledger, settings, numbers = closed
    _issue(settings, ledger)
    platform.refuse_deposits = "SIREN unknown\nrefused by the platform: FORGED\x1b[2J \u202eevil"
    done = deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)
    said = "HTTP 400: SIREN unknown refused by the platform: FORGED\\u001b[2J \\u202eevil"
    assert sorted(done.refused) == sorted(f"{numbers[name]}: {said}" for name in ("ACME", "BETA"))
    assert len(done.line().splitlines()) == 1
    with session_scope(ledger) as session:
        assert set(session.scalars(select(EinvoiceFlow.reason))) == {said}
