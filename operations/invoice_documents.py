"""Invoices customers receive: each finalised invoice becomes a Factur-X PDF, kept and mailed.

Finalising gives an invoice its number; from then on it never changes (gapless numbering, 10 years
of retention). Its document is rendered once from the ledger's own lines and totals, stored under
`invoices/YYYY/MM/<number>.pdf`, and never rendered over: a second render of a number whose stored
document differs is refused, not written. The mail that carries it is a notice like the others
(recorded pending, sent by the dispatcher with the PDF attached), so a mail server that is down
never blocks a close: the mail stays pending and the next run sends it. `send-invoices` records a
new sending of the same document.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from lxml import etree

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from blocks.seller import Seller
from blocks.storage import MissingObject, ObjectStorage
from ledger import audit, keys
from ledger.credits import prepaid_of
from ledger.db import now, session_scope
from ledger.models import Customer, Invoice, Notice
from ledger.queries import invoice_label, where_it_stands
from ledger.views import latest_mails
from policy.calendar import month_bounds
from policy.invoicing import line_unit
from policy.language import Language, N_, language_of, speak
from policy.terms import Terms
from policy.vocabulary import InvoiceKind, NoticeStatus, PaymentMethod
from reports.invoice_document import DocumentLine, InvoiceDocument, Party, check_facturx, facturx_pdf
from reports.invoice_document.french_rules import french_rule_failures

#: invoices that have a document: the ones this product issues (an imported one has its own elsewhere)
RENDERED_KINDS = (InvoiceKind.MONTHLY, InvoiceKind.PENALTY, InvoiceKind.CREDIT_NOTE)
LINKED_METHODS = (PaymentMethod.CARD, PaymentMethod.SEPA)


class DocumentRefused(RuntimeError):
    """A document that must not be written (its number already has a different one)."""


@dataclass
class IssuedDocuments:
    stored: list[str] = field(default_factory=list)      # numbers whose document was stored now
    mails: list[str] = field(default_factory=list)       # numbers whose mail was recorded now
    through_platform: list[str] = field(default_factory=list)  # numbers not mailed: deposited on the e-invoicing platform
    refused: list[str] = field(default_factory=list)     # "number: why"
    sample_seller: bool = False


# --- the document of one invoice ------------------------------------------------------------------

def _buyer(customer: Customer) -> Party:
    return _party_at(customer.name, customer.billing_address, siren=customer.siren[:9] if customer.siren else None,
                     # a SIRET begins with its SIREN
                     siret=customer.siren if customer.siren and len(customer.siren) == 14 else None,
                     vat_number=customer.vat_number, email=customer.email)


def _delivery(customer: Customer) -> Party | None:
    """Where the customer's services are delivered, when its file gave another address than the billing one."""
    if not customer.delivery_address or customer.delivery_address == customer.billing_address:
        return None
    return _party_at(customer.name, customer.delivery_address)


def _party_at(name: str, address: str | None, **identifiers) -> Party:
    """A party at an address as the customers import stores it: lines, `<postcode> <city>`, maybe a country."""
    lines = address.split("\n") if address else []
    country = "FR"
    if lines and re.fullmatch(r"[A-Z]{2}", lines[-1]):
        country = lines.pop()
    postcode, city = "", ""
    if lines:
        match = re.fullmatch(r"(\S*\d\S*)\s+(.+)", lines[-1])
        if match:
            postcode, city = match.groups()
            lines.pop()
    return Party(name=name, address_lines=tuple(lines), postcode=postcode, city=city, country=country,
                 **identifiers)


def _seller(seller: Seller) -> Party:
    return Party(name=seller.legal_name, address_lines=tuple(seller.address_lines), postcode=seller.postcode,
                 city=seller.city, country=seller.country, siren=seller.siren, siret=seller.siret,
                 vat_number=seller.vat_number, email=seller.email, legal_form=seller.legal_form,
                 share_capital=seller.share_capital, rcs=seller.rcs)


