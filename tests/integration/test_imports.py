"""Imports: all or nothing, every error located, re-imports harmless, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import views
from ledger.db import session_scope
from ledger.imports import ImportRejected, import_file
from ledger.models import AuditEntry, Customer, Intervention, Invoice, Payment, StandbyPeriod
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv, write_xlsx


def count(engine, model) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(model))


def snapshot(engine) -> dict:
    with session_scope(engine) as session:
        return {name: view(session, None) for name, view in views.SUBJECTS.items() if name != "terms"}


@pytest.fixture
def customers_file(tmp_path):
    return write_csv(tmp_path / "customers.csv", CUSTOMER_HEADER, [
        customer("ACME", name="Société Générale d'Épargne", fee="990.00", method="card"),
        customer("BETA", method="transfer", cycle="annual", start="2026-01-01", fee="300"),
        customer("GAMMA", method="sepa", vat="0.055", exempt="yes"),
    ])


def test_customers_import_and_reimport_is_a_no_op(ledger, customers_file):
    result = import_file("customers", customers_file, engine=ledger)
    assert (result.inserted, result.updated, result.unchanged) == (3, 0, 0)
    audits = count(ledger, AuditEntry)
    before = snapshot(ledger)

    again = import_file("customers", customers_file, engine=ledger)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    assert count(ledger, AuditEntry) == audits
    assert snapshot(ledger) == before
    with session_scope(ledger) as session:
        acme = session.get(Customer, "ACME")
        assert acme.name == "Société Générale d'Épargne"
        assert acme.monthly_fee == Decimal("990.00")
        gamma = session.get(Customer, "GAMMA")
        assert gamma.vat_rate == Decimal("0.0550") and gamma.dunning_exempt is True


def test_a_changed_customer_row_updates_it_and_the_audit_says_what_changed(ledger, customers_file, tmp_path):
    import_file("customers", customers_file, engine=ledger)
    changed = write_csv(tmp_path / "customers2.csv", CUSTOMER_HEADER, [
        customer("ACME", name="Société Générale d'Épargne", fee="1090.00", method="sepa"),
    ])
    result = import_file("customers", changed, engine=ledger)
    assert (result.inserted, result.updated) == (0, 1)
    assert "monthly_fee was '990.00', now '1090.00'" in result.notes[0]
    with session_scope(ledger) as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "customer_updated")).one()
        assert entry.customer_id == "ACME"
        assert entry.before == {"monthly_fee": "990.00", "payment_method": "card"}
        assert entry.after == {"monthly_fee": "1090.00", "payment_method": "sepa"}
        assert session.get(Customer, "ACME").monthly_fee == Decimal("1090.00")


def test_a_bad_file_lists_every_error_and_writes_nothing(ledger, customers_file, tmp_path):
    import_file("customers", customers_file, engine=ledger)
    before = snapshot(ledger)
    bad = write_csv(tmp_path / "bad.csv", CUSTOMER_HEADER, [
        customer("NEW1"),
        customer("NEW2", fee="12,345"),
        customer("NEW3", method="cheque"),
        customer("NEW4", method="transfer"),
        ["NEW5", "", "not-an-email", "-3", "sepa", "weekly", "", "1.5", "x", "maybe"],
        customer("NEW1"),
        customer("NEW6", cycle="annual"),
    ])
    with pytest.raises(ImportRejected) as rejected:
        import_file("customers", bad, engine=ledger)
    errors = rejected.value.errors
    assert "bad.csv:3:monthly_fee: '12,345' has more than 2 decimal places" in errors
    assert "bad.csv:4:payment_method: must be one of sepa/card/transfer/transfer_installments/other, not 'cheque'" in errors
    assert any(line.startswith("bad.csv:5:payment_method: a subscription paid by transfer must be paid at once") for line in errors)
    for column in ("name", "email", "monthly_fee", "billing_cycle", "vat_rate", "included_minutes", "dunning_exempt"):
        assert any(line.startswith(f"bad.csv:6:{column}: ") for line in errors), column
    assert "bad.csv:7:customer_id: 'NEW1' is repeated in this file at row 2: a key appears once" in errors
    assert "bad.csv:8:contract_start: an annual contract needs the day its year starts" in errors
    assert errors == sorted(errors, key=lambda line: int(line.split(":")[1]))
    assert snapshot(ledger) == before  # not even NEW1, which was fine


def test_missing_and_unknown_columns_are_reported_on_the_header_row(ledger, tmp_path):
    bad = write_csv(tmp_path / "c.csv", ["customer_id", "name", "monthly_fees", "payment_method"], [["A", "A", "1", "sepa"]])
    with pytest.raises(ImportRejected) as rejected:
        import_file("customers", bad, engine=ledger)
    assert "c.csv:1:monthly_fees: unknown column (expected" in rejected.value.errors[0]
    assert "c.csv:1:email: required column is missing" in rejected.value.errors
    assert "c.csv:1:monthly_fee: required column is missing" in rejected.value.errors


def test_xlsx_and_csv_import_the_same_records(ledger, tmp_path):
    rows = [customer("X1", fee="120.50"), customer("X2", method="transfer", cycle="annual", start="2026-03-01")]
    write_csv(tmp_path / "customers.csv", CUSTOMER_HEADER, rows)
    workbook_rows = [[*row[:3], float(row[3]), *row[4:6], datetime(2026, 3, 1) if row[6] else None, *row[7:]]
                     for row in rows]
    write_xlsx(tmp_path / "customers.xlsx", CUSTOMER_HEADER, workbook_rows)
    assert import_file("customers", tmp_path / "customers.xlsx", engine=ledger).inserted == 2
    # the CSV says the same thing, so it changes nothing
    again = import_file("customers", tmp_path / "customers.csv", engine=ledger)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)


def test_an_xlsx_number_cell_is_its_value_and_text_is_judged_by_its_digits(ledger, tmp_path):
    """A number cell shown `1.000` or `12.500` (its format) holds 1 and 12.5: taken as they are. The same typed as
    text is refused: `1.000` is a thousand as the US and Germany write it, never 1.00."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(CUSTOMER_HEADER)
    for number, fee in enumerate((1.0, 12.5, 1000.0), start=1):
        sheet.append([*customer(f"N{number}")[:3], fee, *customer(f"N{number}")[4:]])
        sheet.cell(row=number + 1, column=4).number_format = "0.000"
    workbook.save(tmp_path / "customers.xlsx")
    assert import_file("customers", tmp_path / "customers.xlsx", engine=ledger).inserted == 3
    with session_scope(ledger) as session:
        fees = dict(session.execute(select(Customer.customer_id, Customer.monthly_fee).where(Customer.customer_id.like("N%"))).all())
    assert fees == {"N1": Decimal("1.00"), "N2": Decimal("12.50"), "N3": Decimal("1000.00")}
    write_xlsx(tmp_path / "typed.xlsx", CUSTOMER_HEADER, [customer("T1", fee="1.000"), customer("T2", fee="12,500")])
    with pytest.raises(ImportRejected) as rejected:
        import_file("customers", tmp_path / "typed.xlsx", engine=ledger)
    assert rejected.value.errors == ["typed.xlsx:2:monthly_fee: '1.000' has more than 2 decimal places",
                                     "typed.xlsx:3:monthly_fee: '12,500' has more than 2 decimal places"]


