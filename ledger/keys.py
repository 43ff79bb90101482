"""Every idempotency key and generated id of the ledger, built in one place.

Idempotency lives in the ledger's unique keys (never in Prefect caches): a re-run finds its earlier
work by these keys and does nothing twice. Building each key here, not in ten f-strings, keeps two
writers of the same fact from spelling its key two ways. Object storage keys are built here too,
from ids checked against the one grammar (policy.ids) and ending with `/` at each folder, so no
customer's folder is a prefix of another's and no key can climb out of its place.
"""

from __future__ import annotations

from datetime import date, datetime

from policy.ids import checked_id


# --- invoices: `invoices.invoice_key` ------------------------------------------------------------

def monthly_invoice(customer_id: str, month: str) -> str:
    return f"monthly:{customer_id}:{month}"


def service_credit(customer_id: str, month: str, ticket_id: str, clock: str, close_month: str) -> str:
    """What the close of `close_month` applied for a clock missed in `month` (`service_credits.credit_key`)."""
    return f"service-credit:{customer_id}:{month}:{ticket_id}:{clock}:{close_month}"


def penalty_invoice(invoice_id: int) -> str:
    return f"penalty:{invoice_id}"


def imported_invoice(external_id: str) -> str:
    return f"imported:{external_id}"


def credit_note(request: str) -> str:
    """A credit note per request: the flow run that issued it, or the imported row's `credit_note_id`."""
    return f"credit-note:{request}"


CLOSE_CREDIT_NOTE = credit_note("close:")


def close_credit_note(customer_id: str, month: str) -> str:
    """The credit note a close issues (an annual customer's standby days beyond its work)."""
    return f"{CLOSE_CREDIT_NOTE}{customer_id}:{month}"


# --- settlements that are not payments (`payments.payment_id`) and the customer's credit ----------
# `~` is outside the grammar of imported ids (policy.ids): these never collide with a payment file's ids

def credit_note_settlement(number: str) -> str:
    return f"~credit-note:{number}"


def credit_settlement(number: str) -> str:
    """The customer's credit applied to invoice `number` at its close."""
    return f"~credit:{number}"


def credit_movement(kind: str, reference: str) -> str:
    """`customer_credits.movement_key`: an overpayment per payment, a credit note per number, an application
    per invoice, a refund per refund id."""
    return f"{kind}:{reference}"


# --- effects of a rule: a notice (`notices.notice_key`) and the platform switch that goes with it --

def stage_entered(customer_id: str, stage: str, effective_on: date) -> str:
    """Entering an arrears stage on a day: its notice and its access switch."""
    return f"arrears:{customer_id}:{stage}:{effective_on}"


def data_deleted_switch(customer_id: str) -> str:
    return f"arrears:{customer_id}:data_deleted"


def deletion_warning(customer_id: str, anchor: date) -> str:
    return f"deletion_notice:{customer_id}:{anchor}"


def data_deleted_notice(customer_id: str) -> str:
    return f"data_deleted:{customer_id}"


def standby_notice(kind: str, period_id: int) -> str:
    return f"{kind}:{period_id}"


def cancellation_notice(step: str, cancellation_id: int) -> str:
    """A cancellation's notices (received, withdrawn, effective, statement) and its access switch (`off`)."""
    return f"cancellation:{cancellation_id}:{step}"


def ticket_alert(ticket_id: str, clock: str, state: str) -> str:
    """An ops alert on a ticket's clock: once per ticket, clock and state."""
    return f"ticket:{ticket_id}:{clock}:{state}"


def ticket_warning(ticket_id: str, clock: str, offset_minutes: int) -> str:
    """A warning before a ticket's clock is due: once per ticket, clock and offset (in working minutes)."""
    return f"ticket:{ticket_id}:{clock}:warning:{offset_minutes}"


def invoice_mail(number: str, sending: int) -> str:
    """The mail carrying an invoice's document: the first at issue, the next ones each a re-send."""
    return f"invoice:{number}:{sending}"


def standby_switch(action: str, period_id: int) -> str:
    """`start` or `end` of a standby period: its access switch."""
    return f"standby-{action}:{period_id}"


# --- backups and restores ------------------------------------------------------------------------

