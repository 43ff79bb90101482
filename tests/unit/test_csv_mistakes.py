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


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\xef\xbb\xbf\n\n", b"\n", b"\xef\xbb\xbf\r\n"],
                         ids=["nothing", "a-bom", "a-bom-and-blank-lines", "a-line-break", "a-bom-and-a-line-break"])
def test_a_file_of_nothing_but_a_bom_or_a_line_break_is_empty(tmp_path, content):
    """A file of UTF-8's BOM alone (3 bytes, no NUL) was told as UTF-16."""
    assert refusal(tmp_path / "c.csv", content) == "c.csv: the file is empty (no header row)"


@pytest.mark.parametrize("content", [b"a", b"a\n", b"ab\n"])
def test_a_file_of_a_few_ascii_bytes_is_no_utf16(tmp_path, content):
    path = tmp_path / "c.csv"
    path.write_bytes(content)
    assert read_sheet(path).header == ["a" if content != b"ab\n" else "ab"]


def test_quotes_inside_a_cell_and_doubled_quotes_still_read(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(b'a,b\nsay "hi",2\n"ok ""q""",3\n')
    assert [list(row.values()) for _, row in read_sheet(path).rows] == [['say "hi"', "2"], ['ok "q"', "3"]]


def test_an_xlsx_is_read_from_its_first_visible_sheet_never_a_hidden_one(tmp_path):
    """Excel shows the visible sheet; a hidden first sheet (an old version kept out of sight) is not imported."""
    from openpyxl import Workbook

    workbook = Workbook()
    old = workbook.active
    old.title = "Old"
    old.append(["customer_id", "name"])
    old.append(["OLD1", "Hidden Ltd"])
    old.sheet_state = "hidden"
    secret = workbook.create_sheet("Macro")
    secret.append(["customer_id"])
    secret.append(["OLD2"])
    secret.sheet_state = "veryHidden"
    shown = workbook.create_sheet("Now")
    shown.append(["customer_id", "name"])
    shown.append(["C1", "Shown SA"])
    workbook.active = 2
    workbook.save(tmp_path / "c.xlsx")
    sheet = read_sheet(tmp_path / "c.xlsx")
    assert [record for _, record in sheet.rows] == [{"customer_id": "C1", "name": "Shown SA"}]
    # a workbook whose every sheet is hidden (Excel will not save one; a hand-edited file can be)
    import zipfile

    with zipfile.ZipFile(tmp_path / "c.xlsx") as source:
        parts = {name: source.read(name) for name in source.namelist()}
    parts["xl/workbook.xml"] = parts["xl/workbook.xml"].replace(b'state="visible"', b'state="hidden"')
    with zipfile.ZipFile(tmp_path / "all-hidden.xlsx", "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)
    with pytest.raises(UnreadableFile) as refused:
        read_sheet(tmp_path / "all-hidden.xlsx")
    assert str(refused.value) == "all-hidden.xlsx: every sheet of the workbook is hidden: unhide the one to import"
