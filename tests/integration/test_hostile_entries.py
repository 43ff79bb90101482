"""Hostile and careless input at every entry, round three: files that are not files, formulas, a key repeated
within one file, one bank reference for several refunds, dates outside the terms' window and in the future,
control characters in commands and the helpdesk's webhook, and stored text printed as it is. On SQLite and
PostgreSQL; the cases that fit one small file each are in tests/corpus (test_hostile_input.py)."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, insert, select

from ledger.db import now, session_scope
from ledger.imports import ImportRejected, import_file, import_records
from ledger.models import CustomerCredit, Invoice, Ticket
from ledger.readers import UnreadableFile
from policy.calendar import today_paris
from tests.integration.test_hostile_input import ledger_state
from tests.support.builders import CUSTOMER_HEADER, ErrorCell, customer, write_csv, xlsx_as_written
from tests.support.cli import lifecycle as command
from tests.support.cli import lifecycle_in_process, refused_before_any_run

REFUNDS = ["refund_id", "customer_id", "amount", "refunded_on", "reference"]
CREDIT_NOTES = ["credit_note_id", "invoice_number", "amount_ttc", "reason", "issued_on"]
WINDOW = "a date here lies from 2000-01-01 (earliest_date) to 400 days after today (horizon_days)"


def lifecycle(*args: str, **env: str) -> subprocess.CompletedProcess:
    return command(*args, env={**os.environ, **env}, timeout=180)


def refused(*args: str, **env: str) -> subprocess.CompletedProcess:
    """A command its checks refuse before anything runs: a `run` one in this process too (tests/support/cli.py)."""
    if args[0] == "run":
        return refused_before_any_run(*args, env={**os.environ, **env})
    return lifecycle(*args, **env)


def here(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Any command, `run` ones too, through the CLI's entry point in this process: where what is judged is what the
    command decides and says, not its process."""
    return lifecycle_in_process(*args, env={**os.environ, **env})


def one_line_refusal(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("lifecycle: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


@pytest.fixture
def with_credit(ledger, tmp_path):
    """C1 with an imported invoice INV-1 (120.00 TTC) paid twice: 120.00 of credit to refund."""
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("C1")]), engine=ledger)
    import_file("invoices", write_csv(tmp_path / "i.csv", ["invoice_id", "customer_id", "issued_on", "due_on",
                                                          "amount_ht", "vat_rate"],
                                      [["INV-1", "C1", "2026-10-01", "2026-10-31", "100.00", "0.20"]]), engine=ledger)
    import_file("payments", write_csv(tmp_path / "p.csv", ["payment_id", "invoice_id", "paid_on", "amount"],
                                      [["P1", "INV-1", "2026-10-05", "120.00"], ["P2", "INV-1", "2026-10-06", "120.00"]]),
                engine=ledger)
    return ledger


# --- files that are not regular files ----------------------------------------------------------------


