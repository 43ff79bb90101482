"""This ledger's identity (table `installation`): made by the migration that creates the table, or at
first use for a ledger whose row is missing (emptied by a test, a snapshot from before it existed)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from ledger.db import insert_if_missing, now, session_scope
from ledger.models import Installation


def installation_id(engine=None) -> str:
    """The ledger's installation id, made once if it has none (two first uses agree: one row only)."""
    with session_scope(engine) as session:
        found = session.scalar(select(Installation.id))
    if found:
        return found
    with session_scope(engine, write=True) as session:
        insert_if_missing(session, Installation, only_row=True, id=str(uuid.uuid4()), created_at=now())
    with session_scope(engine) as session:
        return session.scalar(select(Installation.id))
