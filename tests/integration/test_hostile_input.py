"""Hostile and careless files: each bad case of tests/corpus is refused with its own line at its
`file:row:column`, as CSV and as XLSX, on both databases, and the ledger is left exactly as it was."""

from __future__ import annotations

import csv
import io
import os
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from ledger.db import session_scope
from ledger.imports import ImportRejected, import_file
from ledger.models import AuditEntry, Base
from ledger.readers import UnreadableFile
from tests.support.builders import CUSTOMER_HEADER, STRING_FORMS, customer, write_csv, xlsx_as_written

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
CASES = sorted(CORPUS.glob("*.csv"))


def _xlsx_can_hold(case: Path) -> bool:
    """Whether a spreadsheet could save the case's cells: an .xlsx holds no C0 control character but tab and
    line breaks (openpyxl refuses them as Excel does), so those cases are CSV only."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return not ILLEGAL_CHARACTERS_RE.search(case.read_text(encoding="utf-8"))


FORMS = [(case, form) for case in CASES for form in ("csv", "xlsx") if form == "csv" or _xlsx_can_hold(case)]


def ledger_state(engine) -> dict:
    """Every row of every table: compared whole before and after a refused import."""
    with session_scope(engine) as session:
        return {table.name: sorted(tuple(str(value) for value in row) for row in session.execute(select(table)))
                for table in Base.metadata.sorted_tables}


def as_xlsx(source: Path, target: Path) -> Path:
    """The same cells in an .xlsx workbook, as a spreadsheet user would save them (all text)."""
    workbook = Workbook()
    sheet = workbook.active
    with source.open(newline="", encoding="utf-8") as handle:
        for row in csv.reader(handle):
            sheet.append(row)
    workbook.save(target)
    return target


@pytest.mark.parametrize(("case", "form"), FORMS, ids=[f"{case.name.split('.')[0]}-{form}" for case, form in FORMS])
def test_each_bad_file_is_refused_with_its_line_and_nothing_is_written(case, form, ledger, tmp_path):
    import_file("customers", write_csv(tmp_path / "known.csv", CUSTOMER_HEADER, [customer("C1")]), engine=ledger)
    before = ledger_state(ledger)
    kind = case.name.split(".")[1]
    path = case if form == "csv" else as_xlsx(case, tmp_path / case.with_suffix(".xlsx").name)
    with pytest.raises(ImportRejected) as rejected:
        import_file(kind, path, engine=ledger)
    expected = [f"{path.name}:{line}" for line in case.with_suffix(".expected").read_text(encoding="utf-8").splitlines()]
    assert rejected.value.errors == expected
    assert ledger_state(ledger) == before


# --- OOXML's escapes: a text as Excel shows it -----------------------------------------------------------

#: (as an .xlsx holds it, as a CSV holds the text Excel shows): each refused at its row as the CSV is
ESCAPED_REFUSED = [("Evil_x202E_txt", "Evil\u202etxt"), ("Evil_x001B_[2J", "Evil\x1b[2J"), ("AC_x000D_ME", "AC\rME"),
                   ("_x200B_Acme", "\u200bAcme"), ("Ac_x0085_me", "Ac\x85me"), ("Acme_x00ad_", "Acme\xad")]


@pytest.mark.parametrize("form", STRING_FORMS)
def test_an_escaped_character_is_refused_at_its_row_as_the_csv_holding_it_is(form, ledger, tmp_path):
    """`_x202E_` is U+202E to Excel (ECMA-376 22.4.2.4): a shared string, an inline one or a run of a rich text
    holding it is read as Excel shows it, then checked as a CSV's cell is (issue: it was imported literally)."""
    rows = [customer(f"C{number}", name=escaped) for number, (escaped, _) in enumerate(ESCAPED_REFUSED, start=2)]
    as_shown = [customer(f"C{number}", name=text) for number, (_, text) in enumerate(ESCAPED_REFUSED, start=2)]
    with pytest.raises(ImportRejected) as from_csv:
        import_file("customers", write_csv(tmp_path / "customers.csv", CUSTOMER_HEADER, as_shown), engine=ledger)
    before = ledger_state(ledger)
    with pytest.raises(ImportRejected) as from_xlsx:
        import_file("customers", xlsx_as_written(tmp_path / "customers.xlsx", CUSTOMER_HEADER, rows, form),
                    engine=ledger)
    assert [line.replace("customers.xlsx:", "customers.csv:", 1) for line in from_xlsx.value.errors] \
        == from_csv.value.errors
    assert [line.split(":")[1] for line in from_xlsx.value.errors] == [str(n) for n in range(2, len(rows) + 2)]
    assert from_xlsx.value.errors[0] == ("customers.xlsx:2:name: holds the invisible character U+202E RIGHT-TO-LEFT "
                                         "OVERRIDE (at character 5; it reorders or hides text): type the text "
                                         "without it")
    assert from_xlsx.value.errors[1] == ("customers.xlsx:3:name: holds the control character U+001B (at character "
                                         "5): type the text without it")
    assert ledger_state(ledger) == before


