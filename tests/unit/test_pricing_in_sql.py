"""The close's set-based pricing (ledger/pricing.py) equals the quota rules (policy.quota.allocate) to the cent,
on generated months on SQLite: many customers, any order of interventions (instants shared, ids that sort
differently by bytes than by locale), every category (free, quota, billed, discounted, fixed fee), minutes from
zero, the quota exhausted in the middle of an intervention, work beyond support, several increments and
urgent-feature factors. The same check runs on PostgreSQL in tests/integration/test_pricing_in_sql.py."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings

from policy.categories import BILLED_CATEGORIES, CATEGORIES
from policy.quota import cents_formula, price
from policy.terms import Terms
from tests.support.pricing_cases import BOUND_RATE, bounds, check_month, months
from tests.support.sqlite_ledger import sqlite_ledger


def test_the_integer_formula_the_database_evaluates_is_the_rule_s_price():
    for factor in (Decimal("0.5"), Decimal("0.75"), Decimal("1"), Decimal("0.3333")):
        terms = Terms(feature_urgent_factor=factor)
        for category in CATEGORIES:
            formula = cents_formula(category, terms)
            if formula.charge == "free":
                continue
            for billed in range(1, 500):
                assert formula.cents(billed) == price(category, billed, terms) * 100, (category, billed)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=months)
def test_the_database_prices_a_month_as_the_rules_do(tmp_path, monkeypatch, case):
    engine = _ledger(tmp_path, monkeypatch)
    check_month(engine, case)


def test_rates_at_their_bound_price_as_the_rules_do_to_the_cent(tmp_path, monkeypatch):
    check_month(_ledger(tmp_path, monkeypatch), bounds, {category: BOUND_RATE for category in BILLED_CATEGORIES})


_engines = {}


def _ledger(tmp_path, monkeypatch):
    """One migrated SQLite ledger for all examples (each example rolls back what it wrote)."""
    if tmp_path not in _engines:
        _engines[tmp_path] = sqlite_ledger(tmp_path, monkeypatch, "2026-11-02")
    return _engines[tmp_path]


def test_an_hourly_rate_beyond_eight_integer_digits_is_refused():
    """A rate of 9,999,999,999.99 EUR was taken: one intervention of 10,000 minutes then cost more than the ledger
    keeps of an amount, and the close failed on PostgreSQL for every customer."""
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="hourly_rates"):
        Terms(hourly_rates={"feature_urgent": Decimal("100000000.00")})
    assert Terms(hourly_rates={"feature_urgent": BOUND_RATE}).rate_for("feature_urgent") == BOUND_RATE
