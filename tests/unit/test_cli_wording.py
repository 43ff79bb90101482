"""Three options' lines, as the user reads them: a month names its option as --issued-in's does, a FIFO given
to --out is said to be no regular file (it was called "a file"), and --lines takes spaces around its numbers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import typer

from lifecycle.cli.common import check_month
from lifecycle.cli.run_checks import out_target
from lifecycle.cli.run_options import credit_note


def said(capsys, call) -> str:
    with pytest.raises(typer.Exit) as ended:
        call()
    assert ended.value.exit_code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("option", ["--month", "--issued-in"])
def test_a_month_that_is_not_one_names_its_option(capsys, option):
    assert said(capsys, lambda: check_month("2026-1", option)) == (
        f"lifecycle: {option}: not a month (YYYY-MM): '2026-1'\n")


def test_a_fifo_given_as_out_is_no_regular_file(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # paths of a few characters: given back whole (a long one is cut: test_long_values)
    fifo = Path("pipe")
    os.mkfifo(fifo)
    assert said(capsys, lambda: out_target(fifo, False, "2026-11")) == (
        f"lifecycle: --out {fifo}: not a regular file nor a folder (a FIFO, a socket or a device) (give a folder, or "
        f"a path ending in .xlsx)\n")
    plain = Path("notes")
    plain.write_text("x")
    assert said(capsys, lambda: out_target(plain, False, "2026-11")) == (
        f"lifecycle: --out {plain}: a file, not a folder (give a folder, or a path ending in .xlsx)\n")


def test_lines_take_spaces_around_their_numbers(capsys):
    taken = credit_note(invoice="2026-000001", amount=None, lines=" 1 , 2 ", reason="Outage", requested_by="claire",
                        again=False)
    assert taken["lines"] == [1, 2]
    assert said(capsys, lambda: credit_note(invoice="2026-000001", amount=None, lines="1,,2", reason="Outage",
                                            requested_by="claire", again=False)).startswith(
        "lifecycle: --lines '1,,2': line positions separated by commas, like 1,3 (")
