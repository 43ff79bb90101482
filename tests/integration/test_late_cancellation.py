"""A cancellation recorded late (probe F3, issue 24): a letter received in June, recorded in December, has its
last day of service (31 July) months behind it when the product ends the service. Its data retention counted
from that last day made the deletion due at once (29 October, already past), with no notice period, and the
mail of 6 December promised a notice that could not come. The retention counts from the day the customer
lost its platform, the mail of that day is the deletion's notice with a true date, and the arrears sweep does
not find the deletion due before it. Driven through the CLI on a demo, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from policy.language import speak
from tests.support.cli import lifecycle_in_process

pytestmark = pytest.mark.prefect

TODAY = date(2026, 12, 6)


def run(*args: str, **env: str) -> str:
    """The command through the CLI's entry point in this process, `run` ones too: what is judged is what the
    product decides and says, not the process (a process of its own costs 3-4 s of CPU, ten of them here)."""
    import os

    result = lifecycle_in_process(*args, env={**os.environ, **env})
    assert result.returncode == 0, result.stderr
    return result.stdout


def c012(**env: str) -> dict:
    [row] = [row for row in json.loads(run("show", "customers", "--format", "json", **env))
             if row["customer_id"] == "C012"]
    return row


def test_a_cancellation_recorded_months_late_keeps_the_data_its_full_retention_and_announces_a_true_date(
        prefect_server, home, monkeypatch):
    monkeypatch.setenv("LIFECYCLE_TODAY", TODAY.isoformat())
    monkeypatch.setenv("PREFECT_API_URL", prefect_server)
    run("demo", "--customers", "12")

    recorded = run("run", "cancel", "--customer", "C012", "--received-on", "2026-06-10", "--requested-by", "ops")
    assert "2026-07-31" in recorded                            # 30 days' notice, to the end of the month
    ended = run("run", "cancellations")
    # the service ends today, the day the product applies it: kept 90 days from yesterday, its last day of access
    kept = TODAY - timedelta(days=1) + timedelta(days=90)
    assert kept == date(2027, 3, 5)
    assert f"data kept until {kept}" in ended
    shown = c012()
    assert (shown["platform_enabled"], shown["deletion_status"], shown["deletion_due_on"]) == (
        False, "notice_sent", kept.isoformat())

    # the mail of the day says the last day of service and the true day of the deletion, and is its notice
    [notice] = [notice for notice in json.loads(run("show", "notices", "--format", "json"))
                if notice["customer_id"] == "C012" and notice["kind"] == "cancellation_effective"]
    mail = BytesParser(policy=policy.default).parsebytes(Path(notice["location"]).read_bytes())
    body = " ".join(mail.get_body(("plain",)).get_content().split())
    assert mail["Subject"] == f"Votre service a pris fin le {speak('fr').date(date(2026, 7, 31))}"
    assert "votre service a pris fin le 31 juillet 2026" in body.replace("\u00a0", " ")
    assert ("conservée jusqu'au 5 mars 2027 ; vos données et leurs sauvegardes sont supprimées à partir de ce jour "
            "(ce message est le préavis de cette suppression)") in body.replace("\u00a0", " ")
    assert "29 octobre" not in body and "prévenu avant" not in body

    # the same for a run `--as-of` the morning after the last day, made today (a missed morning run by hand):
    # the mail goes out today, so the retention and the notice count from today too
    customers = json.loads(run("show", "customers", "--format", "json"))
    other = next(row["customer_id"] for row in customers if row["customer_id"] in ("C005", "C006", "C008", "C010", "C011")
                 and row["billing_cycle"] == "monthly")   # a monthly customer, not in the demo's arrears
    assert "2026-07-31" in run("run", "cancel", "--customer", other, "--received-on", "2026-06-10",
                               "--requested-by", "ops")
    run("run", "cancellations", "--as-of", "2026-08-01")
    [row] = [row for row in json.loads(run("show", "customers", "--format", "json")) if row["customer_id"] == other]
    assert (row["deletion_status"], row["deletion_due_on"]) == ("notice_sent", kept.isoformat())

    # the arrears sweep of today (and of the day before it is due) does not find the deletion due
    for day in (TODAY, kept - timedelta(days=1)):
        swept = run("run", "arrears", "--dry-run", LIFECYCLE_TODAY=day.isoformat())
        assert "C012" not in swept and other not in swept, swept
    assert c012()["deletion_status"] == "notice_sent"
    # on the day it is due, it waits for its approval like any deletion
    due = run("run", "arrears", "--dry-run", LIFECYCLE_TODAY=kept.isoformat())
    assert "C012: would wait for approval" in due and f"{other}: would wait for approval" in due, due


def test_a_late_cancellation_whose_last_month_an_imported_invoice_billed_gets_its_final_statement(
        prefect_server, home, monkeypatch):
    """Probe N1: the vendor moved in with its history (C012's July billed by an imported invoice) and the
    product's closes began in November: July's close will never come, so the statement the mail of the day
    promises («Votre solde définitif suivra avec votre dernière facture») goes out when the service ends."""
    monkeypatch.setenv("LIFECYCLE_TODAY", TODAY.isoformat())
    monkeypatch.setenv("PREFECT_API_URL", prefect_server)
    run("demo", "--customers", "12")
    run("run", "monthly-close", "--month", "2026-11")
    run("run", "cancel", "--customer", "C012", "--received-on", "2026-06-10", "--requested-by", "ops")
    imported = [row for row in json.loads(run("show", "invoices", "--month", "2026-07", "--format", "json"))
                if row["customer_id"] == "C012"]
    assert [row["kind"] for row in imported] == ["imported"]

    ended = run("run", "cancellations")
    assert "C012: took effect after 2026-07-31" in ended and "C012: closed on 2026-12-06" in ended, ended
    assert c012()["cancellation"]["status"] == "closed"
    [notice] = [notice for notice in json.loads(run("show", "notices", "--format", "json"))
                if notice["customer_id"] == "C012" and notice["kind"] == "cancellation_statement"]
    mail = BytesParser(policy=policy.default).parsebytes(Path(notice["location"]).read_bytes())
    body = " ".join(mail.get_body(("plain",)).get_content().split()).replace("\u00a0", " ").replace("\u202f", " ")
    # the imported August to October and the product's November, given back by credit notes: the customer's
    # credit, to refund, is the whole balance
    assert c012()["credit"] == "3564.00"
    assert mail["Subject"].replace("\u202f", " ").replace("\u00a0", " ") == "Votre solde définitif : -3 564,00 €"
    assert ("Voici le solde définitif de votre compte, maintenant que votre dernière facture est émise. Votre compte "
            "au 6 décembre 2026 : - Votre crédit (trop-perçus et avoirs pas encore remboursés) : 3 564,00 € "
            "Solde : -3 564,00 €") in body, body
    # a second morning sends nothing more
    again = run("run", "cancellations", LIFECYCLE_TODAY=(TODAY + timedelta(days=1)).isoformat())
    assert "C012" not in again, again
