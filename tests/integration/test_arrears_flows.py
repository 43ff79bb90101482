"""Arrears on real flow runs with injected dates: the walk, late runs, payments, exclusions, the deletion."""

from __future__ import annotations

import io
import json
import os
import threading
import time
from datetime import date
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select, text

from blocks.storage import ObjectStorage
from ledger.db import now, session_scope
from ledger.imports import ImportRejected, import_file
from ledger.models import AuditEntry, Backup, Customer, DeletionCertificate, Invoice, Notice, StageChange
from tests.support.builders import CUSTOMER_HEADER, customer, platform, write_csv
from tests.support.locks import joined
from tests.support.prefect_api import next_paused_run, paused_runs, run_at_once
from tests.support.servers import Webhook

pytestmark = pytest.mark.prefect

INVOICES = ["invoice_id", "customer_id", "issued_on", "due_on", "amount_ht", "vat_rate", "description", "status"]
PAYMENTS = ["payment_id", "invoice_id", "paid_on", "amount"]


@pytest.fixture
def debtors(prefect_server, home, ledger, tmp_path):
    """OWE owes F1 (120.00 TTC, due 31 January 2026); each test adds what it needs."""
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [
        customer("OWE", fee="100.00"), customer("LATE", fee="100.00"), customer("EXEMPT", fee="100.00", exempt="true"),
        customer("DISPUTE", fee="100.00"),
    ]), engine=ledger)
    import_file("invoices", write_csv(tmp_path / "i.csv", INVOICES, [
        ["F1", "OWE", "2026-01-01", "2026-01-31", "100.00", "", "", ""],
        ["X1", "EXEMPT", "2026-01-01", "2026-01-31", "100.00", "", "", ""],
        ["D1", "DISPUTE", "2026-01-01", "2026-01-31", "100.00", "", "", "disputed"],
        # December's (D1 billed December 2025: no day is billed twice)
        ["W1", "DISPUTE", "2025-12-01", "2025-12-31", "50.00", "", "", "written_off"],
    ]), engine=ledger)
    engine = platform(os.environ["LIFECYCLE_PLATFORM_URL"], ["OWE", "LATE", "EXEMPT", "DISPUTE"])
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO users (tenant_id, email, full_name, role) VALUES "
                                "('OWE', 'a@owe.example', 'Amélie', 'admin'), ('OWE', 'b@owe.example', 'Benoît', 'investor'),"
                                " ('LATE', 'c@late.example', 'Chloé', 'admin')"))
        connection.execute(text("INSERT INTO documents (tenant_id, filename) VALUES ('OWE', 'contrat.pdf')"))
    return engine


def run(day, **options):
    """The daily sweep as run on `day` (the product's today is that day, as the schedule's run is: a run
    `--as-of` an earlier day is a catch-up, whose notices count their periods from the day they are sent)."""
    from flows.arrears import arrears_escalation
    from policy.calendar import today_paris

    before = os.environ.get("LIFECYCLE_TODAY")
    if date.fromisoformat(day) <= today_paris():
        os.environ["LIFECYCLE_TODAY"] = day
    try:
        return arrears_escalation(as_of=date.fromisoformat(day), **options)
    finally:
        if before is None:
            os.environ.pop("LIFECYCLE_TODAY", None)
        else:
            os.environ["LIFECYCLE_TODAY"] = before


def flags(engine, tenant):
    with engine.connect() as connection:
        return tuple(bool(v) for v in connection.execute(text(
            "SELECT admin_enabled, platform_enabled, operations_enabled FROM tenants WHERE tenant_id = :t"),
            {"t": tenant}).one())


def state(ledger, customer_id):
    with session_scope(ledger) as session:
        c = session.get(Customer, customer_id)
        return c.stage, c.deletion_status, c.deletion_due_on


def pay(ledger, tmp_path, rows):
    import_file("payments", write_csv(tmp_path / f"p{time.monotonic_ns()}.csv", PAYMENTS, rows), engine=ledger)


def kinds(ledger, customer_id):
    """The notices of the arrears ladder a customer received (its invoices' mails aside)."""
    with session_scope(ledger) as session:
        return [n.kind for n in session.scalars(select(Notice).where(Notice.customer_id == customer_id,
                                                                     Notice.kind != "invoice").order_by(Notice.id))]


