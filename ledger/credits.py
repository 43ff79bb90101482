"""Credit notes, the customer's credit, refunds: the ledger's side of correcting what was issued.

One use case per function, each in one transaction, each keyed so a re-run does nothing twice:
a credit note by its request (`credit-note:<request>`), a refund by its id, an overpayment by its
payment, an application by the invoice it settles. Settling is one move wherever money comes from
(a payment, a credit note, the customer's credit): a row of `payments` for what goes onto the
invoice's balance, a `customer_credits` movement for the rest. The rules are in policy/corrections.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from ledger import audit, keys
from ledger.db import now
from ledger.models import Customer, CustomerCredit, Invoice, InvoiceLine, Payment
from ledger.numbering import Corrects, OutOfOrder, issue_date, next_numbers
from ledger.queries import invoice_label, paid_by_invoice, where_it_stands
from policy.balances import NOTHING_LEFT, balance
from policy.calendar import month_key, today_paris
from policy.chronology import refund_before_credit_problem
from policy.corrections import CorrectionRefused, credit_note, reference_key, settle
from policy.invoicing import Line, totals
from policy.language import language_of, speak
from policy.terms import Terms
from policy.text import quoted
from policy.vocabulary import CreditMovement, InvoiceKind, InvoiceStatus, SettlementKind, in_words

ZERO = Decimal("0.00")


def credit_of(session: Session, customer_ids: list[str] | None = None) -> dict[str, Decimal]:
    """What the vendor owes each customer (only customers with movements appear)."""
    query = select(CustomerCredit.customer_id, func.sum(CustomerCredit.amount)).group_by(CustomerCredit.customer_id)
    if customer_ids is not None:
        query = query.where(CustomerCredit.customer_id.in_(customer_ids))
    return {customer_id: Decimal(total).quantize(Decimal("0.01")) for customer_id, total in session.execute(query)}


def settle_invoice(session: Session, invoice: Invoice, amount: Decimal, *, kind: str, payment_id: str, on: date,
                   credit_note_id: int | None = None) -> Decimal:
    """Put `amount` onto an invoice's balance (a row of `payments`); an open invoice left with nothing to
    pay is `paid`. Returns what is left to pay."""
    stamp = now()
    session.add(Payment(payment_id=payment_id, invoice_id=invoice.id, paid_on=on, amount=amount, created_at=stamp,
                        kind=kind, credit_note_id=credit_note_id))
    session.flush()
    left = _balance(session, invoice)
    if invoice.status == InvoiceStatus.OPEN and left <= ZERO:
        invoice.status = InvoiceStatus.PAID
    return left


def add_credit(session: Session, customer_id: str, kind: str, amount: Decimal, key: str, on: date, *, actor: str,
               flow_run_id: str | None, payment_id: str | None = None, invoice_id: int | None = None,
               refund_id: str | None = None, reference: str | None = None) -> CustomerCredit:
    movement = CustomerCredit(movement_key=key, customer_id=customer_id, kind=kind, amount=amount, on=on,
                              payment_id=payment_id, invoice_id=invoice_id, refund_id=refund_id, reference=reference,
                              created_at=now(), actor=actor, flow_run_id=flow_run_id)
    session.add(movement)
    return movement


# --- credit notes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreditNoteResult:
    number: str
    credits: str                 # the credited invoice's number (or imported id)
    customer_id: str
    total_ttc: Decimal           # negative, as the ledger carries it
    to_invoice: Decimal          # what it took off the credited invoice's balance
    to_credit: Decimal           # what became the customer's credit
    balance: Decimal             # the credited invoice's balance afterwards
    created: bool = True         # False: the same request had issued it already
    stands: str = ""             # where its document and mail stand, when it was issued already

    def sentence(self) -> str:
        if not self.created:
            return (f"credit note {self.number} for this request on invoice {self.credits} already exists"
                    + (f" ({self.stands})" if self.stands else "") + "; nothing changed")
        credit = f"; {self.to_credit} EUR became {self.customer_id}'s credit" if self.to_credit else ""
        return (f"credit note {self.number} on invoice {self.credits} ({self.customer_id}): {-self.total_ttc} EUR TTC; "
                f"the invoice's balance is {self.balance} EUR{credit}")

    def summary(self) -> dict:
        """What the `credit-note` run returns (the CLI reads it)."""
        return {"number": self.number, "credits": self.credits, "customer_id": self.customer_id,
                "total_ttc": str(self.total_ttc), "to_invoice": str(self.to_invoice), "to_credit": str(self.to_credit),
                "balance": str(self.balance), "created": self.created}


def _invoice_by_reference(session: Session, reference: str) -> Invoice | None:
    query = select(Invoice).options(selectinload(Invoice.lines))
    return (session.scalar(query.where(Invoice.number == reference, Invoice.kind != InvoiceKind.CREDIT_NOTE))
            or session.scalar(query.where(Invoice.external_id == reference, Invoice.kind == InvoiceKind.IMPORTED)))


def _credit_note_said(session: Session, reference: str) -> str | None:
    """When `reference` numbers a credit note: said as such, with the invoice it credits (the one to name)."""
    note = session.scalar(select(Invoice).where(Invoice.number == reference, Invoice.kind == InvoiceKind.CREDIT_NOTE))
    if note is None:
        return None
    credited = session.get(Invoice, note.credits_id) if note.credits_id is not None else None
    return (f"{reference} is a credit note, not an invoice" + (f" (it credits invoice {invoice_label(credited)})"
                                                               if credited is not None else "")
            + ": a credit note is never credited; name the invoice to correct")


def _spelled_otherwise(session: Session, reference: str) -> str:
    """`: the ledger has 'F2026-0001' (...)` when an invoice is numbered or imported as `reference` in another
    case: ids are compared exactly, and the refusal names the one meant."""
    lowered = reference.lower()
    for column, kind in ((Invoice.number, Invoice.kind != InvoiceKind.CREDIT_NOTE),
                         (Invoice.external_id, Invoice.kind == InvoiceKind.IMPORTED)):
        found = session.scalar(select(column).where(func.lower(column) == lowered, kind).limit(1))
        if found is not None:
            return f": the ledger has {found!r} (ids are compared exactly: write {found!r})"
    return ""


def _earlier_notes(session: Session, invoice_id: int) -> list[Invoice]:
    """The credit notes already issued on an invoice, with their lines: what they credited in all, which
    lines they credited whole, and whether one is the twin of a note asked again."""
    return session.scalars(select(Invoice).options(selectinload(Invoice.lines))
                           .where(Invoice.credits_id == invoice_id, Invoice.kind == InvoiceKind.CREDIT_NOTE)
                           .order_by(Invoice.id)).all()


def issue_credit_note(session: Session, reference: str, *, request: str, reason: str, requested_by: str,
                      positions: list[int] | None = None, amount: Decimal | None = None, wanted_on: date | None = None,
                      again: bool = False, again_said: str = "say --again", actor: str, flow_run_id: str | None,
                      invoice_language: str = Terms().invoice_language) -> CreditNoteResult:
    """Issue a credit note on the invoice `reference` (a number, or an imported invoice's id), numbered in the
    invoice series: French practice allows either, and one series keeps one gapless, chronological count of
    every document that moves a customer's account. `request` keys it (a flow run, or an imported row's id).
    A run started again after one that was killed once it had issued its note is a new request: an amount
    credited already on the invoice for the same reason is refused unless `again` says it is meant (the
    refusal tells how: `again_said`, the command's --again or an import row's column)."""
    key = keys.credit_note(request)
    done = session.scalar(select(Invoice).where(Invoice.invoice_key == key))
    if done is not None:
        credited = session.get(Invoice, done.credits_id)
        return CreditNoteResult(done.number, invoice_label(credited), done.customer_id, done.total_ttc, ZERO, ZERO,
                                _balance(session, credited), created=False, stands=where_it_stands(session, done))
    invoice = _invoice_by_reference(session, reference)
    if invoice is None:
        raise CorrectionRefused(_credit_note_said(session, reference)
                                or f"no issued invoice has the number (or imported id) {quoted(reference)}"
                                + _spelled_otherwise(session, reference), "invoice")
    if invoice.status == InvoiceStatus.DRAFT:
        raise CorrectionRefused(f"invoice {reference} is a draft: refuse the close instead of crediting it", "invoice")
    if invoice.status in NOTHING_LEFT:
        raise CorrectionRefused(f"invoice {reference} is {in_words(invoice.status)}: it asks for nothing, so nothing is credited",
                                "invoice")
    if not requested_by.strip():
        raise CorrectionRefused("--requested-by: say who asks for the credit note", "requested_by")
    # the credited invoice locked first: two credit notes at once never both find it uncredited
    session.execute(select(Invoice.id).where(Invoice.id == invoice.id).with_for_update())
    session.refresh(invoice)
    lines = [Line(line.description, line.category, line.quantity, line.unit_price, line.amount_ht, line.vat_rate,
                  line.service_month) for line in invoice.lines]
    language = language_of(session.get(Customer, invoice.customer_id).language, invoice_language)
    if not lines:  # an imported invoice known by its total only
        lines = [Line(invoice.description or speak(language).say("Imported invoice"), "imported", Decimal(1),
                      invoice.total_ht,
                      invoice.total_ht, _rate(invoice))]
    earlier = _earlier_notes(session, invoice.id)
    if amount is not None and not again:
        for twin in earlier:
            if -twin.total_ttc == amount and twin.description == reason.strip():
                raise CorrectionRefused(f"credit note {twin.number} already credits {amount} TTC on invoice "
                                        f"{reference} for the same reason ({where_it_stands(session, twin)}): "
                                        f"to issue another, {again_said}", "again")
    credited_ttc = -sum((note.total_ttc for note in earlier), ZERO)
    whole = frozenset(line.credited_position for note in earlier for line in note.lines
                      if line.credited_position is not None)
    made, sums = credit_note(lines, invoice.total_ttc, credited_ttc, positions=positions, amount=amount,
                             reason=reason, credited=whole, language=language)
    # the day asked (an import row's `issued_on`); refused, not moved, when it lies after today (a document
    # is dated the day it is made or earlier), before the credited invoice or before the latest number of
    # any year: the person who chose it decides
    today = today_paris()
    if wanted_on is not None and wanted_on > today:
        raise CorrectionRefused(f"{wanted_on} is after today ({today}): a credit note is dated the day it is "
                                f"issued or earlier; import the row on or after that day", "issued_on")
    issued_on = wanted_on or today
    try:
        [number] = next_numbers(session, issued_on, 1, corrects=Corrects(invoice_label(invoice), invoice.issued_on),
                                said=None if wanted_on else f"today ({today})")
    except OutOfOrder as refused:
        raise CorrectionRefused(str(refused), "issued_on") from None
    stamp = now()
    note = Invoice(invoice_key=key, number=number, customer_id=invoice.customer_id, kind=InvoiceKind.CREDIT_NOTE,
                   month=month_key(issued_on), status=InvoiceStatus.PAID, issued_on=issued_on, due_on=None,
                   total_ht=sums.ht, total_vat=sums.vat, total_ttc=sums.ttc, description=reason.strip(),
                   credits_id=invoice.id, created_at=stamp, finalised_at=stamp, flow_run_id=flow_run_id)
    note.lines = [InvoiceLine(position=position, description=line.description, category=line.category,
                              service_month=line.service_month, quantity=line.quantity, unit_price=line.unit_price,
                              amount_ht=line.amount_ht, vat_rate=line.vat_rate,
                              credited_position=positions[position - 1] if positions else None)
                  for position, line in enumerate(made, start=1)]
    session.add(note)
    session.flush()
    split, left = settle_credit_note(session, note, invoice, actor=actor, flow_run_id=flow_run_id)
    label = invoice_label(invoice)
    audit.record(session, "credit_note_issued", customer_id=invoice.customer_id, before={"balance": left + split.to_invoice},
                 actor=actor, flow_run_id=flow_run_id,
                 after={"number": number, "credits": label, "total_ttc": sums.ttc, "reason": reason.strip(),
                        "requested_by": requested_by.strip(), "lines": positions, "amount": amount,
                        "to_invoice": split.to_invoice, "to_credit": split.to_credit, "balance": left})
    return CreditNoteResult(number, label, invoice.customer_id, sums.ttc, split.to_invoice, split.to_credit, left)


def settle_credit_note(session: Session, note: Invoice, invoice: Invoice, *, actor: str,
                       flow_run_id: str | None):
    """Where an issued credit note's money goes: first off what is left to pay on the invoice it credits (the
    arrears ladder no longer chases that part), the rest to the customer's credit (applied at the next close,
    or refunded). Returns the split and the invoice's balance afterwards."""
    left = _balance(session, invoice)
    split = settle(-note.total_ttc, left)
    if split.to_invoice:
        left = settle_invoice(session, invoice, split.to_invoice, kind=SettlementKind.CREDIT_NOTE,
                              payment_id=keys.credit_note_settlement(note.number), on=note.issued_on,
                              credit_note_id=note.id)
    if split.to_credit:
        add_credit(session, invoice.customer_id, CreditMovement.CREDIT_NOTE, split.to_credit,
                   keys.credit_movement("credit-note", note.number), note.issued_on, actor=actor,
                   flow_run_id=flow_run_id, invoice_id=note.id)
    return split, left


