"""The two effects every capability shares: switching a customer's access and sending a notice.

Both are only recorded here, in the caller's transaction with their cause (the customer's flags, a
pending access change, a pending notice, the audit): the stage and its effects commit together or
not at all, and nothing leaves the ledger before they are recorded. `operations.dispatch` then sends
and applies them, and tries again until they are done. A dry run records them in its rolled-back
transaction only.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import audit
from ledger.db import now
from ledger.models import Customer, Notice, PlatformEffect
from policy.access import Flags
from policy.arrears import flags_for
from policy.vocabulary import EffectStatus, NoticeStatus


def record_switch(
    session: Session,
    customer: Customer,
    *,
    on_standby: bool,
    reason: str,
    key: str,
    actor: str,
    flow_run_id: str | None,
) -> Flags:
    """Record all three flags that the customer's stage and standby imply (all off once it is cancelled),
    and the access change that
    will apply them to the platform (pending until the dispatcher applies it, by `key`)."""
    flags = flags_for(customer.stage, on_standby)
    if customer.cancelled_on is not None:  # a cancelled account stays off, whatever its arrears or standby
        flags = Flags(False, False, False)
    before = {"admin_enabled": customer.admin_enabled, "platform_enabled": customer.platform_enabled,
              "operations_enabled": customer.operations_enabled}
    if session.scalar(select(PlatformEffect.id).where(PlatformEffect.effect_key == key)) is None:
        session.add(PlatformEffect(effect_key=key, customer_id=customer.customer_id, reason=reason,
                                   status=EffectStatus.PENDING, attempts=0, created_at=now(), flow_run_id=flow_run_id,
                                   **flags.as_dict()))
    customer.admin_enabled = flags.admin_enabled
    customer.platform_enabled = flags.platform_enabled
    customer.operations_enabled = flags.operations_enabled
    customer.updated_at = now()
    audit.record(session, "access_switched", customer_id=customer.customer_id, before=before,
                 after={**flags.as_dict(), "reason": reason}, actor=actor, flow_run_id=flow_run_id)
    return flags


def record_notice(
    session: Session,
    customer: Customer,
    *,
    kind: str,
    key: str,
    subject: str,
    body: str,
    flow_run_id: str | None,
) -> Notice | None:
    """Record a notice once per key, pending until the dispatcher sends it; None when it was recorded before."""
    if session.scalar(select(Notice.id).where(Notice.notice_key == key)) is not None:
        return None
    notice = Notice(notice_key=key, customer_id=customer.customer_id, kind=kind, to=customer.email, subject=subject,
                    body=body, flow_run_id=flow_run_id, status=NoticeStatus.PENDING, attempts=0, created_at=now())
    session.add(notice)
    return notice