def test_the_full_walk_up_to_the_deletion_notice_and_back_to_current_after_payment(debtors, ledger, tmp_path):
    assert run("2026-01-31")["penalties"] == []                       # due today: not late yet
    [penalty] = run("2026-02-01")["penalties"]
    assert (penalty["customer_id"], penalty["invoice"], penalty["penalty"], penalty["indemnity"]) == (
        "OWE", "F1", "12.00", "40.00")
    assert run("2026-02-01")["penalties"] == []                        # never twice
    assert run("2026-02-27")["transitions"] == []
    assert [t["to"] for t in run("2026-02-28")["transitions"]] == ["admin_disabled"]   # 31 Jan + 1 month
    assert flags(debtors, "OWE") == (False, True, True)
    assert [t["to"] for t in run("2026-03-31")["transitions"]] == ["platform_disabled"]
    assert flags(debtors, "OWE") == (False, False, False)
    assert run("2026-06-30")["deletion_notices"] == []
    assert run("2026-07-01")["deletion_notices"] == ["OWE: deletion on or after 2026-07-31"]  # 31 Jul - 30 days
    assert state(ledger, "OWE") == ("platform_disabled", "notice_sent", date(2026, 7, 31))
    assert run("2026-07-30", approve_deletion=True)["deletions"] == []
    result = run("2026-07-31")                                         # due, but nobody approved: it waits
    assert result["deletions"][0].startswith("OWE: awaiting approval")
    assert state(ledger, "OWE")[:2] == ("platform_disabled", "awaiting_approval")
    with debtors.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM users WHERE tenant_id = 'OWE'")).scalar() == 2

    pay(ledger, tmp_path, [["P1", "F1", "2026-08-01", "120.00"]])      # the penalty invoice does not count
    assert [t["to"] for t in run("2026-08-02")["transitions"]] == ["current"]
    assert flags(debtors, "OWE") == (True, True, True)
    assert state(ledger, "OWE") == ("current", None, None)
    assert kinds(ledger, "OWE") == ["admin_disabled", "platform_disabled", "deletion_notice", "access_restored"]
    with session_scope(ledger) as session:
        history = [(c.stage, c.effective_on) for c in session.scalars(
            select(StageChange).where(StageChange.customer_id == "OWE").order_by(StageChange.id))]
        penalty_invoice = session.scalar(select(Invoice).where(Invoice.kind == "penalty"))
        [mail] = session.scalars(select(Notice).where(Notice.invoice_id == penalty_invoice.id)).all()
        assert (mail.kind, mail.status, mail.attachment_key) == ("invoice", "sent", penalty_invoice.document_key)
        assert (penalty_invoice.total_ht, penalty_invoice.total_vat, penalty_invoice.total_ttc) == (
            Decimal("52.00"), Decimal("0.00"), Decimal("52.00"))
        assert [(l.category, l.amount_ht, l.vat_rate) for l in penalty_invoice.lines] == [
            ("penalty", Decimal("12.00"), Decimal("0")), ("indemnity", Decimal("40.00"), Decimal("0"))]
        assert penalty_invoice.number.endswith("-000001") and penalty_invoice.issued_on == date(2026, 2, 1)
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "stage_changed", AuditEntry.flow_run_id.is_not(None))) == 3
    assert history == [("admin_disabled", date(2026, 2, 28)), ("platform_disabled", date(2026, 3, 31)),
                       ("current", date(2026, 8, 2))]


def test_a_late_run_records_both_stages_and_payments_re_anchor_down_and_up(debtors, ledger, tmp_path):
    import_file("invoices", write_csv(tmp_path / "late.csv", INVOICES, [
        ["L1", "LATE", "2026-01-01", "2026-01-31", "100.00", "", "", ""],
        ["L2", "LATE", "2026-03-01", "2026-03-31", "100.00", "", "", ""],
    ]), engine=ledger)
    changes = [(t["customer_id"], t["to"], t["effective_on"]) for t in run("2026-04-10")["transitions"]
               if t["customer_id"] == "LATE"]
    assert changes == [("LATE", "admin_disabled", "2026-02-28"), ("LATE", "platform_disabled", "2026-03-31")]
    pay(ledger, tmp_path, [["PL", "L1", "2026-04-10", "60.00"]])       # partial: nothing moves
    assert [t for t in run("2026-04-11")["transitions"] if t["customer_id"] == "LATE"] == []
    pay(ledger, tmp_path, [["PL2", "L1", "2026-04-11", "60.00"]])      # L1 settled: anchor moves to 31 March
    assert [(t["to"], t["anchor"]) for t in run("2026-04-12")["transitions"] if t["customer_id"] == "LATE"] == [
        ("current", "2026-03-31")]
    assert flags(debtors, "LATE") == (True, True, True)
    assert [(t["to"], t["effective_on"]) for t in run("2026-04-30")["transitions"] if t["customer_id"] == "LATE"] == [
        ("admin_disabled", "2026-04-30")]                              # and up again from the new anchor