def test_a_symlink_is_refused_without_echoing_its_target(ledger, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    link = tmp_path / "customers.csv"
    link.symlink_to(secret)
    before = ledger_state(ledger)
    with pytest.raises(UnreadableFile) as refused:
        import_file("customers", link, engine=ledger)
    assert "a symbolic link" in str(refused.value) and "root:x" not in str(refused.value)
    result = lifecycle("import", "customers", str(link))
    assert "a symbolic link" in one_line_refusal(result) and "root:x" not in result.stderr + result.stdout
    copy = tmp_path / "copy.csv"  # a regular copy of another file altogether: refused without echoing its lines
    copy.write_text(secret.read_text())
    with pytest.raises(ImportRejected) as rejected:
        import_file("customers", copy, engine=ledger)
    assert [line for line in rejected.value.errors if "root" in line] == []
    assert ledger_state(ledger) == before


def test_a_fifo_is_refused_at_once_instead_of_hanging(ledger, tmp_path):
    fifo = tmp_path / "customers.csv"
    os.mkfifo(fifo)
    with pytest.raises(UnreadableFile, match="a FIFO"):
        import_file("customers", fifo, engine=ledger)
    for name in ("customers.xlsx", "customers.tsv"):
        os.mkfifo(tmp_path / name)
        with pytest.raises(UnreadableFile, match="not a regular file"):
            import_file("customers", tmp_path / name, engine=ledger)
    assert "a FIFO (named pipe), not a regular file" in one_line_refusal(lifecycle("import", "customers", str(fifo)))
    with pytest.raises(UnreadableFile, match="a device"):
        import_file("customers", "/dev/zero", engine=ledger)


# --- a formula in a workbook ---------------------------------------------------------------------------


def test_a_formula_cell_says_formulas_are_not_read(ledger, tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(CUSTOMER_HEADER)
    sheet.append(customer("C2", fee="=100*9"))
    sheet.append(customer("C3", name="=HYPERLINK(\"http://x\",\"y\")"))
    path = tmp_path / "customers.xlsx"
    workbook.save(path)
    with pytest.raises(ImportRejected) as rejected:
        import_file("customers", path, engine=ledger)
    assert rejected.value.errors == [
        "customers.xlsx:2:monthly_fee: formulas are not read: type the value (the cell holds =100*9)",
        "customers.xlsx:3:name: formulas are not read: type the value (the cell holds =HYPERLINK(\"http://x\",\"y\"))",
    ]


def test_a_date_cell_past_the_calendar_is_told_at_its_cell_without_a_warning(ledger, tmp_path):
    """openpyxl reads a date cell whose number is no date (1E10) as #VALUE! and warned of it on stderr, before
    the refusal's first line."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(CUSTOMER_HEADER)
    sheet.append(customer("C2", start="x"))
    sheet["G2"] = 1e10
    sheet["G2"].number_format = "yyyy-mm-dd"
    path = tmp_path / "customers.xlsx"
    workbook.save(path)
    said = ["customers.xlsx:2:contract_start: a date cell whose number (10000000000) is no date: type the value"]
    with pytest.raises(ImportRejected) as rejected:
        import_file("customers", path, engine=ledger)
    assert rejected.value.errors == said
    result = lifecycle("import", "customers", str(path))
    assert result.returncode == 2 and result.stderr.splitlines()[0] == said[0], result.stderr


# --- a key repeated within one file ---------------------------------------------------------------------


def test_a_repeated_credit_note_id_is_told_as_repeated_not_as_already_imported(with_credit, tmp_path):
    rows = [["CN-1", "INV-1", "10.00", "Goodwill", "2026-11-02"], ["CN-1", "INV-1", "20.00", "Goodwill", "2026-11-02"]]
    with pytest.raises(ImportRejected) as rejected:
        import_file("credit-notes", write_csv(tmp_path / "cn.csv", CREDIT_NOTES, rows), engine=with_credit)
    assert rejected.value.errors == ["cn.csv:3:credit_note_id: 'CN-1' is repeated in this file at row 2: a key "
                                     "appears once"]
    with session_scope(with_credit) as session:
        assert session.scalar(select(func.count()).select_from(Invoice).where(Invoice.kind == "credit_note")) == 0


def test_a_repeated_refund_or_payment_id_is_told_once(with_credit, tmp_path):
    rows = [["R1", "C1", "10.00", "2026-11-02", "VIR-1"], ["R1", "C1", "10.00", "2026-11-02", "VIR-1"]]
    with pytest.raises(ImportRejected) as rejected:
        import_file("refunds", write_csv(tmp_path / "r.csv", REFUNDS, rows), engine=with_credit)
    assert rejected.value.errors == ["r.csv:3:refund_id: 'R1' is repeated in this file at row 2: a key appears once"]


# --- the same classes in every kind of import ---------------------------------------------------------------

#: each kind's columns and one row C1 and INV-1 (with_credit) make valid, keyed by the row's id; standby is keyed
#: by its customer and day, so its id column is the customer's
EVERY_KIND = {
    "customers": (CUSTOMER_HEADER, lambda key: [*customer(key)[:2], "c@example.com", *customer(key)[3:]]),
    # invoices of something else than the subscription: several rows of C1 in one file bill no day twice
    "invoices": (["invoice_id", "customer_id", "issued_on", "due_on", "amount_ht", "subscription"],
                 lambda key: [key, "C1", "2026-10-01", "2026-10-31", "10.00", "false"]),
    "payments": (["payment_id", "invoice_id", "paid_on", "amount"], lambda key: [key, "INV-1", "2026-10-07", "1.00"]),
    "interventions": (["intervention_id", "customer_id", "started_at", "minutes", "category"],
                      lambda key: [key, "C1", "2026-10-02T09:00", "15", "assistance"]),
    "standby": (["customer_id", "reason", "start_on", "end_on"],
                lambda key: [key, "temporary_inactivity", "2026-10-20", "2026-11-20"]),
    "credit-notes": (CREDIT_NOTES, lambda key: [key, "INV-1", "1.00", "Goodwill", "2026-11-02"]),
    "refunds": (REFUNDS, lambda key: [key, "C1", "1.00", "2026-11-02", f"VIR-{key}"]),
    "tickets": (["ticket_id", "customer_id", "received_at", "type", "channel", "level"],
                lambda key: [key, "C1", "2026-10-02T09:00", "evolution", "phone", "2"]),
    # keyed by the whole row (ticket, moment, status); its ticket must be known (_with_ticket)
    "ticket-events": (["ticket_id", "at", "status"], lambda key: [key, "2026-10-02T10:00", "waiting_customer"]),
}


def _with_ticket(kind, engine, tmp_path, key="K1"):
    """An event is refused for an unknown ticket: the ticket-events rows of these tests are about ticket `key`."""
    if kind == "ticket-events":
        header, row = EVERY_KIND["tickets"]
        import_file("tickets", write_csv(tmp_path / "ticket.csv", header, [row(key)]), engine=engine)


def test_every_kind_of_import_covers_every_kind():
    from ledger.imports import KINDS

    assert sorted(EVERY_KIND) == sorted(KINDS)


@pytest.mark.parametrize("kind", sorted(EVERY_KIND))
def test_every_kind_refuses_a_symlink_a_fifo_and_a_device_before_reading(kind, with_credit, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    (tmp_path / "link.csv").symlink_to(secret)
    os.mkfifo(tmp_path / "pipe.csv")
    before = ledger_state(with_credit)
    for path, what in ((tmp_path / "link.csv", "a symbolic link"), (tmp_path / "pipe.csv", "a FIFO"),
                       ("/dev/zero", "a device")):
        with pytest.raises(UnreadableFile, match=what) as refused:
            import_file(kind, path, engine=with_credit)  # a FIFO nobody writes to would hang a reader
        assert "root:x" not in str(refused.value)
    assert ledger_state(with_credit) == before


@pytest.mark.parametrize("kind", sorted(EVERY_KIND))
def test_every_kind_says_a_formula_is_not_read_in_its_key_and_in_another_cell(kind, with_credit, tmp_path):
    header, row = EVERY_KIND[kind]
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    sheet.append(['="K"&"1"', *row("K1")[1:]])
    other = row("K2" if kind != "standby" else "C1")
    other[2] = "=1+1"
    sheet.append(other)
    workbook.save(tmp_path / "file.xlsx")
    with pytest.raises(ImportRejected) as rejected:
        import_file(kind, tmp_path / "file.xlsx", engine=with_credit)
    assert rejected.value.errors == [
        f'file.xlsx:2:{header[0]}: formulas are not read: type the value (the cell holds ="K"&"1")',
        f"file.xlsx:3:{header[2]}: formulas are not read: type the value (the cell holds =1+1)"]


@pytest.mark.parametrize("kind", sorted(EVERY_KIND))
def test_every_kind_refuses_an_error_cell_in_its_key_and_in_another_cell(kind, with_credit, tmp_path):
    """#N/A in a name is no name (it was imported as the name '#N/A'), in an amount no amount: one line at its
    cell, as a formula's."""
    header, row = EVERY_KIND[kind]
    other = row("K2" if kind != "standby" else "C1")
    other[2] = ErrorCell("#DIV/0!")
    _with_ticket(kind, with_credit, tmp_path, "K2")
    before = ledger_state(with_credit)
    with pytest.raises(ImportRejected) as rejected:
        import_file(kind, xlsx_as_written(tmp_path / "file.xlsx", header, [[ErrorCell("#N/A"), *row("K1")[1:]], other]),
                    engine=with_credit)
    assert rejected.value.errors == [
        f"file.xlsx:2:{header[0]}: the cell shows the error #N/A, not a value: type the value",
        f"file.xlsx:3:{header[2]}: the cell shows the error #DIV/0!, not a value: type the value"]
    assert ledger_state(with_credit) == before


#: each kind's text column (one line) that a row of EVERY_KIND leaves empty or holds, beside its key
TEXT_COLUMN = {"customers": "name", "invoices": "description", "interventions": "engineer", "credit-notes": "reason",
               "refunds": "reference", "tickets": None, "payments": None, "standby": None, "ticket-events": None}


@pytest.mark.parametrize("kind", sorted(EVERY_KIND))
def test_every_kind_reads_an_escape_as_excel_shows_it_and_refuses_it_as_the_csv(kind, with_credit, tmp_path):
    """The key and a text column holding `_x202E_` (U+202E to Excel) in a shared string: each refused at its
    cell in the line the CSV holding U+202E gets."""
    header, row = EVERY_KIND[kind]
    column = TEXT_COLUMN[kind]
    header = [*header, *([column] if column and column not in header else [])]

    def padded(values: list, text: str | None = None) -> list:
        values = [*values, *[None] * (len(header) - len(values))]
        if text is not None:
            values[header.index(column)] = text
        return values

    key = "C1" if kind == "standby" else "K1"
    _with_ticket(kind, with_credit, tmp_path, key)
    escaped, shown = [padded(row(key[0] + "_x202E_" + key[1:]))], [padded(row(key[0] + "\u202e" + key[1:]))]
    if column:
        second = "C9" if kind == "customers" else "K2"
        escaped.append(padded(row(second), "Evil_x001B_[2J"))
        shown.append(padded(row(second), "Evil\x1b[2J"))
    before = ledger_state(with_credit)
    with pytest.raises(ImportRejected) as from_csv:
        import_file(kind, write_csv(tmp_path / "file.csv", header, shown), engine=with_credit)
    with pytest.raises(ImportRejected) as from_xlsx:
        import_file(kind, xlsx_as_written(tmp_path / "file.xlsx", header, escaped), engine=with_credit)
    assert [line.replace("file.xlsx:", "file.csv:", 1) for line in from_xlsx.value.errors] == from_csv.value.errors
    assert from_xlsx.value.errors[0].startswith(f"file.xlsx:2:{'customer_id' if kind == 'standby' else header[0]}: ")
    assert from_xlsx.value.errors[0].endswith("'\\u202e' not allowed")
    if column:
        assert from_xlsx.value.errors[-1] == (f"file.xlsx:3:{column}: holds the control character U+001B (at "
                                              f"character 5): type the text without it")
    assert ledger_state(with_credit) == before


def test_every_kind_of_refusal_begins_its_stderr_with_its_first_line(with_credit, tmp_path):
    """No empty line before a refusal (the progress bar, never shown for a small file or off a terminal, printed
    one when stopped): each kind's rejected file, and a file that cannot be read, as the command says them."""
    for kind, (header, row) in sorted(EVERY_KIND.items()):
        path = write_csv(tmp_path / f"{kind}.csv", header, [row("bad id!")])
        result = lifecycle("import", kind, str(path))
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith(f"{kind}.csv:2:{header[0]}: not an id "), (kind, result.stderr)
        assert result.stderr.endswith(f"lifecycle: {kind}.csv rejected: 1 error(s); nothing was written\n")
        assert "\n\n" not in result.stderr and result.stdout == ""
    unreadable = tmp_path / "customers.xlsx"
    unreadable.write_bytes(b"not a workbook")
    result = lifecycle("import", "customers", str(unreadable))
    assert result.returncode == 2 and result.stderr.startswith("lifecycle: customers.xlsx: not a readable XLSX")
    assert result.stderr.count("\n") == 1


def test_a_semicolon_or_tab_separated_csv_is_told_so(ledger, tmp_path):
    """French Excel saves a 'CSV' with `;` between its cells: the header then names no column, and the refusal
    says what to do rather than asking whether it is the right file."""
    for separator, said in ((";", "';'"), ("\t", "tabs")):
        path = tmp_path / "customers.csv"
        path.write_text("\n".join(separator.join(line) for line in [CUSTOMER_HEADER, customer("C2", name="Acme, SA")])
                        + "\n", encoding="utf-8")
        with pytest.raises(ImportRejected) as rejected:
            import_file("customers", path, engine=ledger)
        assert len(rejected.value.errors) == 1
        assert rejected.value.errors[0].startswith(f"customers.csv:1:-: this file's columns look separated by "
                                                   f"{said}: save it as CSV with commas (expected the columns ")
    workbook = tmp_path / "customers.xlsx"  # a workbook's cell holding `a;b` is no separator of a file
    xlsx_as_written(workbook, [";".join(CUSTOMER_HEADER)], [[";".join(customer("C2"))]])
    with pytest.raises(ImportRejected) as rejected:
        import_file("customers", workbook, engine=ledger)
    assert "the header names none of this file's columns" in rejected.value.errors[0]


@pytest.mark.parametrize("kind", sorted(EVERY_KIND))
def test_every_kind_tells_a_repeated_key_as_repeated_and_an_invalid_id_once(kind, with_credit, tmp_path):
    header, row = EVERY_KIND[kind]
    key = "C1" if kind == "standby" else "K1"
    repeated = [row(key), row(key)]
    if kind == "refunds":  # one reference per refund: the second row's own, so only its id is repeated
        repeated[1][-1] = "VIR-other"
    _with_ticket(kind, with_credit, tmp_path, key)
    before = ledger_state(with_credit)
    with pytest.raises(ImportRejected) as rejected:
        import_file(kind, write_csv(tmp_path / "repeated.csv", header, repeated), engine=with_credit)
    told = {"standby": f"'{key}, 2026-10-20'",
            "ticket-events": f"'{key}, 2026-10-02T10:00:00+02:00, waiting_customer'"}.get(kind, f"'{key}'")
    column = {"standby": "start_on", "ticket-events": "at"}.get(kind, header[0])
    assert rejected.value.errors == [f"repeated.csv:3:{column}: {told} is repeated in this file at row 2: a key "
                                     f"appears once"]
    with pytest.raises(ImportRejected) as rejected:  # an invalid id, twice: said at its cells, no "duplicate key None"
        import_file(kind, write_csv(tmp_path / "bad.csv", header, [row("bad id!"), row("bad id!")]), engine=with_credit)
    assert [error.split(": ", 1)[0] for error in rejected.value.errors] == [f"bad.csv:2:{header[0]}",
                                                                           f"bad.csv:3:{header[0]}"]
    assert all("not an id" in error and "None" not in error for error in rejected.value.errors), rejected.value.errors
    assert ledger_state(with_credit) == before


# --- one bank reference, one refund -------------------------------------------------------------------------


def test_one_bank_reference_is_one_refund_across_rows_and_files(with_credit, tmp_path):
    from ledger.credits import record_refund
    from policy.corrections import CorrectionRefused

    rows = [["R1", "C1", "10.00", "2026-11-02", "VIR-1"], ["R2", "C1", "10.00", "2026-11-02", "VIR-1"],
            ["R3", "C1", "10.00", "2026-11-02", "VIR-2"]]
    before = ledger_state(with_credit)
    with pytest.raises(ImportRejected) as rejected:
        import_file("refunds", write_csv(tmp_path / "r.csv", REFUNDS, rows), engine=with_credit)
    assert rejected.value.errors == ["r.csv:3:reference: bank reference 'VIR-1' is already refund R1's for C1 (refunded on 2026-11-02): one "
                                     "bank transfer is one refund"]
    assert ledger_state(with_credit) == before
    del rows[1]
    assert import_file("refunds", write_csv(tmp_path / "r.csv", REFUNDS, rows), engine=with_credit).inserted == 2
    later = [["R4", "C1", "10.00", "2026-11-03", "VIR-2"]]
    with pytest.raises(ImportRejected) as rejected:
        import_file("refunds", write_csv(tmp_path / "r2.csv", REFUNDS, later), engine=with_credit)
    assert rejected.value.errors == ["r2.csv:2:reference: bank reference 'VIR-2' is already refund R3's for C1 (refunded on 2026-11-02): one "
                                     "bank transfer is one refund"]
    # the command names the refund by its reference: one already used by an imported refund is refused
    with session_scope(with_credit, write=True) as session, pytest.raises(CorrectionRefused) as refused:
        record_refund(session, "C1", __import__("decimal").Decimal("10.00"), refund_id="VIR-1", reference="VIR-1",
                      refunded_on=today_paris(), actor="test", flow_run_id=None)
    assert refused.value.about == "reference" and "already refund R1's" in str(refused.value)
    with session_scope(with_credit) as session:
        assert session.scalar(select(func.count()).select_from(CustomerCredit)
                              .where(CustomerCredit.kind == "refund")) == 2


@pytest.mark.prefect
def test_the_refund_command_refuses_a_used_reference_in_one_line(prefect_server, with_credit, tmp_path):
    import_file("refunds", write_csv(tmp_path / "r.csv", REFUNDS, [["R1", "C1", "10.00", "2026-11-02", "VIR-1"]]),
                engine=with_credit)
    env = {"PREFECT_API_URL": prefect_server}
    refused = here("run", "refund", "--customer", "C1", "--amount", "10.00", "--reference", "VIR-1", **env)
    assert "bank reference 'VIR-1' is already refund R1's for C1" in one_line_refusal(refused)
    refused = here("run", "refund", "--customer", "C1", "--amount", "10.00", "--reference", "vir_1", **env)
    assert ("bank reference 'vir_1' is already refund R1's for C1 (refunded on 2026-11-02 as 'VIR-1'; references "
            "are compared without case, accents, spaces, dashes, punctuation and symbols)") in one_line_refusal(refused)
    done = here("run", "refund", "--customer", "C1", "--amount", "10.00", "--reference", "VIR-9", **env)
    assert done.returncode == 0, done.stderr
    again = here("run", "refund", "--customer", "C1", "--amount", "10.00", "--reference", "VIR-9", **env)
    assert again.returncode == 0 and "was recorded already" in again.stdout


# --- dates: the window, and facts that cannot lie ahead -------------------------------------------------------


def test_facts_of_the_past_are_refused_after_today_and_accepted_today(with_credit, tmp_path):
    today, tomorrow = today_paris(), today_paris() + timedelta(days=1)
    payments = ["payment_id", "invoice_id", "paid_on", "amount"]
    with pytest.raises(ImportRejected) as rejected:
        import_file("payments", write_csv(tmp_path / "p.csv", payments, [["P3", "INV-1", tomorrow.isoformat(), "1.00"]]),
                    engine=with_credit)
    assert rejected.value.errors == [f"p.csv:2:paid_on: {tomorrow} is after today: it cannot lie ahead; a date here "
                                     f"lies from 2000-01-01 (earliest_date) to today"]
    assert import_file("payments", write_csv(tmp_path / "p.csv", payments, [["P3", "INV-1", today.isoformat(), "1.00"]]),
                       engine=with_credit).inserted == 1
    tickets = ["ticket_id", "customer_id", "received_at", "type", "first_response_at"]
    rows = [["T1", "C1", "2026-10-05T10:00", "bug", f"{tomorrow}T09:00"], ["T2", "C1", f"{tomorrow}T00:00", "bug", ""]]
    with pytest.raises(ImportRejected) as rejected:
        import_file("tickets", write_csv(tmp_path / "t.csv", tickets, rows), engine=with_credit)
    assert rejected.value.errors == [
        f"t.csv:2:first_response_at: {tomorrow}T09:00 is after today: it cannot lie ahead; a date here lies from "
        f"2000-01-01 (earliest_date) to today",
        f"t.csv:3:received_at: {tomorrow}T00:00 is after today: it cannot lie ahead; a date here lies from "
        f"2000-01-01 (earliest_date) to today"]
    rows = [["T1", "C1", f"{today}T00:00", "bug", ""]]
    assert import_file("tickets", write_csv(tmp_path / "t.csv", tickets, rows), engine=with_credit).inserted == 1


def test_history_that_cannot_lie_ahead_is_refused_at_its_row(with_credit, tmp_path):
    """An imported invoice dated after today once stood in for months of subscription billing (the close saw the
    month billed); an intervention that has not started yet is not work done. Both refused at their row; today
    is fine. A due date, an invoice's period, a contract's start may lie ahead (within the horizon)."""
    today, tomorrow = today_paris(), today_paris() + timedelta(days=1)
    invoices = ["invoice_id", "customer_id", "issued_on", "due_on", "amount_ht", "period_start", "period_end"]
    with pytest.raises(ImportRejected) as rejected:
        import_file("invoices", write_csv(tmp_path / "i.csv", invoices, [
            ["ZI6", "C1", tomorrow.isoformat(), (tomorrow + timedelta(days=30)).isoformat(), "10.00", "", ""]]),
                    engine=with_credit)
    assert rejected.value.errors == [f"i.csv:2:issued_on: {tomorrow} is after today: it cannot lie ahead; a date here "
                                     f"lies from 2000-01-01 (earliest_date) to today"]
    assert import_file("invoices", write_csv(tmp_path / "i.csv", invoices, [
        ["ZI6", "C1", today.isoformat(), (today + timedelta(days=30)).isoformat(), "10.00", today.isoformat(),
         (today + timedelta(days=30)).isoformat()]]), engine=with_credit).inserted == 1
    interventions = ["intervention_id", "customer_id", "started_at", "minutes", "category"]
    with pytest.raises(ImportRejected) as rejected:
        import_file("interventions", write_csv(tmp_path / "w.csv", interventions, [
            ["W1", "C1", f"{tomorrow}T09:00", "30", "assistance"]]), engine=with_credit)
    assert rejected.value.errors == [f"w.csv:2:started_at: {tomorrow}T09:00 is after today: it cannot lie ahead; a "
                                     f"date here lies from 2000-01-01 (earliest_date) to today"]
    assert import_file("interventions", write_csv(tmp_path / "w.csv", interventions, [
        ["W1", "C1", f"{today}T00:00", "30", "assistance"]]), engine=with_credit).inserted == 1


def test_a_today_outside_a_plausible_window_is_refused_in_one_line(with_credit):
    """LIFECYCLE_TODAY=9999-12-31 or 0001-01-01 once ran every command on that day (overflows, a millennium of
    billing): refused before anything starts, naming the window; a plausible day works."""
    before = ledger_state(with_credit)
    for day in ("9999-12-31", "0001-01-01", "1999-12-31", "2100-01-01"):
        line = one_line_refusal(lifecycle("show", "customers", LIFECYCLE_TODAY=day))
        assert line == (f"lifecycle: LIFECYCLE_TODAY='{day}' is not a plausible day: it lies from 2000-01-01 to "
                        f"2099-12-31; unset it to use the machine's clock"), line
    assert ledger_state(with_credit) == before
    assert lifecycle("show", "customers", LIFECYCLE_TODAY="2000-01-01").returncode == 0


def test_the_window_does_not_depend_on_when_a_customer_was_imported(with_credit, tmp_path):
    """A vendor moving in closes past months for customers it imports today: 2001 is as good as last month."""
    rows = [["INV-2001", "C1", "2001-03-01", "2001-03-31", "10.00", "0.20"]]
    result = import_file("invoices", write_csv(tmp_path / "i.csv", ["invoice_id", "customer_id", "issued_on", "due_on",
                                                                   "amount_ht", "vat_rate"], rows), engine=with_credit)
    assert result.inserted == 1


def test_the_window_comes_from_the_terms(with_credit, tmp_path):
    from policy.terms import Terms

    terms = Terms(earliest_date="2026-01-01", horizon_days=10)
    far = (today_paris() + timedelta(days=11)).isoformat()
    rows = [["C1", "temporary_inactivity", "2025-12-31", None], ["C1", "temporary_inactivity", "2026-10-01", far]]
    with pytest.raises(ImportRejected) as rejected:
        import_file("standby", write_csv(tmp_path / "s.csv", ["customer_id", "reason", "start_on", "end_on"], rows),
                    engine=with_credit, terms=terms)
    window = "a date here lies from 2026-01-01 (earliest_date) to 10 days after today (horizon_days)"
    assert rejected.value.errors == [f"s.csv:2:start_on: 2025-12-31 is before 2026-01-01: {window}",
                                     f"s.csv:3:end_on: {far} is too far ahead: {window}"]


def test_show_tickets_never_crashes_on_extreme_dates_stored_by_an_older_release(with_credit):
    stamp = now()
    with session_scope(with_credit, write=True) as session:
        for ticket_id, at in (("T-FAR", datetime(9999, 12, 31, 22, 59, tzinfo=timezone.utc)),
                              ("T-OLD", datetime(1, 1, 1, 0, 0, tzinfo=timezone.utc))):
            session.execute(insert(Ticket).values(ticket_id=ticket_id, customer_id="C1", received_at=at, type="bug",
                                                  severity="critical", source="import", created_at=stamp,
                                                  updated_at=stamp))
    for args in (("show", "tickets"), ("show", "tickets", "--format", "json"), ("show", "tickets", "--format", "csv"),
                 ("show", "tickets", "--month", "2026-10")):
        shown = lifecycle(*args)
        assert shown.returncode == 0, (args, shown.stderr)
        assert "Traceback" not in shown.stderr
    assert "T-FAR" in lifecycle("show", "tickets").stdout
    states = {row["ticket_id"]: row["state"] for row in json.loads(lifecycle("show", "tickets", "--format",
                                                                             "json").stdout)}
    assert set(states) == {"T-FAR", "T-OLD"}
    # the morning's look at open tickets (run commitments) goes on past them too
    from operations.commitments import look
    from policy.terms import Terms

    with session_scope(with_credit, write=True) as session:
        session.execute(insert(Ticket).values(ticket_id="T-STOP", customer_id="C1", type="bug", source="import",
                                              received_at=datetime(2026, 10, 5, 8, 0, tzinfo=timezone.utc),
                                              first_response_at=datetime(9999, 12, 31, 22, 59, tzinfo=timezone.utc),
                                              created_at=stamp, updated_at=stamp))
    with session_scope(with_credit, write=True) as session:
        morning = look(session, Terms(), datetime.now(timezone.utc), flow_run_id=None)
    assert "T-OLD" in {row["ticket"] for row in morning.rows}


def test_dates_and_months_of_commands_are_refused_in_one_line_naming_the_window(with_credit):
    cases = [
        (("run", "export", "--month", "9999-12"), "--month: the month 9999-12 is too far ahead: a month here lies from "
                                                   "2000-01 (earliest_date) to 400 days after today (horizon_days)"),
        (("run", "export", "--month", "0000-01"), "--month: the month 0000-01 is before 2000-01"),
        (("run", "export", "--month", "0001-01"), "--month: the month 0001-01 is before 2000-01"),
        (("run", "monthly-close", "--month", "0001-01"), "the month 0001-01 is before 2000-01"),
        (("run", "monthly-close", "--month", "9999-12", "--force", "--reason", "x"), "the month 9999-12 is too far"),
        (("run", "send-invoices", "--month", "0001-01"), "the month 0001-01 is before 2000-01"),
        (("show", "invoices", "--month", "9999-12"), "the month 9999-12 is too far ahead"),
        (("run", "cancel", "--customer", "C1", "--received-on", "0001-01-01"),
         f"--received-on 0001-01-01 is before 2000-01-01: {WINDOW}"),
        (("run", "cancel", "--customer", "C1", "--received-on", "2026-11-02", "--effective-on", "9999-12-31"),
         f"--effective-on 9999-12-31 is too far ahead: {WINDOW}"),
        (("run", "arrears", "--as-of", "0001-01-01"), "--as-of 0001-01-01 is before 2000-01-01"),
        (("run", "arrears", "--as-of", "9999-12-31", "--dry-run"), "--as-of 9999-12-31 is too far ahead"),
        (("run", "backup", "--as-of", "1999-12-31"), "--as-of 1999-12-31 is before 2000-01-01"),
        (("run", "standby-request", "--customer", "C1", "--reason", "temporary_inactivity", "--end-on", "9999-12-31"),
         "--end-on 9999-12-31 is too far ahead"),
        (("run", "commitments", "--as-of", "0001-01-01T00:00"), "--as-of 0001-01-01T00:00:00 is before 2000-01-01"),
        (("demo", "--customers", "2", "--as-of", "0001-01-01"), "--as-of 0001-01-01 is before 2000-01-01"),
    ]
    before = ledger_state(with_credit)
    for args, says in cases:
        line = one_line_refusal(refused(*args))
        assert says in line, (args, line)
    assert ledger_state(with_credit) == before


@pytest.mark.prefect
def test_a_cancellation_from_the_ui_with_a_date_outside_the_window_is_refused(prefect_server, with_credit):
    from datetime import date

    from flows.cancellation import cancellation_request

    before = ledger_state(with_credit)
    for received, effective in ((date(1, 1, 1), None), (date(2026, 11, 2), date(9999, 12, 31))):
        state = cancellation_request(customer_id="C1", received_on=received, effective_on=effective,
                                     return_state=True)
        assert state.is_failed() and "a date here lies from 2000-01-01 (earliest_date)" in state.message, state.message
    after = ledger_state(with_credit)
    del before["terms_copies"], after["terms_copies"]  # each run keeps the terms it read; nothing else is written
    assert after == before


# --- control characters at every entry, and stored text printed literally -----------------------------------


def test_control_characters_in_a_commands_text_are_refused_in_one_line(with_credit):
    cases = [
        (("run", "credit-note", "--invoice", "INV-1", "--amount", "1.00", "--reason", "Good\x01will",
          "--requested-by", "ann"), "--reason: holds the control character U+0001"),
        (("run", "credit-note", "--invoice", "INV-1", "--amount", "1.00", "--reason", "Goodwill",
          "--requested-by", "ann\x1b[2J"), "--requested-by: holds the control character U+001B"),
        (("run", "refund", "--customer", "C1", "--amount", "1.00", "--reference=VIR\n1"),
         "--reference: holds a line break (U+000A"),
        (("run", "cancel", "--customer", "C1", "--received-on", "2026-11-02", "--requested-by", "ops\u2028x"),
         "--requested-by: holds a line break (U+2028"),
        (("run", "restore", "--customer", "C1", "--requested-by", "ann", "--ticket", "T\x9b1"),
         "--ticket: holds the control character U+009B"),
    ]
    before = ledger_state(with_credit)
    for args, says in cases:
        line = one_line_refusal(refused(*args))
        assert says in line, (args, line)
    assert ledger_state(with_credit) == before


def test_stored_text_is_printed_as_it_is_never_as_markup(ledger, tmp_path):
    names = {"M1": "[/bold] x", "M2": "[link=http://evil.example]click[/link]", "M3": "[red]alert[/red] \\[y]"}
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER,
                                       [customer(key, name=name) for key, name in names.items()]), engine=ledger)
    renamed = {key: f"{name} v2" for key, name in names.items()}
    import_file("customers", write_csv(tmp_path / "c2.csv", CUSTOMER_HEADER,
                                       [customer(key, name=name) for key, name in renamed.items()]), engine=ledger)
    shown = lifecycle("show", "customers")
    assert shown.returncode == 0, shown.stderr
    for name in renamed.values():
        assert name in shown.stdout
    assert "\x1b]8;" not in shown.stdout  # no terminal hyperlink
    audit = lifecycle("show", "audit")
    assert audit.returncode == 0, audit.stderr
    assert "[/bold] x v2" in audit.stdout and "[link=http://evil.example]click[/link]" in audit.stdout


