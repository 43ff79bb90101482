"""The `lifecycle` command as a user runs it: exit codes, stderr lines, JSON fields, no Prefect where none is needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta

import pytest

from policy.text import quoted
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv
from tests.support.cli import lifecycle as ledger_command


def lifecycle(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = ledger_command(*args)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_db_upgrade_is_idempotent(home):
    from ledger.migrate import HEAD

    assert f"ledger at {HEAD}" in lifecycle("db", "upgrade").stdout
    assert "already current" in lifecycle("db", "upgrade").stdout


def test_a_rejected_file_prints_every_error_and_exits_non_zero(home, tmp_path):
    bad = write_csv(tmp_path / "customers.csv", CUSTOMER_HEADER, [customer("A", fee="abc"), customer("B", method="transfer")])
    result = lifecycle("import", "customers", str(bad), check=False)
    assert result.returncode == 2  # the user's mistake (docs/reference/cli.md: exit 2)
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "customers.csv:2:monthly_fee: not a number: 'abc'"
    assert lines[1].startswith("customers.csv:3:payment_method: a subscription paid by transfer")
    assert lines[-1] == "lifecycle: customers.csv rejected: 2 error(s); nothing was written"
    assert json.loads(lifecycle("show", "customers", "--format", "json").stdout) == []


def test_unreadable_files_are_one_line_reasons(home, tmp_path):
    result = lifecycle("import", "payments", str(tmp_path / "missing.csv"), check=False)
    missing = str(tmp_path / "missing.csv")
    shown = missing if len(missing) <= 40 else quoted(missing)  # a long path is given back cut after 40 characters
    assert result.returncode == 2 and result.stderr.strip() == f"lifecycle: {shown}: no such file"
    (tmp_path / "latin1.csv").write_bytes("customer_id,name\nA,Soci\xe9t\xe9\n".encode("latin-1"))
    result = lifecycle("import", "customers", str(tmp_path / "latin1.csv"), check=False)
    assert result.returncode == 2 and "not UTF-8 text" in result.stderr


def test_show_prints_the_interface_fields_as_json_and_csv(home, tmp_path):
    lifecycle("import", "customers", str(write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("A", name="Crème Brûlée SAS")])))
    [record] = json.loads(lifecycle("show", "customers", "--format", "json").stdout)
    assert {"customer_id", "name", "stage", "deletion_status", "deletion_due_on", "standby", "admin_enabled",
            "platform_enabled", "operations_enabled"} <= set(record)
    assert (record["name"], record["stage"], record["standby"], record["deletion_status"]) == (
        "Crème Brûlée SAS", "current", False, None)
    csv_out = lifecycle("show", "customers", "--format", "csv").stdout.splitlines()
    assert csv_out[0].startswith("customer_id,name,email,stage") and "Crème Brûlée SAS" in csv_out[1]
    [created] = json.loads(lifecycle("show", "audit", "--format", "json").stdout)
    assert {"at", "customer_id", "action", "before", "after", "flow_run_id"} <= set(created)
    assert created["action"] == "customer_created" and created["after"]["monthly_fee"] == "500.00"
    terms = {row["term"]: row["value"] for row in json.loads(lifecycle("show", "terms", "--format", "json").stdout)}
    assert terms["included_minutes"] == 120 and terms["hourly_rates.assistance"] == "120.00"
    for subject in ("invoices", "interventions", "backups", "notices"):
        assert json.loads(lifecycle("show", subject, "--format", "json").stdout) == []
    assert lifecycle("show", "invoices", "--month", "2026-13", check=False).returncode != 0


def test_ledger_commands_never_load_prefect(home, tmp_path):
    path = write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("A")])
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from lifecycle.cli import app\n"
        "runner = CliRunner()\n"
        f"for args in (['db', 'upgrade'], ['demo', '--customers', '5'], ['import', 'customers', {str(path)!r}],"
        " ['show', 'customers'], ['show', 'terms'], ['--help']):\n"
        "    result = runner.invoke(app, args)\n"
        "    assert result.exit_code == 0, (args, result.output)\n"
        "print(sorted(name for name in sys.modules if name == 'prefect' or name.startswith('prefect.')))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def deletion_of_c004(day: date) -> tuple[date, date]:
    """On a demo made for `day`: when C004's deletion may first be announced and when it is due if announced 40
    days before `day` (DESIGN "Arrears"), from the invoices the demo left unpaid."""
    from policy.arrears import deletion_due_on, deletion_plan
    from policy.terms import Terms

    invoices = json.loads(lifecycle("show", "invoices", "--format", "json").stdout)
    unpaid = [i for i in invoices if i["customer_id"] == "C004" and i["status"] == "open" and i["balance"] == i["total_ttc"]]
    anchor = min(date.fromisoformat(i["due_on"]) for i in unpaid)
    plan = deletion_plan(anchor, Terms())
    return plan.notice_on, deletion_due_on(plan, day - timedelta(days=40), Terms())


# "today" is the day it runs on (.ci/run runs it on each listed day); the others, days eight months of
# unpaid history fell short on
@pytest.mark.parametrize("day", [pytest.param("today", marks=pytest.mark.dates), "2026-12-06", "2027-03-01",
                                 "2028-03-10"])
def test_the_demo_made_on_any_day_has_a_deletion_announced_40_days_ago_and_due_that_day(home, day, monkeypatch):
    """What `lifecycle up --demo`'s story needs on every calendar day (tests/integration/test_up.py sweeps 40
    days ago, then today): the demo's history is month-granular, its 6+-months debtor must not be."""
    if day == "today":
        from policy.calendar import today_paris

        day = today_paris().isoformat()
    monkeypatch.setenv("LIFECYCLE_TODAY", day)   # made on that day (a day ahead is no `--as-of`: out of its window)
    lifecycle("demo", "--customers", "5")
    notice_on, due_on = deletion_of_c004(date.fromisoformat(day))
    assert notice_on <= date.fromisoformat(day) - timedelta(days=40) and due_on <= date.fromisoformat(day), (
        notice_on, due_on)


