"""`lifecycle --help` as a user reads it in an 80- and a 120-column terminal."""

from __future__ import annotations

import os

import pytest

from tests.support.cli import lifecycle_in_process

PAGES = [[], ["run"], ["db"], ["run", "export"], ["run", "backup"], ["run", "restore"], ["up"], ["import"], ["show"]]


def help_of(args: list[str], columns: int) -> str:
    result = lifecycle_in_process(*args, "--help", env={**os.environ, "COLUMNS": str(columns), "TERM": "dumb"})
    assert result.returncode == 0, result.stderr
    return result.stdout


def descriptions(page: str, panel: str) -> list[list[str]]:
    """The description column of a panel's rows, each row as its lines (the panel's width too)."""
    lines = page.splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith(f"╭─ {panel}"))
    rows, column = [], None
    for line in lines[start + 1:]:
        if line.lstrip().startswith("╰"):
            break
        inner = line.strip()[1:-1]
        if column is None:  # the description starts after the widest name and its gap
            name = inner.split()[0]
            column = inner.index(name) + len(name)
            column += len(inner[column:]) - len(inner[column:].lstrip())
        named = inner[:column].strip()
        text = inner[column:].rstrip()
        if named or not rows:
            rows.append([text])
        else:
            rows[-1].append(text.strip())
    return [row for row in rows if row], len(lines[start + 1].strip()[1:-1]) - column


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("args", PAGES, ids=lambda args: " ".join(args) or "lifecycle")
def test_no_flag_is_shown_as_bool(args, columns):
    page = help_of(args, columns)
    assert "<bool>" not in page and "--help" in page


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("args", [[], ["run"]], ids=["lifecycle", "run"])
def test_a_command_list_wraps_only_where_the_terminal_ends(args, columns):
    """A line of a description is continued on the next only when the next word would not have fitted:
    no sentence breaks where the source file's docstring did."""
    rows, width = descriptions(help_of(args, columns), "Commands")
    for row in rows:
        for line, following in zip(row, row[1:]):
            next_word = following.split()[0]
            assert len(line.strip()) + 1 + len(next_word) > width - 1, (row, width)
