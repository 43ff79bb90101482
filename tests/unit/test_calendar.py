from datetime import date, datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policy.calendar import NonexistentLocalTime, add_months, month_key, paris_date, paris_instant


@pytest.mark.parametrize("start, months, expected", [
    (date(2026, 1, 31), 1, date(2026, 2, 28)),
    (date(2024, 1, 31), 1, date(2024, 2, 29)),
    (date(2026, 1, 31), 2, date(2026, 3, 31)),   # from the original date, not step by step
    (date(2026, 8, 31), 6, date(2027, 2, 28)),
    (date(2026, 11, 15), 3, date(2027, 2, 15)),
    (date(2026, 3, 31), -1, date(2026, 2, 28)),
])
def test_months_are_added_to_the_original_date_and_clipped_to_the_month_end(start, months, expected):
    assert add_months(start, months) == expected


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)), st.integers(0, 48))
def test_adding_months_lands_in_the_right_month_never_after_the_same_day(day, months):
    moved = add_months(day, months)
    assert (moved.year * 12 + moved.month) - (day.year * 12 + day.month) == months
    assert moved.day <= day.day


def test_a_late_evening_on_the_last_day_belongs_to_that_month_in_paris():
    instant = paris_instant(datetime(2026, 10, 31, 23, 30))
    assert instant == datetime(2026, 10, 31, 22, 30, tzinfo=timezone.utc)
    assert month_key(paris_date(instant)) == "2026-10"
    # and the same instant seen from UTC is still October 31st, while 00:30 Paris on Nov 1st is October in UTC
    assert month_key(paris_date(paris_instant(datetime(2026, 11, 1, 0, 30)))) == "2026-11"


def test_an_ambiguous_october_time_is_its_first_occurrence():
    # 2026-10-25 02:30 happens twice in Paris; the first is still summer time (UTC+2)
    assert paris_instant(datetime(2026, 10, 25, 2, 30)) == datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc)


def test_a_time_skipped_in_march_is_an_error():
    with pytest.raises(NonexistentLocalTime, match="does not exist"):
        paris_instant(datetime(2026, 3, 29, 2, 30))


def test_a_time_with_an_offset_is_kept_as_that_instant():
    aware = datetime.fromisoformat("2026-03-29T02:30:00+00:00")
    assert paris_instant(aware) == aware


def test_a_day_after_today_is_a_problem_and_today_is_not():
    from policy.calendar import future_day_problem

    today = date(2026, 11, 23)
    assert future_day_problem(today, today, "--as-of") is None
    assert future_day_problem(date(2026, 11, 22), today, "--as-of") is None
    assert future_day_problem(date(2026, 11, 24), today, "--as-of") == "--as-of 2026-11-24 is after today (2026-11-23)"


@pytest.mark.parametrize("month, today, problem", [
    ("2026-10", date(2026, 11, 1), None),                      # the scheduled close, on the 1st
    ("2026-10", date(2026, 10, 31), "ends on 2026-10-31"),     # its last day is not over
    ("2026-11", date(2026, 11, 23), "ends on 2026-11-30"),
    ("2026-12", date(2027, 1, 1), None),                       # across a year end
    ("2027-01", date(2026, 12, 31), "ends on 2027-01-31"),
])
def test_a_month_can_be_closed_once_it_has_ended(month, today, problem):
    from policy.calendar import unfinished_month_problem

    found = unfinished_month_problem(month, today)
    assert (found is None) == (problem is None)
    if problem:
        assert problem in found and f"the month {month} has not ended" in found


def test_a_backup_day_is_today_only():
    """A backup holds the data of the moment it is taken: a day behind names today's data as older, a day
    ahead dates it in the future; both are refused with the reason (forcing is the flow's to allow)."""
    from policy.calendar import taken_day_problem

    today = date(2026, 12, 6)
    assert taken_day_problem(today, today, "the backup day") is None
    assert taken_day_problem(date(2026, 12, 7), today, "the backup day") == \
        "the backup day 2026-12-07 is after today (2026-12-06)"
    assert taken_day_problem(date(2024, 2, 29), today, "--as-of") == (
        "--as-of 2024-02-29 is before today (2026-12-06): a backup holds the data of the moment it is taken, so its "
        "id names today")