def issue_given_back(session: Session, invoice: Invoice, lines: list[Line], *, key: str, reason: str, on: date,
                     month: str | None = None, actor: str, flow_run_id: str | None) -> CreditNoteResult:
    """A credit note the product issues itself (days a cancellation did not serve), with its own lines
    (negative), numbered now in the invoice series, on `invoice`; settled like any credit note. Keyed:
    the same `key` issues nothing twice."""
    done = session.scalar(select(Invoice).where(Invoice.invoice_key == key))
    if done is not None:
        return CreditNoteResult(done.number, invoice_label(invoice), done.customer_id, done.total_ttc, ZERO, ZERO,
                                _balance(session, invoice), created=False)
    sums = totals(lines)
    if sums.ttc >= 0:
        raise ValueError(f"{key}: a credit note gives money back (its total is below zero, not {sums.ttc})")
    session.execute(select(Invoice.id).where(Invoice.id == invoice.id).with_for_update())
    # the product chose it: moved forward, not refused, up to today (refused past it: a clock set back)
    try:
        issued_on = issue_date(session, on, corrects=Corrects(invoice_label(invoice), invoice.issued_on))
    except OutOfOrder as refused:
        raise OutOfOrder(f"{invoice.customer_id}: the credit note giving back days of {invoice_label(invoice)} "
                         f"not issued: {refused}") from None
    [number] = next_numbers(session, issued_on, 1, corrects=Corrects(invoice_label(invoice), invoice.issued_on))
    stamp = now()
    note = Invoice(invoice_key=key, number=number, customer_id=invoice.customer_id, kind=InvoiceKind.CREDIT_NOTE,
                   month=month or month_key(issued_on), status=InvoiceStatus.PAID, issued_on=issued_on, due_on=None,
                   total_ht=sums.ht, total_vat=sums.vat, total_ttc=sums.ttc, description=reason,
                   credits_id=invoice.id, created_at=stamp, finalised_at=stamp, flow_run_id=flow_run_id)
    note.lines = [InvoiceLine(position=position, description=line.description, category=line.category,
                              service_month=line.service_month, quantity=line.quantity, unit_price=line.unit_price,
                              amount_ht=line.amount_ht, vat_rate=line.vat_rate)
                  for position, line in enumerate(lines, start=1)]
    session.add(note)
    session.flush()
    split, left = settle_credit_note(session, note, invoice, actor=actor, flow_run_id=flow_run_id)
    label = invoice_label(invoice)
    audit.record(session, "credit_note_issued", customer_id=invoice.customer_id,
                 before={"balance": left + split.to_invoice}, actor=actor, flow_run_id=flow_run_id,
                 after={"number": number, "credits": label, "total_ttc": sums.ttc, "reason": reason,
                        "requested_by": "the product", "to_invoice": split.to_invoice, "to_credit": split.to_credit,
                        "balance": left})
    return CreditNoteResult(number, label, invoice.customer_id, sums.ttc, split.to_invoice, split.to_credit, left)


