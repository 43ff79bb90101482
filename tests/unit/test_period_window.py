"""`run e-reporting --period 0000-01-D1` said `year 0 is out of range` (Python's words): a period given as an
option says its forms and the window, as the other date options do; and year 0000 in any date option (a day
`--as-of 0000-01-01`, a moment `--as-of 0000-01-01T10:00`) lies before the window, as year 0001 does, instead
of "not a date"."""

from __future__ import annotations

import pytest
import typer

from lifecycle.cli.common import parse_day
from lifecycle.cli.run_options import commitments, e_reporting
from tests.support.sqlite_ledger import sqlite_ledger

FORMS = "YYYY-MM-D1, YYYY-MM-D2, YYYY-MM-D3 (a decade's transactions) or YYYY-MM (a month's payments)"
MONTHS = "a month here lies from 2000-01 (earliest_date) to 400 days after today (horizon_days)"
DAYS = "a date here lies from 2000-01-01 (earliest_date) to 400 days after today (horizon_days)"


def said(capsys, call) -> str:
    with pytest.raises(typer.Exit) as ended:
        call()
    assert ended.value.exit_code == 2
    return capsys.readouterr().err


@pytest.fixture
def at_home(tmp_path, monkeypatch):
    sqlite_ledger(tmp_path, monkeypatch, "2026-11-20")


@pytest.mark.parametrize(("period", "where"), [
    ("0000-01-D1", "the month 0000-01 is before 2000-01"), ("0000-01", "the month 0000-01 is before 2000-01"),
    ("0001-01-D3", "the month 0001-01 is before 2000-01"), ("1999-12-D2", "the month 1999-12 is before 2000-01"),
    ("9999-12-D3", "the month 9999-12 is too far ahead"), ("9999-12", "the month 9999-12 is too far ahead"),
])
def test_a_period_outside_the_window_says_the_window_and_the_forms(capsys, at_home, period, where):
    assert said(capsys, lambda: e_reporting(period=period)) == (
        f"lifecycle: --period {period}: {where}: {MONTHS}; a period is written {FORMS}\n")


@pytest.mark.parametrize("period", ["2026-13-D1", "2026-00", "2026-11-D4", "2026-1-D1", "26-11-D1", "٢٠٢٦-11-D1"])
def test_a_period_not_of_its_form_says_the_forms(capsys, at_home, period):
    assert said(capsys, lambda: e_reporting(period=period)) == (
        f"lifecycle: --period '{period}' is no e-reporting period: write {FORMS}\n")


def test_a_period_in_the_window_that_has_ended_is_taken(at_home):
    assert e_reporting(period="2026-10-D3") == {"period": "2026-10-D3"}


@pytest.mark.parametrize("day", ["0000-01-01", "0000-02-29", "0000-12-31"])
def test_year_zero_in_a_day_option_lies_before_the_window(capsys, at_home, day):
    assert said(capsys, lambda: parse_day(day, "--as-of")) == f"lifecycle: --as-of {day} is before 2000-01-01: {DAYS}\n"


def test_year_zero_in_a_moment_option_lies_before_the_window(capsys, at_home):
    assert said(capsys, lambda: commitments(as_of="0000-01-01T10:00")) == (
        f"lifecycle: --as-of 0000-01-01T10:00 is before 2000-01-01: {DAYS}\n")


@pytest.mark.parametrize("day", ["0000-02-30", "0000-13-01", "0000-1-01"])
def test_year_zero_that_is_no_day_of_the_form_is_still_not_a_date(capsys, at_home, day):
    assert said(capsys, lambda: parse_day(day, "--as-of")) == f"lifecycle: --as-of is not a date (YYYY-MM-DD): '{day}'\n"
