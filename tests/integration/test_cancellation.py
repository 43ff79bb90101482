"""A cancellation as ops and the customer live it, on SQLite and PostgreSQL, to the cent: the letter
received mid-month is acknowledged with the effective date and the balance; the service ends (access
off on the platform, a final backup kept); the final close bills the prorated subscription and the
unbilled work; the balance statement lists every open invoice; the deletion waits for its approval.
A cancellation withdrawn in time changes nothing."""

from __future__ import annotations

import os
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from ledger import views
from ledger.db import session_scope
from ledger.imports import import_file
from ledger.models import Backup, DeletionCertificate
from policy.calendar import days_in_month, month_key, today_paris
from policy.language import speak
from policy.money import cents
from tests.integration.test_invoices import mailbox, shown_invoices  # noqa: F401 (fixture)
from tests.support.builders import CUSTOMER_HEADER, customer, platform, write_csv

pytestmark = pytest.mark.prefect


FRENCH = speak("fr")
NBSP = "\u00a0"


def first_of_month_before(day: date, months: int) -> date:
    first = day.replace(day=1)
    for _ in range(months):
        first = (first - timedelta(days=1)).replace(day=1)
    return first


def customer_row(ledger, customer_id: str) -> dict:
    with session_scope(ledger) as session:
        [row] = [item for item in views.customers(session) if item["customer_id"] == customer_id]
    return row


def mails_to(mailbox, address: str) -> list:
    return [mail["message"] for mail in mailbox if mail["to"] == [address]]


@pytest.fixture
def terms_block(prefect_server):
    from blocks.terms_block import PolicyTerms

    # the contract's notice ends the service on its last day (prorated), and data is kept 0 days after
    PolicyTerms(cancellation_ends="notice_end", cancellation_data_retention_days=0).save("lifecycle", overwrite=True)
    yield
    PolicyTerms.delete("lifecycle")


