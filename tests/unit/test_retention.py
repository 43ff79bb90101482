from datetime import date, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from policy.retention import Kept, keep


def nightly(first: date, count: int, hour: int = 1):
    return [Kept(f"b{n}", datetime(first.year, first.month, first.day, hour, tzinfo=timezone.utc) + timedelta(days=n), True)
            for n in range(count)]


def test_seven_days_five_weeks_twelve_months():
    backups = nightly(date(2025, 1, 1), 700)                      # every night until 2026-11-30
    today = date(2026, 11, 30)
    kept = keep(backups, today, days=7, weeks=5, months=12)
    days = {b.created_at.date() for b in backups if b.backup_id in kept}
    assert {today - timedelta(days=n) for n in range(7)} <= days  # the last 7 days
    assert date(2026, 11, 22) in days and date(2026, 11, 15) in days and date(2026, 11, 8) in days  # Sundays of weeks
    assert date(2025, 12, 31) in days and date(2026, 1, 31) in days   # the newest of each of the last 12 months
    assert date(2025, 11, 30) not in days                               # 13 months ago
    assert len(kept) <= 7 + 5 + 12


def test_the_latest_good_backup_is_never_deleted_however_old():
    backups = [Kept("old", datetime(2020, 1, 1, tzinfo=timezone.utc), True),
               Kept("failed", datetime(2026, 11, 29, tzinfo=timezone.utc), False)]
    assert keep(backups, date(2026, 11, 30), days=7, weeks=5, months=12) == {"old"}


@given(st.lists(st.tuples(st.integers(0, 800), st.booleans()), max_size=60, unique_by=lambda t: t[0]),
       st.integers(1, 10), st.integers(0, 8), st.integers(0, 14))
def test_kept_backups_are_good_and_the_newest_good_is_always_among_them(items, days, weeks, months):
    start = datetime(2024, 1, 1, 2, tzinfo=timezone.utc)
    backups = [Kept(f"b{offset}", start + timedelta(days=offset), good) for offset, good in items]
    kept = keep(backups, date(2026, 3, 12), days=days, weeks=weeks, months=months)
    good = [b for b in backups if b.good]
    assert kept <= {b.backup_id for b in good}
    if good:
        assert max(good, key=lambda b: b.created_at).backup_id in kept


def test_a_retention_as_of_a_past_day_keeps_every_backup_made_after_that_day():
    """`run backup --as-of` a past day applies retention as of that day: the nightly backups of the days since
    are not its to judge (it used to delete all of them but the newest, beside a restore reading one)."""
    backups = nightly(date(2026, 11, 1), 30)                        # 1 to 30 November
    kept = keep(backups, date(2026, 11, 10), days=7, weeks=5, months=12)
    assert {f"b{n}" for n in range(10, 30)} <= kept                 # 11 November onwards, every one
    assert {f"b{n}" for n in range(3, 10)} <= kept                  # the 7 days up to the 10th
    assert "b1" not in kept and "b2" not in kept                    # older, and not the newest of their week
