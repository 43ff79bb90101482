"""A fake approved e-invoicing platform (PA) on loopback: what lies outside the product, as a real HTTP server.

It speaks the API this product speaks (blocks/einvoicing.py): `POST /v1/flows` (multipart `flowInfo` + `file`,
Bearer token), 201 with a new flowId, 409 with the known flowId for a tracking id it already has; `GET
/v1/flows/{flowId}` with the flow's statuses. A test scripts its behaviour: `reject(tracking_id, reason)` gives a
deposit 213 Rejetée, `add_status(...)` any status later, `refuse_deposits` answers 400, `fail_next(n)` answers
503 n times, `drop_next(n)` closes the connection without answering; `lie(tracking_id, status, body)` answers
that tracking id's deposit with this raw answer (a str body is sent as HTML) after storing the flow as usual, or
without storing it (`store=False`): a platform that lies. `delay` seconds spent on each deposit (a slow
platform), `fail_always` tracking ids answered 503 each time they come. Every flow received is kept (`flows`), with
its file, and written to `log_path` as JSON lines when one is given: the platform's log of flows a user reads;
`posted` lists the tracking id of every deposit asked (a document sent twice appears twice), `most_at_once` the
most deposits it was answering at the same moment.
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.support.ports import free_port, serve_in_thread


@dataclass
class ReceivedFlow:
    flow_id: str
    tracking_id: str
    name: str
    syntax: str
    processing_rule: str
    content: bytes
    received_at: datetime
    statuses: list[dict] = field(default_factory=list)


class FakePlatform:
    def __init__(self, token: str = "pa-token", log_path: Path | None = None):
        self.token = token
        self.log_path = log_path
        self.flows: dict[str, ReceivedFlow] = {}          # by flowId
        self.by_tracking: dict[str, str] = {}             # trackingId -> flowId
        self.rejections: dict[str, str] = {}              # trackingId -> reason: 213 on deposit
        self.refuse_deposits: str | None = None           # a reason: every deposit answered 400
        self._fail, self._drop = 0, 0
        self.lies: dict[str, tuple[int, object, bool]] = {}   # trackingId -> (status, body, store the flow)
        self.status_lies: dict[str, tuple[int, object]] = {}  # flowId -> (status, body) answered to its GET
        self.requests: list[tuple[str, str]] = []         # (method, path) of every request, in order
        self.delay = 0.0                                  # seconds each deposit takes: a slow platform
        self.fail_always: set[str] = set()                # trackingIds answered 503 every time
        self.posted: list[str] = []                       # the trackingId of every deposit asked, in order
        self.most_at_once = 0                             # the most deposits answered at the same moment
        self._at_once = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.url = ""

    # --- scripting --------------------------------------------------------------------------------------
    def reject(self, tracking_id: str, reason: str) -> None:
        self.rejections[tracking_id] = reason

    def lie(self, tracking_id: str, status: int, body, *, store: bool = True) -> None:
        self.lies[tracking_id] = (status, body, store)

    def fail_next(self, count: int) -> None:
        self._fail = count

    def drop_next(self, count: int) -> None:
        self._drop = count

    def add_status(self, tracking_id: str, code: int, label: str, *, at: datetime | None = None,
                   reason: str | None = None) -> dict:
        with self._lock:
            flow = self.flows[self.by_tracking[tracking_id]]
            status = {"code": code, "label": label, "at": (at or datetime.now(timezone.utc)).isoformat()}
            if reason:
                status["reason"] = reason
            flow.statuses.append(status)
            return status

    def flow(self, tracking_id: str) -> ReceivedFlow:
        return self.flows[self.by_tracking[tracking_id]]

    def deposits(self, syntax: str | None = None) -> list[ReceivedFlow]:
        return [flow for flow in self.flows.values() if syntax is None or flow.syntax == syntax]

    # --- serving ----------------------------------------------------------------------------------------
    def _deposit(self, info: dict, name: str, content: bytes, truthful: bool = False) -> tuple[int, dict]:
        tracking = str(info.get("trackingId") or "")
        if not tracking:
            return 400, {"reason": "trackingId is missing"}
        if not truthful:
            with self._lock:
                self.posted.append(tracking)
            if tracking in self.fail_always:
                return 503, {"reason": "this flow cannot be taken now"}
        if tracking in self.lies and not truthful:
            status, body, store = self.lies[tracking]
            if store and tracking not in self.by_tracking:
                self._deposit(info, name, content, truthful=True)
            return status, body
        with self._lock:
            if tracking in self.by_tracking:
                return 409, {"flowId": self.by_tracking[tracking], "reason": "trackingId already deposited"}
            if self.refuse_deposits:
                return 400, {"reason": self.refuse_deposits}
            flow_id = f"F{next(self._ids):06d}"
            now = datetime.now(timezone.utc)
            flow = ReceivedFlow(flow_id, tracking, str(info.get("name") or name), str(info.get("flowSyntax")),
                                str(info.get("processingRule")), content, now,
                                [{"code": 200, "label": "Déposée", "at": now.isoformat()}])
            if tracking in self.rejections:
                flow.statuses.append({"code": 213, "label": "Rejetée", "at": now.isoformat(),
                                      "reason": self.rejections[tracking]})
            self.flows[flow_id] = flow
            self.by_tracking[tracking] = flow_id
            if self.log_path:
                with self.log_path.open("a", encoding="utf-8") as log:
                    log.write(json.dumps({"at": now.isoformat(), "flowId": flow_id, "trackingId": tracking,
                                          "name": flow.name, "flowSyntax": flow.syntax,
                                          "processingRule": flow.processing_rule, "bytes": len(content)}) + "\n")
            return 201, {"flowId": flow_id}

    @contextmanager
    def running(self):
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status: int, body) -> None:
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html" if isinstance(body, str) else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _gate(self) -> bool:
                platform.requests.append((self.command, self.path))
                with platform._lock:
                    if platform._drop:
                        platform._drop -= 1
                        self.close_connection = True
                        self.connection.close()
                        return False
                    if platform._fail:
                        platform._fail -= 1
                        self._answer(503, {"reason": "maintenance"})
                        return False
                if self.headers.get("Authorization") != f"Bearer {platform.token}":
                    self._answer(401, {"reason": "bad token"})
                    return False
                return True

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if not self._gate():
                    return
                if self.path != "/v1/flows":
                    return self._answer(404, {"reason": "no such endpoint"})
                message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                    b"Content-Type: " + self.headers.get("Content-Type", "").encode() + b"\r\n\r\n" + body)
                parts = {part.get_param("name", header="content-disposition"): part
                         for part in message.iter_parts()} if message.is_multipart() else {}
                if "flowInfo" not in parts or "file" not in parts:
                    return self._answer(400, {"reason": "multipart flowInfo and file are required"})
                try:
                    info = json.loads(parts["flowInfo"].get_payload(decode=True))
                except ValueError:
                    return self._answer(400, {"reason": "flowInfo is not JSON"})
                with platform._lock:
                    platform._at_once += 1
                    platform.most_at_once = max(platform.most_at_once, platform._at_once)
                try:
                    if platform.delay:
                        time.sleep(platform.delay)
                    status, answer = platform._deposit(info, parts["file"].get_filename() or "",
                                                       parts["file"].get_payload(decode=True) or b"")
                finally:
                    with platform._lock:
                        platform._at_once -= 1
                self._answer(status, answer)

            def do_GET(self):
                if not self._gate():
                    return
                flow_id = self.path.removeprefix("/v1/flows/")
                if flow_id in platform.status_lies:
                    return self._answer(*platform.status_lies[flow_id])
                flow = platform.flows.get(flow_id)
                if not self.path.startswith("/v1/flows/") or flow is None:
                    return self._answer(404, {"reason": "no such flow"})
                self._answer(200, {"flowId": flow.flow_id, "trackingId": flow.tracking_id,
                                   "statuses": list(flow.statuses)})

        server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        serve_in_thread(server)
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()


@contextmanager
def hanging_platform():
    """A platform that accepts connections and never answers (a socket on loopback that reads nothing and says
    nothing): yields (its URL, the list of connections it accepted)."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            accepted.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        listener.close()
