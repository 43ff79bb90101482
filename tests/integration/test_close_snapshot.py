"""One close prices from one state of the ledger. The close read each customer's standby periods and last day of
service twice in its one transaction: once to price the month's work against the quota (the included minutes of
the days not on standby), again to draft the subscription and the quota row. On PostgreSQL under READ COMMITTED, a
standby recorded by another session between the two reads made one invoice from two states: the work priced with
the whole quota, the subscription at half price for the standby days, the quota row saying both. SQLite's close
holds the write lock from its start, so no writer comes between (the same test on it shows the writer waiting).

The same for the month's interventions and the customers' rows: the close sorted the month's work into beyond
support or not from one read and priced it from another, and read a customer's included minutes to price its work
and its fee to draft its subscription. An intervention recorded during the close is now left whole for the close
run again or the next one, which bill it once; a plan changed during the close is billed by the next.

The race is made for real: the close pauses between its pricing and its drafts (failpoint `close.priced`), or
between its sorting of the work and its pricing (`close.classified`), and an import commits in that pause, from
its own session."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from sqlalchemy import select

from ledger.db import session_scope
from ledger.imports import import_file
from ledger.models import Intervention, Invoice, InvoiceLine, QuotaPeriod, StandbyPeriod
from tests.support.builders import write_csv
from tests.support.locks import in_thread
from tests.support.scenarios import EXPECTED, HEADER, load_october

PAUSE = 4.0


def _close_paused_between_pricing_and_drafts(ledger, tmp_path, monkeypatch,
                                             point: str = "close.priced") -> tuple[threading.Thread, dict]:
    """The close of October drafting in a thread, returned once it paused at `point` (PAUSE seconds): at
    `close.priced` what the test writes now comes between the close's pricing and its drafts; at
    `close.classified`, between its sorting of the month's work (beyond support or not) and its pricing."""
    from operations.close import draft
    from policy.terms import Terms

    log = tmp_path / "points.log"
    monkeypatch.setenv("LIFECYCLE_FAILPOINT_LOG", str(log))
    monkeypatch.setenv("LIFECYCLE_FAILPOINT_PAUSE", f"{point}={PAUSE}")
    closing, closed = in_thread(draft, "2026-10", Terms(), actor="test", flow_run_id=None, engine=ledger)
    try:
        _wait_for_point(log, point)
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


# ACME's October with A7 in it (beyond support: its ticket's customization was delivered on 20 August, more than a
# month before): A1 draws 90, A3 the last 30 and bills 20 -> 60.00, A4 30.00, A6 310.00 (60.00 + its 250.00 fee, two
# lines), and A7 billed whole,
# quota or not: 30 min assistance -> 60.00. HT 960.00, VAT 192.00, TTC 1152.00.
WITH_A7 = ("960.00", "192.00", "1152.00", [("subscription", "500.00"), ("data_modification", "60.00"),
                                            ("data_recovery", "60.00"), ("data_recovery", "250.00"), ("reporting", "30.00"),
                                            ("assistance", "60.00")])
# ACME on its new plan (800.00 a month, 60 minutes included): A1 draws 60 and bills 30 -> 60.00; A3 bills its 50
# -> 60 min -> 120.00; A4 30.00; A6 310.00. HT 1320.00, VAT 264.00, TTC 1584.00.
NEW_PLAN = ("1320.00", "264.00", "1584.00", [("subscription", "800.00"), ("assistance", "60.00"),
                                             ("data_modification", "120.00"), ("data_recovery", "60.00"),
                                             ("data_recovery", "250.00"),
                                             ("reporting", "30.00")])


def _lines_add_up(ledger, month: str) -> None:
    """Every document the close of `month` drafted: its totals are its lines', to the cent."""
    with session_scope(ledger) as session:
        for invoice in session.scalars(select(Invoice).where(Invoice.close_month == month)):
            assert invoice.total_ht == sum((line.amount_ht for line in invoice.lines), Decimal("0.00")), \
                invoice.customer_id


def _reports_what_it_drafted(ledger, report) -> None:
    """The close's report counts and sums what the ledger holds for its month: its invoices, its interventions."""
    with session_scope(ledger) as session:
        invoices = session.scalars(select(Invoice).where(Invoice.close_month == report.month,
                                                         Invoice.kind == "monthly")).all()
        priced = session.scalars(select(Intervention.intervention_id).where(
            Intervention.close_month == report.month, Intervention.month == report.month)).all()
    assert report.invoices == len(invoices)
    assert report.total_ttc == sum((invoice.total_ttc for invoice in invoices), Decimal("0.00"))
    assert report.interventions == len(priced)


