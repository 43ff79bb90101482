from decimal import Decimal

from policy.categories import BILLED_CATEGORIES, CATEGORIES, Charge
from policy.terms import Terms


def test_defaults_are_the_policy_of_design():
    terms = Terms()
    assert terms.included_minutes == 120
    assert terms.billing_increment_minutes == 15
    assert terms.data_recovery_fee == Decimal("250.00")
    assert terms.rate_for("assistance") == Decimal("120.00")
    assert terms.standby_max_months == 3
    assert terms.standby_price_factor == Decimal("0.50")
    assert (terms.admin_disabled_after_months, terms.platform_disabled_after_months,
            terms.data_deleted_after_months) == (1, 2, 6)
    assert terms.late_penalty_rate == Decimal("0.10") and terms.late_indemnity == Decimal("40.00")
    assert terms.payment_terms_days == 30


def test_every_term_explains_itself():
    for name, info in Terms.model_fields.items():
        assert info.description and len(info.description) > 20, name


def test_every_billed_category_has_a_rate_and_free_ones_none():
    rates = Terms().hourly_rates
    assert set(rates) == set(BILLED_CATEGORIES)
    assert {name for name, row in CATEGORIES.items() if row.charge is Charge.FREE} == {
        "bug_fix", "question", "feature_roadmap"}


def test_a_fixed_fee_is_a_column_of_the_category_table():
    from policy.categories import fixed_fee
    from policy.quota import price

    terms = Terms(data_recovery_fee=Decimal("99.90"))
    assert {name for name, row in CATEGORIES.items() if row.fixed_fee} == {"data_recovery"}
    assert fixed_fee("data_recovery", terms) == Decimal("99.90") and fixed_fee("training", terms) == 0
    assert price("data_recovery", 15, terms) == Decimal("129.90")   # 15 min at 120 EUR/h + the fee
    assert price("training", 15, terms) == Decimal("30.00")
