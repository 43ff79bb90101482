"""Service commitments as ops and finance meet them, on SQLite and PostgreSQL: tickets imported (their
identity is history, their later moments move, audited), the run's breached and at-risk tickets with one
alert each at SMTP in service hours, credentials sealed then purged at close and never found in a log,
an artifact, the audit, an export, a backup or a mail; and the customization support window billed to
the cent on both sides of its boundary."""

from __future__ import annotations

import os
from datetime import datetime
import pytest
from sqlalchemy import select

from ledger import views
from ledger.db import session_scope
from ledger.imports import ImportRejected, import_file
from ledger.models import AuditEntry, Ticket
from policy.calendar import PARIS
from tests.integration.test_invoices import mailbox, shown_invoices  # noqa: F401 (fixture)
from tests.support.builders import CUSTOMER_HEADER, customer, platform, write_csv

pytestmark = pytest.mark.prefect

SECRET = "vpn: ops-acme / Tr0ub4dor&3-secret"
HEADER = ["ticket_id", "customer_id", "received_at", "type", "channel", "severity", "level", "first_response_at",
          "resolved_at", "closed_at", "customization_delivered_on", "credentials"]
#: the morning the tests look from: Wednesday 18 November 2026, 08:00 in Paris
MORNING = datetime(2026, 11, 18, 8, 0, tzinfo=PARIS)


def tickets_file(tmp_path, rows, name="t.csv"):
    return write_csv(tmp_path / name, HEADER, [row + [""] * (len(HEADER) - len(row)) for row in rows])


@pytest.fixture
def helpdesk(prefect_server, home, ledger, tmp_path):
    from ledger.sealing import sealer

    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME"), customer("BETA")]),
                engine=ledger)
    rows = [
        # a mail on Friday 13 Nov 17:59: first response due Tuesday 17 Nov 17:59 -> breached on the 18th
        ["T-LATE", "ACME", "2026-11-13T17:59", "bug", "mail", "major", "1"],
        # Saturday 14 Nov: the clock starts Monday 09:00, due Wednesday 18 Nov 09:00; at 08:00 on the 18th,
        # 17 of 18 working hours used (94 %): at risk
        ["T-RISK", "BETA", "2026-11-14T10:00", "question", "form", "", "1"],
        # Tuesday 17 Nov 18:01: starts Wednesday 09:00; nothing used at 08:00: on track
        ["T-FINE", "ACME", "2026-11-17T18:01", "evolution", "mail", "minor", "2"],
        # answered in time, still open: it carries the customer's credentials
        ["T-DONE", "BETA", "2026-11-10T09:30", "assistance", "phone", "", "1", "2026-11-10T11:00",
         "2026-11-10T15:00", "", "", SECRET],
    ]
    import_file("tickets", tickets_file(tmp_path, rows), engine=ledger, sealer=sealer())
    return ledger


def test_the_run_shows_breached_and_at_risk_tickets_first_and_alerts_ops_once_in_service_hours(helpdesk, mailbox,
                                                                                                   tmp_path):
    from blocks.notifications import Notifications
    from flows.commitments import commitments

    notifications = Notifications.load("lifecycle")
    notifications.ops_email = "ops@example.com"
    notifications.save("lifecycle", overwrite=True)
    result = commitments(as_of=MORNING)
    assert [(row["ticket"], row["state"]) for row in result["tickets"]] == [
        ("T-LATE", "breached"), ("T-RISK", "at_risk"), ("T-FINE", "on_track"), ("T-DONE", "met")]
    assert [row["next due (Paris)"] for row in result["tickets"]][:3] == [
        "2026-11-17 17:59", "2026-11-18 09:00", "2026-11-20 09:00"]
    # 08:00 is before the opening: T-LATE's breach and T-RISK's 1-hour warning (Tuesday 17:00) are held
    assert (result["alerts"], result["held"]) == (0, 2)
    assert [mail for mail in mailbox if mail["to"] == ["ops@example.com"]] == []
    # the opening's run sends them, once; a clock that breaches later alerts once more
    opening = commitments(as_of=datetime(2026, 11, 18, 9, 0, tzinfo=PARIS))
    assert (opening["alerts"], opening["held"]) == (2, 0)
    alerts = sorted(mail["message"]["Subject"].lstrip() for mail in mailbox if mail["to"] == ["ops@example.com"])
    assert alerts == ["[lifecycle] ticket T-LATE BREACHED: first_response due 2026-11-17 17:59 (Paris)",
                      "[lifecycle] ticket T-RISK due in 1 working hour: first_response due 2026-11-18 09:00 (Paris)"]
    again = commitments(as_of=datetime(2026, 11, 18, 9, 0, tzinfo=PARIS))  # the same moment again: nothing
    assert again["alerts"] == 0
    later = commitments(as_of=datetime(2026, 11, 18, 9, 30, tzinfo=PARIS))
    assert [(row["ticket"], row["state"]) for row in later["tickets"]][:2] == [("T-LATE", "breached"),
                                                                                ("T-RISK", "breached")]
    assert sorted(mail["message"]["Subject"].lstrip() for mail in mailbox if mail["to"] == ["ops@example.com"])[1:] == [
        "[lifecycle] ticket T-RISK BREACHED: first_response due 2026-11-18 09:00 (Paris)",
        "[lifecycle] ticket T-RISK due in 1 working hour: first_response due 2026-11-18 09:00 (Paris)"]
    # `show tickets`: the due times a user reads
    with session_scope(helpdesk) as session:
        shown = {row["ticket_id"]: row for row in views.tickets(session)}
    # the clock starts Wednesday 18 Nov 09:00; 15 working days after that day: 19, 20, 23-27, 30, 1-4, 7-9 Dec
    assert shown["T-FINE"]["delivery_due_at"] == "2026-12-09T17:00:00+00:00"  # 18:00 Paris
    assert (shown["T-DONE"]["state"], shown["T-DONE"]["has_credentials"]) == ("met", True)
    assert shown["T-LATE"]["has_credentials"] is False


