"""The audit trail: every state change with who made it and which flow run."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy.orm import Session

from ledger.db import now
from ledger.models import AuditEntry


def plain(value: Any) -> Any:
    """A value as JSON can hold it: dates ISO, money as strings with its cents."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Enum):  # a word of the vocabulary (ledger.column_types.Vocabulary): its word
        return value.value
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def record(
    session: Session,
    action: str,
    *,
    customer_id: str | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    actor: str,
    flow_run_id: str | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        at=now(),
        customer_id=customer_id,
        action=action,
        before=plain(before) if before is not None else None,
        after=plain(after) if after is not None else None,
        actor=actor,
        flow_run_id=flow_run_id,
    )
    session.add(entry)
    return entry