@pytest.mark.dates  # built from today: .ci/run runs it on each listed day
def test_a_cancellation_from_its_letter_to_the_deletion_of_the_data(prefect_server, home, ledger, tmp_path, mailbox,
                                                                     terms_block, monkeypatch):
    from flows.arrears import arrears_escalation
    from flows.cancellation import cancellation_request, cancellations
    from flows.monthly_close import monthly_close

    today = today_paris()
    received = first_of_month_before(today, 2) + timedelta(days=9)       # the 10th, two months ago
    last_day = received + timedelta(days=30)                            # the notice's last day, last month
    last_month = month_key(last_day)
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER,
                                       [customer("LEAVING", fee="300.00"), customer("STAYING", fee="300.00")]),
                engine=ledger)
    tenants = platform(os.environ["LIFECYCLE_PLATFORM_URL"], ["LEAVING", "STAYING"])
    overdue_issued = first_of_month_before(today, 3)
    import_file("invoices", write_csv(tmp_path / "i.csv", ["invoice_id", "customer_id", "issued_on", "due_on",
                                                            "amount_ht", "vat_rate"],
                                      [["OLD-7", "LEAVING", overdue_issued.isoformat(),
                                        (overdue_issued + timedelta(days=30)).isoformat(), "250.00", "0.20"]]),
                engine=ledger)
    work_day = last_day.replace(day=1) if last_day.day > 1 else last_day
    import_file("interventions", write_csv(tmp_path / "w.csv", ["intervention_id", "customer_id", "started_at",
                                                                 "minutes", "category"],
                                           [["W-1", "LEAVING", f"{work_day.isoformat()}T10:00", "180", "assistance"]]),
                engine=ledger)

    # the letter: acknowledged with the last day of service and the balance that day (the overdue 300.00 TTC)
    ack = cancellation_request(customer_id="LEAVING", received_on=received, requested_by="ops.anne")
    assert (ack["effective_on"], ack["status"], ack["balance"]) == (last_day.isoformat(), "received", "300.00")
    [letter] = mails_to(mailbox, "leaving@example.com")
    body = letter.get_body(("plain",)).get_content()
    # LEAVING reads French (the terms' invoice_language): French dates and amounts
    assert letter["Subject"] == f"Votre résiliation est reçue : service jusqu'au {FRENCH.date(last_day)}"
    assert "OLD-7" in body and f"Solde : 300,00{NBSP}€ (reste à payer 300,00{NBSP}€)" in body
    assert customer_row(ledger, "LEAVING")["cancellation"] == {"received_on": received.isoformat(),
                                                              "effective_on": last_day.isoformat(),
                                                              "status": "received"}
    # another customer cancels and withdraws in time: nothing changes for it
    cancellation_request(customer_id="STAYING", received_on=today, requested_by="ops.anne")
    assert cancellation_request(customer_id="STAYING", withdraw_it=True)["status"] == "withdrawn"

    # the morning after the last day: access off on the platform, a final backup kept
    done = cancellations(as_of=today)
    [ended] = [step for step in done["steps"] if step["step"] == "effective"]
    assert ended["customer"] == "LEAVING" and "(good)" in ended["final backup"]
    with tenants.connect() as connection:
        flags = connection.execute(text("SELECT admin_enabled, platform_enabled, operations_enabled FROM tenants "
                                         "WHERE tenant_id = 'LEAVING'")).one()
        assert [bool(flag) for flag in flags] == [False, False, False]
        assert all(connection.execute(text("SELECT admin_enabled, platform_enabled FROM tenants "
                                           "WHERE tenant_id = 'STAYING'")).one())
    leaving = customer_row(ledger, "LEAVING")
    assert (leaving["platform_enabled"], leaving["deletion_status"]) == (False, "notice_sent")
    assert f"Votre service a pris fin le {FRENCH.date(last_day)}" in [
        message["Subject"] for message in mails_to(mailbox, "leaving@example.com")]

    # the final close: the subscription up to the last day, the work of the month beyond the quota
    monthly_close(month=last_month)
    [final] = [item for item in shown_invoices(ledger, last_month) if item["customer_id"] == "LEAVING"]
    days = days_in_month(last_day.year, last_day.month)
    subscription = cents(Decimal("300.00") * last_day.day / days)
    assert [(line["category"], line["amount_ht"]) for line in final["lines"]] == [
        ("subscription", str(subscription)), ("assistance", "120.00")]      # 180 min - 120 free = 1 h at 120
    ht = subscription + Decimal("120.00")
    assert (final["total_ht"], final["total_ttc"]) == (str(ht), str(ht + cents(ht * Decimal("0.20"))))
    [staying] = [item for item in shown_invoices(ledger, last_month) if item["customer_id"] == "STAYING"]
    assert staying["total_ht"] == "300.00"                                 # the withdrawn one: a whole month
    # (a letter whose last day falls in that closed month is recorded all the same: the days billed after its
    # last day are given back by credit notes when it takes effect; tests/integration/test_negative_money.py)

    # the next morning: the balance statement, every open invoice and the amount due
    done = cancellations(as_of=today)
    [closed] = [step for step in done["steps"] if step["step"] == "closed"]
    due = Decimal("300.00") + Decimal(final["total_ttc"])
    assert f"balance {due} EUR" in closed["detail"]
    [statement] = [message for message in mails_to(mailbox, "leaving@example.com")
                   if "solde définitif" in message["Subject"]]
    text_of = statement.get_body(("plain",)).get_content()
    assert statement["Subject"] == f"Votre solde définitif : {FRENCH.money(due)}"
    assert "OLD-7" in text_of and final["number"] in text_of
    assert customer_row(ledger, "LEAVING")["cancellation"]["status"] == "closed"
    assert cancellations(as_of=today)["steps"] == []                       # each step once

    # the deletion (data kept 0 days here) follows arrears' path once the notice of the mail that ended the
    # service has run its 30 days: not before; then it waits, then is approved
    early = arrears_escalation(as_of=today, force_reason=None)
    assert not any(line.startswith("LEAVING") for line in early["deletions"])
    assert customer_row(ledger, "LEAVING")["deletion_due_on"] == (today + timedelta(days=30)).isoformat()
    today += timedelta(days=30)
    monkeypatch.setenv("LIFECYCLE_TODAY", today.isoformat())   # 30 days on (a forced sweep never deletes ahead)
    waiting = arrears_escalation(as_of=today, force_reason=None)
    assert any(line.startswith("LEAVING: awaiting approval") for line in waiting["deletions"])
    with tenants.connect() as connection:  # access stays off even though arrears re-computes the flags
        assert not connection.execute(text("SELECT admin_enabled FROM tenants WHERE tenant_id = 'LEAVING'")).scalar()
    kept = [item["number"] for item in shown_invoices(ledger) if item["customer_id"] == "LEAVING"]
    assert {"OLD-7", final["number"]} <= set(kept)                           # and the arrears' penalty on OLD-7
    arrears_escalation(as_of=today, approve_deletion=True, force_reason=None)
    assert customer_row(ledger, "LEAVING")["stage"] == "data_deleted"
    with session_scope(ledger) as session:
        assert session.scalar(select(DeletionCertificate).where(DeletionCertificate.customer_id == "LEAVING"))
        assert {backup.status for backup in session.scalars(select(Backup).where(Backup.customer_id == "LEAVING"))} \
            == {"deleted"}
    assert [item["number"] for item in shown_invoices(ledger) if item["customer_id"] == "LEAVING"] == kept  # kept


