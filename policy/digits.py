"""Numbers from outside (a file's cell, the helpdesk, a command's option, LIFECYCLE_TODAY) are written with the
digits 0-9 and nothing else.

Python reads other scripts' digits as numbers: `int("٣٠")` is 30, `Decimal("１００")` is 100, and the
regular expression `\\d` matches Arabic-Indic, Devanagari or full-width digits. A month written `٢٠٢٦-١١`
was thus read as November 2026 but stored as another text than `2026-11`, and closed a second time. Every
parse of digits the product does from outside goes through here (or a pattern of `[0-9]`), and a number
written in other digits is refused with the reason, never read as something else.
"""

from __future__ import annotations

import re
import unicodedata

from policy.text import quoted

ASCII_DIGITS = frozenset("0123456789")
#: a whole number: ASCII digits only, an optional sign (Python's int() also takes other scripts' digits,
#: spaces around and underscores between)
_WHOLE = re.compile(r"[+-]?[0-9]+")


def other_digits(text: str) -> list[str]:
    """The characters of `text` that are digits or numbers but not 0-9 (`٣`, `３`, `²`, `Ⅻ`), in order, once each."""
    found: list[str] = []
    for char in text:
        if char not in ASCII_DIGITS and (char.isdigit() or char.isnumeric()) and char not in found:
            found.append(char)
    return found


def digits_problem(text: str) -> str | None:
    """Why `text` is refused as a number written in other digits than 0-9; None when it holds none."""
    found = other_digits(text)
    if not found:
        return None
    char = found[0]
    return f"write digits 0-9: {quoted(text)} holds {char!r} ({unicodedata.name(char, f'U+{ord(char):04X}').lower()})"


def parse_whole(text: str, *, negative: bool = False) -> int:
    """A whole number written with 0-9 (a `-` only if `negative`, no leading zero); ValueError with the reason
    otherwise."""
    problem = digits_problem(text)
    if problem:
        raise ValueError(problem)
    if not _WHOLE.fullmatch(text):
        raise ValueError(f"not a whole number: {quoted(text)}")
    problem = sign_or_zeros_problem(text, negative=negative)
    if problem:
        raise ValueError(problem)
    return int(text)


def sign_or_zeros_problem(text: str, *, negative: bool = False) -> str | None:
    """Why a number written with 0-9 is not plain: the one rule of every number read from outside (a file's
    cell, the helpdesk, an option). No `+` (a sign says nothing a plain number does not), a `-` only where
    a negative number means something (`negative`), and no `-0`; no leading zero (`0012.50`, `007`: a
    spreadsheet's zero-padded code pasted in a number's column), one zero before the point being the only
    one (`0.50`). None: plain."""
    if text[:1] == "+":
        return f"write the number without a sign: {quoted(text)}"
    body = text[1:] if text[:1] == "-" else text
    if text[:1] == "-" and not negative:
        return f"must not be negative: {quoted(text)}"
    if text[:1] == "-" and body.strip("0.,") == "":
        return f"zero has no sign: {quoted(text)}"
    integer = re.split(r"[.,]", body, maxsplit=1)[0]
    if len(integer) > 1 and integer.startswith("0"):
        return f"write the number without leading zeros: {quoted(text)}"
    return None