def _invoices(tmp_path, rows):
    return write_csv(tmp_path / "invoices.csv", ["invoice_id", "customer_id", "issued_on", "due_on", "amount_ht",
                                                 "vat_rate", "description", "status"], rows)


def test_invoices_and_payments_settle_to_the_cent(ledger, customers_file, tmp_path):
    import_file("customers", customers_file, engine=ledger)
    import_file("invoices", _invoices(tmp_path, [
        ["F-1", "ACME", "2026-09-01", "2026-10-01", "990.00", "", "Septembre", ""],
        ["F-2", "GAMMA", "2026-09-01", "2026-10-01", "333.33", "", "", "disputed"],
    ]), engine=ledger)
    with session_scope(ledger) as session:
        f1 = session.scalar(select(Invoice).where(Invoice.external_id == "F-1"))
        assert (f1.total_ht, f1.total_vat, f1.total_ttc) == (Decimal("990.00"), Decimal("198.00"), Decimal("1188.00"))
        f2 = session.scalar(select(Invoice).where(Invoice.external_id == "F-2"))
        # GAMMA's own rate (5.5 %): 333.33 * 0.055 = 18.33315 -> 18.33
        assert (f2.total_vat, f2.total_ttc, f2.status) == (Decimal("18.33"), Decimal("351.66"), "disputed")
        # no description: its line (what a credit note on it credits) is named in the customer's language
        assert [line.description for line in f2.lines] == ["Facture importée F-2"]
    payments = write_csv(tmp_path / "payments.csv", ["payment_id", "invoice_id", "paid_on", "amount"], [
        ["P-1", "F-1", "2026-09-15", "1000.00"], ["P-2", "F-1", "2026-09-20", "188.00"],
    ])
    import_file("payments", payments, engine=ledger)
    with session_scope(ledger) as session:
        assert session.scalar(select(Invoice.status).where(Invoice.external_id == "F-1")) == "paid"
        [record] = [item for item in views.invoices(session) if item["number"] == "F-1"]
        assert record["balance"] == "0.00" and record["total_ttc"] == "1188.00"
    assert import_file("payments", payments, engine=ledger).unchanged == 2


