"""The tickets file: the helpdesk's requests, whose moments stop the service commitments' clocks.

A ticket's identity (customer, arrival, type, channel, severity, level) is history: a changed value is
refused. Its later moments (first response, workaround, resolution, close, a customization's delivery)
come as the ticket lives: re-importing its row sets or moves them, and the audit log says what changed.
A blank cell never erases. Credentials a customer gave with the request are sealed by the `sealer` the caller
passes (the CLI's uses the key of a Prefect Secret block, blocks/credentials.py: the ledger never
imports Prefect) before they reach the ledger, never for a ticket that is closed already, and never
written to an error, a note or the audit log; without a sealer a file with credentials is refused.
"""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Callable

from ledger import audit
from ledger.db import now
from ledger.imports.cells import shown
from ledger.imports.rows import (ImportResult, Problems, Row, by_key, case_clashes, complete, duplicates,
                                 require_customers)
from ledger.imports.schemas import SCHEMAS
from ledger.models import Ticket
from policy.calendar import paris_date
from policy.chronology import before_start_problem
from policy.terms import Terms
from policy.vocabulary import TicketSource

IDENTITY = ("customer_id", "received_at", "type", "channel", "severity", "level")
LATER = ("first_response_at", "workaround_at", "resolved_at", "closed_at", "customization_delivered_on")
ORDER = ("first_response_at", "workaround_at", "resolved_at", "closed_at")   # none before its arrival


def check(session, rows: list[Row], problems: Problems, terms: Terms, actor: str, result: ImportResult,
          sealer: Callable[[str], str] | None = None) -> Callable[[], None]:
    duplicates(rows, lambda row: row.values.get("ticket_id"), "ticket_id", problems)
    customers = require_customers(session, rows, problems)
    existing = by_key(session, Ticket, Ticket.ticket_id, [row.values["ticket_id"] for row in rows
                                                          if row.values.get("ticket_id")])
    case_clashes(session, rows, "ticket_id", Ticket.ticket_id, existing, problems)
    new, changes, sealed = [], [], {}
    for row in rows:
        values = row.values
        if not complete(row, SCHEMAS["tickets"]):
            continue
        customer = customers.get(values["customer_id"])
        arrived = paris_date(values["received_at"]) if values["received_at"].tzinfo else values["received_at"].date()
        early = before_start_problem(arrived, customer.subscription_start, "received_at") if customer else None
        if early:
            problems.add(row.number, "received_at", early)
        delivered = values.get("customization_delivered_on")
        if delivered is not None and delivered < arrived:  # it makes support after it billable: never backdated
            problems.add(row.number, "customization_delivered_on", f"{delivered} is before the ticket arrived "
                                                                   f"({arrived}): a customization is delivered after it")
        for name in ORDER:
            if values.get(name) is not None and values[name] < values["received_at"]:
                problems.add(row.number, name, f"{shown(values[name])} is before the ticket arrived "
                                               f"({shown(values['received_at'])})")
        stored = existing.get(values["ticket_id"])
        if stored is not None:
            for name in IDENTITY:
                if name in values and values[name] is not None and values[name] != getattr(stored, name):
                    problems.add(row.number, name, f"{values['ticket_id']!r} arrived with {name} "
                                                   f"{_shown(getattr(stored, name))}: a ticket's identity is history "
                                                   f"(now {_shown(values[name])})")
            moved = {name: (getattr(stored, name), values[name]) for name in LATER
                     if values.get(name) is not None and values[name] != getattr(stored, name)}
            if moved:
                changes.append((stored, moved))
        else:
            new.append(row)
        if values.get("credentials"):
            closed = values.get("closed_at") or (stored.closed_at if stored is not None else None)
            if closed is not None:
                result.notes.append(f"{values['ticket_id']}: closed: its credentials were not stored")
                continue
            if sealer is None:
                problems.add(row.number, "credentials", "credentials are sealed with the key of the Prefect server: "
                                                        "import this file with `lifecycle import tickets`")
                continue
            try:
                sealed[values["ticket_id"]] = sealer(values["credentials"])
            except ValueError as error:  # the key cannot be reached: said without the secret
                problems.add(row.number, "credentials", str(error))

    def write() -> None:
        stamp = now()
        for row in new:
            values = row.values
            session.add(Ticket(ticket_id=values["ticket_id"], customer_id=values["customer_id"],
                               received_at=values["received_at"], type=values["type"], channel=values.get("channel"),
                               severity=values.get("severity"), level=values.get("level"),
                               **{name: values.get(name) for name in LATER},
                               credentials_token=sealed.get(values["ticket_id"]),
                               source=TicketSource.WEBHOOK if actor.startswith("webhook") else TicketSource.IMPORT,
                               created_at=stamp, updated_at=stamp))
        for ticket, moved in changes:
            for name, (_, value) in moved.items():
                setattr(ticket, name, value)
            ticket.updated_at = stamp
            audit.record(session, "ticket_updated", customer_id=ticket.customer_id, actor=actor,
                         before={"ticket": ticket.ticket_id, **{name: old for name, (old, _) in moved.items()}},
                         after={"ticket": ticket.ticket_id, "file": result.file,
                                **{name: new_value for name, (_, new_value) in moved.items()}})
        for ticket_id, token in sealed.items():
            if ticket_id in existing:
                existing[ticket_id].credentials_token = token
                audit.record(session, "ticket_credentials_stored", customer_id=existing[ticket_id].customer_id,
                             actor=actor, before=None, after={"ticket": ticket_id, "file": result.file})
        if new:
            audit.record(session, "tickets_imported", customer_id=None, before=None, actor=actor,
                         after={"file": result.file, "tickets": [row.values["ticket_id"] for row in new],
                                "with_credentials": sorted(t for t in sealed if t not in existing)})
        result.inserted += len(new)
        result.updated += len(changes)
        result.unchanged += len([row for row in rows if row.values.get("ticket_id") in existing]) - len(changes)

    return write


def _shown(value) -> str:
    """A stored value as a line quotes it: a day or moment in ISO, a word of the vocabulary as its word."""
    return repr(shown(value) if isinstance(value, (Enum, date)) else value)
