"""The mistakes of a hand-saved CSV, told as what to do: a quote never closed, text after a closing quote, a
file saved as UTF-16 ("Unicode text"). Before, the first read the rest of the file into one cell and the row
was refused for three "required" values; the last was told as an invalid start byte."""

from pathlib import Path

import pytest

from ledger.readers import UnreadableFile, read_sheet


def refusal(path: Path, content: bytes) -> str:
    path.write_bytes(content)
    with pytest.raises(UnreadableFile) as refused:
        read_sheet(path)
    return str(refused.value)


def test_a_quote_never_closed_is_told_at_the_row_it_opens(tmp_path):
    assert refusal(tmp_path / "customers.csv", b'customer_id,name\nC0,ok\n"C1,x\nC2,y\n') == (
        "customers.csv:3: not readable as CSV (unexpected end of data; a cell that opens a quote never closes it)")


def test_text_after_a_closing_quote_says_how_to_quote(tmp_path):
    assert refusal(tmp_path / "c.csv", b'a,b\n"Acme" Ltd,2\n') == (
        "c.csv:2: not readable as CSV (',' expected after '\"'; a quoted cell goes on after its closing quote: "
        "quote the whole cell, and double a quote inside it (\"\"))")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"])
def test_a_utf16_or_utf32_file_is_named_so_with_or_without_its_bom(tmp_path, encoding):
    """Without a BOM, ASCII in UTF-16 is valid UTF-8 (a NUL between letters): it was told as a header naming
    none of the columns (a fifth probe)."""
    told = refusal(tmp_path / "c.csv", "customer_id,name\nC1,Zoé\n".encode(encoding))
    assert told == f"c.csv: not UTF-8 text (it is {encoding[:6].upper()}); save it as CSV UTF-8"


def test_quotes_inside_a_cell_and_doubled_quotes_still_read(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(b'a,b\nsay "hi",2\n"ok ""q""",3\n')
    assert [list(row.values()) for _, row in read_sheet(path).rows] == [['say "hi"', "2"], ['ok "q"', "3"]]
