"""Warnings before a breach, in service hours, as ops meet them in their mailbox (a real SMTP server on
loopback), on SQLite and PostgreSQL: a warning at each offset of the terms, once however many runs; an alert
computed at 19:00 on a Friday held until Monday's opening (a Saturday run sends nothing); a blocking bug's
alert at once, at night; `show tickets`' next warning. Every run at its own moment (`as_of`), never the wall
clock; November 2026 in Paris."""

from __future__ import annotations

from datetime import datetime

import pytest

from blocks.notifications import Notifications
from ledger import views
from ledger.db import session_scope
from ledger.imports import import_file
from operations.commitments import run_commitments
from policy.calendar import PARIS
from policy.terms import Terms
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv
from tests.support.servers import smtp_server

HEADER = ["ticket_id", "customer_id", "received_at", "type", "channel", "severity", "level", "first_response_at",
          "resolved_at", "closed_at"]


def paris(*parts) -> datetime:
    return datetime(*parts, tzinfo=PARIS)


@pytest.fixture
def desk(ledger, tmp_path, monkeypatch):
    """A ledger with two customers, ops' mailbox on loopback, and `run(at)`: the commitments run at `at`."""
    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-11-30")
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME"), customer("BETA")]),
                engine=ledger)
    with smtp_server() as (port, received):
        notifications = Notifications(smtp_host="127.0.0.1", smtp_port=port, security="none",
                                      ops_email="ops@example.com")

        class Desk:
            mails = received

            @staticmethod
            def tickets(*rows):
                path = write_csv(tmp_path / f"t{len(list(tmp_path.glob('t*.csv')))}.csv", HEADER,
                                 [row + [""] * (len(HEADER) - len(row)) for row in rows])
                import_file("tickets", path, engine=ledger)

            @staticmethod
            def run(at: datetime):
                return run_commitments(at, Terms(), notifications, actor="test", flow_run_id=None, engine=ledger)

            @staticmethod
            def subjects() -> list[str]:
                # Python folds a 77-character subject as "Subject:\r\n [lifecycle]...": unfolded, its value starts
                # with the folding space (mail clients drop it)
                return [mail["message"]["Subject"].lstrip() for mail in received if mail["to"] == ["ops@example.com"]]

        yield Desk


def test_a_warning_at_each_offset_once_however_many_runs(desk):
    # a question on Monday 16 Nov 09:00: first response due Wednesday 18 Nov 09:00 (2 working days); warned
    # 4 working hours before (Tuesday 14:00) and 1 before (Tuesday 17:00)
    desk.tickets(["T-Q", "ACME", "2026-11-16T09:00", "question", "mail"])
    assert desk.run(paris(2026, 11, 17, 13, 45)).alerts == 0
    assert desk.run(paris(2026, 11, 17, 14, 0)).alerts == 1
    assert desk.run(paris(2026, 11, 17, 14, 0)).alerts == 0          # the same moment again
    assert desk.run(paris(2026, 11, 17, 16, 45)).alerts == 0
    assert desk.run(paris(2026, 11, 17, 17, 0)).alerts == 1
    assert desk.run(paris(2026, 11, 17, 17, 15)).alerts == 0
    assert desk.subjects() == [
        "[lifecycle] ticket T-Q due in 4 working hours: first_response due 2026-11-18 09:00 (Paris)",
        "[lifecycle] ticket T-Q due in 1 working hour: first_response due 2026-11-18 09:00 (Paris)"]
    body = desk.mails[0]["message"].get_content()
    assert ("Ticket T-Q of ACME (Client ACME), a question received 2026-11-16 09:00 (Paris): its first_response clock "
            "is due 2026-11-18 09:00 (Paris), in 4 working hours or less.") in body
    # the breach alert stays: the first run after 09:00 sends it, once
    assert desk.run(paris(2026, 11, 18, 9, 15)).alerts == 1
    assert desk.run(paris(2026, 11, 18, 9, 30)).alerts == 0
    assert desk.subjects()[2:] == ["[lifecycle] ticket T-Q BREACHED: first_response due 2026-11-18 09:00 (Paris)"]


