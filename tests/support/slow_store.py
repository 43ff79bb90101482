"""A slow object store: a TCP proxy on loopback in front of moto's server whose answers pass, or trickle one byte
every `every` seconds. A trickle gives up (closes the connection) after `at_most` bytes, so a client without a
deadline of its own fails at last rather than hanging the test; `sent` counts the bytes trickled, `cut_short`
the trickles that ended because the client went away before that."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager

from tests.support.ports import free_port


class SlowProxy:
    def __init__(self, target: str):
        self.target_port = int(target.rsplit(":", 1)[1])
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.every: float | None = None  # None: answers pass at once
        self.at_most = 0
        self.after = 0  # bytes of each answer that pass at once before the trickle (an answer's head, say)
        self.methods: set[bytes] | None = None  # trickle only the answers to these requests (None: every answer)
        self.sent = 0
        self.cut_short = 0
        self._open: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def trickle(self, every: float, at_most: int, after: int = 0, methods: tuple[str, ...] | None = None) -> None:
        """Answers from now on trickle: a byte each `every` s after their first `after`, the store giving up after
        `at_most`; only the answers to requests of `methods` (e.g. ("PUT", "POST"): an upload, not the reads
        before it) when given."""
        self.every, self.at_most, self.after = every, at_most, after
        self.methods = {method.encode() for method in methods} if methods else None

    def passing(self) -> None:
        self.every = None

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self._open += [client, upstream]
            asked: dict = {}  # the method of the connection's latest request
            threading.Thread(target=self._pipe, args=(client, upstream, False, asked), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True, asked), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket, answers: bool, asked: dict) -> None:
        try:
            trickled, passed = 0, 0
            while data := source.recv(65536):
                if not answers:
                    method = data.split(b" ", 1)[0]
                    if method in (b"GET", b"HEAD", b"PUT", b"POST", b"DELETE"):
                        asked["method"] = method
                if not answers or self.every is None or (self.methods and asked.get("method") not in self.methods):
                    target.sendall(data)
                    continue
                if passed < self.after:
                    target.sendall(data[:self.after - passed])
                    data, passed = data[self.after - passed:], passed + len(data[:self.after - passed])
                for byte in range(len(data)):
                    if trickled >= self.at_most:
                        return  # the store gives up
                    try:
                        target.sendall(data[byte:byte + 1])
                    except OSError:
                        self.cut_short += 1  # the client went away mid-trickle
                        return
                    trickled += 1
                    self.sent += 1
                    time.sleep(self.every)
        except OSError:
            pass
        finally:
            for end in (source, target):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._listener.close()
        for end in self._open:
            try:
                end.close()
            except OSError:
                pass


@contextmanager
def slow_proxy(target: str):
    proxy = SlowProxy(target)
    try:
        yield proxy
    finally:
        proxy.close()
