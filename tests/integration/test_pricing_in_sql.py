"""The close's set-based pricing equals the quota rules to the cent on both databases (PostgreSQL's window
sums, integer division and "C" collation included): the generated months of tests/unit/test_pricing_in_sql.py."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from tests.support.pricing_cases import BOUND_RATE, bounds, check_month, months


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=months)
def test_the_database_prices_a_month_as_the_rules_do(ledger, case):
    check_month(ledger, case)


def test_rates_at_their_bound_price_as_the_rules_do_to_the_cent(ledger):
    """The product of the price passed 2^63 at such rates: PostgreSQL refused the close (bigint out of range)."""
    from policy.categories import BILLED_CATEGORIES

    check_month(ledger, bounds, {category: BOUND_RATE for category in BILLED_CATEGORIES})
