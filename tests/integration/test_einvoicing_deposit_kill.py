"""A close's documents are deposited on the e-invoicing platform once, on SQLite and PostgreSQL, through a real
SIGKILL between recording a deposit and sending it, and between sending it and recording the platform's answer:
the run after finds the flow pending and sends it again; the platform's 409 for a tracking id it has is the deposit.
The platform is a fake on loopback (it lies outside the product)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

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
from ledger.models import Customer, Notice
from operations.close import draft, finalise
from operations.einvoicing_documents import deposit_documents
from operations.invoice_documents import issue_documents
from policy.einvoicing import BuyerKind, FlowState
from policy.terms import Terms
from tests.support.fake_einvoicing import FakePlatform
from tests.support.scenarios import load_october

ROOT = Path(__file__).resolve().parents[2]
SIRENS = {"ACME": "552120222", "BETA": "732829320"}   # French businesses; GAMMA stays a private person


@pytest.fixture
def platform(tmp_path):
    fake = FakePlatform(log_path=tmp_path / "platform-flows.jsonl")
    with fake.running():
        yield fake


@pytest.mark.parametrize("point", ["einvoicing.recorded", "einvoicing.sent"])
def test_a_close_s_documents_are_deposited_once_through_a_kill(ledger, tmp_path, monkeypatch, platform, point):
    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-11-02")
    monkeypatch.setenv(TOKEN_VARIABLE, platform.token)
    load_october(ledger, tmp_path)
    with session_scope(ledger, write=True) as session:
        for customer_id, siren in SIRENS.items():
            session.execute(update(Customer).where(Customer.customer_id == customer_id)
                            .values(siren=siren, buyer_kind=BuyerKind.FR_BUSINESS))
    draft("2026-10", Terms(), actor="test", flow_run_id=None, engine=ledger)
    report = finalise("2026-10", date(2026, 11, 2), Terms(), actor="test", flow_run_id=None, engine=ledger)
    numbers = {item.customer_id: item.number for item in report.listed}
    store, outbox = (tmp_path / "store").as_uri(), str(tmp_path / "outbox")
    settings = Settings(Terms(), ObjectStorage(url=store), PlatformControl(), Notifications(outbox_dir=outbox),
                        Seller(), EInvoicing(base_url=platform.url, retries=0, timeout_seconds=5))
    issued = issue_documents(settings.seller, settings.terms, settings.storage, month="2026-10", actor="test",
                             engine=ledger, platform=settings.einvoicing)
    assert sorted(issued.stored) == sorted(numbers.values()) and issued.mails == [numbers["GAMMA"]]

    script = textwrap.dedent(f"""
        from blocks.einvoicing import EInvoicing
        from blocks.notifications import Notifications
        from blocks.platform import PlatformControl
        from blocks.seller import Seller
        from blocks.settings import Settings
        from blocks.storage import ObjectStorage
        from operations.einvoicing_documents import deposit_documents
        from policy.terms import Terms
        settings = Settings(Terms(), ObjectStorage(url={store!r}), PlatformControl(),
                            Notifications(outbox_dir={outbox!r}), Seller(), EInvoicing(base_url={platform.url!r}))
        deposit_documents(settings, actor="killed", flow_run_id=None)
    """)
    killed = subprocess.run([sys.executable, "-c", script], env={**os.environ, "LIFECYCLE_FAILPOINT": point},
                            cwd=ROOT, capture_output=True, timeout=180)
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    # the documents go side by side: the kill finds one of them sent (or both), or none at the first point
    sent = sorted(flow.tracking_id for flow in platform.deposits())
    assert len(sent) >= 1 if point == "einvoicing.sent" else sent == []

    done = deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)
    businesses = sorted([numbers["ACME"], numbers["BETA"]])
    assert sorted(done.deposited + done.already) == businesses
    assert sorted(done.already) == sent   # the platform's 409 was those deposits
    # the platform holds each French business's document once, the PDF the ledger stored; nothing of GAMMA's
    assert sorted(flow.tracking_id for flow in platform.deposits()) == businesses
    assert all(flow.content.startswith(b"%PDF") and flow.processing_rule == "B2B" for flow in platform.deposits())
    with session_scope(ledger) as session:
        flows = session.scalars(select(EinvoiceFlow)).all()
        mailed = {notice.invoice_id for notice in session.scalars(select(Notice))}
        assert {flow.tracking_id: flow.state for flow in flows} == {number: FlowState.DEPOSITED
                                                                    for number in businesses}
        assert len(mailed) == 1                                             # GAMMA's mail only
    # a third pass deposits nothing more
    again = deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)
    assert again.deposited == [] and len(platform.deposits()) == 2
