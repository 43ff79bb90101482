"""Billed through, and a customer's start (DESIGN "Billed through"): amounts computed by hand here."""

from datetime import date, timedelta
from decimal import Decimal as D

from policy.billed_through import (BilledPeriod, cycle_last_day, cycle_problems, default_period, latest, latest_start,
                                   period_problems, subscription_start)
from policy.invoicing import Subscriber, subscription_charge
from policy.terms import Terms

TERMS = Terms()
MONTHLY = Subscriber(D("490.00"), "sepa", "monthly", None, D("0.20"))


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def test_an_imported_invoice_without_a_period_covers_the_month_before_or_the_year_from_its_month():
    assert default_period(date(2026, 11, 1), "monthly") == (date(2026, 10, 1), date(2026, 10, 31))
    assert default_period(date(2026, 3, 15), "monthly") == (date(2026, 2, 1), date(2026, 2, 28))
    assert default_period(date(2026, 11, 1), "annual") == (date(2026, 11, 1), date(2027, 10, 31))


def test_a_period_is_both_or_neither_ordered_at_most_thirteen_months_and_near_its_issue():
    assert period_problems(None, None, date(2026, 11, 1)) == []
    assert period_problems(date(2026, 10, 1), date(2026, 10, 31), date(2026, 11, 1)) == []
    assert period_problems(date(2026, 10, 16), date(2027, 11, 15), date(2026, 10, 1)) == []   # 13 months
    assert [c for c, _ in period_problems(date(2026, 10, 1), None, None)] == ["period_end"]
    assert [c for c, _ in period_problems(None, date(2026, 10, 1), None)] == ["period_start"]
    assert [c for c, _ in period_problems(date(2026, 10, 2), date(2026, 10, 1), None)] == ["period_end"]
    assert [c for c, _ in period_problems(date(2026, 10, 1), date(2027, 11, 1), None)] == ["period_end"]
    assert [c for c, _ in period_problems(date(1, 1, 1), date(1, 1, 31), date(2026, 11, 1))] == ["period_start"]


def test_a_subscription_period_is_one_cycle_of_its_customer_at_most():
    """A monthly customer's invoice bills a month (from any day: an old system billing on the 16th), an annual
    one's a year: a monthly customer's invoice for a year would stand in for eleven closes."""
    assert cycle_last_day(date(2026, 10, 1), "monthly") == date(2026, 10, 31)
    assert cycle_last_day(date(2026, 9, 16), "monthly") == date(2026, 10, 15)
    assert cycle_last_day(date(2026, 1, 31), "monthly") == date(2026, 2, 28)     # no 31 February: its last day
    assert cycle_last_day(date(2026, 1, 30), "monthly") == date(2026, 2, 28)
    assert cycle_last_day(date(2026, 10, 15), "annual") == date(2027, 10, 14)
    assert cycle_last_day(date(2028, 2, 29), "annual") == date(2029, 2, 28)
    issued = date(2026, 10, 1)
    assert cycle_problems(date(2026, 9, 16), date(2026, 10, 15), issued, "monthly") == []
    assert cycle_problems(date(2026, 10, 20), date(2026, 10, 31), issued, "monthly") == []   # a first month, prorated
    assert cycle_problems(date(2026, 10, 1), date(2027, 9, 30), issued, "annual") == []
    assert cycle_problems(date(2026, 11, 1), date(2027, 10, 31), issued, "monthly") == [
        ("period_end", "the period 2026-11-01 to 2027-10-31 is longer than one billing cycle of this monthly "
                       "customer: a period from 2026-11-01 ends by 2026-11-30 at the latest")]
    assert cycle_problems(date(2026, 10, 1), date(2026, 11, 1), issued, "monthly")[0][0] == "period_end"  # a day over
    assert cycle_problems(date(2026, 10, 1), date(2027, 10, 1), issued, "annual")[0][0] == "period_end"


def test_a_subscription_period_starts_by_the_end_of_the_month_after_its_issue():
    """The product bills a month after it and a year in the month it starts; billed in advance, an invoice
    bills the next month at most: a period starting months after its issue would stop the closes between."""
    assert latest_start(date(2026, 10, 1)) == latest_start(date(2026, 10, 31)) == date(2026, 11, 30)
    assert latest_start(date(2026, 12, 31)) == date(2027, 1, 31)
    assert cycle_problems(date(2026, 11, 1), date(2026, 11, 30), date(2026, 10, 25), "monthly") == []
    assert cycle_problems(date(2026, 11, 30), date(2027, 11, 29), date(2026, 10, 25), "annual") == []
    assert cycle_problems(date(2027, 3, 1), date(2027, 3, 31), date(2026, 11, 1), "monthly") == [
        ("period_start", "the period starts 2027-03-01, past the month after the invoice's issue (2026-11-01): "
                         "an invoice bills ahead one month at most, so its period starts by 2026-12-31 at the latest")]
    assert cycle_problems(date(2026, 12, 1), date(2027, 11, 30), date(2026, 10, 31), "annual")[0][0] == "period_start"