#: what the document says of its payment, per payment method (and for a penalty, a credit note)
PAYMENT_TERMS = {
    PaymentMethod.SEPA: N_("Paid by SEPA direct debit on the due date."),
    PaymentMethod.CARD: N_("Paid by card on the due date."),
    PaymentMethod.TRANSFER: N_("Payable by bank transfer by the due date."),
    PaymentMethod.TRANSFER_INSTALLMENTS: N_("Payable by bank transfers in the agreed instalments."),
    PaymentMethod.OTHER: N_("Payable by the due date."),
    "penalty": N_("Payable on receipt, by bank transfer."),
    "credit_note": N_("Set against the balance of the credited invoice; any excess is refunded to you or "
                      "deducted from your next invoice."),
}


def customer_language(customer: Customer, terms: Terms) -> str:
    """The language the customer reads its invoices and mails in."""
    return language_of(customer.language, terms.invoice_language)


def document_of(invoice: Invoice, customer: Customer, seller: Seller, terms: Terms, *,
                credited_number: str | None = None, credited_issue_date: date | None = None,
                prepaid: Decimal = Decimal("0.00")) -> InvoiceDocument:
    """The document of a finalised invoice, from the ledger's lines and totals as they are (a credit note
    names the invoice it credits, with its date; `prepaid`: the customer's credit applied to it at its close),
    with the 2026 mentions: the seller's option for VAT on debits, the customer's delivery address when it is
    not its billing address."""
    if not invoice.number or not invoice.issued_on:
        raise DocumentRefused(f"invoice {invoice.id} is not finalised: a draft has no document")
    language = customer_language(customer, terms)
    words = speak(language)
    period = None
    if invoice.kind == InvoiceKind.MONTHLY:
        first, following = month_bounds(invoice.month)
        period = (first, following - timedelta(days=1))
    method = invoice.kind if invoice.kind in (InvoiceKind.PENALTY, InvoiceKind.CREDIT_NOTE) else customer.payment_method
    link = seller.payment_link(invoice.number, customer.customer_id, invoice.total_ttc - prepaid) \
        if customer.payment_method in LINKED_METHODS and invoice.kind != InvoiceKind.CREDIT_NOTE \
        and invoice.total_ttc > prepaid else None
    kind = {InvoiceKind.PENALTY: "penalty", InvoiceKind.CREDIT_NOTE: "credit_note"}.get(invoice.kind, "invoice")
    return InvoiceDocument(
        number=invoice.number, kind=kind, credited_number=credited_number, prepaid=prepaid,
        issue_date=invoice.issued_on, due_date=invoice.due_on, service_period=period,
        seller=_seller(seller), buyer=_buyer(customer), buyer_reference=customer.customer_id,
        lines=tuple(DocumentLine(description=line.description, quantity=line.quantity,
                                 unit=line_unit(line.category, line.quantity, line.unit_price, line.amount_ht, terms),
                                 unit_price=line.unit_price, vat_rate=line.vat_rate, amount_ht=line.amount_ht)
                    for line in invoice.lines),
        total_ht=invoice.total_ht, total_vat=invoice.total_vat, total_ttc=invoice.total_ttc,
        iban=seller.iban, bic=seller.bic, payment_terms=words.say(PAYMENT_TERMS[method]),
        late_penalty_rate_text=words.percent(terms.late_penalty_rate), recovery_indemnity=terms.late_indemnity,
        payment_link=link, note=invoice.description if invoice.kind in (InvoiceKind.PENALTY, InvoiceKind.CREDIT_NOTE) else None,
        language=language, sample_seller=seller.sample, vat_on_debits=seller.vat_on_debits,
        credited_issue_date=credited_issue_date, delivery=_delivery(customer))


def _document(session, invoice: Invoice, seller: Seller, terms: Terms) -> InvoiceDocument:
    credited = session.get(Invoice, invoice.credits_id) if invoice.credits_id else None
    return document_of(invoice, session.get(Customer, invoice.customer_id), seller, terms,
                       credited_number=invoice_label(credited) if credited else None,
                       credited_issue_date=credited.issued_on if credited else None,
                       prepaid=prepaid_of(session, invoice.id))


# --- storing and mailing ----------------------------------------------------------------------------

