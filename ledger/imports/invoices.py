"""The invoices file: history, so a changed row is refused, except an unpaid invoice's status (a
dispute or a write-off comes after the invoice; re-importing its row is how ops record it).

Each imported invoice bills the subscription for a service period (`period_start`..`period_end`,
inclusive), unless its `subscription` column says `false`; without a period, a monthly customer's
invoice covers the calendar month before `issued_on` and an annual one the twelve months from its month
(policy.billed_through.default_period). The period is stored with the invoice, so the customer's
billed-through day is read, never guessed, and its `month` is the service month (the month the period
starts). An invoice that bills no subscription and gives no period has none, and keeps its issue month.
Ledgers imported before got their default periods from migration 0012.

An invoice the product issued is disputed the same way: a row whose `invoice_id` is its number, with
its customer, dates and amount HT as issued, and the new status (`disputed`, `written_off`, or `open`
again). It is never voided: an issued invoice is corrected by a credit note."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Callable

from sqlalchemy.orm import Session

from ledger import audit, keys
from ledger.billed import billed_periods, refresh_subscription_starts
from ledger.db import now
from ledger.imports.rows import (ImportResult, Problems, Row, by_key, case_clashes, duplicates, history_row,
                                 require_customers)
from ledger.models import Invoice, InvoiceLine
from policy.billed_through import BilledPeriod, cycle_problems, default_period, overlap_problem, period_problems
from policy.calendar import month_key
from policy.chronology import before_start_problem
from policy.invoicing import UNIT_PRICE_LIMIT
from policy.language import language_of, speak
from policy.money import vat_of
from policy.terms import Terms
from policy.vocabulary import InvoiceKind, InvoiceStatus


#: the product's own invoice and credit-note numbers (ledger.numbering): an imported id of this form would name a
#: document the product numbers later, and payments and credit notes would find the wrong one
PRODUCT_NUMBER = re.compile(r"[0-9]{4}-[0-9]{6}")


def check(session: Session, rows: list[Row], problems: Problems, terms: Terms, actor: str,
          result: ImportResult) -> Callable[[], None]:
    duplicates(rows, lambda row: row.values.get("invoice_id"), "invoice_id", problems)
    customers = require_customers(session, rows, problems)
    existing = by_key(session, Invoice, Invoice.external_id,
                      [row.values["invoice_id"] for row in rows if row.values.get("invoice_id")])
    numbered = by_key(session, Invoice, Invoice.number,
                      [row.values["invoice_id"] for row in rows if row.values.get("invoice_id") not in (None, *existing)])
    issued = {number: invoice for number, invoice in numbered.items()
              if invoice.kind in (InvoiceKind.MONTHLY, InvoiceKind.PENALTY)}
    credit_notes = {number for number, invoice in numbered.items() if invoice.kind == InvoiceKind.CREDIT_NOTE}
    # an id the ledger holds in another case, as an imported id or as a number the product issued
    clashed = case_clashes(session, rows, "invoice_id", Invoice.external_id, existing, problems)
    clashed |= case_clashes(session, rows, "invoice_id", Invoice.number, {*existing, *issued}, problems)
    new_rows, status_changes = [], []
    # the subscription periods billed to the file's customers, by the product or an import, and then by the
    # rows above: a new row billing any of their days again is refused (the close guards the other way round)
    billed = billed_periods(session, customers)
    for row in rows:
        values = row.values
        if row.number in clashed:
            continue
        if values.get("issued_on") and values.get("due_on") and values["due_on"] < values["issued_on"]:
            problems.add(row.number, "due_on", f"due {values['due_on']} before it was issued ({values['issued_on']})")
        told = period_problems(values.get("period_start"), values.get("period_end"), values.get("issued_on"))
        for column, reason in told:
            problems.add(row.number, column, reason)
        product = issued.get(values.get("invoice_id"))
        if product is not None:
            _product_status(row, product, problems, result, status_changes)
            continue
        stored = existing.get(values.get("invoice_id"))
        if stored is None and values.get("invoice_id") in credit_notes:
            problems.add(row.number, "invoice_id", f"{values['invoice_id']!r} is a credit note the product issued, not "
                         f"an invoice: its status is not imported (a credit note is settled when it is issued)")
            continue
        if stored is None and product_number_problem(values.get("invoice_id") or ""):
            problems.add(row.number, "invoice_id", product_number_problem(values["invoice_id"]))
            continue
        if stored is None:
            if not told:
                _cycle(row, customers, problems)
            _after_contract_start(row, customers.get(values.get("customer_id")), problems)
            _fits_the_ledger(row, problems)
            if not told:   # last: a row refused for another reason bills nothing the rows below could meet
                _not_billed_yet(row, customers.get(values.get("customer_id")), billed, problems)
            new_rows.append(row)
            continue
        line = stored.lines[0] if stored.lines else None
        comparable = {"customer_id": stored.customer_id, "issued_on": stored.issued_on, "due_on": stored.due_on,
                      "amount_ht": stored.total_ht, "vat_rate": line.vat_rate if line else None,
                      "description": stored.description,
                      "status": InvoiceStatus.OPEN if stored.status == InvoiceStatus.PAID else stored.status,
                      "period_start": stored.period_start, "period_end": stored.period_end,
                      "subscription": stored.bills_subscription}
        given = dict(values)
        if any(name in given for name in ("period_start", "period_end", "subscription")) \
                and stored.customer_id in customers:  # an empty cell means the default, as at the first import
            given["subscription"], given["period_start"], given["period_end"] = _service(
                values, customers[stored.customer_id].billing_cycle)
            if not any(name in values for name in ("period_start", "period_end")):
                del given["period_start"], given["period_end"]
            if "subscription" not in values:
                del given["subscription"]
        if given.get("status") is None:
            given["status"] = InvoiceStatus.OPEN
        if given.get("vat_rate") is None and stored.customer_id in customers:
            given["vat_rate"] = comparable["vat_rate"]
        wanted = given.pop("status")
        if not history_row(Row(row.number, given), comparable, problems, "invoice_id", "invoice"):
            continue
        if wanted == comparable["status"]:
            result.unchanged += 1
        elif stored.status == InvoiceStatus.PAID:
            problems.add(row.number, "status", f"{values['invoice_id']!r} is paid: its status cannot become {wanted!r}")
        elif stored.status == InvoiceStatus.VOID and _bills_again(stored, billed, problems, row):
            continue
        else:
            status_changes.append((stored, wanted))

    def write() -> None:
        stamp = now()
        for row in new_rows:
            values = row.values
            customer = customers[values["customer_id"]]
            vat_rate = values.get("vat_rate") if values.get("vat_rate") is not None else customer.vat_rate
            vat = vat_of(values["amount_ht"], vat_rate)
            bills, period_start, period_end = _service(values, customer.billing_cycle)
            invoice = Invoice(
                invoice_key=keys.imported_invoice(values["invoice_id"]), external_id=values["invoice_id"],
                customer_id=customer.customer_id, kind=InvoiceKind.IMPORTED,
                month=month_key(period_start or values["issued_on"]),
                status=values.get("status") or InvoiceStatus.OPEN, issued_on=values["issued_on"], due_on=values["due_on"],
                total_ht=values["amount_ht"], total_vat=vat, total_ttc=values["amount_ht"] + vat,
                description=values.get("description"), created_at=stamp, finalised_at=stamp,
                period_start=period_start, period_end=period_end, bills_subscription=bills,
            )
            invoice.lines.append(InvoiceLine(
                # the line a credit note on it credits (« Avoir : Facture importée … »): the customer's language
                position=1, description=values.get("description") or speak(
                    language_of(customer.language, terms.invoice_language)).say(
                    "Imported invoice {number}", number=values["invoice_id"]),
                category="imported", quantity=Decimal(1), unit_price=values["amount_ht"],
                amount_ht=values["amount_ht"], vat_rate=vat_rate,
            ))
            session.add(invoice)
        result.inserted += len(new_rows)
        refresh_subscription_starts(session, {row.values["customer_id"] for row in new_rows})
        if new_rows:
            audit.record(session, "invoices_imported", customer_id=None, before=None, actor=actor,
                         after={"file": result.file, "invoices": [row.values["invoice_id"] for row in new_rows]})
        for invoice, status in status_changes:
            label = invoice.external_id or invoice.number
            audit.record(session, "invoice_status_changed", customer_id=invoice.customer_id, actor=actor,
                         before={"invoice": label, "status": invoice.status},
                         after={"invoice": label, "status": status, "file": result.file})
            invoice.status = status
        result.updated += len(status_changes)

    return write


def _service(values: dict, billing_cycle: str):
    """(bills the subscription, period start, period end) of a row: the period given, else the default
    one of the customer's cycle; an invoice that bills no subscription has no period unless it gives one
    (and then keeps its issue month as its month)."""
    bills = values.get("subscription")
    bills = True if bills is None else bills
    if values.get("period_start") is not None and values.get("period_end") is not None:
        return bills, values["period_start"], values["period_end"]
    if not bills or values.get("issued_on") is None:
        return bills, None, None
    return True, *default_period(values["issued_on"], billing_cycle)


def _cycle(row: Row, customers: dict, problems: Problems) -> None:
    """A new row's subscription period (given, and found sound by `period_problems`) checked against its
    customer's billing cycle and its issue date (policy.billed_through.cycle_problems): the billed-through day
    it sets must not stop the customer's billing past what one invoice bills. An invoice imported before keeps
    its period (a re-import compares it, unchanged)."""
    values = row.values
    start, end, issued_on = values.get("period_start"), values.get("period_end"), values.get("issued_on")
    customer = customers.get(values.get("customer_id"))
    if values.get("subscription") is False or customer is None or None in (start, end, issued_on):
        return
    for column, reason in cycle_problems(start, end, issued_on, customer.billing_cycle):
        problems.add(row.number, column, reason)


def _not_billed_yet(row: Row, customer, billed: dict[str, list[BilledPeriod]], problems: Problems) -> None:
    """A new invoice's subscription period (given, or its default: the month before a monthly customer's
    `issued_on`, an annual customer's twelve months) bills no day billed already, by an invoice of the ledger
    or a row above; a void invoice bills nothing. Accepted, its period counts for the rows below."""
    values = row.values
    if customer is None or values.get("issued_on") is None or values.get("status") == InvoiceStatus.VOID \
            or any(number == row.number for number, _, _ in problems.items):   # told already: no guess of a default
        return
    bills, start, end = _service(values, customer.billing_cycle)
    if not bills or start is None or end is None:
        return
    problem = overlap_problem(start, end, billed.get(customer.customer_id, []))
    if problem:
        problems.add(row.number, "period_start" if values.get("period_start") is not None else "issued_on", problem)
        return
    billed.setdefault(customer.customer_id, []).append(
        BilledPeriod(start, end, f"{values.get('invoice_id')} (row {row.number} of this file)"))


def _bills_again(stored: Invoice, billed: dict[str, list[BilledPeriod]], problems: Problems, row: Row) -> bool:
    """A void invoice made open (or disputed, or written off) again bills its period again: refused (True) when
    a day of it was billed since, by another invoice or a row above; else its period counts from here on."""
    if not stored.bills_subscription or stored.period_start is None or stored.period_end is None:
        return False
    problem = overlap_problem(stored.period_start, stored.period_end, billed.get(stored.customer_id, []))
    if problem:
        problems.add(row.number, "status", f"{stored.external_id!r} was void: made {row.values.get('status') or 'open'} "
                                           f"again, {problem}")
        return True
    billed.setdefault(stored.customer_id, []).append(
        BilledPeriod(stored.period_start, stored.period_end, f"{stored.external_id} (row {row.number} of this file)"))
    return False


def product_number_problem(invoice_id: str) -> str | None:
    """Why an imported invoice may not have this id: it has the form of the product's own numbers, and the
    import is given it for no document the product issued (the caller knows that)."""
    if not PRODUCT_NUMBER.fullmatch(invoice_id):
        return None
    return (f"{invoice_id!r} has the form of the product's own numbers (YYYY-NNNNNN) and no document the product "
            f"issued has it: a number names one document, so give the old system's invoice another id (a prefix, "
            f"e.g. OLD-{invoice_id})")


def _fits_the_ledger(row: Row, problems: Problems) -> None:
    """A new invoice's figures fit the ledger's columns: its one line's unit price (Numeric(14,4), 10 integer
    digits) holds its amount; beyond it PostgreSQL refused the whole file with a database error, and SQLite kept
    a figure no document can hold. Within it, its total with VAT (a rate of at most 1) fits Numeric(14,2)."""
    amount = row.values.get("amount_ht")
    if amount is not None and abs(amount) > UNIT_PRICE_LIMIT:
        problems.add(row.number, "amount_ht", f"{amount} is more than an invoice line keeps ({UNIT_PRICE_LIMIT})")


def _after_contract_start(row: Row, customer, problems: Problems) -> None:
    """A new invoice bills no subscription day before the customer's contract_start (policy.chronology)."""
    if customer is None or customer.contract_start is None or row.values.get("issued_on") is None:
        return
    bills, period_start, _ = _service(row.values, customer.billing_cycle)
    if bills and period_start is not None:
        column = "period_start" if row.values.get("period_start") is not None else "issued_on"
        problem = before_start_problem(period_start, customer.contract_start, "the service period starting")
        if problem:
            problems.add(row.number, column, problem)


def _product_status(row: Row, invoice: Invoice, problems: Problems, result: ImportResult, changes: list) -> None:
    """A row naming an invoice the product issued: only its status may change, and never to `void`."""
    values = row.values
    comparable = {"customer_id": invoice.customer_id, "issued_on": invoice.issued_on, "due_on": invoice.due_on,
                  "amount_ht": invoice.total_ht}
    given = {name: value for name, value in values.items() if name in comparable or name == "invoice_id"}
    if not history_row(Row(row.number, given), comparable, problems, "invoice_id", "invoice", issued=True):
        return
    wanted = values.get("status") or InvoiceStatus.OPEN
    current = InvoiceStatus.OPEN if invoice.status == InvoiceStatus.PAID else invoice.status
    if wanted == current:
        result.unchanged += 1
    elif wanted == InvoiceStatus.VOID:
        problems.add(row.number, "status", f"{values['invoice_id']!r} was issued by this product: correct it with a "
                                           f"credit note (lifecycle run credit-note), never void it")
    elif invoice.status == InvoiceStatus.PAID:
        problems.add(row.number, "status", f"{values['invoice_id']!r} is paid: its status cannot become {wanted!r}")
    else:
        changes.append((invoice, wanted))
