"""Standby end to end: real flow runs on the session's Prefect server, the platform, the ledger, mail."""

from __future__ import annotations

import email
import email.policy
import os
from contextlib import contextmanager
from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import func, select, text

from ledger.db import session_scope
from ledger.imports import import_file
from ledger.models import AuditEntry, Customer, Notice, StandbyPeriod
from policy.calendar import today_paris
from policy.language import speak
from tests.support.builders import CUSTOMER_HEADER, customer, platform, write_csv
from tests.support.prefect_api import run_at_once
from tests.support.servers import Webhook, smtp_server

pytestmark = pytest.mark.prefect


@pytest.fixture
def world(prefect_server, home, ledger, tmp_path):
    """Three customers in the ledger and on the platform; OWING has an overdue invoice."""
    import_file("customers", write_csv(tmp_path / "customers.csv", CUSTOMER_HEADER,
                                       [customer("ACME"), customer("BETA"), customer("OWING")]), engine=ledger)
    import_file("invoices", write_csv(tmp_path / "invoices.csv", ["invoice_id", "customer_id", "issued_on", "due_on",
                                                                  "amount_ht"],
                                      [["F-9", "OWING", "2020-01-01", "2020-01-31", "100.00"]]), engine=ledger)
    engine = platform(os.environ["LIFECYCLE_PLATFORM_URL"], ["ACME", "BETA", "OWING"])
    return engine


def flags(platform_engine, tenant):
    with platform_engine.connect() as connection:
        row = connection.execute(text("SELECT admin_enabled, platform_enabled, operations_enabled FROM tenants "
                                      "WHERE tenant_id = :t"), {"t": tenant}).one()
    return tuple(bool(value) for value in row)


def counts(ledger):
    with session_scope(ledger) as session:
        return (session.scalar(select(func.count()).select_from(AuditEntry)),
                session.scalar(select(func.count()).select_from(Notice)))


@contextmanager
def saved_block(block, name="lifecycle"):
    block.save(name, overwrite=True)
    try:
        yield
    finally:
        type(block).delete(name)


@pytest.mark.dates  # built from today: .ci/run runs it on each listed day
def test_a_request_for_today_switches_operations_off_and_tells_the_customer(world, ledger, home, prefect_server):
    from flows.standby import request_standby

    today = today_paris()  # the business day is the Paris date, not the machine's
    state = request_standby(customer_id="ACME", reason="awaiting_approval", requested_by="ops:marie", return_state=True)
    result, run_id = state.result(), state.state_details.flow_run_id
    assert result["started"] is True and result["start_on"] == today.isoformat()
    assert flags(world, "ACME") == (True, True, False)      # admin and platform stay on
    assert flags(world, "BETA") == (True, True, True)
    with session_scope(ledger) as session:
        acme = session.get(Customer, "ACME")
        assert (acme.admin_enabled, acme.platform_enabled, acme.operations_enabled) == (True, True, False)
        notice = session.scalars(select(Notice)).one()
        assert (notice.kind, notice.to, notice.transport) == ("standby_started", "acme@example.com", "outbox")
        actions = [(entry.action, entry.flow_run_id) for entry in
                   session.scalars(select(AuditEntry).where(AuditEntry.customer_id == "ACME").order_by(AuditEntry.id))]
    assert actions[-3:] == [("standby_requested", str(run_id)), ("access_switched", str(run_id)),
                            ("standby_started", str(run_id))]
    eml = list((home / "outbox").glob("*.eml"))
    assert len(eml) == 1  # ACME reads French (the terms' invoice_language)
    message = email.message_from_bytes(eml[0].read_bytes(), policy=email.policy.default)
    assert message["Subject"] == f"Votre plateforme est en veille jusqu'au {speak('fr').date(date.fromisoformat(result['end_on']))}"
    assert "aucune opération ne peut être lancée" in message.get_body(("plain",)).get_content()
    artifacts = httpx.post(f"{prefect_server}/artifacts/filter",  # what the UI shows for the run
                           json={"flow_runs": {"id": {"any_": [str(run_id)]}}, "limit": 50}).json()
    [artifact] = [item for item in artifacts if item["key"] == "standby-request"]
    assert "Standby accepted for ACME" in artifact["data"] and f"until {result['end_on']}" in artifact["data"]


def test_a_request_in_arrears_is_refused_with_its_reason_and_changes_nothing(world, ledger):
    from flows.standby import StandbyRefused, request_standby

    with pytest.raises(StandbyRefused, match="in arrears: overdue invoice\\(s\\) F-9"):
        request_standby(customer_id="OWING", reason="temporary_inactivity")
    assert flags(world, "OWING") == (True, True, True)
    with session_scope(ledger) as session:
        assert session.scalar(select(func.count()).select_from(StandbyPeriod)) == 0
        refusal = session.scalars(select(AuditEntry).where(AuditEntry.action == "standby_refused")).one()
        assert "in arrears" in refusal.after["refusals"][0]


