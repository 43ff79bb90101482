"""Prefect's SQLite event writer on a database of its own, bare or as `lifecycle up` mends it: run as
`python -m tests.support.event_writer DB_PATH bare|mended`, it prints one JSON line of what happened."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime, timezone
from uuid import uuid4


def _events(count: int):
    from prefect.server.events.schemas.events import ReceivedEvent

    now = datetime.now(timezone.utc)
    return [ReceivedEvent(occurred=now, event="lifecycle.test", id=uuid4(), received=now,
                          resource={"prefect.resource.id": f"lifecycle.test.{uuid4()}"}) for _ in range(count)]


async def _write(db, events) -> str:
    from prefect.server.events.storage.database import write_events

    try:
        async with db.session_context(begin_transaction=True) as session:
            await write_events(session, events)
    except Exception as error:  # noqa: BLE001 - what the persister would see
        return str(error).splitlines()[0]
    return "written"


async def main(mended: bool) -> dict:
    import sqlalchemy as sa
    from prefect.server.database import provide_database_interface

    if mended:
        from lifecycle.prefect_server import mend_event_writer

        mend_event_writer()
    db = provide_database_interface()
    await db.create_db()
    first, more = _events(3), _events(2)
    outcome = {"first": await _write(db, first),
               "sent_again": await _write(db, first[:2]),               # a client that reconnected
               "mixed": await _write(db, first + more + more[:1])}      # stored, new, and one twice
    async with db.session_context() as session:
        outcome["stored"] = await session.scalar(sa.select(sa.func.count()).select_from(db.Event))
    return outcome


if __name__ == "__main__":
    from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL, temporary_settings

    with temporary_settings({PREFECT_API_DATABASE_CONNECTION_URL: f"sqlite+aiosqlite:///{sys.argv[1]}"}):
        print(json.dumps(asyncio.run(main(sys.argv[2] == "mended"))))
