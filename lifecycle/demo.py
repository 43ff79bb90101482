"""The demo: a platform database with realistic tenant data and a ledger with months of history.

The ledger is filled the way a vendor would fill it: the demo writes the five import files into
`$LIFECYCLE_HOME/demo/` and imports them through the same checks as any user file, so they double
as examples of the formats. A few customers are left in arrears and one is on standby.
"""

from __future__ import annotations

import csv
import hashlib
import random
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from sqlalchemy import (Boolean, Column, Date, DateTime, Integer, MetaData, Numeric, String, Table, func, insert,
                        select)

import lifecycle_config as config
from ledger import audit
from ledger.db import ledger_engine, session_scope
from lifecycle_config.databases import engine_for
from ledger.imports import import_file
from ledger.models import Customer, StandbyPeriod
from policy.calendar import PARIS, add_months
from policy.money import vat_of
from policy.refusals import Refusal
from policy.vocabulary import InvoiceStatus, PaymentMethod, TicketType


class DemoExists(Refusal):
    """A demo asked for where one (or a ledger of real data) is already: kept as it is."""


class DemoRefused(Refusal):
    """A demo day whose history the imports would refuse: nothing is written."""


COMPANIES = [
    "Crowdlending Émeraude", "Société Générale d'Épargne", "Financière du Louvre", "Bâtir Ensemble", "Énergie Citoyenne",
    "Les Toits Solaires", "Capital Mûrier", "Agrinov Coopérative", "Fonds Côte d'Azur", "Immo Partagé",
    "Wiseed Régions", "Épargne & Territoires", "Forêt Durable", "Tiers-Lieux Invest", "Ô Vignobles",
    "Mécénat Numérique", "Santé Horizon", "Pépinière Lyonnaise", "Atelier Coworking", "Nordic Fintech",
    "Baltic Crowd", "Kapital Ost", "Iberia Funding", "Lumière Capital", "Cœur de Ville",
]
FIRST = ["Amélie", "Benoît", "Chloé", "Dominique", "Élodie", "François", "Gaëlle", "Hélène", "Inès", "Jérôme",
         "Léa", "Maël", "Noémie", "Océane", "Pierre", "Raphaël", "Sébastien", "Thérèse", "Yannick", "Zoé"]
LAST = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
        "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "Fournier", "Girard", "Bonnet", "Dupont", "Lambert"]
ENGINEERS = ["alice", "bruno", "camille", "dimitri", "eva"]
CATEGORY_WEIGHTS = {"bug_fix": 10, "question": 12, "feature_roadmap": 2, "assistance": 14, "data_modification": 8,
                    "operation_support": 7, "data_extraction": 5, "reporting": 5, "user_error": 4,
                    "data_recovery": 1, "customization": 2, "training": 2, "license_installation": 1,
                    "company_copy": 1, "third_party_conflict": 1, "feature_specific": 1, "feature_urgent": 1}
HISTORY_MONTHS = 9
#: the helpdesk's ticket type behind each intervention category (the demo's tickets)
TICKET_TYPES = {"bug_fix": "bug", "question": "question", "feature_roadmap": "new_feature", "assistance": "assistance",
                "customization": "customization", "feature_urgent": "evolution", "feature_specific": "evolution",
                "third_party_conflict": "blocking_bug", "data_recovery": "blocking_bug"}


def platform_tables(metadata: MetaData, tenant_column: str = "tenant_id") -> dict[str, Table]:
    """The demo platform: tenants with the three flags, tenant-keyed data, and one shared table."""
    return {
        "tenants": Table("tenants", metadata, Column(tenant_column, String(64), primary_key=True),
                         Column("name", String(200)), Column("admin_enabled", Boolean, nullable=False),
                         Column("platform_enabled", Boolean, nullable=False),
                         Column("operations_enabled", Boolean, nullable=False), Column("created_at", DateTime)),
        "users": Table("users", metadata, Column("id", Integer, primary_key=True),
                       Column(tenant_column, String(64), nullable=False, index=True), Column("email", String(254)),
                       Column("full_name", String(200)), Column("role", String(20)), Column("created_at", DateTime)),
        "operations": Table("operations", metadata, Column("id", Integer, primary_key=True),
                            Column(tenant_column, String(64), nullable=False, index=True), Column("title", String(200)),
                            Column("target_amount", Numeric(14, 2)), Column("status", String(20)),
                            Column("opened_on", Date)),
        "documents": Table("documents", metadata, Column("id", Integer, primary_key=True),
                           Column(tenant_column, String(64), nullable=False, index=True),
                           Column("filename", String(200)), Column("size_bytes", Integer), Column("sha256", String(64)),
                           Column("uploaded_at", DateTime)),
        "countries": Table("countries", metadata, Column("code", String(2), primary_key=True),
                           Column("name", String(80))),
    }


