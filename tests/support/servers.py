"""Real peers on loopback for what lies outside the product: S3, the platform's webhook, SMTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lifecycle_config import clock
from policy.signing import SIGNATURE_T, TIMESTAMP, Refused, check
from tests.support.ports import free_port, serve_in_thread


@contextmanager
def s3_server():
    """moto in server mode: a real S3 protocol endpoint over HTTP."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


class Webhook:
    """The customer platform's endpoint: checks both signatures (the body's, and the timestamped one that is
    fresh and never seen before), records calls, fails on demand."""

    def __init__(self, secret: str, fail_first: int = 0, always_fail: bool = False):
        self.secret = secret.encode()
        self.fail_first = fail_first
        self.always_fail = always_fail
        self.calls: list[dict] = []
        self.rejected: list[str] = []
        self.seen: set[str] = set()
        self.attempts = 0

    @contextmanager
    def running(self):
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.attempts += 1
                expected = "sha256=" + hmac.new(hook.secret, body, hashlib.sha256).hexdigest()
                stale = None
                # the timestamped signature a receiver checks to refuse replays (policy/signing.py), fresh by the
                # product's clock (the sender's may be a `lifecycle up` whose LIFECYCLE_TODAY a test did not move)
                for now in (clock.now().timestamp(), time.time()):
                    try:
                        check(hook.secret, body, self.headers.get(TIMESTAMP), self.headers.get(SIGNATURE_T), now)
                        stale = "replayed" if self.headers[SIGNATURE_T] in hook.seen else None
                        break
                    except Refused as refused:
                        stale = str(refused)
                if not hmac.compare_digest(self.headers.get("X-Lifecycle-Signature", ""), expected):
                    hook.rejected.append("bad signature")
                    self.send_response(401)
                elif stale:
                    hook.rejected.append(stale)
                    self.send_response(401)
                elif hook.always_fail or hook.attempts <= hook.fail_first:
                    self.send_response(503)
                else:
                    hook.seen.add(self.headers[SIGNATURE_T])
                    hook.calls.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        serve_in_thread(server)
        try:
            yield f"http://127.0.0.1:{server.server_port}/lifecycle"
        finally:
            server.shutdown()
            server.server_close()


@contextmanager
def smtp_server():
    """aiosmtpd on loopback; yields (port, list of received messages)."""
    from email import message_from_bytes, policy

    from aiosmtpd.controller import Controller

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                             "message": message_from_bytes(envelope.content, policy=policy.default)})
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()