def day_stamp(day: date) -> str:
    return f"{day:%Y%m%d}"


def nightly_backup(customer_id: str, day: date) -> str:
    """One backup per customer and day: a second run that day finds it."""
    return f"{customer_id}-{day_stamp(day)}"


def safety_backup(customer_id: str, at: datetime, job_id: int) -> str:
    return f"{customer_id}-safety-{at:%Y%m%dT%H%M%S}-{job_id}"


def ledger_snapshot(day: date, at: datetime) -> str:
    return f"ledger-{day_stamp(day)}-{at:%H%M%S}"


def restore_request(flow_run_id: str | None) -> str:
    """One restore (and one bill) per flow run: a re-run of the same run bills nothing more."""
    return f"flow-run:{flow_run_id}"


def restore_intervention(job_id: int) -> str:
    return f"RESTORE-{job_id}"


def lock_holder(what: str, ref: str | None) -> str:
    """Who holds a customer's data: `backup`, `restore` or `deletion`, and its run or request."""
    return f"{what}:{ref}"


# --- object storage: every key made of an id --------------------------------------------------------

def customer_backups(customer_id: str) -> str:
    """The folder of every backup of one customer: `backups/C1/` is no prefix of `backups/C10/`."""
    return f"backups/{checked_id(customer_id, 'customer id')}/"


def backup_folder(customer_id: str, backup_id: str) -> str:
    return f"{customer_backups(customer_id)}{checked_id(backup_id, 'backup id')}/"


def data_keys_folder(customer_id: str | None) -> str:
    """The key store's folder of one owner's data keys (wrapped by the master key): a customer's, or the
    installation's own (ledger snapshots) when `customer_id` is None. Outside `backups/`: never in a backup."""
    if customer_id is None:
        return "keys/installation/"
    return f"keys/customers/{checked_id(customer_id, 'customer id')}/"


def data_key_object(customer_id: str | None, key_id: str) -> str:
    return f"{data_keys_folder(customer_id)}{checked_id(key_id, 'key id')}.json"


def invoice_document(number: str, issued_on: date) -> str:
    """An invoice's Factur-X PDF: `invoices/YYYY/MM/<number>.pdf`, by its issue date."""
    return f"invoices/{issued_on:%Y}/{issued_on:%m}/{checked_id(number, 'invoice number')}.pdf"


def invoice_document_redeposit(number: str, issued_on: date, deposit: int) -> str:
    """The document rendered again for its k-th new deposit after a rejection, next to the original (never over
    it): `invoices/YYYY/MM/<number>-r<k>.pdf`."""
    return invoice_document(number, issued_on).removesuffix(".pdf") + f"-r{deposit}.pdf"


def ledger_snapshot_folder(backup_id: str) -> str:
    return f"ledger-snapshots/{checked_id(backup_id, 'backup id')}/"


def workbook_file(month: str, version: int) -> str:
    """A month's finance workbook: its first version plain, later ones `_vN` (the file a user downloads or
    copies with `run export --out`; the CLI checks it before any run, without importing Prefect)."""
    suffix = "" if version == 1 else f"_v{version}"
    return f"{month}_billable-interventions{suffix}.xlsx"


# --- e-invoicing: the tracking ids of the flows deposited on the platform (`einvoice_flows.tracking_id`) ----

def einvoice_document(number: str, deposit: int = 0) -> str:
    """A document's flow: its number, then `<number>-r<k>` for its k-th new deposit after a rejection."""
    return number if deposit == 0 else f"{number}-r{deposit}"


def einvoice_cashed(number: str, payment_id: str) -> str:
    """The 212 Encaissée status a payment of invoice `number` sends, once per payment."""
    return f"{number}-212-{payment_id}"


def einvoice_cashed_correction(number: str, refund_id: str) -> str:
    """The correction of a 212 Encaissée that a refund of invoice `number` sends, once per refund."""
    return f"{number}-212-refund-{refund_id}"


def e_reporting(period: str, rule: str) -> str:
    """A period's e-reporting of the transactions and payments outside domestic B2B (`rule`: B2BInt or B2C)."""
    return f"e-reporting-{rule}-{period}"
