"""A ticket's history and clocks that pause, as ops meet them on SQLite and PostgreSQL: `import ticket-events`
(all or nothing, a re-import a no-op, each refusal one line at its row), the helpdesk's webhook pushing
events beside tickets, `show tickets` with the due times moved by exactly the working time a ticket waited
for its customer over a weekend and a holiday, the pause rule changed after the fact without losing the
time already paused, and a premium customer's tighter clock. The product's day is set (LIFECYCLE_TODAY)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlalchemy import func, select

from blocks.notifications import Notifications
from ledger import views
from ledger.db import session_scope
from ledger.imports import ImportRejected, import_file
from ledger.terms_copies import remember_terms
from ledger.ticket_history import PauseRuleChange, TicketEvent
from lifecycle.helpdesk import headers, receive
from operations.commitments import run_commitments
from policy.calendar import PARIS
from policy.terms import Terms
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv, write_xlsx

TODAY = "2026-07-01"
PREMIUM = {"premium": [{"name": "first_response", "ticket_types": ["bug", "question"],
                        "stopped_by": ["first_response_at"], "limit": {"amount": 4, "unit": "working_hours"},
                        "seed": "the premium contract: a first response within 4 working hours"}]}
TERMS = Terms(tiers=PREMIUM)
TICKETS = ["ticket_id", "customer_id", "received_at", "type", "severity"]
EVENTS = ["ticket_id", "at", "status"]
#: T-WAIT waits for its customer from Thursday 7 May 16:00 to Tuesday 12 May 11:00 (Friday 8 May is a public
#: holiday, then a weekend): 2 + 9 + 2 = 13 working hours
WAITING = [["T-WAIT", "2026-05-07T16:00", "waiting_customer"], ["T-WAIT", "2026-05-12T11:00", "in_progress"]]


@pytest.fixture
def helpdesk(ledger, tmp_path, monkeypatch):
    monkeypatch.setenv("LIFECYCLE_TODAY", TODAY)
    header = CUSTOMER_HEADER + ["commitment_tier"]
    import_file("customers", write_csv(tmp_path / "c.csv", header, [customer("ACME") + [""],
                                                                    customer("PREM") + ["premium"]]),
                engine=ledger, terms=TERMS)
    rows = [["T-WAIT", "ACME", "2026-05-06T10:00", "bug", "major"], ["T-PREM", "PREM", "2026-05-06T10:00", "bug", "major"]]
    import_file("tickets", write_csv(tmp_path / "t.csv", TICKETS, rows), engine=ledger)
    with session_scope(ledger, write=True) as session:
        remember_terms(session, TERMS, "test")   # what `show tickets` reads: the terms the latest run used
    return ledger


def shown(ledger) -> dict[str, dict]:
    with session_scope(ledger) as session:
        return {row["ticket_id"]: row for row in views.tickets(session)}


def test_a_wait_over_a_holiday_and_a_weekend_moves_the_due_times_to_the_minute(helpdesk, tmp_path):
    result = import_file("ticket-events", write_csv(tmp_path / "e.csv", EVENTS, WAITING), engine=helpdesk)
    assert (result.inserted, result.unchanged) == (2, 0)
    row = shown(helpdesk)["T-WAIT"]
    # first response: Monday 11 May 10:00 + 13 working hours = Tuesday 12 May 14:00 Paris (12:00 UTC)
    # delivery: Monday 1 June 18:00 (Ascension, Whit Monday left out) + 13 working hours = Wednesday 3 June 13:00
    assert (row["response_due_at"], row["delivery_due_at"], row["paused_minutes"], row["tier"]) == (
        "2026-05-12T12:00:00+00:00", "2026-06-03T11:00:00+00:00", 780, None)
    # the same file again, in .xlsx this time: nothing new, nothing moved
    again = import_file("ticket-events", write_xlsx(tmp_path / "again.xlsx", EVENTS, WAITING), engine=helpdesk)
    assert (again.inserted, again.unchanged) == (0, 2)
    with session_scope(helpdesk) as session:
        assert session.scalar(select(func.count()).select_from(TicketEvent)) == 2
    assert shown(helpdesk)["T-WAIT"] == row


def test_the_pause_rule_changed_after_the_fact_keeps_the_time_already_paused(helpdesk, tmp_path):
    import_file("ticket-events", write_csv(tmp_path / "e.csv", EVENTS, WAITING), engine=helpdesk)
    notifications = Notifications(ops_email="ops@example.com", outbox_dir=str(tmp_path / "outbox"))
    run_commitments(datetime(2026, 5, 11, 11, 0, tzinfo=PARIS), TERMS, notifications, actor="test",
                    flow_run_id=None, engine=helpdesk)
    # the vendor stops pausing; the next run (Monday 11 May 12:00) sees it and dates the change then
    no_pause = Terms(tiers=PREMIUM, pause_on=[])
    morning = run_commitments(datetime(2026, 5, 11, 12, 0, tzinfo=PARIS), no_pause, notifications, actor="test",
                              flow_run_id=None, engine=helpdesk)
    assert [row["ticket"] for row in morning.tickets if row["state"] == "breached"] == ["T-PREM"]
    with session_scope(helpdesk, write=True) as session:
        assert [(change.effective_at.astimezone(PARIS).strftime("%Y-%m-%d %H:%M"), len(change.rules))
                for change in session.scalars(select(PauseRuleChange).order_by(PauseRuleChange.id))] == [
            ("2026-05-11 11:00", 2), ("2026-05-11 12:00", 0)]
        remember_terms(session, no_pause, "test")
    row = shown(helpdesk)["T-WAIT"]
    # waited Thursday 16-18 and Monday 9-12 under the old rule: 5 working hours, kept; 3 hours of its 18 were
    # left at the wait: due Monday 11 May 15:00; delivery Monday 1 June 18:00 + 5 h = Tuesday 2 June 14:00
    assert (row["response_due_at"], row["delivery_due_at"], row["paused_minutes"]) == (
        "2026-05-11T13:00:00+00:00", "2026-06-02T12:00:00+00:00", 300)
    # a run with the same rule records nothing more
    run_commitments(datetime(2026, 5, 12, 9, 0, tzinfo=PARIS), no_pause, notifications, actor="test",
                    flow_run_id=None, engine=helpdesk)
    with session_scope(helpdesk) as session:
        assert session.scalar(select(func.count()).select_from(PauseRuleChange)) == 2


def test_a_premium_customer_runs_its_tiers_tighter_clock(helpdesk):
    rows = shown(helpdesk)
    # 4 working hours from Wednesday 6 May 10:00: 14:00 Paris; ACME's default first response: Monday 11 May 10:00
    assert (rows["T-PREM"]["tier"], rows["T-PREM"]["response_due_at"], rows["T-PREM"]["delivery_due_at"]) == (
        "premium", "2026-05-06T12:00:00+00:00", None)
    assert rows["T-WAIT"]["response_due_at"] == "2026-05-11T08:00:00+00:00"


def test_events_are_refused_at_their_row_and_nothing_is_written(helpdesk, tmp_path):
    rows = [["T-WAIT", "2026-05-07T16:00", "waiting_customer"],
            ["T-NONE", "2026-05-07T16:00", "waiting_customer"],
            ["t-wait", "2026-05-08T16:00", "waiting_customer"],
            ["T-WAIT", "2026-05-06T09:00", "in_progress"],
            ["T-WAIT", "2026-07-02T09:00", "resolved"],
            ["T-WAIT", "1999-12-31T09:00", "resolved"],
            ["T-WAIT", "2026-05-08T09:00", "pending"],
            ["T-WAIT", "2026-05-07T16:00", "waiting_customer"]]
    with pytest.raises(ImportRejected) as rejected:
        import_file("ticket-events", write_csv(tmp_path / "bad.csv", EVENTS, rows), engine=helpdesk)
    errors = rejected.value.errors
    assert errors[0] == "bad.csv:3:ticket_id: unknown ticket 'T-NONE' (import tickets first)"
    assert errors[1].startswith("bad.csv:4:ticket_id: unknown ticket 't-wait'") and "'T-WAIT'" in errors[1]
    # moments said as the file gives them, in Paris time (the ledger keeps UTC, which nobody typed)
    assert errors[2] == ("bad.csv:5:at: 2026-05-06T09:00:00+02:00 is before the ticket arrived "
                         "(2026-05-06T10:00:00+02:00)")
    assert errors[3] == ("bad.csv:6:at: 2026-07-02T09:00 is after today: it cannot lie ahead; a date here lies from "
                         "2000-01-01 (earliest_date) to today")
    assert errors[4] == ("bad.csv:7:at: 1999-12-31T09:00 is before 2000-01-01: a date here lies from 2000-01-01 "
                         "(earliest_date) to today")
    assert errors[5] == ("bad.csv:8:status: must be one of open/waiting_customer/in_progress/resolved/closed/reopened, "
                         "not 'pending'")
    assert errors[6] == ("bad.csv:9:at: 'T-WAIT, 2026-05-07T16:00:00+02:00, waiting_customer' is repeated in this "
                         "file at row 2: a key appears once")
    assert len(errors) == 7
    with session_scope(helpdesk) as session:
        assert session.scalar(select(func.count()).select_from(TicketEvent)) == 0


def test_an_unknown_tier_is_refused_at_its_row(helpdesk, tmp_path):
    header = CUSTOMER_HEADER + ["commitment_tier"]
    with pytest.raises(ImportRejected) as rejected:
        import_file("customers", write_csv(tmp_path / "c2.csv", header, [customer("GOLD") + ["gold"]]),
                    engine=helpdesk, terms=TERMS)
    assert rejected.value.errors == ["c2.csv:2:commitment_tier: unknown tier 'gold': the terms' tiers are premium "
                                     "(add it to the terms' tiers first)"]


def test_the_helpdesk_pushes_events_beside_tickets_in_one_request(helpdesk):
    secret = b"the-helpdesk-secret"
    body = json.dumps({"tickets": [{"ticket_id": "HD-9", "customer_id": "ACME", "received_at": "2026-05-06T10:00",
                                    "type": "question"}],
                       "events": [{"ticket_id": "HD-9", "at": "2026-05-07T16:00", "status": "waiting_customer"},
                                  {"ticket_id": "HD-9", "at": "2026-05-12T11:00", "status": "in_progress"}]}).encode()
    status, answer = receive(body, headers(secret, body), secret, engine=helpdesk, sealer=lambda text: text)
    assert (status, answer["inserted"], answer["ticket-events"]["inserted"]) == (200, 3, 2)
    assert shown(helpdesk)["HD-9"]["response_due_at"] == "2026-05-12T12:00:00+00:00"
    # an event of an unknown ticket: 422 naming its record, and nothing of the request is written
    bad = json.dumps({"events": [{"ticket_id": "HD-9", "at": "2026-05-13T09:00", "status": "resolved"},
                                 {"ticket_id": "HD-0", "at": "2026-05-13T09:00", "status": "resolved"}]}).encode()
    status, answer = receive(bad, headers(secret, bad), secret, engine=helpdesk, sealer=lambda text: text)
    assert (status, answer) == (422, {"errors": ["helpdesk-events:3:ticket_id: unknown ticket 'HD-0' (import "
                                                 "tickets first)"]})
    with session_scope(helpdesk) as session:
        assert session.scalar(select(func.count()).select_from(TicketEvent)) == 2
    malformed = json.dumps({"events": {"ticket_id": "HD-9"}}).encode()
    assert receive(malformed, headers(secret, malformed), secret, engine=helpdesk)[0] == 400