def _written_while_closing(ledger, tmp_path, monkeypatch, ledger_url: str, point: str, write) -> dict:
    """`write()` run while the close of October pauses at `point`; the close's box (`in_thread`), with what
    `write` returned as "written". On PostgreSQL the write commits while the close runs; SQLite's waits for it."""
    closing, closed = _close_paused_between_pricing_and_drafts(ledger, tmp_path, monkeypatch, point)
    try:
        closed["written"] = write()
        recorded = time.monotonic()
    finally:
        closing.join(120)
    assert "error" not in closed, closed.get("error")
    if ledger_url.startswith("postgresql"):
        assert recorded < closed["ended"]  # it committed while the close ran: the race took place
    else:
        assert recorded >= closed["ended"]  # SQLite: the writer waited for the close's write lock
    return closed


def _a7_recorded_while_closing(ledger, tmp_path, monkeypatch, ledger_url: str, point: str) -> dict:
    """October loaded with TC1, a customization of ACME's delivered on 20 August; A7, 30 minutes of assistance on
    it on 1 October (beyond support), recorded while the close of October pauses at `point`."""
    load_october(ledger, tmp_path)
    import_file("tickets", write_csv(tmp_path / "t.csv", ["ticket_id", "customer_id", "received_at", "type",
                                                          "customization_delivered_on"],
                                     [["TC1", "ACME", "2026-08-03T09:00", "customization", "2026-08-20"]]),
                engine=ledger)
    return _written_while_closing(ledger, tmp_path, monkeypatch, ledger_url, point, lambda: import_file(
        "interventions", write_csv(tmp_path / "i2.csv", HEADER + ["ticket"],
                                   [["A7", "ACME", "2026-10-01T09:00", "30", "assistance", "TC1"]]), engine=ledger))


def _a7(ledger) -> Intervention:
    with session_scope(ledger) as session:
        return session.get(Intervention, "A7")


@pytest.mark.parametrize("ledger_url", ["postgresql", "sqlite"], indirect=True)
def test_an_intervention_recorded_while_the_close_runs_is_billed_wholly_by_one_close_once(ledger, home, tmp_path,
                                                                                         monkeypatch, ledger_url):
    """A7, beyond support, recorded while the close of October runs, after the close sorted the month's work
    into beyond support or not and before its pricing (`close.classified`). Read twice, the close priced A7
    against the quota it had sorted without it (ACME's data modification billed 50 minutes, A7 free). Read once,
    A7 is left whole for the close run again, which bills it once."""
    from datetime import date

    from operations.close import draft, finalise
    from policy.terms import Terms

    closed = _a7_recorded_while_closing(ledger, tmp_path, monkeypatch, ledger_url, "close.classified")

    # this close drafted from the ledger as it was before A7: ACME's invoice as computed by hand, A7 not priced
    _as_expected(ledger, "ACME")
    _lines_add_up(ledger, "2026-10")
    _reports_what_it_drafted(ledger, closed["result"])
    a7 = _a7(ledger)
    assert (a7.close_month, a7.free_minutes, a7.amount_ht, a7.invoice_id) == (None, None, None, None)

    # the close run again (its drafts discarded) bills A7 in October, beyond support: to the cent
    again = draft("2026-10", Terms(), actor="test", flow_run_id=None, engine=ledger)
    invoice, lines, quota = _drafted(ledger, "ACME")
    ht, vat, ttc, expected_lines = WITH_A7
    assert (invoice.total_ht, invoice.total_vat, invoice.total_ttc) == (Decimal(ht), Decimal(vat), Decimal(ttc))
    assert lines == sorted(expected_lines)
    assert (quota.included_minutes, quota.used_minutes) == (120, 120)   # A7 drew nothing
    _reports_what_it_drafted(ledger, again)
    a7 = _a7(ledger)
    assert (a7.close_month, a7.amount_ht, a7.invoice_id) == ("2026-10", Decimal("60.00"), invoice.id)

    # finalised, then November closed: A7 is not billed a second time
    finalise("2026-10", date(2026, 11, 2), Terms(), actor="test", flow_run_id=None, engine=ledger)
    november = draft("2026-11", Terms(), actor="test", flow_run_id=None, engine=ledger)
    assert november.late_interventions == 0
    with session_scope(ledger) as session:
        billed = session.scalars(select(InvoiceLine.amount_ht).join(Invoice).where(
            Invoice.customer_id == "ACME", InvoiceLine.service_month == "2026-10")).all()
    assert sum(billed, Decimal("0.00")) == Decimal("960.00")   # October's HT, A7 in it, on October's invoice only
    assert _a7(ledger).close_month == "2026-10"


