"""Two installations side by side: one never acts on the other's data.

home1 is the session's `lifecycle up --demo`; home2 is a second LIFECYCLE_HOME with its own ledger (and the
same demo customer ids, as two vendors' numbering may well coincide). home2's commands pointed at home1's
server refuse in one line; a run carrying home2's identity on home1's server is refused by home1's worker
before it touches anything; home1's ledger, outbox, objects and platform are unchanged afterwards.
"""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lifecycle_config.installation import TAG_PREFIX, tag
from policy.calendar import add_months, month_key, today_paris
from tests.support.cli import lifecycle_in_process
from tests.support.up import clean_env

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group("lifecycle-up")]


def lifecycle(home: Path, *args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    """`demo` and `db` (the ledger alone) through the CLI's entry point in this process (tests/support/cli.py), and
    `run` and `import`, which these tests see refused by the server's installation before any flow runs (3-4 s of
    CPU less each, in test_up's group, the suite's longest); the rest, which would serve (a worker, a webhook, a
    deployment) had it not been refused, in a process of its own as a user's shell starts it."""
    if args[0] in ("demo", "db", "run", "import"):
        return lifecycle_in_process(*args, env=clean_env(home, **env))
    return subprocess.run([sys.executable, "-m", "lifecycle.cli", *args], env=clean_env(home, **env),
                          capture_output=True, text=True, timeout=timeout)


def installation_of(home: Path) -> str:
    with sqlite3.connect(home / "ledger.db") as ledger:
        return ledger.execute("SELECT id FROM installation").fetchone()[0]


def files_of(folder: Path) -> dict[str, str]:
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def state_of(home: Path) -> dict:
    """What a user of home1 would look at: every table of its ledger (row counts, the audit trail's last
    entry, the invoices), its outbox, its objects and the platform's tenants."""
    with sqlite3.connect(home / "ledger.db") as ledger:
        tables = [name for (name,) in ledger.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        counts = {name: ledger.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in tables}
        last_audit = ledger.execute("SELECT max(id) FROM audit_log").fetchone()[0]
        invoices = ledger.execute("SELECT number, customer_id, status FROM invoices ORDER BY number").fetchall()
    with sqlite3.connect(home / "platform.db") as platform:
        tenants = platform.execute("SELECT * FROM tenants ORDER BY tenant_id").fetchall()
    return {"counts": counts, "last_audit": last_audit, "invoices": invoices, "outbox": files_of(home / "outbox"),
            "objects": files_of(home / "objects"), "tenants": tenants}


@pytest.fixture(scope="module")
def home2(tmp_path_factory) -> Path:
    """A second installation on this machine: its own ledger (its own identity) and demo data, no server."""
    home = tmp_path_factory.mktemp("home2") / "home"
    created = lifecycle(home, "demo")
    assert created.returncode == 0, created.stderr
    return home


def test_every_installation_has_its_own_identity_and_its_server_says_which(up_server, home2):
    home1_id, home2_id = installation_of(up_server.home), installation_of(home2)
    assert home1_id != home2_id
    assert lifecycle(home2, "db", "upgrade").returncode == 0 and installation_of(home2) == home2_id  # kept
    assert up_server.get("/variables/name/lifecycle_installation")["value"] == home1_id
    for name, deployment in up_server.deployments().items():
        assert [value for value in deployment["tags"] if value.startswith(TAG_PREFIX)] == [tag(home1_id)], name


def test_a_command_of_one_installation_refuses_the_server_of_another(up_server, home2):
    home1_id, home2_id = installation_of(up_server.home), installation_of(home2)
    before = state_of(up_server.home)
    month = month_key(add_months(today_paris().replace(day=1), -1))
    for command in (["run", "monthly-close", "--month", month], ["run", "arrears"], ["worker"],
                    ["helpdesk-webhook", "--port", "1"], ["deploy"]):
        refused = lifecycle(home2, *command, timeout=120, PREFECT_API_URL=up_server.api)
        assert refused.returncode == 2, (command, refused.stderr)
        [line] = refused.stderr.strip().splitlines()
        assert line.startswith(f"lifecycle: the Prefect server at '{up_server.api}' serves installation {home1_id}, "
                               f"not this ledger's {home2_id}"), line
        assert "point PREFECT_API_URL at this installation's own server" in line
    assert state_of(up_server.home) == before
    # home1's own commands still go to its worker
    assert "on the worker" in up_server.lifecycle("run", "standby-expiry").stderr


def test_a_credit_notes_import_pointed_at_another_installations_server_writes_nothing(up_server, home2, tmp_path):
    """The import sends its notes through a run: the server is checked before the note is numbered, so the
    refusal's "nothing was done" is true (no note left numbered, unsent, in home2)."""
    with sqlite3.connect(home2 / "ledger.db") as ledger:
        invoice, issued_on = ledger.execute("SELECT external_id, issued_on FROM invoices WHERE external_id IS NOT NULL "
                                            "AND total_ttc > 10 ORDER BY issued_on DESC LIMIT 1").fetchone()
        before = ledger.execute("SELECT count(*) FROM invoices").fetchone()[0]
    notes = tmp_path / "cn.csv"
    notes.write_text(f"credit_note_id,invoice_number,amount_ttc,reason,issued_on\nX-CN-1,{invoice},10.00,Cross,"
                     f"{today_paris()}\n")
    refused = lifecycle(home2, "import", "credit-notes", str(notes), timeout=120, PREFECT_API_URL=up_server.api)
    assert refused.returncode == 2, refused.stderr
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith(f"lifecycle: the Prefect server at '{up_server.api}' serves installation ") and \
        "nothing was done" in line, line
    with sqlite3.connect(home2 / "ledger.db") as ledger:
        assert ledger.execute("SELECT count(*) FROM invoices").fetchone()[0] == before


def test_a_run_carrying_another_installations_identity_is_refused_by_the_worker(up_server, home2):
    home1_id, home2_id = installation_of(up_server.home), installation_of(home2)
    month = month_key(add_months(today_paris().replace(day=1), -1))
    before = state_of(up_server.home)
    # as home2's CLI would have dispatched it: its own identity on the run, home1's from the deployment
    run_id = up_server.run_button("monthly-close", {"month": month, "approve": "auto"}, tags=[tag(home2_id)])
    run = up_server.wait(run_id)
    assert run["state"]["type"] == "FAILED" and run["state"]["name"] == "Refused", run["state"]
    message = run["state"]["message"]
    assert "\n" not in message and home2_id in message and home1_id in message and "nothing was done" in message
    assert state_of(up_server.home) == before


def test_a_deletion_started_by_another_installations_run_is_refused_by_the_worker(up_server, home2):
    """home2's sweep in process, pointed at home1's server, starts a data deletion with `run_deployment` (the
    way the arrears sweep does): home1's worker refuses it, and home1's customer keeps its data."""
    home2_id = installation_of(home2)
    before = state_of(up_server.home)
    known = {run["id"] for run in up_server.runs_of("data-deletion")}
    script = textwrap.dedent("""
        from flows.arrears import _request_deletion
        from policy.calendar import today_paris
        print(_request_deletion("C004", today_paris()))
    """)
    started = subprocess.run([sys.executable, "-c", script], env=clean_env(home2, PREFECT_API_URL=up_server.api),
                             capture_output=True, text=True, timeout=120)
    assert started.returncode == 0 and "awaiting approval in http" in started.stdout, started.stderr
    [run_id] = [run["id"] for run in up_server.runs_of("data-deletion") if run["id"] not in known]
    run = up_server.wait(run_id)
    assert run["state"]["name"] == "Refused" and home2_id in run["state"]["message"], run["state"]
    assert set(run["tags"]) >= {tag(home2_id), tag(installation_of(up_server.home))}
    assert state_of(up_server.home) == before


# --- a copy of home1 (`cp -r` while its server runs): the same identity, another ledger ------------------------

def ledger_at(home: Path) -> str:
    return f"sqlite:///{(home / 'ledger.db').resolve()}"


@pytest.fixture(scope="module")
def copied_home(up_server, tmp_path_factory) -> Path:
    """home1 copied as a rehearsal or staging copy would be: its ledger (so its installation id), its
    server.json, its Prefect folder, its outbox."""
    import shutil

    home = tmp_path_factory.mktemp("copy") / "home"
    shutil.copytree(up_server.home, home, ignore=shutil.ignore_patterns("*.sock"), symlinks=True)
    return home


def test_home1s_server_records_where_the_ledger_its_worker_serves_is(up_server):
    served = up_server.get("/variables/name/lifecycle_served")["value"]
    assert served["installation"] == installation_of(up_server.home)
    assert served["ledger"] == ledger_at(up_server.home)
    assert served["config"]["LIFECYCLE_HOME"] == str(up_server.home.resolve())
    for name, deployment in up_server.deployments().items():
        assert f"lifecycle-ledger:{ledger_at(up_server.home)}" in deployment["tags"], name


@pytest.mark.parametrize("extra", [{}, {"LIFECYCLE_TODAY": "2026-12-07"}], ids=["same-settings", "another-today"])
def test_a_copied_home_pointed_at_the_originals_server_is_refused_in_one_line(up_server, copied_home, extra):
    assert installation_of(copied_home) == installation_of(up_server.home)  # a copy: its identity alone cannot tell
    month = month_key(add_months(today_paris().replace(day=1), -1))
    before, copy_before = state_of(up_server.home), state_of(copied_home)
    for command in (["run", "monthly-close", "--month", month], ["run", "standby-expiry"], ["worker"]):
        refused = lifecycle(copied_home, *command, timeout=120, PREFECT_API_URL=up_server.api, **extra)
        assert refused.returncode == 2, (command, refused.stderr)
        [line] = refused.stderr.strip().splitlines()
        assert line.startswith(f"lifecycle: the Prefect server at '{up_server.api}' serves the ledger at "
                               f"{ledger_at(up_server.home)}, not this command's at {ledger_at(copied_home)}"), line
        assert "nothing was done" in line and "on the worker" not in refused.stderr
    assert state_of(up_server.home) == before and state_of(copied_home) == copy_before


def test_a_copied_homes_server_json_does_not_lead_it_to_the_originals_server(up_server, copied_home):
    assert (copied_home / "server.json").exists()  # copied along, naming home1's running server
    without_server = lifecycle(copied_home, "worker", timeout=120)
    assert without_server.returncode == 1, without_server.stderr
    assert "no Prefect server to work for" in without_server.stderr


def test_a_run_meant_for_a_copy_is_refused_by_the_originals_worker(up_server, copied_home):
    """As a copy's CLI of an older release would dispatch it: the same identity, the copy's ledger location."""
    month = month_key(add_months(today_paris().replace(day=1), -1))
    before = state_of(up_server.home)
    run_id = up_server.run_button("monthly-close", {"month": month, "approve": "auto"},
                                  tags=[tag(installation_of(copied_home)), f"lifecycle-ledger:{ledger_at(copied_home)}"])
    run = up_server.wait(run_id)
    assert run["state"]["type"] == "FAILED" and run["state"]["name"] == "Refused", run["state"]
    message = run["state"]["message"]
    assert "\n" not in message and ledger_at(copied_home) in message and ledger_at(up_server.home) in message
    assert "nothing was done" in message
    assert state_of(up_server.home) == before


def test_db_adopt_never_records_another_installations_server(up_server, home2):
    """Probe 19a (Low): `db adopt` with PREFECT_API_URL naming another installation's server recorded that
    server in the ledger's claim, so that installation's machines counted as clients of this ledger. Refused in
    one line as every command refuses that server; the claim stays as it was."""
    from sqlalchemy import text

    from lifecycle_config.databases import engine_for

    home1_id, home2_id = installation_of(up_server.home), installation_of(home2)
    ledger = engine_for(f"sqlite:///{home2 / 'ledger.db'}")
    with ledger.connect() as connection:
        before = connection.execute(text("SELECT * FROM ledger_claim")).fetchall()
    ledger.dispose()
    refused = lifecycle(home2, "db", "adopt", PREFECT_API_URL=up_server.api)
    assert refused.returncode == 2, refused.stderr
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith(f"lifecycle: the Prefect server at '{up_server.api}' serves installation {home1_id}, "
                           f"not this ledger's {home2_id}"), line
    with ledger.connect() as connection:
        assert connection.execute(text("SELECT * FROM ledger_claim")).fetchall() == before
    ledger.dispose()