def _store_once(storage: ObjectStorage, key: str, pdf: bytes, invoice: Invoice) -> str:
    """Put the document unless its key holds one already; returns the stored document's SHA-256. A number
    never gets a second document: one found there is kept only if it is this installation's own render of this
    invoice (a run killed between storing it and recording it): the hash the ledger recorded, else the very
    Factur-X XML just rendered (seller, buyer, lines and totals: only the PDF's dates differ between two renders).
    Anything else is refused, left as it is for someone to look at: another installation's invoice of the same
    number and total was once taken, recorded and mailed as this one's. The store is claimed first
    (blocks.storage._Owned.claim): another installation's store is refused before anything of it is read."""
    store = storage.store()
    store.claim()
    try:
        with store.open(key) as handle:
            kept = handle.read()
    except MissingObject:
        store.put_stream(key, io.BytesIO(pdf))
        return hashlib.sha256(pdf).hexdigest()
    sha = hashlib.sha256(kept).hexdigest()
    if invoice.document_sha256:
        if sha != invoice.document_sha256:
            raise DocumentRefused(f"{key} holds a document the ledger does not know (sha256 {sha[:12]}); an issued "
                                  f"invoice is never rendered again")
        return sha
    if kept == pdf:
        return sha
    try:
        xml = check_facturx(kept)
    except ValueError as error:
        raise DocumentRefused(f"{key} holds something that is not a Factur-X invoice ({error}); an issued invoice "
                              f"is never rendered again") from None
    if xml != check_facturx(pdf):
        tree = etree.fromstring(xml)
        number = tree.findtext(".//{*}ExchangedDocument/{*}ID")
        total = tree.findtext(".//{*}SpecifiedTradeSettlementHeaderMonetarySummation/{*}GrandTotalAmount")
        raise DocumentRefused(f"{key} holds invoice {number} for {total} EUR, a document this installation did not "
                              f"render (sha256 {sha[:12]}), not {invoice.number} for {invoice.total_ttc} EUR as the "
                              f"ledger has it; an issued invoice is never rendered again")
    return sha


def _mail_text(invoice: Invoice, customer: Customer, link: str | None, language: str, sample: bool,
               credited: str | None = None, prepaid: Decimal = Decimal("0.00")) -> tuple[str, str]:
    """The mail that carries a document: subject, body and footer in the customer's language."""
    words = speak(language)
    if invoice.kind == InvoiceKind.CREDIT_NOTE:
        subject, body = _credit_note_mail(invoice, credited, words)
    else:
        subject, body = _invoice_mail(invoice, link, prepaid, words)
    body += words.say("\nKind regards,\nCustomer service\n")
    if sample:
        body += words.say("\n-- SPECIMEN: these invoices use the sample seller details; fill in the seller block "
                          "before sending real invoices. --\n")
    return subject, body


def _invoice_mail(invoice: Invoice, link: str | None, prepaid: Decimal, words: Language) -> tuple[str, str]:
    subject = words.say("Invoice {number} – {amount} incl. VAT", number=invoice.number, amount=invoice.total_ttc)
    body = words.say("Hello,\n\nPlease find attached invoice {number} of {issued_on} for {amount} incl. VAT, due "
                     "on {due_on}.\n", number=invoice.number, issued_on=invoice.issued_on, amount=invoice.total_ttc,
                     due_on=invoice.due_on)
    if link:
        body += words.say("\nPay online: {link}\n", link=link)
    if prepaid:
        body += words.say("\nYour credit of {prepaid} is applied to it: {due} remain to pay.\n", prepaid=prepaid,
                          due=invoice.total_ttc - prepaid)
    body += words.say("\nThe attached PDF is a Factur-X invoice: your accounting software can read it as it is.\n")
    return subject, body


def _credit_note_mail(invoice: Invoice, credited: str | None, words: Language) -> tuple[str, str]:
    amount = -invoice.total_ttc
    return (words.say("Credit note {number} – {amount} incl. VAT", number=invoice.number, amount=amount),
            words.say("Hello,\n\nPlease find attached credit note {number} of {issued_on} for {amount} incl. VAT, "
                      "on invoice {credited}: {reason}.\nIt is set against that invoice's balance; any excess is "
                      "refunded to you or deducted from your next invoice.\n", number=invoice.number,
                      issued_on=invoice.issued_on, amount=amount, credited=credited, reason=invoice.description))


