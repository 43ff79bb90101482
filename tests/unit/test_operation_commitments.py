"""The morning's commitments as an operation (operations/commitments.py), on a SQLite ledger with alerts to an
outbox folder, without Prefect: breached and at-risk tickets first, one alert each to ops (none again the
next look), a closed ticket's credentials deleted; a moment ahead of now is refused."""

from __future__ import annotations

from datetime import datetime, timedelta
from email import message_from_bytes
from email.policy import default

import pytest
from sqlalchemy import select

from blocks.notifications import Notifications
from ledger.db import session_scope
from ledger.imports import import_file
from ledger.models import Ticket
from ledger.sealing import sealer
from lifecycle_config import clock
from operations.commitments import MomentRefused, run_commitments
from policy.calendar import PARIS
from policy.refusals import Refusal
from policy.terms import Terms
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv
from tests.support.sqlite_ledger import sqlite_ledger

HEADER = ["ticket_id", "customer_id", "received_at", "type", "channel", "severity", "level", "first_response_at",
          "resolved_at", "closed_at", "customization_delivered_on", "credentials"]
#: Wednesday 18 November 2026, 08:00 in Paris
MORNING = datetime(2026, 11, 18, 8, 0, tzinfo=PARIS)


@pytest.fixture
def helpdesk(tmp_path, monkeypatch):
    ledger = sqlite_ledger(tmp_path, monkeypatch, "2026-11-19")
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME"), customer("BETA")]),
                engine=ledger)
    rows = [
        # a mail on Friday 13 Nov 17:59: first response due Tuesday 17 Nov 17:59 -> breached on the 18th
        ["T-LATE", "ACME", "2026-11-13T17:59", "bug", "mail", "major", "1"],
        # Saturday 14 Nov: starts Monday 09:00, due Wednesday 18 Nov 09:00; at 08:00, 17 of 18 hours used: at risk
        ["T-RISK", "BETA", "2026-11-14T10:00", "question", "form", "", "1"],
        # answered on the 10th with the customer's credentials, then closed (next file): its credentials go
        ["T-DONE", "BETA", "2026-11-10T09:30", "assistance", "phone", "", "1", "2026-11-10T11:00",
         "2026-11-10T15:00", "", "", "vpn: ops-beta / secret"],
    ]
    import_file("tickets", tickets_file(tmp_path / "t.csv", rows), engine=ledger, sealer=sealer(ledger))
    closed = [["T-DONE", "BETA", "2026-11-10T09:30", "assistance", "phone", "", "1", "2026-11-10T11:00",
               "2026-11-10T15:00", "2026-11-10T16:00"]]
    import_file("tickets", tickets_file(tmp_path / "closed.csv", closed), engine=ledger, sealer=sealer(ledger))
    return ledger


def tickets_file(path, rows):
    return write_csv(path, HEADER, [row + [""] * (len(HEADER) - len(row)) for row in rows])


def test_the_morning_shows_the_worst_first_alerts_ops_once_and_purges_closed_credentials(helpdesk, tmp_path):
    outbox = tmp_path / "outbox"
    notifications = Notifications(ops_email="ops@example.com", outbox_dir=str(outbox))
    morning = run_commitments(MORNING, Terms(), notifications, actor="test", flow_run_id=None, engine=helpdesk)
    assert [(row["ticket"], row["state"], row["next due (Paris)"]) for row in morning.tickets] == [
        ("T-LATE", "breached", "2026-11-17 17:59"), ("T-RISK", "at_risk", "2026-11-18 09:00")]
    # 08:00 is before the opening (09:00): the breach and the 1-hour warning are recorded, held until then
    assert morning.summary() | {"tickets": None} == {
        "at": "2026-11-18T08:00:00+01:00", "open": 2, "breached": 1, "at_risk": 1, "alerts": 0, "held": 2,
        "held_until": "2026-11-18T09:00:00+01:00", "purged": ["T-DONE"], "tickets": None,
        "metrics": morning.summary()["metrics"]}
    assert morning.line() == ("2026-11-18 08:00: 2 open ticket(s), 1 breached, 1 at risk; 0 alert(s) sent, 2 held "
                              "until 2026-11-18 09:00 (service hours); 1 closed ticket(s)' credentials deleted")
    assert not outbox.exists()
    with session_scope(helpdesk) as session:
        assert session.scalar(select(Ticket.credentials_token).where(Ticket.ticket_id == "T-DONE")) is None
    opening = run_commitments(MORNING + timedelta(hours=1), Terms(), notifications, actor="test", flow_run_id=None,
                              engine=helpdesk)
    assert (opening.alerts, opening.held, opening.purged) == (2, (), ())
    # the month so far in figures (the run's second artifact): T-DONE, received Tuesday 10 Nov 09:30, answered
    # at 11:00 (1.5 working hours), resolved at 15:00 (5.5), its one clock met; nothing is paused yet
    assert morning.summary()["metrics"] == [{
        "month": "2026-11", "customer_id": "BETA", "type": "assistance", "severity": None, "tickets": 1, "met": 1,
        "missed": 0, "median_response": "1.50", "p90_response": "1.50", "median_resolution": "5.50",
        "p90_resolution": "5.50", "paused_hours": "0.00", "rate": "100.0 %"}]
    mails = [message_from_bytes(mail.read_bytes(), policy=default) for mail in outbox.glob("*.eml")]
    assert sorted((mail["To"], mail["Subject"]) for mail in mails) == [
        ("ops@example.com", "[lifecycle] ticket T-LATE BREACHED: first_response due 2026-11-17 17:59 (Paris)"),
        ("ops@example.com", "[lifecycle] ticket T-RISK due in 1 working hour: first_response due 2026-11-18 09:00 "
                            "(Paris)")]
    held = next(mail for mail in mails if "T-LATE" in mail["Subject"]).get_content()
    assert ("Computed 2026-11-18 08:00 (Paris), outside service hours: held until the opening, 2026-11-18 09:00 "
            "(Paris).") in held
    again = run_commitments(MORNING + timedelta(minutes=70), Terms(), notifications, actor="test", flow_run_id=None,
                            engine=helpdesk)
    assert (again.alerts, again.purged, len(list(outbox.glob("*.eml")))) == (1, (), 3)  # T-RISK breached at 09:10


def test_a_moment_ahead_of_now_is_refused(helpdesk, tmp_path):
    ahead = clock.now() + timedelta(hours=1)
    with pytest.raises(MomentRefused) as refused:
        run_commitments(ahead, Terms(), Notifications(outbox_dir=str(tmp_path / "outbox")), actor="test",
                        flow_run_id=None, engine=helpdesk)
    assert isinstance(refused.value, Refusal)
    assert str(refused.value) == f"--as-of {ahead.isoformat()} is ahead of now: clocks are read as they stand"
    assert not (tmp_path / "outbox").exists()
