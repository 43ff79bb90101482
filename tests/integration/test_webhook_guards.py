"""The helpdesk webhook as an attacker and a careless sender meet it, over real sockets on loopback: a request
replayed (later, to another server process, after a restart, many at once) is taken once and never moves a
ticket's times back; a request signed too long ago or ahead, or only with the old body signature, is
refused in one line, logged once; a client that trickles its headers or body byte by byte is answered 408
within the request's time and keeps no thread; JSON nested 100000 deep is a 400, never a 500. On SQLite and
PostgreSQL where the ledger is involved."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from ledger.db import session_scope
from ledger.imports import import_file
from ledger.models import Ticket, WebhookReceipt
from lifecycle.helpdesk import PATH, headers, serve_helpdesk, signature
from lifecycle_config import clock
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv
from tests.support.ports import free_port

SECRET = b"the-helpdesk-secret"
DAY = "2026-11-18"


def ticket(first_response: str) -> bytes:
    return json.dumps({"ticket_id": "HD-1", "customer_id": "ACME", "received_at": "2026-11-17T09:30",
                       "type": "bug", "severity": "major", "first_response_at": first_response}).encode()


@pytest.fixture
def webhook(ledger, tmp_path, monkeypatch):
    """The webhook on loopback for a ledger with customer ACME; yields (url, the refusals it logged)."""
    monkeypatch.setenv("LIFECYCLE_TODAY", DAY)
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME")]), engine=ledger)
    logged: list[str] = []
    port = free_port()
    server = serve_helpdesk("127.0.0.1", port, SECRET, report=logged.append, engine=ledger)
    try:
        yield f"http://127.0.0.1:{port}{PATH}", logged
    finally:
        server.shutdown()
        server.server_close()


def post(url: str, body: bytes, signed: dict) -> httpx.Response:
    return httpx.post(url, content=body, headers=signed, timeout=30)


def first_response(engine) -> str:
    with session_scope(engine) as session:
        return session.get(Ticket, "HD-1").first_response_at.isoformat()


def test_a_replayed_request_is_refused_and_never_moves_a_ticket_back(webhook, ledger):
    url, logged = webhook
    older, newer = ticket("2026-11-17T10:00"), ticket("2026-11-17T10:30")
    captured = headers(SECRET, older)
    assert post(url, older, captured).json()["inserted"] == 1
    assert post(url, newer, headers(SECRET, newer)).json()["updated"] == 1
    replayed = post(url, older, captured)
    assert replayed.status_code == 409
    assert replayed.json()["error"].startswith("this request was received already")
    assert first_response(ledger) == "2026-11-17T09:30:00+00:00"  # 10:30 Paris, not 10:00
    # the same body signed anew is a new request (a helpdesk's own retry): taken, and it says what it is
    again = post(url, older, headers(SECRET, older, at=clock.now() + timedelta(seconds=1)))
    assert again.status_code == 200 and again.json()["updated"] == 1
    assert logged == [f"helpdesk webhook: refused 409 from 127.0.0.1: {replayed.json()['error']}"]


def test_a_moment_in_other_digits_is_refused_at_its_field_and_nothing_is_written(webhook, ledger):
    """JSON's own numbers are 0-9, but its strings are not: a moment written ٢٠٢٦ is refused with the reason."""
    url, _ = webhook
    body = ticket("٢٠٢٦-11-17T10:00")
    answer = post(url, body, headers(SECRET, body))
    assert answer.status_code == 422, answer.text
    [error] = answer.json()["errors"]
    assert "first_response_at: not an ISO 8601 date-time: write digits 0-9: '٢٠٢٦-11-17T10:00' holds '٢' " \
           "(arabic-indic digit two)" in error, error
    with session_scope(ledger) as session:
        assert session.get(Ticket, "HD-1") is None