def _write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


STREETS = ["rue de Rivoli", "avenue des Champs-Élysées", "boulevard Haussmann", "rue de la République",
           "quai des Chartrons", "cours Mirabeau", "place Bellecour", "rue Sainte-Catherine"]
CITIES = ["75001 Paris", "75008 Paris", "69002 Lyon", "13100 Aix-en-Provence", "33000 Bordeaux", "59000 Lille",
          "44000 Nantes", "31000 Toulouse"]


def _at_risk_arrivals(today: date, count: int) -> list[datetime]:
    """Arrival times whose first response is at risk now (or at 08:00 on `today` when it is not today):
    the latest half-hours before now whose clock has less than the at-risk margin left."""
    from lifecycle_config import clock
    from policy.commitments import ClockState, Ticket, clocks_under
    from policy.terms import Terms

    terms = Terms()
    now = clock.now().astimezone(PARIS)
    if now.date() != today:
        now = datetime.combine(today, time(8), PARIS)
    found, moment = [], now.replace(minute=0 if now.minute < 30 else 30, second=0, microsecond=0)
    for _ in range(400):
        moment -= timedelta(minutes=30)
        clocks = clocks_under(terms, Ticket(type="question", received_at=moment, channel="mail"), now)
        if clocks and clocks[0].state == ClockState.AT_RISK:
            found.append(moment)
            if len(found) == count:
                break
    return found


def _company_numbers(rng: random.Random) -> tuple[str, str]:
    """A SIREN whose Luhn key is right, and the French VAT number it gives (key = (12 + 3 × (SIREN mod 97)) mod 97)."""
    from stdnum import luhn

    body = f"{rng.randint(10_000_000, 99_999_999)}"
    siren = body + luhn.calc_check_digit(body)
    return siren, f"FR{(12 + 3 * (int(siren) % 97)) % 97:02d}{siren}"


def _month_start(day: date, back: int) -> date:
    return add_months(day.replace(day=1), -back)


def check_day(today: date) -> None:
    """The demo's history goes through the imports' checks: a payment or a ticket cannot lie ahead of the
    product's today, and no date lies before the terms' earliest_date. A day that would have them refuse a
    file is refused here, before anything is written (a refused file used to leave the home half made)."""
    from policy.calendar import today_paris
    from policy.terms import Terms

    real = today_paris()
    if today > real:
        raise DemoRefused(f"--as-of {today} lies ahead of today ({real}): the demo's history holds payments and "
                          f"tickets, which cannot lie ahead; give a day up to {real}")
    earliest = add_months(Terms().earliest_date, 12)  # the history and the annual contracts go 11 months back
    if today < earliest:
        raise DemoRefused(f"--as-of {today} is too early: the demo's history goes a year back and no date lies "
                          f"before {Terms().earliest_date} (earliest_date); give a day from {earliest} to {real}")