def test_a_tickets_identity_is_history_and_its_later_moments_move_with_an_audit(helpdesk, tmp_path):
    from ledger.sealing import sealer

    changed = tickets_file(tmp_path, [["T-LATE", "ACME", "2026-11-13T17:59", "blocking_bug", "mail", "major", "1"]],
                           "changed.csv")
    with pytest.raises(ImportRejected) as rejected:
        import_file("tickets", changed, engine=helpdesk, sealer=sealer())
    assert rejected.value.errors == ["changed.csv:2:type: 'T-LATE' arrived with type 'bug': a ticket's identity is "
                                     "history (now 'blocking_bug')"]
    answered = tickets_file(tmp_path, [["T-LATE", "ACME", "2026-11-13T17:59", "bug", "mail", "major", "1",
                                        "2026-11-18T10:15"]], "answered.csv")
    assert import_file("tickets", answered, engine=helpdesk, sealer=sealer()).updated == 1
    with session_scope(helpdesk) as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "ticket_updated")).all()
        assert entry.after["first_response_at"] == "2026-11-18T09:15:00+00:00" and entry.before["first_response_at"] is None
    # before its arrival: refused, where it is
    early = tickets_file(tmp_path, [["T-NEW", "ACME", "2026-11-13T17:59", "bug", "", "", "", "2026-11-13T17:00"]],
                         "early.csv")
    with pytest.raises(ImportRejected) as rejected:
        import_file("tickets", early, engine=helpdesk, sealer=sealer())
    assert rejected.value.errors[0].startswith("early.csv:2:first_response_at: ")


def test_credentials_are_sealed_purged_at_close_and_never_found_anywhere(helpdesk, mailbox, tmp_path, home):
    from flows.backup import nightly_backup
    from flows.commitments import commitments
    from flows.exports import billable_export
    from prefect import get_client

    platform(os.environ["LIFECYCLE_PLATFORM_URL"], ["ACME", "BETA"])
    with session_scope(helpdesk) as session:
        done = session.get(Ticket, "T-DONE")
        assert done.credentials_token and SECRET not in done.credentials_token
    # the ticket is closed, and the helpdesk sends the credentials again with it: not stored
    again = tickets_file(tmp_path, [["T-DONE", "BETA", "2026-11-10T09:30", "assistance", "phone", "", "1",
                                     "2026-11-10T11:00", "2026-11-10T15:00", "2026-11-10T16:00", "", SECRET]], "c.csv")
    from ledger.sealing import sealer

    result = import_file("tickets", again, engine=helpdesk, sealer=sealer())
    assert result.notes == ["T-DONE: closed: its credentials were not stored"]
    run = commitments(as_of=MORNING)
    assert run["purged"] == ["T-DONE"]
    with session_scope(helpdesk) as session:
        done = session.get(Ticket, "T-DONE")
        assert done.credentials_token is None and done.credentials_purged_at is not None
        [purge] = session.scalars(select(AuditEntry).where(AuditEntry.action == "ticket_credentials_purged")).all()
        audit_text = repr([(e.before, e.after) for e in session.scalars(select(AuditEntry))])
    assert purge.after["ticket"] == "T-DONE" and SECRET not in audit_text

    # everything a user or an attacker can read: the ledger as `show` prints it, an export, a backup with
    # its ledger snapshot, the mails, the runs' logs and artifacts
    billable_export(month="2026-11")
    nightly_backup()  # today's: a backup's id names the day its data was taken
    with session_scope(helpdesk) as session:
        shown = repr([views.SUBJECTS[name](session, None) for name in views.SUBJECTS])
    assert SECRET not in shown and "Tr0ub4dor" not in shown
    stored = [path for path in (home / "objects").rglob("*") if path.is_file()]
    assert any("ledger" in str(path) for path in stored) and any(path.suffix == ".xlsx" for path in stored)
    for path in stored + [path for path in home.rglob("*.eml")]:
        data = path.read_bytes()
        assert b"Tr0ub4dor" not in data, path
        if path.suffix in (".gz", ".zst", ".xz"):
            import gzip

            try:
                assert b"Tr0ub4dor" not in gzip.decompress(data), path
            except OSError:
                pass
    assert all("Tr0ub4dor" not in mail["message"].as_string() for mail in mailbox)
    with get_client(sync_client=True) as client:
        logs = client.read_logs()
        artifacts = client.read_artifacts()
    assert not [log for log in logs if "Tr0ub4dor" in log.message]
    assert not [artifact for artifact in artifacts if "Tr0ub4dor" in repr(artifact.data)]


