"""The bound on a monthly fee leaves room for the largest invoice a close computes from it (policy.invoicing)."""

from decimal import Decimal

import pytest

from ledger.imports.cells import monthly_fee
from policy.invoicing import (FEE_BOUND, MONEY_LIMIT, UNIT_PRICE_LIMIT, DocumentTooLarge, Line, ledger_fit_problem,
                              refuse_too_large, totals)


def test_the_largest_invoice_of_the_largest_fee_fits_the_ledger_with_room_for_the_work():
    # an annual year (12 x F, unit price F or up to 12 x F billed in part), a surcharge of at most 100 %, VAT of
    # at most 100 %: 48 x F
    assert 12 * FEE_BOUND <= UNIT_PRICE_LIMIT
    assert 48 * FEE_BOUND == Decimal("4799999999.52")
    assert MONEY_LIMIT - 48 * FEE_BOUND > Decimal("995000000000")
    year = Line("Annual subscription", "subscription", Decimal(1), 12 * FEE_BOUND, 12 * FEE_BOUND, Decimal(1))
    surcharge = Line("Surcharge", "surcharge", Decimal(1), 12 * FEE_BOUND, 12 * FEE_BOUND, Decimal(1))
    assert totals([year, surcharge]).ttc == Decimal("4799999999.52")
    assert ledger_fit_problem([year, surcharge], totals([year, surcharge]), "MAX's invoice") is None


def test_a_document_beyond_the_ledger_is_refused_in_one_line_naming_the_customer():
    line = Line("Subscription", "subscription", Decimal(1), Decimal("999999999999.99"), Decimal("999999999999.99"),
                Decimal("0.20"))
    with pytest.raises(DocumentTooLarge) as refused:
        refuse_too_large([line], totals([line]), "H3's invoice for 2026-11")
    message = str(refused.value)
    assert message.startswith("H3's invoice for 2026-11: a unit price of 999999999999.99 is more than the ledger "
                              "keeps (9999999999.9999): not billed") and "\n" not in message


@pytest.mark.parametrize("cell", ["99999999.99", "99999999,99", "0", "12.50"])
def test_a_fee_up_to_the_bound_is_read(cell):
    assert monthly_fee(cell) == Decimal(cell.replace(",", "."))


@pytest.mark.parametrize("cell", ["100000000.00", "999999999999.99"])
def test_a_fee_above_the_bound_is_refused_saying_the_bound(cell):
    with pytest.raises(ValueError, match=r"a monthly fee is at most 99999999\.99 EUR"):
        monthly_fee(cell)
