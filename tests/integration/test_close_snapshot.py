"""One close prices from one state of the ledger. The close read each customer's standby periods and last day of
service twice in its one transaction: once to price the month's work against the quota (the included minutes of
the days not on standby), again to draft the subscription and the quota row. On PostgreSQL under READ COMMITTED, a
standby recorded by another session between the two reads made one invoice from two states: the work priced with
the whole quota, the subscription at half price for the standby days, the quota row saying both. SQLite's close
holds the write lock from its start, so no writer comes between (the same test on it shows the writer waiting).

The race is made for real: the close pauses between its pricing and its drafts (failpoint `close.priced`), and a
standby import commits in that pause, from its own session."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from sqlalchemy import select

from ledger.db import session_scope
from ledger.imports import import_file
from ledger.models import Invoice, QuotaPeriod, StandbyPeriod
from tests.support.builders import write_csv
from tests.support.locks import in_thread
from tests.support.scenarios import EXPECTED, load_october

PAUSE = 4.0


def _close_paused_between_pricing_and_drafts(ledger, tmp_path, monkeypatch) -> tuple[threading.Thread, dict]:
    """The close of October drafting in a thread, returned once it paused at `close.priced` (PAUSE seconds):
    what the test writes now comes between the close's pricing and its drafts."""
    from operations.close import draft
    from policy.terms import Terms

    log = tmp_path / "points.log"
    monkeypatch.setenv("LIFECYCLE_FAILPOINT_LOG", str(log))
    monkeypatch.setenv("LIFECYCLE_FAILPOINT_PAUSE", f"close.priced={PAUSE}")
    closing, closed = in_thread(draft, "2026-10", Terms(), actor="test", flow_run_id=None, engine=ledger)
    try:
        _wait_for_point(log, "close.priced")
    except AssertionError:
        closing.join(120)
        raise
    return closing, closed


def _wait_for_point(log, name: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if log.exists() and name in log.read_text().split():
            return
        time.sleep(0.02)
    raise AssertionError(f"the close never reached {name}")


def _drafted(ledger, customer_id: str) -> tuple[Invoice, list[tuple[str, str]], QuotaPeriod]:
    with session_scope(ledger) as session:
        invoice = session.scalars(select(Invoice).where(Invoice.customer_id == customer_id,
                                                        Invoice.close_month == "2026-10")).one()
        lines = sorted((line.category, str(line.amount_ht)) for line in invoice.lines)
        quota = session.scalars(select(QuotaPeriod).where(QuotaPeriod.customer_id == customer_id,
                                                          QuotaPeriod.month == "2026-10")).one()
        return invoice, lines, quota


def _as_expected(ledger, customer_id: str) -> QuotaPeriod:
    """The customer's draft is the one computed by hand for the state before the writer (scenarios.EXPECTED)."""
    invoice, lines, quota = _drafted(ledger, customer_id)
    ht, vat, ttc, expected_lines = EXPECTED[customer_id]
    assert (invoice.total_ht, invoice.total_vat, invoice.total_ttc) == (Decimal(ht), Decimal(vat), Decimal(ttc))
    assert lines == sorted(expected_lines)
    return quota


@pytest.mark.parametrize("ledger_url", ["postgresql", "sqlite"], indirect=True)
def test_a_standby_recorded_while_the_close_runs_never_prices_one_invoice_from_two_states(ledger, home, tmp_path,
                                                                                        monkeypatch, ledger_url):
    load_october(ledger, tmp_path)
    closing, closed = _close_paused_between_pricing_and_drafts(ledger, tmp_path, monkeypatch)
    try:
        # another session records ACME's standby from 20 October while the close is between its two reads
        import_file("standby", write_csv(tmp_path / "s2.csv", ["customer_id", "reason", "start_on", "end_on"],
                                         [["ACME", "temporary_inactivity", "2026-10-20", "2027-01-20"]]),
                    engine=ledger)
        recorded = time.monotonic()
    finally:
        closing.join(120)
    assert "error" not in closed, closed.get("error")
    with session_scope(ledger) as session:
        assert session.scalars(select(StandbyPeriod.customer_id)).all().count("ACME") == 1  # the writer's, kept
    if ledger_url.startswith("postgresql"):
        assert recorded < closed["ended"]  # it committed while the close ran: the race took place
    else:
        assert recorded >= closed["ended"]  # SQLite: the writer waited for the close's write lock

    # the close priced ACME from the state it read first (no standby): its work against the whole quota, its
    # subscription whole, its quota row the same; to the cent, as computed by hand in tests/support/scenarios.py
    quota = _as_expected(ledger, "ACME")
    assert (quota.standby_days, quota.included_minutes) == (0, 120)
    assert quota.used_minutes == 120  # the whole quota drawn, as the work was priced


@pytest.mark.parametrize("ledger_url", ["postgresql"], indirect=True)
def test_a_cancellation_recorded_while_the_close_runs_never_prices_one_invoice_from_two_states(ledger, home, tmp_path,
                                                                                             monkeypatch):
    """BETA is on standby from 20 October; a letter recorded during the close makes 25 October its last day of
    service, which cuts its standby days (and so its quota) and its subscription. Read twice, the close priced
    its work with 12 standby days and its subscription with a last day of the 25th."""
    from datetime import date

    from operations.cancellation import receive
    from policy.terms import Terms

    load_october(ledger, tmp_path)
    closing, closed = _close_paused_between_pricing_and_drafts(ledger, tmp_path, monkeypatch)
    try:
        with session_scope(ledger, write=True) as session:  # its notice ends on the 25th: its last day of service
            _, _, new = receive(session, "BETA", date(2026, 9, 25), None, Terms(cancellation_ends="notice_end"),
                                requested_by="BETA's director", actor="test", flow_run_id=None)
        assert new
        recorded = time.monotonic()
    finally:
        closing.join(120)
    assert "error" not in closed, closed.get("error")
    assert recorded < closed["ended"]  # it committed while the close ran: the race took place
    quota = _as_expected(ledger, "BETA")   # 12 standby days, its subscription to the month's end: 424.66 TTC
    assert (quota.standby_days, quota.included_minutes) == (12, 73)
