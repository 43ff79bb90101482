"""The life of a deposited invoice, as ops and finance meet it, with the fake platform on loopback, on SQLite and
PostgreSQL: a rejection alerts ops once (the mail in the outbox, with the platform's reason and the redeposit
command) however many polls read it; an invoice the buyer refused leaves the arrears escalation (the sweep issues
no penalty and no stage change for it), is audited as a dispute naming the status, and finance is alerted at its
own address; `show invoices` gives each invoice's last status."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from blocks.einvoicing import EInvoicing
from blocks.notifications import Notifications
from blocks.platform import PlatformControl
from blocks.seller import Seller
from blocks.settings import Settings
from blocks.storage import ObjectStorage
from ledger.db import session_scope
from ledger.imports import import_file
from ledger.models import AuditEntry, Customer, Invoice
from operations.arrears import sweep
from operations.einvoicing import FlowSpec, deposit_once
from operations.einvoicing_statuses import apply_effects, poll_statuses
from policy.calendar import PARIS
from policy.einvoicing import FlowKind, ProcessingRule, Syntax
from policy.terms import Terms
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv
from tests.support.fake_einvoicing import FakePlatform

INVOICES = ["invoice_id", "customer_id", "issued_on", "due_on", "amount_ht", "vat_rate", "description", "status"]
DAY = "2026-11-02"


@pytest.fixture
def platform(monkeypatch):
    monkeypatch.setenv("LIFECYCLE_EINVOICING_TOKEN", "pa-token")
    monkeypatch.delenv("LIFECYCLE_EINVOICING_URL", raising=False)
    fake = FakePlatform()
    with fake.running():
        yield fake


@pytest.fixture
def billed(ledger, home, tmp_path, monkeypatch):
    """ACME owes F-1 and BETA owes F-2 (990.00 HT, 1188.00 TTC each), issued 2026-09-01, due 2026-10-01, unpaid."""
    monkeypatch.setenv("LIFECYCLE_TODAY", DAY)
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME"), customer("BETA")]),
                engine=ledger)
    import_file("invoices", write_csv(tmp_path / "i.csv", INVOICES, [
        ["F-1", "ACME", "2026-09-01", "2026-10-01", "990.00", "", "Septembre", ""],
        ["F-2", "BETA", "2026-09-01", "2026-10-01", "990.00", "", "Septembre", ""]]), engine=ledger)
    return ledger


def settings(home: Path, platform: FakePlatform, **notifications) -> Settings:
    return Settings(Terms(), ObjectStorage(url=(home / "store").as_uri()), PlatformControl(),
                    Notifications(outbox_dir=str(home / "outbox"), **notifications), Seller(),
                    einvoicing=EInvoicing(base_url=platform.url, retries=0, timeout_seconds=5))


def deposit(engine, platform: FakePlatform, number: str) -> None:
    """Deposit the invoice `number` as B's run does, through the one way to deposit a flow."""
    with session_scope(engine) as session:
        invoice = session.scalar(select(Invoice).where(Invoice.external_id == number))
    spec = FlowSpec(number, FlowKind.DOCUMENT, Syntax.FACTUR_X, ProcessingRule.B2B, f"{number}.pdf",
                    lambda: b"%PDF-1.7 " + number.encode(), invoice_id=invoice.id, customer_id=invoice.customer_id)
    assert deposit_once(platform_block(platform), spec, actor="test", engine=engine).flow_id


def platform_block(platform: FakePlatform) -> EInvoicing:
    return EInvoicing(base_url=platform.url, retries=0, timeout_seconds=5)


def mails(home: Path) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted((home / "outbox").glob("*.eml"))]