def test_exempt_customers_and_disputed_or_written_off_invoices_never_escalate(debtors, ledger):
    result = run("2026-10-31")
    assert {t["customer_id"] for t in result["transitions"]} == {"OWE"}
    assert {p["customer_id"] for p in result["penalties"]} == {"OWE"}
    assert state(ledger, "EXEMPT")[0] == "current" and state(ledger, "DISPUTE")[0] == "current"
    assert flags(debtors, "EXEMPT") == (True, True, True) and flags(debtors, "DISPUTE") == (True, True, True)


def test_a_dispute_recorded_after_escalation_lifts_the_stage_at_the_next_run(debtors, ledger, tmp_path):
    assert [t["to"] for t in run("2026-02-28")["transitions"] if t["customer_id"] == "OWE"] == ["admin_disabled"]
    import_file("invoices", write_csv(tmp_path / "dispute.csv", INVOICES, [
        ["F1", "OWE", "2026-01-01", "2026-01-31", "100.00", "", "", "disputed"]]), engine=ledger)
    assert [(t["customer_id"], t["to"]) for t in run("2026-03-01")["transitions"]] == [("OWE", "current")]
    assert flags(debtors, "OWE") == (True, True, True)
    assert run("2026-10-31")["transitions"] == []                      # and it never escalates again


def test_a_dry_run_reports_and_changes_nothing(debtors, ledger, home):
    result = run("2026-12-01", dry_run=True, approve_deletion=True)
    assert [t["to"] for t in result["transitions"]] == ["admin_disabled", "platform_disabled"]
    assert result["deletion_notices"] and result["penalties"][0]["number"] is None
    assert state(ledger, "OWE") == ("current", None, None)
    assert flags(debtors, "OWE") == (True, True, True)
    with session_scope(ledger) as session:
        assert session.scalar(select(func.count()).select_from(Invoice).where(Invoice.kind == "penalty")) == 0
        assert session.scalar(select(func.count()).select_from(Notice)) == 0
    assert not (home / "outbox").exists() or not list((home / "outbox").iterdir())


def test_no_deletion_without_its_full_notice_then_an_approved_deletion_leaves_a_certificate(debtors, ledger, home):
    storage = ObjectStorage()
    store = storage.store()
    store.put_stream("backups/OWE/b1/users.jsonl.gz", io.BytesIO(b"x"))
    store.put_stream("backups/OWE/b1/manifest.json", io.BytesIO(b"{}"))
    store.put_stream("backups/LATE/b2/manifest.json", io.BytesIO(b"{}"))
    with session_scope(ledger, write=True) as session:
        session.add(Backup(backup_id="b1", customer_id="OWE", created_at=now(), status="good"))
    # the first run comes long after six months: the notice goes out today, the deletion 30 days later
    result = run("2026-09-15", approve_deletion=True)
    assert result["deletion_notices"] == ["OWE: deletion on or after 2026-10-15"] and result["deletions"] == []
    assert run("2026-10-14", approve_deletion=True)["deletions"] == []
    assert run("2026-10-15", approve_deletion=True)["deletions"] == ["OWE: deleted"]
    assert state(ledger, "OWE")[0] == "data_deleted"
    with debtors.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM users WHERE tenant_id = 'OWE'")).scalar() == 0
        assert connection.execute(text("SELECT count(*) FROM users WHERE tenant_id = 'LATE'")).scalar() == 1
        assert connection.execute(text("SELECT count(*) FROM tenants WHERE tenant_id = 'OWE'")).scalar() == 1
    assert [item.key for item in store.list("backups/")] == ["backups/LATE/b2/manifest.json"]
    with session_scope(ledger) as session:
        certificate = session.scalars(select(DeletionCertificate)).one()
        assert certificate.approved_by.endswith("(--approve-deletion)")
        assert certificate.deleted["platform_rows"] == {"documents": 1, "operations": 0, "users": 2}
        assert session.get(Backup, "b1").status == "deleted"
        assert session.scalar(select(func.count()).select_from(Invoice).where(Invoice.customer_id == "OWE")) == 2
    # nothing is ever reactivated after a deletion, even if the debt is paid
    assert run("2026-11-01")["transitions"] == [] and flags(debtors, "OWE") == (False, False, False)