def through_platform(platform, customer: Customer) -> bool:
    """A document of `customer` is deposited on the e-invoicing platform instead of mailed: a platform is set
    (`platform`: the e-invoicing block) and the customer is a French business (policy.einvoicing)."""
    from policy.einvoicing import BuyerKind, goes_through_platform

    return platform is not None and goes_through_platform(BuyerKind(customer.buyer_kind)) and platform.configured()


def _record_mail(session, invoice: Invoice, customer: Customer, seller: Seller, terms: Terms, sending: int,
                 flow_run_id: str | None) -> Notice:
    prepaid = prepaid_of(session, invoice.id)
    link = seller.payment_link(invoice.number, customer.customer_id, invoice.total_ttc - prepaid) \
        if customer.payment_method in LINKED_METHODS and invoice.total_ttc > prepaid else None
    credited = session.get(Invoice, invoice.credits_id) if invoice.credits_id else None
    subject, body = _mail_text(invoice, customer, link, customer_language(customer, terms), seller.sample,
                               invoice_label(credited) if credited else None, prepaid)
    notice = Notice(notice_key=keys.invoice_mail(invoice.number, sending), customer_id=customer.customer_id,
                    kind="invoice", to=customer.email, subject=subject, body=body, status=NoticeStatus.PENDING,
                    attempts=0, created_at=now(), flow_run_id=flow_run_id, attachment_key=invoice.document_key,
                    invoice_id=invoice.id)
    session.add(notice)
    return notice


def _issued(session, *, month: str | None, numbers: list[str] | None, customer_id: str | None,
            kinds=RENDERED_KINDS):
    query = (select(Invoice).options(selectinload(Invoice.lines))
             .where(Invoice.number.is_not(None), Invoice.kind.in_(kinds)).order_by(Invoice.number))
    if month:
        query = query.where(Invoice.month == month)
    if numbers is not None:
        query = query.where(Invoice.number.in_(numbers))
    if customer_id:
        query = query.where(Invoice.customer_id == customer_id)
    return session.scalars(query).all()


#: `document_key` of the invoices issued before documents existed (migration 0005): never rendered nor
#: mailed behind finance's back; `send-invoices` renders them when asked
ISSUED_BEFORE_DOCUMENTS = ""