def test_an_unknown_invoice_and_changed_history_are_refused_and_an_overpayment_becomes_credit(ledger, customers_file,
                                                                                              tmp_path):
    import_file("customers", customers_file, engine=ledger)
    invoices = _invoices(tmp_path, [["F-1", "ACME", "2026-09-01", "2026-10-01", "100.00", "", "", ""]])
    import_file("invoices", invoices, engine=ledger)
    rows = [["P-1", "F-1", "2026-09-15", "120.00"], ["P-2", "F-1", "2026-09-16", "20.01"],
            ["P-3", "F-404", "2026-09-16", "1"]]
    payments = write_csv(tmp_path / "payments.csv", ["payment_id", "invoice_id", "paid_on", "amount"], rows)
    with pytest.raises(ImportRejected) as rejected:
        import_file("payments", payments, engine=ledger)
    assert rejected.value.errors == ["payments.csv:4:invoice_id: no invoice 'F-404' (an imported id or an issued number)"]
    assert count(ledger, Payment) == 0
    # without the bad row: the 20.01 paid beyond the 120.00 TTC is kept whole and becomes ACME's credit
    import_file("payments", write_csv(tmp_path / "payments.csv", ["payment_id", "invoice_id", "paid_on", "amount"],
                                      rows[:2]), engine=ledger)
    with Session(ledger) as session:
        [invoice] = views.invoices(session)
        [customer] = [c for c in views.customers(session) if c["customer_id"] == "ACME"]
    assert (invoice["status"], invoice["balance"], customer["credit"]) == ("paid", "0.00", "20.01")
    changed = _invoices(tmp_path, [["F-1", "ACME", "2026-09-01", "2026-10-01", "100.01", "", "", ""]])
    with pytest.raises(ImportRejected) as rejected:
        import_file("invoices", changed, engine=ledger)
    assert rejected.value.errors == ["invoices.csv:2:amount_ht: 'F-1' was already imported with '100.00'; "
                                     "a changed invoice row cannot be re-imported (now '100.01')"]


def test_a_dispute_or_write_off_is_recorded_by_reimporting_the_row_with_its_new_status(ledger, customers_file,
                                                                                       tmp_path):
    import_file("customers", customers_file, engine=ledger)
    rows = [["F-1", "ACME", "2026-09-01", "2026-10-01", "100.00", "", "", ""],
            ["F-2", "ACME", "2026-08-01", "2026-09-01", "50.00", "", "", ""]]   # July's: F-1 billed August
    import_file("invoices", _invoices(tmp_path, rows), engine=ledger)
    import_file("payments", write_csv(tmp_path / "payments.csv", ["payment_id", "invoice_id", "paid_on", "amount"],
                                      [["P-1", "F-2", "2026-09-15", "60.00"]]), engine=ledger)
    rows[0][7] = "disputed"
    result = import_file("invoices", _invoices(tmp_path, rows), engine=ledger)
    assert (result.updated, result.unchanged) == (1, 1)
    with session_scope(ledger) as session:
        assert session.scalar(select(Invoice.status).where(Invoice.external_id == "F-1")) == "disputed"
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "invoice_status_changed"))
        assert (entry.customer_id, entry.before, entry.after["status"]) == (
            "ACME", {"invoice": "F-1", "status": "open"}, "disputed")
    assert import_file("invoices", _invoices(tmp_path, rows), engine=ledger).unchanged == 2
    rows[1][7] = "written_off"
    with pytest.raises(ImportRejected) as rejected:
        import_file("invoices", _invoices(tmp_path, rows), engine=ledger)
    assert rejected.value.errors == ["invoices.csv:3:status: 'F-2' is paid: its status cannot become 'written_off'"]


INTERVENTION_HEADER = ["intervention_id", "customer_id", "started_at", "minutes", "category", "ticket", "engineer",
                       "description"]


