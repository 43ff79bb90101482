"""Bounds of the HTTP endpoints the product serves (the helpdesk webhook, the downloads): a request is read
within `read_seconds` from its first byte to its last, whatever pace the client keeps.

A per-operation socket time-out alone lets a client that sends one byte every few seconds (headers or
body: "slowloris") keep a server thread for ever; here every read gets only what is left of the
request's time, and a request not read in time is answered `408` in one line and its connection closed.
"""

from __future__ import annotations

import io
import json
import socket
import time
from http.server import BaseHTTPRequestHandler


class TooSlow(TimeoutError):
    """The client did not send its request within the time a request may take."""


class _DeadlineReader(io.RawIOBase):
    """The socket's bytes, each read bounded by what is left of the request's time."""

    def __init__(self, connection: socket.socket, handler: "BoundedHandler"):
        self.connection, self.handler = connection, handler

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        left = self.handler.deadline - time.monotonic()
        if left <= 0:
            raise TooSlow(f"the request was not received within {self.handler.read_seconds:g} s")
        self.connection.settimeout(min(left, self.handler.timeout))
        try:
            return self.connection.recv_into(buffer)
        except TimeoutError:
            if self.handler.deadline - time.monotonic() <= 0.05:
                raise TooSlow(f"the request was not received within {self.handler.read_seconds:g} s") from None
            raise TooSlow(f"the client sent nothing for {self.handler.timeout:g} s") from None
        finally:
            self.connection.settimeout(self.handler.timeout)  # writing the answer keeps its own time-out


class BoundedHandler(BaseHTTPRequestHandler):
    """A request handler whose request (line, headers, body) must arrive within `read_seconds`."""

    #: seconds the whole request may take to arrive
    read_seconds: float = 30.0
    #: seconds a connection may stay silent (and a write may take)
    timeout = 10

    def setup(self) -> None:
        super().setup()
        self.deadline = time.monotonic() + self.read_seconds
        self.answered = False
        self._too_slow = None
        self.rfile.close()
        self.rfile = io.BufferedReader(_DeadlineReader(self.connection, self))

    def send_response(self, code, message=None) -> None:
        self.answered = True
        super().send_response(code, message)

    def handle_one_request(self) -> None:
        super().handle_one_request()
        if self._too_slow is not None and not self.answered:
            self.too_slow(self._too_slow)

    def log_error(self, format: str, *args) -> None:
        # http.server catches a time-out of any read (request line, headers, a body read by a handler) and
        # logs it: keep it, to answer it once the handler is done
        if args and isinstance(args[-1], TimeoutError):
            self._too_slow = args[-1]
            self.close_connection = True

    def too_slow(self, error: BaseException) -> None:
        """Answer 408 with the reason in one line (when the client still listens) and close."""
        self.close_connection = True
        self.refused(408, str(error) if isinstance(error, TooSlow) else "the request was not received in time")
        body = json.dumps({"error": str(error)}).encode()
        try:
            self.wfile.write(b"HTTP/1.0 408 Request Timeout\r\nContent-Type: application/json\r\n"
                             b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            self.wfile.flush()
        except OSError:
            pass
        self.answered = True

    def refused(self, status: int, reason: str) -> None:
        """Say once that a request was refused (the endpoints log it their way)."""
