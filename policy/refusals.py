"""What the product refuses to do as asked: one family of exceptions for every layer.

A refusal is the asker's mistake or a request the policy does not allow (an id outside the grammar, a month
ahead, a credit note larger than what is left, a cancellation already withdrawn). It is told in one line, the
command exits 2, and a run that meets it fails with the reason instead of a traceback: a traceback stays
the mark of a bug. A condition of the world (a server down, a full disk) is not a refusal:
lifecycle_config.conditions says what it is.

Every refusal of the product derives from `Refusal`, whatever module raises it, so the command line, the
runs' logs and the tests recognise one by its class, never by its name."""

from __future__ import annotations


class Refusal(Exception):
    """A request refused as asked; `str(error)` is the reason, whose first line is what the asker reads."""

    #: the exit code of a command that ends on it: 2, a usage error, as for a bad option
    exit_code = 2

    def one_line(self) -> str:
        text = str(self).strip()
        return text.splitlines()[0] if text else type(self).__name__
