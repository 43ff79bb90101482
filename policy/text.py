"""Text from outside (a file's cell, the helpdesk, a command's option, a form in the UI) as the product
stores and prints it: without control characters. NUL breaks the invoice documents (lxml) and the
workbook (openpyxl) long after the import that let it in; ESC and the C1 codes drive a terminal; a line
break inside a one-line value (a name, a reason, a bank reference) forges lines in mails and logs. An
invisible format character is refused the same way: a bidi control (U+202E) shows "Evil\u202egnp.exe" as
"Evilexe.png" in the terminal, the PDF, the mail and the workbook; a zero-width space or a BOM inside a name
makes two names that look the same differ."""

from __future__ import annotations

#: line breaks: a one-line value holds none of them (Unicode's too: str.splitlines splits on them)
LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")
#: invisible format characters: the bidi controls (embeddings and overrides U+202A-U+202E, isolates
#: U+2066-U+2069, marks U+200E, U+200F, U+061C) and the invisible spaces (U+200B zero width space, U+2060 word
#: joiner, U+FEFF a BOM inside text). ZWNJ and ZWJ (U+200C, U+200D) stay: Persian, Indic scripts and emoji
#: sequences need them, and they reorder nothing.
INVISIBLE = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
                      "\u200b\u2060\ufeff")


def control_problem(value: str, *, lines: bool = False) -> str | None:
    """Why `value` is refused: a control character (C0, DEL, C1), an invisible format character (a bidi
    control, a zero-width space) or, in a one-line value, a line break.
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
        if char in INVISIBLE:
            return (f"holds the invisible character U+{code:04X} (at character {position}; it reorders or hides "
                    f"text): type the text without it")
    return None


def text_problem(value: str, max_length: int, *, lines: bool = False) -> str | None:
    """Why `value` is refused as a text of at most `max_length` characters (an import's text cell, a name
    given to a command): empty, too long, or holding what `control_problem` refuses. Text that begins like a
    formula (`=`, `+`, `-`, `@`) is text, as in an import's cell: every export writes it as text."""
    if not value.strip():
        return "is empty"
    if len(value) > max_length:
        return f"is longer than {max_length} characters"
    return control_problem(value, lines=lines)
