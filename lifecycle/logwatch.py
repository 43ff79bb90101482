"""What the Prefect server logs as an error reaches the terminal of `lifecycle up`, not only server.log.

Last wave's scheduler failed on every loop for days with the error only in server.log. The watcher
follows the log from where this start began and echoes each ERROR or CRITICAL line with the last
line of its traceback (the exception itself); a message that repeats is shown again at most once
a minute, with how many times it came meanwhile.

One error is Prefect's own known noise on SQLite (PrefectHQ/prefect#18934): a server service finds
its database busy and tries again (an event consumer puts the event back, a heartbeat comes
again). It is shown as such, not as a failure.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

LEVEL = re.compile(r"\|\s*(ERROR|CRITICAL)\s*\|\s*(?P<logger>[\w.]+)\s*-\s*(?P<message>.*)")
QUIET_SECONDS = 60.0
#: lines that continue an exception: the next one in its chain, a database error's statement
CHAIN = ("The above exception", "During handling", "[SQL:", "[parameters:", "(Background on this error")
RETRIED_LOCK = ("note: SQLite was busy and Prefect will try again (known SQLite contention of the embedded "
                "server, harmless; PostgreSQL has none: see README)")


CLIENT_LEFT = ("note: a client (a worker, a browser tab) closed its event stream while the server answered it "
               "(Starlette logs the disconnect as an error; nothing is lost)")


def _client_left(error: str, exception: str) -> bool:
    """A websocket client of the server (the worker's event and log streams, the UI) went away, typically as
    `lifecycle up` stops: uvicorn logs "Exception in ASGI application" with Starlette's WebSocketDisconnect,
    though the ASGI spec asks servers not to log a client's disconnect as an error (django/asgiref#431)."""
    return error.startswith("uvicorn.error") and exception.startswith("starlette.websockets.WebSocketDisconnect")


def _retried_lock(error: str, exception: str) -> bool:
    """Prefect's server found its own SQLite database busy: its event consumers put the event back and
    its heartbeats come again, a state change it could not validate is answered 503, which Prefect's
    clients try again, and its background tasks (`docket`, e.g. marking work queues ready from the
    workers' polls) run again: nothing is lost (PrefectHQ/prefect#18934)."""
    return error.startswith(("prefect.server.", "prefect.server:", "docket.")) and "database is locked" in exception


class ErrorLines:
    """Turns log lines into the error lines worth showing (pure: fed line by line, no I/O).

    An error is an ERROR/CRITICAL line with the traceback that may follow it, chained exceptions
    included; it is told once it is complete: when an unrelated line comes, or the log stays quiet."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.error: str | None = None       # the ERROR line of the record being read
        self.exceptions: list[str] = []     # the exception line of each traceback in its chain
        self.mode = "idle"                  # idle | traceback | after (an exception line was read)
        self.since = 0.0
        self.last_shown: dict[str, float] = {}
        self.repeats: dict[str, int] = {}

    def feed(self, line: str) -> list[str]:
        line = line.rstrip("\n")
        if line.startswith("Traceback (most recent call last)"):
            self.mode, self.since = "traceback", self.clock()
            return []
        if self.mode == "traceback":
            if line.strip() and not line[:1].isspace():
                self.exceptions.append(line.strip())
                self.mode = "after"
            return []
        if self.mode == "after" and (not line.strip() or line.startswith(CHAIN)):
            return []   # chained exceptions, or the SQL and parameters of a database error
        shown = self._finish()
        match = LEVEL.search(line)
        if match:
            self.error, self.since = f"{match['logger']}: {match['message'].strip()}", self.clock()
        return shown

    def flush(self, after: float = 2.0) -> list[str]:
        """The record held for `after` seconds with nothing more behind it (the log went quiet)."""
        if self.mode == "traceback" or self.clock() - self.since < after:
            return []
        return self._finish()

    def _finish(self) -> list[str]:
        error, exceptions = self.error, self.exceptions
        self.error, self.exceptions, self.mode = None, [], "idle"
        if error and _retried_lock(error, " ".join(exceptions)):
            return self._show(RETRIED_LOCK)
        if error and exceptions and _client_left(error, exceptions[-1]):
            return self._show(CLIENT_LEFT)
        return (self._show(error) if error else []) + (self._show(exceptions[-1]) if exceptions else [])

    def _show(self, message: str) -> list[str]:
        now = self.clock()
        last = self.last_shown.get(message)
        if last is not None and now - last < QUIET_SECONDS:
            self.repeats[message] = self.repeats.get(message, 0) + 1
            return []
        self.last_shown[message] = now
        again = self.repeats.pop(message, 0)
        return [message + (f" (and {again} more time(s) since)" if again else "")]


class LogWatcher(threading.Thread):
    """Follows `path` from byte `offset` and passes each error line to `echo`, prefixed by `label`."""

    def __init__(self, path: Path, offset: int, echo, label: str = "server"):
        super().__init__(daemon=True, name=f"watch-{label}-log")
        self.path, self.offset, self.echo, self.label = path, offset, echo, label
        self.errors = ErrorLines()
        self.seen: list[str] = []
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set() and not self.path.exists():
            time.sleep(0.5)
        with self.path.open("r", encoding="utf-8", errors="replace") as handle:
            handle.seek(self.offset)
            partial = ""
            while not self._stopping.is_set():
                line = partial + handle.readline()
                if not line.endswith("\n"):  # nothing new, or a line still being written
                    partial = line
                    self._tell(self.errors.flush() if not line else [])
                    time.sleep(0.5)
                    continue
                partial = ""
                self._tell(self.errors.feed(line))

    def _tell(self, messages: list[str]) -> None:
        for message in messages:
            self.seen.append(message)
            self.echo(f"{self.label}: {message}" if message.startswith("note:") else f"{self.label} error: {message}")

    def stop(self) -> None:
        self._stopping.set()