def test_nothing_is_billed_after_the_data_is_deleted_not_a_day_nor_an_intervention(debtors, ledger, tmp_path):
    """probe19b #6: the close of the month of a deletion billed the whole month and work done after it. OWE's
    data is deleted on 15 October: October bills 1..15 October (100.00 x 15 / 31 = 48.387 -> 48.39) and the
    work of the 15th, never that of the 20th (in the ledger before the deletion); work after the deletion is
    refused at its import; November bills nothing."""
    from operations.close import draft, finalise
    from policy.terms import Terms

    header = ["intervention_id", "customer_id", "started_at", "minutes", "category"]
    import_file("interventions", write_csv(tmp_path / "w1.csv", header, [
        ["W-AFTER", "OWE", "2026-10-20T10:00", "90", "assistance"]]), engine=ledger)   # recorded ahead, done after
    run("2026-09-15", approve_deletion=True)
    assert run("2026-10-15", approve_deletion=True)["deletions"] == ["OWE: deleted"]
    with pytest.raises(ImportRejected) as rejected:
        import_file("interventions", write_csv(tmp_path / "w2.csv", header, [
            ["W-ON", "OWE", "2026-10-15T10:00", "150", "assistance"],
            ["W-NEXT", "OWE", "2026-10-16T09:00", "60", "assistance"]]), engine=ledger)
    assert rejected.value.errors == ["w2.csv:3:started_at: 2026-10-16T09:00:00+02:00 is after the customer's data was "
                                     "deleted on 2026-10-15: nothing is billed after the deletion"]
    import_file("interventions", write_csv(tmp_path / "w3.csv", header, [
        ["W-ON", "OWE", "2026-10-15T10:00", "150", "assistance"]]), engine=ledger)    # on the day: served
    terms = Terms()
    for month, issued_on in (("2026-10", date(2026, 11, 1)), ("2026-11", date(2026, 12, 1))):
        draft(month, terms, actor="test", flow_run_id=None, engine=ledger)
        finalise(month, issued_on, terms, actor="test", flow_run_id=None, engine=ledger)
    with session_scope(ledger) as session:
        billed = session.scalars(select(Invoice).where(Invoice.customer_id == "OWE", Invoice.kind == "monthly")).all()
        [october] = billed      # and none for November
        assert (october.month, october.period_start, october.period_end) == ("2026-10", date(2026, 10, 1),
                                                                              date(2026, 10, 15))
        # 150 minutes on the 15th: 120 included, 30 billed at 120.00 an hour = 60.00; the 90 of the 20th never
        assert [(line.category, line.amount_ht) for line in october.lines] == [
            ("subscription", Decimal("48.39")), ("assistance", Decimal("60.00"))]
        assert (october.total_ht, october.total_vat, october.total_ttc) == (
            Decimal("108.39"), Decimal("21.68"), Decimal("130.07"))


