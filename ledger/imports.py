"""Imports of the five files of INTERFACES.md: all or nothing.

A file is read whole, every cell checked (types, enums, references, duplicates, the seed's rules),
compared with what the ledger already holds, and only then written in one transaction. A bad file
yields every error as `file:row:column: reason` and writes nothing. Re-importing a file is a
no-op; a changed customer row updates the customer (and the audit says what changed); a changed
row of any other file is an error, because invoices, payments and support time are history. The
one exception is an unpaid invoice's status: a dispute or a write-off comes after the invoice, and
re-importing its row with the new status is how ops record it (arrears then leave it aside).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ledger import audit
from ledger.db import now, session_scope
from ledger.models import Customer, Intervention, Invoice, InvoiceLine, Payment, StandbyPeriod
from ledger.queries import paid_by_invoice
from ledger.readers import Sheet, as_text, read_sheet
from policy.calendar import NonexistentLocalTime, month_key, paris_date, paris_instant
from policy.categories import CATEGORIES
from policy.money import parse_amount, vat_of
from policy.standby import REASONS, Period, default_end, overlapping, period_problems
from policy.terms import Terms

KINDS = ("customers", "invoices", "payments", "interventions", "standby")
PAYMENT_METHODS = ("sepa", "card", "transfer", "transfer_installments", "other")
INVOICE_STATUSES = ("open", "disputed", "written_off", "void")
CHUNK = 900


class ImportRejected(Exception):
    def __init__(self, errors: list[str]):
        super().__init__(f"{len(errors)} error(s)")
        self.errors = errors


@dataclass
class ImportResult:
    kind: str
    file: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.file}: {self.rows} row(s): {self.inserted} new, {self.updated} updated, "
            f"{self.unchanged} unchanged"
        )


# --- cell parsers: raw cell -> value, or ValueError with the reason -------------------------------


def text(max_length: int) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        result = as_text(value)
        if len(result) > max_length:
            raise ValueError(f"longer than {max_length} characters")
        return result

    return parse


def email(value: Any) -> str:
    result = as_text(value)
    local, _, domain = result.partition("@")
    if not local or "." not in domain or " " in result:
        raise ValueError(f"not an email address: {result!r}")
    return result


def money(value: Any) -> Decimal:
    amount = parse_amount(as_text(value))
    if amount < 0:
        raise ValueError(f"must not be negative: {as_text(value)}")
    return amount


def positive_money(value: Any) -> Decimal:
    amount = money(value)
    if amount == 0:
        raise ValueError("must be greater than zero")
    return amount


def rate(value: Any) -> Decimal:
    result = parse_amount(as_text(value), places=4)
    if not Decimal(0) <= result <= Decimal(1):
        raise ValueError(f"a rate is between 0 and 1 (0.20 for 20 %), not {as_text(value)}")
    return result


def whole(minimum: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError(f"not a whole number: {value!r}")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        try:
            result = int(as_text(value))
        except ValueError:
            raise ValueError(f"not a whole number: {as_text(value)!r}") from None
        if result < minimum:
            raise ValueError(f"must be at least {minimum}, not {result}")
        return result

    return parse


def day(value: Any) -> date:
    if isinstance(value, datetime):
        if value.time() != datetime.min.time():
            raise ValueError(f"a date without time is expected, not {value.isoformat()}")
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(as_text(value))
    except ValueError:
        raise ValueError(f"not a date (YYYY-MM-DD): {as_text(value)!r}") from None


def instant(value: Any) -> datetime:
    """ISO 8601; without an offset (and every XLSX date-time) it is Paris time."""
    if isinstance(value, datetime):
        local = value
    elif isinstance(value, date):
        local = datetime(value.year, value.month, value.day)
    else:
        raw = as_text(value)
        try:
            local = datetime.fromisoformat(raw.replace("Z", "+00:00") if raw.endswith("Z") else raw)
        except ValueError:
            raise ValueError(f"not an ISO 8601 date-time: {raw!r}") from None
    try:
        return paris_instant(local)
    except NonexistentLocalTime as error:
        raise ValueError(str(error)) from None


BOOLEANS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False,
            "oui": True, "non": False, "y": True, "n": False}


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    result = BOOLEANS.get(as_text(value).lower())
    if result is None:
        raise ValueError(f"not a yes/no value (true/false): {as_text(value)!r}")
    return result


def choice(*allowed: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        result = as_text(value).lower()
        if result not in allowed:
            raise ValueError(f"must be one of {'/'.join(allowed)}, not {as_text(value)!r}")
        return result

    return parse


@dataclass(frozen=True)
class Column:
    name: str
    parse: Callable[[Any], Any]
    required: bool = True


SCHEMAS: dict[str, tuple[Column, ...]] = {
    "customers": (
        Column("customer_id", text(64)), Column("name", text(200)), Column("email", email),
        Column("monthly_fee", money), Column("payment_method", choice(*PAYMENT_METHODS)),
        Column("billing_cycle", choice("monthly", "annual"), False), Column("contract_start", day, False),
        Column("vat_rate", rate, False), Column("included_minutes", whole(0), False),
        Column("dunning_exempt", boolean, False),
    ),
    "invoices": (
        Column("invoice_id", text(64)), Column("customer_id", text(64)), Column("issued_on", day),
        Column("due_on", day), Column("amount_ht", money), Column("vat_rate", rate, False),
        Column("description", text(500), False), Column("status", choice(*INVOICE_STATUSES), False),
    ),
    "payments": (
        Column("payment_id", text(64)), Column("invoice_id", text(64)), Column("paid_on", day),
        Column("amount", positive_money),
    ),
    "interventions": (
        Column("intervention_id", text(64)), Column("customer_id", text(64)), Column("started_at", instant),
        Column("minutes", whole(1)), Column("category", choice(*CATEGORIES)), Column("ticket", text(64), False),
        Column("engineer", text(120), False), Column("description", text(2000), False),
    ),
    "standby": (
        Column("customer_id", text(64)), Column("reason", choice(*REASONS)), Column("start_on", day),
        Column("end_on", day, False),
    ),
}


@dataclass
class Row:
    number: int
    values: dict[str, Any]  # parsed; a column absent from the file is absent here


class Problems:
    def __init__(self, file: str):
        self.file = file
        self.items: list[tuple[int, int, str]] = []

    def add(self, row: int, column: str, reason: str) -> None:
        self.items.append((row, len(self.items), f"{self.file}:{row}:{column}: {reason}"))

    def __bool__(self) -> bool:
        return bool(self.items)

    def lines(self) -> list[str]:
        return [line for _, _, line in sorted(self.items)]


def _parse_sheet(sheet: Sheet, columns: tuple[Column, ...], problems: Problems,
                 progress: Callable[[int], None] | None) -> list[Row]:
    known = {column.name for column in columns}
    for name in sheet.header:
        if name and name not in known:
            problems.add(1, name, f"unknown column (expected {', '.join(sorted(known))})")
    present = set(sheet.header)
    for column in columns:
        if column.required and column.name not in present:
            problems.add(1, column.name, "required column is missing")
    if problems:
        return []
    rows: list[Row] = []
    for done, (number, record) in enumerate(sheet.rows, start=1):
        if "\x00extra" in record:
            problems.add(number, "-", "the row has more cells than the header has columns")
        values: dict[str, Any] = {}
        for column in columns:
            if column.name not in present:
                continue
            raw = record.get(column.name)
            if raw is None:
                if column.required:
                    problems.add(number, column.name, "required value is empty")
                else:
                    values[column.name] = None
                continue
            try:
                values[column.name] = column.parse(raw)
            except ValueError as error:
                problems.add(number, column.name, str(error))
        rows.append(Row(number, values))
        if progress and done % 1000 == 0:
            progress(1000)
    if progress:
        progress(len(sheet.rows) % 1000)
    return rows


def _complete(row: Row, columns: tuple[Column, ...]) -> bool:
    return all(column.name in row.values and (row.values[column.name] is not None or not column.required)
               for column in columns if column.required)


def _duplicates(rows: list[Row], key: Callable[[Row], Any], column: str, problems: Problems) -> None:
    seen: dict[Any, int] = {}
    for row in rows:
        value = key(row)
        if value in seen:
            problems.add(row.number, column, f"duplicate key {value!r} (also on row {seen[value]})")
        else:
            seen[value] = row.number


def _existing(session: Session, model, column, keys: Iterable[Any]) -> dict[Any, Any]:
    keys = list(keys)
    found = {}
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start:start + CHUNK]
        for item in session.scalars(select(model).where(column.in_(chunk))):
            found[getattr(item, column.key)] = item
    return found


def _customers_known(session: Session, ids: set[str]) -> dict[str, Customer]:
    return _existing(session, Customer, Customer.customer_id, sorted(ids))


def _describe_change(changes: dict[str, tuple[Any, Any]]) -> str:
    return "; ".join(f"{name} was {audit.plain(old)!r}, now {audit.plain(new)!r}" for name, (old, new) in changes.items())


# --- one function per kind: check against the ledger, then write ---------------------------------


CUSTOMER_FIELDS = ("name", "email", "monthly_fee", "payment_method", "billing_cycle", "contract_start",
                   "vat_rate", "included_minutes", "dunning_exempt")


def _customer_values(row: Row, current: Customer | None, terms: Terms) -> dict[str, Any]:
    """The customer's fields from a row: an empty cell means the default, a column left out of the
    file keeps what the ledger has."""
    defaults = {"billing_cycle": "monthly", "contract_start": None, "vat_rate": terms.vat_rate,
                "included_minutes": None, "dunning_exempt": False}
    values = {}
    for name in CUSTOMER_FIELDS:
        if name in row.values:
            value = row.values[name]
            values[name] = defaults[name] if value is None and name in defaults else value
        elif current is not None:
            values[name] = getattr(current, name)
        else:
            values[name] = defaults[name]
    return values


def _import_customers(session: Session, rows: list[Row], problems: Problems, terms: Terms, actor: str,
                      result: ImportResult) -> Callable[[], None]:
    _duplicates(rows, lambda row: row.values.get("customer_id"), "customer_id", problems)
    existing = _customers_known(session, {row.values["customer_id"] for row in rows if row.values.get("customer_id")})
    plans: list[tuple[str, Row, Customer | None, dict[str, Any]]] = []
    for row in rows:
        if not _complete(row, SCHEMAS["customers"]):
            continue
        customer_id = row.values["customer_id"]
        current = existing.get(customer_id)
        values = _customer_values(row, current, terms)
        if values["payment_method"] == "transfer" and values["billing_cycle"] != "annual" and terms.transfer_requires_annual:
            problems.add(row.number, "payment_method",
                         "a subscription paid by transfer must be paid at once for a year: use billing_cycle annual "
                         "or transfer_installments (seed 001 'The transfer')")
        if values["billing_cycle"] == "annual" and values["contract_start"] is None:
            problems.add(row.number, "contract_start", "an annual contract needs the day its year starts")
        if current is None:
            plans.append(("insert", row, None, values))
            continue
        changes = {name: (getattr(current, name), values[name]) for name in CUSTOMER_FIELDS
                   if getattr(current, name) != values[name]}
        plans.append(("update" if changes else "same", row, current, changes))

    def write() -> None:
        stamp = now()
        for action, row, current, values in plans:
            if action == "insert":
                customer = Customer(customer_id=row.values["customer_id"], created_at=stamp, updated_at=stamp, **values)
                session.add(customer)
                audit.record(session, "customer_created", customer_id=customer.customer_id, before=None,
                             after=values, actor=actor)
                result.inserted += 1
            elif action == "update":
                for name, (_, new) in values.items():
                    setattr(current, name, new)
                current.updated_at = stamp
                audit.record(session, "customer_updated", customer_id=current.customer_id,
                             before={name: old for name, (old, _) in values.items()},
                             after={name: new for name, (_, new) in values.items()}, actor=actor)
                result.updated += 1
                result.notes.append(f"{current.customer_id}: {_describe_change(values)}")
            else:
                result.unchanged += 1

    return write


def _require_customers(session: Session, rows: list[Row], problems: Problems) -> dict[str, Customer]:
    wanted = {row.values["customer_id"] for row in rows if row.values.get("customer_id")}
    known = _customers_known(session, wanted)
    for row in rows:
        customer_id = row.values.get("customer_id")
        if customer_id and customer_id not in known:
            problems.add(row.number, "customer_id", f"unknown customer {customer_id!r} (import customers first)")
    return known


def _history_row(row: Row, stored: dict[str, Any], problems: Problems, key_column: str, noun: str) -> bool:
    """True when the stored record equals the row; a difference is an error naming each column."""
    differences = {name: (stored[name], value) for name, value in row.values.items()
                   if name in stored and stored[name] != value}
    if differences:
        for name, (old, new) in differences.items():
            problems.add(row.number, name, f"{row.values[key_column]!r} was already imported with "
                                           f"{audit.plain(old)!r}; a changed {noun} row "
                                           f"cannot be re-imported (now {audit.plain(new)!r})")
        return False
    return True


def _import_invoices(session: Session, rows: list[Row], problems: Problems, terms: Terms, actor: str,
                     result: ImportResult) -> Callable[[], None]:
    _duplicates(rows, lambda row: row.values.get("invoice_id"), "invoice_id", problems)
    customers = _require_customers(session, rows, problems)
    existing = _existing(session, Invoice, Invoice.external_id,
                         [row.values["invoice_id"] for row in rows if row.values.get("invoice_id")])
    new_rows, status_changes = [], []
    for row in rows:
        values = row.values
        if values.get("issued_on") and values.get("due_on") and values["due_on"] < values["issued_on"]:
            problems.add(row.number, "due_on", f"due {values['due_on']} before it was issued ({values['issued_on']})")
        stored = existing.get(values.get("invoice_id"))
        if stored is None:
            new_rows.append(row)
            continue
        line = stored.lines[0] if stored.lines else None
        comparable = {"customer_id": stored.customer_id, "issued_on": stored.issued_on, "due_on": stored.due_on,
                      "amount_ht": stored.total_ht, "vat_rate": line.vat_rate if line else None,
                      "description": stored.description,
                      "status": "open" if stored.status == "paid" else stored.status}
        given = dict(values)
        if given.get("status") is None:
            given["status"] = "open"
        if given.get("vat_rate") is None and stored.customer_id in customers:
            given["vat_rate"] = comparable["vat_rate"]
        wanted = given.pop("status")
        if not _history_row(Row(row.number, given), comparable, problems, "invoice_id", "invoice"):
            continue
        if wanted == comparable["status"]:
            result.unchanged += 1
        elif stored.status == "paid":
            problems.add(row.number, "status", f"{values['invoice_id']!r} is paid: its status cannot become {wanted!r}")
        else:
            status_changes.append((stored, wanted))

    def write() -> None:
        stamp = now()
        for row in new_rows:
            values = row.values
            customer = customers[values["customer_id"]]
            vat_rate = values.get("vat_rate") if values.get("vat_rate") is not None else customer.vat_rate
            vat = vat_of(values["amount_ht"], vat_rate)
            invoice = Invoice(
                invoice_key=f"imported:{values['invoice_id']}", external_id=values["invoice_id"],
                customer_id=customer.customer_id, kind="imported", month=month_key(values["issued_on"]),
                status=values.get("status") or "open", issued_on=values["issued_on"], due_on=values["due_on"],
                total_ht=values["amount_ht"], total_vat=vat, total_ttc=values["amount_ht"] + vat,
                description=values.get("description"), created_at=stamp, finalised_at=stamp,
            )
            invoice.lines.append(InvoiceLine(
                position=1, description=values.get("description") or f"Imported invoice {values['invoice_id']}",
                category="imported", quantity=Decimal(1), unit_price=values["amount_ht"],
                amount_ht=values["amount_ht"], vat_rate=vat_rate,
            ))
            session.add(invoice)
        result.inserted += len(new_rows)
        if new_rows:
            audit.record(session, "invoices_imported", customer_id=None, before=None, actor=actor,
                         after={"file": result.file, "invoices": [row.values["invoice_id"] for row in new_rows]})
        for invoice, status in status_changes:
            audit.record(session, "invoice_status_changed", customer_id=invoice.customer_id, actor=actor,
                         before={"invoice": invoice.external_id, "status": invoice.status},
                         after={"invoice": invoice.external_id, "status": status, "file": result.file})
            invoice.status = status
        result.updated += len(status_changes)

    return write


def _find_invoices(session: Session, references: set[str]) -> dict[str, Invoice]:
    found = _existing(session, Invoice, Invoice.external_id, sorted(references))
    missing = references - set(found)
    found.update(_existing(session, Invoice, Invoice.number, sorted(missing)))
    return found


def _import_payments(session: Session, rows: list[Row], problems: Problems, terms: Terms, actor: str,
                     result: ImportResult) -> Callable[[], None]:
    _duplicates(rows, lambda row: row.values.get("payment_id"), "payment_id", problems)
    invoices = _find_invoices(session, {row.values["invoice_id"] for row in rows if row.values.get("invoice_id")})
    existing = _existing(session, Payment, Payment.payment_id,
                         [row.values["payment_id"] for row in rows if row.values.get("payment_id")])
    paid = paid_by_invoice(session, [invoice.id for invoice in invoices.values()])
    new_rows = []
    for row in rows:
        values = row.values
        invoice = invoices.get(values.get("invoice_id"))
        if values.get("invoice_id") and invoice is None:
            problems.add(row.number, "invoice_id", f"no invoice {values['invoice_id']!r} (an imported id or an issued number)")
            continue
        stored = existing.get(values.get("payment_id"))
        if stored is not None:
            reference = stored.invoice.external_id or stored.invoice.number
            comparable = {"invoice_id": values["invoice_id"] if invoice is stored.invoice else reference,
                          "paid_on": stored.paid_on, "amount": stored.amount}
            if _history_row(row, comparable, problems, "payment_id", "payment"):
                result.unchanged += 1
            continue
        if invoice is None or not _complete(row, SCHEMAS["payments"]):
            continue
        if invoice.status in ("draft", "void"):
            problems.add(row.number, "invoice_id", f"invoice {values['invoice_id']!r} is {invoice.status}: it cannot be paid")
            continue
        already = paid.get(invoice.id, Decimal("0.00"))
        if already + values["amount"] > invoice.total_ttc:
            problems.add(row.number, "amount",
                         f"{values['amount']} would overpay invoice {values['invoice_id']!r} "
                         f"(total {invoice.total_ttc} TTC, already paid {already})")
            continue
        paid[invoice.id] = already + values["amount"]
        new_rows.append((row, invoice))

    def write() -> None:
        stamp = now()
        settled = []
        for row, invoice in new_rows:
            session.add(Payment(payment_id=row.values["payment_id"], invoice_id=invoice.id,
                                paid_on=row.values["paid_on"], amount=row.values["amount"], created_at=stamp))
        for invoice in {invoice.id: invoice for _, invoice in new_rows}.values():
            if invoice.status == "open" and paid[invoice.id] >= invoice.total_ttc:
                invoice.status = "paid"
                settled.append(invoice.external_id or invoice.number)
        result.inserted += len(new_rows)
        if new_rows:
            audit.record(session, "payments_imported", customer_id=None, before=None, actor=actor,
                         after={"file": result.file, "payments": [row.values["payment_id"] for row, _ in new_rows],
                                "invoices_settled": settled})

    return write


def _import_interventions(session: Session, rows: list[Row], problems: Problems, terms: Terms, actor: str,
                          result: ImportResult) -> Callable[[], None]:
    _duplicates(rows, lambda row: row.values.get("intervention_id"), "intervention_id", problems)
    _require_customers(session, rows, problems)
    existing = _existing(session, Intervention, Intervention.intervention_id,
                         [row.values["intervention_id"] for row in rows if row.values.get("intervention_id")])
    new_rows = []
    for row in rows:
        stored = existing.get(row.values.get("intervention_id"))
        if stored is None:
            new_rows.append(row)
            continue
        comparable = {name: getattr(stored, name) for name in
                      ("customer_id", "started_at", "minutes", "category", "ticket", "engineer", "description")}
        if _history_row(row, comparable, problems, "intervention_id", "intervention"):
            result.unchanged += 1

    def write() -> None:
        stamp = now()
        batch = []
        for row in new_rows:
            values = row.values
            batch.append({
                "intervention_id": values["intervention_id"], "customer_id": values["customer_id"],
                "started_at": values["started_at"], "month": month_key(paris_date(values["started_at"])),
                "minutes": values["minutes"], "category": values["category"], "ticket": values.get("ticket"),
                "engineer": values.get("engineer"), "description": values.get("description"),
                "source": "import", "created_at": stamp,
            })
            if len(batch) >= 5000:
                session.execute(insert(Intervention), batch)
                batch = []
        if batch:
            session.execute(insert(Intervention), batch)
        result.inserted += len(new_rows)
        if new_rows:
            months = sorted({month_key(paris_date(row.values["started_at"])) for row in new_rows})
            audit.record(session, "interventions_imported", customer_id=None, before=None, actor=actor,
                         after={"file": result.file, "count": len(new_rows), "months": months})

    return write


def _import_standby(session: Session, rows: list[Row], problems: Problems, terms: Terms, actor: str,
                    result: ImportResult) -> Callable[[], None]:
    _duplicates(rows, lambda row: (row.values.get("customer_id"), row.values.get("start_on")), "start_on", problems)
    _require_customers(session, rows, problems)
    customer_ids = {row.values["customer_id"] for row in rows if row.values.get("customer_id")}
    stored_periods: dict[str, list[StandbyPeriod]] = {}
    for start in range(0, len(customer_ids), CHUNK):
        chunk = sorted(customer_ids)[start:start + CHUNK]
        for period in session.scalars(select(StandbyPeriod).where(StandbyPeriod.customer_id.in_(chunk))):
            stored_periods.setdefault(period.customer_id, []).append(period)
    planned: dict[str, list[Period]] = {}
    new_rows = []
    for row in rows:
        values = row.values
        if not _complete(row, SCHEMAS["standby"]):
            continue
        end_on = values.get("end_on") or default_end(values["start_on"], terms.standby_max_months)
        values["end_on"] = end_on
        same = next((period for period in stored_periods.get(values["customer_id"], [])
                     if period.start_on == values["start_on"]), None)
        if same is not None:
            if _history_row(row, {"reason": same.reason, "end_on": same.end_on}, problems, "start_on", "standby"):
                result.unchanged += 1
            continue
        for problem in period_problems(values["reason"], values["start_on"], end_on, terms.standby_max_months):
            problems.add(row.number, "end_on", problem)
        others = [Period(period.start_on, period.end_on, period.status)
                  for period in stored_periods.get(values["customer_id"], [])] + planned.get(values["customer_id"], [])
        clash = overlapping(values["start_on"], end_on, others)
        if clash is not None:
            problems.add(row.number, "start_on", f"overlaps the standby {clash.start_on} to {clash.end_on}")
        planned.setdefault(values["customer_id"], []).append(Period(values["start_on"], end_on))
        new_rows.append(row)

    def write() -> None:
        stamp = now()
        for row in new_rows:
            values = row.values
            period = StandbyPeriod(customer_id=values["customer_id"], reason=values["reason"],
                                   start_on=values["start_on"], end_on=values["end_on"], status="scheduled",
                                   source="import", requested_by=actor, created_at=stamp)
            session.add(period)
            audit.record(session, "standby_scheduled", customer_id=values["customer_id"], before=None,
                         after={"reason": values["reason"], "start_on": values["start_on"],
                                "end_on": values["end_on"], "source": result.file}, actor=actor)
        result.inserted += len(new_rows)

    return write


HANDLERS = {
    "customers": _import_customers,
    "invoices": _import_invoices,
    "payments": _import_payments,
    "interventions": _import_interventions,
    "standby": _import_standby,
}


def import_file(
    kind: str,
    path: Path | str,
    *,
    terms: Terms | None = None,
    engine=None,
    actor: str = "cli:import",
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> ImportResult:
    """Check the whole file, then write it in one transaction; `ImportRejected` lists every error."""
    if kind not in HANDLERS:
        raise ValueError(f"unknown import {kind!r}; expected one of {', '.join(KINDS)}")
    path = Path(path)
    terms = terms or Terms()
    sheet = read_sheet(path)
    if on_total:
        on_total(len(sheet.rows))
    problems = Problems(path.name)
    rows = _parse_sheet(sheet, SCHEMAS[kind], problems, progress)
    result = ImportResult(kind=kind, file=path.name, rows=len(rows))
    if problems and not rows:
        raise ImportRejected(problems.lines())
    with session_scope(engine, write=True) as session:
        write = HANDLERS[kind](session, rows, problems, terms, actor, result)
        if problems:
            raise ImportRejected(problems.lines())
        write()
    return result