def test_billed_through_is_the_latest_end_and_the_start_the_contract_or_the_earliest_period():
    october = BilledPeriod(date(2026, 10, 1), date(2026, 10, 31), "INV-C002-202610")
    september = BilledPeriod(date(2026, 9, 1), date(2026, 9, 30), "INV-C002-202609")
    assert latest([september, october]) == october and latest([]) is None
    assert subscription_start(None, [october, september]) == date(2026, 9, 1)
    assert subscription_start(date(2026, 9, 15), [october, september]) == date(2026, 9, 15)
    assert subscription_start(None, []) is None


def test_a_month_wholly_billed_bills_no_subscription_and_says_by_which_invoice():
    october = BilledPeriod(date(2026, 10, 1), date(2026, 10, 31), "INV-C002-202610")
    charge = subscription_charge(MONTHLY, "2026-10", TERMS, billed=october)
    assert charge.lines == [] and charge.period is None
    assert charge.unbilled.billed == october and charge.unbilled.already_billed == 31


def test_a_month_not_billed_bills_the_whole_fee_and_records_the_month_as_its_period():
    october = BilledPeriod(date(2026, 10, 1), date(2026, 10, 31), "INV-C002-202610")
    charge = subscription_charge(MONTHLY, "2026-11", TERMS, billed=october)
    assert [line.amount_ht for line in charge.lines] == [D("490.00")]
    assert charge.period == (date(2026, 11, 1), date(2026, 11, 30))
    assert charge.lines[0].description == "Abonnement novembre 2026"   # the terms' language: French


def test_a_month_partly_billed_bills_the_rest_prorated_to_the_day():
    # imported through 15 November: 16..30 November left, 15 of 30 days: 490 x 15 / 30 = 245.00
    billed = BilledPeriod(date(2026, 10, 16), date(2026, 11, 15), "INV-X")
    charge = subscription_charge(MONTHLY, "2026-11", TERMS, billed=billed)
    assert [line.amount_ht for line in charge.lines] == [D("245.00")]
    assert charge.period == (date(2026, 11, 16), date(2026, 11, 30))
    assert charge.unbilled.already_billed == 15
    assert "à partir du 16 novembre 2026 : 15 jours sur 30" in charge.lines[0].description
    # 20 of 31 October days left (12..31): 490 x 20 / 31 = 316.1290... -> 316.13
    billed = BilledPeriod(date(2026, 9, 12), date(2026, 10, 11), "INV-Y")
    [line] = subscription_charge(MONTHLY, "2026-10", TERMS, billed=billed).lines
    assert line.amount_ht == D("316.13")


def test_standby_days_count_only_among_the_days_billed():
    # billed through 15 November; standby from 10 to 19 November: 4 of its days (16..19) are billed now
    billed = BilledPeriod(date(2026, 10, 16), date(2026, 11, 15), "INV-X")
    standby = days(date(2026, 11, 10), date(2026, 11, 19))
    [line] = subscription_charge(MONTHLY, "2026-11", TERMS, billed=billed, standby=standby).lines
    # 490 x (15 - 4/2) / 30 = 490 x 13 / 30 = 212.3333.. -> 212.33
    assert line.amount_ht == D("212.33")
    assert "4 jours sur 30 en veille à 50\u00a0%" in line.description


def test_a_subscription_starting_mid_month_bills_from_its_start_and_nothing_before():
    starts = Subscriber(D("300.00"), "card", "monthly", date(2026, 11, 20), D("0.20"))
    charge = subscription_charge(starts, "2026-11", TERMS)
    # 20..30 November: 11 of 30 days: 300 x 11 / 30 = 110.00
    assert [line.amount_ht for line in charge.lines] == [D("110.00")]
    assert charge.period == (date(2026, 11, 20), date(2026, 11, 30))
    assert subscription_charge(starts, "2026-10", TERMS).lines == []
    before = subscription_charge(starts, "0001-01", TERMS)
    assert before.lines == [] and before.unbilled.before_start == 31
    # an imported history sets the start when there is no contract_start
    imported = Subscriber(D("300.00"), "sepa", "monthly", None, D("0.20"), subscription_start=date(2026, 5, 1))
    assert subscription_charge(imported, "0001-01", TERMS).lines == []
    assert [line.amount_ht for line in subscription_charge(imported, "2026-05", TERMS).lines] == [D("300.00")]