def test_a_rejected_invoice_alerts_ops_once_with_the_platforms_reason(billed, home, platform):
    platform.reject("F-1", "BT-47: the buyer's SIREN 732829321 is unknown to the directory")
    deposit(billed, platform, "F-1")
    deposit(billed, platform, "F-2")
    run = settings(home, platform)

    read = poll_statuses(run, actor="test", flow_run_id=None, engine=billed)
    assert read.flows_read == 2 and read.unreachable == []
    assert sorted(read.new) == ["F-1 200 Déposée", "F-1 213 Rejetée", "F-2 200 Déposée"]
    applied = apply_effects(run, actor="test", flow_run_id=None, engine=billed)
    assert applied.ops_alerts == ["e-invoicing: invoice F-1 of customer ACME rejected by the platform (213 Rejetée)"]
    assert (applied.finance_alerts, applied.held, applied.problems) == ([], [], [])

    # a second poll: the rejected flow has ended (not asked again), F-2 is; nothing new, no second alert
    platform.requests.clear()
    again = poll_statuses(run, actor="test", flow_run_id=None, engine=billed)
    assert (again.flows_read, again.new) == (1, [])
    assert [path for method, path in platform.requests if method == "GET"] == [
        f"/v1/flows/{platform.flow('F-2').flow_id}"]
    assert apply_effects(run, actor="test", flow_run_id=None, engine=billed).ops_alerts == []

    [alert] = mails(home)
    assert alert["To"] == "Ops <ops@example.com>"
    body = alert.get_content()
    assert "invoice F-1 of customer ACME rejected by the platform (213 Rejetée" in body
    assert "BT-47: the buyer's SIREN 732829321 is unknown to the directory" in body
    assert "correct the data and run `lifecycle run e-invoicing --redeposit F-1`" in body
    with session_scope(billed) as session:  # a rejection is no dispute: the invoice is still owed
        assert session.scalar(select(Invoice.status).where(Invoice.external_id == "F-1")) == "open"


def test_a_refused_invoice_leaves_the_arrears_sweep_and_finance_is_told(billed, home, platform):
    deposit(billed, platform, "F-1")
    deposit(billed, platform, "F-2")
    platform.add_status("F-1", 210, "Refusée", at=datetime(2026, 10, 20, 9, 30, tzinfo=timezone.utc),
                        reason="Prestation non conforme au bon de commande")
    run = settings(home, platform, finance_email="Finance <finance@example.com>")
    poll_statuses(run, actor="test", flow_run_id="run-1", engine=billed)
    applied = apply_effects(run, actor="test", flow_run_id="run-1", engine=billed)
    assert applied.held == ["F-1 (210 Refusée)"]
    assert applied.finance_alerts == ["e-invoicing: invoice F-1 of customer ACME refused by the buyer (210 Refusée)"]
    assert applied.ops_alerts == []

    [alert] = mails(home)
    assert alert["To"] == "Finance <finance@example.com>"
    body = alert.get_content()
    assert "2026-10-20 11:30 CEST" in body and "Prestation non conforme au bon de commande" in body
    assert "arrears escalation is stopped (status disputed)" in body

    report = sweep(date(2026, 11, 2), run, dry_run=False, actor="test", flow_run_id=None, engine=billed)
    assert (report.failed, report.refused) == ([], [])
    # BETA's F-2, a month overdue, gets its penalty (10 % of 1188.00 and 40.00) and its stage; ACME's F-1 nothing
    assert [(p["invoice"], p["penalty"], p["indemnity"]) for p in report.penalties] == [("F-2", "118.80", "40.00")]
    assert [t["customer_id"] for t in report.transitions] == ["BETA"]
    with session_scope(billed) as session:
        assert session.get(Customer, "ACME").stage == "current"
        assert session.scalar(select(Invoice.status).where(Invoice.external_id == "F-1")) == "disputed"
        [change] = session.scalars(select(AuditEntry).where(AuditEntry.action == "invoice_status_changed")).all()
        assert (change.customer_id, change.actor, change.flow_run_id) == ("ACME", "test", "run-1")
        assert change.before == {"invoice": "F-1", "status": "open"}
        assert change.after["status"] == "disputed" and change.after["einvoice_status"] == "210 Refusée"

    # polled again (the refusal ended the flow) and applied again: nothing more
    assert poll_statuses(run, actor="test", flow_run_id=None, engine=billed).flows_read == 1
    assert apply_effects(run, actor="test", flow_run_id=None, engine=billed) == type(applied)()
    assert len(mails(home)) == 1


