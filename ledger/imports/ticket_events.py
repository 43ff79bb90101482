"""The ticket-events file: each status a ticket took, from which its clocks pause and restart (policy/pauses.py).

An event's identity is the whole row `(ticket_id, at, status)`: a row the ledger holds already changes
nothing (a re-import, or a helpdesk pushing its history again, is a no-op), a new row adds a status to the
history. Nothing is ever updated or deleted: a wrong event is corrected by the events that follow it. A
ticket must be imported first; an event before its ticket arrived, or after now, is refused at its row.
"""

from __future__ import annotations

from typing import Callable

from sqlalchemy import select, tuple_

from ledger import audit
from ledger.db import now
from ledger.imports.cells import shown
from ledger.imports.rows import (CHUNK, ImportResult, Problems, Row, by_key, by_key_ignoring_case, complete,
                                 duplicates, unknown_reference)
from ledger.imports.schemas import SCHEMAS
from ledger.models import Ticket
from ledger.ticket_history import TicketEvent
from policy.terms import Terms
from policy.vocabulary import TicketSource


def _key(row: Row):
    values = row.values
    return (values.get("ticket_id"), values.get("at"), values.get("status"))


def check(session, rows: list[Row], problems: Problems, terms: Terms, actor: str,
          result: ImportResult) -> Callable[[], None]:
    duplicates(rows, _key, "at", problems)
    wanted = sorted({row.values["ticket_id"] for row in rows if row.values.get("ticket_id")})
    tickets = by_key(session, Ticket, Ticket.ticket_id, wanted)
    spelled = by_key_ignoring_case(session, Ticket.ticket_id, wanted, tickets)
    keys = [_key(row) for row in rows if None not in _key(row)]
    stored = set()
    for start in range(0, len(keys), CHUNK):
        chunk = [(ticket_id, at, str(status)) for ticket_id, at, status in keys[start:start + CHUNK]]
        query = select(TicketEvent.ticket_id, TicketEvent.at, TicketEvent.status).where(
            tuple_(TicketEvent.ticket_id, TicketEvent.at, TicketEvent.status).in_(chunk))
        stored.update((ticket_id, at, str(status)) for ticket_id, at, status in session.execute(query))
    new = []
    for row in rows:
        values = row.values
        if not complete(row, SCHEMAS["ticket-events"]):
            continue
        ticket = tickets.get(values["ticket_id"])
        if ticket is None:
            problems.add(row.number, "ticket_id", unknown_reference(
                "unknown ticket", values["ticket_id"], spelled.get(values["ticket_id"]), "import tickets first"))
            continue
        if values["at"] < ticket.received_at:
            problems.add(row.number, "at", f"{shown(values['at'])} is before the ticket arrived "
                                           f"({shown(ticket.received_at)})")
            continue
        if (values["ticket_id"], values["at"], str(values["status"])) not in stored:
            new.append(row)

    def write() -> None:
        stamp = now()
        source = TicketSource.WEBHOOK if actor.startswith("webhook") else TicketSource.IMPORT
        for row in new:
            session.add(TicketEvent(ticket_id=row.values["ticket_id"], at=row.values["at"],
                                    status=row.values["status"], source=source, created_at=stamp))
        if new:
            audit.record(session, "ticket_events_imported", customer_id=None, before=None, actor=actor,
                         after={"file": result.file, "events": len(new),
                                "tickets": sorted({row.values["ticket_id"] for row in new})})
        result.inserted += len(new)
        result.unchanged += len([row for row in rows if not row.repeated]) - len(new)

    return write