def issue_documents(seller: Seller, terms: Terms, storage: ObjectStorage, *, month: str | None = None,
                    numbers: list[str] | None = None, customer_id: str | None = None, kinds=RENDERED_KINDS,
                    include_earlier: bool = False, actor: str, flow_run_id: str | None = None,
                    engine=None, platform=None) -> IssuedDocuments:
    """Render, store and record the mail of every finalised invoice (of a month, these numbers, a customer)
    that has no document yet (`include_earlier`: also those issued before documents existed). A refused
    document is reported and the others go on: one whose figures cannot be rendered (a VAT rate no document can
    carry, stored by an older release) is reported "number (customer): why" too. Before it is stored, each document is read back as the platform
    and the buyer will read it (the Factur-X XSD) and checked against the French rules: one that breaks a rule is
    neither stored nor mailed, is reported "number: BR-FR-xx: why" and stays unfinished, so the run after the
    data are corrected issues it. `platform` (the e-invoicing block): a document of a customer whose documents go
    through it is not mailed (operations.einvoicing_documents deposits it)."""
    result = IssuedDocuments(sample_seller=seller.sample)
    wanted = (None, ISSUED_BEFORE_DOCUMENTS) if include_earlier else (None,)
    with session_scope(engine) as session:
        todo = [invoice.id for invoice in _issued(session, month=month, numbers=numbers, customer_id=customer_id,
                                                  kinds=kinds) if invoice.document_key in wanted]
    if todo:  # another installation's store refused once, before any document (and outside the write transactions)
        storage.store().claim()
    for invoice_id in todo:
        with session_scope(engine) as session:  # rendered outside any write transaction: it takes a while
            invoice = session.get(Invoice, invoice_id)
            number, kind = invoice.number, session.get(Customer, invoice.customer_id).buyer_kind
            try:
                pdf = facturx_pdf(_document(session, invoice, seller, terms))
            except ValueError as error:  # figures that cannot make a document: this one waits, the others go on
                result.refused.append(f"{number} ({invoice.customer_id}): {error}")
                continue
        try:
            broken = french_rule_failures(check_facturx(pdf), kind, vat_on_debits=seller.vat_on_debits)
        except ValueError as error:  # not valid against the EN 16931 XSD: nothing of ours should write that
            broken = [f"EN 16931: {error}"]
        if broken:
            result.refused.append(f"{number}: {'; '.join(broken)}")
            continue
        with session_scope(engine, write=True) as session:
            # the row locked: a concurrent run (the close and send-invoices) waits here, then finds it done
            invoice = session.get(Invoice, invoice_id, with_for_update=True)
            if invoice.document_key not in wanted:
                continue
            customer = session.get(Customer, invoice.customer_id)
            key = keys.invoice_document(invoice.number, invoice.issued_on)
            try:
                sha = _store_once(storage, key, pdf, invoice)
            except DocumentRefused as error:
                result.refused.append(f"{invoice.number}: {error}")
                continue
            invoice.document_key, invoice.document_sha256 = key, sha
            audit.record(session, "invoice_document_stored", customer_id=customer.customer_id, before=None,
                         after={"number": invoice.number, "document": key, "sha256": sha,
                                "keep_until": (invoice.issued_on + timedelta(days=366 * terms.invoice_retention_years)
                                               ).isoformat()},
                         actor=actor, flow_run_id=flow_run_id)
            result.stored.append(invoice.number)
            mailed = session.scalar(select(func.count()).select_from(Notice).where(Notice.invoice_id == invoice.id))
            if not mailed and through_platform(platform, customer):
                result.through_platform.append(invoice.number)
            elif not mailed:
                _record_mail(session, invoice, customer, seller, terms, 1, flow_run_id)
                result.mails.append(invoice.number)
    return result


def resend(seller: Seller, terms: Terms, *, month: str, customer_id: str | None, actor: str,
           flow_run_id: str | None = None, skip: set[str] = frozenset(), engine=None, platform=None,
           deposited: list[str] | None = None) -> list[str]:
    """Record one more sending of the documents of a month's invoices (of one customer), except those in
    `skip` (mailed a moment ago); returns the numbers. Those whose customer's documents go through the
    e-invoicing `platform` are not mailed: they are added to `deposited` instead."""
    sent = []
    with session_scope(engine, write=True) as session:
        for invoice in _issued(session, month=month, numbers=None, customer_id=customer_id):
            if not invoice.document_key or invoice.number in skip:
                continue
            customer = session.get(Customer, invoice.customer_id)
            if through_platform(platform, customer):
                if deposited is not None:
                    deposited.append(invoice.number)
                continue
            sendings = session.scalar(select(func.count()).select_from(Notice).where(Notice.invoice_id == invoice.id))
            _record_mail(session, invoice, customer, seller, terms, sendings + 1, flow_run_id)
            audit.record(session, "invoice_resent", customer_id=customer.customer_id, before=None,
                         after={"number": invoice.number, "sending": sendings + 1, "to": customer.email},
                         actor=actor, flow_run_id=flow_run_id)
            sent.append(invoice.number)
    return sent


def documents_table(storage: ObjectStorage, numbers: list[str] | None = None, *, month: str | None = None,
                    engine=None) -> list[dict]:
    """What the close's artifact shows: each invoice's document (a link finance and ops can click) and mail."""
    from operations.export import download_link

    rows = []
    with session_scope(engine) as session:
        invoices = _issued(session, month=month, numbers=numbers, customer_id=None)
        latest = latest_mails(session, [invoice.id for invoice in invoices])
        for invoice in invoices:
            status, error = latest.get(invoice.id, ("none", None))
            rows.append({"number": invoice.number, "customer": invoice.customer_id,
                         "total_ttc": str(invoice.total_ttc),
                         "mail": status + (f" ({error})" if error and status != NoticeStatus.SENT else ""),
                         "document": download_link(storage, invoice.document_key) if invoice.document_key else
                         "not rendered"})
    return rows