def test_a_platform_down_is_said_and_read_by_the_next_run(billed, home, platform):
    deposit(billed, platform, "F-1")
    run = settings(home, platform)
    platform.fail_next(5)
    read = poll_statuses(run, actor="test", flow_run_id=None, engine=billed)
    assert read.new == [] and len(read.unreachable) == 1 and read.unreachable[0].startswith("F-1: ")
    assert "did not answer (HTTP 503)" in read.unreachable[0]
    platform.fail_next(0)
    assert poll_statuses(run, actor="test", flow_run_id=None, engine=billed).new == ["F-1 200 Déposée"]


def test_one_flow_the_platform_fails_on_never_hides_the_statuses_of_the_others(billed, home, platform):
    """A platform answering 500 for one flow, always, stopped every run's polling there: the flows after it were
    never read again (their rejections and refusals unseen)."""
    deposit(billed, platform, "F-1")
    deposit(billed, platform, "F-2")
    platform.status_lies[platform.by_tracking["F-1"]] = (500, {"reason": "internal error"})
    platform.add_status("F-2", 213, "Rejetée", at=datetime(2026, 10, 20, 9, 30, tzinfo=timezone.utc),
                        reason="BR-FR-12: the buyer's address lacks its postcode")
    read = poll_statuses(settings(home, platform), actor="test", flow_run_id=None, engine=billed)
    assert sorted(read.new) == ["F-2 200 Déposée", "F-2 213 Rejetée"]
    assert len(read.unreachable) == 1 and read.unreachable[0].startswith("F-1: ")


def test_a_poll_answered_with_another_flows_statuses_is_not_taken_for_this_one(billed, home, platform):
    """The platform answered F-1's poll with a flow naming F-2 and a 210 Refusée: it was kept as F-1's, which left
    the arrears escalation."""
    deposit(billed, platform, "F-1")
    deposit(billed, platform, "F-2")
    refused = {"code": 210, "label": "Refusée", "at": "2026-10-20T09:30:00+00:00"}
    for key, value in (("trackingId", "F-2"), ("flowId", platform.by_tracking["F-2"])):
        platform.status_lies[platform.by_tracking["F-1"]] = (200, {key: value, "statuses": [refused]})
        run = settings(home, platform)
        read = poll_statuses(run, actor="test", flow_run_id=None, engine=billed)
        assert not [line for line in read.new if line.startswith("F-1 ")], read.new
        assert len(read.unreachable) == 1 and "another flow" in read.unreachable[0], read.unreachable
        assert apply_effects(run, actor="test", flow_run_id=None, engine=billed).held == []
    with session_scope(billed) as session:
        assert session.scalar(select(Invoice.status).where(Invoice.external_id == "F-1")) == "open"


def test_show_invoices_gives_each_invoices_last_status(billed, home, platform):
    from typer.testing import CliRunner

    from lifecycle.cli import app

    deposit(billed, platform, "F-1")
    # the platform's 200 is at its own clock; the dispute comes two hours later (to the second, as kept)
    deposited = datetime.fromisoformat(platform.flow("F-1").statuses[0]["at"]).replace(microsecond=0)
    disputed = deposited + timedelta(hours=2)
    platform.add_status("F-1", 207, "En litige", at=disputed)
    poll_statuses(settings(home, platform), actor="test", flow_run_id=None, engine=billed)
    shown = CliRunner().invoke(app, ["show", "invoices", "--format", "json"])
    assert shown.exit_code == 0, shown.output
    rows = {row["number"]: row for row in json.loads(shown.output)}
    assert (rows["F-1"]["einvoice_status"], rows["F-1"]["einvoice_status_label"],
            rows["F-1"]["einvoice_status_at"]) == (207, "En litige", disputed.isoformat())
    assert (rows["F-2"]["einvoice_status"], rows["F-2"]["einvoice_status_label"],
            rows["F-2"]["einvoice_status_at"]) == (None, None, None)
    csv = CliRunner().invoke(app, ["show", "invoices", "--format", "csv"])
    paris = disputed.astimezone(PARIS).isoformat()
    assert f"207,En litige,{paris}" in csv.output  # Paris time, as every moment shown
    table = CliRunner().invoke(app, ["show", "invoices"]).output.splitlines()
    assert "einvoice" in table[0] and "period_start" in table[0]    # one column, the header on one line
    assert "207 En litige" in next(line for line in table if line.split()[:1] == ["F-1"])


