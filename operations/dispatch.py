"""The outbox's dispatcher: sends the pending notices, then applies the pending access changes.

The sweeps record a stage, its access change and its notice in one transaction (operations.effects);
nothing leaves the ledger there. This runs after them, and again at every later run: each notice
and each effect is claimed by a conditional update (two dispatchers never both take one), tried a
few times with backoff on a transient error (connection refused or reset, time-out, HTTP 5xx/429),
and left `pending` with its last error for the next run when the outage lasts. A permanent error
(a refused recipient, bad credentials, HTTP 4xx) is `failed` at once and said so. Notices go first:
access is never cut before its notice was at least tried.
"""

from __future__ import annotations

import smtplib
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from blocks.notifications import Notifications
from blocks.storage import MissingObject, ObjectStorage, StorageError
from blocks.platform import PlatformControl, PlatformError
from ledger.db import now, session_scope
from ledger.models import Notice, PlatformEffect
from policy.access import Flags
from lifecycle_config.conditions import Unavailable, is_world_condition, one_line
from lifecycle_config.failpoints import failpoint
from lifecycle_config.scratch import holder_dead, this_process
from policy.vocabulary import EffectStatus, NoticeStatus

#: tries within one dispatch, and the pause before each next one (seconds)
BACKOFF = (0.5, 2.0)
#: a claim older than this belongs to a dispatcher that died: the row may be taken again
CLAIM_SECONDS = 300


@dataclass
class Undone:
    """One notice or access change left undone: what (`notice K to C`), why, since when, and whether it waits."""
    what: str
    why: str
    since: datetime
    pending: bool   # transient: tried again by the next run; else failed for good (ops must act)
    where: str = ""  # the server it could not reach, said once for all of its group


@dataclass
class Dispatched:
    sent: list[str] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    left: list[Undone] = field(default_factory=list)   # pending (tried again) or failed (ops must act)

    def undone(self, alert_after_hours: float = 0) -> list[str]:
        """What makes the run fail (and ops hear of it): every refusal, and what has been pending longer
        than `alert_after_hours` (the terms' `outbox_alert_after_hours`); one line per reason, however many
        notices share it (a mail server down is said once, not once per notice)."""
        limit = now() - timedelta(hours=alert_after_hours)
        return _grouped([u for u in self.left if u.pending and u.since <= limit]) + \
            _grouped([u for u in self.left if not u.pending])

    def waiting(self, alert_after_hours: float = 0) -> list[str]:
        """Pending for less than `alert_after_hours`: said, tried again by the next run, not yet an alert."""
        limit = now() - timedelta(hours=alert_after_hours)
        return _grouped([u for u in self.left if u.pending and u.since > limit])


#: the subjects named in a line; the others are counted
NAMED = 3


def _grouped(left: list[Undone]) -> list[str]:
    """One line per reason and kind of thing, in the order first met, however many share it. A server that
    does not answer comes first, with what to do: `the mail server H:P (notifications block) does not answer
    (why): 19 notice(s) pending, will be tried again by the next run (notice A to X, ... and 16 more); start
    it, or correct its address`."""
    groups: dict[tuple, list[Undone]] = {}
    for undone in left:
        groups.setdefault((undone.what.split(" ", 1)[0], undone.why, undone.pending, undone.where), []).append(undone)
    lines = []
    for (kind, why, pending, where), members in groups.items():
        names = ", ".join(u.what for u in members[:NAMED])
        if len(members) > NAMED:
            names += f" and {len(members) - NAMED} more"
        if where:
            things = f"{len(members)} notice(s)" if kind == "notice" else f"{len(members)} access change(s)"
            lines.append(f"{where} does not answer ({why}): {things} pending, will be tried again by the next "
                         f"run ({names}); start it, or correct its address")
        else:
            lines.append(f"{names}: {'pending, will be tried again' if pending else 'failed'} ({why})")
    return lines


