"""Text from outside (a file's cell, the helpdesk, a command's option, a form in the UI) as the product
stores and prints it: without control characters. NUL breaks the invoice documents (lxml) and the
workbook (openpyxl) long after the import that let it in; ESC and the C1 codes drive a terminal; a line
break inside a one-line value (a name, a reason, a bank reference) forges lines in mails and logs. An
invisible character is refused the same way, by its Unicode category rather than from a list: a bidi control
(U+202E) shows "Evil\u202egnp.exe" as "Evilexe.png" in the terminal, the PDF, the mail and the workbook; a
zero-width space, a tag character or a Hangul filler inside a name makes two names that look the same differ."""

from __future__ import annotations

import functools
import unicodedata
from pathlib import Path

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


def control_problem(value: str, *, lines: bool = False, printed: bool = False) -> str | None:
    """Why `value` is refused: a control character (C0, DEL, C1), an invisible format character (a bidi
    control, a zero-width space) or, in a one-line value, a line break; or, not empty, it shows nothing
    (only combining marks, variation selectors, joiners and spaces: `shows_nothing`); or, `printed` (a text an
    invoice or credit note prints: a customer's name or address, a reason, a line's description), a character
    the documents' font cannot draw (`undrawable_problem`).
    A multi-line value (`lines`: a description, credentials) may hold line breaks and tabs; a one-line one
    neither."""
    problem = _control_problem(value, lines=lines)
    return problem or (undrawable_problem(value) if printed else None)


def _control_problem(value: str, *, lines: bool) -> str | None:
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


#: the fonts every invoice and credit note is drawn with and embeds (reports/invoice_document/pdf.py): DejaVu Sans
#: and DejaVu Sans Bold, shipped in policy/fonts with their license (Bitstream Vera's, DejaVu's changes public
#: domain), so that no document depends on the fonts of the machine it is made on
FONT_FOLDER = Path(__file__).with_name("fonts")
DOCUMENT_FONT = FONT_FOLDER / "DejaVuSans.ttf"
DOCUMENT_FONT_BOLD = FONT_FOLDER / "DejaVuSans-Bold.ttf"
#: bidi classes the documents cannot lay out: reportlab draws characters left to right as they come, without
#: the reordering and the joined forms Hebrew and Arabic need (the font has their letters, the page would read
#: them backwards and unjoined)
RIGHT_TO_LEFT = frozenset({"R", "AL"})


@functools.cache
def drawable_characters() -> frozenset[int]:
    """The code points both document fonts draw (read once from their cmap tables): a buyer's name is printed
    in bold, its address in the regular face."""
    from reportlab.pdfbase.ttfonts import TTFontFile  # the documents' own library; read on the first non-ASCII text

    regular, bold = (frozenset(TTFontFile(str(path)).charToGlyph) for path in (DOCUMENT_FONT, DOCUMENT_FONT_BOLD))
    return regular & bold


def undrawable_problem(value: str) -> str | None:
    """Why `value` cannot be printed on an invoice or a credit note: it holds a character the documents' font
    has no glyph for (a CJK ideograph, most emoji, a script DejaVu Sans lacks: the PDF would show a box where
    the XML holds the letter), or one written right to left (`RIGHT_TO_LEFT`). Named by position, as every
    other refused character. Every character of ASCII is drawn; tabs and line breaks are no glyphs."""
    if value.isascii():
        return None
    drawable = drawable_characters()
    for position, char in enumerate(value, start=1):
        if char.isascii():
            continue
        if ord(char) not in drawable:
            return (f"holds the character {character_name(char)} (at character {position}), not drawable by the "
                    f"documents' font (DejaVu Sans): an invoice would print a box; type the text without it")
        if unicodedata.bidirectional(char) in RIGHT_TO_LEFT:
            return (f"holds the right-to-left character {character_name(char)} (at character {position}), which "
                    f"the documents cannot lay out (they print left to right): type the text in a left-to-right "
                    f"script")
    return None


def shows_nothing(char: str) -> bool:
    """Whether `char` shows nothing on its own: a space, a combining mark (U+0301 COMBINING ACUTE ACCENT: it
    accents the character before it), a variation selector (U+FE0F: it picks an emoji's form) or a joiner. A
    text of nothing else looks empty wherever it is shown, so it is refused as an empty one."""
    return char.isspace() or char in JOINERS or unicodedata.category(char) in ("Mn", "Me")