# --- the platform's pushes: POST /e-invoicing/statuses on the helpdesk webhook's port ----------------------

HELPDESK_SECRET, PLATFORM_SECRET = b"the-helpdesk-secret", b"the-platform-secret"


@pytest.fixture
def pushes(billed, home, platform):
    """The helpdesk webhook's server on loopback, taking the platform's pushes too; F-1 deposited. Yields (url,
    the refusals it logged)."""
    from lifecycle.einvoicing_webhook import PATH
    from lifecycle.helpdesk import serve_helpdesk
    from tests.support.ports import free_port

    deposit(billed, platform, "F-1")
    logged: list[str] = []
    port = free_port()
    server = serve_helpdesk("127.0.0.1", port, HELPDESK_SECRET, report=logged.append, engine=billed,
                            einvoicing_secret=PLATFORM_SECRET)
    try:
        yield f"http://127.0.0.1:{port}{PATH}", logged
    finally:
        server.shutdown()
        server.server_close()


def push(url: str, payload, secret: bytes = PLATFORM_SECRET, *, signed: bool = True, raw: bytes | None = None):
    import httpx

    from lifecycle.helpdesk import headers

    body = raw if raw is not None else json.dumps(payload).encode()
    sent = headers(secret, body) if signed else {"Content-Type": "application/json"}
    return httpx.post(url, content=body, headers=sent, timeout=30), body, sent


def refusal(at: str, reason: str = "Montant contesté") -> dict:
    return {"code": 210, "label": "Refusée", "at": at, "reason": reason}


def test_a_signed_push_is_kept_once_and_its_effects_applied_by_the_next_run(pushes, billed, home, platform):
    url, logged = pushes
    flow_id = platform.flow("F-1").flow_id
    dispute = {"code": 207, "label": "En litige", "at": "2026-10-28T10:00:00+01:00", "reason": "Montant contesté"}
    answer, body, sent = push(url, {"flowId": flow_id, "statuses": [dispute]})
    assert (answer.status_code, answer.json()) == (200, {"recorded": 1, "known": 0})
    import httpx

    replayed = httpx.post(url, content=body, headers=sent, timeout=30)   # the same request again
    assert replayed.status_code == 409 and "received already" in replayed.json()["error"]
    # pushed again in a new request, by tracking id (the same moment, written in UTC): known already
    again, _, _ = push(url, [{"trackingId": "F-1", "statuses": [{**dispute, "at": "2026-10-28T09:00:00Z"}]}])
    assert (again.status_code, again.json()) == (200, {"recorded": 0, "known": 1})
    # the platform gives it too: the poll keeps its 200 Déposée, not the dispute a second time
    platform.add_status("F-1", 207, "En litige", at=datetime(2026, 10, 28, 9, 0, tzinfo=timezone.utc),
                        reason="Montant contesté")
    run = settings(home, platform)
    assert poll_statuses(run, actor="test", flow_run_id=None, engine=billed).new == ["F-1 200 Déposée"]
    applied = apply_effects(run, actor="test", flow_run_id=None, engine=billed)
    assert (applied.held, applied.finance_alerts) == (
        ["F-1 (207 En litige)"], ["e-invoicing: invoice F-1 of customer ACME in dispute (207 En litige)"])
    [alert] = mails(home)
    assert alert["To"] == "Ops <ops@example.com>"   # no finance address set: finance alerts go to ops
    assert "Montant contesté" in alert.get_content()
    assert logged == ["e-invoicing webhook: refused 409 from 127.0.0.1: " + replayed.json()["error"]]