def _rate(invoice: Invoice) -> Decimal:
    return (invoice.total_vat / invoice.total_ht).quantize(Decimal("0.0001")) if invoice.total_ht else Decimal("0")


def _balance(session: Session, invoice: Invoice) -> Decimal:
    return balance(invoice.total_ttc, invoice.status, paid_by_invoice(session, [invoice.id]).get(invoice.id, ZERO))


# --- overpayments, refunds, credit applied at a close -------------------------------------------


def record_overpayment(session: Session, payment: Payment, customer_id: str, excess: Decimal, *, actor: str,
                       flow_run_id: str | None = None) -> None:
    """The part of a payment beyond its invoice's balance: money the vendor owes the customer."""
    add_credit(session, customer_id, CreditMovement.OVERPAYMENT, excess,
               keys.credit_movement("overpayment", payment.payment_id), payment.paid_on, actor=actor,
               flow_run_id=flow_run_id, payment_id=payment.payment_id, invoice_id=payment.invoice_id)


@dataclass(frozen=True)
class RefundResult:
    refund_id: str
    customer_id: str
    amount: Decimal
    credit_left: Decimal
    created: bool = True

    def sentence(self) -> str:
        if not self.created:
            return f"refund {self.refund_id} was recorded already; {self.customer_id}'s credit is {self.credit_left} EUR"
        return (f"refund {self.refund_id} to {self.customer_id}: {self.amount} EUR recorded; "
                f"credit left {self.credit_left} EUR")

    def summary(self) -> dict:
        """What the `refund` run returns (the CLI reads it)."""
        return {"refund_id": self.refund_id, "customer_id": self.customer_id, "amount": str(self.amount),
                "credit_left": str(self.credit_left), "created": self.created}