def test_the_webhook_refuses_control_characters_and_dates_outside_the_window_with_422(with_credit):
    from lifecycle.helpdesk import headers, receive

    secret = b"s" * 32

    def post(records) -> tuple[int, dict]:
        body = json.dumps(records).encode()
        return receive(body, headers(secret, body), secret, max_bytes=1_000_000, sealer=lambda text: text,
                       engine=with_credit)

    before = ledger_state(with_credit)
    status, answer = post({"ticket_id": "T1", "customer_id": "C1", "received_at": "0001-01-01T00:00", "type": "bug"})
    assert status == 422 and answer["errors"] == [
        "helpdesk:2:received_at: 0001-01-01T00:00 is before 2000-01-01: a date here lies from 2000-01-01 "
        "(earliest_date) to today"]
    status, answer = post({"ticket_id": "T1", "customer_id": "C1", "received_at": "9999-12-31T23:59", "type": "bug"})
    assert status == 422 and "is after today" in answer["errors"][0]
    status, answer = post({"ticket_id": "T1", "customer_id": "C1", "received_at": "2026-10-05T10:00", "type": "bug",
                           "credentials": "user\x00root"})
    assert status == 422 and answer["errors"] == ["helpdesk:2:credentials: holds the control character U+0000 (at "
                                                  "character 5): type the text without it"]
    status, answer = post({"ticket_id": "T1", "customer_id": "C1", "received_at": "2026-10-05T10:00", "type": "bug",
                           "Type": "question"})
    assert status == 422 and answer["errors"] == ["helpdesk:1:type: the column is repeated in the header (columns 4 "
                                                  "and 5): each column appears once"]
    assert ledger_state(with_credit) == before
    status, answer = post({"ticket_id": "T1", "customer_id": "C1", "received_at": "2026-10-05T10:00", "type": "bug",
                           "credentials": "host: db\nuser: root\tpassword: x"})
    assert status == 200 and answer["inserted"] == 1, answer


