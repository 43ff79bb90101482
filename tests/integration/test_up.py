"""The embedded default as a user meets it: `lifecycle up --demo` with its real scheduler, worker and
automations; shell runs on its worker; approval forms; ops alerts; a lost worker; Ctrl-C and a restart.

The tests share one `lifecycle up` (the session's `up_server`) and run in file order, each leaving
the ledger as the next one expects, as a day of operations would.
"""

from __future__ import annotations

import itertools
import json
import re
import signal
import sqlite3
import threading
from pathlib import Path
import time
from datetime import date, datetime, timedelta, timezone

import httpx
import pytest
import yaml

from lifecycle import alerts
from lifecycle.logwatch import ErrorLines
from policy.calendar import PARIS, add_months, month_key, today_paris
from tests.support.cli import refused_before_any_run
from tests.support.up import (HELD, clean_env, command_line, descendants, first_time_of_day, parent_of, processes_of,
                               signal_all)

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group("lifecycle-up")]

SCHEDULED = {"nightly-backup", "verify-backups", "standby-expiry", "arrears-escalation", "monthly-close",
             "billable-export", "cancellations", "commitments", "e-invoicing", "e-reporting"}


def last_month() -> str:
    return month_key(add_months(today_paris().replace(day=1), -1))


def unexpected_errors(log: str) -> list[str]:
    """The server log's errors as `lifecycle up` tells them on its terminal, but for the notes: Prefect's
    known SQLite contention (PrefectHQ/prefect#18934), a server service that found its own database busy
    and tries again."""
    reader, told = ErrorLines(clock=itertools.count(step=1000).__next__), []
    for line in log.splitlines():
        told += reader.feed(line)
    told += reader.flush(after=0)
    return [message for message in told if not message.startswith("note:")]


def mails_since(inbox, count: int, subject_part: str, timeout: float = 120) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [mail for mail in inbox["mails"][count:] if subject_part in mail["message"]["Subject"]]
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"no mail with {subject_part!r} among " +
                         repr([mail["message"]["Subject"] for mail in inbox["mails"][count:]]))


# --- the scheduler -----------------------------------------------------------------------------


def test_up_is_ready_only_once_every_schedule_has_its_upcoming_runs(up_server):
    lines = up_server.lines
    ready = next(index for index, line in enumerate(lines) if line.startswith("ready:"))
    shown = lines[lines.index("next runs (Europe/Paris):") + 1:ready]
    assert {line.split()[0] for line in shown} == SCHEDULED
    assert all(line.rstrip().endswith(("CET", "CEST")) for line in shown)

    deployments = up_server.deployments()
    for name in SCHEDULED:
        # upcoming when `up` said ready: still scheduled, or held by the session (which cancels those due in
        # the next two hours: in a weekday morning, the scheduler's first pass of e-invoicing's quarter-hours
        # covers only its first hour, all of it held, the rest made by its later passes)
        upcoming = [run for run in up_server.runs_of(name) if run["auto_scheduled"] and (
            run["state"]["type"] == "SCHEDULED" or run["state"]["message"] == HELD)]
        assert upcoming, f"{name} has no scheduled run"
        [schedule] = deployments[name]["schedules"]
        assert schedule["schedule"]["timezone"] == "Europe/Paris" and schedule["active"]
        # the UI's schedule column shows no time zone: the description says it
        assert f"{first_time_of_day(schedule['schedule']['cron'])} Europe/Paris" in deployments[name]["description"]
        # what the terminal printed is the first upcoming run, in Paris time (the scheduler's runs, whatever
        # became of them since: the session holds those due while it runs)
        first = min(datetime.fromisoformat(run["expected_start_time"]) for run in up_server.runs_of(name)
                    if run["auto_scheduled"]).astimezone(PARIS)
        assert any(line.split()[0] == name and first.strftime("%d %b %Y %H:%M") in line for line in shown)
    # no error but Prefect's known SQLite contention, which its services retry (as the restart test below
    # and `lifecycle up`'s terminal tell it): CI saw it here once the start also tags every deployment
    assert unexpected_errors(up_server.server_log()) == []


def test_flow_names_are_deployment_names_so_prefect_users_find_them(up_server):
    spec = yaml.safe_load((Path(__file__).resolve().parents[2] / "prefect.yaml").read_text())
    deployments = up_server.deployments()
    for entry in spec["deployments"]:
        flow = up_server.get(f"/flows/{deployments[entry['name']]['flow_id']}")
        assert flow["name"] == entry["name"]
    assert set(deployments["standby-request"]["parameter_openapi_schema"]["properties"]) == {
        "customer_id", "reason", "start_on", "end_on", "requested_by"}


