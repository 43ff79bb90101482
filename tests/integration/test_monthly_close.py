"""The monthly close on real flow runs, against invoices computed by hand from docs/reference/policy.md, to the cent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import date

import httpx
import pytest
from sqlalchemy import func, select

from ledger import views
from ledger.db import session_scope
from ledger.imports import import_file
from ledger.models import AuditEntry, Intervention, Invoice, MonthlyClose
from policy.calendar import today_paris
from tests.support.builders import write_csv
from tests.support.locks import WaitWatch, joined, run_in_thread
from tests.support.prefect_api import next_paused_run, paused_runs, run_at_once
from tests.support.scenarios import EXPECTED, HEADER, load_october


@pytest.fixture
def october(prefect_server, home, ledger, tmp_path):
    return load_october(ledger, tmp_path)



pytestmark = pytest.mark.prefect

def invoices(ledger, month):
    with session_scope(ledger) as session:
        return {item["customer_id"]: item for item in views.invoices(session, month) if item["kind"] == "monthly"}


def check_october(found):
    assert set(found) == set(EXPECTED)
    year = today_paris().year
    for number, customer_id in enumerate(sorted(EXPECTED), start=1):
        invoice = found[customer_id]
        ht, vat, ttc, lines = EXPECTED[customer_id]
        assert (invoice["total_ht"], invoice["total_vat"], invoice["total_ttc"]) == (ht, vat, ttc), customer_id
        assert [(line["category"], line["amount_ht"]) for line in invoice["lines"]] == lines, customer_id
        assert invoice["number"] == f"{year}-{number:06d}" and invoice["status"] == "open"
        assert invoice["issued_on"] == today_paris().isoformat()
        assert date.fromisoformat(invoice["due_on"]) - date.fromisoformat(invoice["issued_on"]) == __import__(
            "datetime").timedelta(days=30)


def snapshot(ledger):
    with session_scope(ledger) as session:
        return {name: view(session, None) for name, view in views.SUBJECTS.items() if name not in ("terms", "audit")}


@pytest.mark.dates  # built from today: .ci/run runs it on each listed day
def test_the_close_bills_to_the_cent_and_a_second_run_changes_nothing(october):
    from flows.monthly_close import monthly_close

    result = monthly_close(month="2026-10")
    assert (result["status"], result["invoices"], result["total_ttc"]) == ("finalised", 3, "1662.90")
    check_october(invoices(october, "2026-10"))
    with session_scope(october) as session:
        priced = {item["intervention_id"]: item for item in views.interventions(session, "2026-10")}
    assert (priced["A3"]["free_minutes"], priced["A3"]["billed_minutes"], priced["A3"]["amount_ht"]) == (30, 30, "60.00")
    assert (priced["A2"]["free_minutes"], priced["A2"]["billed_minutes"], priced["A2"]["invoice_number"]) == (45, 0, None)
    assert priced["A6"]["invoice_number"] == invoices(october, "2026-10")["ACME"]["number"]
    assert priced["B1"]["free_minutes"] == 73
    assert "A5" not in priced  # 00:30 on 1 November in Paris is November

    before = snapshot(october)
    again = monthly_close(month="2026-10")
    assert again["status"] == "already_finalised"
    assert snapshot(october) == before


def test_the_deployment_closes_a_month_before_the_last_closed_one_only_with_a_reason(october):
    from flows.monthly_close import monthly_close

    monthly_close(month="2026-10")
    before = snapshot(october)
    state = monthly_close(month="2026-09", return_state=True)
    assert state.is_failed() and state.name == "Refused"
    assert state.message == ("the month 2026-09 comes before 2026-10, which is already closed: refused (a typo?); to "
                             "run it anyway give --force with --reason (force_reason in the form)")
    assert snapshot(october) == before  # nothing drafted, nothing numbered, nothing mailed
    forced = monthly_close(month="2026-09", force_reason="September was never closed: closed late on purpose")
    assert forced["status"] == "finalised"
    with session_scope(october) as session:
        [kept] = session.scalars(select(AuditEntry).where(AuditEntry.action == "date_check_overridden")).all()
        assert kept.after["reason"] == "September was never closed: closed late on purpose"


def test_a_late_intervention_is_billed_on_the_next_invoice_naming_its_month(october, tmp_path):
    from flows.monthly_close import monthly_close

    monthly_close(month="2026-10")
    october_invoices = invoices(october, "2026-10")
    import_file("interventions", write_csv(tmp_path / "late.csv", HEADER,
                                           [["A7", "ACME", "2026-10-20T10:00", "30", "assistance"]]), engine=october)
    monthly_close(month="2026-11", force_reason="the test closes November ahead of its end")
    assert invoices(october, "2026-10") == october_invoices  # nothing finalised changes
    acme = invoices(october, "2026-11")["ACME"]
    # November: A5 (60 min) is free within November's quota; A7 finds October's quota spent -> 30 min billed
    assert [(l["category"], l["amount_ht"]) for l in acme["lines"]] == [("subscription", "500.00"), ("assistance", "60.00")]
    # ACME reads French (the terms' invoice_language): the late work's month is named in French
    assert acme["lines"][1]["description"] == ("Assistance : 1 intervention, 30 min facturées au-delà du forfait "
                                               "mensuel (en retard : octobre 2026)")
    assert (acme["total_ht"], acme["total_vat"], acme["total_ttc"]) == ("560.00", "112.00", "672.00")


@pytest.mark.parametrize("approve", [True, False])
def test_finance_approves_or_refuses_in_the_resume_form(october, prefect_server, approve):
    from prefect.flow_runs import resume_flow_run

    from flows.monthly_close import CloseRefused, monthly_close

    outcome = {}

    def close():
        try:
            outcome["result"] = monthly_close(month="2026-10", approve="ui")
        except Exception as error:  # noqa: BLE001 - the test inspects it
            outcome["error"] = error

    before = snapshot(october)
    known = paused_runs(prefect_server)
    worker = threading.Thread(target=close)
    worker.start()
    run_id = next_paused_run(prefect_server, known)
    with session_scope(october) as session:  # the drafts wait, numberless, while finance looks
        assert session.scalar(select(func.count()).select_from(Invoice).where(Invoice.status == "draft")) == 3
    resume_flow_run(run_id, run_input={"approve": approve, "reviewer": "claire.finance", "comment": "checked"})
    joined(worker)
    if approve:
        check_october(invoices(october, "2026-10"))
        with session_scope(october) as session:
            entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "close_finalised")).one()
        assert entry.after["approval"] == {"reviewer": "claire.finance", "comment": "checked"}
    else:
        assert isinstance(outcome["error"], CloseRefused) and "refused by claire.finance" in str(outcome["error"])
        assert snapshot(october) == before  # everything as it was
        with session_scope(october) as session:
            assert session.get(MonthlyClose, "2026-10") is None


def test_two_closes_at_once_issue_one_set_of_gapless_invoices(october, prefect_server):
    run_at_once(prefect_server, "monthly-close", "--month", "2026-10")
    check_october(invoices(october, "2026-10"))
    with session_scope(october) as session:
        assert session.scalar(select(func.count()).select_from(Invoice).where(Invoice.kind == "monthly")) == 3


def while_held(engine, first, second):
    """Run `first(session)` in a write transaction held open while `second(session)` starts in its own
    (in a thread): the second must be seen waiting for the first to commit, then succeed. Both results."""
    outcome = {}

    with WaitWatch(engine) as watch:
        def other():
            try:
                with session_scope(engine, write=True) as session:
                    watch.enter(session)
                    outcome["result"] = second(session)
            except Exception as error:  # reported below, where the assertion can show it
                outcome["error"] = error

        with session_scope(engine, write=True) as session:
            mine = first(session)
            waiting = run_in_thread(other)
            watch.assert_waiting(session)
            assert "result" not in outcome and "error" not in outcome, outcome
        joined(waiting)
    assert "error" not in outcome, outcome.get("error")
    return mine, outcome["result"]


def test_a_close_that_starts_while_another_holds_the_month_waits_and_then_redrafts(october):
    """The race CI once hit: the second close must wait for the first one's transaction, not die on its key."""
    from policy.terms import Terms
    from operations.close import _lock_close, draft

    terms = Terms()
    _, report = while_held(october, lambda session: _lock_close(session, "2026-10", terms, "first"),
                           lambda _: draft("2026-10", terms, actor="second", flow_run_id="second", engine=october))
    assert report.status == "drafted" and report.invoices == 3
    with session_scope(october) as session:
        assert session.get(MonthlyClose, "2026-10").flow_run_id == "second"


