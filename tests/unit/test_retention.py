from datetime import date, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from policy.retention import Kept, keep, lock_instant, locked_until


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


def test_a_lock_lasts_until_the_schedule_lets_the_backup_go_and_is_promoted_only_once_its_week_or_month_is_over():
    backups = nightly(date(2026, 10, 26), 40)  # Monday 2026-10-26 to Thursday 2026-12-03
    tiers = {"days": 7, "weeks": 5, "months": 12}
    until = locked_until(backups, date(2026, 12, 3), **tiers)
    assert until["b37"] == date(2026, 12, 9)    # Wednesday 2026-12-02: a daily, its week still open
    assert until["b34"] == date(2026, 12, 28)   # Sunday 2026-11-29, its week's newest: week 2026-11-23 + 5 weeks
    assert until["b33"] == date(2026, 12, 5)    # Saturday of that week: a daily only
    assert until["b35"] == date(2027, 11, 1)    # 2026-11-30, November's newest: 2026-11-01 + 12 months
    assert until["b5"] == date(2027, 10, 1)     # Saturday 2026-10-31, October's newest (not its week's: Sunday is)


def test_whatever_the_day_no_kept_backup_is_deleted_before_its_lock_would_allow():
    """The lock never outlasts what `keep` keeps by a day: on `until`, the backup may go (or is still kept by
    another rule), and before it `keep` keeps it, so retention never meets a lock it set itself."""
    backups = nightly(date(2026, 1, 1), 120)
    tiers = {"days": 7, "weeks": 5, "months": 12}
    for today in (date(2026, 2, 10), date(2026, 3, 2), date(2026, 4, 30)):
        until = locked_until(backups, today, **tiers)
        later = today + timedelta(days=1)
        while later < today + timedelta(days=60):
            kept = keep([b for b in backups if b.created_at.date() <= today], later, **tiers)
            for backup_id, day in until.items():
                if later < day:
                    assert backup_id in kept, (today, later, backup_id, day)
            later += timedelta(days=1)


def test_a_lock_ends_at_the_start_of_its_day_in_paris():
    assert lock_instant(date(2026, 12, 14)) == datetime(2026, 12, 13, 23, tzinfo=timezone.utc)
    assert lock_instant(date(2026, 7, 14)) == datetime(2026, 7, 13, 22, tzinfo=timezone.utc)