def test_import_records_refuse_what_files_refuse(with_credit):
    with pytest.raises(ImportRejected) as rejected:
        import_records("refunds", [{"refund_id": "R1", "customer_id": "C1", "amount": "1.00",
                                    "refunded_on": "2026-11-02", "reference": "VIR\x1b1"}],
                       label="api", engine=with_credit, actor="test")
    assert rejected.value.errors == ["api:2:reference: holds the control character U+001B (at character 4): type "
                                     "the text without it"]


# --- round four: invisible characters, variants of one bank reference, hostile headers and numbers ------------


def test_variants_of_one_bank_reference_are_one_refund_across_the_command_and_imports(with_credit, tmp_path):
    from decimal import Decimal

    from ledger.credits import record_refund
    from policy.corrections import CorrectionRefused

    with session_scope(with_credit, write=True) as session:  # the command records the refund by its reference
        record_refund(session, "C1", Decimal("10.00"), refund_id="BANK-77", reference="BANK-77",
                      refunded_on=today_paris(), actor="test", flow_run_id=None)
    before = ledger_state(with_credit)
    variants = ["bank-77", "BANK 77", "BANK\u201177", "ＢＡＮＫ－７７", "Bank.77", "BANK\u221277", "BANK-\u0667\u0667",
                "BANK-7\u03327", "BANK+77"]
    rows = [[f"R{n}", "C1", "1.00", "2026-11-02", variant] for n, variant in enumerate(variants, start=1)]
    with pytest.raises(ImportRejected) as rejected:
        import_file("refunds", write_csv(tmp_path / "r.csv", REFUNDS, rows), engine=with_credit)
    on = today_paris().isoformat()
    assert rejected.value.errors == [
        f"r.csv:{n}:reference: bank reference {variant!r} is already refund BANK-77's for C1 (refunded on {on} as "
        f"'BANK-77'; references are compared without case, accents, spaces, dashes, punctuation and symbols): one "
        f"bank transfer is one refund" for n, variant in enumerate(variants, start=2)]
    assert ledger_state(with_credit) == before
    # within one file, and from the command after an import
    rows = [["R1", "C1", "1.00", "2026-11-02", "VIR 5"], ["R2", "C1", "1.00", "2026-11-02", "vir-5"]]
    with pytest.raises(ImportRejected) as rejected:
        import_file("refunds", write_csv(tmp_path / "r2.csv", REFUNDS, rows), engine=with_credit)
    assert rejected.value.errors == [
        "r2.csv:3:reference: bank reference 'vir-5' is already refund R1's for C1 (refunded on 2026-11-02 as "
        "'VIR 5'; references are compared without case, accents, spaces, dashes, punctuation and symbols): one bank "
        "transfer is one refund"]
    assert import_file("refunds", write_csv(tmp_path / "r3.csv", REFUNDS, rows[:1]), engine=with_credit).inserted == 1
    with session_scope(with_credit, write=True) as session, pytest.raises(CorrectionRefused) as refused:
        record_refund(session, "C1", Decimal("1.00"), refund_id="VIR5", reference="VIR5", refunded_on=today_paris(),
                      actor="test", flow_run_id=None)
    assert refused.value.about == "reference" and "is already refund R1's for C1" in str(refused.value)
    with session_scope(with_credit, write=True) as session, pytest.raises(CorrectionRefused, match="only spaces"):
        record_refund(session, "C1", Decimal("1.00"), refund_id="R9", reference="- -", refunded_on=today_paris(),
                      actor="test", flow_run_id=None)
    # the same reference for another customer is another transfer
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("C2")]), engine=with_credit)
    with session_scope(with_credit, write=True) as session, pytest.raises(CorrectionRefused) as refused:
        record_refund(session, "C2", Decimal("1.00"), refund_id="R10", reference="bank-77", refunded_on=today_paris(),
                      actor="test", flow_run_id=None)
    assert "C2's credit is 0.00 EUR" in str(refused.value)  # refused for its credit, not for C1's reference