def test_demo_creates_customers_in_arrears_and_one_on_standby(home):
    output = lifecycle("demo", "--customers", "12", "--as-of", "2026-11-22").stdout
    assert "in arrears: C002, C003, C004, C007; on standby: C009" in output
    customers = json.loads(lifecycle("show", "customers", "--format", "json").stdout)
    assert len(customers) == 12
    [sleeper] = [c for c in customers if c["standby"]]
    assert (sleeper["customer_id"], sleeper["admin_enabled"], sleeper["platform_enabled"],
            sleeper["operations_enabled"]) == ("C009", True, True, False)
    invoices = json.loads(lifecycle("show", "invoices", "--format", "json").stdout)
    unpaid = {i["customer_id"] for i in invoices if i["status"] == "open" and i["due_on"] < "2026-11-22"}
    assert {"C002", "C003", "C004", "C007"} <= unpaid
    assert any(i["status"] == "disputed" for i in invoices)
    again = lifecycle("demo", check=False)
    assert again.returncode == 2 and "already has 12 customer(s)" in again.stderr
    assert (home / "demo" / "customers.csv").exists() and (home / "platform.db").exists()


def test_a_demo_day_the_imports_would_refuse_is_refused_before_anything_is_written(home, monkeypatch):
    """A day ahead of today would have payments and tickets from the future, a day in the year after
    earliest_date history before it: said in one line naming the days that work, and the home stays usable
    (it used to say "19 error(s)" and leave a half-made ledger that refused the next demo)."""
    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-12-06")
    ahead = lifecycle("demo", "--customers", "3", "--as-of", "2027-12-31", check=False)
    assert (ahead.returncode, ahead.stderr.strip()) == (2, (
        "lifecycle: --as-of 2027-12-31 lies ahead of today (2026-12-06): the demo's history holds payments and "
        "tickets, which cannot lie ahead; give a day up to 2026-12-06"))
    early = lifecycle("demo", "--customers", "3", "--as-of", "2000-06-30", check=False)
    assert (early.returncode, early.stderr.strip()) == (2, (
        "lifecycle: --as-of 2000-06-30 is too early: the demo's history goes a year back and no date lies before "
        "2000-01-01 (earliest_date); give a day from 2001-01-01 to 2026-12-06"))
    assert not (home / "demo").exists() and not (home / "platform.db").exists()
    made = lifecycle("demo", "--customers", "3", "--as-of", "2001-01-01")  # the earliest day it names works
    assert "demo created in" in made.stdout and "customers.csv: 3 row(s): 3 new" in made.stdout
