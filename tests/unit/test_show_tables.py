"""What `lifecycle show` writes, subject by subject, as a user reads it in a file or a pipe.

- Every JSON instant is UTC, and so is the instant in a backup's `lock` (it was Paris time in JSON alone); the
  table and CSV write that instant in Paris time, as they do every other instant.
- Every table prints one line per record (only `show audit` and `show drills` did): a ticket's five instants,
  an invoice's document key, a long name or a terms' long value never fold a record over two lines at 200
  characters; free text is cut with an ellipsis (the whole of it is in --format json), nothing else is cut.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

import pytest
from typer.testing import CliRunner

from ledger.db import session_scope
from ledger.models import Backup
from lifecycle.cli import app
from lifecycle.cli.show import TABLE_COLUMNS, _table
from tests.support.sqlite_ledger import sqlite_ledger

LOCKED_UNTIL = datetime(2026, 12, 13, 23, 0, tzinfo=timezone.utc)  # 00:00 in Paris on the 14th


def locked_backup(tmp_path, monkeypatch):
    engine = sqlite_ledger(tmp_path, monkeypatch, "2026-11-20")
    with session_scope(engine) as session:
        session.add(Backup(backup_id="ACME-20261120", customer_id="ACME", kind="tenant", status="good",
                           created_at=datetime(2026, 11, 20, 1, 30, tzinfo=timezone.utc), lock_mode="governance",
                           locked_until=LOCKED_UNTIL))
    return engine


def test_a_backup_lock_is_utc_in_json_and_paris_time_in_the_table_and_csv(tmp_path, monkeypatch):
    locked_backup(tmp_path, monkeypatch)
    runner = CliRunner()
    [record] = json.loads(runner.invoke(app, ["show", "backups", "--format", "json"]).stdout)
    assert record["lock"] == "governance until 2026-12-13T23:00:00+00:00"
    assert record["created_at"] == "2026-11-20T01:30:00+00:00"  # as every other JSON instant
    [row] = list(csv.DictReader(io.StringIO(runner.invoke(app, ["show", "backups", "--format", "csv"]).stdout)))
    assert (row["lock"], row["created_at"]) == ("governance until 2026-12-14T00:00:00+01:00",
                                                "2026-11-20T02:30:00+01:00")
    table = runner.invoke(app, ["show", "backups"]).stdout
    assert "governance until 2026-12-14T00:00:00+01:00" in table and "+00:00" not in table


def test_a_deleted_backup_waiting_for_its_lock_keeps_its_words_around_the_paris_instant(tmp_path, monkeypatch):
    engine = locked_backup(tmp_path, monkeypatch)
    with session_scope(engine) as session:
        session.get(Backup, "ACME-20261120").status = "deleted"
    result = CliRunner().invoke(app, ["show", "backups", "--format", "csv"])
    assert "governance until 2026-12-14T00:00:00+01:00, removed then" in result.stdout


INSTANT = "2026-02-27T09:10:00+00:00"
LONG = "A very long free text that a user typed, " * 6


def record_of(subject: str) -> dict:
    """A record of `subject` whose every column is as wide as it plausibly gets."""
    values = {
        "customer_id": "CUSTOMER-WITH-A-LONG-ID-0001", "number": "F-2026-000123", "ticket_id": "HD-400271",
        "type": "blocking_workaround", "severity": "blocking", "state": "at_risk", "kind": "credit_note",
        "status": "cancelled", "document": "invoices/2026-11/CUSTOMER-WITH-A-LONG-ID-0001/F-2026-000123.pdf",
        "einvoice_status": "213", "einvoice_status_label": "Rejetée par la plateforme de réception " * 2,
        "lock": "governance until 2026-12-13T23:00:00+00:00, removed then", "key": "dk-0123456789abcdef (shredded)",
        "credits": "F-2026-000099", "term": "commitments.tiers.premium.first_response_minutes",
        "value": json.dumps({"tiers": {"premium": LONG}}), "has_credentials": True, "paused_minutes": 123456,
        "total_ht": "-123456.78", "total_ttc": "-148148.14", "balance": "-148148.14", "amount_ht": "123456.78",
        "before": {"stage": "current"}, "after": {"stage": "admin_disabled", "note": LONG}, "tier": "premium, gold",
        "action": "restore-drill", "source": "defaults", "id_problem": None,
    }
    record = {column: values.get(column, LONG if column in ("name", "subject", "description", "last_error", "actor",
                                                             "ran_by", "tables", "to") else INSTANT)
              for column in TABLE_COLUMNS.get(subject, [])}
    if subject == "backups":
        record = {key: values.get(key, INSTANT) for key in ("backup_id", "customer_id", "kind", "created_at",
                                                             "status", "rows", "bytes", "verified_at", "key", "lock")}
        record.update(backup_id="CUSTOMER-WITH-A-LONG-ID-0001-20261120", kind="tenant", rows=123456789,
                      bytes=1234567890)
    for key in ("before", "after", "einvoice_status", "einvoice_status_label", "source", "id_problem"):
        record.setdefault(key, values[key])
    return record


@pytest.mark.parametrize("subject", [*TABLE_COLUMNS, "backups"])
def test_every_table_prints_one_line_per_record(subject, capsys):
    _table(subject, [record_of(subject), record_of(subject)])
    lines = capsys.readouterr().out.splitlines()
    if subject == "terms":
        lines = lines[1:]  # the source's own line
    assert len(lines) == 1 + 2 + 1, "\n".join(lines)  # the header, one line per record, the count
    assert lines[-1] == f"2 {subject}"
    assert "CUSTOMER-WITH-A-LONG-ID-0001" in lines[1] or subject == "terms"  # ids are written whole
    if subject == "tickets":
        assert lines[1].count("2026-02-27T10:10:00+01:00") == 5  # every instant whole, in Paris time


def test_free_text_is_cut_with_an_ellipsis_and_the_rest_is_written_whole(capsys):
    _table("invoices", [record_of("invoices")])
    line = capsys.readouterr().out.splitlines()[1]
    assert "invoices/2026-11/CUSTOMER-WITH-A-LONG-ID-0001/F-2026-000123.pdf" in line
    assert "-148148.14" in line and "213 Rejetée" in line and "…" in line
    assert "Rejetée par la plateforme de réception Rejetée" not in line


def test_a_table_of_short_records_stays_within_200_characters(capsys):
    _table("customers", [{column: "x" for column in TABLE_COLUMNS["customers"]}])
    assert max(len(line) for line in capsys.readouterr().out.splitlines()) <= 200


@pytest.mark.parametrize("stored, shown", [
    ("Acme \x1b[31mred\x1b[0m", "Acme \\x1b[31mred\\x1b[0m"),            # ESC: a terminal's command
    ("Acme \x9b31m", "Acme \\x9b31m"),                                    # C1 CSI: the same in one byte
    ("Evil\u202egnp.exe", "Evil\\u202egnp.exe"),                          # a bidi override reorders the line
    ("Ac\u200bme", "Ac\\u200bme"),                                        # a zero-width space hides itself
    ("Acme\x07", "Acme\\x07"),                                            # BEL rings
    ("Famille 👨\u200d👩\u200d👧 ☕", "Famille 👨\u200d👩\u200d👧 ☕"),   # joiners of an emoji stay
    ("شركة الأمل", "شركة الأمل"),                                          # another script prints as it is
])
def test_stored_text_a_terminal_would_act_on_prints_as_its_escape_in_every_table(capsys, stored, shown):
    # every entry refuses these characters now, but a ledger written before (an older snapshot, a row typed in by
    # hand) still holds them: `show` recoloured the terminal, rang it or reordered the line instead of printing
    for subject, column in (("customers", "name"), ("audit", "actor"), ("tickets", "ticket_id")):
        _table(subject, [{**record_of(subject), column: stored}])
        out = capsys.readouterr().out
        assert shown in out, out
        assert not any(char in out for char in "\x1b\x9b\x07\u202e\u200b")