@pytest.mark.parametrize("ledger_url", ["postgresql", "sqlite"], indirect=True)
def test_a_left_over_intervention_is_billed_once_by_the_next_close(ledger, home, tmp_path, monkeypatch, ledger_url):
    """A7 recorded while October's close runs, after its pricing (`close.priced`), and October finalised as
    drafted: A7 is in none of October's documents, and November's close bills it as late work of October,
    beyond support, once."""
    from datetime import date

    from operations.close import draft, finalise
    from policy.terms import Terms

    closed = _a7_recorded_while_closing(ledger, tmp_path, monkeypatch, ledger_url, "close.priced")
    _reports_what_it_drafted(ledger, closed["result"])
    assert _a7(ledger).close_month is None
    finalise("2026-10", date(2026, 11, 2), Terms(), actor="test", flow_run_id=None, engine=ledger)
    _as_expected(ledger, "ACME")

    november = draft("2026-11", Terms(), actor="test", flow_run_id=None, engine=ledger)
    assert november.late_interventions == 1
    _lines_add_up(ledger, "2026-11")
    with session_scope(ledger) as session:
        invoice = session.scalars(select(Invoice).where(Invoice.customer_id == "ACME",
                                                        Invoice.close_month == "2026-11")).one()
        late = [(line.category, line.amount_ht) for line in invoice.lines if line.service_month == "2026-10"]
        a7 = session.get(Intervention, "A7")
        assert late == [("assistance", Decimal("60.00"))]   # billed whole: beyond support, quota or not
        assert (a7.close_month, a7.amount_ht, a7.invoice_id) == ("2026-11", Decimal("60.00"), invoice.id)
    # November run again: still once
    draft("2026-11", Terms(), actor="test", flow_run_id=None, engine=ledger)
    with session_scope(ledger) as session:
        billed = session.scalars(select(InvoiceLine.amount_ht).join(Invoice).where(
            Invoice.customer_id == "ACME", InvoiceLine.service_month == "2026-10")).all()
    assert sum(billed, Decimal("0.00")) == Decimal("960.00")   # October's 900.00 once, and A7's 60.00 once


@pytest.mark.parametrize("ledger_url", ["postgresql", "sqlite"], indirect=True)
def test_a_plan_changed_while_the_close_runs_never_prices_one_invoice_from_two_states(ledger, home, tmp_path,
                                                                                    monkeypatch, ledger_url):
    """ACME moves to 800.00 a month with 60 minutes included while the close of October runs, after its pricing.
    Read twice, the customer's row gave the work its old quota and the subscription its new fee (HT 1200.00: on
    neither plan). Read once, the close bills its old plan; run again, its new one, each to the cent."""
    from operations.close import draft
    from policy.terms import Terms
    from tests.support.builders import CUSTOMER_HEADER, customer

    load_october(ledger, tmp_path)
    closed = _written_while_closing(ledger, tmp_path, monkeypatch, ledger_url, "close.priced", lambda: import_file(
        "customers", write_csv(tmp_path / "c2.csv", CUSTOMER_HEADER, [
            customer("ACME", name="Société Générale d'Épargne", fee="800.00", minutes="60")]), engine=ledger))
    assert closed["written"].updated == 1

    quota = _as_expected(ledger, "ACME")   # the old plan, whole: its fee and its quota
    assert (quota.included_minutes, quota.used_minutes) == (120, 120)
    _lines_add_up(ledger, "2026-10")
    _reports_what_it_drafted(ledger, closed["result"])

    again = draft("2026-10", Terms(), actor="test", flow_run_id=None, engine=ledger)
    invoice, lines, quota = _drafted(ledger, "ACME")
    ht, vat, ttc, expected_lines = NEW_PLAN
    assert (invoice.total_ht, invoice.total_vat, invoice.total_ttc) == (Decimal(ht), Decimal(vat), Decimal(ttc))
    assert lines == sorted(expected_lines)
    assert (quota.included_minutes, quota.used_minutes, quota.over_minutes) == (60, 60, 90)
    _reports_what_it_drafted(ledger, again)