@pytest.mark.parametrize("form", STRING_FORMS)
def test_an_escape_is_read_as_excel_shows_it(form, ledger, tmp_path):
    """`_x005F_` is the underscore that makes `_x202E_` literal; hexadecimal digits in either case, only `_x` in
    lower case; a UTF-16 pair escaped half by half is one character; a CR at a cell's end is trimmed as the
    CSV's is (the name stored holds none)."""
    shown = {"C2": ("a_x005F_x202E_b", "a_x202E_b"), "C3": ("Caf_x00e9_", "Café"), "C4": ("Caf_x00E9_", "Café"),
             "C5": ("_X0041_ and _x41_", "_X0041_ and _x41_"), "C6": ("Smile _xD83D__xDE00_", "Smile \U0001f600"),
             "C7": ("ACME_x000D_", "ACME"), "C8": ("Tab_x0009_", "Tab")}
    rows = [customer(key, name=escaped) for key, (escaped, _) in shown.items()]
    xlsx_as_written(tmp_path / "customers.xlsx", CUSTOMER_HEADER, rows, form)
    assert import_file("customers", tmp_path / "customers.xlsx", engine=ledger).inserted == len(rows)
    from ledger.models import Customer

    with session_scope(ledger) as session:
        names = dict(session.execute(select(Customer.customer_id, Customer.name)).all())
    assert names == {key: text for key, (_, text) in shown.items()}
    csv_path = write_csv(tmp_path / "same.csv", CUSTOMER_HEADER, [customer("C7", name="ACME\r")])
    assert import_file("customers", csv_path, engine=ledger).unchanged == 1  # the CSV's CR is trimmed alike


def test_half_a_character_escaped_alone_is_refused_at_its_cell(ledger, tmp_path):
    rows = [customer("C2", name="Broken_xD800_"), customer("C3", name="_xDE00_x")]
    before = ledger_state(ledger)
    with pytest.raises(ImportRejected) as rejected:
        import_file("customers", xlsx_as_written(tmp_path / "customers.xlsx", CUSTOMER_HEADER, rows), engine=ledger)
    assert rejected.value.errors == [
        "customers.xlsx:2:name: is not valid UTF-8 (the U+D800 at character 7): type the text again",
        "customers.xlsx:3:name: is not valid UTF-8 (the U+DE00 at character 1): type the text again"]
    assert ledger_state(ledger) == before