def record_refund(session: Session, customer_id: str, amount: Decimal, *, refund_id: str, reference: str,
                  refunded_on: date, actor: str, flow_run_id: str | None) -> RefundResult:
    """Money paid back to a customer, never more than its credit (the customer row is locked meanwhile)."""
    customer = session.get(Customer, customer_id, with_for_update=True)
    if customer is None:
        raise CorrectionRefused(f"no customer {quoted(customer_id)}", "customer")
    done = session.scalar(select(CustomerCredit).where(CustomerCredit.refund_id == refund_id))
    if done is not None:
        if done.customer_id != customer_id or -done.amount != amount:
            raise CorrectionRefused(f"refund {refund_id} was recorded already for {done.customer_id}, "
                                    f"{-done.amount} EUR: a refund id names one refund", "refund")
        return RefundResult(refund_id, customer_id, amount, credit_of(session, [customer_id]).get(customer_id, ZERO),
                            created=False)
    # ids are unique ignoring case, as the refunds import has them (index of migration 0016): `rf-a` is `RF-A`
    other = session.scalar(select(CustomerCredit.refund_id)
                           .where(func.lower(CustomerCredit.refund_id) == refund_id.lower()).limit(1))
    if other is not None:
        raise CorrectionRefused(f"{refund_id!r} already exists as {other!r}: ids are unique ignoring case (write "
                                f"{other!r} for that one, another id for a new one)", "refund")
    if amount <= ZERO:
        raise CorrectionRefused(f"{amount}: a refund is a positive amount")
    # one bank transfer is one refund: under the customer's lock (above), no other refund of this customer
    # can take the reference between this look and the write; references are compared by their normalised
    # form (policy.corrections.reference_key): `bank-77` and `BANK 77` are the transfer `BANK-77` was
    key = reference_key(reference)
    if not key:
        raise CorrectionRefused(f"bank reference {quoted(reference)} holds only spaces, punctuation and symbols", "reference")
    earlier = session.execute(select(CustomerCredit.refund_id, CustomerCredit.reference, CustomerCredit.on)
                              .where(CustomerCredit.customer_id == customer_id, CustomerCredit.refund_id.is_not(None),
                                     CustomerCredit.reference.is_not(None))
                              .order_by(CustomerCredit.on, CustomerCredit.id)).all()
    for used, used_reference, used_on in earlier:
        if reference_key(used_reference) == key:
            written = "" if used_reference == reference else (f" as {used_reference!r}; references are compared "
                                                              f"without case, accents, spaces, dashes, punctuation and symbols")
            raise CorrectionRefused(f"bank reference {quoted(reference)} is already refund {used}'s for {customer_id} "
                                    f"(refunded on {used_on}{written}): one bank transfer is one refund", "reference")
    credit = credit_of(session, [customer_id]).get(customer_id, ZERO)
    if amount > credit:
        raise CorrectionRefused(f"{amount} EUR: {customer_id}'s credit is {credit} EUR; a refund never exceeds it")
    early = refund_before_credit_problem(refunded_on, amount, session.execute(
        select(CustomerCredit.on, CustomerCredit.amount).where(CustomerCredit.customer_id == customer_id)).all())
    if early:
        raise CorrectionRefused(early, "refunded_on")
    add_credit(session, customer_id, CreditMovement.REFUND, -amount, keys.credit_movement("refund", refund_id),
               refunded_on, actor=actor, flow_run_id=flow_run_id, refund_id=refund_id, reference=reference)
    audit.record(session, "refund_recorded", customer_id=customer_id, before={"credit": credit}, actor=actor,
                 flow_run_id=flow_run_id, after={"refund_id": refund_id, "amount": amount, "reference": reference,
                                                 "refunded_on": refunded_on, "credit": credit - amount})
    return RefundResult(refund_id, customer_id, amount, credit - amount)


