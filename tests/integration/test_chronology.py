"""Numbering stays chronological across years (issue 24): no document is dated before the latest date already
numbered in any year, nor before the document it corrects, whatever path asks for the number (a credit-notes
import row, `run credit-note`, the close, the arrears sweep). A credit-notes row dated 2020-01-01 once made
credit note 2020-000001, six years before the invoice it credited, and mailed it. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from ledger.db import session_scope
from ledger.imports import ImportRejected, import_file
from ledger.models import Invoice, InvoiceSequence
from tests.integration.test_hostile_entries import CREDIT_NOTES, here, one_line_refusal
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv
from tests.support.locks import WaitWatch, joined, run_in_thread

RULE = "numbering is chronological, so no document is dated before the latest one numbered (in any year)"


@pytest.fixture
def invoiced(ledger, tmp_path, monkeypatch):
    """C1 with an imported invoice INV-1 of 2026-10-01 (1200.00 TTC, open); today is 2027-01-20."""
    monkeypatch.setenv("LIFECYCLE_TODAY", "2027-01-20")
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("C1")]), engine=ledger)
    import_file("invoices", write_csv(tmp_path / "i.csv", ["invoice_id", "customer_id", "issued_on", "due_on",
                                                          "amount_ht", "vat_rate"],
                                      [["INV-1", "C1", "2026-10-01", "2026-10-31", "1000.00", "0.20"]]), engine=ledger)
    return ledger


def notes(ledger) -> list[tuple[str, date]]:
    with session_scope(ledger) as session:
        return [(number, on) for number, on in session.execute(
            select(Invoice.number, Invoice.issued_on).where(Invoice.kind == "credit_note").order_by(Invoice.number))]


def years(ledger) -> dict[int, tuple[int, date | None]]:
    with session_scope(ledger) as session:
        return {row.year: (row.last_number, row.last_issued_on) for row in session.scalars(select(InvoiceSequence))}


def credit(ledger, tmp_path, *rows: tuple[str, str]):
    """Import credit notes of 10.00 on INV-1: (id, issued_on) each."""
    lines = [[note_id, "INV-1", "10.00", f"Goodwill {note_id}", on] for note_id, on in rows]
    return import_file("credit-notes", write_csv(tmp_path / "cn.csv", CREDIT_NOTES, lines), engine=ledger)


def test_a_credit_note_dated_years_before_the_latest_number_is_refused_at_its_row(invoiced, tmp_path):
    assert credit(invoiced, tmp_path, ("CN-1", "2026-11-02")).inserted == 1
    with pytest.raises(ImportRejected) as rejected:
        credit(invoiced, tmp_path, ("CN-2", "2020-01-01"))
    assert rejected.value.errors == [f"cn.csv:2:issued_on: 2020-01-01 is before 2026-11-02, the day number 2026-000001 "
                                     f"was issued: {RULE}"]
    assert notes(invoiced) == [("2026-000001", date(2026, 11, 2))]
    assert set(years(invoiced)) == {2026}          # no 2020 series opened, not even empty


def test_at_the_year_boundary_a_date_of_the_old_year_after_the_new_years_numbers_is_refused(invoiced, tmp_path):
    assert credit(invoiced, tmp_path, ("CN-1", "2027-01-05")).inserted == 1
    with pytest.raises(ImportRejected) as rejected:
        credit(invoiced, tmp_path, ("CN-2", "2026-12-30"))
    assert rejected.value.errors == [f"cn.csv:2:issued_on: 2026-12-30 is before 2027-01-05, the day number 2027-000001 "
                                     f"was issued: {RULE}"]
    # the same day, or later, is accepted: chronological is not strictly increasing
    assert credit(invoiced, tmp_path, ("CN-3", "2027-01-05"), ("CN-4", "2027-01-06")).inserted == 2
    assert notes(invoiced) == [("2027-000001", date(2027, 1, 5)), ("2027-000002", date(2027, 1, 5)),
                               ("2027-000003", date(2027, 1, 6))]
    assert set(years(invoiced)) == {2027}


def test_a_credit_note_is_never_dated_before_the_invoice_it_credits(invoiced, tmp_path):
    with pytest.raises(ImportRejected) as rejected:
        credit(invoiced, tmp_path, ("CN-1", "2026-09-15"))
    assert rejected.value.errors == ["cn.csv:2:issued_on: 2026-09-15 is before 2026-10-01, the day invoice INV-1 it "
                                     "corrects was issued: a document is never dated before the one it corrects"]
    assert notes(invoiced) == [] and years(invoiced) == {}
    assert credit(invoiced, tmp_path, ("CN-1", "2026-10-01")).inserted == 1     # its own day is fine


def test_rows_of_one_file_out_of_order_refuse_the_later_row_and_write_nothing(invoiced, tmp_path):
    with pytest.raises(ImportRejected) as rejected:
        credit(invoiced, tmp_path, ("CN-1", "2026-11-10"), ("CN-2", "2026-11-05"), ("CN-3", "2026-11-12"))
    # the limit is the row above, whose number is never issued (the file writes nothing): named by its row
    assert rejected.value.errors == [f"cn.csv:3:issued_on: 2026-11-05 is before 2026-11-10, the date of row 2 above: "
                                     f"{RULE}"]
    assert notes(invoiced) == [] and years(invoiced) == {}


def test_no_path_gets_a_number_out_of_order_and_the_product_chosen_dates_move_forward_up_to_today(invoiced, tmp_path):
    """The one place numbers are given refuses for every path (a future one included); the close, the arrears
    sweep and a cancellation's credit notes, which choose their own day, move it to the latest day numbered, into
    the new year if it is there, but never past today: no document is dated after the day it is issued."""
    from ledger.numbering import Corrects, OutOfOrder, issue_date, next_numbers

    credit(invoiced, tmp_path, ("CN-1", "2027-01-05"))
    with session_scope(invoiced, write=True) as session:
        with pytest.raises(OutOfOrder, match="2026-12-31 is before 2027-01-05, the day number 2027-000001"):
            next_numbers(session, date(2026, 12, 31), 3)
        with pytest.raises(OutOfOrder, match="the day invoice F-9 it corrects was issued"):
            next_numbers(session, date(2027, 1, 6), 1, corrects=Corrects("F-9", date(2027, 1, 7)))
        # a close of December issued on 2026-12-31 after 2027's first number: dated and numbered in 2027
        on = issue_date(session, date(2026, 12, 31), today=date(2027, 1, 20))
        assert on == date(2027, 1, 5) and next_numbers(session, on, 2) == ["2027-000002", "2027-000003"]
        # a penalty follows its invoice: never dated before it
        assert issue_date(session, date(2027, 1, 6), today=date(2027, 1, 20),
                          corrects=Corrects("F-9", date(2027, 1, 9))) == date(2027, 1, 9)
        # moving forward to today is fine; past today is refused, in the words `run credit-note` uses
        assert issue_date(session, date(2027, 1, 1), today=date(2027, 1, 5)) == date(2027, 1, 5)
        with pytest.raises(OutOfOrder) as refused:
            issue_date(session, date(2027, 1, 4), today=date(2027, 1, 4))
        assert str(refused.value) == f"today (2027-01-04) is before 2027-01-05, the day number 2027-000003 was " \
                                     f"issued: {RULE}"
        with pytest.raises(OutOfOrder) as refused:
            issue_date(session, date(2027, 1, 8), today=date(2027, 1, 8), corrects=Corrects("F-9", date(2027, 1, 9)))
        assert str(refused.value) == "today (2027-01-08) is before 2027-01-09, the day invoice F-9 it corrects was " \
                                     "issued: a document is never dated before the one it corrects"
    assert set(years(invoiced)) == {2027}


def test_with_the_clock_set_back_the_close_is_refused_and_keeps_its_drafts(invoiced, tmp_path, monkeypatch):
    """Today moved back before the latest number: the close would have dated its invoices ahead of its own today;
    it is refused in one line, numbers nothing, and finalises on the day the clock is right again."""
    from ledger.numbering import OutOfOrder
    from policy.terms import Terms
    from operations.close import draft, finalise

    credit(invoiced, tmp_path, ("CN-1", "2027-01-20"))
    monkeypatch.setenv("LIFECYCLE_TODAY", "2027-01-10")
    draft("2026-12", Terms(), actor="test", flow_run_id=None, engine=invoiced)
    with pytest.raises(OutOfOrder) as refused:
        finalise("2026-12", date(2027, 1, 1), Terms(), actor="test", flow_run_id=None, engine=invoiced)
    assert str(refused.value) == ("2026-12 not finalised (its drafts are kept): today (2027-01-10) is before "
                                  f"2027-01-20, the day number 2027-000001 was issued: {RULE}")
    with session_scope(invoiced) as session:
        monthly = session.execute(select(Invoice.number, Invoice.status).where(Invoice.kind == "monthly")).all()
    assert monthly == [(None, "draft")]
    assert years(invoiced) == {2027: (1, date(2027, 1, 20))}
    monkeypatch.setenv("LIFECYCLE_TODAY", "2027-01-20")
    closed = finalise("2026-12", date(2027, 1, 1), Terms(), actor="test", flow_run_id=None, engine=invoiced)
    assert closed.issued_on == date(2027, 1, 20)
    assert years(invoiced) == {2027: (2, date(2027, 1, 20))}


def test_with_the_clock_set_back_a_cancellations_credit_note_is_refused_not_dated_ahead(invoiced, tmp_path,
                                                                                       monkeypatch):
    """The days a late cancellation gives back are a credit note the product dates itself: with today before the
    latest number it is refused (the cancellation waits), never dated after the day it is issued."""
    from operations.cancellation import receive, take_effect
    from ledger.numbering import OutOfOrder
    from policy.terms import Terms
    from operations.close import draft, finalise

    draft("2026-12", Terms(), actor="test", flow_run_id=None, engine=invoiced)
    finalise("2026-12", date(2027, 1, 1), Terms(), actor="test", flow_run_id=None, engine=invoiced)  # 2027-000001
    credit(invoiced, tmp_path, ("CN-1", "2027-01-20"))                                               # 2027-000002
    with session_scope(invoiced, write=True) as session:
        step, _, _ = receive(session, "C1", date(2026, 10, 20), None, Terms(), requested_by="ops", actor="test",
                             flow_run_id=None)
    cancellation_id = step.cancellation_id
    monkeypatch.setenv("LIFECYCLE_TODAY", "2027-01-15")
    with pytest.raises(OutOfOrder) as refused:
        with session_scope(invoiced, write=True) as session:
            take_effect(session, cancellation_id, date(2027, 1, 15), Terms(), actor="test", flow_run_id=None)
    assert str(refused.value).startswith("C1: the credit note giving back days of 2027-000001 not issued: today "
                                         "(2027-01-15) is before 2027-01-20, the day number 2027-000002 was issued")
    assert years(invoiced) == {2027: (2, date(2027, 1, 20))} and len(notes(invoiced)) == 1
    monkeypatch.setenv("LIFECYCLE_TODAY", "2027-01-20")
    with session_scope(invoiced, write=True) as session:
        done, _ = take_effect(session, cancellation_id, date(2027, 1, 20), Terms(), actor="test", flow_run_id=None)
    assert [on for number, on in notes(invoiced) if number in done.credit_notes] == [date(2027, 1, 20)]


def test_a_number_of_the_old_year_waits_for_the_new_years_and_is_then_refused(invoiced, tmp_path):
    """Two finalisations at once in two years: the later date's transaction holds every year's sequence, so the
    earlier date cannot slip in before it commits, and is then refused instead of numbered out of order."""
    from ledger.numbering import OutOfOrder, next_numbers

    credit(invoiced, tmp_path, ("CN-1", "2026-11-02"))      # 2026's sequence exists
    outcome = {}
    with WaitWatch(invoiced) as watch:
        def other():
            try:
                with session_scope(invoiced, write=True) as session:
                    watch.enter(session)
                    outcome["result"] = next_numbers(session, date(2026, 12, 31), 1)
            except OutOfOrder as error:
                outcome["error"] = str(error)

        with session_scope(invoiced, write=True) as session:
            assert next_numbers(session, date(2027, 1, 2), 1) == ["2027-000001"]
            waiting = run_in_thread(other)
            watch.assert_waiting(session)
            assert outcome == {}
        joined(waiting)
    assert outcome == {"error": f"2026-12-31 is before 2027-01-02, the day number 2027-000001 was issued: {RULE}"}
    assert years(invoiced) == {2026: (1, date(2026, 11, 2)), 2027: (1, date(2027, 1, 2))}


@pytest.mark.prefect
def test_the_credit_note_command_refuses_in_one_line_a_day_before_the_latest_number(prefect_server, invoiced,
                                                                                     tmp_path):
    credit(invoiced, tmp_path, ("CN-1", "2027-01-05"))
    env = {"PREFECT_API_URL": prefect_server, "LIFECYCLE_TODAY": "2027-01-04"}  # a clock set back a day
    refused = here("run", "credit-note", "--invoice", "INV-1", "--amount", "10.00", "--reason", "Goodwill",
                   "--requested-by", "claire", **env)
    assert one_line_refusal(refused) == (f"lifecycle: credit note on INV-1: today (2027-01-04) is before 2027-01-05, "
                                         f"the day number 2027-000001 was issued: {RULE}")
    with session_scope(invoiced) as session:
        assert session.scalar(select(func.count()).select_from(Invoice).where(Invoice.kind == "credit_note")) == 1


def test_a_credit_note_dated_after_today_is_refused_at_its_row_not_moved_to_today(invoiced, tmp_path):
    """A date typed by a person is theirs: one after today (2027-01-20 here) is refused, never quietly changed."""
    with pytest.raises(ImportRejected) as rejected:
        credit(invoiced, tmp_path, ("CN-1", "2027-01-21"))
    assert rejected.value.errors == ["cn.csv:2:issued_on: 2027-01-21 is after today (2027-01-20): a credit note is "
                                     "dated the day it is issued or earlier; import the row on or after that day"]
    assert notes(invoiced) == [] and years(invoiced) == {}
    assert credit(invoiced, tmp_path, ("CN-1", "2027-01-20")).inserted == 1     # today is fine


@pytest.mark.prefect
def test_with_the_clock_set_back_the_arrears_sweep_issues_no_penalty_dated_ahead(prefect_server, invoiced, tmp_path):
    """INV-1 (due 2026-10-31) is overdue; 2027-000001 was issued on 2027-01-20. A sweep whose today is 2027-01-15
    once dated the penalty 2027-01-20, after its own today: now the customer's sweep is refused in one line and
    tried again, the run ending Refused (exit 2, as the close's or a credit note's refusal); on 2027-01-20 the
    penalty is issued, dated that day."""
    credit(invoiced, tmp_path, ("CN-1", "2027-01-20"))
    env = {"PREFECT_API_URL": prefect_server, "LIFECYCLE_TODAY": "2027-01-15"}
    swept = here("run", "arrears", **env)
    assert "Traceback" not in swept.stderr + swept.stdout and "OutOfOrder" not in swept.stderr + swept.stdout
    assert swept.returncode == 2, swept.stderr
    assert ("C1: penalty on INV-1 not issued: today (2027-01-15) is before 2027-01-20, the day number "
            f"2027-000001 was issued: {RULE}") in swept.stderr, swept.stderr
    with session_scope(invoiced) as session:
        assert session.scalars(select(Invoice.issued_on).where(Invoice.kind == "penalty")).all() == []
    swept = here("run", "arrears", **{**env, "LIFECYCLE_TODAY": "2027-01-20"})
    assert "penalty on INV-1 not issued" not in swept.stderr + swept.stdout
    with session_scope(invoiced) as session:
        assert session.execute(select(Invoice.number, Invoice.issued_on).where(Invoice.kind == "penalty")).all() \
            == [("2027-000002", date(2027, 1, 20))]