def create(*, customers: int = 50, seed: int = 7, today: date) -> str:
    if customers < 1:
        raise ValueError("the demo needs at least one customer")
    check_day(today)
    rng = random.Random(seed)
    engine = ledger_engine()
    with session_scope(engine) as session:
        existing = session.scalar(select(func.count()).select_from(Customer))
    if existing:
        raise DemoExists(f"the ledger already has {existing} customer(s): the demo needs an empty ledger "
                         f"(use another LIFECYCLE_HOME)")
    folder = config.home() / "demo"
    ids = [f"C{number:03d}" for number in range(1, customers + 1)]

    # --- customers -------------------------------------------------------------------------------
    customer_rows, fees, methods = [], {}, {}
    identity = random.Random(seed + 1)  # addresses and company numbers, apart so the rest stays as it was
    for index, customer_id in enumerate(ids):
        company = COMPANIES[index % len(COMPANIES)] + ("" if index < len(COMPANIES) else f" {index // len(COMPANIES) + 1}")
        fee = Decimal(rng.choice([290, 390, 490, 690, 990, 1490, 1990]))
        method = rng.choices(["sepa", "card", "transfer_installments", "other", "transfer"], [50, 22, 12, 6, 10])[0]
        cycle, start = ("annual", _month_start(today, rng.randint(2, 11))) if method == PaymentMethod.TRANSFER else ("monthly", None)
        slug = "".join(ch for ch in company.lower() if ch.isascii() and ch.isalnum())[:20]
        siren, vat = _company_numbers(identity)
        address = f"{identity.randint(1, 120)} {identity.choice(STREETS)}\n{identity.choice(CITIES)}"
        customer_rows.append([customer_id, company, f"billing@{slug}.example", f"{fee:.2f}", method, cycle,
                              start.isoformat() if start else "", "0.20", "", "true" if index == 4 else "false",
                              address, siren, vat])
        fees[customer_id], methods[customer_id] = (fee, start), method
    _write_csv(folder / "customers.csv", ["customer_id", "name", "email", "monthly_fee", "payment_method",
                                          "billing_cycle", "contract_start", "vat_rate", "included_minutes",
                                          "dunning_exempt", "billing_address", "siren", "vat_number"], customer_rows)

    # --- invoices and payments: each month's subscription, paid except for a few customers ------
    # History stops at the month before last: last month is what the next monthly close bills.
    def role(index: int) -> str | None:
        """The customer that plays a part in the story, when the demo is big enough to have it."""
        return ids[index] if index < len(ids) else None

    # customer -> months left unpaid (newest first): about 1, 2 and 6+ months late, and one just overdue.
    # The 6+ one owes its whole history: its oldest invoice (the month nine months back, issued on the 1st
    # of the next) fell due by the 3rd of the month seven months back, so its deletion is due (anchor + 6
    # months) by the 3rd of last month, at least 18 days before today - 10 days, and may be announced 30
    # days before that: on every calendar day, the sweep run 40 days ago gives the notice and today's finds the
    # deletion due (tests/integration/test_up.py). Eight months were not enough early in a month.
    arrears = {customer_id: months for customer_id, months in
               ((role(1), 3), (role(2), 4), (role(3), HISTORY_MONTHS), (role(6), 2)) if customer_id}
    invoice_rows, payment_rows = [], []
    for customer_id in ids:
        fee, start = fees[customer_id]
        for back in range(HISTORY_MONTHS, 1, -1):
            month_start = _month_start(today, back)
            issued = add_months(month_start, 1)
            if start is not None and month_start != start:
                continue  # annual contracts: one invoice for the year, in the month it starts
            amount = fee * 12 if start is not None else fee
            invoice_id = f"INV-{customer_id}-{month_start:%Y%m}"
            status = "disputed" if (customer_id == role(5) and back == 2) else "open"
            # the service period it billed: the month (issued the 1st after it), or the contract year
            period_end = add_months(month_start, 12 if start is not None else 1) - timedelta(days=1)
            invoice_rows.append([invoice_id, customer_id, issued.isoformat(), (issued + timedelta(days=30)).isoformat(),
                                 f"{amount:.2f}", "0.20", f"Subscription {month_start:%B %Y}", status,
                                 month_start.isoformat(), period_end.isoformat()])
            if status == InvoiceStatus.DISPUTED or back <= arrears.get(customer_id, 0):
                if customer_id == role(2) and back == 4:  # a partial payment moves nothing
                    payment_rows.append([f"PAY-{invoice_id}-1", invoice_id, (issued + timedelta(days=20)).isoformat(),
                                         f"{(amount + vat_of(amount, Decimal('0.20'))) / 2:.2f}"])
                continue
            paid_on = issued + timedelta(days=rng.randint(2, 28))
            if paid_on <= today:
                payment_rows.append([f"PAY-{invoice_id}", invoice_id, paid_on.isoformat(),
                                     f"{amount + vat_of(amount, Decimal('0.20')):.2f}"])
    _write_csv(folder / "invoices.csv", ["invoice_id", "customer_id", "issued_on", "due_on", "amount_ht", "vat_rate",
                                         "description", "status", "period_start", "period_end"], invoice_rows)
    _write_csv(folder / "payments.csv", ["payment_id", "invoice_id", "paid_on", "amount"], payment_rows)

    # --- interventions: a few a month per customer, current month included ---------------------
    categories, weights = list(CATEGORY_WEIGHTS), list(CATEGORY_WEIGHTS.values())
    intervention_rows = []
    number = 0
    from lifecycle_config import clock

    # work not yet started is no fact (the import refuses a start later than now): today's stop a minute ago
    before_now = clock.now().astimezone(PARIS).replace(tzinfo=None, second=0, microsecond=0) - timedelta(minutes=1)
    for back in range(HISTORY_MONTHS - 1, -1, -1):
        month_start = _month_start(today, back)
        month_end = min(add_months(month_start, 1) - timedelta(days=1), today)
        for customer_id in ids:
            for _ in range(rng.choice([0, 1, 2, 2, 3, 4, 6])):
                number += 1
                day = month_start + timedelta(days=rng.randint(0, (month_end - month_start).days))
                moment = min(datetime.combine(day, time(rng.randint(8, 19), rng.choice([0, 10, 15, 30, 45, 50]))),
                             before_now)
                category = rng.choices(categories, weights)[0]
                start = fees[customer_id][1]
                if start is not None and day < start:
                    continue  # no work before an annual customer's start (the draws above keep the others' data)
                intervention_rows.append([
                    f"T{number:05d}", customer_id, moment.isoformat(timespec="minutes"),
                    rng.choice([10, 15, 20, 30, 45, 60, 75, 90, 120]), category, f"HD-{40000 + number}",
                    rng.choice(ENGINEERS), f"{category.replace('_', ' ').capitalize()} request",
                ])
    _write_csv(folder / "interventions.csv", ["intervention_id", "customer_id", "started_at", "minutes", "category",
                                              "ticket", "engineer", "description"], intervention_rows)

    # --- tickets: one per intervention, answered and closed in the past; the last days' still open, a few
    # unanswered (at risk or breached by now) -------------------------------------------------------------
    ticket_rows = []
    # a pretend 08:00, or a minute ago when the demo runs earlier than that (00:30): the import refuses a
    # ticket's moment later than now, to the minute, as it does an intervention's start
    now = min(datetime.combine(today, time(8), PARIS), before_now.replace(tzinfo=PARIS))
    for row in intervention_rows:
        started = datetime.fromisoformat(row[2]).replace(tzinfo=PARIS)
        received = started - timedelta(hours=rng.choice([2, 5, 20, 26, 50]))
        start = fees[row[1]][1]
        if start is not None:  # never before the customer's start (an import refuses it)
            received = max(received, datetime.combine(start, time(0), PARIS))
        kind = TICKET_TYPES.get(row[4], "assistance")
        severity = rng.choice(["critical", "major", "minor"]) if kind in (TicketType.BUG, TicketType.BLOCKING_BUG) else ""
        age = (now - received).days
        if age > 12 or rng.random() < 0.5:           # answered; closed unless it is recent
            answered = received + timedelta(hours=rng.choice([1, 3, 8, 30, 70]))
            resolved = started + timedelta(hours=rng.choice([1, 4, 48, 200]))
            closed = resolved + timedelta(hours=2)
            done = [answered if answered < now else None,   # no moment of the future: the import refuses it
                    resolved if resolved < now else None, closed if closed < now and age > 12 else None]
        else:                                        # waiting for its first answer
            done = [None, None, None]
        delivery = (received + timedelta(days=3)).date()
        delivered = delivery.isoformat() if kind == TicketType.CUSTOMIZATION and delivery <= today else ""
        ticket_rows.append([row[5], row[1], received.replace(tzinfo=None).isoformat(timespec="minutes"), kind,
                            rng.choice(["mail", "form", "phone"]), severity, rng.choice([1, 1, 2])]
                           + [moment.replace(tzinfo=None).isoformat(timespec="minutes") if moment else ""
                              for moment in done] + [delivered])
    for index, received in enumerate(_at_risk_arrivals(today, 6)):  # due within the next working hours
        ticket_rows.append([f"HD-RISK-{index + 1}", ids[(index * 7) % len(ids)],
                            received.replace(tzinfo=None).isoformat(timespec="minutes"), "question", "mail", "", 1,
                            "", "", "", ""])
    _write_csv(folder / "tickets.csv", ["ticket_id", "customer_id", "received_at", "type", "channel", "severity",
                                        "level", "first_response_at", "resolved_at", "closed_at",
                                        "customization_delivered_on"], ticket_rows)

    # --- standby: one customer asleep since three weeks, one planned ----------------------------
    sleeper = role(8) or next(customer_id for customer_id in ids if customer_id not in arrears)
    standby_start = today - timedelta(days=20)
    standby_rows = [[sleeper, "awaiting_approval", standby_start.isoformat(), add_months(standby_start, 2).isoformat()]]
    if role(10):
        planned = today + timedelta(days=10)
        standby_rows.append([role(10), "temporary_inactivity", planned.isoformat(), add_months(planned, 1).isoformat()])
    _write_csv(folder / "standby.csv", ["customer_id", "reason", "start_on", "end_on"], standby_rows)

    results = [import_file(kind, folder / f"{kind}.csv", engine=engine, actor="demo")
               for kind in ("customers", "invoices", "payments", "interventions", "standby", "tickets")]

    platform_summary = _create_platform(rng, ids, [row[1] for row in customer_rows], sleeper)

    # the sleeper's standby has been running for three weeks: record it as the sweep would have
    with session_scope(engine, write=True) as session:
        period = session.scalar(select(StandbyPeriod).where(StandbyPeriod.customer_id == sleeper))
        period.status, period.started_at = "active", datetime.combine(standby_start, time(6), PARIS).astimezone(timezone.utc)
        customer = session.get(Customer, sleeper)
        customer.operations_enabled = False
        audit.record(session, "standby_started", customer_id=sleeper, before={"status": "scheduled"},
                     after={"status": "active", "start_on": period.start_on, "end_on": period.end_on,
                            "reason": period.reason}, actor="demo")

    lines = [f"demo created in {config.home()} (as of {today}):"]
    lines += [f"  {result.summary()}" for result in results]
    lines.append(f"  platform: {platform_summary}")
    lines.append(f"  in arrears: {', '.join(sorted(arrears))}; on standby: {sleeper}; import files in {folder}")
    return "\n".join(lines)


