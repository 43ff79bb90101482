"""Text from outside (a file's cell, the helpdesk, a command's option, a form in the UI) as the product
stores and prints it: without control characters. NUL breaks the invoice documents (lxml) and the
workbook (openpyxl) long after the import that let it in; ESC and the C1 codes drive a terminal; a line
break inside a one-line value (a name, a reason, a bank reference) forges lines in mails and logs. An
invisible character is refused the same way, by its Unicode category rather than from a list: a bidi control
(U+202E) shows "Evil\u202egnp.exe" as "Evilexe.png" in the terminal, the PDF, the mail and the workbook; a
zero-width space, a tag character or a Hangul filler inside a name makes two names that look the same differ."""

from __future__ import annotations

import unicodedata

#: line breaks: a one-line value holds none of them (Unicode's too: str.splitlines splits on them)
LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")
#: ZWNJ and ZWJ (U+200C, U+200D) are format characters that stay: Persian, Indic scripts and emoji sequences
#: need them, and they reorder nothing
JOINERS = frozenset("\u200c\u200d")
#: invisible characters outside the format category: the Hangul fillers (letters that show nothing), the
#: combining grapheme joiner U+034F (a mark that shows nothing), the braille blank U+2800 (a symbol that shows
#: nothing, a favourite for names that look empty) and the object replacement character U+FFFC (a placeholder
#: for something that is not there)
BLANKS = frozenset("\u115f\u1160\u3164\uffa0\u034f\u2800\ufffc")
#: categories refused whole: format characters (Cf, but the joiners), private-use characters (Co: each font
#: draws them as it likes, or as nothing) and code points Unicode has not assigned (Cn, the noncharacters
#: U+FFFE and U+FFFF among them: no font draws them, and a later Unicode may give them any meaning)
REFUSED_CATEGORIES = frozenset({"Cf", "Co", "Cn"})


def invisible(char: str) -> bool:
    """Whether `char` is refused as invisible or unprintable: every format character (Unicode category Cf: the
    bidi controls, the zero-width space, the soft hyphen, the word joiner and the invisible operators, a BOM
    inside text, the tag characters, the interlinear annotations, the Mongolian vowel separator, ...) but ZWNJ
    and ZWJ, every private-use and unassigned code point, and the `BLANKS`. Variation selectors (Mn: an
    emoji's text or colour form) are kept."""
    return char in BLANKS or (unicodedata.category(char) in REFUSED_CATEGORIES and char not in JOINERS)


#: how much of a user's value an error line gives back: enough to recognise it, never a screen of it
SHOWN_CHARACTERS = 40


def quoted(value: str, most: int = SHOWN_CHARACTERS) -> str:
    """A user's value as one error line gives it back: quoted (its invisible characters escaped, as `repr`
    does), cut after its first `most` characters with the length said (`'99999…' (100,000 characters)`), so
    that a value pasted by mistake never fills the terminal, the log or the HTTP answer."""
    if len(value) <= most:
        return repr(value)
    return f"{value[:most] + '…'!r} ({len(value):,} characters)"


def character_name(char: str) -> str:
    """`U+202E RIGHT-TO-LEFT OVERRIDE`: a character as a message names it."""
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X} {name}" if name else f"U+{ord(char):04X}"


def utf8_problem(value: str, fix: str = "type the text in UTF-8") -> str | None:
    """Why `value` cannot be stored, printed or mailed: it holds a lone surrogate (U+D800 to U+DFFF), which no
    UTF-8 text has: bytes that were not UTF-8, read with `surrogateescape` (the byte named), or a surrogate
    escaped alone in JSON (`"\\ud800"`). Named by position and value, with `fix`."""
    for position, char in enumerate(value, start=1):
        if 0xD800 <= ord(char) <= 0xDFFF:
            shown = f"byte \\x{ord(char) - 0xDC00:02x}" if 0xDC80 <= ord(char) <= 0xDCFF else f"U+{ord(char):04X}"
            return f"is not valid UTF-8 (the {shown} at character {position}): {fix}"
    return None


def control_problem(value: str, *, lines: bool = False) -> str | None:
    """Why `value` is refused: a control character (C0, DEL, C1), an invisible format character (a bidi
    control, a zero-width space) or, in a one-line value, a line break; or, not empty, it shows nothing
    (only combining marks, variation selectors, joiners and spaces: `shows_nothing`).
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
        if invisible(char) and unicodedata.category(char) in ("Co", "Cn"):
            return (f"holds the unprintable character {character_name(char)} (at character {position}; private-use "
                    f"or unassigned: no two fonts show it alike): type the text without it")
        if invisible(char):
            return (f"holds the invisible character {character_name(char)} (at character {position}; it reorders "
                    f"or hides text): type the text without it")
    if value.strip() and all(shows_nothing(char) for char in value):
        first = next(char for char in value if not char.isspace())
        return (f"shows nothing: it holds only marks with no character to carry them ({character_name(first)}): "
                f"type the text itself")
    return None


def shows_nothing(char: str) -> bool:
    """Whether `char` shows nothing on its own: a space, a combining mark (U+0301 COMBINING ACUTE ACCENT: it
    accents the character before it), a variation selector (U+FE0F: it picks an emoji's form) or a joiner. A
    text of nothing else looks empty wherever it is shown, so it is refused as an empty one."""
    return char.isspace() or char in JOINERS or unicodedata.category(char) in ("Mn", "Me")


def text_problem(value: str, max_length: int, *, lines: bool = False) -> str | None:
    """Why `value` is refused as a text of at most `max_length` characters (an import's text cell, a name
    given to a command): empty, too long, or holding what `control_problem` refuses. Text that begins like a
    formula (`=`, `+`, `-`, `@`) is text, as in an import's cell: every export writes it as text."""
    if not value.strip():
        return "is empty"
    if len(value) > max_length:
        return f"is longer than {max_length} characters"
    return control_problem(value, lines=lines)


def checked(check):
    """A pydantic check running `check` on a non-empty text: its problem, if any, is the field's error (an
    empty value is left to the field's own rules, `min_length` or Optional)."""
    from pydantic import AfterValidator

    def validate(value):
        if isinstance(value, str) and value:
            problem = check(value)
            if problem:
                raise ValueError(problem)
        return value

    return AfterValidator(validate)


def plain(max_length: int, *, lines: bool = False):
    """A pydantic check of a setting typed in a block's form (the terms, the seller, the notifications): what
    `text_problem` refuses at an import is refused there too, before it reaches an invoice, a mail or a log."""

    def problem(value: str) -> str | None:
        said = text_problem(value, max_length, lines=lines)
        return None if said == "is empty" else said  # blank: the field's own rules

    return checked(problem)
