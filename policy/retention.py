"""Which backups to keep (docs/reference/policy.md "Backups, restores and drills"): the newest good backup of each of the last 7 days,
5 ISO weeks and 12 months, and never a customer's latest good backup. Everything else can go.

A retention judges the backups up to its own day: one made after it (a backup run `--as-of` a past day,
beside the nightly ones of the days since) is kept whole, never deleted as if it were older."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from policy.calendar import PARIS, add_months, paris_date


@dataclass(frozen=True)
class Kept:
    backup_id: str
    created_at: datetime  # an instant
    good: bool


def keep(backups: list[Kept], today: date, *, days: int, weeks: int, months: int) -> set[str]:
    good = sorted((b for b in backups if b.good), key=lambda b: (b.created_at, b.backup_id), reverse=True)
    kept: set[str] = set()
    if good:
        kept.add(good[0].backup_id)
    first_day = today - timedelta(days=days - 1)
    this_week = today - timedelta(days=today.weekday())
    first_week = this_week - timedelta(weeks=weeks - 1) if weeks else None
    first_month = add_months(today.replace(day=1), -(months - 1)) if months else None
    seen_days, seen_weeks, seen_months = set(), set(), set()
    for backup in good:  # newest first: the first seen in a bucket is the one kept
        day = paris_date(backup.created_at)
        if day > today:  # after the day this retention is for: not its to judge
            kept.add(backup.backup_id)
            continue
        if first_day <= day <= today and day not in seen_days:
            seen_days.add(day)
            kept.add(backup.backup_id)
        week = day - timedelta(days=day.weekday())
        if first_week is not None and first_week <= week <= this_week and week not in seen_weeks:
            seen_weeks.add(week)
            kept.add(backup.backup_id)
        month = day.replace(day=1)
        if first_month is not None and first_month <= month <= today and month not in seen_months:
            seen_months.add(month)
            kept.add(backup.backup_id)
    return kept



def tiers(backups: list[Kept], backup_id: str, today: date, *, days: int, weeks: int, months: int) -> list[str]:
    """Why `backup_id` is kept today: `latest` (the customer's latest good backup) and each tier whose rule
    alone keeps it (daily, weekly, monthly); what a drill's evidence says of the backup it restored."""
    good = sorted((b for b in backups if b.good), key=lambda b: (b.created_at, b.backup_id), reverse=True)
    found = ["latest"] if good and good[0].backup_id == backup_id else []
    # a stand-in newer than `today` takes the "latest is always kept" rule and no tier's bucket
    stand_in = Kept("", datetime.combine(today + timedelta(days=2), datetime.min.time()).astimezone(), True)
    for name, limits in (("daily", (days, 0, 0)), ("weekly", (0, weeks, 0)), ("monthly", (0, 0, months))):
        if any(limits) and backup_id in keep([stand_in, *good], today, days=limits[0], weeks=limits[1],
                                             months=limits[2]):
            found.append(name)
    return found


# --- how long a backup stays immutable (Object Lock) -----------------------------------------------------

def locked_until(backups: list[Kept], today: date, *, days: int, weeks: int, months: int) -> dict[str, date]:
    """The first day the schedule may delete each good backup, as far as it is known `today`: the backup's
    lock lasts until then, and is never shortened.

    Written, a backup is a daily one: `keep` lets it go `days` days after its day. It is promoted once the
    week (the month) it was made in is over and it is that week's (month's) newest good backup: its week's
    (month's) tier lets it go `weeks` weeks after the week began (`months` months after the month began).
    Before that, being today's newest backup of its week says nothing (tomorrow's may take its place), so
    the lock waits for the bucket to close; the daily lock (7 days by default) covers the wait."""
    good = sorted((b for b in backups if b.good and paris_date(b.created_at) <= today),
                  key=lambda b: (b.created_at, b.backup_id), reverse=True)
    until: dict[str, date] = {}
    weeks_seen, months_seen = set(), set()
    for backup in good:  # newest first: the first seen in a closed week or month is the one it keeps
        day = paris_date(backup.created_at)
        until[backup.backup_id] = day + timedelta(days=days)
        week = day - timedelta(days=day.weekday())
        if weeks and week + timedelta(weeks=1) <= today and week not in weeks_seen:
            until[backup.backup_id] = max(until[backup.backup_id], week + timedelta(weeks=weeks))
        weeks_seen.add(week)
        month = day.replace(day=1)
        if months and add_months(month, 1) <= today and month not in months_seen:
            until[backup.backup_id] = max(until[backup.backup_id], add_months(month, months))
        months_seen.add(month)
    return until


def written_lock(day: date, *, days: int) -> date:
    """The lock of a backup made on `day` when it is written: its daily tier's (see `locked_until`)."""
    return day + timedelta(days=days)


def lock_instant(day: date) -> datetime:
    """The instant a lock that lasts until `day` ends: the start of that day in Europe/Paris (retention of that
    day runs after it, so the objects it lets go are free by then)."""
    return datetime.combine(day, time(), PARIS).astimezone(timezone.utc)
