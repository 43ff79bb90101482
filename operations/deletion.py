"""The deletion at six months: checked again from facts, approved by a person, then done and certified.

Seed 001: "After 6 months your data is deleted." It is the one step that cannot be undone, so it
never happens by surprise: the customer had a notice at least 30 days before, the facts are
checked again on the day (a payment in the meantime stops it), ops approve it in the UI (or the
CLI with `--approve-deletion`), and a certificate says what was deleted, when, and who approved.

The purge (below) deletes the customer's platform data and every backup of it, all versions, and says what
went. The tenants row stays (with every flag off) and so do invoices, payments and the audit trail:
accounting records are kept for ten years. It takes the customer's lock, so no backup or restore of the
same customer runs meanwhile.

Plain Python, each step its own transaction; the data-deletion flow (flows/arrears.py) calls them in order:
`check_due`, `plan_purge` (shown for approval), `mark_awaiting` or `refuse`, then `execute` and its certificate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal

from sqlalchemy import or_, select, update

from blocks.platform import PlatformControl
from blocks.settings import Settings
from blocks.storage import ObjectStorage, StillLocked
from ledger import audit, keys
from ledger.db import now, session_scope
from ledger.locks import customer_lock
from ledger.models import Backup, Customer, DeletionCertificate, DeletionIntent, StageChange
from policy.arrears import Stage, anchor, implied_stage, ladder, overdue_balance, state
from policy.calendar import PARIS
from policy.language import language_of
from policy.text import markdown_literal, markdown_row, quoted
from policy.vocabulary import BackupStatus, DeletionStatus
from lifecycle_config.conditions import one_line
from lifecycle_config.failpoints import failpoint
from operations import backup_keys
from operations.arrears import _facts
from operations.bugs import log_to_python
from operations.effects import record_notice, record_switch


@dataclass
class Due:
    due: bool
    why: str
    owed: Decimal = Decimal("0.00")        # the overdue balance (TTC) that leads to the deletion
    anchor: date | None = None
    last_backup: str | None = None         # the newest good backup, which the purge deletes too
    unknown: bool = False                  # no such customer: the asker's mistake, not "nothing to delete"


def check_due(customer_id: str, day: date, settings: Settings, engine=None) -> Due:
    with session_scope(engine) as session:
        customer = session.get(Customer, customer_id)
        if customer is None:
            return Due(False, f"unknown customer {quoted(customer_id)}", unknown=True)
        if customer.stage == Stage.DATA_DELETED.value:
            return Due(False, "the data was already deleted")
        if customer.deletion_status not in (DeletionStatus.NOTICE_SENT, DeletionStatus.AWAITING_APPROVAL):
            return Due(False, f"no deletion is pending (deletion status: {customer.deletion_status or 'none'})")
        if customer.deletion_due_on is None or day < customer.deletion_due_on:
            return Due(False, f"the deletion is not due before {customer.deletion_due_on}")
        invoices = [owed for _, owed in _facts(session, [customer_id]).get(customer_id, [])]
        if customer.cancelled_on is not None:
            return Due(True, f"cancelled: service ended on {customer.cancelled_on}, data kept and the deletion "
                             f"announced, due since {customer.deletion_due_on}", overdue_balance(invoices, day),
                       customer.cancelled_on, _last_backup(session, customer_id))
        anchor_on = anchor(invoices, day)
        if customer.dunning_exempt or implied_stage(anchor_on, day, ladder(settings.terms)) is not Stage.DATA_DELETED:
            return Due(False, "the facts no longer lead to a deletion (paid, exempt or re-anchored)")
        owed = overdue_balance(invoices, day)
        last_backup = _last_backup(session, customer_id)
    return Due(True, f"anchor {anchor_on}: {settings.terms.data_deleted_after_months} months overdue, notice given, "
                     f"due since {customer.deletion_due_on}", owed, anchor_on, last_backup)


def _last_backup(session, customer_id: str) -> str | None:
    last = session.scalars(select(Backup).where(Backup.customer_id == customer_id, Backup.status == BackupStatus.GOOD)
                           .order_by(Backup.created_at.desc())).first()
    if last is None:
        return None
    stamp = last.created_at if last.created_at.tzinfo else last.created_at.replace(tzinfo=timezone.utc)
    return f"{last.backup_id} ({stamp.astimezone(PARIS):%Y-%m-%d %H:%M} Europe/Paris)"


def approval_form(due: Due, plan, customer_id: str) -> str:
    """What ops read above the approve/refuse form before a customer's data is deleted for good; its stored
    text (the customer's id, a table's name, why the deletion is due) shown as stored."""
    rows = "\n".join(f"- {markdown_literal(f'{table}: {count} row(s)')}" for table, count in plan.tables.items()) \
        or "- no data table"
    why = markdown_literal(due.why)
    return (f"## Delete all of {markdown_literal(customer_id)}'s platform data?\n\n"
            + (f"The customer **cancelled**; {why}. Overdue balance {due.owed} EUR TTC.\n\n"
               if due.why.startswith("cancelled") else
               f"**Overdue balance {due.owed} EUR TTC**, unpaid since {due.anchor}; {why}.\n\n")
            + f"Platform rows to be purged:\n\n{rows}\n\n"
            f"Backups deleted with it: {len(plan.backups)} ({len(plan.objects)} objects); the latest good one is "
            f"{markdown_literal(due.last_backup or 'none')}.\n\n"
            "This cannot be undone. Invoices, payments and the audit trail are kept. Refusing keeps everything "
            "and needs a comment.")


def mark_awaiting(customer_id: str, flow_run_id: str | None, actor: str, engine=None) -> None:
    with session_scope(engine, write=True) as session:
        customer = session.get(Customer, customer_id, with_for_update=True)
        if customer.deletion_status != DeletionStatus.AWAITING_APPROVAL or customer.deletion_flow_run_id != flow_run_id:
            before = {"deletion_status": customer.deletion_status}
            customer.deletion_status, customer.deletion_flow_run_id = DeletionStatus.AWAITING_APPROVAL, flow_run_id
            audit.record(session, "deletion_awaiting_approval", customer_id=customer_id, before=before,
                         after={"deletion_status": DeletionStatus.AWAITING_APPROVAL, "run": flow_run_id}, actor=actor,
                         flow_run_id=flow_run_id)


def refuse(customer_id: str, reviewer: str, comment: str, *, actor: str, flow_run_id: str | None, engine=None) -> None:
    with session_scope(engine, write=True) as session:
        customer = session.get(Customer, customer_id, with_for_update=True)
        before = {"deletion_status": customer.deletion_status}
        customer.deletion_status, customer.deletion_flow_run_id = DeletionStatus.REFUSED, None
        audit.record(session, "deletion_refused", customer_id=customer_id, before=before,
                     after={"deletion_status": DeletionStatus.REFUSED, "reviewer": reviewer, "comment": comment}, actor=actor,
                     flow_run_id=flow_run_id)


def execute(customer_id: str, day: date, settings: Settings, approval: dict, *, actor: str,
            flow_run_id: str | None, engine=None) -> dict:
    """Record the intent, purge, then record: stage `data_deleted`, every flag off, a certificate, a notice.

    The intent (DeletionIntent: the approval and the keys to shred) is committed before any key is touched, and
    the certificate marks it completed in the same transaction: a run killed anywhere between leaves an open
    intent, whose keys already count as shredded, and which the next run completes with the same approval and
    day (complete_interrupted), rather than asking for an approval given already."""
    with session_scope(engine) as session:
        open_intent = session.scalar(select(DeletionIntent).where(DeletionIntent.customer_id == customer_id,
                                                                  DeletionIntent.completed_at.is_(None)))
        if open_intent is not None:  # an interrupted run's: its approval and day stand
            approval = {"reviewer": open_intent.approved_by, "comment": open_intent.comment}
            day = open_intent.day
    deleted = purge_customer(customer_id, settings.platform, settings.storage, holder=keys.lock_holder("deletion", flow_run_id),
                             engine=engine, intent={"day": day, "approved_by": approval["reviewer"],
                                                    "comment": approval.get("comment"), "flow_run_id": flow_run_id})
    stamp = now()
    certificate = {"customer_id": customer_id, "deleted_at": stamp.isoformat(), "approved_by": approval["reviewer"],
                   "comment": approval.get("comment") or "", "flow_run_id": flow_run_id, **deleted}
    with session_scope(engine, write=True) as session:
        customer = session.get(Customer, customer_id, with_for_update=True)
        if customer.stage == Stage.DATA_DELETED.value:  # the same deletion certified by a run beside this one
            done = session.scalar(select(DeletionCertificate).where(DeletionCertificate.customer_id == customer_id))
            if done is not None:
                return done.deleted
        previous = customer.stage
        customer.stage = Stage.DATA_DELETED.value
        customer.deletion_status = customer.deletion_flow_run_id = None
        record_switch(session, customer, on_standby=False, reason="arrears:data_deleted",
                      key=keys.data_deleted_switch(customer_id), actor=actor, flow_run_id=flow_run_id)
        session.add(StageChange(customer_id=customer_id, previous_stage=previous, stage=Stage.DATA_DELETED.value,
                                effective_on=day, anchor_due_on=None, recorded_at=stamp, flow_run_id=flow_run_id))
        session.add(DeletionCertificate(customer_id=customer_id, deleted_at=stamp, approved_by=approval["reviewer"],
                                        comment=approval.get("comment"), deleted=certificate, flow_run_id=flow_run_id))
        intent = session.scalar(select(DeletionIntent).where(DeletionIntent.customer_id == customer_id)
                                .with_for_update())
        if intent is not None:  # the certificate and the end of the intent: one transaction, never one without the other
            intent.completed_at = stamp
        audit.record(session, "data_deleted", customer_id=customer_id, before={"stage": previous},
                     after={"stage": Stage.DATA_DELETED, "approved_by": approval["reviewer"],
                            "platform_rows": deleted["platform_rows"], "backups": len(deleted["backups"]),
                            "objects": len(deleted["objects"]),
                            "keys_shredded": [entry["key_id"] for entry in deleted["keys_shredded"]]}, actor=actor, flow_run_id=flow_run_id)
        notice = state(Stage.DATA_DELETED).notice
        subject, body = notice.render(settings.terms, language_of(customer.language, settings.terms.invoice_language),
                                      name=customer.name, on=day,
                                      contact=settings.notifications.support_phone)
        record_notice(session, customer, kind=notice.kind, key=keys.data_deleted_notice(customer_id),
                    subject=subject, body=body, flow_run_id=flow_run_id)
    return certificate


def complete_interrupted(settings: Settings, *, actor: str, flow_run_id: str | None, customer_id: str | None = None,
                         engine=None, failed: list[str] | None = None, on_bug=None) -> list[dict]:
    """Complete every deletion a killed run left between its intent and its certificate (only `customer_id`'s
    when given): its keys shredded, its objects removed, its certificate and notice recorded, with the approval
    and day the intent holds. Returns their certificates. Called first by the arrears sweep and by a deletion
    run, so an approved deletion never waits for a second approval, nor stays half-done.

    `failed` given (the sweep): each completion is tried on its own, and one that cannot be done now (its customer
    busy, the platform or the store down, a bug) is one line there, its intent left open for the next run: one
    stuck deletion must not stop the others, nor the day's penalties, stage changes and notices. Without it
    (a customer's own deletion run) the error is raised, as that run's failure."""
    with session_scope(engine) as session:
        query = select(DeletionIntent.customer_id, DeletionIntent.day, DeletionIntent.approved_by,
                       DeletionIntent.comment).where(DeletionIntent.completed_at.is_(None))
        if customer_id is not None:
            query = query.where(DeletionIntent.customer_id == customer_id)
        interrupted = session.execute(query.order_by(DeletionIntent.customer_id)).all()
    certificates = []
    for owner, day, reviewer, comment in interrupted:
        try:
            certificates.append(execute(owner, day, settings, {"reviewer": reviewer, "comment": comment}, actor=actor,
                                        flow_run_id=flow_run_id, engine=engine))
        except Exception as error:  # noqa: BLE001 - said as one line of the sweep, which fails for it
            if failed is None:
                raise
            (on_bug or log_to_python)(f"completing the deletion of {owner}", error)  # a bug's traceback is kept
            failed.append(f"{owner}: its deletion approved by {reviewer} on {day} (begun, its keys count as "
                          f"shredded) could not be completed: {type(error).__name__}: {one_line(error)}; the next "
                          f"run tries again")
    return certificates


def certificate_markdown(certificate: dict) -> str:
    """The deletion's certificate as its artifact: every stored text in it (the reviewer's name and comment, a
    table's, a backup's or an object's name) shown as stored."""
    rows = "\n".join(markdown_row(table, count) for table, count in certificate["platform_rows"].items())
    return (f"# Deletion certificate: {markdown_literal(certificate['customer_id'])}\n\n"
            f"- deleted at: {markdown_literal(certificate['deleted_at'])}\n"
            f"- approved by: **{markdown_literal(certificate['approved_by'])}**"
            + (f" ({markdown_literal(certificate['comment'])})" if certificate["comment"] else "")
            + f"\n- flow run: {markdown_literal(certificate['flow_run_id'])}\n\n## Platform rows deleted\n\n"
            f"| table | rows |\n|---|---:|\n{rows}\n\n## Backups deleted: {len(certificate['backups'])} "
            f"({len(certificate['objects'])} object versions)\n\n"
            + "\n".join(f"- {markdown_literal(item)}" for item in certificate["backups"])
            + _shredded_markdown(certificate.get("keys_shredded"))
            + _locked_markdown(certificate.get("locked"))
            + "\n\nKept: invoices, payments, the audit trail (10-year legal retention).")


def _shredded_markdown(shredded: list[dict] | None) -> str:
    """The certificate's proof that every copy of the backups is unreadable: the keys destroyed."""
    if shredded is None:  # a certificate of a deletion made before backups were encrypted
        return ""
    lines = "\n".join(markdown_row(entry["key_id"], entry["destroyed_at"] or "by an earlier attempt of this deletion",
                                   entry["objects_unreadable"]) for entry in shredded) \
        or "| (none: no encrypted backup) | | 0 |"
    return ("\n\n## Data keys shredded\n\nEvery copy of these backups, wherever it is kept, is unreadable from the "
            "moment its key was destroyed.\n\n| key | destroyed at | objects made unreadable |\n|---|---|---:|\n"
            + lines)


def _locked_markdown(locked: list[dict] | None) -> str:
    """The copies the store's Object Lock keeps for a while: unreadable (their key is shredded), and removed as
    soon as their lock allows."""
    if not locked:
        return ""
    lines = "\n".join(markdown_row(entry["object"], entry["until"]) for entry in locked)
    return ("\n\n## Locked copies, removed when their lock expires\n\nThe store keeps these objects immutable until "
            "the date shown (Object Lock); they are unreadable already (their key is shredded above) and the "
            "nightly backup's retention removes every version of each once its lock has passed.\n\n"
            "| object | locked until |\n|---|---|\n" + lines)


def pending_run(customer_id: str, engine=None) -> str | None:
    with session_scope(engine) as session:
        return session.scalar(select(Customer.deletion_flow_run_id).where(Customer.customer_id == customer_id))


# --- the purge: the customer's platform data and every backup of it, all versions ------------------------

@dataclass
class PurgePlan:
    customer_id: str
    tables: dict[str, int] = field(default_factory=dict)       # table -> rows of the customer
    backups: list[str] = field(default_factory=list)            # backup ids in the ledger
    objects: list[str] = field(default_factory=list)            # object keys in storage

    def markdown(self, title: str) -> str:
        rows = "\n".join(markdown_row(name, count) for name, count in self.tables.items()) or "| (no data table) | 0 |"
        backups = "\n".join(f"- {markdown_literal(backup_id)}" for backup_id in self.backups) or "_none_"
        return (f"# {markdown_literal(title)}\n\n**Customer {markdown_literal(self.customer_id)}**\n\n"
                f"## Platform data\n\n| table | rows |\n|---|---:|\n"
                f"{rows}\n\n## Backups ({len(self.backups)}, {len(self.objects)} objects)\n\n{backups}\n\n"
                "Invoices, payments and the audit trail are kept (10-year legal retention).")


def plan_purge(customer_id: str, platform: PlatformControl, storage: ObjectStorage, engine=None) -> PurgePlan:
    plan = PurgePlan(customer_id, platform.row_counts(customer_id))
    with session_scope(engine) as session:
        plan.backups = list(session.scalars(select(Backup.backup_id).where(Backup.customer_id == customer_id,
                                                                           Backup.status != BackupStatus.DELETED)))
    plan.objects = [item.key for item in storage.store().list(keys.customer_backups(customer_id))]
    return plan


def purge_customer(customer_id: str, platform: PlatformControl, storage: ObjectStorage, *, holder: str,
                   engine=None, intent: dict | None = None) -> dict:
    """Delete everything of the customer's data; returns what was deleted (rows per table, object versions,
    the data keys shredded).

    The customer's data keys are destroyed first (every version of each key object): from that moment every
    copy of its backups, wherever it sits, is unreadable; then the objects are removed as before. A run that
    died after the keys went finds none left: the certificate still names every key the backups' manifests
    used, without a time for those an earlier attempt destroyed.

    `intent` (the approval, day and run of a deletion) is recorded first, under the lock, with every key the
    purge will shred (_record_intent): from then on those keys count as shredded, whatever happens next."""
    with customer_lock(customer_id, holder, engine=engine):
        store = storage.store()
        with session_scope(engine) as session:
            used = {backup.backup_id: (backup.manifest or {}).get("encryption", {}).get("key_id")
                    for backup in session.scalars(select(Backup).where(Backup.customer_id == customer_id))}
        intended = _record_intent(customer_id, intent, {key for key in used.values() if key}
                                  | set(backup_keys.key_ids(store, customer_id)), engine) if intent else set()
        rows = platform.delete_rows(customer_id)
        failpoint("purge.platform-deleted")
        listed = store.list(keys.customer_backups(customer_id))
        prefix = keys.customer_backups(customer_id)
        per_key: dict[str, int] = {}
        for item in listed:
            key_id = used.get(item.key[len(prefix):].split("/", 1)[0])
            if key_id:
                per_key[key_id] = per_key.get(key_id, 0) + 1
        shredded = {entry["key_id"]: entry for entry in backup_keys.shred(store, customer_id)}
        for key_id in sorted(({key_id for key_id in used.values() if key_id} | intended) - set(shredded)):
            shredded[key_id] = {"key_id": key_id, "versions": 0, "destroyed_at": None}  # by an earlier attempt
        for entry in shredded.values():
            entry["objects_unreadable"] = per_key.get(entry["key_id"], 0)
        objects, locked = [], []
        for item in listed:
            try:
                objects += store.delete(item.key)
            except StillLocked as still:  # unreadable already (its key is gone); removed once its lock passes
                objects += still.deleted
                locked.append({"object": item.key, "until": still.until.isoformat(timespec="seconds")})
            failpoint("purge.object-deleted")
        waiting = _locked_backups(locked, prefix)
        with session_scope(engine, write=True) as session:
            backups = list(session.scalars(select(Backup.backup_id).where(Backup.customer_id == customer_id,
                                                                          or_(Backup.status != BackupStatus.DELETED,
                                                                              Backup.deleted_at.is_(None)))))
            session.execute(update(Backup).where(Backup.backup_id.in_([b for b in backups if b not in waiting]))
                            .values(status=BackupStatus.DELETED, deleted_at=now()))
            for backup_id, until in waiting.items():  # `deleted`, its objects left to the nightly remove_unlocked
                record = session.get(Backup, backup_id)
                if record is not None:
                    record.status, record.deleted_at = BackupStatus.DELETED, None
                    record.locked_until = max(record.locked_until or until, until)
    return {"platform_rows": rows, "backups": backups, "objects": objects,
            "keys_shredded": sorted(shredded.values(), key=lambda entry: entry["key_id"]), "locked": locked}


def _locked_backups(locked: list[dict], prefix: str) -> dict[str, datetime]:
    """The backups some of whose objects stay locked, each with its longest lock."""
    waiting: dict[str, datetime] = {}
    for entry in locked:
        backup_id = entry["object"][len(prefix):].split("/", 1)[0]
        until = datetime.fromisoformat(entry["until"])
        waiting[backup_id] = max(waiting.get(backup_id, until), until)
    return waiting


def _record_intent(customer_id: str, intent: dict, key_ids: set[str], engine=None) -> set[str]:
    """Commit the deletion's intent with the keys it shreds (an interrupted run's intent gains any key found
    since), before a key is touched; returns every key the intent names."""
    with session_scope(engine, write=True) as session:
        record = session.scalar(select(DeletionIntent).where(DeletionIntent.customer_id == customer_id)
                                .with_for_update())
        if record is None:
            record = DeletionIntent(customer_id=customer_id, day=intent["day"], recorded_at=now(),
                                    approved_by=intent["approved_by"], comment=intent.get("comment"),
                                    key_ids=sorted(key_ids), flow_run_id=intent.get("flow_run_id"))
            session.add(record)
        elif set(key_ids) - set(record.key_ids or []):
            record.key_ids = sorted(set(record.key_ids or []) | set(key_ids))
        named = set(record.key_ids)
    failpoint("purge.intent-recorded")
    return named