def transient(error: BaseException) -> bool:
    """Whether trying again later may work: the other side was down, slow or busy, not refusing."""
    if isinstance(error, (ConnectionError, socket.timeout, TimeoutError, httpx.TransportError,
                          smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError)):
        return True
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500        # 4xx: try later; 5xx: the server refuses
    if isinstance(error, PlatformError):
        return error.transient
    if isinstance(error, OperationalError):         # the platform database: down, busy, a serialization failure
        return True
    if isinstance(error, StorageError):             # an attachment: a missing one is final, a storage hiccup is not
        return not isinstance(error, MissingObject)
    if type(error).__module__.startswith(("botocore", "urllib3")):  # S3 unreachable or slow
        return not hasattr(error, "response")       # a ClientError is S3's answer (denied, no such key): final
    return isinstance(error, OSError) or is_world_condition(error)  # a database down (lifecycle_config.databases)


#: the outbox's two tables, each with its words for a row waiting and a row refused for good
PENDING = {Notice: NoticeStatus.PENDING, PlatformEffect: EffectStatus.PENDING}
FAILED = {Notice: NoticeStatus.FAILED, PlatformEffect: EffectStatus.FAILED}


def _claim(model, row_id: int) -> bool:
    """Take the row for this process, unless another live dispatcher holds a recent claim on it: a claim
    of a process that died (same machine), or older than CLAIM_SECONDS, is taken over."""
    with session_scope(write=True) as session:
        row = session.get(model, row_id)
        if row is None or row.status != PENDING[model]:
            return False
        recent = row.claimed_at is not None and row.claimed_at > now() - timedelta(seconds=CLAIM_SECONDS)
        if recent and not holder_dead(row.claimed_by):
            return False
        same_claim = model.claimed_at.is_(None) if row.claimed_at is None else model.claimed_at == row.claimed_at
        claimed = session.execute(update(model).where(model.id == row_id, model.status == PENDING[model], same_claim)
                                  .values(claimed_at=now(), claimed_by=this_process()))
        return claimed.rowcount == 1


def _try(action):
    """Call `action` with backoff on transient errors; returns (result, None) or (None, error)."""
    for pause in (*BACKOFF, None):
        try:
            return action(), None
        except Exception as error:  # noqa: BLE001 - classified below
            if not transient(error) or pause is None:
                return None, error
            time.sleep(pause)
    return None, None  # pragma: no cover - the loop always returns


def _settle(model, row_id: int, error: BaseException | None, done: dict) -> str:
    with session_scope(write=True) as session:
        row = session.get(model, row_id)
        row.attempts, row.claimed_at, row.claimed_by = row.attempts + 1, None, None
        if error is None:
            for name, value in done.items():
                setattr(row, name, value)
            return "done"
        row.last_error = f"{type(error).__name__}: {error}"[:2000]
        if not transient(error):
            row.status = FAILED[model]
            return "failed"
        return "pending"


def _attachments(storage: ObjectStorage | None, key: str | None) -> list[tuple[str, bytes]]:
    """The document a notice carries, read from object storage when it is sent (a missing one fails it)."""
    if not key:
        return []
    if storage is None:
        raise RuntimeError(f"the notice carries {key} but no object storage was given to read it")
    with storage.store().open(key) as handle:
        return [(key.rsplit("/", 1)[-1], handle.read())]