BIDI = "Evil\u202egnp.exe"


def test_bidi_controls_and_invisible_characters_are_refused_at_every_entry(with_credit, tmp_path):
    before = ledger_state(with_credit)
    files = {
        "customers": (CUSTOMER_HEADER + ["billing_address"],
                      [customer("C7", name=BIDI) + ["1 rue A / 75001 Paris"],
                       customer("C8") + ["1 rue\u2066 A / 75001 Paris"]]),
        "invoices": (["invoice_id", "customer_id", "issued_on", "due_on", "amount_ht", "description"],
                     [["INV-7", "C1", "2026-10-01", "2026-10-31", "10.00", "Support\u200f"]]),
        "interventions": (["intervention_id", "customer_id", "started_at", "minutes", "category", "engineer",
                           "description"],
                          [["I7", "C1", "2026-10-02T09:00", "15", "assistance", "ann\u061c", "fixed\nthe\u200bjob"]]),
        "credit-notes": (CREDIT_NOTES, [["CN7", "INV-1", "1.00", "Good\u202awill", "2026-11-02"]]),
        "refunds": (REFUNDS, [["R7", "C1", "1.00", "2026-11-02", "VIR\ufeff7"]]),
    }
    told = {}
    for kind, (header, rows) in files.items():
        with pytest.raises(ImportRejected) as rejected:
            import_file(kind, write_csv(tmp_path / f"{kind}.csv", header, rows), engine=with_credit)
        told[kind] = rejected.value.errors
    assert told["customers"] == [
        "customers.csv:2:name: holds the invisible character U+202E RIGHT-TO-LEFT OVERRIDE (at character 5; it reorders "
        "or hides text): type the text without it",
        "customers.csv:3:billing_address: an address holds no control or invisible character: its line 1 holds the "
        "invisible character U+2066 LEFT-TO-RIGHT ISOLATE (at character 6; it reorders or hides text): type the text "
        "without it"]
    assert told["invoices"] == ["invoices.csv:2:description: holds the invisible character U+200F RIGHT-TO-LEFT MARK "
                                "(at character 8; it reorders or hides text): type the text without it"]
    assert [error.split(": ", 1)[0] for error in told["interventions"]] == ["interventions.csv:2:engineer",
                                                                            "interventions.csv:2:description"]
    assert all("invisible character" in error for error in told["interventions"]), told
    assert "U+202A" in told["credit-notes"][0] and "U+FEFF" in told["refunds"][0]
    cases = [
        (("run", "credit-note", "--invoice", "INV-1", "--amount", "1.00", "--reason", "Good\u2067will",
          "--requested-by", "ann"), "--reason: holds the invisible character U+2067"),
        (("run", "cancel", "--customer", "C1", "--received-on", "2026-11-02", "--requested-by", "ops\u200e"),
         "--requested-by: holds the invisible character U+200E"),
        (("run", "refund", "--customer", "C1", "--amount", "1.00", "--reference", "VIR\u202d1"),
         "--reference: holds the invisible character U+202D"),
        (("run", "refund", "--customer", "C1", "--amount", "1.00", "--reference", "VIR\U000e00411"),
         "--reference: holds the invisible character U+E0041 TAG LATIN CAPITAL LETTER A (at character 4"),
        (("run", "cancel", "--customer", "C1", "--received-on", "2026-11-02", "--requested-by", "\u3164"),
         "--requested-by: holds the invisible character U+3164 HANGUL FILLER"),
    ]
    for args, says in cases:
        line = one_line_refusal(refused(*args))
        assert says in line, (args, line)
    assert ledger_state(with_credit) == before


