"""Generated months of support work, priced twice: by the database (ledger.pricing, what the close runs) and by
the rules (policy.quota.allocate, customer by customer). Used on SQLite by the fast tier and on PostgreSQL by
the integration tier: the two must agree on every intervention to the cent and minute."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import strategies as st
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ledger.models import Customer, Intervention
from ledger.pricing import price_month
from policy.categories import CATEGORIES
from policy.invoicing import category_work
from policy.quota import Work, allocate
from policy.terms import Terms

MONTH = "2026-10"
START = datetime(2026, 10, 1, tzinfo=timezone.utc)

#: one intervention: customer index, minute of the month it starts (collisions: the id decides), minutes,
#: category, beyond support, and a suffix making ids that compare differently by bytes than by locale
work = st.tuples(st.integers(0, 4), st.integers(0, 300), st.integers(0, 400), st.sampled_from(sorted(CATEGORIES)),
                 st.booleans(), st.sampled_from(["a", "B", "é", "Z", "_", "0"]))
months = st.tuples(st.lists(work, max_size=40), st.lists(st.integers(0, 300), min_size=5, max_size=5),
                   st.sampled_from([Decimal("0.5"), Decimal("1"), Decimal("0.75")]), st.sampled_from([1, 5, 15, 30]))


#: a month at the bounds of money: every rate at the largest the terms take, an urgent-feature factor whose
#: fraction does not reduce, interventions of the most minutes a row may have (probe 14: at a rate of billions
#: the price's product passed 2^63, PostgreSQL refused the close and SQLite priced a cent more than the rules;
#: such a rate is now refused, and the product is said in terms far inside 64 bits)
BOUND_RATE = Decimal("99999999.99")
bounds = ([(0, 0, 10_000, category, False, "a") for category in sorted(CATEGORIES)]
          + [(1, 5, 9_999, category, True, "B") for category in sorted(CATEGORIES)],
          [0, 120, 0, 0, 0], Decimal("0.3333"), 1)


def check_month(engine, case, rates: dict[str, Decimal] | None = None) -> None:
    """Price `case` (a draw of `months`) both ways in a transaction rolled back after, and compare; `rates`,
    the hourly rates (the terms' defaults when None)."""
    items, quotas, factor, increment = case
    terms = Terms(feature_urgent_factor=factor, billing_increment_minutes=increment,
                  **({"hourly_rates": rates} if rates is not None else {}))
    stamp = datetime(2026, 11, 1, tzinfo=timezone.utc)
    customers = [f"C{n}" for n in range(5)]
    works = {customer: [] for customer in customers}
    rows, beyond = [], set()
    for position, (who, minute, minutes, category, past_support, suffix) in enumerate(items):
        identifier = f"I{suffix}{position:03d}"
        started = START + timedelta(minutes=minute)
        works[customers[who]].append(Work(identifier, started, minutes, category, past_support))
        if past_support:
            beyond.add(identifier)
        rows.append({"intervention_id": identifier, "customer_id": customers[who], "started_at": started,
                     "month": MONTH, "minutes": minutes, "category": category, "created_at": stamp})
    with Session(engine) as session, session.begin():
        session.execute(insert(Customer), [
            {"customer_id": customer, "name": customer, "email": "x@example.com", "monthly_fee": Decimal("100.00"),
             "payment_method": "sepa", "vat_rate": Decimal("0.2"), "created_at": stamp, "updated_at": stamp}
            for customer in customers])
        if rows:
            session.execute(insert(Intervention), rows)
        priced_by_database = price_month(session, MONTH, dict(zip(customers, quotas)), beyond, terms)
        stored = {row.intervention_id: (row.free_minutes, row.billed_minutes, row.amount_ht, row.close_month)
                  for row in session.execute(select(Intervention.intervention_id, Intervention.free_minutes,
                                                          Intervention.billed_minutes, Intervention.amount_ht,
                                                          Intervention.close_month))}
        session.rollback()
    for customer, available in zip(customers, quotas):
        allocations = allocate(works[customer], available, terms)
        for item in allocations:
            assert stored[item.intervention_id] == (item.free_minutes, item.billed_minutes, item.amount_ht, MONTH), \
                (customer, item)
        expected = sorted(category_work(allocations), key=lambda work: work.category)
        assert sorted(priced_by_database.work.get(customer, []), key=lambda work: work.category) == expected
        assert priced_by_database.used.get(customer, 0) == sum(item.drawn for item in allocations
                                                               if CATEGORIES[item.category].charge == "quota")
