"""The one grammar of ids (docs/reference/import-formats.md "Ids"), for every id that comes from outside and every one we make.

Ids become storage keys, folder names, file names and mail headers. An id of 1-64 characters of
`A-Z a-z 0-9 . _ -`, not starting with `.` or `-`, can be none of `.`, `..`, a path, a key prefix
of another id's folder, an option, or a header with a line break. Imports refuse anything else at
its `file:row:column`; everything that turns an id into a key, a path or a header checks it again
with `checked_id`, so an id that reached the ledger some other way still cannot reach past its place.
"""

from __future__ import annotations

import re

from policy.refusals import Refusal
from policy.text import quoted

RULE = "1-64 characters of A-Z a-z 0-9 . _ -, not starting with . or -"
_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,63}")


class BadId(Refusal, ValueError):
    """An id outside the grammar, where it was about to become a key, a path or a header."""


def id_problem(value: str) -> str | None:
    """Why `value` is not an id, in words for the person who typed it; None when it is one."""
    if not isinstance(value, str) or not value:
        return "an id cannot be empty"
    if len(value) > 64:
        return f"an id has at most 64 characters, this one {len(value)}"
    if _ID.fullmatch(value) is None:
        bad = sorted({char for char in value if not (char.isascii() and (char.isalnum() or char in "._-"))})
        if bad:
            shown = ", ".join(repr(char) for char in bad[:5])
            return f"not an id ({RULE}): {shown} not allowed"
        return f"not an id ({RULE}): it starts with {value[0]!r}"
    return None


def checked_id(value: str, what: str = "id") -> str:
    """`value` when it is an id; BadId otherwise. Every key, path or header made of an id goes through here."""
    problem = id_problem(value)
    if problem:
        raise BadId(f"{what} {quoted(value)}: {problem}")
    return value