def test_a_deletion_refused_in_the_form_leaves_everything_in_place(debtors, ledger, prefect_server):
    from prefect.flow_runs import resume_flow_run

    from flows.arrears import DeletionRefused, delete_customer_data

    run("2026-09-15")
    outcome = {}

    def deletion():
        try:
            delete_customer_data("OWE", as_of=date(2026, 10, 15))
        except Exception as error:  # noqa: BLE001 - inspected below
            outcome["error"] = error

    known = paused_runs(prefect_server)
    worker = threading.Thread(target=deletion)
    worker.start()
    run_id = next_paused_run(prefect_server, known)
    assert state(ledger, "OWE")[1] == "awaiting_approval"
    artifacts = httpx.post(f"{prefect_server}/artifacts/filter",
                           json={"flow_runs": {"id": {"any_": [run_id]}}, "limit": 10}).json()
    [plan] = [a for a in artifacts if a["key"] == "deletion-plan"]
    assert "| users | 2 |" in plan["data"] and "| documents | 1 |" in plan["data"]
    resume_flow_run(run_id, run_input={"approve": False, "reviewer": "olivier.ops", "comment": "paying next week"})
    joined(worker)
    assert isinstance(outcome.get("error"), DeletionRefused)
    assert state(ledger, "OWE")[:2] == ("platform_disabled", "refused")
    with debtors.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM users WHERE tenant_id = 'OWE'")).scalar() == 2
    assert run("2026-10-16", approve_deletion=True)["deletions"] == []  # a refusal stands


def test_two_sweeps_at_once_issue_each_penalty_and_stage_once(debtors, ledger, prefect_server):
    run_at_once(prefect_server, "arrears", "--as-of", "2026-04-10")
    with session_scope(ledger) as session:
        assert session.scalar(select(func.count()).select_from(Invoice).where(Invoice.kind == "penalty")) == 1
        assert [c.stage for c in session.scalars(select(StageChange).order_by(StageChange.id))] == [
            "admin_disabled", "platform_disabled"]
        numbers = list(session.scalars(select(Invoice.number).where(Invoice.number.is_not(None))))
        assert len(numbers) == 1
    assert kinds(ledger, "OWE") == ["admin_disabled", "platform_disabled"]


def test_the_webhook_mode_carries_each_stage_to_the_platform(debtors, ledger):
    from blocks.platform import PlatformControl

    hook = Webhook("arrears-secret")
    with hook.running() as url:
        PlatformControl(mode="webhook", webhook_url=url, webhook_secret="arrears-secret").save("lifecycle", overwrite=True)
        try:
            run("2026-02-28")
            run("2026-03-31")
        finally:
            PlatformControl.delete("lifecycle")
    assert [(c["tenant_id"], c["admin_enabled"], c["platform_enabled"], c["operations_enabled"], c["reason"])
            for c in hook.calls] == [("OWE", False, True, True, "arrears:admin_disabled"),
                                     ("OWE", False, False, False, "arrears:platform_disabled")]
    assert flags(debtors, "OWE") == (True, True, True)  # the database was left to the webhook


# --- outages: the stage, its access change and its notice are one record; what could not go out waits -----


