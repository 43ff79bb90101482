"""The ids and months a person types into a run's form in the UI are checked at the run's start as the CLI
checks its options (policy.ids, YYYY-MM): refused in one line naming the parameter by its form name, the value
cut short (policy.text.quoted), the run ending Refused before it reads a setting or the ledger. Before, a month
of 10,000 characters was refused naming the CLI's --month, and an invoice of 5,000 digits came back whole."""

from __future__ import annotations

import pytest

from tasks.runtime import DateRefused, IdRefused

LONG_MONTH = "2026-11" + "x" * 10000


def _refused(flow, kind, **parameters) -> str:
    state = flow.fn(**parameters)
    assert state.name == "Refused" and isinstance(state.data, kind), state
    return state.message


def test_a_month_of_a_form_is_refused_naming_the_parameter_and_cut_short():
    from flows.exports import billable_export
    from flows.invoices import send_invoices
    from flows.monthly_close import monthly_close

    for flow in (send_invoices, monthly_close, billable_export):
        told = _refused(flow, DateRefused, month=LONG_MONTH)
        assert told == f"month: not a month (YYYY-MM): {LONG_MONTH[:40] + '…'!r} (10,007 characters)", told
    assert _refused(send_invoices, DateRefused, month="2026-1") == "month: not a month (YYYY-MM): '2026-1'"


@pytest.mark.parametrize("flow, parameters, name", [
    ("flows.invoices:send_invoices", {"month": "2026-11", "customer_id": "../../etc"}, "customer_id"),
    ("flows.corrections:issue_credit_note", {"invoice": "../x", "reason": "r", "requested_by": "a"}, "invoice"),
    ("flows.corrections:refund", {"customer_id": "../x", "amount": "1.00", "reference": "r"}, "customer_id"),
    ("flows.standby:request_standby", {"customer_id": "../x", "reason": "temporary_inactivity", "requested_by": "a"},
     "customer_id"),
    ("flows.cancellation:cancellation_request", {"customer_id": "../x"}, "customer_id"),
    ("flows.arrears:delete_customer_data", {"customer_id": "../x"}, "customer_id"),
    ("flows.backup:nightly_backup", {"customer_id": "../x"}, "customer_id"),
    ("flows.restore:restore_backup", {"customer_id": "C1", "requested_by": "a", "ticket": "../x"}, "ticket"),
    ("flows.restore:restore_backup", {"customer_id": "C1", "requested_by": "a", "ticket": "T-1", "backup_id": "../x"},
     "backup_id"),
])
def test_an_id_of_a_form_is_refused_naming_the_parameter(flow, parameters, name):
    import importlib

    module, function = flow.split(":")
    told = _refused(getattr(importlib.import_module(module), function), IdRefused, **parameters)
    assert told.startswith(f"{name} '../") and ": not an id (" in told, told


def test_an_id_of_5000_characters_is_given_back_cut_short():
    from flows.corrections import issue_credit_note

    told = _refused(issue_credit_note, IdRefused, invoice="9" * 5000, reason="r", requested_by="a")
    assert told == f"invoice {'9' * 40 + '…'!r} (5,000 characters): an id has at most 64 characters, this one 5000"
