"""The helpdesk's webhook: a helpdesk pushes its tickets as they change, signed like every webhook here.

`POST /helpdesk/tickets` with a JSON object (one ticket) or a list of them, the columns of the tickets
import (docs/reference/import-formats.md), or `{"tickets": [...], "events": [...]}` (either or both; the events
are rows of the ticket-events import, recorded after the request's tickets; their errors read
`helpdesk-events:row:column: reason`), signed with the secret of the Prefect Secret block
`helpdesk-webhook-secret` (made by `lifecycle up` when missing: copy it into the helpdesk) as
policy/signing.py says: `X-Lifecycle-Timestamp: <Unix seconds>` and `X-Lifecycle-Signature-T:
sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`. The records go through the tickets import's own
checks and write, all or nothing: 200 with what changed, 422 with one line per error
(`helpdesk:row:column: reason`, record N being row N+1). Refused, in one line (and logged once): 401 a
bad or missing signature, or a moment more than 5 minutes from the product's clock; 409 a request taken
already (the ledger keeps each taken signature while it is fresh); 400 not JSON, a key twice in one
object, nested deeper than a ticket is, text that is not UTF-8 (bytes, or a surrogate escaped alone: named by
its `helpdesk:row:field`), a key beside `tickets`/`events`, a header it reads given twice, or a Transfer-Encoding; 408 a request not received within its time; 411/413 no or too large a Content-Length. It
listens on the UI's address (loopback by default), like the downloads.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from http.server import ThreadingHTTPServer

from lifecycle.http_limits import BoundedHandler
from policy.signing import SIGNATURE, SIGNATURE_T, TIMESTAMP, Refused, body_signature, check, signed_headers

SECRET_BLOCK = "helpdesk-webhook-secret"
PATH = "/helpdesk/tickets"
#: how deep a request's JSON may nest: a list of tickets of plain values is 2; a value holding a list 3
MAX_DEPTH = 8
#: the bytes a request may have (a push carries a few tickets; a whole history goes through `lifecycle import`)
MAX_BYTES = 1_000_000
#: seconds a request may take to arrive, from its first byte to its last
READ_SECONDS = 30.0
log = logging.getLogger("lifecycle.helpdesk")


def webhook_secret() -> bytes:
    """The helpdesk's signing secret (`stored_secret`)."""
    return stored_secret(SECRET_BLOCK)


def stored_secret(block_name: str) -> bytes:
    """A webhook's signing secret, made once (a random 32-byte hex string) and kept in the Prefect Secret block
    `block_name`: the helpdesk's and the e-invoicing platform's each in its own."""
    import secrets

    from prefect.blocks.system import Secret

    try:
        return Secret.load(block_name).get().encode()
    except ValueError:
        value = secrets.token_hex(32)
        Secret(value=value).save(block_name, overwrite=False)
        return value.encode()


def signature(secret: bytes, body: bytes) -> str:
    """The body-only signature of older helpdesk set-ups (no longer enough: see `headers`)."""
    return body_signature(secret, body)


def headers(secret: bytes, body: bytes, *, at: datetime | None = None) -> dict[str, str]:
    """The headers that sign `body` for this webhook, at `at` (the product's clock by default): what a
    helpdesk, a test or a demo sends."""
    from lifecycle_config import clock

    return {"Content-Type": "application/json", **signed_headers(secret, body, int((at or clock.now()).timestamp()))}


