"""Per-customer locks in the ledger: a backup, a restore and a purge of one customer never overlap.

A row in `customer_locks` is the lock; its primary key makes a second taker fail at once, and it
waits (polling) or gives up with a clear message. The row names its holder (host, process, flow run)
and beats every few seconds while held, because a holder can die without a word: after `kill -9` of a
backup the row used to stay for its whole 12-hour time-to-live and every backup, restore and purge
of that customer failed all night. A lock is taken over at once, with an audit line, when its holder
is gone: its process is dead (same host), its flow run is finished (`holder_gone`, asked of Prefect
by the caller), or it has not beaten for `stale_seconds`.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from ledger import audit
from ledger.db import now, session_scope
from ledger.models import CustomerLock
from lifecycle_config.scratch import holder_dead
from policy.refusals import Refusal

HEARTBEAT_SECONDS = 10.0
STALE_SECONDS = 180.0


class CustomerBusy(Refusal, RuntimeError):
    """Another run holds this customer (a backup, a restore, a deletion): try again once it ends."""


def why_gone(lock: CustomerLock, *, stale_seconds: float, ttl_hours: float, holder_gone=None) -> str | None:
    """Why the lock's holder is gone (so the lock may be taken over), or None while it may be alive."""
    if lock.pid and holder_dead(f"{lock.host}:{lock.pid}"):
        return f"its process {lock.pid} on {lock.host} is dead"
    beat = lock.heartbeat_at or lock.acquired_at
    if beat < now() - timedelta(seconds=stale_seconds):
        return f"it has not beaten since {beat.isoformat(timespec='seconds')}"
    if lock.acquired_at < now() - timedelta(hours=ttl_hours):
        return f"it was taken more than {ttl_hours:g} hours ago"
    # a run Prefect says is over, and whose process missed its beats too: a run marked crashed while its
    # process still lives (a lost-run automation fooled by late heartbeat events) keeps beating, and its lock
    if lock.flow_run_id and holder_gone is not None and beat < now() - timedelta(seconds=3 * HEARTBEAT_SECONDS) \
            and holder_gone(lock.flow_run_id):
        return f"its flow run {lock.flow_run_id} is no longer running"
    return None


def _take(customer_id: str, holder: str, flow_run_id: str | None, *, stale_seconds: float, ttl_hours: float,
          holder_gone, engine) -> str | None:
    """Take the lock (None), or say who holds it."""
    with session_scope(engine, write=True) as session:
        current = session.get(CustomerLock, customer_id)
        if current is not None:
            reason = why_gone(current, stale_seconds=stale_seconds, ttl_hours=ttl_hours, holder_gone=holder_gone)
            if reason is None:
                return current.holder
            audit.record(session, "lock_taken_over", customer_id=None, actor=holder, flow_run_id=flow_run_id,
                         before={"customer": customer_id, "holder": current.holder, "host": current.host,
                                 "pid": current.pid, "flow_run_id": current.flow_run_id},
                         after={"holder": holder, "because": reason})
            session.delete(current)
            session.flush()
        stamp = now()
        session.add(CustomerLock(customer_id=customer_id, holder=holder, acquired_at=stamp, heartbeat_at=stamp,
                                 host=socket.gethostname(), pid=os.getpid(), flow_run_id=flow_run_id))
    return None


@contextmanager
def customer_lock(customer_id: str, holder: str, *, wait_seconds: float = 600, ttl_hours: float = 12,
                  stale_seconds: float = STALE_SECONDS, flow_run_id: str | None = None, holder_gone=None,
                  engine=None):
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            owner = _take(customer_id, holder, flow_run_id, stale_seconds=stale_seconds, ttl_hours=ttl_hours,
                          holder_gone=holder_gone, engine=engine)
        except IntegrityError:
            owner = "another run"
        if owner is None:
            break
        if time.monotonic() >= deadline:
            raise CustomerBusy(f"customer {customer_id} is busy: {owner} holds its data")
        time.sleep(1)
    stop = threading.Event()
    beating = threading.Thread(target=_beat, args=(customer_id, holder, stop, engine), daemon=True,
                               name=f"lock-{customer_id}")
    beating.start()
    try:
        yield
    finally:
        stop.set()
        beating.join(timeout=30)
        with session_scope(engine, write=True) as session:
            session.execute(delete(CustomerLock).where(CustomerLock.customer_id == customer_id,
                                                       CustomerLock.holder == holder))


def _beat(customer_id: str, holder: str, stop: threading.Event, engine) -> None:
    while not stop.wait(HEARTBEAT_SECONDS):
        try:
            with session_scope(engine, write=True) as session:
                session.execute(update(CustomerLock).where(CustomerLock.customer_id == customer_id,
                                                           CustomerLock.holder == holder).values(heartbeat_at=now()))
        except Exception:  # noqa: BLE001 - a missed beat is retried; a lock that stops beating is taken over
            continue