def cli(*args: str) -> str:
    from tests.support.cli import lifecycle

    done = lifecycle(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def notice_of(ledger, customer_id, kind):
    with session_scope(ledger) as session:
        notice = session.scalars(select(Notice).where(Notice.customer_id == customer_id, Notice.kind == kind)).one()
        session.expunge(notice)
        return notice


def effects_of(ledger, customer_id):
    from ledger.models import PlatformEffect

    with session_scope(ledger) as session:
        return [(e.reason, e.status, e.attempts, e.last_error or "") for e in session.scalars(
            select(PlatformEffect).where(PlatformEffect.customer_id == customer_id).order_by(PlatformEffect.id))]


def test_with_smtp_down_the_stage_is_recorded_with_its_notice_pending_and_the_next_run_sends_it_once(debtors, ledger):
    from blocks.notifications import Notifications
    from flows.arrears import SweepIncomplete
    from tests.support.ports import free_port
    from tests.support.servers import smtp_server

    Notifications(smtp_host="127.0.0.1", smtp_port=free_port(), security="none").save("lifecycle", overwrite=True)
    try:
        with pytest.raises(SweepIncomplete, match=r"^the mail server 127\.0\.0\.1:\d+ \(notifications block\) does not "
                                                  r"answer \(ConnectionRefused.*\): \d+ notice\(s\) pending, will be "
                                                  r"tried again by the next run \(notice .*OWE.*; start it, or correct its "
                                                  r"address$"):
            run("2026-02-28")
        # never a platform switched with no record: the stage, the switch and the notice are all in the ledger
        assert state(ledger, "OWE")[0] == "admin_disabled" and flags(debtors, "OWE") == (False, True, True)
        pending = notice_of(ledger, "OWE", "admin_disabled")
        assert (pending.status, pending.attempts, pending.sent_at) == ("pending", 1, None)
        assert "ConnectionRefusedError" in pending.last_error
        assert effects_of(ledger, "OWE") == [("arrears:admin_disabled", "applied", 1, "")]
        shown = [n for n in json.loads(cli("show", "notices", "--format", "json")) if n["customer_id"] == "OWE"]
        # the stage's notice, and the mail of the penalty invoice issued the same day: both wait; the mail server
        # found down by the first, the second is left untried (not 2.5 s of tries per notice against a server down)
        assert sorted((n["kind"], n["status"], n["attempts"]) for n in shown) == [
            ("admin_disabled", "pending", 1), ("invoice", "pending", 0)]

        with smtp_server() as (port, received):       # the mail server is back: the next run sends it, once
            Notifications(smtp_host="127.0.0.1", smtp_port=port, security="none").save("lifecycle", overwrite=True)
            run("2026-02-28")
            run("2026-02-28")
        notices = [mail for mail in received if mail["message"]["X-Lifecycle-Notice"].startswith("arrears:")]
        assert [mail["to"] for mail in notices] == [["owe@example.com"]]
        sent = notice_of(ledger, "OWE", "admin_disabled")
        assert (sent.status, sent.attempts, sent.transport, sent.last_error) == ("sent", 2, "smtp", None)
    finally:
        Notifications.delete("lifecycle")


def test_with_the_platform_down_the_switch_waits_recorded_and_a_refusal_is_not_retried(debtors, ledger):
    from blocks.platform import PlatformControl
    from flows.arrears import SweepIncomplete
    from tests.support.ports import free_port

    PlatformControl(mode="webhook", webhook_url=f"http://127.0.0.1:{free_port()}/switch", webhook_secret="s",
                    retries=0).save("lifecycle", overwrite=True)
    hook = Webhook("s")
    try:
        with pytest.raises(SweepIncomplete, match=r"^the platform's webhook at 127\.0\.0\.1:\d+ \(platform block\) does not answer "
                                                  r"\(PlatformError: .*ConnectError.*\): 1 access change\(s\) pending, will be tried "
                                                  r"again by the next run \(access of OWE \(arrears:admin_disabled\)\)"):
            run("2026-02-28")
        assert state(ledger, "OWE")[0] == "admin_disabled"
        assert notice_of(ledger, "OWE", "admin_disabled").status == "sent"   # the notice went first
        [(reason, status, attempts, error)] = effects_of(ledger, "OWE")
        assert (status, attempts) == ("pending", 1) and "ConnectError" in error
        with hook.running() as url:                   # the platform is back: the next run applies it
            PlatformControl(mode="webhook", webhook_url=url, webhook_secret="s").save("lifecycle", overwrite=True)
            run("2026-02-28")
            assert [(c["tenant_id"], c["admin_enabled"], c["idempotency_key"]) for c in hook.calls] == [
                ("OWE", False, "arrears:OWE:admin_disabled:2026-02-28")]
            assert effects_of(ledger, "OWE")[0][:3] == ("arrears:admin_disabled", "applied", 2)
            # a platform that refuses (here: a wrong secret, 401) is failed at once and not tried again
            PlatformControl(mode="webhook", webhook_url=url, webhook_secret="wrong").save("lifecycle", overwrite=True)
            with pytest.raises(SweepIncomplete, match=r"access of OWE \(arrears:platform_disabled\): failed"):
                run("2026-03-31")
            tries = hook.attempts
            run("2026-03-31")
            assert hook.attempts == tries
        assert effects_of(ledger, "OWE")[1][:3] == ("arrears:platform_disabled", "failed", 1)
    finally:
        PlatformControl.delete("lifecycle")


def test_a_notice_pending_less_than_the_terms_allow_is_said_and_alerts_only_once_it_is_older(debtors, ledger):
    from datetime import timedelta

    from blocks.notifications import Notifications
    from blocks.terms_block import PolicyTerms
    from flows.arrears import SweepIncomplete
    from tests.support.ports import free_port

    Notifications(smtp_host="127.0.0.1", smtp_port=free_port(), security="none").save("lifecycle", overwrite=True)
    PolicyTerms(outbox_alert_after_hours=24).save("lifecycle", overwrite=True)
    try:
        result = run("2026-02-28")          # the mail server is down, but not for long yet: no failed run
        assert [t["to"] for t in result["transitions"] if t["customer_id"] == "OWE"] == ["admin_disabled"]
        assert notice_of(ledger, "OWE", "admin_disabled").status == "pending"
        with session_scope(ledger, write=True) as session:  # a day and more later, still down
            notice = session.scalars(select(Notice).where(Notice.customer_id == "OWE",
                                                          Notice.kind == "admin_disabled")).one()
            notice.created_at = notice.created_at - timedelta(hours=25)
        with pytest.raises(SweepIncomplete, match=r"notice\(s\) pending.*OWE"):
            run("2026-02-28")
        assert notice_of(ledger, "OWE", "admin_disabled").attempts == 2
    finally:
        Notifications.delete("lifecycle")
        PolicyTerms.delete("lifecycle")


def test_a_catch_up_sweep_for_a_missed_day_never_rewrites_what_a_later_sweep_recorded(debtors, ledger, tmp_path):
    # ops sweep a day the schedule missed after a later day's sweep already ran: as of that earlier day OWE
    # was still current and LATE (paid since) was a month late; switching OWE's platform back on, LATE's
    # admin area off, and recording OWE's stages again tomorrow is what a user must never see
    import_file("invoices", write_csv(tmp_path / "late.csv", INVOICES, [
        ["L1", "LATE", "2026-01-01", "2026-01-31", "100.00", "", "", ""]]), engine=ledger)
    pay(ledger, tmp_path, [["PL", "L1", "2026-03-01", "120.00"]])
    assert [t["to"] for t in run("2026-03-31")["transitions"] if t["customer_id"] == "OWE"] == [
        "admin_disabled", "platform_disabled"]
    catch_up = run("2026-02-28")
    assert (catch_up["superseded_by"], catch_up["transitions"], catch_up["penalties"]) == ("2026-03-31", [], [])
    assert flags(debtors, "OWE") == (False, False, False) and flags(debtors, "LATE") == (True, True, True)
    assert kinds(ledger, "LATE") == []
    assert run("2026-04-01")["transitions"] == []
    with session_scope(ledger) as session:
        assert [(c.stage, c.effective_on) for c in session.scalars(
            select(StageChange).where(StageChange.customer_id == "OWE").order_by(StageChange.id))] == [
            ("admin_disabled", date(2026, 2, 28)), ("platform_disabled", date(2026, 3, 31))]

    # the same for a deletion notice: as of 20 June none was due yet, but the 1 July sweep gave it
    assert run("2026-07-01")["deletion_notices"] == ["OWE: deletion on or after 2026-07-31"]
    assert run("2026-06-20")["superseded_by"] == "2026-07-01"
    assert state(ledger, "OWE") == ("platform_disabled", "notice_sent", date(2026, 7, 31))
    assert run("2026-07-02")["deletion_notices"] == []
    assert kinds(ledger, "OWE") == ["admin_disabled", "platform_disabled", "deletion_notice"]


def test_a_deletion_started_by_hand_with_nothing_to_delete_says_so_in_its_state(debtors, ledger, monkeypatch):
    """A data-deletion run from the UI's form for a customer with no pending deletion ended a bare `Completed`:
    its state now says there was nothing to delete (and the platform keeps the customer's data); an unknown
    customer is the asker's typo, refused as every unknown id is."""
    from flows.arrears import DeletionRefused, delete_customer_data

    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-11-20")
    finished = delete_customer_data("LATE", approved_by="ops", return_state=True)
    assert finished.is_completed() and finished.message == (
        "LATE: not deleted: no deletion is pending (deletion status: none)"), finished
    assert finished.result() == {"customer_id": "LATE", "deleted": False,
                                 "why": "no deletion is pending (deletion status: none)"}
    refused = delete_customer_data("NOPE", approved_by="ops", return_state=True)
    assert refused.name == "Refused" and refused.message == "NOPE: unknown customer 'NOPE'; nothing was deleted"
    with pytest.raises(DeletionRefused):
        delete_customer_data("NOPE", approved_by="ops")
    with debtors.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM users WHERE tenant_id = 'LATE'")).scalar() == 1
