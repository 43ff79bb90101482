"""The requests a served webhook took, so that the same request is never taken twice (policy/signing.py).

A request's timestamped signature is its identity: a replay carries the same one. It is recorded in
the transaction that writes what the request brought, under a unique key, so two server processes
receiving the same request at once take it once, a request refused for its content can be sent again,
and a restart forgets nothing. A signature is kept until a replay of it would be stale anyway.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from ledger.models import WebhookReceipt
from policy.signing import WINDOW_SECONDS


class AlreadySeen(ValueError):
    """The same signed request was taken before."""


def take(session: Session, endpoint: str, signature: str, signed_at: datetime, now: datetime) -> None:
    """Record the request signed `signature` at `signed_at` as taken (AlreadySeen: it was), and forget the
    signatures whose replays are stale by `now` (the product's clock)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(delete(WebhookReceipt).where(WebhookReceipt.expires_at < now))
    # ON CONFLICT DO NOTHING: a concurrent taker of the same request waits for the first one's transaction,
    # then inserts nothing (and is told so) if that one committed, or takes it if that one rolled back
    table = WebhookReceipt.__table__
    inserted = session.connection().execute(insert(table).values(
        signature=signature, endpoint=endpoint, expires_at=signed_at + timedelta(seconds=WINDOW_SECONDS))
        .on_conflict_do_nothing().returning(table.c.signature)).first()
    if inserted is None:
        raise AlreadySeen(f"this request was received already (same {signature[:15]}... signature): "
                          f"a request is taken once; send a new one, signed now")
