"""The commitments run with a ticket's history, on a SQLite ledger without Prefect: a closed ticket the helpdesk
reopens is open again for ops, its delivery clock restarted where it stopped, until it closes again; the pause
rule is recorded once, effective at the run that first saw it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from blocks.notifications import Notifications
from ledger.db import session_scope
from ledger.imports import import_file
from ledger.ticket_history import PauseRuleChange
from operations.commitments import run_commitments
from policy.calendar import PARIS
from policy.terms import Terms
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv
from tests.support.sqlite_ledger import sqlite_ledger


def test_a_reopened_ticket_is_open_again_until_it_closes_again(tmp_path, monkeypatch):
    ledger = sqlite_ledger(tmp_path, monkeypatch, "2026-07-01")
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME")]), engine=ledger)
    # a bug received Wednesday 6 May 2026 10:00, answered at once, resolved and closed Friday 15 May 18:00
    import_file("tickets", write_csv(tmp_path / "t.csv", ["ticket_id", "customer_id", "received_at", "type",
                                                          "first_response_at", "resolved_at", "closed_at"],
                                     [["T-1", "ACME", "2026-05-06T10:00", "bug", "2026-05-06T10:30",
                                       "2026-05-15T18:00", "2026-05-15T18:00"]]), engine=ledger)
    import_file("ticket-events", write_csv(tmp_path / "e.csv", ["ticket_id", "at", "status"],
                                           [["T-1", "2026-05-18T14:00", "reopened"],
                                            ["T-1", "2026-05-20T10:00", "closed"]]), engine=ledger)
    notifications = Notifications(ops_email="ops@example.com", outbox_dir=str(tmp_path / "outbox"))

    def look(*at):
        return run_commitments(datetime(*at, tzinfo=PARIS), Terms(), notifications, actor="test", flow_run_id=None,
                               engine=ledger).tickets

    assert look(2026, 5, 18, 9, 0) == ()                     # closed, its reopening not known yet
    reopened = look(2026, 5, 19, 9, 0)
    # Monday 9-14 was not counted: delivery moves from Monday 1 June 18:00 by 5 working hours
    assert [(row["ticket"], row["state"], row["clock"], row["next due (Paris)"]) for row in reopened] == [
        ("T-1", "on_track", "delivery", "2026-06-02 14:00")]
    assert look(2026, 5, 20, 11, 0) == ()                    # closed again
    with session_scope(ledger) as session:
        changes = session.scalars(select(PauseRuleChange)).all()
        assert [change.effective_at.astimezone(PARIS).strftime("%Y-%m-%d %H:%M") for change in changes] == [
            "2026-05-18 09:00"]
        assert session.scalar(select(func.count()).select_from(PauseRuleChange)) == 1
