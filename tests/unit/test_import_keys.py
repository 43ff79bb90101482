"""Keys of one import file (ledger.imports.rows.duplicates): ids are unique ignoring case, so `c020` below
`C020` is told at its row as the same id in another case, and an exact repeat as repeated."""

from datetime import date

from ledger.imports.rows import Problems, Row, duplicates, folded


def told(keys, column="credit_note_id", file="cn.csv"):
    rows = [Row(number, {column: key}) for number, key in enumerate(keys, start=2)]
    problems = Problems(file)
    duplicates(rows, lambda row: row.values.get(column), column, problems)
    return problems.lines(), [row.repeated for row in rows]


def test_an_id_equal_to_one_above_but_for_case_is_told_at_its_row():
    assert told(["C020", "c020", "C021"]) == (
        ["cn.csv:3:credit_note_id: 'c020' is 'C020' of row 2 in another case: ids are unique ignoring case"],
        [False, True, False])


def test_an_exact_repeat_is_still_told_as_repeated_and_each_row_once():
    assert told(["RX2", "RX2", "rx2"], "refund_id", "r.csv") == (
        ["r.csv:3:refund_id: 'RX2' is repeated in this file at row 2: a key appears once",
         "r.csv:4:refund_id: 'rx2' is 'RX2' of row 2 in another case: ids are unique ignoring case"],
        [False, True, True])


def test_a_key_of_several_parts_folds_its_text_parts_only():
    day = date(2026, 10, 20)
    assert folded(("C1", day)) == ("c1", day) and folded("Ab-9.x_Y") == "ab-9.x_y" and folded(None) is None
    rows = [Row(2, {"customer_id": "C1", "start_on": day}), Row(3, {"customer_id": "c1", "start_on": day})]
    problems = Problems("s.csv")
    duplicates(rows, lambda row: (row.values["customer_id"], row.values["start_on"]), "start_on", problems)
    assert problems.lines() == ["s.csv:3:start_on: 'c1, 2026-10-20' is 'C1, 2026-10-20' of row 2 in another case: "
                                "ids are unique ignoring case"]
