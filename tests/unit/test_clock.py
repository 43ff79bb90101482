"""The product's one clock (lifecycle_config.clock): the machine's, unless LIFECYCLE_TODAY names the day."""

import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from lifecycle_config import clock
from policy.calendar import PARIS, today_paris

ROOT = Path(__file__).resolve().parents[2]


def real_paris_days() -> set[date]:
    """The machine's Paris day, read around the call under test (a test run over midnight sees both)."""
    return {datetime.now(timezone.utc).astimezone(PARIS).date()}


def test_unset_the_clock_is_the_machines(monkeypatch):
    monkeypatch.delenv("LIFECYCLE_TODAY", raising=False)
    before, days = datetime.now(timezone.utc), real_paris_days()
    now, today, policy_today = clock.now(), clock.today(), today_paris()
    after = datetime.now(timezone.utc)
    days |= real_paris_days()
    assert before <= now <= after and now.tzinfo is not None
    assert today in days and policy_today in days
    instant = datetime(2027, 3, 28, 1, 30, tzinfo=timezone.utc)
    assert clock.moved(instant) == instant


def test_an_empty_variable_is_unset(monkeypatch):
    monkeypatch.setenv("LIFECYCLE_TODAY", "  ")
    days = real_paris_days()
    today = clock.today()
    assert clock.set_day() is None and today in days | real_paris_days()


@pytest.mark.parametrize("day", ["2028-02-29", "2027-03-28", "2027-10-31", "2026-12-31", "2027-01-01"])
def test_the_variable_names_the_day_and_keeps_the_paris_time_of_day(monkeypatch, day):
    monkeypatch.setenv("LIFECYCLE_TODAY", day)
    real = datetime.now(timezone.utc).astimezone(PARIS)
    now = clock.now()
    assert now.tzinfo is not None
    assert now.astimezone(PARIS).date() == date.fromisoformat(day)
    assert clock.today() == today_paris() == date.fromisoformat(day)
    # the clock still ticks: the same wall-clock time of day, within the test's own duration (an hour
    # more when the named day's spring change skips the machine's time of day)
    local = now.astimezone(PARIS).replace(tzinfo=None)
    drift = local - datetime.combine(local.date(), real.time())
    assert timedelta(0) <= drift <= timedelta(hours=1, seconds=5)


def test_a_scheduled_instant_moves_with_the_day(monkeypatch):
    """A run Prefect scheduled yesterday at 06:30 (real clock) works for the day before the named one."""
    monkeypatch.setenv("LIFECYCLE_TODAY", "2027-10-31")
    real_today = datetime.now(timezone.utc).astimezone(PARIS).date()
    scheduled = datetime.combine(real_today - timedelta(days=1), datetime.min.time().replace(hour=6, minute=30), PARIS)
    moved = clock.moved(scheduled).astimezone(PARIS)
    assert (moved.date(), moved.hour, moved.minute) == (date(2027, 10, 30), 6, 30)


@pytest.mark.parametrize("raw", ["tomorrow", "2026-13-01", "2026-02-30", "20261206", "2026-12-06T10:00"])
def test_a_malformed_day_is_refused_by_name(monkeypatch, raw):
    monkeypatch.setenv("LIFECYCLE_TODAY", raw)
    with pytest.raises(clock.MalformedToday, match="LIFECYCLE_TODAY.*YYYY-MM-DD"):
        clock.today()
    with pytest.raises(ValueError):  # the policy's callers meet it too, never a silent real day
        today_paris()


@pytest.mark.parametrize("raw", ["0001-01-01", "1999-12-31", "2100-01-01", "9999-12-31"])
def test_a_day_outside_the_plausible_window_is_refused_naming_it(monkeypatch, raw):
    monkeypatch.setenv("LIFECYCLE_TODAY", raw)
    with pytest.raises(clock.MalformedToday) as refused:
        clock.today()
    assert str(refused.value) == (f"LIFECYCLE_TODAY='{raw}' is not a plausible day: it lies from 2000-01-01 to "
                                  f"2099-12-31; unset it to use the machine's clock")


@pytest.mark.parametrize("raw", ["2000-01-01", "2099-12-31"])
def test_the_window_s_edges_are_days(monkeypatch, raw):
    monkeypatch.setenv("LIFECYCLE_TODAY", raw)
    assert clock.today() == date.fromisoformat(raw)


def test_the_cli_says_so_in_one_line():
    env = {"PATH": "/usr/bin:/bin", "LIFECYCLE_TODAY": "06/12/2026", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "lifecycle.cli", "show", "customers"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "lifecycle: LIFECYCLE_TODAY='06/12/2026' is not a day (YYYY-MM-DD); unset it to use the machine's clock"]
