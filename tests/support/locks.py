"""Seeing a transaction wait for another, instead of guessing from a sleep.

On PostgreSQL a backend of the test's database is seen waiting on a lock (`pg_stat_activity`). On
SQLite a writer waits inside `BEGIN IMMEDIATE` while another holds the write lock: the waiting
thread is seen stopped in that statement (its Python stack), and a probe that will not wait finds
the lock held.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
import time

from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url


def run_in_thread(target) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def in_thread(target, *args, **kwargs) -> tuple[threading.Thread, dict]:
    """Run `target(*args, **kwargs)` in a thread; returns (thread, box): the box gets its "result" or its
    "error" (the exception), and "ended" (time.monotonic() when it returned), for a test to judge."""
    box: dict = {}

    def run():
        try:
            box["result"] = target(*args, **kwargs)
        except BaseException as error:  # noqa: BLE001 - handed to the test
            box["error"] = error
        box["ended"] = time.monotonic()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, box


def joined(thread: threading.Thread, timeout: float = 120) -> None:
    """Wait for the thread, and fail if it is still running: a hung thread is a failure, not a pass."""
    thread.join(timeout)
    assert not thread.is_alive(), f"the thread {thread.name} was still running after {timeout} s"


class WaitWatch:
    """Records how the second transaction of a race reaches the database, to prove it waits."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.begun = threading.Event()
        self.thread_id: int | None = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def enter(self, session) -> None:
        """Called by the waiting side, in its thread, just before the work that must wait."""
        self.thread_id = threading.get_ident()
        self.begun.set()

    def _blocked_in_begin(self) -> bool:
        frame = sys._current_frames().get(self.thread_id)
        while frame is not None:
            if frame.f_code.co_name == "_on_begin":  # lifecycle_config.databases: BEGIN IMMEDIATE
                return True
            frame = frame.f_back
        return False

    def assert_waiting(self, holder_session, timeout: float = 30) -> None:
        """The second transaction is blocked by the first (which `holder_session` keeps open)."""
        assert self.begun.wait(timeout), "the second transaction never started"
        deadline = time.monotonic() + timeout
        if self.engine.dialect.name == "postgresql":
            with self.engine.connect() as observer:
                while time.monotonic() < deadline:
                    waiting = observer.execute(text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock'")).scalar()
                    # pg_stat_activity is a snapshot held for the whole transaction: end it, or every later
                    # look sees the first one (CI failed here when the first look came before the wait began)
                    observer.rollback()
                    if waiting:
                        return
                    time.sleep(0.05)
            raise AssertionError("the second transaction never waited for a lock")
        while not self._blocked_in_begin():
            assert time.monotonic() < deadline, "the second transaction never waited in BEGIN IMMEDIATE"
            time.sleep(0.05)
        path = make_url(str(self.engine.url)).database
        probe = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            assert "locked" in str(error)
        else:
            probe.execute("ROLLBACK")
            raise AssertionError("nobody holds the write lock: the second transaction did not have to wait")
        finally:
            probe.close()