@dataclass
class Applied:
    invoices: dict[str, Decimal] = field(default_factory=dict)   # number -> credit applied


def apply_credits(session: Session, invoice_ids: list[int], on: date, *, actor: str, flow_run_id: str | None) -> Applied:
    """At a close: each customer's credit settles its new invoice, as far as it goes (seed 003's double
    payment is given back this way unless finance refunds it before the close)."""
    applied = Applied()
    # only a customer with credit can settle anything: the others' invoices and balances are not even read (a
    # close has one invoice per customer: 10,000 of them were 10,000 balance queries), and the invoices are
    # read in slices so that no statement carries more parameters than a database takes
    with_movements = set(session.scalars(select(CustomerCredit.customer_id).distinct()))
    customers, slices = set(), [invoice_ids[start:start + 5000] for start in range(0, len(invoice_ids), 5000)]
    if with_movements:
        for ids in slices:
            customers.update(session.scalars(select(Invoice.customer_id).where(Invoice.id.in_(ids))))
    holders = with_movements & customers
    # the customers with credit locked (in id order), as a refund locks its customer: never both spend it
    if holders:
        session.execute(select(Customer.customer_id).where(Customer.customer_id.in_(sorted(holders)))
                        .order_by(Customer.customer_id).with_for_update())
    credits = {customer: credit for customer, credit in credit_of(session, sorted(holders)).items() if credit > ZERO}
    invoices = [] if not credits else sorted(
        (invoice for ids in slices for invoice in session.scalars(
            select(Invoice).where(Invoice.id.in_(ids), Invoice.customer_id.in_(sorted(credits))))),
        key=lambda invoice: invoice.number)
    paid = paid_by_invoice(session, [invoice.id for invoice in invoices]) if invoices else {}
    for invoice in invoices:
        credit = credits[invoice.customer_id]
        split = settle(credit, balance(invoice.total_ttc, invoice.status, paid.get(invoice.id, ZERO)))
        if split.to_invoice <= ZERO:
            continue
        settle_invoice(session, invoice, split.to_invoice, kind=SettlementKind.CREDIT,
                       payment_id=keys.credit_settlement(invoice.number), on=on)
        add_credit(session, invoice.customer_id, CreditMovement.APPLIED, -split.to_invoice,
                   keys.credit_movement("applied", invoice.number), on, actor=actor, flow_run_id=flow_run_id,
                   invoice_id=invoice.id)
        credits[invoice.customer_id] = credit - split.to_invoice
        applied.invoices[invoice.number] = split.to_invoice
    if applied.invoices:
        audit.record(session, "credits_applied", customer_id=None, before=None, actor=actor, flow_run_id=flow_run_id,
                     after={"on": on, "invoices": applied.invoices})
    return applied


def prepaid_of(session: Session, invoice_id: int) -> Decimal:
    """The customer's credit applied to an invoice when it was issued (printed as already settled)."""
    total = session.scalar(select(func.sum(Payment.amount)).where(Payment.invoice_id == invoice_id,
                                                                   Payment.kind == SettlementKind.CREDIT))
    return Decimal(total or 0).quantize(Decimal("0.01"))