def test_a_request_signed_too_long_ago_or_ahead_or_only_by_its_body_is_refused_in_one_line(webhook, ledger):
    url, logged = webhook
    body = ticket("2026-11-17T10:00")
    now = clock.now()
    refusals = {
        "late": post(url, body, headers(SECRET, body, at=now - timedelta(seconds=310))),
        "ahead": post(url, body, headers(SECRET, body, at=now + timedelta(seconds=310))),
        "body only": post(url, body, {"Content-Type": "application/json",
                                      "X-Lifecycle-Signature": signature(SECRET, body)}),
        "another secret": post(url, body, headers(b"not the secret", body)),
        "moment changed": post(url, body, {**headers(SECRET, body, at=now - timedelta(seconds=600)),
                                           "X-Lifecycle-Timestamp": str(int(now.timestamp()))}),
    }
    assert {name: answer.status_code for name, answer in refusals.items()} == dict.fromkeys(refusals, 401)
    errors = {name: answer.json()["error"] for name, answer in refusals.items()}
    assert errors["late"].startswith("signed 31") and "more than the 300 s a request may be late" in errors["late"]
    assert "ahead of this server's clock" in errors["ahead"]
    assert errors["body only"].startswith("missing X-Lifecycle-Timestamp or X-Lifecycle-Signature-T")
    assert errors["another secret"] == errors["moment changed"] == \
        'bad X-Lifecycle-Signature-T (sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">)'
    assert all("\n" not in error for error in errors.values())
    assert logged == [f"helpdesk webhook: refused 401 from 127.0.0.1: {error}" for error in errors.values()]
    with session_scope(ledger) as session:
        assert session.get(Ticket, "HD-1") is None
    # a moment within the window either way is taken
    assert post(url, body, headers(SECRET, body, at=now - timedelta(seconds=290))).status_code == 200


def test_a_request_is_taken_once_across_server_processes_restarts_and_a_burst(webhook, ledger, tmp_path):
    url, _ = webhook
    # a second server process on the same ledger (what a restart or a second machine is): nothing in memory
    port = free_port()
    code = (f"import time\nfrom lifecycle.helpdesk import serve_helpdesk\n"
            f"serve_helpdesk('127.0.0.1', {port}, {SECRET!r})\nprint('ready', flush=True)\ntime.sleep(600)\n")
    other = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    try:
        assert other.stdout.readline().strip() == "ready"
        other_url = f"http://127.0.0.1:{port}{PATH}"
        body = ticket("2026-11-17T10:00")
        signed = headers(SECRET, body)
        assert post(url, body, signed).status_code == 200
        assert post(other_url, body, signed).status_code == 409
        # the same new request sent twelve times at once to both processes: taken once
        burst, signed = ticket("2026-11-17T10:45"), headers(SECRET, ticket("2026-11-17T10:45"))
        answers: list[int] = []
        senders = [threading.Thread(target=lambda target=target: answers.append(post(target, burst, signed).status_code))
                   for target in [url, other_url] * 6]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        assert sorted(answers) == [200] + [409] * 11
    finally:
        other.kill()
        other.wait()
    assert first_response(ledger) == "2026-11-17T09:45:00+00:00"
    with session_scope(ledger) as session:
        assert session.scalar(select(func.count()).select_from(WebhookReceipt)) == 2


def test_a_taken_request_is_forgotten_once_a_replay_of_it_would_be_stale(webhook, ledger, monkeypatch):
    url, _ = webhook
    body = ticket("2026-11-17T10:00")
    assert post(url, body, headers(SECRET, body)).status_code == 200
    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-11-19")  # a day later, by the product's clock
    later = ticket("2026-11-17T10:30")
    signed = headers(SECRET, later)  # once: signed again a second later, its signature differs
    assert post(url, later, signed).status_code == 200
    with session_scope(ledger) as session:
        kept = session.scalars(select(WebhookReceipt)).all()
    assert [receipt.signature for receipt in kept] == [signed["X-Lifecycle-Signature-T"]]


