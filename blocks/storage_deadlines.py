"""Deadlines of the transfers with an S3 store, and the cut that ends a transfer stuck in a socket read.

botocore's read timeout is per read: an answer trickled a byte at a time never times out, and a restore hung on
one for ever, silent. Each call that reaches the store (an upload, a download and the reading of its body, a
listing, a HEAD) is watched: it may take the floor (LIFECYCLE_STORAGE_FLOOR_SECONDS, 120 s) plus one second per
LIFECYCLE_STORAGE_MIN_KB_PER_SECOND (32 KB) of the object's size. Past that, the watch cuts the store's sockets
(a shutdown wakes a thread blocked in a read, a TLS one too) and the caller raises TooSlow: one line naming the
store, the object and what moved. A slow but steady link (32 KB/s and more) always finishes.

A Ctrl-C in a transfer cuts the sockets too: the upload's worker threads (s3transfer's, not daemons) were left
blocked in their reads and held the process after the interrupt.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import weakref
from contextlib import contextmanager
from contextvars import ContextVar

FLOOR_SECONDS = 120
MIN_KB_PER_SECOND = 32
#: how often a long transfer (a backup's objects, a workbook's upload) says how far it is, at most
PROGRESS_SECONDS = 30.0


def _positive(variable: str, default: float) -> float:
    """A variable's positive number, or its default when unset; anything else is refused in one line."""
    from lifecycle_config import Misconfigured, escaped

    given = os.environ.get(variable)
    if not given:
        return default
    try:
        value = float(given)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise Misconfigured(f"{variable}={escaped(given)} is not a positive number: unset it (the default is "
                            f"{default:g}) or give one")
    return value


def floor_seconds() -> float:
    return _positive("LIFECYCLE_STORAGE_FLOOR_SECONDS", FLOOR_SECONDS)


def min_bytes_per_second() -> float:
    return _positive("LIFECYCLE_STORAGE_MIN_KB_PER_SECOND", MIN_KB_PER_SECOND) * 1024


def amount(size: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}".replace(".0 ", " ")
    return f"{size} bytes"


class Sockets:
    """The sockets of one store's client, to cut them all when a transfer runs out of time or is interrupted;
    while `refusing`, a new connection fails at once (botocore's retry would otherwise start the wait again)."""

    def __init__(self):
        self._open = weakref.WeakSet()
        self._lock = threading.Lock()
        self.refusing = 0
        self.interrupted = False

    def opened(self, sock) -> None:
        if self.refusing or self.interrupted:
            sock.close()
            raise ConnectionAbortedError("the transfer was interrupted" if self.interrupted
                                         else "the transfer ran out of time")
        with self._lock:
            self._open.add(sock)

    def interrupt(self) -> None:
        """A Ctrl-C: cut every socket, and refuse new ones for good (botocore's retry, or a worker thread's next
        part, would otherwise open another connection and wait again)."""
        self.interrupted = True
        self.cut()

    def cut(self) -> None:
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except (OSError, ValueError):  # closed already, or detached into its TLS socket (cut as that one)
                pass

    def watch(self, client) -> None:
        """Make `client`'s connections register here: its http session's pool classes, subclassed with a
        connection that reports each socket it opens (botocore has no hook for it)."""
        from botocore.awsrequest import (AWSHTTPConnection, AWSHTTPConnectionPool, AWSHTTPSConnection,
                                         AWSHTTPSConnectionPool)

        sockets = self

        def reporting(base):
            class Reporting(base):
                def _new_conn(self):
                    sock = super()._new_conn()
                    sockets.opened(sock)
                    return sock

                def connect(self):
                    super().connect()
                    sockets.opened(self.sock)

                def _consume_headers(self, fp):
                    """The lines after a `100 Continue`, up to the blank one, as botocore reads them; but an end of
                    the stream ends the wait: botocore's loop reads "" for ever once the connection is closed (a store
                    that gives up mid-answer, or the cut of a deadline), spinning a worker thread that never ends, so
                    the deadline's line came minutes late and the process never exited."""
                    while (line := fp.readline()) != b"\r\n":
                        if not line:
                            raise ConnectionAbortedError("the store closed the connection before the request's body "
                                                         "was sent")
            return Reporting

        class Plain(AWSHTTPConnectionPool):
            ConnectionCls = reporting(AWSHTTPConnection)

        class Tls(AWSHTTPSConnectionPool):
            ConnectionCls = reporting(AWSHTTPSConnection)

        session = client._endpoint.http_session
        session._pool_classes_by_scheme = {"http": Plain, "https": Tls}
        session._manager.pool_classes_by_scheme = session._pool_classes_by_scheme


