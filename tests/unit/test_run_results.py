"""A run's result crosses Prefect as a dict of JSON values and is read back typed (operations/results.py):
amounts and days come back as Decimal and date, to the cent, a field with a default may be left out, and a
result that does not match its type is refused in one line naming what differs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from operations.close_report import Closed
from operations.corrections import CreditNoted
from policy.vocabulary import CloseOutcome


def test_a_result_goes_to_json_values_and_comes_back_typed():
    closed = Closed("2026-10", "finalised", 3, Decimal("1403.87"), Decimal("259.03"), Decimal("1662.90"),
                    date(2026, 11, 2), 0, 0, 0, "", 0, Decimal("0.00"))
    summary = closed.summary()
    assert (summary["total_ttc"], summary["issued_on"], summary["documents_finished"]) == ("1662.90", "2026-11-02", 0)
    assert Closed.from_summary(summary) == closed
    assert Closed.from_summary(summary).status is CloseOutcome.FINALISED   # a word of the vocabulary, typed
    del summary["documents_finished"]   # as a run that closed the month returns it
    assert Closed.from_summary(summary).documents_finished == 0


def test_a_result_that_does_not_match_its_type_is_refused_in_one_line():
    note = {"number": "2026-000001", "credits": "OLD-1", "customer_id": "ACME", "total_ttc": "-24.00",
            "to_invoice": "0.00", "to_credit": "24.00", "balance": "0.00", "created": True, "pending": []}
    assert CreditNoted.from_summary(note).to_credit == Decimal("24.00")
    with pytest.raises(ValueError) as refused:
        CreditNoted.from_summary({key: value for key, value in note.items() if key != "balance"} | {"stands": ""})
    assert str(refused.value) == "the credit-note run's result does not match CreditNoted: unknown stands; missing balance"
