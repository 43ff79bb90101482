"""Markdown read as the Prefect UI reads an artifact, a table artifact's cell or a form's description: GFM
(tables, raw HTML, strikethrough) parsed by markdown-it-py, so that a test asserts what finance sees (the cells of
a row, the text of a line, whether anything in it is a link, an image or an HTML tag), not the source's bytes."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

# text_join off: a backslash-escaped character stays a token of its own, so a bare URL or address (which GFM and
# the UI link on their own: markdown-it-py's linkify needs a package the suite does not install) is seen whole in
# one text token only when nothing escapes it
_GFM = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).disable("text_join")
#: what GFM links by itself in text: a URL, a www. host, an e-mail address
_AUTOLINK = re.compile(r"(?:https?|ftp)://|www\.|\w@\w", re.IGNORECASE)


def _text(inline) -> str:
    return "".join(child.content if child.type in ("text", "text_special", "code_inline") else
                   "\n" if child.type in ("softbreak", "hardbreak") else "" for child in inline.children or [])


def tables(source: str) -> list[list[list[str]]]:
    """Each table of `source` as rendered: its rows (the header first), each a list of its cells' text."""
    found, rows, row = [], None, None
    for token in _GFM.parse(source):
        if token.type == "table_open":
            rows = []
        elif token.type == "tr_open":
            row = []
        elif token.type == "inline" and row is not None:
            row.append(_text(token))
        elif token.type == "tr_close":
            rows.append(row)
            row = None
        elif token.type == "table_close":
            found.append(rows)
    return found


def lines(source: str) -> list[str]:
    """The text of each paragraph, heading, list item and cell of `source`, as a reader sees it."""
    return [_text(token) for token in _GFM.parse(source) if token.type == "inline"]


def live(source: str) -> list[str]:
    """What in `source` is no text but acts: a link, an image, an HTML tag, a bare URL or address GFM links."""
    acting = []
    for token in _GFM.parse(source):
        if token.type == "html_block":
            acting.append(token.content)
        for child in token.children or []:
            if child.type in ("link_open", "image", "html_inline"):
                acting.append(child.type + " " + (child.attrs.get("href") or child.attrs.get("src") or child.content))
            elif child.type == "text" and _AUTOLINK.search(child.content):
                acting.append("autolink " + child.content)
    return acting