def test_an_annual_year_already_billed_is_not_billed_again_and_a_year_partly_billed_bills_the_rest():
    annual = Subscriber(D("100.00"), "transfer", "annual", date(2026, 3, 1), D("0.20"))
    [line] = subscription_charge(annual, "2027-03", TERMS).lines
    assert line.amount_ht == D("1200.00")
    assert subscription_charge(annual, "2027-03", TERMS).period == (date(2027, 3, 1), date(2028, 2, 29))
    imported_year = BilledPeriod(date(2027, 3, 1), date(2028, 2, 29), "INV-A-2027")
    charge = subscription_charge(annual, "2027-03", TERMS, billed=imported_year)
    assert charge.lines == [] and charge.unbilled.billed == imported_year
    # billed through 31 May 2027: June 2027..February 2028 left, 274 of 366 days: 1200 x 274 / 366 = 898.3606.. -> 898.36
    through_may = BilledPeriod(date(2026, 6, 1), date(2027, 5, 31), "INV-A-OLD")
    [line] = subscription_charge(annual, "2027-03", TERMS, billed=through_may).lines
    assert line.amount_ht == D("898.36")
    # standby days of an annual customer still come back, billed before or not
    [refund] = subscription_charge(annual, "2027-04", TERMS, billed=imported_year,
                                   standby=days(date(2027, 4, 1), date(2027, 4, 10))).lines
    assert refund.amount_ht == D("-16.67")   # 100 x 10 x 0.5 / 30 = 16.666.. -> 16.67


def test_an_annual_contract_from_mid_month_bills_its_whole_year_from_that_day_and_not_past_its_last_day():
    mid_march = Subscriber(D("100.00"), "transfer", "annual", date(2026, 3, 15), D("0.20"))
    # the contract year runs 15 March to 14 March, as its cancellation counts it: the whole year, 12 x fee
    charge = subscription_charge(mid_march, "2026-03", TERMS)
    assert [line.amount_ht for line in charge.lines] == [D("1200.00")]
    assert charge.period == (date(2026, 3, 15), date(2027, 3, 14))
    # the next year is billed in March 2027 from the 15th, nothing of the year before a second time
    billed = BilledPeriod(*charge.period, "2026-000001")
    assert subscription_charge(mid_march, "2027-03", TERMS, billed=billed).period == (date(2027, 3, 15),
                                                                                      date(2028, 3, 14))
    # cancelled with its last day at the end of the first year: the March 2027 close bills no new year
    ended = subscription_charge(mid_march, "2027-03", TERMS, billed=billed, last_service_day=date(2027, 3, 14))
    assert ended.lines == [] and ended.period is None
    # a last day ten days into a new year bills those ten days: 1200 x 10 / 366 = 32.786.. -> 32.79
    [line] = subscription_charge(mid_march, "2027-03", TERMS, billed=billed, last_service_day=date(2027, 3, 24)).lines
    assert line.amount_ht == D("32.79")
    # standby days before the start were never billed: none comes back
    assert subscription_charge(mid_march, "2026-03", TERMS, standby=days(date(2026, 3, 1), date(2026, 3, 2))).lines[1:] == []


def test_a_period_sharing_a_day_with_one_billed_already_is_named_with_the_days_both_hold():
    from policy.billed_through import overlap_problem

    billed = [BilledPeriod(date(2026, 10, 1), date(2026, 10, 31), "2026-000062"),
              BilledPeriod(date(2026, 11, 1), date(2026, 11, 30), "OLD-NOV")]
    assert overlap_problem(date(2026, 12, 1), date(2026, 12, 31), billed) is None           # the day after: fine
    assert overlap_problem(date(2026, 9, 1), date(2026, 9, 30), billed) is None
    said = overlap_problem(date(2026, 10, 31), date(2026, 11, 29), billed)   # the earliest it meets is named
    assert said.startswith("the service period 2026-10-31 to 2026-11-29 bills 2026-10-31 again: 2026-000062 "
                           "billed 2026-10-01 to 2026-10-31 already")
    assert "bills 2026-11-15 to 2026-11-30 again: OLD-NOV billed" in overlap_problem(
        date(2026, 11, 15), date(2026, 12, 14), billed)