def test_a_restores_ticket_is_an_id_and_its_requester_a_name(with_credit):
    cases = [("../../x", "--ticket '../../x': not an id"), ("=1+1", "--ticket '=1+1': not an id"),
             ("-rf", "--ticket '-rf': not an id")]
    before = ledger_state(with_credit)
    for ticket, says in cases:
        line = one_line_refusal(refused("run", "restore", "--customer", "C1", "--requested-by", "ann",
                                        f"--ticket={ticket}"))
        assert says in line, line
    line = one_line_refusal(refused("run", "restore", "--customer", "C1", "--requested-by", "x" * 121,
                                    "--ticket", "T-1"))
    assert "--requested-by is longer than 120 characters" in line
    # every name and reason a command keeps follows the import's text cell of its column
    cases = [(("run", "credit-note", "--invoice", "INV-1", "--amount", "1.00", "--reason", "r" * 501,
               "--requested-by", "ann"), "--reason is longer than 500 characters"),
             (("run", "credit-note", "--invoice", "INV-1", "--amount", "1.00", "--reason", "Goodwill",
               "--requested-by", " "), "--requested-by is empty"),
             (("run", "cancel", "--customer", "C1", "--received-on", "2026-11-02", "--requested-by", "o" * 121),
              "--requested-by is longer than 120 characters"),
             (("run", "standby-request", "--customer", "C1", "--reason", "temporary_inactivity", "--requested-by", ""),
              "--requested-by is empty")]
    for args, says in cases:
        line = one_line_refusal(refused(*args))
        assert says in line, (args, line)
    assert ledger_state(with_credit) == before
    # the same rules where the flow runs (a run started from the UI never passed the command)
    from operations.restore import RestoreRefused, restore_customer

    for ticket, requested_by in (("../../x", "ann"), ("T-1", " "), ("T-1", "ann\u202e")):
        with pytest.raises(RestoreRefused):
            restore_customer("C1", None, "sandbox", requested_by, ticket, platform=None, storage=None, sandbox_url="",
                             flow_run_id=None, actor="test", request_key="r", engine=with_credit)


