"""What the vendor owes the tax administration after an invoice is issued: 212 Encaissée for a French business's
invoice once it is paid, and the e-reporting of the other customers' invoices and payments.

Why 212: services' VAT is due when the price is cashed unless the vendor opted for VAT on debits (the seller
block's `vat_on_debits`); the payment then reaches the administration as a status the vendor sends on the
invoice, through its platform: a CDAR flow (reports/einvoicing_cdar.py) naming the invoice, the amount and the
day, once per payment (tracking id `<number>-212-<payment_id>`, ledger.keys). A refund gives money back: the
same message with the negative amount (`<number>-212-refund-<refund_id>`), on the invoice whose cash or credit
note made the credit refunded (the latest before the refund among the customer's invoices on the platform).

Why e-reporting: a foreign business's or a private person's invoice is mailed, not deposited, yet its figures
are due too: the transactions of each ten days and the payments of each month (policy/ereporting.py), one flow
per period and processing rule (B2BInt, B2C), tracking id `e-reporting-<rule>-<period>`. A period without
anything for a rule deposits nothing. Every flow goes through operations.einvoicing.deposit_once: never twice.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import ClassVar

from sqlalchemy import select

from ledger import keys
from ledger.db import now, session_scope
from ledger.einvoicing import EinvoiceFlow
from ledger.models import Customer, CustomerCredit, Invoice, Payment
from operations.einvoicing import Deposited, FlowSpec, deposit_once
from operations.results import RunResult
from policy.calendar import today_paris
from policy.einvoicing import BuyerKind, FlowKind, FlowState, ProcessingRule, ROUTES, Syntax, reported
from policy.ereporting import Period, ReportKind, ended_before, period as period_named
from policy.invoicing import NO_VAT
from policy.money import cents
from policy.refusals import Refusal
from policy.vocabulary import CreditMovement, InvoiceKind, InvoiceStatus, SettlementKind
from reports.einvoicing_cdar import Cashed, cashed_message
from reports.einvoicing_ereporting import EReport, PaymentData, RateTotals, Transaction, ereport_xml, split_by_rate

ZERO = Decimal("0.00")
#: the flows of e-reporting: the closest of the platform's syntaxes (the data are an invoice's, CII's model)
E_REPORTING_SYNTAX = Syntax.CII


def vat_on_receipt(seller) -> bool:
    """VAT is due on receipt (services' default) unless the seller opted for debits."""
    return not getattr(seller, "vat_on_debits", False)


# --- 212 Encaissée ---------------------------------------------------------------------------------------

@dataclass
class CashedSent:
    """What `send_cashed` did: each status flow it deposited (or found deposited), and what waits."""
    sent: list[dict] = field(default_factory=list)        # tracking_id, invoice, amount, on, flow_id, already
    waiting: list[str] = field(default_factory=list)      # flows the network kept pending, with why
    refused: list[str] = field(default_factory=list)      # flows the platform refused, with its reason
    unlinked: list[str] = field(default_factory=list)     # refunds no invoice on the platform had made
    skipped: str | None = None                            # why nothing was looked at (no platform, VAT on debits)

    def line(self) -> str:
        if self.skipped:
            return f"212 Encaissée: none sent ({self.skipped})"
        new = [item for item in self.sent if not item["already"]]
        return (f"212 Encaissée: {len(new)} sent" + (f", {len(self.waiting)} waiting" if self.waiting else "")
                + (f", {len(self.refused)} refused by the platform" if self.refused else ""))

    def summary(self) -> dict:
        return {"sent": self.sent, "waiting": self.waiting, "refused": self.refused, "unlinked": self.unlinked,
                "skipped": self.skipped}


def _on_platform(session) -> set[int]:
    """The invoices whose document the platform took."""
    return set(session.scalars(select(EinvoiceFlow.invoice_id).where(
        EinvoiceFlow.kind == FlowKind.DOCUMENT, EinvoiceFlow.state == FlowState.DEPOSITED,
        EinvoiceFlow.invoice_id.is_not(None))))


def _settled(session) -> set[str]:
    """The status flows the platform took or refused already (a pending one is sent again)."""
    return set(session.scalars(select(EinvoiceFlow.tracking_id).where(EinvoiceFlow.kind == FlowKind.STATUS,
                                                                     EinvoiceFlow.state != FlowState.PENDING)))


def _cashed(seller, tracking_id: str, invoice: Invoice, customer: Customer, amount: Decimal, on: date):
    """How the 212's message is made when it is sent: its values read now, while the session is open."""
    said = Cashed(message_id=tracking_id, invoice_number=invoice.number, invoice_issued_on=invoice.issued_on,
                  seller_siren=seller.siren, seller_name=seller.legal_name, buyer_siren=customer.siren,
                  buyer_name=customer.name, amount=amount, cashed_on=on, made_at=now())
    return lambda: cashed_message(said)


def _refunded_invoice(session, refund: CustomerCredit, on_platform: set[int]) -> Invoice | None:
    """The invoice a refund gives money back on: the latest, up to the refund, of the customer's credits made by
    an invoice's cash (an overpayment) or by a credit note on it, among invoices on the platform."""
    sources = session.scalars(select(CustomerCredit).where(
        CustomerCredit.customer_id == refund.customer_id,
        CustomerCredit.kind.in_([CreditMovement.OVERPAYMENT, CreditMovement.CREDIT_NOTE]),
        CustomerCredit.on <= refund.on, CustomerCredit.id < refund.id)
        .order_by(CustomerCredit.on.desc(), CustomerCredit.id.desc())).all()
    for source in sources:
        invoice = session.get(Invoice, source.invoice_id) if source.invoice_id is not None else None
        if invoice is not None and invoice.kind == InvoiceKind.CREDIT_NOTE and invoice.credits_id is not None:
            invoice = session.get(Invoice, invoice.credits_id)
        if invoice is not None and invoice.id in on_platform:
            return invoice
    return None


def _cashed_specs(session, seller) -> tuple[list[tuple[FlowSpec, dict]], list[str]]:
    on_platform, settled = _on_platform(session), _settled(session)
    specs: list[tuple[FlowSpec, dict]] = []
    rows = session.execute(select(Payment, Invoice, Customer).join(Invoice, Payment.invoice_id == Invoice.id)
                           .join(Customer, Invoice.customer_id == Customer.customer_id)
                           .where(Payment.kind == SettlementKind.PAYMENT, Invoice.id.in_(on_platform),
                                  Customer.buyer_kind == BuyerKind.FR_BUSINESS)
                           .order_by(Payment.paid_on, Payment.created_at, Payment.payment_id)).all()
    for payment, invoice, customer in rows:
        tracking = keys.einvoice_cashed(invoice.number, payment.payment_id)
        if tracking in settled:
            continue
        content = _cashed(seller, tracking, invoice, customer, payment.amount, payment.paid_on)
        specs.append((FlowSpec(tracking, FlowKind.STATUS, Syntax.CDAR, ProcessingRule.B2B, f"{tracking}.xml",
                               content, invoice_id=invoice.id, customer_id=customer.customer_id,
                               payment_id=payment.payment_id),
                      {"invoice": invoice.number, "amount": str(payment.amount), "on": payment.paid_on.isoformat()}))
    unlinked = []
    refunds = session.scalars(select(CustomerCredit).join(Customer, CustomerCredit.customer_id == Customer.customer_id)
                              .where(CustomerCredit.kind == CreditMovement.REFUND,
                                     Customer.buyer_kind == BuyerKind.FR_BUSINESS)
                              .order_by(CustomerCredit.on, CustomerCredit.id)).all()
    for refund in refunds:
        invoice = _refunded_invoice(session, refund, on_platform)
        if invoice is None:
            unlinked.append(f"refund {refund.refund_id} ({refund.customer_id}, {-refund.amount} EUR): no invoice of "
                            f"this customer on the platform made the credit it pays back")
            continue
        tracking = keys.einvoice_cashed_correction(invoice.number, refund.refund_id)
        if tracking in settled:
            continue
        customer = session.get(Customer, refund.customer_id)
        content = _cashed(seller, tracking, invoice, customer, refund.amount, refund.on)   # negative
        specs.append((FlowSpec(tracking, FlowKind.STATUS, Syntax.CDAR, ProcessingRule.B2B, f"{tracking}.xml",
                               content, invoice_id=invoice.id, customer_id=customer.customer_id,
                               payment_id=refund.refund_id),
                      {"invoice": invoice.number, "amount": str(refund.amount), "on": refund.on.isoformat()}))
    return specs, unlinked


def send_cashed(settings, *, actor: str, flow_run_id: str | None, engine=None) -> CashedSent:
    """Deposit the 212 Encaissée of every payment (and the correction of every refund) not sent yet, on invoices
    of French businesses the platform took; nothing without a platform, nor when the seller opted for debits."""
    if not settings.einvoicing.configured():
        return CashedSent(skipped="no e-invoicing platform is set")
    if not vat_on_receipt(settings.seller):
        return CashedSent(skipped="the seller opted for VAT on debits: no payment status is owed")
    with session_scope(engine) as session:
        specs, unlinked = _cashed_specs(session, settings.seller)
    result = CashedSent(unlinked=unlinked)
    silent = False
    for spec, said in specs:
        if silent:  # one request's time-outs per run, not one per payment: the next run sends them
            result.waiting.append(f"{spec.tracking_id}: {NOT_TRIED}")
            continue
        done = deposit_once(settings.einvoicing, spec, actor=actor, flow_run_id=flow_run_id, engine=engine)
        _tell(result.sent, result.waiting, result.refused, done, said)
        silent = done.silent
    return result


#: what a run says of a flow it did not send because the platform did not answer for an earlier one
NOT_TRIED = "not tried, the platform did not answer: sent by the next run"


def _tell(sent: list, waiting: list, refused: list, done: Deposited, said: dict) -> None:
    if done.state == FlowState.DEPOSITED:
        sent.append({"tracking_id": done.tracking_id, **said, "flow_id": done.flow_id, "already": done.already})
    elif done.state == FlowState.REFUSED:
        refused.append(f"{done.tracking_id}: {done.reason}")
    else:
        waiting.append(f"{done.tracking_id}: {done.reason}")


class PeriodRefused(Refusal):
    """A period that is no e-reporting period, or not ended yet."""


# --- e-reporting -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EReported(RunResult):
    """The e-reporting run's result: one row per flow deposited (or found deposited) per period and rule."""
    flow: ClassVar[str] = "e-reporting"
    periods: list = field(default_factory=list)          # the periods looked at
    reports: list = field(default_factory=list)          # period, rule, tracking_id, flow_id, already, counts, totals
    waiting: list = field(default_factory=list)
    refused: list = field(default_factory=list)
    skipped: str | None = None

    def line(self) -> str:
        if self.skipped:
            return f"e-reporting: nothing sent ({self.skipped})"
        new = [item for item in self.reports if not item["already"]]
        return (f"e-reporting of {', '.join(self.periods) or 'no period'}: {len(new)} report(s) sent, "
                f"{len(self.reports) - len(new)} sent before" + (f", {len(self.waiting)} waiting" if self.waiting
                                                                  else "")
                + (f", {len(self.refused)} refused by the platform" if self.refused else ""))


def _rate_totals(invoice: Invoice) -> tuple[RateTotals, ...]:
    """An invoice's tax base and VAT per rate (VAT rounded once per rate, as it was billed)."""
    bases: dict[Decimal, Decimal] = defaultdict(lambda: ZERO)
    for line in invoice.lines:
        bases[ZERO if line.category in NO_VAT else line.vat_rate] += line.amount_ht
    rates = tuple(RateTotals((rate * 100).quantize(Decimal("0.01")), base, cents(base * rate))
                  for rate, base in sorted(bases.items()))
    if not rates or sum((rate.total for rate in rates), ZERO) != invoice.total_ttc:
        # known by its totals only: one rate, as billed
        rate = (invoice.total_vat / invoice.total_ht * 100).quantize(Decimal("0.01")) if invoice.total_ht else ZERO
        rates = (RateTotals(rate, invoice.total_ht, invoice.total_vat),)
    return rates


def _reported_invoices(session, first: date, last: date):
    return session.execute(select(Invoice, Customer).join(Customer, Invoice.customer_id == Customer.customer_id)
                           .where(Invoice.number.is_not(None), Invoice.kind != InvoiceKind.IMPORTED,
                                  Invoice.status != InvoiceStatus.DRAFT, Invoice.issued_on >= first,
                                  Invoice.issued_on <= last,
                                  Customer.buyer_kind.in_([kind for kind in BuyerKind if reported(kind)]))
                           .order_by(Invoice.issued_on, Invoice.number)).all()


def _reported_payments(session, first: date, last: date):
    return session.execute(select(Payment, Invoice, Customer).join(Invoice, Payment.invoice_id == Invoice.id)
                           .join(Customer, Invoice.customer_id == Customer.customer_id)
                           .where(Payment.kind == SettlementKind.PAYMENT, Payment.paid_on >= first,
                                  Payment.paid_on <= last, Invoice.number.is_not(None),
                                  Invoice.kind != InvoiceKind.IMPORTED,
                                  Customer.buyer_kind.in_([kind for kind in BuyerKind if reported(kind)]))
                           .order_by(Payment.paid_on, Payment.payment_id)).all()


def ereports_of(session, seller, period: Period) -> dict[ProcessingRule, EReport]:
    """The period's reports, one per processing rule that has something to say."""
    transactions: dict[ProcessingRule, list[Transaction]] = defaultdict(list)
    payments: dict[ProcessingRule, list[PaymentData]] = defaultdict(list)
    if period.kind == ReportKind.TRANSACTIONS:
        for invoice, customer in _reported_invoices(session, period.first, period.last):
            transactions[ROUTES[customer.buyer_kind]].append(Transaction(
                invoice.number, "381" if invoice.kind == InvoiceKind.CREDIT_NOTE else "380", invoice.issued_on,
                customer.customer_id, str(customer.buyer_kind), customer.vat_number, _rate_totals(invoice)))
    elif vat_on_receipt(seller):
        for payment, invoice, customer in _reported_payments(session, period.first, period.last):
            payments[ROUTES[customer.buyer_kind]].append(PaymentData(
                invoice.number, payment.payment_id, payment.paid_on, payment.amount,
                split_by_rate(payment.amount, list(_rate_totals(invoice)))))
    return {rule: EReport(period.name, str(period.kind), str(rule), period.first, period.last, seller.siren,
                          getattr(seller, "vat_number", None), tuple(transactions[rule]), tuple(payments[rule]))
            for rule in (ProcessingRule.B2B_INTERNATIONAL, ProcessingRule.B2C)
            if transactions[rule] or payments[rule]}


def checked_period(period: str) -> Period:
    """The period a run is asked for, or refused in one line saying the forms."""
    try:
        return period_named(period)
    except ValueError as error:
        raise PeriodRefused(f"--period {error}") from None


def report_period(settings, period: str, *, actor: str, flow_run_id: str | None, engine=None) -> EReported:
    """Deposit the e-reporting of one period (`YYYY-MM-D1..D3`: transactions; `YYYY-MM`: payments), one flow per
    processing rule with something to report, each once. A period not ended yet is refused: its data are not
    all known, and a report is sent once."""
    asked = checked_period(period)
    today = today_paris()
    if asked.last >= today:
        raise PeriodRefused(f"--period {asked.name} ends on {asked.last} (today is {today}): a period is reported "
                            f"once it has ended")
    return _report(settings, [asked], actor=actor, flow_run_id=flow_run_id, engine=engine)


def report_due(settings, today: date | None = None, *, actor: str, flow_run_id: str | None,
               engine=None) -> EReported:
    """Deposit the e-reporting of every period ended lately (policy.ereporting.ended_before): what the scheduled
    run does; periods sent before are found sent and not sent again."""
    return _report(settings, ended_before(today or today_paris()), actor=actor, flow_run_id=flow_run_id,
                   engine=engine)


def _report(settings, periods: list[Period], *, actor, flow_run_id, engine) -> EReported:
    names = [item.name for item in periods]
    if not settings.einvoicing.configured():
        return EReported(periods=names, skipped="no e-invoicing platform is set")
    reports, waiting, refused, silent = [], [], [], False
    for item in periods:
        with session_scope(engine) as session:
            found = ereports_of(session, settings.seller, item)
        for rule, report in found.items():
            tracking = keys.e_reporting(item.name, str(rule))
            spec = FlowSpec(tracking, FlowKind.E_REPORTING, E_REPORTING_SYNTAX, rule, f"{tracking}.xml",
                            (lambda report=report: ereport_xml(report)), period=item.name)
            said = {"period": item.name, "rule": str(rule), "kind": str(item.kind),
                    "transactions": len(report.transactions), "payments": len(report.payments),
                    "total_ttc": str(sum((rate.total for line in report.transactions for rate in line.rates), ZERO)),
                    "paid": str(sum((line.amount for line in report.payments), ZERO))}
            if silent:
                waiting.append(f"{tracking}: {NOT_TRIED}")
                continue
            done = deposit_once(settings.einvoicing, spec, actor=actor, flow_run_id=flow_run_id, engine=engine)
            _tell(reports, waiting, refused, done, said)
            silent = done.silent
    return EReported(periods=names, reports=reports, waiting=waiting, refused=refused)
