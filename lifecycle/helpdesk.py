"""The helpdesk's webhook: a helpdesk pushes its tickets as they change, signed like every webhook here.

`POST /helpdesk/tickets` with a JSON object (one ticket) or a list of them, the columns of the tickets
import (docs/reference/import-formats.md), and `X-Lifecycle-Signature: sha256=<hex HMAC-SHA256 of the body>` with the
secret of the Prefect Secret block `helpdesk-webhook-secret` (made by `lifecycle up` when missing: copy
it into the helpdesk). The records go through the tickets import's own checks and write, all or
nothing: 200 with what changed, 422 with one line per error (`helpdesk:row:column: reason`, record N
being row N+1), 401 for a bad signature, 413 past the import's byte bound. It listens on the UI's
address (loopback by default), like the downloads.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET_BLOCK = "helpdesk-webhook-secret"
PATH = "/helpdesk/tickets"


def webhook_secret() -> bytes:
    """The signing secret, made once (a random 32-byte hex string) and kept in the Prefect Secret block."""
    import secrets

    from prefect.blocks.system import Secret

    try:
        return Secret.load(SECRET_BLOCK).get().encode()
    except ValueError:
        value = secrets.token_hex(32)
        Secret(value=value).save(SECRET_BLOCK, overwrite=False)
        return value.encode()


def signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def receive(body: bytes, signed: str | None, secret: bytes, *, max_bytes: int, sealer, engine=None) -> tuple[int, dict]:
    """What the webhook answers to one request: (HTTP status, JSON body)."""
    from ledger.db import session_scope
    from ledger.imports import ImportRejected, import_records
    from ledger.terms_copies import latest_terms

    if len(body) > max_bytes:
        return 413, {"error": f"{len(body):,} bytes, more than the {max_bytes:,} an import may have"}
    if not signed or not hmac.compare_digest(signed, signature(secret, body)):
        return 401, {"error": "bad or missing X-Lifecycle-Signature (sha256=<HMAC-SHA256 of the body>)"}
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        return 400, {"error": f"not JSON: {error}"}
    records = payload if isinstance(payload, list) else [payload]
    if not records or not all(isinstance(record, dict) for record in records):
        return 400, {"error": "expected a ticket object or a list of them"}
    with session_scope(engine) as session:
        terms = latest_terms(session)
    try:
        result = import_records("tickets", records, label="helpdesk", terms=terms, engine=engine,
                                actor="webhook:helpdesk", sealer=sealer)
    except ImportRejected as rejected:
        return 422, {"errors": rejected.errors}
    return 200, {"inserted": result.inserted, "updated": result.updated, "unchanged": result.unchanged,
                 "notes": result.notes}


def serve_helpdesk(host: str, port: int, secret: bytes, *, max_bytes: int = 20_000_000) -> ThreadingHTTPServer:
    from blocks.credentials import sealer

    class Handler(BaseHTTPRequestHandler):
        timeout = 10  # seconds a connection may stay idle or trickle its body: no slow client holds a thread

        def do_POST(self):
            if self.path.split("?")[0] != PATH:
                self._answer(404, {"error": f"POST {PATH}"})
                return
            raw = self.headers.get("Content-Length")
            if raw is None:
                self._answer(411, {"error": "Content-Length is required"})
                return
            try:
                length = int(raw)
            except ValueError:
                length = -1
            if length < 0:
                self._answer(400, {"error": "Content-Length is not a byte count"})
                return
            if length > max_bytes:
                self._answer(413, {"error": f"{length:,} bytes, more than the {max_bytes:,} an import may have"})
                return
            body = self.rfile.read(length)
            try:
                status, answer = receive(body, self.headers.get("X-Lifecycle-Signature"), secret,
                                         max_bytes=max_bytes, sealer=sealer())
            except Exception as error:  # noqa: BLE001 - one line, never the body (it may hold credentials)
                status, answer = 500, {"error": f"{type(error).__name__}: the tickets were not recorded"}
            self._answer(status, answer)

        def _answer(self, status: int, answer: dict) -> None:
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):  # a request line is enough noise; bodies are never logged
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="helpdesk").start()
    return server


def start_webhook(host: str, port: int) -> str:
    """Serve the webhook with the server's secret, the key that seals ticket credentials made first (before
    the first ticket arrives); returns the line that tells ops where it is. OSError: the port is taken."""
    from blocks.credentials import cipher

    cipher()
    serve_helpdesk(host, port, webhook_secret())
    return f"helpdesk webhook: POST http://{host}:{port}{PATH}, signed with the Secret block {SECRET_BLOCK}"
