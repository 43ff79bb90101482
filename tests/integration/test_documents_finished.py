"""A document written but never sent is finished by the next run (issue 24): a credit note issued while the
storage is read-only, or by a run killed (SIGKILL) right after its write, stays without its PDF and its mail;
the next run of any flow that issues documents, or the daily arrears sweep, renders, stores and mails it,
and a re-run of the same command says the note exists and where it stands. Real faults: a storage folder
nobody may write (root included), a process that kills itself at a failpoint. On SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from ledger.db import session_scope
from ledger.models import Invoice, Notice
from tests.integration.test_corrections import invoice_of, october  # noqa: F401 (fixture)
from tests.integration.test_invoices import mailbox, shown_invoices, stored  # noqa: F401 (fixture)
from tests.support.folders import read_only

pytestmark = pytest.mark.prefect

WILL_BE_SENT = ("it will be sent by the next run that issues documents (or the daily arrears sweep), or by "
                "`lifecycle run send-invoices --month {month} --new-only`")


def note_state(ledger, number: str) -> tuple[str | None, list[str]]:
    """Its stored document's key, and the statuses of its mails."""
    with session_scope(ledger) as session:
        note = session.scalar(select(Invoice).where(Invoice.number == number))
        return note.document_key, list(session.scalars(select(Notice.status).where(Notice.invoice_id == note.id)))


def credit_notes(ledger) -> list[dict]:
    return [item for item in shown_invoices(ledger) if item["kind"] == "credit_note"]


def mails_about(mailbox, number: str) -> list:
    return [mail for mail in mailbox if number in mail["message"]["Subject"]]


def test_a_credit_note_left_unstored_by_a_read_only_storage_is_mailed_by_the_next_run(october, mailbox, tmp_path,
                                                                                       monkeypatch):
    from flows.corrections import issue_credit_note

    acme, beta = invoice_of(october, "ACME"), invoice_of(october, "BETA")
    folder = tmp_path / "store"
    monkeypatch.setenv("LIFECYCLE_STORAGE_URL", f"file://{folder}")
    with read_only(folder):
        state = issue_credit_note(invoice=acme["number"], amount_ttc="100.00", reason="Goodwill", requested_by="claire",
                                  return_state=True)
        [note] = credit_notes(october)
        number, month = note["number"], note["issued_on"][:7]
        stands = f"issued {note['issued_on']}, document not rendered yet; " + WILL_BE_SENT.format(month=month)
        # one line: the note is issued (the ledger keeps it: the money is credited), its document waits
        assert state.is_failed() and state.message == (
            f"credit note {number} on invoice {acme['number']} is issued, but its document could not be stored "
            f"(object storage folder {folder} cannot be written (Operation not permitted; let this user write there "
            f"and free space, or set another folder in the storage block)): {stands}"), state.message
        assert note_state(october, number) == (None, []) and not mails_about(mailbox, number)
        # the same command again, storage still read-only: it says the note exists and where it stands
        again = issue_credit_note(invoice=acme["number"], amount_ttc="100.00", reason="Goodwill",
                                  requested_by="claire", return_state=True)
        assert again.is_failed() and again.message == (
            f"credit note on {acme['number']}: credit note {number} already credits 100.00 TTC on invoice "
            f"{acme['number']} for the same reason ({stands}): to issue another, say --again"), again.message
        assert len(credit_notes(october)) == 1 and not mails_about(mailbox, number)

    # the storage is writable again: the next run of a flow that issues documents (another credit note) finishes it
    other = issue_credit_note(invoice=beta["number"], amount_ttc="10.00", reason="Outage", requested_by="claire")
    key, mails = note_state(october, number)
    assert key and mails == ["sent"]
    [mail] = mails_about(mailbox, number)
    assert mail["to"] == ["acme@example.com"]
    [attachment] = list(mail["message"].iter_attachments())
    assert attachment.get_content() == stored(key)
    assert len(mails_about(mailbox, other["number"])) == 1
    # and asked once more, it now says it went out
    third = issue_credit_note(invoice=acme["number"], amount_ttc="100.00", reason="Goodwill", requested_by="claire",
                              return_state=True)
    assert f"({stands.split(',')[0]}, mailed " in third.message and len(mails_about(mailbox, number)) == 1


def test_a_credit_note_run_killed_after_its_write_is_mailed_by_the_daily_sweep(october, mailbox, tmp_path,
                                                                                prefect_server):
    """SIGKILL right after the ledger's write (no document, no mail); the daily arrears sweep finishes it and
    its artifact says so."""
    acme = invoice_of(october, "ACME")
    env = {**os.environ, "PREFECT_API_URL": prefect_server, "LIFECYCLE_FAILPOINT": "credit-note.issued"}
    killed = subprocess.run([sys.executable, "-m", "lifecycle.cli", "run", "credit-note", "--invoice", acme["number"],
                             "--amount", "120.00", "--reason", "Goodwill", "--requested-by", "claire"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode != 0, killed.stdout + killed.stderr
    [note] = credit_notes(october)
    assert note_state(october, note["number"]) == (None, []) and not mails_about(mailbox, note["number"])

    from flows.arrears import arrears_escalation

    arrears_escalation(as_of=note["issued_on"])
    key, mails = note_state(october, note["number"])
    assert key and mails == ["sent"]
    [mail] = mails_about(mailbox, note["number"])
    [attachment] = list(mail["message"].iter_attachments())
    assert attachment.get_content() == stored(key)

    report = _latest_markdown("arrears-escalation")
    assert f"1 document(s) an earlier run left unrendered or unsent finished ({note['number']})" in report


def _latest_markdown(key: str) -> str:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        [artifact] = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                                           sort="CREATED_DESC", limit=1)
    return artifact.data


def test_a_close_killed_before_its_documents_is_finished_by_the_next_run_which_says_so(prefect_server, home, ledger,
                                                                                       mailbox, tmp_path):
    """SIGKILL right after the close's finalisation (invoices numbered, no document, no mail): the same command
    again bills nothing twice and says what it finished, instead of "nothing changed"."""
    from tests.support.scenarios import load_october

    load_october(ledger, tmp_path)
    command = [sys.executable, "-m", "lifecycle.cli", "run", "monthly-close", "--month", "2026-10"]
    env = {**os.environ, "PREFECT_API_URL": prefect_server}
    killed = subprocess.run(command, env={**env, "LIFECYCLE_FAILPOINT": "close.finalised"}, capture_output=True,
                            text=True, timeout=300)
    assert killed.returncode != 0, killed.stdout + killed.stderr
    numbers = [item["number"] for item in shown_invoices(ledger, "2026-10")]
    assert numbers and all(note_state(ledger, number) == (None, []) for number in numbers)

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert (f"2026-10 was already closed: nothing billed again ({len(numbers)} invoice(s)); {len(numbers)} "
            f"document(s) an earlier run left unrendered or unsent are finished now") in again.stdout
    assert [item["number"] for item in shown_invoices(ledger, "2026-10")] == numbers
    for number in numbers:
        key, mails = note_state(ledger, number)
        assert key and mails == ["sent"] and len(mails_about(mailbox, number)) == 1
