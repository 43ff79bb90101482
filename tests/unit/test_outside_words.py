"""Words from another system (an S3 endpoint's or a mail server's error, a database's message, an e-invoicing
platform's refusal) reach the user's terminal in the one line an error is said in: a line break in them forged
a line, an ESC drove the terminal, a bidi override reordered the line. They are said with those characters as
their codes, everything else as it came."""

from __future__ import annotations

import pytest

from lifecycle_config.conditions import one_line


@pytest.mark.parametrize("said, shown", [
    ("SlowDown: reduce your request rate", "SlowDown: reduce your request rate"),
    ("AccessDenied \x1b[2J\x1b[31mall good", "AccessDenied \\x1b[2J\\x1b[31mall good"),
    ("550 mailbox \u202eunavailable", "550 mailbox \\u202eunavailable"),
    ("NoSuchBucket\nlifecycle: done, nothing failed", "NoSuchBucket"),
    ("relation \u00ab\u00a0factures\u00a0\u00bb inexistante", "relation \u00ab\u00a0factures\u00a0\u00bb inexistante"),
    ("file '/srv/\udcff.db' is locked", "file '/srv/\\udcff.db' is locked"),
    ("", "RuntimeError"),
])
def test_an_errors_line_says_what_a_terminal_would_act_on_as_its_code(said, shown):
    assert one_line(RuntimeError(said)) == shown