def test_a_scheduled_run_that_comes_due_is_run_by_the_worker(up_server):
    [due] = [run for run in up_server.runs_of("standby-expiry") if run["state"]["type"] == "SCHEDULED"][-1:]
    now = datetime.now(timezone.utc).isoformat()
    up_server.post(f"/flow_runs/{due['id']}/set_state",
                   {"state": {"type": "SCHEDULED", "name": "Scheduled", "state_details": {"scheduled_time": now}},
                    "force": True})
    run = up_server.wait(due["id"])
    assert run["state"]["type"] == "COMPLETED", run["state"]
    artifacts = up_server.post("/artifacts/filter", {"flow_runs": {"id": {"any_": [due["id"]]}}})
    assert any(artifact["key"] == "standby-expiry" for artifact in artifacts)


# --- shell runs are deployment runs ----------------------------------------------------------------


def test_a_shell_run_is_a_run_of_its_deployment_followed_here(up_server):
    before = {run["id"] for run in up_server.runs_of("standby-expiry")}
    done = up_server.lifecycle("run", "standby-expiry")
    assert done.returncode == 0, done.stderr
    assert "temporary" not in done.stderr and "on the worker: http://127.0.0.1" in done.stderr
    assert "Beginning flow run" in done.stderr           # the run's own log, followed on the terminal
    assert done.stderr.rstrip().splitlines()[-1].endswith("Finished in state Completed()")  # to its last line
    assert done.stdout.startswith(f"{today_paris()}: ")  # the summary, from the run's result
    [new] = [run for run in up_server.runs_of("standby-expiry") if run["id"] not in before]
    assert new["state"]["type"] == "COMPLETED" and new["id"] in done.stderr

    # a setting of this command only: the worker would not use it, so the flow runs here, and says so
    elsewhere = up_server.home / "other-objects"
    alone = up_server.lifecycle("run", "standby-expiry", LIFECYCLE_STORAGE_URL=f"file://{elsewhere}")
    assert alone.returncode == 0, alone.stderr
    assert "LIFECYCLE_STORAGE_URL differ from the server's: running it here" in alone.stderr
    assert {run["id"] for run in up_server.runs_of("standby-expiry")} - before == {new["id"]}