def _create_platform(rng: random.Random, ids: list[str], names: list[str], sleeper: str) -> str:
    engine = engine_for(config.platform_url())
    metadata = MetaData()
    tables = platform_tables(metadata)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    stamp = datetime(2024, 1, 1)
    counts = {"users": 0, "operations": 0, "documents": 0}
    with engine.begin() as connection:
        connection.execute(insert(tables["countries"]), [{"code": "FR", "name": "France"},
                                                         {"code": "BE", "name": "Belgique"}])
        connection.execute(insert(tables["tenants"]), [
            {"tenant_id": customer_id, "name": name, "admin_enabled": True, "platform_enabled": True,
             "operations_enabled": customer_id != sleeper, "created_at": stamp}
            for customer_id, name in zip(ids, names)
        ])
        users, operations, documents = [], [], []
        for customer_id in ids:
            for _ in range(rng.randint(3, 25)):
                first, last = rng.choice(FIRST), rng.choice(LAST)
                users.append({"tenant_id": customer_id, "email": f"{first}.{last}@{customer_id.lower()}.example".lower(),
                              "full_name": f"{first} {last}", "role": rng.choice(["admin", "investor", "investor", "analyst"]),
                              "created_at": stamp + timedelta(days=rng.randint(0, 900))})
            for number in range(rng.randint(1, 8)):
                operations.append({"tenant_id": customer_id, "title": f"Projet {rng.choice(LAST)} n°{number + 1}",
                                   "target_amount": Decimal(rng.randint(50, 5000) * 100),
                                   "status": rng.choice(["draft", "open", "funded", "closed"]),
                                   "opened_on": date(2024, 1, 1) + timedelta(days=rng.randint(0, 900))})
            for number in range(rng.randint(0, 10)):
                content = f"{customer_id}-{number}".encode()
                documents.append({"tenant_id": customer_id, "filename": f"contrat_{number + 1}.pdf",
                                  "size_bytes": rng.randint(20_000, 900_000),
                                  "sha256": hashlib.sha256(content).hexdigest(),
                                  "uploaded_at": stamp + timedelta(days=rng.randint(0, 900))})
        for name, rows in (("users", users), ("operations", operations), ("documents", documents)):
            connection.execute(insert(tables[name]), rows)
            counts[name] = len(rows)
    return (f"{len(ids)} tenants, {counts['users']} users, {counts['operations']} operations, "
            f"{counts['documents']} documents in {config.platform_url()}")


__all__ = ["create", "DemoExists", "platform_tables"]