@pytest.mark.parametrize("kind", sorted(EVERY_KIND))
def test_every_kind_lists_a_header_of_thousands_of_bad_columns_in_a_few_lines(kind, with_credit, tmp_path):
    header, row = EVERY_KIND[kind]
    wide = header + [f"junk{n}" for n in range(5000)] + [header[1]]
    with pytest.raises(ImportRejected) as rejected:
        import_file(kind, write_csv(tmp_path / "wide.csv", wide, [row("K1" if kind != "standby" else "C1")]),
                    engine=with_credit)
    errors = rejected.value.errors
    assert len(errors) == 21, errors[-3:]
    assert errors[0].startswith("wide.csv:1:junk0: unknown column (expected ")
    assert errors[-1] == ("wide.csv:1:-: and 4,981 more problem(s) in the header (5,001 in all, the first 20 listed "
                          "above)")


def _xlsx_with_cell(path, header, row, column, xml_value):
    """A workbook whose `column` cell of row 2 is the number cell `<v>xml_value</v>`, as a writer other than
    Excel may leave it."""
    import zipfile

    workbook = Workbook()
    workbook.active.append(header)
    cells = list(row)
    cells[column] = 12345.0
    workbook.active.append(cells)
    plain = path.with_suffix(".plain.xlsx")
    workbook.save(plain)
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                assert data.count(b"<v>12345</v>") == 1
                data = data.replace(b"<v>12345</v>", f"<v>{xml_value}</v>".encode())
            target.writestr(item, data)
    return path


def test_a_number_cell_that_is_not_a_number_says_so(with_credit, tmp_path):
    header = CUSTOMER_HEADER
    path = _xlsx_with_cell(tmp_path / "inf.xlsx", header, customer("C5"), 3, "1E999")
    with pytest.raises(ImportRejected) as rejected:
        import_file("customers", path, engine=with_credit)
    assert rejected.value.errors == ["inf.xlsx:2:monthly_fee: not a number (the cell holds inf)"]
    path = _xlsx_with_cell(tmp_path / "nan.xlsx", header, customer("C5"), 3, "NaN")
    with pytest.raises(UnreadableFile) as refused:
        import_file("customers", path, engine=with_credit)
    assert str(refused.value).startswith("nan.xlsx:2: a cell marked as a number holds something that is not a number")
    line = one_line_refusal(lifecycle("import", "customers", str(path)))
    assert "nan.xlsx:2: a cell marked as a number" in line


def test_a_bom_before_a_workbooks_first_column_is_dropped_as_in_a_csv(with_credit, tmp_path):
    workbook = Workbook()
    workbook.active.append(["\ufeff" + CUSTOMER_HEADER[0], *CUSTOMER_HEADER[1:]])
    workbook.active.append(customer("C6"))
    workbook.save(tmp_path / "bom.xlsx")
    assert import_file("customers", tmp_path / "bom.xlsx", engine=with_credit).inserted == 1