def dispatch(notifications: Notifications, platform: PlatformControl, customer_ids: list[str] | None = None,
             storage: ObjectStorage | None = None) -> Dispatched:
    """Send what is pending, then apply what is pending (of these customers, or of all)."""
    result = Dispatched()
    with session_scope() as session:
        notices = session.execute(select(Notice.id, Notice.customer_id, Notice.notice_key, Notice.to, Notice.subject,
                                         Notice.body, Notice.created_at, Notice.attachment_key).where(Notice.status == NoticeStatus.PENDING,
                                                            *_of(Notice, customer_ids)).order_by(Notice.id)).all()
    down = None  # the mail server's error once it did not answer: this dispatch's other notices wait for the next run
    for notice in notices:
        if down is not None:
            _tell(result, "pending", result.sent, f"notice {notice.notice_key} to {notice.customer_id}", down,
                  notice.created_at, _mail_server(notifications))
            continue
        if not _claim(Notice, notice.id):
            continue
        sent, error = _try(lambda: notifications.send(notice.to, notice.subject, notice.body, key=notice.notice_key,
                                                      attachments=_attachments(storage, notice.attachment_key)))
        failpoint("dispatch.notice-sent")
        transport, location = sent or (None, None)
        outcome = _settle(Notice, notice.id, error, {"status": NoticeStatus.SENT, "sent_at": now(),
                                                     "transport": transport, "location": location,
                                                     "last_error": None})
        _tell(result, outcome, result.sent, f"notice {notice.notice_key} to {notice.customer_id}", error,
              notice.created_at, _mail_server(notifications))
        down = error if outcome == "pending" and _not_answering(error) else None
    with session_scope() as session:
        effects = session.execute(select(PlatformEffect).where(PlatformEffect.status == EffectStatus.PENDING,
                                                               *_of(PlatformEffect, customer_ids))
                                  .order_by(PlatformEffect.id)).scalars().all()
        session.expunge_all()
    down = None  # likewise the platform's
    for effect in effects:
        if down is not None:
            _tell(result, "pending", result.applied, f"access of {effect.customer_id} ({effect.reason})", down,
                  effect.created_at, _platform(platform))
            continue
        if not _claim(PlatformEffect, effect.id):
            continue
        flags = Flags(effect.admin_enabled, effect.platform_enabled, effect.operations_enabled)
        _, error = _try(lambda: platform.apply(effect.customer_id, flags, reason=effect.reason,
                                               idempotency_key=effect.effect_key))
        failpoint("dispatch.effect-applied")
        outcome = _settle(PlatformEffect, effect.id, error, {"status": EffectStatus.APPLIED, "applied_at": now(),
                                                             "last_error": None})
        _tell(result, outcome, result.applied, f"access of {effect.customer_id} ({effect.reason})", error,
              effect.created_at, _platform(platform))
        down = error if outcome == "pending" and _not_answering(error) else None
    return result


def _not_answering(error: BaseException | None) -> bool:
    """Whether the server itself did not answer (refused, reset, timed out, hung up), after all of one item's tries:
    the next items of the same dispatch are then left pending untried. Each was tried with its backoff in turn, and
    a close's 48 notices to a mail server that refused took 2 minutes before saying "not sent yet". An answer about
    one item (an SMTP 4xx, a document that cannot be read) stops nothing."""
    return isinstance(error, (ConnectionError, TimeoutError, socket.timeout, smtplib.SMTPServerDisconnected,
                              smtplib.SMTPConnectError, httpx.TransportError)) \
        or (isinstance(error, PlatformError) and error.transient)


def _mail_server(notifications: Notifications) -> str:
    return f"the mail server {notifications.smtp_host}:{notifications.smtp_port} (notifications block)" \
        if notifications.smtp_host else ""


def _platform(platform: PlatformControl) -> str:
    if platform.mode == "webhook":
        from urllib.parse import urlsplit

        address = urlsplit(platform.webhook_url or "")
        port = f":{address.port}" if address.port else ""
        return f"the platform's webhook at {address.hostname}{port} (platform block)"
    return "the platform database (platform block)"


def _of(model, customer_ids):
    return [model.customer_id.in_(customer_ids)] if customer_ids is not None else []


def _tell(result: Dispatched, outcome: str, done: list, what: str, error, since: datetime | None,
          where: str = "") -> None:
    if outcome == "done":
        done.append(what)
        return
    # the server sending or applying it did not answer (a store or a database that cannot be used names itself)
    unreachable = outcome == "pending" and (is_world_condition(error) or isinstance(error, PlatformError)) \
        and not isinstance(error, (StorageError, Unavailable))
    # a condition the product names itself (an outbox folder read-only) says what to do: no class name
    why = one_line(error) if isinstance(error, Unavailable) else f"{type(error).__name__}: {one_line(error)}"
    result.left.append(Undone(what, why, since or now(), outcome == "pending", where if unreachable else ""))


def deliver(settings, customer_ids: list[str] | None = None, *, send=dispatch) -> list[str]:
    """Send and apply what is pending (of these customers, or of all) with `send` (`dispatch`, or in a run its
    task, tasks.dispatch), say what still waits, and return what must fail the run (`Dispatched.undone` with
    the terms' `outbox_alert_after_hours`)."""
    outbox = send(settings.notifications, settings.platform, customer_ids, settings.storage)
    hours = settings.terms.outbox_alert_after_hours
    for what in outbox.waiting(hours):
        print(f"still pending (an alert after {hours:g} h): {what}")
    return outbox.undone(hours)