class Progress:
    """What a piece of work (one customer's backup, a workbook) has moved to the store over all its calls, said at
    most every PROGRESS_SECONDS while they run: a slow store within each call's deadline made a one-customer backup
    take 5.5 min with no line said. A work done sooner says nothing."""

    def __init__(self, label: str, total: int | None, say, every: float):
        self.label, self.total, self.say, self.every = label, total, say, every
        self.done, self.current = 0, {}
        self.last = time.monotonic()
        self._lock = threading.Lock()

    def tick(self, watch: "Watch") -> None:
        with self._lock:
            self.current[id(watch)] = watch.moved
            if time.monotonic() - self.last < self.every:
                return
            self.last = time.monotonic()
            moved = self.done + sum(self.current.values())
        of = f" of {amount(self.total)}" if self.total else ""
        try:
            self.say(f"{self.label}: {amount(moved)}{of} stored")
        except Exception:  # noqa: BLE001 - a line not said never stops the transfer
            pass

    def finish(self, watch: "Watch") -> None:
        with self._lock:
            self.current.pop(id(watch), None)
            self.done += watch.moved


_progress: ContextVar[Progress | None] = ContextVar("lifecycle_storage_progress", default=None)


def _run_logger_info():
    try:
        from prefect import get_run_logger

        return get_run_logger().info
    except Exception:  # noqa: BLE001 - outside a run: Python's logging
        import logging

        return logging.getLogger("lifecycle.storage").info


@contextmanager
def progress(label: str, total: int | None = None, say=None, every: float = PROGRESS_SECONDS):
    """The store's calls made within say where `label` stands (`customer C014: 3.2 MB of 40 MB stored`) at most every
    `every` seconds, through `say` (the run's log by default: the logger is taken here, in the run's thread)."""
    token = _progress.set(Progress(label, total, say or _run_logger_info(), every))
    try:
        yield
    finally:
        _progress.reset(token)


class Watch:
    """One transfer's deadline: the floor plus the object's size (or the bytes moved, when more) at the least
    rate; a daemon thread checks it each second and cuts the store's sockets when it passes."""

    def __init__(self, sockets: Sockets, size: int | None = None, doing: str = "moved"):
        self.sockets, self.size, self.moved, self.doing = sockets, size, 0, doing
        self.floor, self.rate = floor_seconds(), min_bytes_per_second()
        self.started = time.monotonic()
        self.expired_after: float | None = None
        self._stop, self._lock = threading.Event(), threading.Lock()
        self.progress = _progress.get()  # the work this call is part of, which says how far it is
        threading.Thread(target=self._run, name="storage-deadline", daemon=True).start()

    def deadline(self) -> float:
        return self.started + self.floor + max(self.size or 0, self.moved) / self.rate

    def _run(self) -> None:
        while not self._stop.wait(max(0.05, min(1.0, self.deadline() - time.monotonic()))):
            if self.progress is not None:
                self.progress.tick(self)
            if time.monotonic() >= self.deadline():
                with self._lock:
                    if self._stop.is_set():
                        return
                    self.expired_after = time.monotonic() - self.started
                    self.sockets.refusing += 1
                self.sockets.cut()
                return

    def stop(self) -> None:
        with self._lock:
            if not self._stop.is_set():
                self._stop.set()
                if self.expired_after is not None:
                    self.sockets.refusing -= 1
                if self.progress is not None:
                    self.progress.finish(self)

    def seen(self) -> str:
        """What moved, for the line: `answered 12 KB of 3 MB in 121 s`."""
        of = f" of {amount(self.size)}" if self.size else ""
        return f"{self.doing} {amount(self.moved)}{of} in {self.expired_after:.0f} s"
