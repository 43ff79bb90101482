"""`lifecycle run X` prints its result's lines with stored text in them (a customer's name, a platform's reason):
printed as stored, every character a terminal acts on escaped, as `show` prints them. Probe 16: a name holding an
OSC-8 hyperlink, a bidi override and a line break made `run commitments` print a live link, a reordered line and
a forged second line, while `show` escaped the same text."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from lifecycle.cli import run_printers
from operations.cancellation import CancellationsDone
from operations.einvoicing_documents import EinvoicingDone

HOSTILE = "Evil\x1b]8;;http://x/\x07L\x1b]8;;\x07 \u202eRTL\n[bold]fake line"


def printed(printer, result) -> str:
    app = typer.Typer()
    app.command()(lambda: printer(result, {}))
    return CliRunner().invoke(app).output


def test_stored_text_in_a_runs_lines_is_printed_as_stored_not_acted_on():
    done = CancellationsDone.from_summary({"day": "2026-11-20", "pending": [], "steps": [
        {"customer": HOSTILE, "detail": "access cut", "final backup": None}]})
    out = printed(run_printers.cancellations, done)
    assert out == ("2026-11-20: 1 step(s)\n"
                   "  Evil\\x1b]8;;http://x/\\x07L\\x1b]8;;\\x07 \\u202eRTL\\x0a[bold]fake line: access cut\n")
    refused = EinvoicingDone.from_summary({"day": "2026-11-20", "configured": True,
                                           "refused": [f"F-2026-000001: {HOSTILE}"]})
    out = printed(run_printers.einvoicing, refused)
    assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out
    assert out.count("\n") == 2 and "\\u202eRTL\\x0a[bold]fake line" in out


def test_ordinary_text_and_the_scripts_joiners_are_printed_unchanged():
    done = CancellationsDone.from_summary({"day": "2026-11-20", "pending": [], "steps": [
        {"customer": "Café Zoë 👩‍💻 क्‍ष", "detail": "access cut", "final backup": "ACME-20261120"}]})
    assert printed(run_printers.cancellations, done) == (
        "2026-11-20: 1 step(s)\n  Café Zoë 👩‍💻 क्‍ष: access cut; final backup ACME-20261120\n")
