"""A column without a name is never a silent drop: a helpdesk field named "" or " " is refused as an unknown
column (it was dropped and the call answered 200), and a file's value under a blank header cell is told by
its column's position (it was told as "more cells than the header has columns", or dropped unsaid)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ledger.imports import _records_sheet
from ledger.imports.rows import Problems, parse_sheet
from ledger.imports.schemas import schemas
from ledger.readers import read_sheet
from policy.terms import Terms
from policy.window import DateWindow

NOW = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)
TICKET = {"ticket_id": "T1", "customer_id": "C001", "received_at": "2026-05-01T10:00", "type": "bug"}


def problems_of(sheet, kind: str, label: str) -> list[str]:
    problems = Problems(label)
    parse_sheet(sheet, schemas(Terms())[kind], problems, None, window=DateWindow.of(Terms(), now=NOW))
    return problems.lines()


@pytest.mark.parametrize("blank", ["", " "])
def test_a_helpdesk_field_without_a_name_is_an_unknown_column(blank):
    told = problems_of(_records_sheet([{**TICKET, blank: "critical"}], "helpdesk", Terms()), "tickets", "helpdesk")
    expected = ", ".join(sorted(column.name for column in schemas(Terms())["tickets"]))
    assert told == [f"helpdesk:2:'': unknown column (expected {expected})"]


@pytest.mark.parametrize("content, column", [
    ("ticket_id,,customer_id,received_at,type\nT1,critical,C001,2026-05-01T10:00,bug\n", 2),
    ("ticket_id,customer_id,received_at,type,\nT1,C001,2026-05-01T10:00,bug,critical\n", 5),
])
def test_a_value_under_a_blank_header_cell_names_that_column(tmp_path, content, column):
    path = tmp_path / "tickets.csv"
    path.write_text(content)
    assert problems_of(read_sheet(path), "tickets", "tickets.csv") == [
        f"tickets.csv:2:column {column}: this cell has a value but its column has no name in the header (row 1): "
        f"name the column, or empty the cell"]


def test_a_blank_header_cell_over_empty_cells_and_a_cell_past_the_header_are_told_as_before(tmp_path):
    path = tmp_path / "tickets.csv"
    path.write_text("ticket_id,,customer_id,received_at,type,\nT1,,C001,2026-05-01T10:00,bug,\n"
                    "T2,,C001,2026-05-01T10:00,bug,,extra\n")
    assert problems_of(read_sheet(path), "tickets", "tickets.csv") == [
        "tickets.csv:3:-: the row has more cells than the header has columns"]