def zip_bomb(path: Path, sheet_megabytes: int) -> Path:
    """A real-looking .xlsx whose one sheet is megabytes of the same cell: tiny on disk, huge unzipped."""
    workbook = Workbook()
    workbook.active.append(CUSTOMER_HEADER)
    workbook.save(path)
    row = '<row><c t="inlineStr"><is><t>' + "A" * 1000 + "</t></is></c></row>"
    body = row * (sheet_megabytes * 1024 * 1024 // len(row))
    with zipfile.ZipFile(path) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    parts["xl/worksheets/sheet1.xml"] = sheet.replace("</sheetData>", body + "</sheetData>").encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for name, data in parts.items():
            target.writestr(name, data)
    return path


def test_a_zip_bomb_is_refused_before_it_is_unzipped(ledger, tmp_path):
    bomb = zip_bomb(tmp_path / "customers.xlsx", sheet_megabytes=60)
    assert bomb.stat().st_size < 1_000_000
    before = ledger_state(ledger)
    # refused from the zip's directory (its sizes), not by parsing 60 MB of XML: the message gives the ratio
    with pytest.raises(UnreadableFile, match=r"customers\.xlsx: compressed [\d,]+ to 1, more than the 100 to 1"):
        import_file("customers", bomb, engine=ledger)
    assert ledger_state(ledger) == before


def test_files_past_their_size_or_row_bounds_are_refused_whole(ledger, tmp_path):
    from policy.terms import Terms

    rows = [customer(f"C{number}") for number in range(30)]
    path = write_csv(tmp_path / "customers.csv", CUSTOMER_HEADER, rows)
    with pytest.raises(UnreadableFile, match="more than 20 rows, the most an import may have"):
        import_file("customers", path, engine=ledger, terms=Terms(import_max_rows=20))
    with pytest.raises(UnreadableFile, match=r"bytes, more than the 100 an import may have \(import_max_bytes\)"):
        import_file("customers", path, engine=ledger, terms=Terms(import_max_bytes=100))
    with session_scope(ledger) as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0
    assert import_file("customers", path, engine=ledger).inserted == 30  # within the bounds it goes in whole


def test_a_folder_or_a_missing_file_is_one_reason(ledger, tmp_path):
    with pytest.raises(UnreadableFile, match="is a folder, not a file"):
        import_file("customers", tmp_path, engine=ledger)
    with pytest.raises(UnreadableFile, match="no such file"):
        import_file("customers", tmp_path / "nothing.csv", engine=ledger)
    garbage = tmp_path / "customers.xlsx"
    garbage.write_bytes(b"PK\x03\x04 not really a workbook" + io.BytesIO(b"\x00" * 100).read())
    with pytest.raises(UnreadableFile, match="not a readable XLSX workbook"):
        import_file("customers", garbage, engine=ledger)


# --- what an older release let in -----------------------------------------------------------------


def lifecycle(*args: str, **env: str):
    import os

    from tests.support.cli import lifecycle as command

    return command(*args, env={**os.environ, **env})


def refused(*args: str, **env: str):
    """A command its checks refuse before anything runs: a `run` one in this process too (tests/support/cli.py)."""
    import os

    from tests.support.cli import refused_before_any_run

    if args[0] == "run":
        return refused_before_any_run(*args, env={**os.environ, **env})
    return lifecycle(*args, **env)


def test_an_unsafe_id_already_in_the_ledger_is_flagged_and_never_becomes_a_key(home, ledger, tmp_path):
    """A customer `C003/../C002` written before ids were checked: `db upgrade` and `show customers` say so,
    and its backup is refused with a failure (ops are alerted) while its neighbour's backup is written."""
    import json
    from datetime import date

    from sqlalchemy import insert

    from blocks.platform import PlatformControl
    from blocks.storage import ObjectStorage
    from ledger.db import now
    from ledger.models import Customer
    from policy.terms import Terms
    from operations.backup import backup_chunk
    from tests.support.builders import platform

    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("C002")]), engine=ledger)
    with session_scope(ledger, write=True) as session:
        stamp = now()
        session.execute(insert(Customer).values(customer_id="C003/../C002", name="Evil", email="e@evil.example",
                                                monthly_fee=0, payment_method="sepa", billing_cycle="monthly",
                                                vat_rate=0.2, dunning_exempt=False, stage="current",
                                                created_at=stamp, updated_at=stamp))
    platform(f"sqlite:///{home / 'platform.db'}", ["C002", "C003/../C002"])

    upgraded = lifecycle("db", "upgrade")
    assert upgraded.returncode == 0
    assert "warning: customer 'C003/../C002' has an unsafe id" in upgraded.stderr
    shown = {c["customer_id"]: c for c in json.loads(lifecycle("show", "customers", "--format", "json").stdout)}
    assert shown["C002"]["id_problem"] is None and "'/' not allowed" in shown["C003/../C002"]["id_problem"]
    assert "C003/../C002 (UNSAFE ID: backups skip it)" in lifecycle("show", "customers").stdout

    storage = ObjectStorage()
    outcomes = {o.customer_id: o for o in backup_chunk(["C002", "C003/../C002"], date(2026, 11, 20), PlatformControl(),
                                                       storage, Terms(), flow_run_id=None, engine=ledger)}
    assert outcomes["C002"].status == "good"
    assert outcomes["C003/../C002"].status == "failed" and "its id is unsafe" in outcomes["C003/../C002"].error
    keys = [item.key for item in storage.store().list("")]
    # C002's backup and its data key (backups are encrypted per customer); nothing of the unsafe id's
    assert keys and all(key.startswith(("backups/C002/C002-20261120/", "keys/customers/C002/")) for key in keys)
    assert any(key.startswith("keys/customers/C002/") for key in keys)


# --- commands: one line, exit 2, for a user's mistake -------------------------------------------------