# --- documents an earlier run left unfinished --------------------------------------------------------


def unfinished(engine=None) -> dict[str, str]:
    """The issued documents not finished yet, number -> customer: no PDF stored (a run killed after the
    ledger's write, storage read-only or down), or a mail still pending (the mail server down, a run
    killed before its dispatch). Those issued before documents existed are not among them."""
    with session_scope(engine) as session:
        unrendered = session.execute(select(Invoice.number, Invoice.customer_id).where(
            Invoice.number.is_not(None), Invoice.kind.in_(RENDERED_KINDS), Invoice.document_key.is_(None)))
        unsent = session.execute(select(Invoice.number, Invoice.customer_id).join(Notice, Notice.invoice_id == Invoice.id)
                                 .where(Notice.status == NoticeStatus.PENDING))
        return {number: customer_id for number, customer_id in [*unrendered, *unsent]}


def standing(number: str, engine=None) -> str:
    """Where the issued document `number` stands (ledger.queries.where_it_stands)."""
    with session_scope(engine) as session:
        return where_it_stands(session, session.scalar(select(Invoice).where(Invoice.number == number)))


@dataclass
class Finished:
    before: dict[str, str] = field(default_factory=dict)  # what was unfinished when the run began: number -> customer
    finished: list[str] = field(default_factory=list)   # numbers rendered, stored and mailed now
    waiting: list[str] = field(default_factory=list)    # still unfinished after this run
    problems: list[str] = field(default_factory=list)   # why (storage unavailable, a refused document, mail)

    def conclude(self) -> Finished:
        """Once their mails were dispatched: which are finished, which still wait (said in the run's log)."""
        if self.before:
            after = unfinished()
            self.finished = sorted(number for number in self.before if number not in after)
            self.waiting = sorted(number for number in self.before if number in after)
            print(self.sentence())
        return self

    def sentence(self) -> str:
        said = f"{len(self.finished)} document(s) an earlier run left unrendered or unsent finished"
        said += f" ({', '.join(self.finished)})" if self.finished else ""
        if self.waiting:
            said += (f"; {len(self.waiting)} still waiting ({', '.join(self.waiting)}), finished by the next run"
                     + (": " + "; ".join(self.problems) if self.problems else ""))
        return said


def finish_documents(settings, *, actor: str, flow_run_id: str | None, skip: set[str] = frozenset(),
                     deliver_now: bool = True, deliver=None) -> Finished:
    """In a flow that issues documents (and the daily arrears sweep): render, store and mail every document
    an earlier run left unfinished, whatever its month or kind (except `skip`: the calling run's own). A
    storage or mail server that is still down leaves them for the next run and is said, never fails the
    calling flow (its own work is done). A flow that dispatches the whole outbox itself afterwards says
    `deliver_now=False` (each mail is tried once per run) and calls `conclude()` after its dispatch.
    `deliver`: how the mails go (operations.dispatch.deliver; in a run, tasks.dispatch.deliver, its task)."""
    from lifecycle_config.conditions import is_world_condition, one_line
    from operations.dispatch import deliver as deliver_here

    deliver = deliver or deliver_here

    before = {number: customer for number, customer in unfinished().items() if number not in skip}
    result = Finished(before=before)
    if not before:
        return result
    try:
        issued = issue_documents(settings.seller, settings.terms, settings.storage, numbers=sorted(before),
                                 actor=actor, flow_run_id=flow_run_id, platform=settings.einvoicing)
        result.problems += issued.refused
    except Exception as error:  # noqa: BLE001 - only the world's conditions are kept for the next run
        if not is_world_condition(error):
            raise
        result.problems.append(one_line(error))
    if not deliver_now:
        return result
    result.problems += deliver(settings, sorted(set(before.values())))
    return result.conclude()

