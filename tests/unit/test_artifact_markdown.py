"""Every artifact, table artifact cell and approval form shows stored text as it is stored (issue 24). The Prefect
UI renders them as GitHub-flavoured Markdown: a customer named `Evil Corp | 1.00 | 0.00 | 1.20 |` added cells to
its invoice's row (the UI drops the extra ones, so finance read HT 1.00 and TTC 1.20 instead of the ledger's
90000.00 and 108000.00), and a name `[Pay here: new IBAN](https://evil.example/pay) <img src=x onerror=…>` was a
live link and tag in the approval form finance reads before approving a close. Each test reads the Markdown as
the UI does (tests/support/markdown.py): the cells of each row, the text of each line, and whether anything in
it is a link, an image, a tag or a bare URL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select, update

from benchmarks.workload import Scale, generate_ledger
from ledger.db import session_scope
from ledger.models import Customer, Invoice
from lifecycle_config.databases import engine_for
from operations import close
from operations.arrears import ArrearsReport
from operations.close_report import AlreadyBilled, CloseReport, InvoiceSummary
from operations.deletion import Due, PurgePlan, approval_form, certificate_markdown
from operations.drill import evidence_markdown
from operations.standby import RequestOutcome, StandbyReport
from policy.terms import Terms
from policy.text import controls_escaped, markdown_cells
from policy.vocabulary import CloseOutcome, InvoiceKind
from tests.support.markdown import lines, live, tables
from tests.support.sqlite_ledger import sqlite_ledger

#: stored text an adversary chose: a row's cells, a link, an image with a script, code, emphasis, a line break,
#: block markup at a line's start, a bare URL and an address, an HTML entity
NAMES = ["Evil Corp | 1.00 | 0.00 | 1.20 |",
         "[Pay here: new IBAN](https://evil.example/pay) <img src=x onerror=alert(1)>",
         "`code` ~~struck~~ **bold** _it_ \\| a backslash",
         "first line\n| second | line |",
         "- # > 1. www.evil.example bob@evil.example &lt;b&gt;"]


def shown(text: str) -> str:
    """What a reader must see of stored text: itself, a control character written as its escape (`\\x0a`)."""
    return controls_escaped(text)


def test_the_close_shows_each_customers_name_as_stored_beside_the_ledgers_amounts(tmp_path, monkeypatch):
    sqlite_ledger(tmp_path, monkeypatch, "2026-11-02").dispose()
    path = tmp_path / "generated.db"
    generate_ledger(f"sqlite:///{path}", Scale(40, 2_000), seed=7)
    engine = engine_for(f"sqlite:///{path}")
    largest = select(Invoice.customer_id, Invoice.total_ht, Invoice.total_vat, Invoice.total_ttc).where(
        Invoice.close_month == "2026-10", Invoice.kind == InvoiceKind.MONTHLY)
    drafted = close.draft("2026-10", Terms(), actor="test", flow_run_id=None, engine=engine)
    with session_scope(engine, write=True) as session:  # the largest drafts' customers take the names
        for item, name in zip(drafted.largest, NAMES):
            session.execute(update(Customer).where(Customer.customer_id == item.customer_id).values(name=name))
    close.discard("2026-10", why="names changed", actor="test", flow_run_id=None, engine=engine)
    drafted = close.draft("2026-10", Terms(), actor="test", flow_run_id=None, engine=engine)
    with session_scope(engine) as session:
        ledger = session.execute(largest.order_by(Invoice.total_ttc.desc(), Invoice.customer_id)
                                 .limit(len(drafted.largest))).all()
        names = dict(session.execute(select(Customer.customer_id, Customer.name)).all())
    assert {names[row.customer_id] for row in ledger[:len(NAMES)]} == set(NAMES)

    markdown = drafted.markdown("Draft invoices for 2026-10")
    [table] = tables(markdown)
    assert table[0] == ["number", "customer", "name", "HT", "VAT", "TTC"]
    assert table[1:] == [["draft", row.customer_id, shown(names[row.customer_id]), f"{row.total_ht:.2f}",
                          f"{row.total_vat:.2f}", f"{row.total_ttc:.2f}"] for row in ledger]
    assert live(markdown) == []

    form = drafted.approval_form("http://ui.example/artifacts/drafts")
    for row in ledger[:5]:
        assert (f"{row.customer_id} {shown(names[row.customer_id])}: {row.total_ht:.2f} HT, {row.total_ttc:.2f} "
                f"EUR TTC") in lines(form)
    assert live(form) == ["link_open http://ui.example/artifacts/drafts"]  # the drafts artifact's, ours alone


def test_what_a_close_did_not_bill_and_its_credit_notes_name_customers_as_stored():
    report = CloseReport("2026-10", CloseOutcome.DRAFTED, invoices=1, total_ht=Decimal("90000.00"),
                         total_vat=Decimal("18000.00"), total_ttc=Decimal("108000.00"),
                         already_billed=[AlreadyBilled(f"C{index}", name, date(2026, 10, 31), f"INV-{index}", 31, 31)
                                         for index, name in enumerate(NAMES)],
                         credit_notes=[InvoiceSummary("C9|x](http://evil.example)", NAMES[0], Decimal("-10.00"),
                                                      Decimal("-2.00"), Decimal("-12.00"))])
    for markdown in (report.markdown("Draft invoices for 2026-10"), report.approval_form(None)):
        assert live(markdown) == []
        for index, name in enumerate(NAMES):
            assert (f"C{index} {shown(name)}: subscription billed through 2026-10-31 by INV-{index} (nothing left "
                    f"to bill)") in lines(markdown)
        assert any("C9|x](http://evil.example) 12.00 EUR" in line for line in lines(markdown))


def test_the_arrears_sweep_shows_its_customers_and_errors_as_stored():
    report = ArrearsReport(date(2026, 11, 2), False,
                           transitions=[{"customer_id": "C1", "from": NAMES[0], "to": "suspended",
                                         "effective_on": date(2026, 11, 2), "anchor": date(2026, 9, 30)}],
                           penalties=[{"number": "PEN-1", "customer_id": "C1", "invoice": NAMES[1],
                                       "base": Decimal("90000.00"), "penalty": Decimal("9000.00"),
                                       "indemnity": Decimal("40.00")}],
                           deletion_notices=[f"C2: {NAMES[2]}"], deletions_due=[f"C3: {NAMES[3]}"],
                           failed=[f"C4: {NAMES[4]}"], refused=[f"C5: {NAMES[0]}"])
    markdown = report.markdown()
    changes, penalties = tables(markdown)
    assert changes[1:] == [["C1", shown(NAMES[0]), "suspended", "2026-11-02", "2026-09-30"]]
    assert penalties[1:] == [["PEN-1", "C1", shown(NAMES[1]), "90000.00", "9000.00", "40.00"]]
    for line in (f"C2: {NAMES[2]}", f"C3: {NAMES[3]}", f"C4: {NAMES[4]}", f"C5: {NAMES[0]}"):
        assert shown(line) in lines(markdown)
    assert live(markdown) == []


def test_a_standby_sweep_and_request_show_their_reasons_as_stored():
    sweep = StandbyReport(date(2026, 11, 2), started=[f"C1: {NAMES[0]}"], noticed=[NAMES[1]], failed=[NAMES[3]])
    refused = RequestOutcome("C1", False, reasons=NAMES)
    for markdown, stored in ((sweep.markdown(), [f"C1: {NAMES[0]}", NAMES[1], NAMES[3]]), (refused.markdown(), NAMES)):
        assert live(markdown) == []
        assert [line for line in lines(markdown) if line in map(shown, stored)] == [shown(text) for text in stored]


def test_a_deletions_form_plan_and_certificate_show_names_and_comments_as_stored():
    plan = PurgePlan("C1", tables={NAMES[0]: 3, "tickets": 5}, backups=[NAMES[1]], objects=["o1"])
    form = approval_form(Due(True, why=NAMES[4], owed=Decimal("90000.00"), anchor=date(2026, 5, 31),
                             last_backup=NAMES[1]), plan, "C1")
    certificate = certificate_markdown({
        "customer_id": "C1", "deleted_at": "2026-11-02T10:00:00+01:00", "approved_by": NAMES[1], "comment": NAMES[3],
        "flow_run_id": None, "platform_rows": {NAMES[0]: 3, "tickets": 5}, "backups": [NAMES[2]], "objects": ["o1"],
        "keys_shredded": [{"key_id": NAMES[0], "destroyed_at": None, "objects_unreadable": 4}],
        "locked": [{"object": NAMES[4], "until": "2027-05-02"}]})
    for markdown in (plan.markdown("Deletion of C1: what will be deleted"), form, certificate):
        assert live(markdown) == []
    assert f"{shown(NAMES[0])}: 3 row(s)" in lines(form) and f"tickets: 5 row(s)" in lines(form)
    assert any(shown(NAMES[4]) in line and "90000.00 EUR TTC" in line for line in lines(form))
    assert tables(plan.markdown("x"))[0][1:] == [[shown(NAMES[0]), "3"], ["tickets", "5"]]
    rows, shredded, locked = tables(certificate)
    assert rows[1:] == [[shown(NAMES[0]), "3"], ["tickets", "5"]]
    assert shredded[1:] == [[shown(NAMES[0]), "by an earlier attempt of this deletion", "4"]]
    assert locked[1:] == [[shown(NAMES[4]), "2027-05-02"]]
    assert any(shown(NAMES[1]) in line and shown(NAMES[3]) in line for line in lines(certificate))
    assert shown(NAMES[2]) in lines(certificate)


def test_a_restore_drills_evidence_shows_its_errors_as_stored():
    evidence = {"backup_id": "B1", "outcome": "failed", "customer_id": "C1", "day": "2026-11-01", "tier": "daily",
                "data_key": "k1", "sandbox": "sqlite:///sandbox.db", "ran_by": NAMES[1], "at": "2026-11-02 10:00",
                "detail": NAMES[0],
                "tables": [{"table": NAMES[2], "rows_in_manifest": 3, "rows_read_back": 2, "object_sha256": "ab",
                            "sha256_in_manifest": "cd", "sha256_read_back": "ef", "equal": False}]}
    markdown = evidence_markdown([{"backup": "B1", "customer": "C1", "ok": False, "detail": NAMES[0],
                                   "evidence": evidence}], ran_by=NAMES[1])
    summary, checked = tables(markdown)
    assert summary[1:] == [["B1", "C1", "FAILED", shown(NAMES[0])]]
    assert checked[1:] == [[shown(NAMES[2]), "3", "2", "ab", "cd", "ef", "NO"]]
    assert f"outcome: failed: {shown(NAMES[0])}" in lines(markdown)
    assert live(markdown) == []


def test_a_table_artifacts_text_cells_show_as_stored_and_its_links_stay_links():
    """The UI renders each text cell of a table artifact as a Markdown document of its own."""
    rows = markdown_cells([{"customer": "C1", "name": name, "total_ttc": "108000.00", "rows": 4,
                            "document": "http://store.example/invoices/INV-1.pdf"} for name in NAMES],
                          links=("document",))
    for row, name in zip(rows, NAMES):
        assert lines(row["name"]) == [shown(name)] and live(row["name"]) == []
        assert (lines(row["customer"]), lines(row["total_ttc"]), row["rows"]) == (["C1"], ["108000.00"], 4)
        assert row["document"] == "http://store.example/invoices/INV-1.pdf"


def test_every_table_artifact_of_the_flows_passes_its_rows_through_markdown_cells():
    """A table artifact added later with a name, a subject or an error in its rows shows them as stored too."""
    import ast
    from pathlib import Path

    unescaped = []
    for path in sorted(Path(__file__).parents[2].joinpath("flows").glob("*.py")):
        for call in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "create_table_artifact":
                rows = call.args[0]
                first = rows.values[0] if isinstance(rows, ast.BoolOp) else rows
                if not (isinstance(first, ast.Call) and getattr(first.func, "id", None) == "markdown_cells"):
                    unescaped.append(f"{path.name}:{call.lineno}")
    assert unescaped == []