def test_json_nested_100000_deep_is_a_400_never_a_500(webhook, ledger):
    url, logged = webhook
    for body in (b"[" * 100_000 + b"]" * 100_000, b'{"ticket_id": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                 json.dumps({"ticket_id": "HD-1", "customer_id": [[[[[[[[["ACME"]]]]]]]]]}).encode()):
        answer = post(url, body, headers(SECRET, body))
        assert answer.status_code == 400, answer.text
        assert answer.json() == {"error": "JSON nested deeper than 8 levels: send a ticket object or a list of them"}
    assert len(logged) == 3
    with session_scope(ledger) as session:
        assert session.get(Ticket, "HD-1") is None


# --- slow clients: no database involved (nothing they send reaches it) --------------------------------


def threads_serving() -> int:
    return sum(1 for thread in threading.enumerate() if "process_request_thread" in thread.name)


def trickle(port: int, sent_at_once: bytes, data: bytes, pause: float = 0.25, limit: float = 20) -> tuple[bytes, float]:
    """Send `sent_at_once`, then `data` one byte at a time; returns what the server answered and after how many
    seconds."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=limit) as raw:
        raw.sendall(sent_at_once)
        for byte in data:
            try:
                raw.sendall(bytes([byte]))
            except OSError:  # the server closed the connection: read its answer
                break
            raw.settimeout(pause)
            try:
                answer = raw.recv(4096)
            except TimeoutError:
                continue
            break
        else:
            answer = b""
        raw.settimeout(limit)
        while chunk := raw.recv(4096):
            answer += chunk
        return answer, time.monotonic() - started


@pytest.mark.parametrize("part", ["headers", "body"])
def test_a_client_trickling_its_request_is_answered_408_within_its_time_and_keeps_no_thread(part):
    logged: list[str] = []
    port = free_port()
    server = serve_helpdesk("127.0.0.1", port, SECRET, read_seconds=2, report=logged.append)
    body = ticket("2026-11-17T10:00")
    head = (f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n").encode()
    try:
        before = threads_serving()
        if part == "headers":  # each byte within the idle time-out: only the request's own time stops it
            answer, took = trickle(port, b"", head + b"X-Padding: " + b"a" * 200 + b"\r\n\r\n")
        else:
            answer, took = trickle(port, head + b"\r\n", body)
        assert answer.startswith(b"HTTP/1.0 408 "), answer
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1]) == {"error": "the request was not received within 2 s"}
        assert took < 5
        deadline = time.monotonic() + 5
        while threads_serving() > before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert threads_serving() == before
        assert logged[-1] == "helpdesk webhook: refused 408 from 127.0.0.1: the request was not received within 2 s"
        # the server still answers the next client at once
        assert httpx.post(f"http://127.0.0.1:{port}{PATH}", content=body, timeout=10).status_code == 401
    finally:
        server.shutdown()
        server.server_close()


def test_the_webhook_bounds_the_body_before_reading_it():
    logged: list[str] = []
    port = free_port()
    server = serve_helpdesk("127.0.0.1", port, SECRET, max_bytes=1000, report=logged.append)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            raw.sendall(f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000000\r\n\r\n".encode())
            answer = raw.recv(4096)
        assert answer.split()[1] == b"413"
        assert logged == ["helpdesk webhook: refused 413 from 127.0.0.1: 2,000,000,000 bytes, more than the 1,000 a "
                          "request may have"]
    finally:
        server.shutdown()
        server.server_close()


def test_the_downloads_answer_a_trickling_client_408_within_its_time(tmp_path, monkeypatch):
    from lifecycle.downloads import serve_exports
    from lifecycle.http_limits import BoundedHandler
    from tests.support.sqlite_ledger import sqlite_ledger

    monkeypatch.setattr(BoundedHandler, "read_seconds", 2.0)
    port = free_port()
    # the listing reads the ledger's exports: a migrated ledger of the test's own, none exported yet
    server = serve_exports(tmp_path / "objects", "127.0.0.1", port, sqlite_ledger(tmp_path, monkeypatch, "2026-11-20"))
    try:
        answer, took = trickle(port, b"GET /exports/ HTTP/1.1\r\n", b"Host: x\r\nX-Padding: " + b"a" * 200 + b"\r\n\r\n")
        assert answer.startswith(b"HTTP/1.0 408 ") and took < 5
        assert httpx.get(f"http://127.0.0.1:{port}/exports/", timeout=10).status_code == 200
    finally:
        server.shutdown()
        server.server_close()


# --- what a request may not leave to the reader's guess: a key or a header twice, a value of the wrong kind --


def raw_post(port: int, head_lines: list[str], body: bytes) -> tuple[int, dict]:
    """POST with exactly these header lines (httpx would merge or refuse some), over a raw socket."""
    request = "".join(f"{line}\r\n" for line in [f"POST {PATH} HTTP/1.1", "Host: x", *head_lines]) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
        raw.sendall(request.encode() + body)
        answer = b""
        while chunk := raw.recv(4096):
            answer += chunk
    head, _, data = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(data)


def test_a_key_twice_in_one_object_is_refused_naming_it_never_last_wins(webhook, ledger):
    url, logged = webhook
    body = (b'{"ticket_id": "W1", "ticket_id": "HD-1", "customer_id": "ACME", "received_at": "2026-11-17T09:30", '
            b'"type": "bug"}')
    answer = post(url, body, headers(SECRET, body))
    assert answer.status_code == 400
    assert answer.json() == {"error": "the key 'ticket_id' appears 2 times in one object: send it once"}
    assert logged == [f"helpdesk webhook: refused 400 from 127.0.0.1: {answer.json()['error']}"]
    with session_scope(ledger) as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_a_header_twice_or_a_transfer_encoding_is_a_400_and_nothing_is_written(webhook, ledger):
    url, logged = webhook
    port = int(url.split(":")[2].split("/")[0])
    body = ticket("2026-11-17T10:00")
    signed = headers(SECRET, body)
    stamp, signature_t = signed["X-Lifecycle-Timestamp"], signed["X-Lifecycle-Signature-T"]
    base = ["Content-Type: application/json", f"X-Lifecycle-Signature-T: {signature_t}"]
    cases = {
        "the header Content-Length is given 2 times: send it once":
            [*base, f"X-Lifecycle-Timestamp: {stamp}", f"Content-Length: {len(body)}", f"Content-Length: {len(body) - 1}"],
        "Transfer-Encoding is not taken: send the body whole, with its Content-Length":
            [*base, f"X-Lifecycle-Timestamp: {stamp}", "Transfer-Encoding: chunked", f"Content-Length: {len(body)}"],
        "the header X-Lifecycle-Timestamp is given 2 times: send it once":
            [*base, f"X-Lifecycle-Timestamp: {stamp}", f"X-Lifecycle-Timestamp: {int(stamp) + 1}",
             f"Content-Length: {len(body)}"],
    }
    for reason, lines in cases.items():
        assert raw_post(port, lines, body) == (400, {"error": reason})
    assert len(logged) == 3
    with session_scope(ledger) as session:
        assert session.get(Ticket, "HD-1") is None
    # the same request, each header once: taken
    assert raw_post(port, [*base, f"X-Lifecycle-Timestamp: {stamp}", f"Content-Length: {len(body)}"], body)[0] == 200


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("credentials", '{"a": 1}', "a JSON object is no value of a column: send text, a number, true/false or null"),
    ("credentials", '["a"]', "a JSON list is no value of a column: send text, a number, true/false or null"),
    ("level", "1.0", "not a whole number: '1.0'"),
    ("level", "1e0", "not a whole number: '1e0'"),
    ("level", "+1", None),  # not JSON at all
    ("level", "9" * 5001, "must be at most 2, not 99999999999999999999… (5,001 digits)"),
    ("level", "true", "a yes/no value (true) where this column takes none: give its value as text or a number"),
    ("credentials", "true", "a yes/no value (true) where this column takes none: give its value as text or a number"),
    ("severity", "false", "a yes/no value (false) where this column takes none: give its value as text or a number"),
    ("customization_delivered_on", "false", "a yes/no value (false) where this column takes none: give its value as text or a number"),
    ("credentials", '"\\u0301\\u0301"', "shows nothing: it holds only marks with no character to carry them (U+0301 "
                                      "COMBINING ACUTE ACCENT): type the text itself"),
    ("first_response_at", "true", "a yes/no value (true) where this column takes none: give its value as text or a number"),
])
def test_a_value_is_read_as_the_tickets_file_reads_its_cell(webhook, ledger, field, value, reason):
    url, _ = webhook
    body = ('{"ticket_id": "HD-1", "customer_id": "ACME", "received_at": "2026-11-17T09:30", "type": "bug", '
            f'"{field}": {value}}}').encode()
    answer = post(url, body, headers(SECRET, body))
    if reason is None:
        assert answer.status_code == 400 and answer.json()["error"].startswith("not JSON: ")
    else:
        assert answer.status_code == 422, answer.text
        assert answer.json() == {"errors": [f"helpdesk:2:{field}: {reason}"]}
    assert "sys.set_int_max_str_digits" not in answer.text
    with session_scope(ledger) as session:
        assert session.get(Ticket, "HD-1") is None


def test_a_json_boolean_is_no_id(webhook, ledger):
    """`"ticket_id": true` once created a ticket `True`: a yes/no value is refused in every column not yes/no."""
    url, _ = webhook
    body = b'{"ticket_id": true, "customer_id": false, "received_at": "2026-11-17T09:30", "type": "bug"}'
    answer = post(url, body, headers(SECRET, body))
    refusal = "a yes/no value ({}) where this column takes none: give its value as text or a number"
    assert (answer.status_code, answer.json()) == (422, {"errors": [f"helpdesk:2:ticket_id: {refusal.format('true')}",
                                                                    f"helpdesk:2:customer_id: {refusal.format('false')}"]})
    with session_scope(ledger) as session:
        assert session.get(Ticket, "True") is None


def test_nan_or_infinity_is_not_json(webhook, ledger):
    url, _ = webhook
    for constant in ("NaN", "Infinity", "-Infinity"):
        body = ('{"ticket_id": "HD-1", "customer_id": "ACME", "received_at": "2026-11-17T09:30", "type": "bug", '
                f'"level": {constant}}}').encode()
        answer = post(url, body, headers(SECRET, body))
        assert answer.status_code == 400 and answer.json() == {"error": f"not JSON: {constant} is not a JSON number"}


TICKET = '"customer_id": "ACME", "received_at": "2026-11-17T09:30", "type": "bug"'


@pytest.mark.parametrize(("body", "error"), [
    (('{"ticket_id": "HD-\\ud800", ' + TICKET + '}').encode(),
     "helpdesk:2:ticket_id: is not valid UTF-8 (the U+D800 at character 4): send the text in UTF-8"),
    (('[{"ticket_id": "HD-1", ' + TICKET + '}, {"ticket_id": "HD-2", "engineer": "\\udfff", ' + TICKET + '}]').encode(),
     "helpdesk:3:engineer: is not valid UTF-8 (the U+DFFF at character 1): send the text in UTF-8"),
    (b'{"ticket_id": "HD-\xff", ' + TICKET.encode() + b'}',
     "helpdesk:2:ticket_id: is not valid UTF-8 (the byte \\xff at character 4): send the text in UTF-8"),
    (('{"ticket_id": "HD-1", "\\ud800x": "1", ' + TICKET + '}').encode(),
     "helpdesk:2:'\\ud800x': the field's name is not valid UTF-8 (the U+D800 at character 1): send the text in UTF-8"),
    (('{"tickets": [{"ticket_id": "HD-1", ' + TICKET + '}], "events": [{"ticket_id": "HD-1", "at": '
      '"2026-11-17T10:00", "status": "\\ud83d"}]}').encode(),
     "helpdesk-events:2:status: is not valid UTF-8 (the U+D83D at character 1): send the text in UTF-8"),
])
def test_text_that_is_not_utf8_is_a_400_naming_its_row_and_field(webhook, ledger, body, error):
    """A surrogate escaped alone in the JSON, or bytes that are not UTF-8: one line at its row and field, as
    any invalid text, never a codec's words; logged once; nothing is written."""
    url, logged = webhook
    answer = post(url, body, headers(SECRET, body))
    assert answer.status_code == 400 and answer.json() == {"error": error}
    assert "codec" not in answer.text
    assert logged == [f"helpdesk webhook: refused 400 from 127.0.0.1: {error}"]
    with session_scope(ledger) as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 0


@pytest.mark.parametrize(("body", "error"), [
    ({"events": [{"ticket_id": "HD-1", "at": "2026-11-17T10:00", "status": "open"}], "evnts": []},
     "unknown key 'evnts' beside \"tickets\"/\"events\": send {\"tickets\": [...], \"events\": [...]} (either or "
     "both) and nothing else"),
    ({"tickets": [], "foo": 1, "bar": None},
     "unknown keys 'foo', 'bar' beside \"tickets\"/\"events\": send {\"tickets\": [...], \"events\": [...]} (either "
     "or both) and nothing else"),
])
def test_a_key_beside_tickets_or_events_is_refused_naming_it(webhook, ledger, body, error):
    url, logged = webhook
    data = json.dumps(body).encode()
    answer = post(url, data, headers(SECRET, data))
    assert answer.status_code == 400 and answer.json() == {"error": error}
    assert logged == [f"helpdesk webhook: refused 400 from 127.0.0.1: {error}"]
    with session_scope(ledger) as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 0
    # the single-ticket form, a plain ticket object, is still taken
    single = json.dumps({"ticket_id": "HD-1", "customer_id": "ACME", "received_at": "2026-11-17T09:30",
                         "type": "bug"}).encode()
    assert post(url, single, headers(SECRET, single)).json()["inserted"] == 1