@pytest.mark.dates  # built from today: .ci/run runs it on each listed day
def test_a_second_request_while_on_standby_and_a_too_long_one_are_refused(world):
    from flows.standby import StandbyRefused, request_standby

    start = today_paris() + timedelta(days=5)
    request_standby(customer_id="BETA", reason="third_party_integration", start_on=start)
    with pytest.raises(StandbyRefused, match="another standby is planned"):
        request_standby(customer_id="BETA", reason="temporary_inactivity", start_on=start + timedelta(days=3))
    with pytest.raises(StandbyRefused, match="cannot exceed 3 months"):
        request_standby(customer_id="ACME", reason="temporary_inactivity", start_on=start,
                        end_on=start + timedelta(days=120))
    assert flags(world, "BETA") == (True, True, True)  # planned, not started yet


def test_the_daily_sweep_starts_warns_and_ends_once_each(world, ledger, tmp_path):
    from flows.standby import standby_expiry

    start, end = date(2026, 3, 2), date(2026, 4, 2)  # days gone by: a sweep never runs ahead of today
    import_file("standby", write_csv(tmp_path / "standby.csv", ["customer_id", "reason", "start_on", "end_on"],
                                     [["ACME", "temporary_inactivity", start.isoformat(), end.isoformat()]]),
                engine=ledger)
    assert standby_expiry(as_of=start - timedelta(days=1))["started"] == []
    assert flags(world, "ACME") == (True, True, True)

    assert len(standby_expiry(as_of=start)["started"]) == 1
    assert flags(world, "ACME") == (True, True, False)
    before = counts(ledger)
    assert standby_expiry(as_of=start)["started"] == []          # the same day again changes nothing
    assert counts(ledger) == before

    assert standby_expiry(as_of=end - timedelta(days=15))["noticed"] == []
    assert len(standby_expiry(as_of=end - timedelta(days=14))["noticed"]) == 1
    assert standby_expiry(as_of=end - timedelta(days=13))["noticed"] == []  # once

    assert len(standby_expiry(as_of=end)["ended"]) == 1
    assert flags(world, "ACME") == (True, True, True)
    with session_scope(ledger) as session:
        kinds = [notice.kind for notice in session.scalars(select(Notice).order_by(Notice.id))]
        assert kinds == ["standby_started", "standby_ending", "standby_ended"]
        assert session.scalars(select(StandbyPeriod)).one().status == "ended"
    before = counts(ledger)
    standby_expiry(as_of=end)
    assert counts(ledger) == before


def test_webhook_mode_and_smtp_come_from_the_blocks_ops_edit(world, ledger):
    from blocks.notifications import Notifications
    from blocks.platform import PlatformControl
    from flows.standby import request_standby

    hook = Webhook("hook-secret")
    with hook.running() as url, smtp_server() as (port, received):
        with saved_block(PlatformControl(mode="webhook", webhook_url=url, webhook_secret="hook-secret")), \
                saved_block(Notifications(smtp_host="127.0.0.1", smtp_port=port, security="none")):
            request_standby(customer_id="BETA", reason="temporary_inactivity")
    assert [(call["tenant_id"], call["admin_enabled"], call["platform_enabled"], call["operations_enabled"])
            for call in hook.calls] == [("BETA", True, True, False)]
    assert flags(world, "BETA") == (True, True, True)  # the database was not touched in webhook mode
    [mail] = received
    assert mail["to"] == ["beta@example.com"] and "Votre plateforme est en veille" in mail["message"]["Subject"]
    with session_scope(ledger) as session:
        assert session.scalars(select(Notice)).one().transport == "smtp"


def test_two_sweeps_at_once_do_the_work_once_without_locking_errors(world, ledger, tmp_path, prefect_server):
    tenants = [f"T{n:03d}" for n in range(40)]
    import_file("customers", write_csv(tmp_path / "more.csv", CUSTOMER_HEADER, [customer(t) for t in tenants]),
                engine=ledger)
    platform_engine = platform(os.environ["LIFECYCLE_PLATFORM_URL"], tenants)
    day = date(2026, 3, 2)
    import_file("standby", write_csv(tmp_path / "standby.csv", ["customer_id", "reason", "start_on"],
                                     [[t, "temporary_inactivity", day.isoformat()] for t in tenants]), engine=ledger)
    run_at_once(prefect_server, "standby-expiry", "--as-of", day.isoformat())
    with session_scope(ledger) as session:
        started = session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "standby_started"))
        notices = session.scalar(select(func.count()).select_from(Notice))
    assert started == 40 and notices == 40
    assert all(flags(platform_engine, t) == (True, True, False) for t in tenants)