def test_an_alert_computed_friday_at_19_is_delivered_at_mondays_opening_and_not_before(desk):
    desk.tickets(
        # Thursday 19 Nov 10:30: first response due Monday 23 Nov 10:30; 4 working hours before is Friday 15:30
        ["T-WARN", "ACME", "2026-11-19T10:30", "bug", "mail", "minor"],
        # Wednesday 18 Nov 17:30: first response due Friday 20 Nov 17:30, breached by 19:00
        ["T-LATE", "BETA", "2026-11-18T17:30", "question", "form"],
    )
    friday = desk.run(paris(2026, 11, 20, 19, 0))
    assert (friday.alerts, len(friday.held)) == (0, 2)
    assert "0 alert(s) sent, 2 held until 2026-11-23 09:00 (service hours)" in friday.line()
    assert desk.run(paris(2026, 11, 21, 10, 0)).alerts == 0          # Saturday
    assert desk.run(paris(2026, 11, 23, 8, 45)).alerts == 0          # Monday, before the opening
    assert desk.subjects() == []
    monday = desk.run(paris(2026, 11, 23, 9, 0))
    assert (monday.alerts, monday.held) == (2, ())
    assert sorted(desk.subjects()) == [
        "[lifecycle] ticket T-LATE BREACHED: first_response due 2026-11-20 17:30 (Paris)",
        "[lifecycle] ticket T-WARN due in 4 working hours: first_response due 2026-11-23 10:30 (Paris)"]
    assert all("Computed 2026-11-20 19:00 (Paris), outside service hours: held until the opening, 2026-11-23 "
               "09:00 (Paris)." in mail["message"].get_content() for mail in desk.mails)
    # its 1-hour warning (Monday 09:30) comes in its time, in service hours: at once
    assert desk.run(paris(2026, 11, 23, 9, 30)).alerts == 1
    assert desk.subjects()[-1] == ("[lifecycle] ticket T-WARN due in 1 working hour: first_response due "
                                   "2026-11-23 10:30 (Paris)")


def test_a_blocking_bug_alerts_at_once_at_night_another_bug_waits(desk):
    desk.tickets(
        # Thursday 19 Nov 10:00: workaround due Friday 20 Nov 10:00 (1 working day); 4 h before: Thursday 15:00
        ["T-BLOCK", "ACME", "2026-11-19T10:00", "blocking_bug", "phone", "major"],
        # the same moment, a plain bug: its first response due Monday 23 Nov 10:00, warned Friday 15:00
        ["T-BUG", "BETA", "2026-11-19T10:00", "bug", "phone", "major"],
    )
    night = desk.run(paris(2026, 11, 19, 22, 0))
    assert (night.alerts, night.held) == (1, ())
    assert desk.subjects() == [
        "[lifecycle] ticket T-BLOCK due in 4 working hours: blocking_workaround due 2026-11-20 10:00 (Paris)"]
    assert "held" not in desk.mails[0]["message"].get_content()
    # Friday 19:00: the bug's 4-hour warning (15:00) is held until Monday; the blocking bug's breach and its
    # own first response's warning (due Monday 10:00 too) are not
    friday = desk.run(paris(2026, 11, 20, 19, 0))
    assert (friday.alerts, [moment.astimezone(PARIS) for moment in friday.held]) == (2, [paris(2026, 11, 23, 9, 0)])
    assert sorted(desk.subjects()[1:]) == [
        "[lifecycle] ticket T-BLOCK BREACHED: blocking_workaround due 2026-11-20 10:00 (Paris)",
        "[lifecycle] ticket T-BLOCK due in 4 working hours: first_response due 2026-11-23 10:00 (Paris)"]


def test_show_tickets_gives_the_next_warning(desk, ledger):
    # Friday 27 Nov 18:30, after closing: the clock starts Monday 30 Nov 09:00, first response due Wednesday
    # 2 Dec 09:00, warned 4 working hours before: Tuesday 1 Dec 14:00 (whatever the time on Monday 30, today)
    desk.tickets(["T-NEXT", "ACME", "2026-11-27T18:30", "evolution", "mail", "minor"])
    with session_scope(ledger) as session:
        [row] = views.tickets(session)
    assert row["next_warning_at"] == "2026-12-01T13:00:00+00:00"  # 14:00 Paris


def test_a_run_on_a_public_holiday_holds_all_but_a_blocking_bugs_alerts(desk):
    # Wednesday 11 Nov 2026 is Armistice Day: the cron still runs (a weekday); the working calendar holds
    desk.tickets(
        # Monday 9 Nov 10:00: first response due Thursday 12 Nov 10:00 (Tuesday, then Thursday); 4 working
        # hours before: Tuesday 15:00 (3 h) and Thursday 09:00-10:00 (1 h); 1 before: Thursday 09:00
        ["T-HOLD", "ACME", "2026-11-09T10:00", "question", "mail"],
        # Monday 9 Nov 16:00: a blocking bug's workaround due Tuesday 10 Nov 16:00, breached on the holiday
        ["T-BLOCK", "BETA", "2026-11-09T16:00", "blocking_bug", "phone", "major"],
    )
    holiday = desk.run(paris(2026, 11, 11, 10, 0))
    assert (holiday.alerts, [moment.astimezone(PARIS) for moment in holiday.held]) == (1, [paris(2026, 11, 12, 9, 0)])
    assert desk.subjects() == ["[lifecycle] ticket T-BLOCK BREACHED: blocking_workaround due 2026-11-10 16:00 (Paris)"]
    assert desk.run(paris(2026, 11, 11, 18, 45)).alerts == 0
    # Thursday's opening: the held 4-hour warning goes, and the 1-hour one whose moment it is
    assert desk.run(paris(2026, 11, 12, 9, 0)).alerts == 2
    assert sorted(desk.subjects()[1:]) == [
        "[lifecycle] ticket T-HOLD due in 1 working hour: first_response due 2026-11-12 10:00 (Paris)",
        "[lifecycle] ticket T-HOLD due in 4 working hours: first_response due 2026-11-12 10:00 (Paris)"]
