"""The deployments' forms (prefect.yaml): what a person types in the UI is checked as the CLI checks its options.

Every deployment whose form takes a date, a moment or a month refuses one outside the terms' window
(earliest_date to horizon_days after today), in one line naming the parameter and the window, forced or
not, before it reads or writes anything; a fact of the past (a refund's day) lies no later than today. The
ones that take ids check them in their operations (restore-backup's ticket, refund's reference) or, for
backup-shard, in the flow (tests/integration/test_backups.py). A refusal is final: never retried."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from ledger.db import session_scope
from ledger.imports import import_file
from ledger.models import AuditEntry, Backup, CustomerCredit, Invoice, MonthlyClose, StandbyPeriod
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv

pytestmark = pytest.mark.prefect

WINDOW = "from 2000-01-01 (earliest_date) to 400 days after today (horizon_days)"
MONTHS = "a month here lies from 2000-01 (earliest_date) to 400 days after today (horizon_days)"


def _runs():
    from flows.arrears import arrears_escalation, delete_customer_data
    from flows.backup import nightly_backup
    from flows.cancellation import cancellations
    from flows.commitments import commitments
    from flows.corrections import refund
    from flows.einvoicing import einvoicing
    from flows.exports import billable_export
    from flows.invoices import send_invoices
    from flows.monthly_close import monthly_close
    from flows.standby import request_standby, standby_expiry

    forced = "a typo in the form"
    return {
        "nightly-backup": (lambda: nightly_backup(as_of=date(1999, 12, 31), force_reason=forced),
                           f"as_of 1999-12-31 is before 2000-01-01: a date here lies {WINDOW}"),
        "standby-expiry": (lambda: standby_expiry(as_of=date(9999, 12, 31), force_reason=forced),
                           f"as_of 9999-12-31 is too far ahead: a date here lies {WINDOW}"),
        "standby-request": (lambda: request_standby("ACME", "temporary_inactivity", start_on=date(1, 1, 1)),
                            f"start_on 0001-01-01 is before 2000-01-01: a date here lies {WINDOW}"),
        "cancellations": (lambda: cancellations(as_of=date(1, 1, 1), force_reason=forced),
                          f"as_of 0001-01-01 is before 2000-01-01: a date here lies {WINDOW}"),
        "arrears-escalation": (lambda: arrears_escalation(as_of=date(9999, 1, 1), dry_run=True),
                               f"as_of 9999-01-01 is too far ahead: a date here lies {WINDOW}"),
        "data-deletion": (lambda: delete_customer_data("ACME", as_of=date(1999, 1, 1), approved_by="ops"),
                          f"as_of 1999-01-01 is before 2000-01-01: a date here lies {WINDOW}"),
        "commitments": (lambda: commitments(as_of=datetime(1999, 12, 31, 23, 0)),
                        f"as_of 1999-12-31T23:00:00+01:00 is before 2000-01-01: a date here lies {WINDOW}"),
        "e-invoicing": (lambda: einvoicing(as_of=date(1999, 12, 31)),
                        f"as_of 1999-12-31 is before 2000-01-01: a date here lies {WINDOW}"),
        "monthly-close": (lambda: monthly_close(month="0001-01", force_reason=forced),
                          f"month: the month 0001-01 is before 2000-01: {MONTHS}"),
        "monthly-close (not a month)": (lambda: monthly_close(month="2026-13", force_reason=forced),
                                        "month: not a month (YYYY-MM): '2026-13'"),
        "billable-export": (lambda: billable_export(month="9999-12"), f"month: the month 9999-12 is too far ahead: "
                                                                      f"{MONTHS}"),
        "send-invoices": (lambda: send_invoices(month="0000-01"), f"month: the month 0000-01 is before 2000-01: "
                                                                   f"{MONTHS}"),
        "refund": (lambda: refund("ACME", "10.00", "VIR-1", refunded_on=date(2026, 11, 21)),
                   "refunded_on 2026-11-21 is after today: it cannot lie ahead; a date here lies from 2000-01-01 "
                   "(earliest_date) to today"),
    }


@pytest.fixture
def shop(prefect_server, home, ledger, tmp_path, monkeypatch):
    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-11-20")
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME")]), engine=ledger)
    return ledger


@pytest.mark.parametrize("deployment", list(_runs()))
def test_a_form_refuses_a_date_outside_the_window_in_one_line_forced_or_not(shop, deployment):
    from tasks.runtime import Refusal

    run, line = _runs()[deployment]
    with pytest.raises(Refusal) as refused:
        run()
    assert line in str(refused.value) and "\n" not in str(refused.value)
    with session_scope(shop) as session:  # nothing written: no override audited, no backup, invoice, credit, close, standby
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "date_check_overridden")) == 0
        for table in (Backup, Invoice, CustomerCredit, MonthlyClose, StandbyPeriod):
            assert session.scalar(select(func.count()).select_from(table)) == 0


HOURS = "is out of range: a number of hours from 0.0167 (one minute) to 2160 (90 days)"


@pytest.mark.parametrize("hours", [-1.0, float("nan"), float("inf"), 0.0, 2160.5])
def test_a_form_refuses_an_approval_wait_outside_a_minute_to_90_days_in_one_line_before_anything(shop, hours):
    """-1 failed at the pause with Python's "sleep length must be non-negative", NaN with a traceback, and
    infinity waited for ever: each is refused, in one line naming the parameter and its bounds, for good
    (the run's state is Refused), before the run reads or writes anything."""
    from flows.arrears import delete_customer_data
    from flows.monthly_close import monthly_close

    def counts():
        with session_scope(shop) as session:
            return [session.scalar(select(func.count()).select_from(table)) for table in (AuditEntry, Invoice,
                                                                                         MonthlyClose)]

    before = counts()  # the import's own audit entry
    for run in (lambda: monthly_close(month="2026-10", approve="ui", approval_timeout_hours=hours, return_state=True),
                lambda: delete_customer_data("ACME", approval_timeout_hours=hours, return_state=True)):
        state = run()
        assert state.name == "Refused" and state.message == f"approval_timeout_hours: {hours!r} {HOURS}"
    assert counts() == before