def test_a_push_unsigned_forged_malformed_or_for_an_unknown_flow_is_refused_in_one_line(pushes, billed, platform):
    url, logged = pushes
    good = {"trackingId": "F-1", "statuses": [refusal("2026-10-28T10:00:00+01:00")]}
    unsigned, _, _ = push(url, good, signed=False)
    assert unsigned.status_code == 401 and "X-Lifecycle-Timestamp" in unsigned.json()["error"]
    forged, _, _ = push(url, good, HELPDESK_SECRET)      # the helpdesk's secret is not the platform's
    assert forged.status_code == 401 and "bad X-Lifecycle-Signature-T" in forged.json()["error"]
    unknown, _, _ = push(url, {"trackingId": "F-9", "statuses": good["statuses"]})
    assert (unknown.status_code, unknown.json()["error"]) == (
        404, "e-invoicing:2:trackingId: no flow 'F-9' was deposited by this product")
    # probe 17: a name that is not ASCII came back escaped twice, `no flow '\\xe9-000003'`, in the answer and the log
    for sent in ("é-000003", "\uff12\uff10\uff12\uff16-000003"):
        answer, _, _ = push(url, {"trackingId": sent, "statuses": good["statuses"]})
        said = f"e-invoicing:2:trackingId: no flow '{sent}' was deposited by this product"
        assert (answer.status_code, answer.json()["error"]) == (404, said)
        assert logged[-1].endswith(said)
    stray, _, _ = push(url, {"trackingId": "F-1", "statuses": good["statuses"], "réf\u200b": 1})
    assert (stray.status_code, stray.json()["error"]) == (
        400, "e-invoicing:2:'réf\\u200b': unknown field: send flowId or trackingId, and statuses")
    cases = {
        "e-invoicing:2:statuses[0].code: expected XP Z12-012's status code, a number such as 213":
            {"trackingId": "F-1", "statuses": [{"code": "210", "at": "2026-10-28T10:00:00+01:00"}]},
        "e-invoicing:2:statuses[0].at: expected an ISO-8601 moment with its offset (2026-11-03T10:15:00+01:00)":
            {"trackingId": "F-1", "statuses": [{"code": 210, "at": "2026-10-28T10:00:00"}]},
        "e-invoicing:2: give the flow's flowId or its trackingId (one of them)": {"statuses": good["statuses"]},
        "e-invoicing:3:statuses: expected a list of statuses [{\"code\", \"label\", \"at\", \"reason\"}]":
            [good, {"trackingId": "F-1", "statuses": []}],
    }
    for error, payload in cases.items():
        answer, _, _ = push(url, payload)
        assert (answer.status_code, answer.json()["error"]) == (400, error)
    hidden, _, _ = push(url, {"trackingId": "F-1", "statuses": [refusal("2026-10-28T10:00:00+01:00",
                                                                         "payé \u202eesnopér")]})
    assert hidden.status_code == 400
    assert hidden.json()["error"].startswith("e-invoicing:2:statuses[0].reason: holds the invisible character "
                                             "U+202E RIGHT-TO-LEFT OVERRIDE")
    twice, _, _ = push(url, None, raw=b'{"trackingId": "F-1", "trackingId": "F-2", "statuses": []}')
    assert twice.status_code == 400 and "appears 2 times" in twice.json()["error"]
    # a code of 5,000 digits was "not JSON: Exceeds the limit (4300 digits) ...; use sys.set_int_max_str_digits()"
    huge, _, _ = push(url, None, raw=b'{"trackingId": "F-1", "statuses": [{"code": ' + b"9" * 5000
                      + b', "at": "2026-10-28T10:00:00+01:00"}]}')
    assert (huge.status_code, huge.json()["error"]) == (
        400, "e-invoicing:2:statuses[0].code: expected XP Z12-012's status code, a number such as 213")
    with session_scope(billed) as session:   # nothing was kept: the refusal of F-1 was never recorded
        from ledger.einvoicing import EinvoiceStatus

        assert session.scalars(select(EinvoiceStatus.code)).all() == []
    assert len(logged) == 6 + len(cases) + 3 and all("\n" not in line for line in logged)