def test_a_second_letter_or_a_withdrawal_says_what_is_true_of_the_cancellation_where_it_stands(ledger, tmp_path):
    """"Withdraw it first" only while it can be withdrawn; once it took effect (or its data is deleted) the
    refusal says it cannot be withdrawn any more and what serving the customer again needs."""
    from operations.cancellation import CancellationRefused, receive, take_effect, withdraw
    from ledger.models import Cancellation, Customer
    from policy.terms import Terms

    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("LEAVING", start="2026-01-01")]),
                engine=ledger)
    letter, later = date(2026, 5, 4), date(2026, 5, 20)
    who = {"requested_by": "ops", "actor": "test", "flow_run_id": None}

    def second_letter(today: date) -> str:
        with pytest.raises(CancellationRefused) as refused, session_scope(ledger, write=True) as session:
            receive(session, "LEAVING", later, None, Terms(), today=today, **who)
        return str(refused.value)

    def withdrawal(today: date) -> str:
        with pytest.raises(CancellationRefused) as refused, session_scope(ledger, write=True) as session:
            withdraw(session, "LEAVING", today, requested_by="ops", actor="test", flow_run_id=None)
        return str(refused.value)

    with session_scope(ledger, write=True) as session:
        step, _, new = receive(session, "LEAVING", letter, None, Terms(), today=letter, **who)
    assert new
    last_day = step.effective_on
    standing = f"LEAVING has a cancellation already (received 2026-05-04, last day {last_day}): "
    assert second_letter(later) == standing + "withdraw it first (lifecycle run cancel --customer LEAVING --withdraw)"
    # its last day is over, the morning's run has not ended the service yet: no longer withdrawable
    after = last_day + timedelta(days=1)
    again = "serving LEAVING again needs a new contract"
    over = f"its last day is over: it cannot be withdrawn any more (the morning's cancellations run ends the service); {again}"
    assert second_letter(after) == standing + over
    assert withdrawal(after) == f"LEAVING's cancellation (received 2026-05-04, last day {last_day}): {over}"

    with session_scope(ledger, write=True) as session:
        cancellation_id = session.scalars(select(Cancellation.id)).one()
        take_effect(session, cancellation_id, after, Terms(cancellation_data_retention_days=30), actor="test",
                    flow_run_id=None)
    kept = last_day + timedelta(days=31)   # 30 days kept from the last day, but never less than 30 days' notice
    effective = f"it took effect (access is off; its data is kept until {kept}): it cannot be withdrawn any more; {again}"
    assert second_letter(after) == standing + effective
    assert withdrawal(after) == f"LEAVING's cancellation (received 2026-05-04, last day {last_day}): {effective}"
    with session_scope(ledger, write=True) as session:
        session.get(Customer, "LEAVING").deletion_status = "awaiting_approval"
    assert second_letter(after).endswith("it took effect (access is off; its data deletion awaits approval): it "
                                         f"cannot be withdrawn any more; {again}")
    with session_scope(ledger, write=True) as session:
        session.get(Customer, "LEAVING").stage = "data_deleted"
    assert second_letter(after) == standing + f"it took effect and LEAVING's data is deleted: it cannot be withdrawn " \
                                              f"any more; {again}"
    with session_scope(ledger) as session:  # nothing of this changed the cancellation
        assert session.scalars(select(Cancellation.status)).all() == ["effective"]
