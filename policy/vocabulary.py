"""The words the ledger stores for kinds and states, one enumeration each.

Code compares with these members, never with bare strings, and the ledger refuses any other value
(a CHECK constraint per column, built from the same members), so a typo is an error where it is
made. They are `StrEnum`s: a member is its string, in SQL, JSON and the CLI alike. Arrears stages,
standby reasons and intervention categories are in their own rule modules.
"""

from __future__ import annotations

from enum import StrEnum


class InvoiceKind(StrEnum):
    MONTHLY = "monthly"
    PENALTY = "penalty"
    IMPORTED = "imported"
    CREDIT_NOTE = "credit_note"   # negative totals; `credits_id` names the invoice it credits


class Stage(StrEnum):
    """A customer's stage on the arrears ladder (policy/arrears.py)."""
    CURRENT = "current"
    ADMIN_DISABLED = "admin_disabled"
    PLATFORM_DISABLED = "platform_disabled"
    DATA_DELETED = "data_deleted"


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    DISPUTED = "disputed"
    WRITTEN_OFF = "written_off"
    VOID = "void"


class SettlementKind(StrEnum):
    """What settles an invoice (a row of `payments`)."""
    PAYMENT = "payment"           # the customer paid
    CREDIT_NOTE = "credit_note"   # a credit note lowered what was left to pay
    CREDIT = "credit"             # the customer's credit, applied at a close


class CreditMovement(StrEnum):
    """A movement of the money the vendor owes a customer (`customer_credits`)."""
    OVERPAYMENT = "overpayment"   # paid beyond an invoice's balance (+)
    CREDIT_NOTE = "credit_note"   # a credit note beyond what was left to pay on its invoice (+)
    APPLIED = "applied"           # applied to an invoice at a close (-)
    REFUND = "refund"             # paid back (-)


class CancellationStatus(StrEnum):
    RECEIVED = "received"     # the letter arrived; the account runs until the effective date
    WITHDRAWN = "withdrawn"   # the customer changed its mind before the effective date
    EFFECTIVE = "effective"   # the platform is off, the final backup kept; the final close is to come
    CLOSED = "closed"         # the final close is issued and the balance statement sent


class CloseStatus(StrEnum):
    DRAFTING = "drafting"
    DRAFTED = "drafted"
    FINALISED = "finalised"


class CloseOutcome(StrEnum):
    """What one run of the close did (its report's status)."""
    DRAFTED = "drafted"
    FINALISED = "finalised"
    ALREADY_FINALISED = "already_finalised"   # the month was closed before: nothing billed again


class PaymentMethod(StrEnum):
    SEPA = "sepa"
    CARD = "card"
    TRANSFER = "transfer"
    TRANSFER_INSTALLMENTS = "transfer_installments"
    OTHER = "other"


class BillingCycle(StrEnum):
    MONTHLY = "monthly"
    ANNUAL = "annual"


class DeletionStatus(StrEnum):
    NOTICE_SENT = "notice_sent"
    AWAITING_APPROVAL = "awaiting_approval"
    REFUSED = "refused"


class StandbyStatus(StrEnum):
    SCHEDULED = "scheduled"
    ACTIVE = "active"
    ENDED = "ended"
    CANCELLED = "cancelled"


class StandbySource(StrEnum):
    IMPORT = "import"
    REQUEST = "request"
    DEMO = "demo"


class InterventionSource(StrEnum):
    IMPORT = "import"
    RESTORE = "restore"


class BackupKind(StrEnum):
    TENANT = "tenant"
    LEDGER = "ledger"
    SAFETY = "safety"


class BackupStatus(StrEnum):
    RUNNING = "running"
    GOOD = "good"
    FAILED = "failed"
    DELETED = "deleted"
    CORRUPT = "corrupt"   # found damaged by a drill or a restore: never restored, never counted as kept
    GONE = "gone"         # its objects are missing from storage (deleted outside retention): never restored,
    #                       never counted as kept; the customer's next nightly backup is taken afresh


class BackupOutcomeStatus(StrEnum):
    """One customer's backup in a night (operations.backup.BackupOutcome): taken, found done already, or not."""
    GOOD = "good"
    SKIPPED = "skipped"   # a good backup of that day was there already
    FAILED = "failed"
    DELETED = "deleted"   # its data was deleted after the night listed it: nothing written, nothing to back up


class NoticeStatus(StrEnum):
    PENDING = "pending"   # recorded with its cause, not sent yet (the outbox)
    SENT = "sent"
    FAILED = "failed"     # refused for good (a bad address, bad credentials): ops must act


class EffectStatus(StrEnum):
    PENDING = "pending"   # an access change recorded with its stage, not applied to the platform yet
    APPLIED = "applied"
    FAILED = "failed"


class RestoreTarget(StrEnum):
    SANDBOX = "sandbox"
    IN_PLACE = "in_place"


def restored_where(target: str) -> str:
    """Where a restore went, in words (the value `in_place` is for machines): "in place", "into the sandbox"."""
    return "in place" if target == RestoreTarget.IN_PLACE else "into the sandbox"


def in_words(value: object) -> str:
    """A value of the vocabulary as a person reads it: `at_risk` -> "at risk", `data_deleted` -> "data deleted"."""
    return str(value).replace("_", " ")


class RestoreStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class NoticeTransport(StrEnum):
    SMTP = "smtp"
    OUTBOX = "outbox"
    DRY_RUN = "dry-run"


class TicketType(StrEnum):
    BLOCKING_BUG = "blocking_bug"
    BUG = "bug"
    EVOLUTION = "evolution"
    NEW_FEATURE = "new_feature"
    QUESTION = "question"
    ASSISTANCE = "assistance"
    CUSTOMIZATION = "customization"
    OTHER = "other"


class TicketChannel(StrEnum):
    MAIL = "mail"
    FORM = "form"
    PHONE = "phone"
    CHAT = "chat"


class Severity(StrEnum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"


class TicketSource(StrEnum):
    IMPORT = "import"
    WEBHOOK = "webhook"
    DEMO = "demo"


class TicketStatus(StrEnum):
    """A ticket's status in the helpdesk, as its history records it (`ticket_events`)."""
    OPEN = "open"
    WAITING_CUSTOMER = "waiting_customer"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