def test_support_on_a_customization_ends_a_month_after_its_delivery(prefect_server, home, ledger, tmp_path):
    from flows.monthly_close import monthly_close

    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME", fee="0.00")]),
                engine=ledger)
    # delivered on 15 September: support runs to 15 October included
    import_file("tickets", tickets_file(tmp_path, [["CUST-1", "ACME", "2026-09-01T10:00", "customization", "", "", "",
                                                    "", "2026-09-15T12:00", "", "2026-09-15"]]), engine=ledger)
    import_file("interventions", write_csv(tmp_path / "i.csv", ["intervention_id", "customer_id", "started_at",
                                                                 "minutes", "category", "ticket"], [
        ["IN-1", "ACME", "2026-10-15T16:00", "30", "assistance", "CUST-1"],   # within: from the quota, free
        ["IN-2", "ACME", "2026-10-16T09:00", "30", "assistance", "CUST-1"],   # a day past: billed, quota or not
        ["IN-3", "ACME", "2026-10-20T09:00", "30", "assistance", ""],         # no ticket: from the quota, free
    ]), engine=ledger)
    monthly_close(month="2026-10")
    with session_scope(ledger) as session:
        priced = {row["intervention_id"]: row for row in views.interventions(session, "2026-10")}
    assert [(priced[i]["free_minutes"], priced[i]["billed_minutes"], priced[i]["amount_ht"])
            for i in ("IN-1", "IN-2", "IN-3")] == [(30, 0, "0.00"), (0, 30, "60.00"), (30, 0, "0.00")]
    [invoice] = [item for item in shown_invoices(ledger, "2026-10") if item["customer_id"] == "ACME"]
    assert (invoice["total_ht"], invoice["total_vat"], invoice["total_ttc"]) == ("60.00", "12.00", "72.00")


def test_a_helpdesk_pushes_tickets_through_its_signed_webhook(helpdesk):
    import socket

    import httpx

    from lifecycle.helpdesk import PATH, headers, serve_helpdesk, signature
    from tests.support.ports import free_port

    secret, port = b"the-shared-secret", free_port()
    server = serve_helpdesk("127.0.0.1", port, secret)
    url = f"http://127.0.0.1:{port}{PATH}"

    def post(payload: bytes, signed: dict | None):
        return httpx.post(url, content=payload, headers=signed or {"Content-Type": "application/json"}, timeout=30)

    try:
        body = (b'{"ticket_id": "HD-9", "customer_id": "ACME", "received_at": "2026-11-18T09:30", '
                b'"type": "bug", "severity": "major", "credentials": "' + SECRET.encode() + b'"}')
        assert post(body, None).status_code == 401
        assert post(body, {"X-Lifecycle-Signature": signature(secret, body)}).status_code == 401  # no moment
        assert post(body, headers(b"another secret", body)).status_code == 401
        answer = post(body, headers(secret, body))
        assert answer.status_code == 200 and answer.json()["inserted"] == 1, answer.text
        bad = b'[{"ticket_id": "HD-10", "customer_id": "NOBODY", "received_at": "2026-11-18T09:30", "type": "bug"}]'
        refused = post(bad, headers(secret, bad))
        assert refused.status_code == 422
        assert refused.json()["errors"] == ["helpdesk:2:customer_id: unknown customer 'NOBODY' (import customers first)"]
        for length in ("-1", "many"):                      # a lying Content-Length is refused at once
            with socket.create_connection(("127.0.0.1", port), timeout=15) as raw:
                raw.sendall(f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode())
                assert raw.recv(200).split()[1] == b"400"
        later = b'{"ticket_id": "HD-9", "customer_id": "ACME", "received_at": "2026-11-18T09:30", "type": "bug", ' \
                b'"first_response_at": "2026-11-18T10:00"}'
        assert post(later, headers(secret, later)).json()["updated"] == 1
    finally:
        server.shutdown()
    with session_scope(helpdesk) as session:
        ticket = session.get(Ticket, "HD-9")
        assert (ticket.source, ticket.severity) == ("webhook", "major") and ticket.first_response_at is not None
        assert ticket.credentials_token and SECRET not in ticket.credentials_token
        assert session.get(Ticket, "HD-10") is None