def _depth(value) -> int:
    """How deep lists and objects nest in a parsed JSON value (without recursion)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:
                pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


class _RepeatedKey(ValueError):
    """One JSON object names a key twice: JSON readers disagree on which one counts (Python keeps the last)."""


def _object(pairs: list[tuple[str, object]]) -> dict:
    result = dict(pairs)
    if len(result) < len(pairs):
        from collections import Counter

        name, count = Counter(name for name, _ in pairs).most_common(1)[0]
        raise _RepeatedKey(f"the key {name[:100]!r} appears {count} times in one object: send it once")
    return result


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def parse(body: bytes):
    """The request's JSON, or Refused(400) in one line: not JSON (`NaN`, `Infinity` neither), a key twice in
    one object, or nested deeper than a ticket is. A number stays the text it was written as (`5`, `1.0`,
    `1e0`, 5001 digits), so that the columns read it as they read a file's cell: one rule for both."""
    try:  # bytes that are not UTF-8 are kept as lone surrogates, told by `invalid_text` at their field
        payload = json.loads(body.decode("utf-8", "surrogateescape"), object_pairs_hook=_object, parse_int=str,
                             parse_float=str, parse_constant=_no_constant)
    except RecursionError:
        raise Refused(400, f"JSON nested deeper than {MAX_DEPTH} levels: send a ticket object or a list of them") \
            from None
    except _RepeatedKey as repeated:
        raise Refused(400, str(repeated)) from None
    except (ValueError, UnicodeDecodeError) as error:
        raise Refused(400, f"not JSON: {str(error).splitlines()[0][:200]}") from None
    if _depth(payload) > MAX_DEPTH:
        raise Refused(400, f"JSON nested deeper than {MAX_DEPTH} levels: send a ticket object or a list of them")
    return payload


def receive(body: bytes, signed: Mapping[str, str], secret: bytes, *, max_bytes: int = MAX_BYTES, sealer=None,
            engine=None) -> tuple[int, dict]:
    """What the webhook answers to one request (its body and headers): (HTTP status, JSON body). Credentials
    are sealed by `sealer`, by default with the installation's key (ledger/sealing.py)."""
    from ledger.db import session_scope
    from ledger.imports import ImportRejected, import_batches
    from ledger.terms_copies import latest_terms
    from ledger.webhooks import AlreadySeen, take
    from lifecycle_config import clock

    if len(body) > max_bytes:
        return 413, {"error": f"{len(body):,} bytes, more than the {max_bytes:,} a request may have"}
    now = clock.now()
    try:
        moment = check(secret, body, signed.get(TIMESTAMP), signed.get(SIGNATURE_T), now.timestamp())
        payload = parse(body)
    except Refused as refused:
        return refused.status, {"error": str(refused)}
    try:
        batches = _batches(payload)
    except Refused as refused:
        return refused.status, {"error": str(refused)}
    if batches is None:
        return 400, {"error": "expected a ticket object, a list of them, or {\"tickets\": [...], \"events\": [...]}"}
    invalid = invalid_text(batches)
    if invalid:
        return 400, {"error": invalid}
    with session_scope(engine) as session:
        terms = latest_terms(session)
    if sealer is None:
        from ledger.sealing import sealer as installation_sealer

        sealer = installation_sealer(engine)
    taken = signed.get(SIGNATURE_T).strip()
    signed_at = datetime.fromtimestamp(moment, timezone.utc)
    try:
        results = import_batches(batches, terms=terms, engine=engine, actor="webhook:helpdesk", sealer=sealer,
                                 also=lambda session: take(session, "helpdesk", taken, signed_at, now))
    except ImportRejected as rejected:
        return 422, {"errors": rejected.errors}
    except AlreadySeen as seen:
        return 409, {"error": str(seen)}
    answer = {"inserted": 0, "updated": 0, "unchanged": 0, "notes": []}
    for result in results:
        answer = {"inserted": answer["inserted"] + result.inserted, "updated": answer["updated"] + result.updated,
                  "unchanged": answer["unchanged"] + result.unchanged, "notes": answer["notes"] + result.notes}
        if len(results) > 1 or result.kind == "ticket-events":
            answer[result.kind] = {"inserted": result.inserted, "updated": result.updated,
                                   "unchanged": result.unchanged}
    return 200, answer


def _safe(name: str) -> str:
    """A key as a line quotes it: its invalid characters escaped, at most 100 characters."""
    return "'" + name[:100].encode("utf-8", "backslashreplace").decode("utf-8") + "'"


