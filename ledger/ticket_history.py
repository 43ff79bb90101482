"""A ticket's status history and the pause rule's: the facts the clocks are recomputed from on every run.

`ticket_events` holds each status a ticket took, once per (ticket, moment, status): a re-import or a
helpdesk's repeated push finds it and adds nothing. `pause_rules` holds each pause rule (the terms'
`pause_on`) with the moment it took effect: the commitments run records a rule the first time it sees it
differ from the last one recorded, effective at that run's moment, so a change applies from then on and
the time already paused under the old rule stays paused (policy/pauses.py).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ledger.column_types import UtcDateTime, Vocabulary
from ledger.models import Base, Customer, one_of
from policy.pauses import Event, PauseHistory, PauseRule
from policy.terms import Terms
from policy.vocabulary import TicketSource, TicketStatus


class TicketEvent(Base):
    """One status of a ticket from a moment on (the helpdesk's history of it)."""

    __tablename__ = "ticket_events"
    __table_args__ = (UniqueConstraint("ticket_id", "at", "status"), one_of("status", TicketStatus),
                      one_of("source", TicketSource))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.ticket_id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[TicketStatus] = mapped_column(Vocabulary(TicketStatus, 24))
    source: Mapped[TicketSource] = mapped_column(Vocabulary(TicketSource, 16), default=TicketSource.IMPORT)
    created_at: Mapped[datetime]


class PauseRuleChange(Base):
    """A pause rule (the terms' `pause_on`) and the moment it took effect."""

    __tablename__ = "pause_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    effective_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    rules: Mapped[list[Any]]
    recorded_at: Mapped[datetime]
    flow_run_id: Mapped[Optional[str]] = mapped_column(String(64))


def fingerprint(rules: list[PauseRule]) -> str:
    document = [rule.model_dump(mode="json") for rule in rules]
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def pause_history(session: Session) -> list[tuple[datetime, list[PauseRule]]]:
    """Every pause rule recorded, oldest first, with the moment it took effect."""
    rows = session.scalars(select(PauseRuleChange).order_by(PauseRuleChange.effective_at, PauseRuleChange.id))
    return [(row.effective_at, [PauseRule(**rule) for rule in row.rules]) for row in rows]


def remember_pause_rule(session: Session, terms: Terms, at: datetime, *, recorded_at: datetime,
                        flow_run_id: str | None) -> bool:
    """Record the terms' pause rule, effective at `at`, when it differs from the last one recorded; True when
    it did. A run looking from before the last change (`--as-of` in the past) dates the change at it, never
    before: history already counted is not rewritten."""
    last = session.scalars(select(PauseRuleChange).order_by(PauseRuleChange.effective_at.desc(),
                                                            PauseRuleChange.id.desc())).first()
    mark = fingerprint(terms.pause_on)
    if last is not None and last.fingerprint == mark:
        return False
    effective = at if last is None or at > last.effective_at else last.effective_at
    session.add(PauseRuleChange(effective_at=effective, fingerprint=mark, recorded_at=recorded_at,
                                rules=[rule.model_dump(mode="json") for rule in terms.pause_on],
                                flow_run_id=flow_run_id))
    session.flush()
    return True


@dataclass
class ClockFacts:
    """What the clocks of many tickets are computed from besides the tickets: their events, the pause rule's
    history (empty: the terms' own rule since always) and each customer's tier."""

    events: dict[str, list[Event]] = field(default_factory=dict)
    history: PauseHistory = ()
    tiers: dict[str, str] = field(default_factory=dict)

    def of(self, ticket) -> dict:
        """The keyword arguments of `ledger.views.ticket_clocks` for one ticket."""
        return {"events": self.events.get(ticket.ticket_id, ()), "pause_history": self.history,
                "tier": self.tiers.get(ticket.customer_id)}


def clock_facts(session: Session, ticket_ids: list[str] | None = None) -> ClockFacts:
    """The events of `ticket_ids` (every ticket when None), the pause rule's history and the customers' tiers."""
    query = select(TicketEvent.ticket_id, TicketEvent.at, TicketEvent.status).order_by(TicketEvent.at,
                                                                                      TicketEvent.id)
    if ticket_ids is not None:
        query = query.where(TicketEvent.ticket_id.in_(ticket_ids)) if ticket_ids else None
    events: dict[str, list[Event]] = {}
    if query is not None:
        for ticket_id, at, status in session.execute(query):
            events.setdefault(ticket_id, []).append(Event(at, str(status)))
    tiers = dict(session.execute(select(Customer.customer_id, Customer.commitment_tier)
                                 .where(Customer.commitment_tier.is_not(None))).all())
    return ClockFacts(events, pause_history(session), tiers)