def text_problem(value: str, max_length: int, *, lines: bool = False, printed: bool = False) -> str | None:
    """Why `value` is refused as a text of at most `max_length` characters (an import's text cell, a name
    given to a command): empty, too long, or holding what `control_problem` refuses. Text that begins like a
    formula (`=`, `+`, `-`, `@`) is text, as in an import's cell: every export writes it as text."""
    if not value.strip():
        return "is empty"
    if len(value) > max_length:
        return f"is longer than {max_length} characters"
    return control_problem(value, lines=lines, printed=printed)


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


#: the characters a terminal acts on or hides rather than shows: control characters (ESC begins a terminal's
#: command, a line break forges a line), format characters (a bidi override reorders what follows),
#: private-use, unassigned and lone surrogates
ACTED_ON = frozenset({"Cc", "Cf", "Co", "Cn", "Cs"})


def controls_escaped(text: str) -> str:
    """`text` with each character a terminal or a renderer would act on or hide written as its escape
    (`\\x1b`, `\\u202e`, a line break `\\x0a`); the joiners of emoji and Indic scripts stay. Every entry refuses
    them now, but a ledger written before (a restored snapshot of an older version, a row typed in by hand)
    still holds them."""
    if text.isprintable():
        return text
    return "".join((f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")
                   if unicodedata.category(char) in ACTED_ON and char not in JOINERS else char for char in text)


#: what GitHub-flavoured Markdown reads as markup anywhere in a line: emphasis and strikethrough, code, links
#: and images (`[`: no link or image begins without one), raw HTML and entities (`<img onerror=…>`, `&lt;`), a
#: table's cell separator, a heading, and the `@` of a bare address (GFM and the Prefect UI link it on their own)
_MARKUP = frozenset("\\`*_[]<>#|~&@")


def markdown_literal(value: object) -> str:
    """Stored text (a customer's name, a ticket's subject, a reason, a reviewer's name, an error from outside)
    as Markdown that shows it as it is stored, in a line, a list item or a table cell: every character GFM
    reads as markup backslash-escaped, a line break and every other control character written as its escape
    (`\\x0a`: a row of a table is one line). Without it a name `X | 1.00 |` adds cells to an invoice's row (the
    UI drops the extra ones: finance reads the name's amounts, not the ledger's), and a name
    `[Pay here](https://…)` or `<img src=x onerror=…>` is a live link or tag in the approval form. Every
    artifact, table artifact cell and run form of the product passes its stored text through here."""
    text = controls_escaped(str(value))
    shown = []
    for position, char in enumerate(text):
        if char in _MARKUP:
            shown.append("\\" + char)
        elif char == "." and text[max(0, position - 3):position].lower() == "www" \
                or char == ":" and text[position + 1:position + 2] == "/":
            shown.append("\\" + char)  # `www.x.example` and `https://x.example` are links in GFM
        elif char in "-+.)" and _begins_a_list(text, position):
            shown.append("\\" + char)  # `- x`, `+ x`, `---`, `1. x` or `1) x`: a list or a rule, in a list item
        else:
            shown.append(char)
    return "".join(shown)


def _begins_a_list(text: str, position: int) -> bool:
    """Whether the character at `position` of a value makes its beginning a list's bullet (`- `, `+ `), a rule
    (`---`) or an ordered list's number (`1. `, `12) `): a negative amount (`-120.00`) does not."""
    after = text[position + 1:position + 2]
    if position == 0 and text[0] in "-+":
        return after in ("", " ", "\t") or text[0] == "-" and after == "-"
    return text[position] in ".)" and 0 < position < 10 and text[:position].isdigit() and after in ("", " ", "\t")


def markdown_row(*cells: object) -> str:
    """`| C001 | Name \\| with a bar | 1.00 |`: one row of a Markdown table, each cell stored text shown as
    stored (`markdown_literal`); an amount or a date reads as it is."""
    return "| " + " | ".join(markdown_literal(cell) for cell in cells) + " |"


def markdown_cells(rows: list[dict], *, links: tuple[str, ...] = ()) -> list[dict]:
    """A table artifact's rows with each text cell as `markdown_literal` writes it: the Prefect UI renders a
    table artifact's text cells as Markdown. `links` names the columns holding a link the product made (a
    document's download link), left as they are so that it stays one to click."""
    return [{key: markdown_literal(value) if isinstance(value, str) and key not in links else value
             for key, value in row.items()} for row in rows]
