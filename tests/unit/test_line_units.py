"""The unit of a line's quantity on the documents (UN/ECE Rec 20): hours where it is hours."""

from decimal import Decimal as D

from policy.invoicing import CategoryWork, intervention_lines, line_unit
from policy.quota import hourly_rate
from policy.terms import Terms

TERMS = Terms()


def test_an_interventions_time_is_in_hours_and_its_fee_and_other_lines_are_units():
    rate = hourly_rate("data_recovery", TERMS)                                     # 120.00 an hour
    assert line_unit("data_recovery", D("1.5"), rate, D("180.00"), TERMS) == "HUR"
    assert line_unit("data_recovery", D("1.5"), -rate, D("-180.00"), TERMS) == "HUR"   # credited whole
    assert line_unit("data_recovery", D("2"), TERMS.data_recovery_fee, D("500.00"), TERMS) == "C62"
    assert line_unit("data_recovery", D("1"), D("180.01"), D("180.01"), TERMS) == "C62"  # 1 x an amount
    assert line_unit("subscription", D("1"), D("500.00"), D("500.00"), TERMS) == "C62"
    assert line_unit("imported", D("1"), D("120.00"), D("120.00"), TERMS) == "C62"


def test_the_lines_an_invoice_is_made_of_get_their_units():
    # two data recoveries of 45 min: 1.5 h x 120.00 and 2 x the 250.00 fee
    made = intervention_lines({"2026-10": [CategoryWork("data_recovery", 2, 90, D("680.00"))]}, "2026-10",
                              D("0.20"), TERMS)
    assert [(line.quantity, line.amount_ht, line_unit(line.category, line.quantity, line.unit_price, line.amount_ht,
                                                      TERMS)) for line in made] == [
        (D("1.5000"), D("180.00"), "HUR"), (D("2"), D("500.00"), "C62")]