def test_prefect_deployment_run_works_with_the_flow_and_deployment_name(up_server):
    import subprocess
    import sys

    from tests.support.up import clean_env

    result = subprocess.run([sys.executable, "-m", "prefect", "deployment", "run", "standby-request/standby-request",
                             "--param", "customer_id=C015", "--param", "reason=third_party_integration", "--watch"],
                            env=clean_env(up_server.home, PREFECT_API_URL=up_server.api), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    with sqlite3.connect(up_server.home / "platform.db") as platform:
        assert platform.execute("SELECT admin_enabled, platform_enabled, operations_enabled FROM tenants "
                                "WHERE tenant_id = 'C015'").fetchone() == (1, 1, 0)
    notices = json.loads(up_server.lifecycle("show", "notices", "--format", "json").stdout)
    assert [(n["customer_id"], n["kind"]) for n in notices if n["customer_id"] == "C015"] == [
        ("C015", "standby_started")]


# --- dates that cannot be wrong by a typo --------------------------------------------------------


def test_days_ahead_and_unfinished_months_are_refused_unless_forced_with_a_reason(up_server):
    tomorrow = (today_paris() + timedelta(days=1)).isoformat()
    this_month = month_key(today_paris())
    for args, says in [
        (("run", "standby-expiry", "--as-of", tomorrow), f"--as-of {tomorrow} is after today"),
        (("run", "backup", "--as-of", tomorrow), f"--as-of {tomorrow} is after today"),
        (("run", "arrears", "--as-of", tomorrow), "use --dry-run to see what it would do"),
        (("run", "monthly-close", "--month", this_month), f"the month {this_month} has not ended"),
        (("run", "arrears", "--as-of", tomorrow, "--force"), "--force needs --reason"),
    ]:
        # refused by the command's checks before any run: in this process (tests/support/cli.py)
        refused = refused_before_any_run(*args, env=clean_env(up_server.home))
        assert refused.returncode == 2 and says in refused.stderr, (args, refused.stderr)
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert up_server.lifecycle("run", "arrears", "--as-of", tomorrow, "--dry-run").returncode == 0

    # the form in the UI refuses the same typo: the flow checks it too
    run_id = up_server.run_button("standby-expiry", {"as_of": tomorrow})
    run = up_server.wait(run_id)
    assert run["state"]["type"] == "FAILED" and "is after today" in run["state"]["message"]

    forced = up_server.lifecycle("run", "standby-expiry", "--as-of", tomorrow, "--force", "--reason",
                                 "catching up before a long weekend")
    assert forced.returncode == 0, forced.stderr
    audit = json.loads(up_server.lifecycle("show", "audit", "--format", "json").stdout)
    [override] = [entry for entry in audit if entry["action"] == "date_check_overridden"]
    assert override["after"]["reason"] == "catching up before a long weekend"
    assert override["actor"] == "flow:standby-expiry" and override["flow_run_id"]


def test_a_request_the_flow_refuses_on_the_worker_is_one_line(up_server):
    """The flow itself refuses (not the CLI beforehand): the run ends Refused on the worker, and the terminal
    shows its reason alone, without the engine's traceback, whatever the refusal's class is called."""
    refused = up_server.lifecycle("run", "refund", "--customer", "C001", "--amount", "999999.00",
                                  "--reference", "PROBE-F4")
    assert refused.returncode == 2 and "on the worker: http://127.0.0.1" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr and "Engine execution" not in refused.stderr, refused.stderr
    assert refused.stderr.strip().splitlines()[-1].startswith("lifecycle: "), refused.stderr
    assert sum(line.startswith("lifecycle: ") for line in refused.stderr.splitlines()) == 1, refused.stderr


# --- approvals -------------------------------------------------------------------------------------


@pytest.fixture
def short_alert_windows(up_server):
    """The proactive alerts with windows of seconds instead of hours, restored afterwards."""
    alerts.apply_to(up_server.api, windows={"monthly-close-awaiting-approval": timedelta(seconds=15),
                                            "nightly-backup-not-done-by-0600": timedelta(seconds=15)})
    yield
    alerts.apply_to(up_server.api)


def test_the_sweep_of_40_days_ago_gave_the_long_debtor_its_deletion_notice(up_server):
    """C004 has owed since the spring: the daily sweep as it ran 40 days ago (before today's close numbered
    anything) sent its deletion notice; its 30 days count from that day, so the deletion is due by today.
    A catch-up run today `--as-of` that day would give the notice 30 days from today instead."""
    forty_days_ago = today_paris() - timedelta(days=40)
    swept = up_server.lifecycle("run", "arrears", LIFECYCLE_TODAY=forty_days_ago.isoformat())
    assert swept.returncode == 0, swept.stderr[-2000:]
    customers = {c["customer_id"]: c for c in json.loads(up_server.lifecycle("show", "customers", "--format",
                                                                              "json").stdout)}
    assert customers["C004"]["deletion_status"] == "notice_sent"
    assert date.fromisoformat(customers["C004"]["deletion_due_on"]) <= today_paris()
    assert date.fromisoformat(customers["C004"]["deletion_due_on"]) >= forty_days_ago + timedelta(days=30)


def test_the_close_cannot_be_approved_or_refused_by_accident(up_server, ops_inbox, short_alert_windows):
    month = last_month()
    known = {run["id"] for run in up_server.runs_of("monthly-close")}
    mails = len(ops_inbox["mails"])
    waiting = up_server.popen("run", "monthly-close", "--month", month, "--approve", "ui")
    run = up_server.next_suspended("monthly-close", known)

    # suspended: no worker process holds it while finance takes its time
    assert run["state"]["type"] == "PAUSED" and run["state"]["state_details"]["pause_reschedule"] is True
    time.sleep(3)
    assert processes_of(run["id"]) == []

    # the form says what is at stake, and has no default decision
    description = up_server.run_input(run, "description")
    invoices = [i for i in json.loads(up_server.lifecycle("show", "invoices", "--format", "json").stdout)
                if i["month"] == month and i["kind"] == "monthly"]
    assert f"Close of {month}: {len(invoices)} draft invoice(s)" in description
    from decimal import Decimal

    ttc = sum(Decimal(i["total_ttc"]) for i in invoices)
    assert f"TTC {ttc} EUR" in description and "The five largest" in description
    assert description.count("EUR TTC") == 5 and "/artifacts/artifact/" in description
    schema = json.loads(up_server.run_input(run, "schema"))
    assert {"approve", "reviewer"} <= set(schema["required"])
    assert "default" not in schema["properties"]["approve"]

    # Submit without choosing, with a blank reviewer, or refusing without a reason: refused by the server
    for answer, why in [({"reviewer": "claire.finance", "comment": ""}, "'approve' is a required property"),
                        ({"approve": True, "reviewer": "   "}, "reviewer"),
                        ({"approve": False, "reviewer": "claire.finance", "comment": ""}, "comment"),
                        # what goes into the audit log is text a terminal and a log show as it is
                        ({"approve": True, "reviewer": "claire\u202egnp.exe"}, "reviewer"),
                        ({"approve": True, "reviewer": "claire\x1b[31m"}, "reviewer"),
                        ({"approve": True, "reviewer": "claire\U000E0041"}, "reviewer"),  # a tag character
                        ({"approve": True, "reviewer": "c" * 121}, "reviewer"),
                        ({"approve": False, "reviewer": "claire.finance", "comment": "rates\x00 wrong"}, "comment")]:
        response = up_server.resume(run["id"], answer)
        assert response["status"] == "REJECT" and why in response["details"]["reason"], (answer, response)
    assert up_server.get(f"/flow_runs/{run['id']}")["state"]["name"] == "Suspended"

    # waiting too long alerts ops (the window is seconds here, 24 h in automations.yaml)
    [alert] = mails_since(ops_inbox, mails, "awaits approval for more than 24 h", timeout=180)
    assert alert["to"] == ["ops@vendor.example"] and run["id"] in alert["message"].get_content()

    # a refusal with its reason: nothing issued, the CLI says who and why
    assert up_server.resume(run["id"], {"approve": False, "reviewer": "claire.finance",
                                        "comment": "the October rates are wrong"})["status"] == "ACCEPT"
    out, err = waiting.communicate(timeout=240)
    assert waiting.returncode == 2 and "refused by claire.finance (the October rates are wrong)" in err
    # the run that resumed with the answer says the answer, not the wait again
    assert err.count("waiting for finance to approve") == 1 and err.count("Suspending flow run") == 1, err
    assert "finance refused by claire.finance (the October rates are wrong)" in err
    assert not [i for i in json.loads(up_server.lifecycle("show", "invoices", "--format", "json").stdout)
                if i["month"] == month and i["kind"] == "monthly"]

    # and an approval issues them, from the same kind of run
    known |= {run["id"]}
    waiting = up_server.popen("run", "monthly-close", "--month", month, "--approve", "ui")
    run = up_server.next_suspended("monthly-close", known)
    assert up_server.resume(run["id"], {"approve": True, "reviewer": "claire.finance"})["status"] == "ACCEPT"
    out, err = waiting.communicate(timeout=240)
    assert waiting.returncode == 0, err
    assert err.count("waiting for finance to approve") == 1 and err.count("Suspending flow run") == 1, err
    assert "finance approved by claire.finance" in err
    assert out.startswith(f"{month} closed: ") and "invoice(s) issued on" in out
    audit = json.loads(up_server.lifecycle("show", "audit", "--format", "json").stdout)
    [final] = [entry for entry in audit if entry["action"] == "close_finalised"]
    assert final["after"]["approval"] == {"reviewer": "claire.finance", "comment": ""}
    # the final artifact counts what the close priced (last wave said 0)
    artifacts = up_server.post("/artifacts/filter", {"flow_runs": {"id": {"any_": [run["id"]]}}})
    [close] = [artifact for artifact in artifacts if artifact["key"] == "monthly-close"]
    drafted = [entry for entry in audit if entry["action"] == "close_drafted"][-1]
    assert f"interventions priced: {drafted['after']['interventions']} of the month" in close["data"]
    assert drafted["after"]["interventions"] > 0

    # every invoice of the demo's close: a Factur-X PDF (the factur-x package's checks) whose XML says the
    # ledger's totals, mailed to its customer with that very file attached (SPECIMEN: the sample seller)
    from lxml import etree

    from reports.invoice_document import check_facturx

    issued = [i for i in json.loads(up_server.lifecycle("show", "invoices", "--format", "json").stdout)
              if i["month"] == month and i["kind"] == "monthly"]
    mailed = {mail["message"]["X-Lifecycle-Notice"]: mail["message"] for mail in ops_inbox["mails"]}
    assert issued
    for invoice in issued:
        pdf = (up_server.home / "objects" / invoice["document"]).read_bytes()
        xml = etree.fromstring(check_facturx(pdf))
        assert (xml.findtext(".//{*}TaxBasisTotalAmount"), xml.findtext(".//{*}TaxTotalAmount"),
                xml.findtext(".//{*}GrandTotalAmount")) == (invoice["total_ht"], invoice["total_vat"],
                                                            invoice["total_ttc"]), invoice["number"]
        [attachment] = mailed[f"invoice:{invoice['number']}:1"].iter_attachments()
        assert attachment.get_content() == pdf and invoice["mail_status"] == "sent"


def test_a_due_deletion_waits_for_its_form_and_ops_hear_of_it(up_server, ops_inbox):
    # C004's notice went out 40 days ago (test_the_sweep_of_40_days_ago_...): today's sweep finds the deletion due
    customers = {c["customer_id"]: c for c in json.loads(up_server.lifecycle("show", "customers", "--format",
                                                                              "json").stdout)}
    assert customers["C004"]["deletion_status"] == "notice_sent"
    mails = len(ops_inbox["mails"])
    known = {run["id"] for run in up_server.runs_of("data-deletion")}
    sweep = up_server.lifecycle("run", "arrears")
    assert sweep.returncode == 0, sweep.stderr
    assert "C004: awaiting approval in http://127.0.0.1" in sweep.stdout
    run = up_server.next_suspended("data-deletion", known)

    [alert] = mails_since(ops_inbox, mails, "a data deletion awaits approval: C004")
    assert run["id"] in alert["message"].get_content()
    description = up_server.run_input(run, "description")
    assert "Delete all of C004's platform data?" in description and "Overdue balance" in description
    assert "users:" in description and "row(s)" in description and "the latest good one is" in description

    answer = up_server.resume(run["id"], {"approve": False, "reviewer": "olivier.ops"})
    assert answer["status"] == "REJECT" and "comment" in answer["details"]["reason"]
    assert up_server.resume(run["id"], {"approve": False, "reviewer": "olivier.ops",
                                        "comment": "paying by transfer this week"})["status"] == "ACCEPT"
    assert up_server.wait(run["id"])["state"]["type"] == "FAILED"  # refused: nothing deleted
    customers = {c["customer_id"]: c for c in json.loads(up_server.lifecycle("show", "customers", "--format",
                                                                              "json").stdout)}
    assert (customers["C004"]["stage"], customers["C004"]["deletion_status"]) == ("platform_disabled", "refused")


# --- ops alerts ------------------------------------------------------------------------------------


def test_a_failed_run_alerts_ops_by_mail_and_webhook(up_server, ops_inbox):
    """A restore that finds its backup damaged fails (nothing restored, nothing billed): ops hear of it.
    A refused request (an unknown customer, say) is the asker's mistake: it shows as Refused, no alert."""
    backup = up_server.run_button("nightly-backup", {"customer_id": "C001", "snapshot_ledger_too": False})
    assert up_server.wait(backup)["state"]["type"] == "COMPLETED"
    [users] = sorted((up_server.home / "objects" / "backups" / "C001").glob("*/users.jsonl.gz"))
    users.write_bytes(users.read_bytes()[:-10])  # a truncated object: the disk lies
    mails, calls = len(ops_inbox["mails"]), len(ops_inbox["webhook"].calls)
    run_id = up_server.run_button("restore-backup", {"customer_id": "C001", "requested_by": "alice", "ticket": "T-9"})
    assert up_server.wait(run_id)["state"]["type"] == "FAILED"
    [mail] = mails_since(ops_inbox, mails, "restore-backup: run")
    body = mail["message"].get_content()
    assert "failed" in mail["message"]["Subject"] and "corrupted or truncated" in body
    assert re.search(r"ended Failed at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(Europe/Paris\)\.", body), body  # not UTC
    assert f"/runs/flow-run/{run_id}" in body and mail["to"] == ["ops@vendor.example"]
    deadline = time.monotonic() + 60
    while len(ops_inbox["webhook"].calls) == calls and time.monotonic() < deadline:
        time.sleep(1)
    [call] = ops_inbox["webhook"].calls[calls:]          # signed: the receiver checked it
    assert call["subject"] == mail["message"]["Subject"] and run_id in call["body"]
    assert ops_inbox["webhook"].rejected == []

    refused = up_server.run_button("restore-backup", {"customer_id": "NOBODY", "requested_by": "alice",
                                                      "ticket": "T-10"})
    state = up_server.wait(refused)["state"]
    assert (state["type"], state["name"]) == ("FAILED", "Refused") and "unknown customer 'NOBODY'" in state["message"]


def test_a_store_that_cannot_be_written_fails_the_night_at_once_and_the_alert_says_what_where_and_how_many(
        up_server, ops_inbox):
    from tests.support.folders import read_only

    mails = len(ops_inbox["mails"])
    with read_only(up_server.home / "objects") as objects:
        run_id = up_server.run_button("nightly-backup", {"customer_id": "C001", "snapshot_ledger_too": False})
        state = up_server.wait(run_id)["state"]
    said = f"object storage folder {objects} cannot be written ("
    assert state["type"] == "FAILED" and state["message"].startswith(said), state
    assert "1 of 1 customer(s) not backed up on " in state["message"]
    [mail] = mails_since(ops_inbox, mails, "nightly-backup: run")
    body = mail["message"].get_content()
    assert said in body and "1 of 1 customer(s) not backed up" in body and "Traceback" not in body


def test_a_nightly_backup_not_done_by_its_deadline_alerts_ops(up_server, ops_inbox, short_alert_windows):
    # a night when no worker takes the run: its queue is paused, so it goes Late and never completes
    pool = "lifecycle"
    up_server.post(f"/work_pools/{pool}/queues", {"name": "held", "is_paused": True})
    mails = len(ops_inbox["mails"])
    run_id = up_server.run_button("nightly-backup", work_queue_name="held")
    [mail] = mails_since(ops_inbox, mails, "had not completed by 06:00", timeout=180)
    assert run_id in mail["message"].get_content()
    up_server.post(f"/flow_runs/{run_id}/set_state", {"state": {"type": "CANCELLED", "name": "Cancelled"},
                                                      "force": True})


# --- what ops click ------------------------------------------------------------------------------


def test_the_run_button_completes_every_deployment_that_needs_no_parameter(up_server):
    deployments = up_server.deployments()
    needs_nothing = [name for name, d in deployments.items()
                     if not d["parameter_openapi_schema"].get("required")]
    assert set(needs_nothing) == SCHEDULED
    # the daily ones side by side, as the worker takes them; then the close, and the export it feeds
    for batch in (["nightly-backup", "verify-backups", "standby-expiry", "arrears-escalation", "cancellations",
                   "commitments", "e-invoicing", "e-reporting"],
                  ["monthly-close"],
                  ["billable-export"]):
        started = {name: up_server.run_button(name) for name in batch}
        for name, run_id in started.items():
            run = up_server.wait(run_id)
            assert run["state"]["type"] == "COMPLETED", (name, run["state"])


def test_the_workbooks_are_listed_newest_first_and_answer_head(up_server, tmp_path):
    # two workbooks of its own, of months of the demo's history no other test exports: the older month last
    keys = []
    for back in (3, 4):
        month = month_key(add_months(today_paris().replace(day=1), -back))
        done = up_server.lifecycle("run", "export", "--month", month)
        assert done.returncode == 0, done.stderr
        keys.append(done.stdout.split(" in ", 1)[0].strip())
        time.sleep(1.1)  # distinct modification times, whatever the file system's resolution
    base = f"http://127.0.0.1:{up_server.port + 1}"
    page = httpx.get(f"{base}/exports/", timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    links = [part.split('"')[0] for part in page.text.split('href="/')[1:]]
    assert links and all(link.startswith("exports/") for link in links)
    assert links.index(keys[1]) < links.index(keys[0]), (keys, links)  # the one written last comes first
    stamps = [(up_server.home / "objects" / link).stat().st_mtime for link in links]
    assert stamps == sorted(stamps, reverse=True)
    head = httpx.head(f"{base}/{links[0]}", timeout=10)
    assert head.status_code == 200 and int(head.headers["content-length"]) > 0 and head.content == b""
    assert httpx.get(f"{base}/exports/../ledger.db", timeout=10).status_code == 404
    # a copy with --out runs on the worker too: its check of the target before the run loads no Prefect (which
    # would have bound the command to a temporary server of its own)
    copy = up_server.lifecycle("run", "export", "--month", month, "--out", f"{tmp_path}/")
    said = copy.stdout + copy.stderr
    assert copy.returncode == 0 and "on the worker" in said and "temporary server" not in said, said
    assert (tmp_path / keys[1].rsplit("/", 1)[-1]).stat().st_size > 0


def test_show_prints_paris_times_and_one_line_per_audit_entry(up_server):
    table = up_server.lifecycle("show", "audit").stdout.splitlines()
    entries = json.loads(up_server.lifecycle("show", "audit", "--format", "json").stdout)
    assert len(table) == len(entries) + 2  # the header and the count: one line each
    first = datetime.fromisoformat(entries[0]["at"])
    assert first.utcoffset() == timedelta(0)                 # JSON keeps UTC
    assert first.astimezone(PARIS).isoformat(timespec="seconds") in table[1]
    csv_lines = up_server.lifecycle("show", "notices", "--format", "csv").stdout.splitlines()
    notices = json.loads(up_server.lifecycle("show", "notices", "--format", "json").stdout)
    assert notices and datetime.fromisoformat(notices[0]["sent_at"]).astimezone(PARIS).isoformat(
        timespec="seconds") in csv_lines[1]


# --- shards for the workers of the pool ------------------------------------------------------------


def _shard_size(up_server, size: int, field: str = "backup_shard_size") -> None:
    import os
    import subprocess
    import sys

    script = ("from blocks.terms_block import PolicyTerms\n"
              "block = PolicyTerms.load('lifecycle')\n"
              f"block.{field} = {size}\n"
              "block.save('lifecycle', overwrite=True)\n")
    subprocess.run([sys.executable, "-c", script], env={**os.environ, "PREFECT_API_URL": up_server.api}, check=True,
                   timeout=120)


def test_the_nightly_backup_is_spread_over_shard_runs_that_any_worker_takes(up_server):
    yesterday = (today_paris() - timedelta(days=1)).isoformat()
    known = {run["id"] for run in up_server.runs_of("backup-shard")}
    _shard_size(up_server, 20)
    try:
        # a night of its own, apart from the day's other backups: another day than today is forced, with its reason
        parent = up_server.wait(up_server.run_button("nightly-backup", {"as_of": yesterday, "force_reason":
                                                                        "a night of the shards test"}), timeout=600)
    finally:
        _shard_size(up_server, 500)
    assert parent["state"]["type"] == "COMPLETED", parent["state"]
    shard_runs = [run for run in up_server.runs_of("backup-shard") if run["id"] not in known]
    customers = [c for c in json.loads(up_server.lifecycle("show", "customers", "--format", "json").stdout)
                 if c["stage"] != "data_deleted"]
    assert len(shard_runs) == -(-len(customers) // 20) >= 2                 # one run per shard of 20
    assert {run["state"]["type"] for run in shard_runs} == {"COMPLETED"}
    assert all(run["parent_task_run_id"] for run in shard_runs)             # shown under the night's run in the UI
    backups = json.loads(up_server.lifecycle("show", "backups", "--format", "json").stdout)
    stamp = yesterday.replace("-", "")
    nightly = [b for b in backups if b["backup_id"].endswith(f"-{stamp}") and b["kind"] == "tenant"]
    assert sorted(b["customer_id"] for b in nightly) == sorted(c["customer_id"] for c in customers)
    assert {b["status"] for b in nightly} == {"good"}                       # each customer once, all good
    limits = {limit["name"]: limit["limit"] for limit in up_server.post("/v2/concurrency_limits/filter")
              if not limit["name"].startswith("deployment:")}  # those are the deployments' own
    assert limits == {"platform-database": 4, "object-storage": 6, "sandbox": 1}  # from the terms, in the UI


def test_the_restore_drill_is_spread_over_shard_runs_too(up_server):
    known = {run["id"] for run in up_server.runs_of("verify-shard")}
    _shard_size(up_server, 2, "verify_shard_size")
    try:
        parent = up_server.wait(up_server.run_button("verify-backups", {"sample": 6}), timeout=600)
    finally:
        _shard_size(up_server, 25, "verify_shard_size")
    assert parent["state"]["type"] == "COMPLETED", parent["state"]
    shard_runs = [run for run in up_server.runs_of("verify-shard") if run["id"] not in known]
    assert len(shard_runs) == 3 and {run["state"]["type"] for run in shard_runs} == {"COMPLETED"}
    [artifact] = [a for a in up_server.post("/artifacts/filter", {"flow_runs": {"id": {"any_": [parent["id"]]}}})
                  if a["key"] == "verify-backups"]
    assert artifact["data"].count("| verified |") == 6
    verified = [b for b in json.loads(up_server.lifecycle("show", "backups", "--format", "json").stdout)
                if b["verified_at"] and datetime.fromisoformat(b["verified_at"]) >= datetime.fromisoformat(
                    parent["start_time"])]
    assert len(verified) == 6


# --- a lost worker ----------------------------------------------------------------------------------


def _worker_of(up_server) -> int:
    [worker] = [pid for pid in descendants(up_server.process.pid)
                if "worker start" in command_line(pid) and parent_of(pid) == up_server.process.pid]
    return worker


def held_once_running(up_server, deployment: str, known: set, cli) -> tuple[dict, list[int]]:
    """The new run of `deployment` (not in `known`) that `cli` started, caught once it is Running: its process
    is held (SIGSTOP) from the moment it appears, and let go a tenth of a second at a time between looks at its
    state. Its run (as the API gives it) and its held processes."""
    deadline, pids = time.monotonic() + 180, []
    while not pids:
        assert time.monotonic() < deadline and cli.poll() is None, f"the {deployment} run never started"
        fresh = [r for r in up_server.runs_of(deployment) if r["id"] not in known]
        pids = processes_of(fresh[0]["id"]) if fresh else []
        time.sleep(0.05)
    signal_all(pids, signal.SIGSTOP)
    while (run := up_server.get(f"/flow_runs/{fresh[0]['id']}"))["state"]["type"] != "RUNNING":
        assert time.monotonic() < deadline and run["state"]["type"] == "PENDING", run["state"]
        signal_all(pids, signal.SIGCONT)
        time.sleep(0.1)
        pids = _hold_every_process_of(fresh[0]["id"], pids)
    # the process that made it Running existed before that state was read: one more look holds it too
    # (with the warm engine the run is a process forked apart from the command the worker started, and
    # may appear while the command is let go: caught on the first look alone, it ran on unheld)
    return run, _hold_every_process_of(fresh[0]["id"], pids)


def _hold_every_process_of(flow_run_id: str, held: list[int]) -> list[int]:
    pids = sorted({*held, *processes_of(flow_run_id)})
    signal_all(pids, signal.SIGSTOP)
    return pids


def test_a_lost_worker_is_started_again_its_run_crashed_and_the_close_waiting_for_its_slot_runs(up_server):
    """kill -9 of the worker (and of the run it was running: a machine lost) in the middle of a close, while
    another close waits for the deployment's one slot: the server stays up, `up` starts a worker again and
    says so, the lost run is Crashed within a minute and frees its slot, and the waiting close runs."""
    month = last_month()
    known = {run["id"] for run in up_server.runs_of("monthly-close")}
    first = up_server.popen("run", "monthly-close", "--month", month)
    run, _ = held_once_running(up_server, "monthly-close", known, first)

    # a second close waits for the slot the first holds, and its terminal says for what
    second = up_server.popen("run", "monthly-close", "--month", month)
    told: list[str] = []
    threading.Thread(target=lambda: told.extend(second.stderr), daemon=True).start()
    deadline = time.monotonic() + 120
    while not any("waiting for a concurrency slot" in line for line in told):
        assert time.monotonic() < deadline and second.poll() is None, "".join(told)
        time.sleep(1)
    assert (f"waiting for a concurrency slot of monthly-close (at most 1 at once) held by run {run['name']} "
            f"(Running since ") in "".join(told), told

    worker = _worker_of(up_server)
    signal_all([*descendants(worker), worker], signal.SIGSTOP, signal.SIGKILL)
    lost_at = time.monotonic()

    # the server, the scheduler and the webhook stay up; the terminal says the worker was started again
    for _ in range(5):
        assert httpx.get(f"{up_server.api}/health", timeout=5).status_code == 200
        time.sleep(1)
    deadline = time.monotonic() + 60
    while not [line for line in up_server.lines if " lost (" in line]:
        assert time.monotonic() < deadline, "\n".join(up_server.lines[-20:])
        time.sleep(1)
    [said] = [line for line in up_server.lines if " lost (" in line]
    assert said.startswith("worker lifecycle-") and "lost (killed by SIGKILL): restarted" in said, said
    assert f"run {run['name']} (Running since " in said and "marked crashed: its process is gone" in said, said
    assert up_server.process.poll() is None
    assert _worker_of(up_server) != worker

    # the lost run is Crashed within the bound (here at once: `up` saw its worker die)
    crashed = up_server.wait(run["id"], timeout=120)
    assert crashed["state"]["type"] == "CRASHED" and "was lost" in crashed["state"]["message"], crashed["state"]
    assert time.monotonic() - lost_at < 120
    out, err = first.communicate(timeout=60)
    assert first.returncode == 1 and "the worker running it was lost" in err.strip().splitlines()[-1], err

    # the close that waited for its slot gets it and completes, on the new worker
    assert second.wait(timeout=300) == 0, "".join(told)
    assert second.stdout.read().startswith(f"{month} ")


def _a_worker(up_server) -> int | None:
    try:
        return _worker_of(up_server)
    except ValueError:  # none yet (or the old one not yet reaped)
        return None


def test_a_run_outlives_its_worker_and_completes(up_server):
    """kill -9 of the worker alone: the run it started lives on (its process is not the worker's), and its next
    console line meets the pipe the worker read. It must finish its work, not crash between two steps (seen:
    a close crashed by Rich's SystemExit on the broken pipe, its invoices issued and its mails half sent)."""
    known = {run["id"] for run in up_server.runs_of("standby-expiry")}
    started = up_server.popen("run", "standby-expiry")
    run, pids = held_once_running(up_server, "standby-expiry", known, started)

    worker = _worker_of(up_server)
    signal_all([worker], signal.SIGKILL)  # the worker only: the run's process stays, held
    deadline = time.monotonic() + 60
    while _a_worker(up_server) in (None, worker):
        assert time.monotonic() < deadline, "\n".join(up_server.lines[-20:])
        time.sleep(1)
    signal_all(pids, signal.SIGCONT)  # its next line goes to a pipe nobody reads any more

    done = up_server.wait(run["id"], timeout=180)
    assert done["state"]["type"] == "COMPLETED", done["state"]
    assert started.wait(timeout=120) == 0
    said = [line for line in up_server.lines if " lost (" in line]
    assert said and not any(run["name"] in line for line in said), said  # not taken for a lost run


# --- Ctrl-C and a restart --------------------------------------------------------------------------


def test_ctrl_c_stops_everything_and_a_restart_keeps_what_was_there(up_server):
    up_server.wait(up_server.run_button("standby-expiry"))
    # runs that happened (upcoming ones are recreated when `up` applies the deployments again)
    runs_before = {run["id"] for run in up_server.post("/flow_runs/filter", {
        "limit": 200, "flow_runs": {"state": {"type": {"not_any_": ["SCHEDULED"]}}}})}
    deployments_before = set(up_server.deployments())
    automations_before = {a["name"]: a["id"] for a in up_server.post("/automations/filter")}
    assert up_server.stop() == 0
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{up_server.api}/health", timeout=2)
    assert not (up_server.home / "server.json").exists()
    assert unexpected_errors(up_server.server_log()) == []
    assert [line for line in up_server.lines if line.startswith("server error:")] == []  # nor on the terminal

    lines = up_server.start()
    assert not any("saved default block" in line for line in lines)
    kept = up_server.post("/flow_runs/filter", {"flow_runs": {"id": {"any_": sorted(runs_before)}}, "limit": 200})
    assert {run["id"] for run in kept} == runs_before
    assert set(up_server.deployments()) == deployments_before
    # the automations are kept, not made again: a run whose heartbeats stopped while `up` was down is still
    # caught by the lost-run automation's open window
    assert {a["name"]: a["id"] for a in up_server.post("/automations/filter")} == automations_before
    block = up_server.post("/block_documents/filter", {"include_secrets": False})
    notifications = [b for b in block if b["block_type"]["slug"] == "lifecycle-notifications"]
    assert notifications[0]["data"]["ops_email"] == "ops@vendor.example"  # as ops edited it
