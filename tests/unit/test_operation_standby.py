"""Standby as an operation (operations/standby.py), on a SQLite ledger, without Prefect: a request started
today switches operations off and tells the customer, the daily sweep warns and ends it; a customer in arrears
is refused with the overdue invoice named, and nothing is recorded but the refusal."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from blocks.notifications import Notifications
from blocks.platform import PlatformControl
from blocks.seller import Seller
from blocks.settings import Settings
from blocks.storage import ObjectStorage
from ledger.db import session_scope
from ledger.imports import import_file
from ledger.models import AuditEntry, Customer, Notice, StandbyPeriod
from operations.standby import request, sweep_standby
from policy.terms import Terms
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv
from tests.support.sqlite_ledger import sqlite_ledger


@pytest.fixture
def customers(tmp_path, monkeypatch):
    """ACME pays on time; BETA owes September's invoice F-1, due on 2026-10-01."""
    ledger = sqlite_ledger(tmp_path, monkeypatch, "2026-11-02")
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME"), customer("BETA")]),
                engine=ledger)
    import_file("invoices", write_csv(tmp_path / "i.csv", ["invoice_id", "customer_id", "issued_on", "due_on",
                                                            "amount_ht", "vat_rate", "description", "status"],
                                      [["F-1", "BETA", "2026-09-01", "2026-10-01", "990.00", "", "Septembre", ""]]),
                engine=ledger)
    return ledger


def _settings(tmp_path) -> Settings:
    return Settings(Terms(), ObjectStorage(url=(tmp_path / "store").as_uri()), PlatformControl(), Notifications(),
                    Seller())


def _flags(ledger, customer_id: str) -> tuple[bool, bool, bool]:
    with session_scope(ledger) as session:
        found = session.get(Customer, customer_id)
        return found.admin_enabled, found.platform_enabled, found.operations_enabled


def test_a_standby_starts_today_warns_before_its_end_and_ends_on_its_day(customers, tmp_path, monkeypatch):
    settings = _settings(tmp_path)
    outcome = request("ACME", "temporary_inactivity", None, None, "ops", date(2026, 11, 2), settings, actor="test",
                      flow_run_id=None, engine=customers)
    # three months at most: full service resumes on 2027-02-02
    assert (outcome.accepted, outcome.start_on, outcome.end_on, outcome.started) == (
        True, date(2026, 11, 2), date(2027, 2, 2), True)
    assert _flags(customers, "ACME") == (True, True, False)   # operations off, admin and platform on

    monkeypatch.setenv("LIFECYCLE_TODAY", "2027-01-19")
    warned = sweep_standby(date(2027, 1, 19), settings, actor="test", flow_run_id=None, engine=customers)
    assert (warned.noticed, warned.ended, warned.failed) == (["ACME: ends 2027-02-02"], [], [])
    monkeypatch.setenv("LIFECYCLE_TODAY", "2027-02-02")
    ended = sweep_standby(date(2027, 2, 2), settings, actor="test", flow_run_id=None, engine=customers)
    assert (ended.ended, ended.failed) == (["ACME: ended 2027-02-02"], [])
    assert _flags(customers, "ACME") == (True, True, True)
    with session_scope(customers) as session:
        assert [notice.kind for notice in session.scalars(select(Notice).order_by(Notice.id))] == [
            "standby_started", "standby_ending", "standby_ended"]
    # the same day again does nothing
    again = sweep_standby(date(2027, 2, 2), settings, actor="test", flow_run_id=None, engine=customers)
    assert (again.started, again.ended, again.noticed) == ([], [], [])


def test_a_customer_in_arrears_is_refused_with_the_overdue_invoice_named(customers, tmp_path):
    outcome = request("BETA", "temporary_inactivity", None, None, "ops", date(2026, 11, 2), _settings(tmp_path),
                      actor="test", flow_run_id=None, engine=customers)
    assert not outcome.accepted
    assert outcome.reasons == ["refused while the customer is in arrears: overdue invoice(s) F-1"]
    assert outcome.markdown().startswith("# Standby refused for BETA")
    assert _flags(customers, "BETA") == (True, True, True)
    with session_scope(customers) as session:
        assert session.scalar(select(StandbyPeriod.id)) is None
        assert session.scalar(select(AuditEntry.action).where(AuditEntry.customer_id == "BETA")
                              .order_by(AuditEntry.id.desc()).limit(1)) == "standby_refused"


def test_the_end_a_standby_takes_when_none_is_given_keeps_to_the_horizon_as_a_written_one(customers, tmp_path):
    """A start 60 days ahead took start + 3 months, past the 90 days' horizon that an end written out may not
    pass: both are refused alike, naming end_on and the end it would take; nothing is recorded."""
    from ledger.imports import ImportRejected

    terms = Terms(horizon_days=90)
    window = f"a date here lies from {terms.earliest_date} (earliest_date) to 90 days after today (horizon_days)"
    with pytest.raises(ImportRejected) as rejected:
        import_file("standby", write_csv(tmp_path / "s.csv", ["customer_id", "reason", "start_on", "end_on"],
                                         [["ACME", "temporary_inactivity", "2027-01-01", ""]]),
                    terms=terms, engine=customers)
    assert rejected.value.errors == [
        f"s.csv:2:end_on: empty: the end it takes when none is given, 2027-04-01 (start_on + standby_max_months), "
        f"is too far ahead: {window}: write an end_on within it"]
    settings = Settings(terms, ObjectStorage(url=(tmp_path / "store").as_uri()), PlatformControl(), Notifications(),
                        Seller())
    outcome = request("ACME", "temporary_inactivity", date(2027, 1, 1), None, "ops", date(2026, 11, 2), settings,
                      actor="test", flow_run_id=None, engine=customers)
    assert not outcome.accepted
    assert outcome.reasons == [f"end_on is empty: the end it takes when none is given, 2027-04-01 (start_on + "
                               f"standby_max_months), is too far ahead: {window}: write an end_on within it"]
    with session_scope(customers) as session:
        assert session.scalar(select(StandbyPeriod.id)) is None
    accepted = request("ACME", "temporary_inactivity", date(2027, 1, 1), date(2027, 1, 31), "ops", date(2026, 11, 2),
                       settings, actor="test", flow_run_id=None, engine=customers)
    assert accepted.accepted and accepted.end_on == date(2027, 1, 31)
