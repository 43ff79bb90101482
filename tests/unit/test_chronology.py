"""A fact is never dated before what it depends on (policy.chronology), and a standby is refused to a customer
in arrears by one rule, whoever asks (policy.standby.arrears_refusal)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from policy.chronology import (LATE_LETTER_DAYS, before_start_problem, credit_on, late_letter_problem,
                               paid_before_issued_problem, refund_before_credit_problem)
from policy.standby import arrears_refusal, refusals

START = date(2026, 3, 1)


def test_a_fact_before_the_customers_start_is_refused_naming_both_days():
    said = before_start_problem(date(2024, 2, 29), START, "started_at")
    assert said.startswith("started_at 2024-02-29 is before the customer's start (2026-03-01)")
    assert before_start_problem(START, START, "start_on") is None               # the start itself is a fact's day
    assert before_start_problem(date(2000, 1, 1), None, "start_on") is None     # no start known: no bound
    # an instant counts by its day
    assert before_start_problem(datetime(2026, 2, 28, 23, 0, tzinfo=timezone.utc), START, "received_at")
    assert before_start_problem(datetime(2026, 3, 1, 0, 0, tzinfo=timezone.utc), START, "received_at") is None


def test_a_payment_is_never_dated_before_its_invoice():
    said = paid_before_issued_problem(date(2000, 1, 1), date(2026, 4, 1), "INV-C004-202603")
    assert said == ("paid on 2000-01-01, before invoice INV-C004-202603 was issued (2026-04-01): a payment is "
                    "never dated before its invoice")
    assert paid_before_issued_problem(date(2026, 4, 1), date(2026, 4, 1), "I") is None
    assert paid_before_issued_problem(date(2026, 12, 6), date(2026, 4, 1), "I") is None


def test_a_refund_is_never_dated_before_the_credit_it_pays_back():
    movements = [(date(2026, 12, 6), Decimal("1188.00"))]
    said = refund_before_credit_problem(date(2000, 1, 1), Decimal("1188.00"), movements)
    assert said == ("refunded on 2000-01-01, when the customer's credit was 0.00 EUR (less than 1188.00 EUR); it had "
                    "it from 2026-12-06: a refund is never dated before the credit it pays back")
    assert refund_before_credit_problem(date(2026, 12, 6), Decimal("1188.00"), movements) is None
    # credit built in two steps: the refund of both waits for the second
    steps = [(date(2026, 5, 1), Decimal("100.00")), (date(2026, 6, 1), Decimal("50.00"))]
    assert credit_on(steps, date(2026, 5, 31)) == Decimal("100.00")
    assert refund_before_credit_problem(date(2026, 5, 15), Decimal("100.00"), steps) is None
    assert "it had it from 2026-06-01" in refund_before_credit_problem(date(2026, 5, 15), Decimal("150.00"), steps)


def test_a_letter_received_more_than_a_year_ago_needs_a_reason():
    today = date(2026, 12, 6)
    assert late_letter_problem(date(2026, 6, 10), today, date(2026, 7, 31)) is None   # the guide's late letter
    assert late_letter_problem(date(2025, 12, 5), today, date(2026, 1, 31)) is None   # 366 days: still a year
    said = late_letter_problem(date(2025, 12, 4), today, date(2026, 1, 31))
    assert said == (f"--received-on 2025-12-04 is 367 days ago (more than {LATE_LETTER_DAYS}): its last day of "
                    f"service would be 2026-01-31, and every invoice billed after it would be credited back")


def test_a_standby_is_refused_in_arrears_with_one_wording_for_every_asker():
    assert arrears_refusal(["INV-1", "INV-2"], "current") == \
        "refused while the customer is in arrears: overdue invoice(s) INV-1, INV-2"
    assert arrears_refusal([], "suspended") == "refused while access is restricted (arrears stage suspended)"
    assert arrears_refusal([], "current") is None
    # the request's reasons carry the same sentence
    assert arrears_refusal(["INV-1"], "current") in refusals(
        "temporary_inactivity", date(2026, 12, 10), date(2027, 1, 10), max_months=3, existing=[],
        overdue_invoices=["INV-1"], stage="current")


def test_the_moment_of_a_deletion_and_what_lies_after_it():
    from policy.chronology import after_deletion_problem, deletion_moment

    day = date(2027, 1, 6)
    recorded = datetime(2027, 1, 6, 14, 30, tzinfo=timezone.utc)          # 15:30 in Paris, on the day
    assert deletion_moment(day, recorded) == recorded
    # recorded on another day (a run dated by LIFECYCLE_TODAY, or after midnight): the whole day stands
    end = datetime(2027, 1, 6, 23, 0, tzinfo=timezone.utc)               # midnight in Paris (UTC+1 in January)
    assert deletion_moment(day, datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)) == end
    assert deletion_moment(day, datetime(2027, 1, 7, 1, 0, tzinfo=timezone.utc)) == end
    deleted = (day, recorded)
    assert after_deletion_problem(datetime(2027, 1, 6, 8, 0, tzinfo=timezone.utc), deleted) is None
    assert after_deletion_problem(recorded, deleted) is None
    assert after_deletion_problem(datetime(2027, 1, 6, 14, 31, tzinfo=timezone.utc), deleted) == (
        "2027-01-06T15:31:00+01:00 is after the customer's data was deleted on 2027-01-06: nothing is billed after "
        "the deletion")
    assert after_deletion_problem(datetime(2030, 1, 1, tzinfo=timezone.utc), None) is None
