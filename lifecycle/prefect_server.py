"""`prefect server start` for the embedded server of `lifecycle up`, with one fault of Prefect's mended.

Prefect's SQLite writer of events (3.8.8, and still 3.9.1) inserts each batch's new events with `insert().values(rows)`;
when every event of a batch is stored already (a client that reconnects sends again the events it
had not seen acknowledged), `rows` is empty, SQLAlchemy inserts one row of defaults, SQLite refuses
it (`NOT NULL constraint failed: events.occurred`), and the persister retries the whole flush five
times, then drops it, with whatever events were new in it: the automations that alert ops never see
those. Here the events already stored are left out before Prefect's writer runs, and a flush with
nothing new writes nothing. PostgreSQL's writer (`ON CONFLICT DO NOTHING`) never had the fault, so
the production topology of deploy/ runs Prefect's own command.
"""

from __future__ import annotations

import sqlalchemy as sa

#: the ids looked up per statement (SQLite's limit on bound parameters is far above it)
LOOKUP = 500


def mend_event_writer() -> None:
    from prefect.server.database import db_injector
    from prefect.server.events.storage import database

    prefect_writer = database._write_sqlite_events

    @db_injector
    async def write_new_sqlite_events(db, session, events) -> None:
        unique = list({event.id: event for event in events}.values())
        stored: set = set()
        for start in range(0, len(unique), LOOKUP):
            ids = [event.id for event in unique[start:start + LOOKUP]]
            stored.update((await session.scalars(sa.select(db.Event.id).where(db.Event.id.in_(ids)))).all())
        new = [event for event in unique if event.id not in stored]
        if new:
            await prefect_writer(session, new)

    database._write_sqlite_events = write_new_sqlite_events


if __name__ == "__main__":
    mend_event_writer()
    from prefect.cli import app

    app()