def test_the_first_numbers_of_a_new_year_taken_at_once_stay_gapless(ledger):
    """Two finalisations (a close and a penalty, say) opening a year's sequence together: 000001 then 000002."""
    from ledger.numbering import next_numbers

    take = lambda session: next_numbers(session, date(2031, 1, 1), 1)  # noqa: E731
    assert while_held(ledger, take, take) == (["2031-000001"], ["2031-000002"])


def test_two_runs_remembering_new_terms_at_once_keep_one_copy(ledger):
    from ledger.models import TermsCopy
    from ledger.terms_copies import remember_terms
    from policy.terms import Terms

    terms = Terms(included_minutes=90)
    first, second = while_held(ledger, lambda session: remember_terms(session, terms, "first").id,
                               lambda session: remember_terms(session, terms, "second").id)
    with session_scope(ledger) as session:
        copies = session.scalars(select(TermsCopy)).all()
    assert [(copy.id, copy.source) for copy in copies] == [(first, "second")] and second == first


def test_a_run_killed_half_way_completes_correctly_when_run_again(october, prefect_server):
    from flows.monthly_close import monthly_close

    env = {**os.environ, "PREFECT_API_URL": prefect_server}
    known = paused_runs(prefect_server)
    victim = subprocess.Popen([sys.executable, "-m", "lifecycle.cli", "run", "monthly-close", "--month", "2026-10",
                               "--approve", "ui"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    orphan = next_paused_run(prefect_server, known)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    httpx.post(f"{prefect_server}/flow_runs/{orphan}/set_state",
               json={"state": {"type": "CANCELLED", "name": "Cancelled"}, "force": True})
    with session_scope(october) as session:
        assert session.scalar(select(func.count()).select_from(Invoice).where(Invoice.number.is_not(None))) == 0
        assert session.scalar(select(func.count()).select_from(Intervention).where(
            Intervention.free_minutes.is_not(None))) > 0  # drafts were left behind
    result = monthly_close(month="2026-10")
    assert result["status"] == "finalised"
    check_october(invoices(october, "2026-10"))


def test_a_resumed_close_keeps_the_drafts_its_own_run_showed_and_another_run_redrafts(october, tmp_path):
    """A suspended close starts again from the top once finance answers: its drafting step must find
    the drafts finance approved, not price them again (new interventions may have come meanwhile)."""
    from policy.terms import Terms
    from operations.close import draft

    first = draft("2026-10", Terms(), actor="test", flow_run_id="run-1", engine=october)
    shown = invoices(october, "2026-10")
    import_file("interventions", write_csv(tmp_path / "meanwhile.csv", HEADER,
                                           [["A9", "ACME", "2026-10-21T10:00", "60", "training"]]), engine=october)
    again = draft("2026-10", Terms(), actor="test", flow_run_id="run-1", engine=october)
    assert invoices(october, "2026-10") == shown and again.total_ttc == first.total_ttc
    assert (again.interventions, first.interventions) == (9, 9)
    other = draft("2026-10", Terms(), actor="test", flow_run_id="run-2", engine=october)
    assert other.interventions == 10  # another run prices what is there now
    assert invoices(october, "2026-10")["ACME"]["total_ht"] != shown["ACME"]["total_ht"]
