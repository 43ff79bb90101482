"""The monthly close as an operation (operations/close.py), on a SQLite ledger, without Prefect: October's
invoices drafted and numbered to the cent, a refused close leaves nothing, and a month never drafted is refused."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from ledger.db import session_scope
from ledger.models import Intervention, Invoice
from operations.close import NothingToFinalise, discard, draft, finalise
from policy.refusals import Refusal
from policy.terms import Terms
from tests.support.cli import lifecycle_in_process
from tests.support.scenarios import EXPECTED, load_october
from tests.support.sqlite_ledger import prepared_ledger


@pytest.fixture
def october(tmp_path, monkeypatch):
    return prepared_ledger(tmp_path, monkeypatch, "2026-11-02", load_october)


def test_the_close_drafts_then_numbers_october_to_the_cent(october):
    drafted = draft("2026-10", Terms(), actor="test", flow_run_id=None, engine=october)
    assert drafted.status == "drafted"
    assert {item.customer_id: (str(item.total_ht), str(item.total_vat), str(item.total_ttc), item.number)
            for item in drafted.listed} == {customer: (*totals[:3], None) for customer, totals in EXPECTED.items()}
    assert (drafted.interventions, drafted.late_interventions) == (9, 0)   # A5 is November's

    closed = finalise("2026-10", date(2026, 11, 2), Terms(), actor="test", flow_run_id=None, engine=october)
    assert closed.status == "finalised" and closed.issued_on == date(2026, 11, 2)
    assert [item.customer_id for item in closed.listed] == ["ACME", "BETA", "GAMMA"]   # numbered in customer order
    assert all(item.number and item.due_on == date(2026, 12, 2) for item in closed.listed)
    assert len({item.number for item in closed.listed}) == 3
    assert closed.summary() | {"issued_on": None} == {
        "month": "2026-10", "status": "finalised", "invoices": 3, "total_ht": "1403.87", "total_vat": "259.03",
        "total_ttc": "1662.90", "issued_on": None, "subscription_already_billed": 0, "subscription_partly_billed": 0,
        "subscription_not_started": 0, "not_billed_again": "", "credit_notes": 0, "credited_ttc": "0.00",
        "documents_finished": 0, "einvoicing": ""}
    # a second close of a finalised month changes nothing
    assert draft("2026-10", Terms(), actor="test", flow_run_id=None, engine=october).status == "already_finalised"


def test_a_discarded_close_leaves_the_ledger_as_it_was(october):
    draft("2026-10", Terms(), actor="test", flow_run_id=None, engine=october)
    assert discard("2026-10", why="refused by finance", actor="test", flow_run_id=None, engine=october) == 3
    with session_scope(october) as session:
        assert session.scalar(select(func.count()).select_from(Invoice)) == 0
        assert session.scalar(select(func.count()).where(Intervention.free_minutes.is_not(None))) == 0


def test_a_month_never_drafted_is_refused_in_one_line(october):
    with pytest.raises(NothingToFinalise) as refused:
        finalise("2026-09", date(2026, 11, 2), Terms(), actor="test", flow_run_id=None, engine=october)
    assert isinstance(refused.value, Refusal)
    assert refused.value.one_line() == "2026-09 has no drafts to finalise"


def test_a_month_before_the_last_closed_one_is_refused_by_the_cli_before_any_run_unless_forced(october, tmp_path):
    """October closed, September never was: `run monthly-close --month 2026-09` would bill September's work after
    October's invoices, so it needs --force --reason; October itself run again bills nothing and is let through."""
    import os

    from operations.close import later_closed_month
    from policy.calendar import closed_after_problem

    draft("2026-10", Terms(), actor="test", flow_run_id=None, engine=october)
    finalise("2026-10", date(2026, 11, 2), Terms(), actor="test", flow_run_id=None, engine=october)
    assert (later_closed_month("2026-09", october), later_closed_month("2026-10", october),
            later_closed_month("2026-11", october)) == ("2026-10", None, None)
    assert closed_after_problem("2026-09", "2026-10") == "the month 2026-09 comes before 2026-10, which is already closed"

    def run(*args):
        return lifecycle_in_process("run", "monthly-close", *args,
                                    env={**os.environ, "PREFECT_API_URL": "http://127.0.0.1:9/api"})
    refused = run("--month", "2026-09")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert refused.stderr == ("lifecycle: the month 2026-09 comes before 2026-10, which is already closed: refused "
                              "(a typo?); to bill its work now anyway use --force --reason TEXT\n")
    with session_scope(october) as session:  # nothing was drafted for September
        assert session.scalar(select(func.count()).select_from(Invoice).where(Invoice.month == "2026-09")) == 0


def test_an_export_of_a_month_not_begun_is_refused_by_the_cli_before_any_run(october):
    import os

    result = lifecycle_in_process("run", "export", "--month", "2027-06",
                                  env={**os.environ, "PREFECT_API_URL": "http://127.0.0.1:9/api"})
    assert result.returncode == 2
    assert result.stderr == ("lifecycle: the month 2027-06 has not begun (it begins on 2027-06-01; today is "
                             "2026-11-02): nothing to export\n")
    # the month in progress is exported (work so far): only a month to come is a typo
    from policy.calendar import unbegun_month_problem
    assert unbegun_month_problem("2026-11", date(2026, 11, 2)) is None
    assert unbegun_month_problem("2026-12", date(2026, 11, 30)) is not None