def test_a_users_mistake_is_one_line_and_exit_2_never_a_traceback(home, ledger, tmp_path):
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("C1")]), engine=ledger)
    cases = [
        (("import", "customers", str(tmp_path)), "is a folder, not a file"),
        (("import", "customers", str(tmp_path / "absent.csv")), "no such file"),
        (("run", "restore", "--customer", "NOBODY", "--requested-by", "alice", "--ticket", "T-1"),
         "unknown customer 'NOBODY'"),
        (("run", "restore", "--customer", "C1", "--backup", "C1-20260101", "--requested-by", "alice",
          "--ticket", "T-1"), "no backup 'C1-20260101' of customer 'C1'"),
        (("run", "standby-request", "--customer", "NOBODY", "--reason", "temporary_inactivity"),
         "unknown customer 'NOBODY'"),
        (("run", "backup", "--customer", "NOBODY"), "unknown customer 'NOBODY'"),
        (("run", "export", "--month", "2026-13"), "not a month (YYYY-MM)"),
        (("run", "backup", "--as-of", "2024-02-29"), "--as-of 2024-02-29 is before today ("),  # an id names its day
        (("run", "backup", "--as-of", "2025-12-10", "--customer", "C1"), "a backup holds the data of the moment"),
    ]
    for args, says in cases:
        result = refused(*args)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("lifecycle: "), (args, result.stderr)
        assert says in lines[0], (args, lines)


def test_a_number_in_other_digits_than_0_9_is_refused_before_any_work(home, ledger, tmp_path):
    """int() reads ٢٠٢٦-١١ as November 2026, but the ledger would have stored another month (and billed
    November's fees twice): each option that takes a number says "write digits 0-9", in one line, exit 2."""
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("C1")]), engine=ledger)
    cases = [
        (("run", "monthly-close", "--month", "٢٠٢٦-١١"), "not a month (YYYY-MM): write digits 0-9: '٢٠٢٦-١١' holds"),
        (("run", "monthly-close", "--month", "२०२६-११"), "write digits 0-9: '२०२६-११' holds '२' (devanagari digit two)"),
        (("show", "invoices", "--month", "2026-1 "), "not a month (YYYY-MM): '2026-1 '"),
        (("show", "invoices", "--issued-in", "２０２６-11"), "--issued-in: not a month (YYYY-MM): write digits 0-9"),
        (("run", "export", "--month", "2026-1١"), "write digits 0-9"),
        (("run", "standby-expiry", "--as-of", "٢٠٢٦-١١-٠١"), "--as-of is not a date (YYYY-MM-DD): write digits 0-9"),
        (("run", "backup", "--as-of", "2026-11-0١"), "--as-of is not a date (YYYY-MM-DD): write digits 0-9"),
        (("run", "backup", "--as-of", "20261101"), "--as-of is not a date (YYYY-MM-DD): '20261101'"),
        (("run", "commitments", "--as-of", "2026-11-01T1٠:00"), "--as-of is not a moment (YYYY-MM-DDTHH:MM, Europe/Paris): write "
                                                               "digits 0-9"),
        (("run", "credit-note", "--invoice", "F-1", "--lines", "١", "--reason", "x", "--requested-by", "a"),
         "--lines '١': line positions separated by commas, like 1,3 (write digits 0-9"),
    ]
    for args, says in cases:
        result = refused(*args)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("lifecycle: "), (args, result.stderr)
        assert says in lines[0], (args, lines)
    today = lifecycle("show", "customers", LIFECYCLE_TODAY="٢٠٢٦-١٢-٠٦")
    assert today.returncode == 2 and "is not a day (YYYY-MM-DD, write digits 0-9)" in today.stderr, today.stderr


