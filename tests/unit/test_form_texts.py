"""The texts a person types into a run's form in the UI (who asks, why, a comment, the approver) and into a
block (the terms, the seller, the notifications) are refused as an import's cell and a CLI option are: a
control or invisible character, or a text past its bound, never reaches the audit log, a document or a log.
The CLI checks its options before a run starts; these are the runs a form starts, where nothing checked before."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tasks.runtime import TextRefused

BIDI, ESC, BEL = "claire\u202egnp.exe", "claire\x1b[31m", "claire\x07"


def _refused(flow, **parameters) -> str:
    """The run's end, as the UI shows it: Failed, named Refused, with the one line; nothing else ran (its
    settings, its ledger: none exist here)."""
    state = flow.fn(**parameters)
    assert state.name == "Refused" and isinstance(state.data, TextRefused), state
    return state.message


def test_the_standby_form_refuses_who_asks_with_a_control_character():
    from flows.standby import request_standby

    assert _refused(request_standby, customer_id="C1", reason="temporary_inactivity", requested_by=BEL) == (
        "requested_by holds the control character U+0007 (at character 7): type the text without it")


def test_the_cancellation_form_refuses_who_records_it_and_a_forced_reason_that_hide_text():
    from flows.cancellation import cancellation_request

    assert _refused(cancellation_request, customer_id="C1", requested_by=BIDI).startswith(
        "requested_by holds the invisible character U+202E RIGHT-TO-LEFT OVERRIDE (at character 7")
    assert _refused(cancellation_request, customer_id="C1", requested_by="ops", force_reason="late\nletter") == (
        "force_reason holds a line break (U+000A at character 5): this value is one line")


def test_the_credit_note_form_refuses_a_reason_and_a_requester_past_their_bounds_or_with_escapes():
    from flows.corrections import issue_credit_note

    assert _refused(issue_credit_note, invoice="2026-000001", reason="x" * 501, requested_by="claire") == (
        "reason is longer than 500 characters")
    assert _refused(issue_credit_note, invoice="2026-000001", reason="Outage", requested_by=ESC) == (
        "requested_by holds the control character U+001B (at character 7): type the text without it")


def test_a_form_refuses_a_text_that_shows_nothing():
    from flows.standby import request_standby

    assert _refused(request_standby, customer_id="C1", reason="temporary_inactivity", requested_by="\u0301\u0301") == (
        "requested_by shows nothing: it holds only marks with no character to carry them (U+0301 COMBINING ACUTE "
        "ACCENT): type the text itself")


def test_the_deletion_form_refuses_an_approver_and_a_comment_that_would_forge_the_certificate():
    from flows.arrears import delete_customer_data

    assert _refused(delete_customer_data, customer_id="C1", approved_by=BIDI).startswith("approved_by holds the invisible")
    assert _refused(delete_customer_data, customer_id="C1", approved_by="claire", comment="ok\x00") == (
        "comment holds the control character U+0000 (at character 3): type the text without it")
    assert _refused(delete_customer_data, customer_id="C1", approved_by="claire", comment="c" * 2001) == (
        "comment is longer than 2000 characters")


def test_a_forced_reason_is_text_whatever_the_date():
    from tasks.runtime import check_date

    with pytest.raises(TextRefused, match="force_reason holds the control character U\\+001B"):
        check_date("2027-01 lies ahead", force_reason="\x1b]8;;http://evil\x07year end", what="monthly-close")


def test_an_approval_names_its_reviewer_in_plain_text_and_its_comment_may_have_lines():
    from tasks.approval import Approval

    for reviewer in (BIDI, ESC, "c" * 121):
        with pytest.raises(ValidationError, match="reviewer"):
            Approval(approve=True, reviewer=reviewer)
    with pytest.raises(ValidationError, match="comment holds the control character U\\+0000"):
        Approval(approve=False, reviewer="claire", comment="rates\x00 wrong")
    assert Approval(approve=False, reviewer="Zoë Ørsted", comment="the rates\nare wrong").comment == "the rates\nare wrong"


def test_the_forms_schema_refuses_what_the_model_refuses_so_the_server_rejects_the_answer():
    """The Prefect server checks an answer against this schema before it resumes the run (test_up sees it
    rejected by the running server)."""
    import re

    from tasks.approval import Approval

    schema = Approval.model_json_schema()["properties"]
    reviewer, comment = schema["reviewer"], schema["comment"]
    assert reviewer["maxLength"] == 120 and comment["maxLength"] == 2000
    assert [bool(re.search(reviewer["pattern"], value)) for value in ("claire", "Zoë Ørsted", BIDI, ESC, "   ", "a\nb")] == [
        True, True, False, False, False, False]
    # built from policy.text itself: every assigned character it refuses, not a list that forgets some
    hidden = ["bob\U000E0041", "b\u3164", "b\u2800", "b\uE000", "b\u034F", "b\uFFFC", "b\u00AD", "b\u180E"]
    assert [value for value in hidden if re.search(reviewer["pattern"], value)] == []
    assert all(re.search(reviewer["pattern"], value) for value in ("李小龙", "👍🏽 Bob", "O'Brien-Smith", "ʻOkina"))
    assert [bool(re.search(comment["pattern"], value)) for value in ("", "why\nbecause", "why\x00")] == [True, True, False]


def test_blocks_refuse_control_and_invisible_characters_in_what_documents_print():
    from blocks.notifications import Notifications
    from blocks.seller import Seller
    from policy.terms import Terms

    for build, field in ((lambda: Seller(legal_name="Exemple\x00SAS"), "legal_name"),
                         (lambda: Seller(address_lines=["10 rue\u2066 A"]), "address_lines.0"),
                         (lambda: Notifications(support_phone="01 79\x1b[2J"), "support_phone"),
                         (lambda: Terms(pause_on=[{"clock": "first_response", "statuses": ["waiting_customer"],
                                                   "reason": "seed 003\x07"}]), "pause_on.0.reason")):
        with pytest.raises(ValidationError) as refused:
            build()
        assert refused.value.errors()[0]["loc"] == tuple(int(part) if part.isdigit() else part
                                                         for part in field.split("."))
    assert Seller().legal_name and Notifications().support_phone and Terms().pause_on  # the defaults hold


def test_the_forms_written_out_classes_are_the_ones_policy_text_gives():
    """The classes are written out in tasks/approval.py (a second to compute, and Prefect saves a form's schema
    after the run shows paused); a change of policy.text, or of Python's Unicode tables, must show here."""
    from tasks.approval import REFUSED_IN_LINES, REFUSED_IN_ONE_LINE, _refused_characters

    assert (REFUSED_IN_ONE_LINE, REFUSED_IN_LINES) == (_refused_characters(False), _refused_characters(True))