# --- a ticket's moments happened: none later than now, to the minute --------------------------------------------

TICKET_MOMENTS = ("received_at", "first_response_at", "workaround_at", "resolved_at", "closed_at")


def test_a_ticket_moment_later_than_now_is_refused_at_its_cell_in_the_file_and_the_webhook(with_credit, tmp_path):
    """A ticket "received" this evening, or answered in an hour, is no fact yet: each of its moments is refused
    at its cell like an intervention's start (to the minute, not only to the day), by the file and by the
    helpdesk's webhook alike; nothing is written. A moment a minute ago is fine."""
    from lifecycle_config import clock
    from policy.calendar import PARIS

    local_now = clock.now().astimezone(PARIS).replace(tzinfo=None, second=0, microsecond=0)
    ahead = (local_now + timedelta(minutes=2)).isoformat(timespec="minutes")
    before = ledger_state(with_credit)
    received = (local_now - timedelta(minutes=1)).isoformat(timespec="minutes")
    for column in TICKET_MOMENTS:
        values = {"ticket_id": "T1", "customer_id": "C1", "received_at": received, "type": "bug"} | {column: ahead}
        with pytest.raises(ImportRejected) as rejected:
            import_file("tickets", write_csv(tmp_path / "t.csv", list(values), [list(values.values())]),
                        engine=with_credit)
        [error] = rejected.value.errors
        # later than now (or, a minute before midnight, after today): refused either way, at its cell
        assert error.startswith(f"t.csv:2:{column}: {ahead} is ") and "it cannot lie ahead" in error, error
        with pytest.raises(ImportRejected) as rejected:
            import_records("tickets", [values], label="helpdesk", engine=with_credit, actor="test")
        assert rejected.value.errors == [error.replace("t.csv:", "helpdesk:", 1)]
    assert ledger_state(with_credit) == before
    done = {"ticket_id": "T1", "customer_id": "C1", "type": "bug"} | {column: received for column in TICKET_MOMENTS}
    assert import_file("tickets", write_csv(tmp_path / "t.csv", list(done), [list(done.values())]),
                       engine=with_credit).inserted == 1


# --- a file of thousands of bad rows is listed in a few lines --------------------------------------------------


def test_twenty_thousand_bad_refund_rows_are_listed_in_a_hundred_lines_and_nothing_is_written(with_credit, tmp_path):
    """Each row has three problems (amount, day, reference): 60,000 lines once; now the first 100 and one line
    counting the rest, by rows; the command says the whole count; nothing is written."""
    before = ledger_state(with_credit)
    rows = [[f"R{n}", "C1", "-1", "2026-13-45", ""] for n in range(20_000)]
    path = write_csv(tmp_path / "r.csv", REFUNDS, rows)
    with pytest.raises(ImportRejected) as rejected:
        import_file("refunds", path, engine=with_credit)
    errors = rejected.value.errors
    assert len(errors) == 101 and rejected.value.total == 60_000
    assert errors[0].startswith("r.csv:2:amount: ") and errors[99].startswith("r.csv:35:amount: ")
    assert errors[100] == ("r.csv: and 59,900 more problem(s) in 19,967 row(s) (60,000 in all, the first 100 listed "
                           "above); fix these and import again")
    assert ledger_state(with_credit) == before


@pytest.mark.parametrize("kind", sorted(EVERY_KIND))
def test_every_kind_lists_the_first_hundred_row_problems_then_counts_the_rest(kind, with_credit, tmp_path):
    """150 rows each with a cell too many: 100 listed, one line for the rest; all or nothing as before."""
    header, row = EVERY_KIND[kind]
    before = ledger_state(with_credit)
    rows = [row(f"K{n}" if kind != "standby" else "C1") + ["extra"] for n in range(150)]
    with pytest.raises(ImportRejected) as rejected:
        import_file(kind, write_csv(tmp_path / "k.csv", header, rows), engine=with_credit)
    errors = rejected.value.errors
    assert len(errors) == 101 and rejected.value.total >= 150, errors[-1]
    assert errors[0] == "k.csv:2:-: the row has more cells than the header has columns"
    assert errors[-1].startswith("k.csv: and ") and errors[-1].endswith(
        f"({rejected.value.total:,} in all, the first 100 listed above); fix these and import again"), errors[-1]
    assert ledger_state(with_credit) == before


@pytest.mark.parametrize("kind", sorted(EVERY_KIND))
def test_every_kind_refuses_a_workbook_with_hidden_rows_or_columns_or_two_visible_sheets(kind, with_credit, tmp_path):
    """What a person checking the workbook cannot see is never imported: hidden rows, a hidden column that holds
    values, or a second visible sheet (which one would be read?) refuse the file in one line; nothing is written.
    An empty hidden column changes nothing."""
    header, row = EVERY_KIND[kind]
    rows = {"standby": [row("C1")],  # keyed by its customer and day: one row
            "ticket-events": [["K1", "2026-10-02T10:00", "waiting_customer"], ["K1", "2026-10-02T11:00", "in_progress"]],
            "credit-notes": [row("K1"), [*row("K2")[:3], "Another goodwill", *row("K2")[4:]]],  # not alike to K1
            }.get(kind, [row("K1"), row("K2")])
    _with_ticket(kind, with_credit, tmp_path, "K1")
    beyond = chr(ord("A") + len(header))  # the first column past the header's

    def workbook(name: str, hide, second: bool = False) -> Path:
        book = Workbook()
        sheet = book.active
        sheet.title = "Import"
        for values in (header, *rows):
            sheet.append(values)
        hide(sheet)
        if second:
            book.create_sheet("Old").append(header)
        book.save(tmp_path / name)
        return tmp_path / name

    def rows_hidden(sheet):
        for number in range(2, len(rows) + 2):
            sheet.row_dimensions[number].hidden = True

    def column_hidden(sheet):  # a value only there is out of sight
        sheet.column_dimensions[beyond].hidden = True
        sheet[f"{beyond}2"] = "hidden note"

    said = "(a person checking the sheet cannot see what it would import); nothing was written"
    expected = {
        "rows.xlsx": f"rows.xlsx: rows 2, 3 are hidden: unhide them or delete them {said}" if len(rows) == 2 else
                     f"rows.xlsx: row 2 is hidden: unhide it or delete it {said}",
        "column.xlsx": f"column.xlsx: column {beyond} is hidden and holds values: unhide it or delete it {said}",
        "sheets.xlsx": "sheets.xlsx: the workbook has 2 visible sheets (Import, Old): keep the one to import visible "
                       "(hide or delete the others); nothing was read",
    }
    before = ledger_state(with_credit)
    for name, hide, second in (("rows.xlsx", rows_hidden, False), ("column.xlsx", column_hidden, False),
                               ("sheets.xlsx", lambda sheet: None, True)):
        with pytest.raises(UnreadableFile) as refused:
            import_file(kind, workbook(name, hide, second), engine=with_credit)
        assert str(refused.value) == expected[name]
    assert ledger_state(with_credit) == before
    # an empty hidden column: the rows are all in sight, and imported
    fine = workbook("fine.xlsx", lambda sheet: setattr(sheet.column_dimensions[beyond], "hidden", True))
    assert import_file(kind, fine, engine=with_credit).rows == len(rows)
