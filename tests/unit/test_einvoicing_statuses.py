"""What finance and ops read of a document's life on the e-invoicing platform, on a SQLite ledger with the fake
platform on loopback: the month's workbook shows each invoice's last status; an alert quotes the platform's
reason on one line, its hidden characters written out; a flow is asked about until its life has ended."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from blocks.einvoicing import EInvoicing
from blocks.notifications import Notifications
from blocks.platform import PlatformControl
from blocks.seller import Seller
from blocks.settings import Settings
from blocks.storage import ObjectStorage
from ledger.db import session_scope
from ledger.models import Invoice
from operations.einvoicing import FlowSpec, deposit_once
from operations.einvoicing_statuses import ended, poll_statuses, shown_reason
from operations.export import export_month
from policy.einvoicing import FlowKind, ProcessingRule, Syntax
from policy.terms import Terms
from tests.support.fake_einvoicing import FakePlatform
from tests.support.scenarios import october_closed
from tests.support.sqlite_ledger import prepared_ledger, sqlite_ledger


@pytest.fixture
def platform(monkeypatch):
    monkeypatch.setenv("LIFECYCLE_EINVOICING_TOKEN", "pa-token")
    monkeypatch.delenv("LIFECYCLE_EINVOICING_URL", raising=False)
    fake = FakePlatform()
    with fake.running():
        yield fake


def test_the_workbook_shows_each_invoices_last_status_on_the_platform(tmp_path, monkeypatch, platform):
    ledger = prepared_ledger(tmp_path, monkeypatch, "2026-11-02", october_closed)
    with session_scope(ledger) as session:
        first, *others = session.scalars(select(Invoice).where(Invoice.close_month == "2026-10")
                                         .order_by(Invoice.number)).all()
    block = EInvoicing(base_url=platform.url, retries=0, timeout_seconds=5)
    platform.reject(first.number, "BR-FR-10: the buyer's SIREN is missing")
    deposit_once(block, FlowSpec(first.number, FlowKind.DOCUMENT, Syntax.FACTUR_X, ProcessingRule.B2B,
                                 f"{first.number}.pdf", lambda: b"%PDF-1.7", invoice_id=first.id,
                                 customer_id=first.customer_id), actor="test", engine=ledger)
    settings = Settings(Terms(), ObjectStorage(url=(tmp_path / "store").as_uri()), PlatformControl(),
                        Notifications(outbox_dir=str(tmp_path / "outbox")), Seller(), einvoicing=block)
    assert poll_statuses(settings, actor="test", flow_run_id=None, engine=ledger).new == [
        f"{first.number} 200 Déposée", f"{first.number} 213 Rejetée"]

    exported = export_month("2026-10", settings.storage, Terms(), flow_run_id="run-1", engine=ledger)
    sheet = load_workbook(tmp_path / "store" / exported.key, read_only=True)["Factures"]
    header, *rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    number, status = header.index("Numéro"), header.index("Statut plateforme (e-facture)")
    numbers = {first.number, *(invoice.number for invoice in others)}
    shown = {row[number]: row[status] for row in rows if row and row[number] in numbers}
    assert set(shown) == numbers
    assert shown[first.number] == "213 Rejetée"
    assert all(shown[invoice.number] in (None, "") for invoice in others)


def test_an_alert_quotes_the_platforms_reason_on_one_line_its_hidden_characters_written_out():
    assert shown_reason("BR-FR-10:\n the SIREN\tis missing") == "BR-FR-10: the SIREN is missing"
    assert shown_reason("refusé \u202eelbisivni\x1b[31m") == "refusé \\u202eelbisivni\\u001b[31m"
    assert shown_reason(None) == shown_reason("  ") == "no reason given"
    assert shown_reason("x" * 600) == "x" * 500 + "…"


def test_a_document_is_asked_about_until_its_life_has_ended():
    assert not ended(FlowKind.DOCUMENT, {200, 202, 204})
    assert not ended(FlowKind.DOCUMENT, {200, 207})          # a dispute settles later
    assert all(ended(FlowKind.DOCUMENT, {200, code}) for code in (210, 212, 213, 220, 221, 501))
    # a status the vendor sent (212 Encaissée as CDAR): until the platform took it, or not
    assert not ended(FlowKind.STATUS, {200}) and ended(FlowKind.STATUS, {200, 202})


def test_a_label_the_platform_gives_with_hidden_characters_is_kept_as_the_bare_code(tmp_path, monkeypatch, platform):
    from ledger.einvoicing import EinvoiceStatus

    ledger = sqlite_ledger(tmp_path, monkeypatch, "2026-11-02")
    block = EInvoicing(base_url=platform.url, retries=0, timeout_seconds=5)
    deposit_once(block, FlowSpec("E-1", FlowKind.E_REPORTING, Syntax.CDAR, ProcessingRule.B2C, "E-1.xml",
                                 lambda: b"<x/>", period="2026-10"), actor="test", engine=ledger)
    platform.add_status("E-1", 299, "Vu\u202e par l'administration")
    platform.add_status("E-1", 298, "Transmise à l'administration")
    settings = Settings(Terms(), ObjectStorage(url=(tmp_path / "store").as_uri()), PlatformControl(),
                        Notifications(outbox_dir=str(tmp_path / "outbox")), Seller(), einvoicing=block)
    poll_statuses(settings, actor="test", flow_run_id=None, engine=ledger)
    with session_scope(ledger) as session:
        assert sorted(session.scalars(select(EinvoiceStatus.label))) == [
            "Déposée", "Transmise à l'administration", "status 299"]


def _deposited(tmp_path, monkeypatch, platform):
    """October closed, its first invoice deposited on the fake platform: (ledger, settings, its number)."""
    ledger = prepared_ledger(tmp_path, monkeypatch, "2026-11-02", october_closed)
    with session_scope(ledger) as session:
        first = session.scalars(select(Invoice).where(Invoice.close_month == "2026-10").order_by(Invoice.number)).first()
    block = EInvoicing(base_url=platform.url, retries=0, timeout_seconds=5)
    deposit_once(block, FlowSpec(first.number, FlowKind.DOCUMENT, Syntax.FACTUR_X, ProcessingRule.B2B,
                                 f"{first.number}.pdf", lambda: b"%PDF-1.7", invoice_id=first.id,
                                 customer_id=first.customer_id), actor="test", engine=ledger)
    settings = Settings(Terms(), ObjectStorage(url=(tmp_path / "store").as_uri()), PlatformControl(),
                        Notifications(outbox_dir=str(tmp_path / "outbox")), Seller(), einvoicing=block)
    return ledger, settings, first.number


def test_statuses_the_platform_gives_that_are_no_status_are_left_out_counted_and_the_others_kept(
        tmp_path, monkeypatch, platform):
    from ledger.einvoicing import EinvoiceStatus

    ledger, settings, number = _deposited(tmp_path, monkeypatch, platform)
    platform.flow(number).statuses += [
        {"code": 205, "label": "x", "at": "0001-01-01T00:00:00+01:00"},     # before any business day
        {"code": 210, "label": "x", "at": "9999-12-31T23:59:00+00:00"},     # would be the last status for ever
        {"code": 2 ** 70, "label": "x", "at": "2026-11-02T11:00:00+00:00"},  # no integer of the ledger's size
        {"code": -5, "label": "x", "at": "2026-11-02T11:00:00+00:00"},
        {"code": True, "label": "x", "at": "2026-11-02T11:00:00+00:00"},
        {"code": 213, "label": "Rejetée", "at": "2026-11-02T12:00:00+00:00",
         "reason": "BR-FR-10\r\n  2026-000003 C003: forged \x1b[2J\u202eline\x00"}]
    read = poll_statuses(settings, actor="test", flow_run_id=None, engine=ledger)
    assert sorted(read.new) == [f"{number} 200 Déposée", f"{number} 213 Rejetée"]
    assert read.not_understood == 5
    assert read.line() == "2 new status(es) read on 1 flow(s); 5 status(es) the platform gave were not understood"
    with session_scope(ledger) as session:
        reason = session.scalar(select(EinvoiceStatus.reason).where(EinvoiceStatus.code == 213))
    assert reason == "BR-FR-10    2026-000003 C003: forged \\u001b[2J\\u202eline\\u0000"   # one line, nothing raw


def test_a_status_answer_that_is_no_statuses_object_is_said_not_read_as_none(tmp_path, monkeypatch, platform):
    ledger, settings, number = _deposited(tmp_path, monkeypatch, platform)
    platform.status_lies[platform.flow(number).flow_id] = (200, "<html>ok</html>")
    read = poll_statuses(settings, actor="test", flow_run_id=None, engine=ledger)
    assert read.new == [] and read.unreachable == [
        f"{number}: the platform's answer for flow {platform.flow(number).flow_id!r} was not understood (no list "
        f"of statuses): read again by the next run"]
    assert read.line() == "0 new status(es) read on 1 flow(s) (1 not answered: read again by the next run)"


@pytest.mark.parametrize("entry, said", [
    ({"code": 205, "at": "0001-01-01T00:00:00+01:00"},
     "e-invoicing:2:statuses[0].at: 0001-01-01T00:00:00+01:00 is before 2000-01-01 or more than a day ahead of now"),
    ({"code": 210, "at": "9999-12-31T23:59:00+00:00"},
     "e-invoicing:2:statuses[0].at: 9999-12-31T23:59:00+00:00 is before 2000-01-01 or more than a day ahead of now"),
    ({"code": 2 ** 70, "at": "2026-11-02T11:00:00+00:00"},
     "e-invoicing:2:statuses[0].code: expected XP Z12-012's status code, a number such as 213"),
])
def test_a_push_is_checked_as_a_poll_is(monkeypatch, entry, said):
    from lifecycle.einvoicing_webhook import _Malformed, pushed_statuses

    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-11-02")
    with pytest.raises(_Malformed) as refused:
        pushed_statuses({"flowId": "F000001", "statuses": [entry]})
    assert str(refused.value) == said


def test_a_pushed_reason_is_kept_on_one_line_as_a_polled_one():
    from lifecycle.einvoicing_webhook import pushed_statuses

    [(_, _, [status])] = pushed_statuses({"flowId": "F1", "statuses": [
        {"code": 213, "at": "2026-11-02T12:00:00+00:00", "reason": "BR-FR-10\r\n  forged\tline"}]})
    assert status.reason == "BR-FR-10    forged line"