def test_out_makes_its_folder_and_never_overwrites_a_file_unasked(prefect_server, home, ledger, tmp_path):
    from tests.support.scenarios import load_october

    load_october(ledger, tmp_path)
    env = {"PREFECT_API_URL": prefect_server}
    folder = tmp_path / "not" / "there" / "yet"
    made = lifecycle("run", "export", "--month", "2026-10", "--out", f"{folder}/", **env)
    assert made.returncode == 0, made.stderr
    assert (folder / "2026-10_billable-interventions.xlsx").exists()
    existing = tmp_path / "existing.xlsx"
    existing.write_bytes(b"finance's own notes")
    refused = lifecycle("run", "export", "--month", "2026-10", "--out", str(existing), **env)
    assert refused.returncode == 2 and "the file exists; add --force to overwrite it" in refused.stderr
    assert existing.read_bytes() == b"finance's own notes"
    a_text_file = tmp_path / "existing.txt"
    a_text_file.write_text("keep me")
    refused = lifecycle("run", "export", "--month", "2026-10", "--out", str(a_text_file), **env)
    assert refused.returncode == 2 and "a file, not a folder" in refused.stderr and a_text_file.read_text() == "keep me"
    forced = lifecycle("run", "export", "--month", "2026-10", "--out", str(existing), "--force", **env)
    assert forced.returncode == 0 and existing.read_bytes()[:2] == b"PK"
    # a link (to a file, or dangling) or a FIFO is never written, --force or not: one line before any run
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me too")
    (tmp_path / "w.xlsx").symlink_to(victim)
    (tmp_path / "dangling.xlsx").symlink_to(tmp_path / "nowhere.txt")
    os.mkfifo(tmp_path / "fifo.xlsx")
    for name, reason in (("w.xlsx", "is a symbolic link: give the path of a regular file"),
                         ("dangling.xlsx", "is a symbolic link: give the path of a regular file"),
                         ("fifo.xlsx", "is a FIFO, not a regular file")):
        refused = lifecycle("run", "export", "--month", "2026-10", "--out", str(tmp_path / name), "--force",
                            **env)
        assert refused.returncode == 2, refused.stderr
        from lifecycle.cli.run_checks import shown  # a path given back: cut after 40 characters

        assert refused.stderr.startswith(f"lifecycle: --out {shown(tmp_path / name)} {reason}"), refused.stderr
        assert len(refused.stderr.splitlines()) == 1
    assert victim.read_text() == "keep me too" and not (tmp_path / "nowhere.txt").exists()
    # in a folder, a link under the name the export takes is refused too
    (folder / "2026-10_billable-interventions.xlsx").unlink()
    (folder / "2026-10_billable-interventions.xlsx").symlink_to(victim)
    refused = lifecycle("run", "export", "--month", "2026-10", "--out", f"{folder}/", "--force", **env)
    assert refused.returncode == 2 and "2026-10_billable-interventions.xlsx is a symbolic link" in refused.stderr
    assert victim.read_text() == "keep me too"


def test_out_never_names_a_stored_object_nor_anything_inside_the_storage_folder(prefect_server, home, ledger,
                                                                               tmp_path):
    """Issue 24: `run export --month 2026-10 --out <the stored workbook of another month or version> --force`
    overwrote that stored object. Any path inside the storage folder (the object itself, the folder, a new name or
    folder in it, the same through a symbolic link) is refused in one line before the run; nothing there changes."""
    from lifecycle.cli.run_checks import shown
    from tests.support.scenarios import load_october

    load_october(ledger, tmp_path)
    env = {"PREFECT_API_URL": prefect_server}
    assert lifecycle("run", "export", "--month", "2026-10", **env).returncode == 0
    objects = home / "objects"
    stored = {path: path.read_bytes() for path in objects.rglob("*") if path.is_file()}
    workbook = next(path for path in stored if path.name.endswith("_billable-interventions.xlsx"))
    (tmp_path / "to-objects").symlink_to(objects)
    for out in (workbook, objects, workbook.parent / "another.xlsx", f"{objects}/new-folder/",
                tmp_path / "to-objects" / workbook.relative_to(objects)):
        refused = lifecycle("run", "export", "--month", "2026-10", "--out", str(out), "--force", **env)
        assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1, refused.stderr
        assert refused.stderr.startswith(f"lifecycle: --out {shown(Path(out))} is inside the storage folder "), \
            refused.stderr
    assert {path: path.read_bytes() for path in objects.rglob("*") if path.is_file()} == stored
    assert not (objects / "new-folder").exists()


def test_csv_output_neutralises_formulas_and_keeps_negative_amounts(home, ledger, tmp_path):
    hostile = ['=HYPERLINK("http://evil.example","x")', "+1+2", "@SUM(1)", "-1+2"]
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER,
                                       [customer(f"H{i}", name=name) for i, name in enumerate(hostile)]), engine=ledger)
    lines = lifecycle("show", "customers", "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(lines)))
    assert [row["name"] for row in rows] == ["'" + name for name in hostile]
    assert [row["monthly_fee"] for row in rows] == ["500.00"] * 4  # numbers stay numbers