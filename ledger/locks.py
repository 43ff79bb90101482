"""Per-customer locks in the ledger: a backup, a restore and a purge of one customer never overlap.

A row in `customer_locks` is the lock; its primary key makes a second taker fail at once, and it
waits (polling) or gives up with a clear message. A lock older than its time-to-live belongs to a
run that died, and is taken over.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from ledger.db import now, session_scope
from ledger.models import CustomerLock


class CustomerBusy(RuntimeError):
    pass


@contextmanager
def customer_lock(customer_id: str, holder: str, *, wait_seconds: float = 600, ttl_hours: float = 12, engine=None):
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            with session_scope(engine, write=True) as session:
                current = session.get(CustomerLock, customer_id)
                if current is not None and current.acquired_at < now() - timedelta(hours=ttl_hours):
                    session.delete(current)
                    session.flush()
                    current = None
                if current is None:
                    session.add(CustomerLock(customer_id=customer_id, holder=holder, acquired_at=now()))
                    break
                owner = current.holder
        except IntegrityError:
            owner = "another run"
        if time.monotonic() >= deadline:
            raise CustomerBusy(f"customer {customer_id} is busy: {owner} holds its data")
        time.sleep(1)
    try:
        yield
    finally:
        with session_scope(engine, write=True) as session:
            session.execute(delete(CustomerLock).where(CustomerLock.customer_id == customer_id,
                                                       CustomerLock.holder == holder))
