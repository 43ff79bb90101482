"""The close's set-based pricing equals the quota rules to the cent on both databases (PostgreSQL's window
sums, integer division and "C" collation included): the generated months of tests/unit/test_pricing_in_sql.py."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from tests.support.pricing_cases import check_month, months


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=months)
def test_the_database_prices_a_month_as_the_rules_do(ledger, case):
    check_month(ledger, case)