def test_interventions_keep_paris_months_and_refuse_impossible_times(ledger, customers_file, tmp_path):
    import_file("customers", customers_file, engine=ledger)
    bad = write_csv(tmp_path / "interventions.csv", INTERVENTION_HEADER, [
        ["I-1", "ACME", "2026-10-31T23:30", "30", "assistance", "T-1", "alice", "late evening"],
        ["I-2", "ACME", "2026-10-25T02:30", "15", "question", "", "", ""],
        ["I-3", "ACME", "2026-03-29T02:30", "15", "question", "", "", ""],
        ["I-4", "NOPE", "2026-10-01T10:00", "0", "coffee", "", "", ""],
    ])
    with pytest.raises(ImportRejected) as rejected:
        import_file("interventions", bad, engine=ledger)
    assert rejected.value.errors == [
        "interventions.csv:4:started_at: 2026-03-29T02:30:00 does not exist in Europe/Paris (DST change)",
        "interventions.csv:5:minutes: must be at least 1, not 0",
        "interventions.csv:5:category: must be one of " + "/".join(__import__("policy.categories").categories.CATEGORIES)
        + ", not 'coffee'",
        "interventions.csv:5:customer_id: unknown customer 'NOPE' (import customers first)",
    ]
    good = write_csv(tmp_path / "ok.csv", INTERVENTION_HEADER, [
        ["I-1", "ACME", "2026-10-31T23:30", "30", "assistance", "T-1", "alice", "late evening"],
        ["I-2", "ACME", "2026-10-25T02:30", "15", "question", "", "", ""],
    ])
    assert import_file("interventions", good, engine=ledger).inserted == 2
    with session_scope(ledger) as session:
        late = session.get(Intervention, "I-1")
        assert late.month == "2026-10"
        assert late.started_at == datetime(2026, 10, 31, 22, 30, tzinfo=timezone.utc)
        assert session.get(Intervention, "I-2").started_at == datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc)
    assert import_file("interventions", good, engine=ledger).unchanged == 2


def test_standby_import_checks_the_seed_rules(ledger, customers_file, tmp_path):
    import_file("customers", customers_file, engine=ledger)
    header = ["customer_id", "reason", "start_on", "end_on"]
    bad = write_csv(tmp_path / "standby.csv", header, [
        ["ACME", "temporary_inactivity", "2026-12-01", "2027-03-02"],
        ["BETA", "vacation", "2026-12-01", ""],
        ["GAMMA", "awaiting_approval", "2026-12-01", "2027-01-15"],
        ["GAMMA", "awaiting_approval", "2027-01-01", ""],
    ])
    with pytest.raises(ImportRejected) as rejected:
        import_file("standby", bad, engine=ledger)
    assert rejected.value.errors[0].startswith("standby.csv:2:end_on: a standby cannot exceed 3 months (seed 001)")
    assert rejected.value.errors[1].startswith("standby.csv:3:reason: must be one of temporary_inactivity/")
    assert rejected.value.errors[2] == "standby.csv:5:start_on: overlaps the standby 2026-12-01 to 2027-01-15"
    assert len(rejected.value.errors) == 3
    good = write_csv(tmp_path / "standby_ok.csv", header, [["ACME", "temporary_inactivity", "2026-11-30", ""]])
    import_file("standby", good, engine=ledger)
    with session_scope(ledger) as session:
        period = session.scalars(select(StandbyPeriod)).one()
        assert (period.end_on.isoformat(), period.status) == ("2027-02-28", "scheduled")
    assert import_file("standby", good, engine=ledger).unchanged == 1


def test_a_large_file_reports_progress(ledger, customers_file, tmp_path):
    import_file("customers", customers_file, engine=ledger)
    rows = [[f"I-{n}", "ACME", f"2026-09-{n % 28 + 1:02d}T10:00", "15", "question", "", "", ""] for n in range(2500)]
    path = write_csv(tmp_path / "many.csv", INTERVENTION_HEADER, rows)
    seen, totals = [], []
    result = import_file("interventions", path, engine=ledger, progress=seen.append, on_total=totals.append)
    assert totals == [2500] and sum(seen) == 2500
    assert result.inserted == 2500 == count(ledger, Intervention)


def test_an_xlsx_true_or_false_cell_is_a_value_only_of_a_yes_no_column(ledger, tmp_path):
    """A TRUE cell is a yes/no value: `dunning_exempt` takes it, a name or an id refuses it at its cell (never
    the text "True")."""
    rows = [[*customer("B1")[:9], True], [False, *customer("B2")[1:]], ["B3", True, *customer("B3")[2:]]]
    write_xlsx(tmp_path / "customers.xlsx", CUSTOMER_HEADER, rows)
    with pytest.raises(ImportRejected) as rejected:
        import_file("customers", tmp_path / "customers.xlsx", engine=ledger)
    refusal = "a yes/no value ({}) where this column takes none: give its value as text or a number"
    assert rejected.value.errors == [f"customers.xlsx:3:customer_id: {refusal.format('false')}",
                                     f"customers.xlsx:4:name: {refusal.format('true')}"]
    write_xlsx(tmp_path / "customers.xlsx", CUSTOMER_HEADER, rows[:1])
    assert import_file("customers", tmp_path / "customers.xlsx", engine=ledger).inserted == 1
    with session_scope(ledger) as session:
        assert session.get(Customer, "B1").dunning_exempt is True
