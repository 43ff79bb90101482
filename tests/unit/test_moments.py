"""The moments a person types: `run commitments --as-of` and its deployment's `as_of` read a Paris wall-clock
time to the minute, as docs/reference/cli.md says, and refuse the spring DST change's gap in an import's
words; every instant parsed (imports too) takes offsets only within what real places use."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from lifecycle.cli import app
from operations.commitments import moment
from policy.calendar import NonexistentLocalTime, parse_moment, parse_paris_minute
from policy.refusals import Refusal


@pytest.mark.parametrize("text, offset", [("2026-12-06T10:00-12:00", -12 * 60), ("2026-12-06T10:00+14:00", 14 * 60),
                                          ("2026-12-06T10:00Z", 0), ("2026-12-06T10:00+0530", 330)])
def test_an_offset_a_place_uses_is_read(text, offset):
    assert parse_moment(text).utcoffset() == timedelta(minutes=offset)


@pytest.mark.parametrize("text, said", [
    ("2026-12-06T10:00-23:59", "its offset -23:59 is none a place uses (from -12:00 to +14:00)"),
    ("2026-12-06T10:00+14:01", "its offset +14:01 is none a place uses (from -12:00 to +14:00)"),
    ("2026-12-06T10:00-1201", "its offset -12:01 is none a place uses (from -12:00 to +14:00)"),
])
def test_an_offset_no_place_uses_is_refused_naming_it(text, said):
    with pytest.raises(ValueError) as refused:
        parse_moment(text, what="an ISO 8601 date-time")
    assert str(refused.value) == f"not an ISO 8601 date-time: {text!r}: {said}"


def test_the_commitments_moment_is_a_paris_minute_and_the_dst_gap_is_refused_in_an_imports_words():
    assert parse_paris_minute("2026-10-25T02:30") == datetime(2026, 10, 25, 2, 30)  # the autumn's first one
    for text in ("2026-12-06", "2026-12-06T10:00+05:00", "2026-12-06T10:00Z", "2026-12-06T10:00:00", "2026-12-06 10:00"):
        with pytest.raises(ValueError) as refused:
            parse_paris_minute(text)
        assert str(refused.value) == f"not a moment (YYYY-MM-DDTHH:MM, Europe/Paris): {text!r}"
    with pytest.raises(NonexistentLocalTime) as gap:
        parse_paris_minute("2026-03-29T02:30")
    assert str(gap.value) == "2026-03-29T02:30:00 does not exist in Europe/Paris (DST change)"


@pytest.mark.parametrize("as_of, line", [
    ("2026-03-29T02:30", "lifecycle: --as-of 2026-03-29T02:30:00 does not exist in Europe/Paris (DST change)"),
    ("2026-12-06", "lifecycle: --as-of is not a moment (YYYY-MM-DDTHH:MM, Europe/Paris): '2026-12-06'"),
    ("2026-12-06T10:00+05:00", "lifecycle: --as-of is not a moment (YYYY-MM-DDTHH:MM, Europe/Paris): "
                               "'2026-12-06T10:00+05:00'"),
])
def test_run_commitments_refuses_another_form_or_the_gap_in_one_line_before_anything(as_of, line, tmp_path,
                                                                                      monkeypatch):
    monkeypatch.setenv("LIFECYCLE_HOME", str(tmp_path))
    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-12-06")
    result = CliRunner().invoke(app, ["run", "commitments", "--as-of", as_of])
    assert result.exit_code == 2 and result.output.strip().splitlines() == [line]
    assert list(tmp_path.iterdir()) == []  # nothing made: no ledger, no server


def test_the_deployments_as_of_refuses_the_gap_and_an_offset_no_place_uses(monkeypatch):
    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-12-06")
    with pytest.raises(Refusal) as gap:
        moment(datetime(2026, 3, 29, 2, 30))
    assert str(gap.value) == "as_of 2026-03-29T02:30:00 does not exist in Europe/Paris (DST change)"
    far = datetime(2026, 12, 1, 10, 0, tzinfo=timezone(-timedelta(hours=23, minutes=59)))
    with pytest.raises(Refusal) as offset:
        moment(far)
    assert str(offset.value) == ("as_of 2026-12-01T10:00:00-23:59: its offset -23:59 is none a place uses (from "
                                 "-12:00 to +14:00)")
    assert moment(datetime(2026, 12, 1, 10, 0)).utcoffset() == timedelta(hours=1)  # Paris, winter
