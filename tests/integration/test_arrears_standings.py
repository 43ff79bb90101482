"""The daily sweep finds its work in one SQL statement; the rules in `policy.arrears` decide. This
checks, on both databases, that the statement's anchor and pending penalties are exactly what
the rules compute from the invoices and payments, for a ledger full of awkward cases: partial
and late payments, payments after the day, disputed and written-off invoices, penalty invoices."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import insert, select

from ledger.db import session_scope
from ledger.models import Customer, Invoice, Payment
from policy.arrears import anchor, penalty_for
from policy.terms import Terms
from operations.arrears import _facts, _standings

STAMP = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _ledger(engine, rng: random.Random) -> None:
    customers, invoices, payments = [], [], []
    invoice_id = 0
    for n in range(80):
        customer_id = f"K{n:03d}"
        customers.append({"customer_id": customer_id, "name": f"Société {n}", "email": f"k{n}@example.com",
                          "monthly_fee": Decimal("100.00"), "payment_method": "sepa", "billing_cycle": "monthly",
                          "vat_rate": Decimal("0.20"), "dunning_exempt": n % 11 == 0,
                          "stage": rng.choice(["current"] * 4 + ["admin_disabled", "platform_disabled"]),
                          "deletion_status": "notice_sent" if n % 13 == 0 else None,
                          "admin_enabled": True, "platform_enabled": True, "operations_enabled": True,
                          "created_at": STAMP, "updated_at": STAMP})
        for _ in range(rng.randint(0, 5)):
            invoice_id += 1
            due_on = date(2026, 1, 1) + timedelta(days=rng.randint(0, 200))
            total = Decimal(rng.choice(["120.00", "238.80", "0.30", "1188.00", "33.33"]))
            status = rng.choice(["open"] * 6 + ["paid", "disputed", "written_off", "void"])
            invoices.append({"id": invoice_id, "invoice_key": f"t:{invoice_id}", "external_id": f"E{invoice_id}",
                             "customer_id": customer_id, "kind": rng.choice(["imported"] * 4 + ["monthly"]),
                             "month": "2026-01", "status": status, "issued_on": due_on - timedelta(days=30),
                             "due_on": due_on, "total_ht": total, "total_vat": Decimal("0.00"), "total_ttc": total,
                             "created_at": STAMP, "finalised_at": STAMP})
            left = total
            for part in range(rng.choice([0, 1, 1, 2, 3])):  # none, whole, or in instalments
                amount = left if part == 2 or rng.random() < 0.5 else (left / 3).quantize(Decimal("0.01"))
                if amount <= 0:
                    break
                payments.append({"payment_id": f"P{invoice_id}.{part}", "invoice_id": invoice_id,
                                 "paid_on": due_on + timedelta(days=rng.randint(-20, 60)), "amount": amount,
                                 "created_at": STAMP})
                left -= amount
            if rng.random() < 0.2:  # some overdue invoices already bear their penalty
                invoice_id += 1
                invoices.append({"id": invoice_id, "invoice_key": f"penalty:{invoice_id - 1}", "number": f"2026-9{invoice_id:05d}",
                                 "customer_id": customer_id, "kind": "penalty", "month": "2026-03", "status": "open",
                                 "issued_on": due_on + timedelta(days=1), "due_on": due_on + timedelta(days=31),
                                 "total_ht": Decimal("52.00"), "total_vat": Decimal("0.00"),
                                 "total_ttc": Decimal("52.00"), "penalty_for_id": invoice_id - 1,
                                 "created_at": STAMP, "finalised_at": STAMP})
    with engine.begin() as connection:
        connection.execute(insert(Customer), customers)
        keys = {key for row in invoices for key in row}  # one shape for an executemany
        connection.execute(insert(Invoice), [{key: row.get(key) for key in keys} for row in invoices])
        if payments:
            connection.execute(insert(Payment), payments)


def test_the_sweeps_statement_agrees_with_the_rules_on_every_customer(ledger):
    _ledger(ledger, random.Random(7))
    terms = Terms()
    for day in (date(2026, 1, 15), date(2026, 3, 1), date(2026, 5, 31), date(2026, 8, 20), date(2027, 1, 10)):
        with session_scope(ledger) as session:
            customers = {c.customer_id: c for c in session.scalars(select(Customer))}
            facts = _facts(session, sorted(customers))
            penalised = set(session.scalars(select(Invoice.penalty_for_id).where(Invoice.penalty_for_id.is_not(None))))
            found = {s.customer_id: (s.anchor, s.penalty_pending) for s in _standings(session, day)}
        expected = {}
        for customer_id, customer in customers.items():
            rows = facts.get(customer_id, [])
            anchor_on = anchor([owed for _, owed in rows], day)
            pending = any(invoice_id not in penalised and penalty_for(owed, day, terms, exempt=False) is not None
                          for invoice_id, owed in rows)
            if anchor_on or pending or customer.stage != "current" or customer.deletion_status:
                expected[customer_id] = (anchor_on, pending)
        assert found == expected, day
        assert any(anchor_on for anchor_on, _ in expected.values()) and any(p for _, p in expected.values())