def invalid_text(batches: list[tuple[str, str, list]]) -> str | None:
    """The first key or text of the records that no UTF-8 text holds (bytes that were not UTF-8, a surrogate
    escaped alone, `"\\ud800"`): one line naming its row and field, as an import's error names its cell
    (record N is row N + 1). None: all valid."""
    from policy.text import utf8_problem

    fix = "send the text in UTF-8"
    for _, label, records in batches:
        for number, record in enumerate(records, start=2):
            for key, value in record.items():
                problem = utf8_problem(key, fix)
                if problem:
                    return f"{label}:{number}:{_safe(key)}: the field's name {problem}"
                pending = [value]
                while pending:  # a nested value is refused at its column anyway: its text is never echoed
                    item = pending.pop()
                    if isinstance(item, dict):
                        pending.extend([*item.keys(), *item.values()])
                    elif isinstance(item, list):
                        pending.extend(item)
                    elif isinstance(item, str) and utf8_problem(item, fix):
                        return f"{label}:{number}:{key if key.isprintable() else repr(key)}: {utf8_problem(item, fix)}"
    return None


#: the keys of a request carrying tickets and events (`{"tickets": [...], "events": [...]}`)
BATCH_KEYS = ("tickets", "events")


def _batches(payload) -> list[tuple[str, str, list]] | None:
    """What a request carries, as `(kind, label, records)` in the order they are written: a ticket object or
    a list of them; or `{"tickets": [...], "events": [...]}` (either or both: the tickets first, so events may
    name a ticket of the same request). None: neither. Refused (400): an object with `tickets` or `events` and
    other keys beside them (`evnts`, a ticket's column): read as a ticket it would drop the events unsaid."""
    if isinstance(payload, dict) and set(payload) & set(BATCH_KEYS) and not set(payload) <= set(BATCH_KEYS):
        unknown = [name for name in payload if name not in BATCH_KEYS]
        shown = ", ".join(_safe(name) for name in unknown[:5]) + (f" and {len(unknown) - 5} more"
                                                                  if len(unknown) > 5 else "")
        raise Refused(400, f"unknown key{'s' if len(unknown) > 1 else ''} {shown} beside \"tickets\"/\"events\": "
                           f"send {{\"tickets\": [...], \"events\": [...]}} (either or both) and nothing else")
    if isinstance(payload, dict) and payload and set(payload) <= set(BATCH_KEYS):
        batches = [(kind, label, payload[key]) for key, kind, label in
                   (("tickets", "tickets", "helpdesk"), ("events", "ticket-events", "helpdesk-events")) if key in payload]
        if all(isinstance(records, list) and records and all(isinstance(record, dict) for record in records)
               for _, _, records in batches):
            return batches
        return None
    records = payload if isinstance(payload, list) else [payload]
    if not records or not all(isinstance(record, dict) for record in records):
        return None
    return [("tickets", "helpdesk", records)]


