"""Text from outside (a file's cell, the helpdesk, a command's option, a form in the UI) as the product
stores and prints it: without control characters. NUL breaks the invoice documents (lxml) and the
workbook (openpyxl) long after the import that let it in; ESC and the C1 codes drive a terminal; a line
break inside a one-line value (a name, a reason, a bank reference) forges lines in mails and logs."""

from __future__ import annotations

#: line breaks: a one-line value holds none of them (Unicode's too: str.splitlines splits on them)
LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")


def control_problem(value: str, *, lines: bool = False) -> str | None:
    """Why `value` is refused: a control character (C0, DEL, C1) or, in a one-line value, a line break.
    A multi-line value (`lines`: a description, credentials) may hold line breaks and tabs; a one-line one
    neither."""
    for position, char in enumerate(value, start=1):
        code = ord(char)
        if lines and char in "\t\n\r":
            continue
        if char in LINE_BREAKS:
            return f"holds a line break (U+{code:04X} at character {position}): this value is one line"
        if code < 32 or 0x7F <= code <= 0x9F:
            return f"holds the control character U+{code:04X} (at character {position}): type the text without it"
    return None
