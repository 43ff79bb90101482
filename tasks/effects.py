"""The two effects every capability shares: switching a customer's access and sending a notice.

Both record what they did in the ledger (customer flags, notices, audit) inside the caller's
transaction, so a failed call leaves the ledger as it was and the next run tries again.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from blocks.notifications import Notifications
from blocks.platform import PlatformControl
from ledger import audit
from ledger.db import now
from ledger.models import Customer, Notice
from policy.access import Flags
from policy.arrears import flags_for


def switch_access(
    session: Session,
    platform: PlatformControl,
    customer: Customer,
    *,
    on_standby: bool,
    reason: str,
    key: str,
    actor: str,
    flow_run_id: str | None,
    dry_run: bool = False,
) -> Flags:
    """Write all three flags that the customer's stage and standby imply, on the platform and in the ledger.
    A dry run records the change in the (rolled-back) ledger but never calls the platform."""
    flags = flags_for(customer.stage, on_standby)
    before = {"admin_enabled": customer.admin_enabled, "platform_enabled": customer.platform_enabled,
              "operations_enabled": customer.operations_enabled}
    if not dry_run:
        platform.apply(customer.customer_id, flags, reason=reason, idempotency_key=key)
    customer.admin_enabled = flags.admin_enabled
    customer.platform_enabled = flags.platform_enabled
    customer.operations_enabled = flags.operations_enabled
    customer.updated_at = now()
    audit.record(session, "access_switched", customer_id=customer.customer_id, before=before,
                 after={**flags.as_dict(), "reason": reason}, actor=actor, flow_run_id=flow_run_id)
    return flags


def send_notice(
    session: Session,
    notifications: Notifications,
    customer: Customer,
    *,
    kind: str,
    key: str,
    subject: str,
    body: str,
    flow_run_id: str | None,
    dry_run: bool = False,
) -> Notice | None:
    """Send a notice once per key; returns None when it had already gone out. A dry run sends nothing."""
    if session.scalar(select(Notice.id).where(Notice.notice_key == key)) is not None:
        return None
    transport, location = ("dry-run", None) if dry_run else notifications.send(customer.email, subject, body, key=key)
    notice = Notice(notice_key=key, customer_id=customer.customer_id, kind=kind, sent_at=now(), to=customer.email,
                    subject=subject, body=body, transport=transport, location=location, flow_run_id=flow_run_id)
    session.add(notice)
    return notice
