"""The arrears sweep as an operation (operations/arrears.py), on a SQLite ledger, without Prefect: an invoice a
month overdue gets its penalty to the cent, the admin area goes off with its notice; a penalty that would be
dated before an invoice already numbered is refused, told in one line, and nothing is issued."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from blocks.notifications import Notifications
from blocks.platform import PlatformControl
from blocks.seller import Seller
from blocks.settings import Settings
from blocks.storage import ObjectStorage
from ledger.db import session_scope
from ledger.imports import import_file
from ledger.models import Customer, Invoice, Notice, PlatformEffect
from operations.arrears import sweep
from operations.close import draft, finalise
from policy.terms import Terms
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv
from tests.support.sqlite_ledger import sqlite_ledger


@pytest.fixture
def overdue(tmp_path, monkeypatch):
    """ACME owes September's 1188.00 EUR TTC (990.00 HT), due on 2026-10-01 and unpaid."""
    ledger = sqlite_ledger(tmp_path, monkeypatch, "2026-11-02")
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME")]), engine=ledger)
    import_file("invoices", write_csv(tmp_path / "i.csv", ["invoice_id", "customer_id", "issued_on", "due_on",
                                                            "amount_ht", "vat_rate", "description", "status"],
                                      [["F-1", "ACME", "2026-09-01", "2026-10-01", "990.00", "", "Septembre", ""]]),
                engine=ledger)
    return ledger


def _settings(tmp_path) -> Settings:
    return Settings(Terms(), ObjectStorage(url=(tmp_path / "store").as_uri()), PlatformControl(), Notifications(),
                    Seller())


def test_a_month_overdue_brings_a_penalty_and_the_admin_area_off_with_its_notice(overdue, tmp_path):
    report = sweep(date(2026, 11, 2), _settings(tmp_path), dry_run=False, actor="test", flow_run_id=None,
                   engine=overdue)
    assert (report.failed, report.refused) == ([], [])
    [penalty] = report.penalties
    # 10 % of the 1188.00 unpaid at the end of its due date, and the fixed 40.00
    assert (penalty["invoice"], penalty["base"], penalty["penalty"], penalty["indemnity"]) == (
        "F-1", "1188.00", "118.80", "40.00")
    assert report.transitions == [{"customer_id": "ACME", "from": "current", "to": "admin_disabled",
                                   "effective_on": "2026-11-01", "anchor": "2026-10-01"}]
    with session_scope(overdue) as session:
        acme = session.get(Customer, "ACME")
        assert (acme.stage, acme.admin_enabled, acme.platform_enabled) == ("admin_disabled", False, True)
        assert session.scalar(select(Invoice.total_ttc).where(Invoice.kind == "penalty")) == Decimal("158.80")
        assert [notice.kind for notice in session.scalars(select(Notice))] == ["admin_disabled"]
        assert session.scalar(select(PlatformEffect.status)) == "pending"   # the dispatcher applies it
    # the same day again changes nothing
    again = sweep(date(2026, 11, 2), _settings(tmp_path), dry_run=False, actor="test", flow_run_id=None,
                  engine=overdue)
    assert (again.penalties, again.transitions) == ([], [])


def test_a_penalty_dated_before_a_numbered_invoice_is_refused_and_nothing_is_issued(overdue, tmp_path, monkeypatch):
    # October's close numbered its invoice on 2026-11-05, then the clock was set back to 2026-11-02: a penalty
    # issued that day would be dated before a number already given
    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-11-05")
    draft("2026-10", Terms(), actor="test", flow_run_id=None, engine=overdue)
    finalise("2026-10", date(2026, 11, 5), Terms(), actor="test", flow_run_id=None, engine=overdue)
    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-11-02")
    report = sweep(date(2026, 11, 2), _settings(tmp_path), dry_run=False, actor="test", flow_run_id=None,
                   engine=overdue)
    assert report.failed == []
    [refused] = report.refused
    assert refused.startswith("ACME: penalty on F-1 not issued:") and "\n" not in refused
    assert (report.penalties, report.transitions) == ([], [])
    with session_scope(overdue) as session:
        assert session.scalar(select(Invoice.id).where(Invoice.kind == "penalty")) is None
        assert session.get(Customer, "ACME").stage == "current"


def test_a_catch_up_sweep_gives_the_deletion_notice_its_full_30_days_from_the_day_it_is_sent(overdue, tmp_path,
                                                                                              monkeypatch):
    # F-1 was due on 2026-10-01: the notice may go out from 2027-03-02 for a deletion no earlier than 2027-04-01.
    # The sweep of 2027-03-05 was missed and is caught up on 2027-03-20: the notice mailed that day gives 30 days
    monkeypatch.setenv("LIFECYCLE_TODAY", "2027-03-20")
    report = sweep(date(2027, 3, 5), _settings(tmp_path), dry_run=False, actor="test", flow_run_id=None,
                   engine=overdue)
    assert (report.failed, report.refused) == ([], [])
    assert report.deletion_notices == ["ACME: deletion on or after 2027-04-19"]
    with session_scope(overdue) as session:
        assert session.get(Customer, "ACME").deletion_due_on == date(2027, 4, 19)
        [notice] = session.scalars(select(Notice).where(Notice.kind == "deletion_notice")).all()
        # in the customer's words, French by default: the date mailed on 2027-03-20, and how long it is unpaid then
        assert notice.subject == "Les données de votre plateforme seront supprimées le 19 avril 2027"
        assert "impayée depuis 5 mois et 19 jours" in notice.body and "à partir du 19 avril 2027" in notice.body


def test_a_sweep_on_its_own_day_keeps_the_deletion_no_earlier_than_six_months_after_the_due_date(overdue, tmp_path,
                                                                                                 monkeypatch):
    monkeypatch.setenv("LIFECYCLE_TODAY", "2027-03-02")
    report = sweep(date(2027, 3, 2), _settings(tmp_path), dry_run=False, actor="test", flow_run_id=None,
                   engine=overdue)
    assert report.deletion_notices == ["ACME: deletion on or after 2027-04-01"]


def test_a_catch_up_sweep_gives_the_penalty_its_full_payment_term_from_the_day_it_is_sent(overdue, tmp_path,
                                                                                           monkeypatch):
    # the sweep of 2026-11-02 caught up on 2026-11-10: the penalty owed that day is dated 2026-11-02, and mailed
    # on 2026-11-10 with its 30 days to pay from then
    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-11-10")
    report = sweep(date(2026, 11, 2), _settings(tmp_path), dry_run=False, actor="test", flow_run_id=None,
                   engine=overdue)
    assert [(penalty["invoice"], penalty["penalty"]) for penalty in report.penalties] == [("F-1", "118.80")]
    with session_scope(overdue) as session:
        penalty = session.scalars(select(Invoice).where(Invoice.kind == "penalty")).one()
        assert (penalty.issued_on, penalty.due_on) == (date(2026, 11, 2), date(2026, 12, 10))