def serve_helpdesk(host: str, port: int, secret: bytes, *, max_bytes: int = MAX_BYTES,
                   read_seconds: float = READ_SECONDS, report: Callable[[str], None] | None = None,
                   engine=None, einvoicing_secret: bytes | None = None) -> ThreadingHTTPServer:
    """Serve the webhook on a thread; each refusal is told once to `report` (the log by default). With
    `einvoicing_secret`, the same server takes the e-invoicing platform's pushes (lifecycle/einvoicing_webhook.py)
    under the same bounds, signed with that secret."""
    from lifecycle import einvoicing_webhook

    report = report or log.warning
    paths = [PATH, *([einvoicing_webhook.PATH] if einvoicing_secret is not None else [])]

    class Handler(BoundedHandler):
        def do_POST(self):
            self.endpoint = self.path.split("?")[0]
            if self.endpoint not in paths:
                self.endpoint = PATH
                self._answer(404, {"error": f"POST {' or '.join(paths)}"})
                return
            for name in ("Content-Length", "Transfer-Encoding", TIMESTAMP, SIGNATURE_T, SIGNATURE):
                count = len(self.headers.get_all(name) or [])
                if count > 1:  # which one counts is each reader's guess (a proxy's may differ): none does
                    self._answer(400, {"error": f"the header {name} is given {count} times: send it once"})
                    return
            if self.headers.get("Transfer-Encoding") is not None:  # with a Content-Length: request smuggling
                self._answer(400, {"error": "Transfer-Encoding is not taken: send the body whole, with its "
                                            "Content-Length"})
                return
            raw = self.headers.get("Content-Length")
            if raw is None:
                self._answer(411, {"error": "Content-Length is required"})
                return
            length = int(raw) if raw.isascii() and raw.isdigit() else -1  # int() also reads other digits, spaces
            if length < 0:
                self._answer(400, {"error": "Content-Length is not a byte count"})
                return
            if length > max_bytes:
                self._answer(413, {"error": f"{length:,} bytes, more than the {max_bytes:,} a request may have"})
                return
            body = self.rfile.read(length)  # TooSlow past read_seconds: answered 408 (http_limits)
            if len(body) < length:
                self._answer(400, {"error": f"the body ended after {len(body):,} of its {length:,} bytes"})
                return
            pushes = self.endpoint == einvoicing_webhook.PATH
            try:
                if pushes:
                    status, answer = einvoicing_webhook.receive(body, self.headers, einvoicing_secret,
                                                                max_bytes=max_bytes, engine=engine)
                else:
                    status, answer = receive(body, self.headers, secret, max_bytes=max_bytes, engine=engine)
            except Exception as error:  # noqa: BLE001 - one line, never the body (it may hold credentials)
                from lifecycle_config import Misconfigured
                from lifecycle_config.conditions import is_world_condition, one_line

                # the world, or the installation's own setting (a damaged key file): its line names neither body nor
                # secret; anything else only its type
                said = is_world_condition(error) or isinstance(error, Misconfigured)
                reason = one_line(error) if said else type(error).__name__
                status, answer = 500, {"error": f"{reason}: the {'statuses' if pushes else 'tickets'} were not "
                                                f"recorded"}
            self._answer(status, answer)

        def _answer(self, status: int, answer: dict) -> None:
            if status >= 400:
                self.refused(status, answer.get("error") or f"{len(answer.get('errors', []))} error(s) in the tickets")
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)

        def refused(self, status: int, reason: str) -> None:
            which = "e-invoicing webhook" if getattr(self, "endpoint", PATH) != PATH else "helpdesk webhook"
            report(f"{which}: refused {status} from {self.client_address[0]}: {reason}")

        def log_message(self, *args):  # a request line is enough noise; bodies are never logged
            pass

    Handler.read_seconds = read_seconds
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True, name="helpdesk").start()
    return server


def start_webhook(host: str, port: int, report: Callable[[str], None] | None = None) -> list[str]:
    """Serve the webhook with the server's secret, once the installation's credentials key is usable (a key
    an older release kept in a Prefect Secret block adopted first); returns the lines that tell ops where
    it is. OSError: the port is taken; ledger.sealing.KeyUnavailable: the key file is not this ledger's."""
    from blocks.credentials import legacy_key
    from ledger.sealing import adopt, cipher

    lines = []
    old = legacy_key()
    if old is not None:
        said = adopt(old)
        if said:
            lines.append(f"  note: {said}")
    cipher()
    from lifecycle import einvoicing_webhook
    from lifecycle_config.installation import link_host

    serve_helpdesk(host, port, webhook_secret(), report=report, einvoicing_secret=einvoicing_webhook.webhook_secret())
    at = f"http://{link_host(host)}:{port}"  # listening on 0.0.0.0, the URL given to the helpdesk names the machine
    return [f"helpdesk webhook: POST {at}{PATH}, signed with the Secret block {SECRET_BLOCK} "
            f"(headers {TIMESTAMP} and {SIGNATURE_T})",
            f"e-invoicing webhook: POST {at}{einvoicing_webhook.PATH}, signed with the Secret block "
            f"{einvoicing_webhook.SECRET_BLOCK}", *lines]
