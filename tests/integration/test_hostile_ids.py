"""Ids that differ only by case, in every kind of import, on SQLite and PostgreSQL: `c020` beside `C020` is
one id (to a person, and to a filesystem that ignores case), so a row whose id equals one of the ledger or
a row above but for case is refused at its row naming the id that exists, an exact re-import stays a no-op,
and a reference in another case (`c1` for customer `C1`) is refused with the id it meant. A credit note
typed twice under two ids (same invoice, amount and reason) is refused as `run credit-note` refuses it,
unless its row says `again`."""

from __future__ import annotations

import pytest

from ledger.imports import ImportRejected, import_file
from tests.integration.test_hostile_entries import CREDIT_NOTES, EVERY_KIND, with_credit  # noqa: F401 (a fixture)
from tests.integration.test_hostile_input import ledger_state
from tests.support.builders import write_csv

#: the id column of each kind keyed by an id (standby is keyed by its customer and day, a ticket event by its
#: ticket, moment and status: neither has one; a ticket id in another case in an event is refused as an unknown
#: ticket naming the one meant, test_ticket_pauses)
ID_COLUMN = {"customers": "customer_id", "invoices": "invoice_id", "payments": "payment_id",
             "interventions": "intervention_id", "credit-notes": "credit_note_id", "refunds": "refund_id",
             "tickets": "ticket_id"}


def refused(kind: str, ledger, path) -> list[str]:
    before = ledger_state(ledger)
    with pytest.raises(ImportRejected) as rejected:
        import_file(kind, path, engine=ledger)
    assert ledger_state(ledger) == before    # nothing written
    return rejected.value.errors


def test_every_kind_keyed_by_an_id_is_listed():
    assert sorted(ID_COLUMN) == sorted(set(EVERY_KIND) - {"standby", "ticket-events"})


@pytest.mark.parametrize("kind", sorted(ID_COLUMN))
def test_an_id_in_another_case_is_refused_at_its_row_and_the_same_id_again_changes_nothing(kind, with_credit,
                                                                                          tmp_path):
    header, row = EVERY_KIND[kind]
    if kind == "credit-notes":   # each its own reason: two notes alike are refused as typed twice (below)
        row = lambda key: [key, "INV-1", "1.00", f"Goodwill {key}", "2026-11-02"]  # noqa: E731
    column = ID_COLUMN[kind]
    assert import_file(kind, write_csv(tmp_path / "first.csv", header, [row("K20")]), engine=with_credit).inserted == 1
    again = import_file(kind, write_csv(tmp_path / "again.csv", header, [row("K20")]), engine=with_credit)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 1)
    assert refused(kind, with_credit, write_csv(tmp_path / "x.csv", header, [row("K21"), row("k20")])) == [
        f"x.csv:3:{column}: 'k20' already exists as 'K20': ids are unique ignoring case (write 'K20' for that "
        f"one, another id for a new one)"]
    assert refused(kind, with_credit, write_csv(tmp_path / "y.csv", header, [row("rx2"), row("RX2")])) == [
        f"y.csv:3:{column}: 'RX2' is 'rx2' of row 2 in another case: ids are unique ignoring case"]


#: each kind naming customer C1 (or invoice INV-1) in another case, and the line that says which it meant
REFERENCES = {
    "invoices": ("customer_id", "c1", lambda: ["I9", "c1", "2026-10-01", "2026-10-31", "10.00"]),
    "interventions": ("customer_id", "c1", lambda: ["W9", "c1", "2026-10-02T09:00", "15", "assistance"]),
    "standby": ("customer_id", "c1", lambda: ["c1", "temporary_inactivity", "2026-10-20", "2026-11-20"]),
    "refunds": ("customer_id", "c1", lambda: ["R9", "c1", "1.00", "2026-11-02", "VIR-R9"]),
    "tickets": ("customer_id", "c1", lambda: ["T9", "c1", "2026-10-02T09:00", "evolution", "phone", "2"]),
    "payments": ("invoice_id", "inv-1", lambda: ["P9", "inv-1", "2026-10-07", "1.00"]),
    "credit-notes": ("invoice_number", "inv-1", lambda: ["CN9", "inv-1", "1.00", "Goodwill", "2026-11-02"]),
}


@pytest.mark.parametrize("kind", sorted(REFERENCES))
def test_a_reference_in_another_case_is_refused_naming_the_id_it_meant(kind, with_credit, tmp_path):
    column, given, row = REFERENCES[kind]
    meant = given.upper()
    said = {"customer_id": "unknown customer", "invoice_id": "no invoice",
            "invoice_number": "no issued invoice has the number (or imported id)"}[column]
    assert refused(kind, with_credit, write_csv(tmp_path / "r.csv", EVERY_KIND[kind][0], [row()])) == [
        f"r.csv:2:{column}: {said} '{given}': the ledger has '{meant}' (ids are compared exactly: write '{meant}')"]


def test_a_credit_note_typed_again_under_another_id_is_refused_unless_its_row_says_again(with_credit, tmp_path):
    first = ["CN-A", "INV-1", "10.00", "Goodwill", "2026-11-02"]
    made = import_file("credit-notes", write_csv(tmp_path / "a.csv", CREDIT_NOTES, [first]), engine=with_credit)
    assert made.inserted == 1
    number = made.notes[0].split()[2]     # "credit note 2026-000001 on invoice INV-1 ..."

    # a new id, the same invoice, amount and reason: from another file, and within one file
    [line] = refused("credit-notes", with_credit, write_csv(tmp_path / "b.csv", CREDIT_NOTES,
                                                           [["CN-B", "INV-1", "10.00", "Goodwill", "2026-11-02"]]))
    assert line.startswith(f"b.csv:2:amount_ttc: credit note {number} already credits 10.00 TTC on invoice INV-1 "
                           f"for the same reason (") and line.endswith("): to issue another, give the row again=true"), line
    [line] = refused("credit-notes", with_credit, write_csv(tmp_path / "c.csv", CREDIT_NOTES, [
        ["CN-C", "INV-1", "5.00", "Late delivery", "2026-11-02"], ["CN-D", "INV-1", "5.00", "Late delivery",
                                                                   "2026-11-02"]]))
    assert line.startswith("c.csv:3:amount_ttc: credit note ") and line.endswith("give the row again=true"), line

    # another amount or another reason is another credit note; `again` issues the twin on purpose
    other = import_file("credit-notes", write_csv(tmp_path / "d.csv", CREDIT_NOTES + ["again"], [
        ["CN-E", "INV-1", "10.00", "Goodwill", "2026-11-02", "true"],
        ["CN-F", "INV-1", "10.01", "Goodwill", "2026-11-02", ""],
        ["CN-G", "INV-1", "10.00", "Goodwill, again", "2026-11-02", "false"]]), engine=with_credit)
    assert other.inserted == 3
    # and each is its own request: imported again, nothing changes
    same = import_file("credit-notes", tmp_path / "d.csv", engine=with_credit)
    assert (same.inserted, same.unchanged) == (0, 3)
