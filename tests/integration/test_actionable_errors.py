"""Conditions of the world as a user meets them: one line naming what and where, quickly, and a ledger that
says what was not done; never a traceback (only a bug prints one)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import date

import httpx
import pytest
from sqlalchemy import func, select

from ledger.db import session_scope
from ledger.imports import import_file
from ledger.models import Backup, Export
from lifecycle.cli.run_checks import shown  # a path given back: cut after 40 characters
from lifecycle_config import escaped
from tests.support.builders import CUSTOMER_HEADER, customer, platform, write_csv
from tests.support.cli import lifecycle_in_process, refused_before_any_run
from tests.support.folders import read_only
from tests.support.ports import free_port

pytestmark = pytest.mark.prefect

NIGHT = date(2026, 11, 20)
SECRET = "do-not-print-this-secret"


def lifecycle(*args: str, **env: str) -> subprocess.CompletedProcess:
    """In a process of its own: what these tests judge is also what the run's process prints (Prefect's log lines,
    at the level PREFECT_LOGGING_LEVEL sets for that process, never a traceback)."""
    return subprocess.run([sys.executable, "-m", "lifecycle.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=240)


def here(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Through the CLI's entry point in this process (a process costs 3-4 s of CPU): where what is judged is the
    command's exit code, its line and what it did, and Prefect's own log lines are not."""
    return lifecycle_in_process(*args, env={**os.environ, **env})


def shop(ledger, tmp_path, count: int) -> list[str]:
    ids = [f"C{n:03d}" for n in range(1, count + 1)]
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer(i) for i in ids]), engine=ledger)
    platform(os.environ["LIFECYCLE_PLATFORM_URL"], ids)
    return ids


def runs_of(api: str, flow_name: str) -> list[dict]:
    """The flow runs the server holds of a flow."""
    return httpx.post(f"{api}/flow_runs/filter", json={"flows": {"name": {"any_": [flow_name]}}}).json()


def last_run_message(api: str, flow_name: str) -> str:
    """The failure message of the latest run of a flow: what the failed-run alert quotes (automations.yaml)."""
    runs = httpx.post(f"{api}/flow_runs/filter", json={"flows": {"name": {"any_": [flow_name]}},
                                                       "sort": "EXPECTED_START_TIME_DESC", "limit": 1}).json()
    return runs[0]["state"]["message"]


def test_an_unreachable_object_store_is_one_line_within_seconds_and_the_ledger_says_who_was_not_backed_up(
        prefect_server, home, ledger, tmp_path, monkeypatch):
    ids = shop(ledger, tmp_path, 30)
    port = free_port()  # nothing listens there: the store is down
    for key, value in {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "ops",
                       "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": "us-east-1",
                       "LIFECYCLE_STORAGE_URL": "s3://nightly/lifecycle"}.items():
        monkeypatch.setenv(key, value)
    result = lifecycle("run", "backup", "--as-of", NIGHT.isoformat(), PREFECT_API_URL=prefect_server,
                       LIFECYCLE_TODAY=NIGHT.isoformat())
    said = result.stdout + result.stderr
    assert result.returncode == 1, said
    assert "Traceback" not in said and SECRET not in said, said
    last = result.stderr.strip().splitlines()[-1]
    where = f"object storage s3://nightly/lifecycle at http://127.0.0.1:{port} cannot be reached"
    assert last.startswith(f"lifecycle: {where}") and "30 of 30 customer(s) not backed up on 2026-11-20" in last, last
    assert "no ledger snapshot" in last
    assert last_run_message(prefect_server, "nightly-backup") == last.removeprefix("lifecycle: ")
    with session_scope(ledger) as session:
        backups = session.scalars(select(Backup).where(Backup.kind == "tenant")).all()
        assert sorted(b.customer_id for b in backups) == ids
        assert {(b.status, b.manifest, b.manifest_key) for b in backups} == {("failed", None, None)}
        # no customer waited on its own connection: the night found the store down once, and recorded all 30
        assert all(b.error.startswith(f"not backed up: {where}") for b in backups)


def test_a_store_that_goes_away_mid_night_stops_the_chunk_at_its_first_customer(prefect_server, home, ledger,
                                                                               tmp_path):
    from blocks.platform import PlatformControl
    from blocks.storage import ObjectStorage
    from policy.terms import Terms
    from operations.backup import backup_chunk

    ids = shop(ledger, tmp_path, 20)
    port = free_port()
    storage = ObjectStorage(url="s3://nightly", endpoint_url=f"http://127.0.0.1:{port}", region="us-east-1",
                            access_key_id="ops", secret_access_key=SECRET)
    outcomes = backup_chunk(ids, NIGHT, PlatformControl(), storage, Terms(), flow_run_id=None)
    assert [o.status for o in outcomes] == ["failed"] * 20 and all(o.store_down for o in outcomes), outcomes[:2]
    assert all(f"at http://127.0.0.1:{port} cannot be reached" in o.error for o in outcomes)
    with session_scope(ledger) as session:
        assert session.scalar(select(func.count()).select_from(Backup).where(Backup.status == "failed")) == 20
        assert session.scalar(select(func.count()).select_from(Backup).where(Backup.status != "failed")) == 0
        errors = dict(session.execute(select(Backup.customer_id, Backup.error)).all())
    # only the first customer waited on the store: the 19 after it were recorded at once, never tried
    assert not errors["C001"].startswith("not backed up:"), errors["C001"]
    assert all(errors[customer].startswith("not backed up: object storage") for customer in ids[1:]), errors


def test_a_read_only_storage_folder_is_one_line_naming_it(prefect_server, home, ledger, tmp_path, monkeypatch):
    shop(ledger, tmp_path, 3)
    with read_only(tmp_path / "objects") as folder:
        monkeypatch.setenv("LIFECYCLE_STORAGE_URL", f"file://{folder}")
        result = lifecycle("run", "backup", "--as-of", NIGHT.isoformat(), PREFECT_API_URL=prefect_server,
                           LIFECYCLE_TODAY=NIGHT.isoformat())
        export = lifecycle("run", "export", "--month", "2026-10", PREFECT_API_URL=prefect_server)
    said = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in said, said
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"lifecycle: object storage folder {folder} cannot be written ("), last
    assert "3 of 3 customer(s) not backed up" in last, last
    # the export's task meets it too: its log says the one line, without a traceback
    said = export.stdout + export.stderr
    assert export.returncode == 1 and "Traceback" not in said, said
    assert export.stderr.strip().splitlines()[-1].startswith(f"lifecycle: object storage folder {folder} cannot be "
                                                             f"written ("), said


def run_log(api: str, flow_name: str) -> str:
    """Every line the latest run of a flow logged, as its page in the UI shows them."""
    runs = httpx.post(f"{api}/flow_runs/filter", json={"flows": {"name": {"any_": [flow_name]}},
                                                       "sort": "EXPECTED_START_TIME_DESC", "limit": 1}).json()
    deadline = time.monotonic() + 20
    while True:  # logs are shipped in batches: wait for the run's last word
        logs = httpx.post(f"{api}/logs/filter", json={"logs": {"flow_run_id": {"any_": [runs[0]["id"]]}},
                                                      "sort": "TIMESTAMP_ASC", "limit": 200}).json()
        text = "\n".join(log["message"] for log in logs)
        if "Finished in state" in text or time.monotonic() > deadline:
            return text


def told_in_one_line(result: subprocess.CompletedProcess, api: str | None = None, flow_name: str = "") -> str:
    """The command's last line, once it is clear that neither it nor the run's log holds a traceback (run with
    PREFECT_LOGGING_LEVEL=INFO, a user's default, so that the log holds the run's every line)."""
    said = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in said, said
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("lifecycle: "), said
    if api is not None:  # the run's own log (what ops read in the UI) says it, without a traceback
        log = run_log(api, flow_name)
        assert "Traceback" not in log and last.removeprefix("lifecycle: ") in log, log
    return last.removeprefix("lifecycle: ")


def test_a_mail_server_down_is_one_line_naming_it_in_the_command_and_the_runs_log(prefect_server, home, ledger,
                                                                                  tmp_path):
    """The arrears sweep with SMTP down: the stage and its mails are recorded, and the run says once that the
    mail server does not answer and how many mails wait (not a 4 KB traceback, not one reason per mail)."""
    from blocks.notifications import Notifications

    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("OWE", fee="100.00")]),
                engine=ledger)
    import_file("invoices", write_csv(tmp_path / "i.csv", ["invoice_id", "customer_id", "issued_on", "due_on",
                                                           "amount_ht"], [["F1", "OWE", "2026-01-01", "2026-01-31",
                                                                           "100.00"]]), engine=ledger)
    platform(os.environ["LIFECYCLE_PLATFORM_URL"], ["OWE"])
    port = free_port()  # nothing listens there: the mail server is down
    Notifications(smtp_host="127.0.0.1", smtp_port=port, security="none").save("lifecycle", overwrite=True)
    try:
        result = lifecycle("run", "arrears", "--as-of", "2026-02-28", PREFECT_API_URL=prefect_server,
                           LIFECYCLE_TODAY="2026-03-02", PREFECT_LOGGING_LEVEL="INFO")
    finally:
        Notifications.delete("lifecycle")
    assert told_in_one_line(result, prefect_server, "arrears-escalation") == (
        f"the mail server 127.0.0.1:{port} (notifications block) does not answer (ConnectionRefusedError: [Errno 111] "
        f"Connection refused): 2 notice(s) pending, will be tried again by the next run (notice "
        f"arrears:OWE:admin_disabled:2026-02-28 to OWE, notice invoice:2026-000001:1 to OWE); start it, or correct "
        f"its address")
    with session_scope(ledger) as session:
        from ledger.models import Notice

        assert sorted(session.scalars(select(Notice.status))) == ["pending", "pending"]
        # the first notice's tries found the server down: the other waits untried (a close's 48 notices, each tried
        # with its backoff, took 2 minutes before saying so)
        assert sorted(session.scalars(select(Notice.attempts))) == [0, 1]


@pytest.fixture
def stopped_s3():
    """The endpoint of a moto S3 server that held the bucket and was stopped."""
    import boto3

    from tests.support.servers import s3_server

    with s3_server() as endpoint:
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="ops",
                     aws_secret_access_key=SECRET).create_bucket(Bucket="nightly")
    return endpoint


@pytest.mark.parametrize("store", ["read-only folder", "stopped S3"])
def test_a_store_that_cannot_be_used_stops_the_close_in_one_line_naming_it_and_what_to_do(
        store, prefect_server, home, ledger, tmp_path, monkeypatch, request):
    from tests.support.scenarios import load_october

    load_october(ledger, tmp_path)
    platform(os.environ["LIFECYCLE_PLATFORM_URL"], ["ACME", "BETA", "GAMMA", "DELTA", "EPS"])
    if store == "stopped S3":
        endpoint = request.getfixturevalue("stopped_s3")
        for key, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "ops", "AWS_SECRET_ACCESS_KEY": SECRET,
                           "AWS_DEFAULT_REGION": "us-east-1", "LIFECYCLE_STORAGE_URL": "s3://nightly/lifecycle"}.items():
            monkeypatch.setenv(key, value)
        result = lifecycle("run", "monthly-close", "--month", "2026-10", PREFECT_API_URL=prefect_server,
                           LIFECYCLE_TODAY="2026-11-20", PREFECT_LOGGING_LEVEL="INFO")
        expected = (f"object storage s3://nightly/lifecycle at {endpoint} cannot be reached (connection refused or no "
                    f"route; start it, or correct the storage block's endpoint)")
    else:
        with read_only(tmp_path / "objects") as folder:
            monkeypatch.setenv("LIFECYCLE_STORAGE_URL", f"file://{folder}")
            result = lifecycle("run", "monthly-close", "--month", "2026-10", PREFECT_API_URL=prefect_server,
                               LIFECYCLE_TODAY="2026-11-20", PREFECT_LOGGING_LEVEL="INFO")
        expected = re.compile(rf"object storage folder {re.escape(str(folder))} cannot be written \((Operation not "
                              rf"permitted|Permission denied); let this user write there and free space, or set "
                              rf"another folder in the storage block\)")
    line = told_in_one_line(result, prefect_server, "monthly-close")
    assert line == expected if isinstance(expected, str) else expected.fullmatch(line), line
    assert SECRET not in result.stdout + result.stderr


def test_a_ledger_that_cannot_be_used_is_one_line_naming_it_exit_1(home, ledger, ledger_url, tmp_path):
    """PostgreSQL down (a port nobody listens on), or a SQLite ledger whose folder cannot be written: every
    command says which database, why, and what to correct, in one line; no run starts."""
    if ledger_url.startswith("sqlite"):
        locked = tmp_path / "locked"
        locked.mkdir()
        shutil.copy(ledger_url.removeprefix("sqlite:///"), locked / "ledger.db")
        down_url, shown = f"sqlite:///{locked}/ledger.db", f"sqlite:///{locked}/ledger.db"
        why, remedy = "unable to open database file", "free its disk or let it be written"
    else:
        port = free_port()
        down_url = f"postgresql://postgres:{SECRET}@127.0.0.1:{port}/nothing"
        shown = f"postgresql+psycopg://postgres:***@127.0.0.1:{port}/nothing"
        why = (f'connection failed: connection to server at "127.0.0.1", port {port} failed: Connection refused')
        remedy = "start its server"
        locked = None
    file = write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("NEW")])
    commands = [("show", "customers"), ("import", "customers", str(file)), ("run", "arrears", "--as-of", "2026-02-28")]
    with (read_only(locked) if locked else contextlib.nullcontext()):
        env = {**os.environ, "LIFECYCLE_DATABASE_URL": down_url, "LIFECYCLE_TODAY": "2026-03-02"}
        results = [refused_before_any_run(*command, env=env) if command[0] == "run" else
                   lifecycle_in_process(*command, env=env) for command in commands]
    for command, result in zip(commands, results):
        said = result.stdout + result.stderr
        assert result.returncode == 1 and "Traceback" not in said and SECRET not in said, (command, said)
        assert result.stderr.strip().splitlines() == [
            f"lifecycle: the ledger {escaped(shown)} cannot be used ({why}): {remedy}, or correct "
            f"LIFECYCLE_DATABASE_URL"], said  # the URL given back cut after 40 characters


def test_a_run_whose_ledger_goes_away_fails_in_one_line_without_a_traceback_in_its_log(prefect_server, home, ledger,
                                                                                       monkeypatch):
    """A run already on its way (a worker's, a schedule's) when its ledger cannot be reached: Failed with the one
    line as its message (what the ops alert quotes), and no traceback in its log."""
    from flows.arrears import arrears_escalation
    from lifecycle_config.databases import DatabaseUnavailable

    port = free_port()
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", f"postgresql://postgres@127.0.0.1:{port}/nothing")
    shown = re.escape(escaped(f"postgresql+psycopg://postgres@127.0.0.1:{port}/nothing"))  # cut after 40 characters
    with pytest.raises(DatabaseUnavailable, match=rf"^the ledger {shown} cannot be used \(connection failed: .*\): "
                                                  rf"start its server, or correct LIFECYCLE_DATABASE_URL$") as down:
        arrears_escalation(as_of=date(2026, 2, 28))
    runs = httpx.post(f"{prefect_server}/flow_runs/filter", json={
        "flows": {"name": {"any_": ["arrears-escalation"]}}, "sort": "EXPECTED_START_TIME_DESC", "limit": 1}).json()
    assert runs[0]["state"]["type"] == "FAILED" and runs[0]["state"]["message"] == str(down.value)
    log = run_log(prefect_server, "arrears-escalation")
    # Prefect's task lines give the error as a repr: its quotes escaped when it holds both kinds (the URL given
    # back quoted, psycopg's "127.0.0.1")
    assert str(down.value) in log.replace("\\'", "'") and "Traceback" not in log, log


def test_export_refuses_a_target_already_there_before_any_run(prefect_server, home, ledger, tmp_path):
    from tests.support.scenarios import load_october

    load_october(ledger, tmp_path)
    folder = tmp_path / "finance"
    folder.mkdir()
    (folder / "2026-10_billable-interventions.xlsx").write_bytes(b"finance's own copy")
    runs_before = len(runs_of(prefect_server, "billable-export"))   # the session's server: other tests' runs
    refused = here("run", "export", "--month", "2026-10", "--out", str(folder), PREFECT_API_URL=prefect_server)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.strip().splitlines() == [
        f"lifecycle: --out {shown(folder)}: 2026-10_billable-interventions.xlsx is already there, and this export may be "
        f"written under that name; add --force to overwrite it, or give another folder"]
    assert len(runs_of(prefect_server, "billable-export")) == runs_before   # refused before any run was made
    with session_scope(ledger) as session:  # no export was written anywhere
        assert session.scalar(select(func.count()).select_from(Export)) == 0
    assert (folder / "2026-10_billable-interventions.xlsx").read_bytes() == b"finance's own copy"

    with read_only(tmp_path / "locked") as locked:
        refused = here("run", "export", "--month", "2026-10", "--out", f"{locked}/", PREFECT_API_URL=prefect_server)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.startswith(f"lifecycle: --out {shown(locked)}: cannot write there ("), refused.stderr
    with session_scope(ledger) as session:
        assert session.scalar(select(func.count()).select_from(Export)) == 0

    forced = here("run", "export", "--month", "2026-10", "--out", str(folder), "--force",
                       PREFECT_API_URL=prefect_server)
    assert forced.returncode == 0, forced.stderr
    assert (folder / "2026-10_billable-interventions.xlsx").read_bytes()[:2] == b"PK"


def test_a_restore_says_where_it_went_in_words(prefect_server, home, ledger, tmp_path, monkeypatch):
    from flows.backup import nightly_backup

    shop(ledger, tmp_path, 1)
    monkeypatch.setenv("LIFECYCLE_TODAY", NIGHT.isoformat())  # a backup is taken on the day its id names
    nightly_backup(as_of=NIGHT, snapshot_ledger_too=False)
    said = {}
    for target in ("sandbox", "in_place"):
        result = here("run", "restore", "--customer", "C001", "--backup", "C001-20261120", "--target", target,
                           "--requested-by", "alice", "--ticket", "T-7", PREFECT_API_URL=prefect_server)
        assert result.returncode == 0, result.stderr
        said[target] = result.stdout.splitlines()[0]
    assert said["sandbox"].startswith("restored C001-20261120 into the sandbox: ")
    assert said["in_place"].startswith("restored C001-20261120 in place: ")
    assert "in_place" not in said["in_place"]
    from ledger.models import Intervention

    with session_scope(ledger) as session:
        descriptions = sorted(i.description for i in session.scalars(select(Intervention)))
    assert descriptions[0].startswith("Restore of backup C001-20261120 in place (")
    assert descriptions[1].startswith("Restore of backup C001-20261120 into the sandbox (")


def test_the_probe_tells_a_store_that_answers_from_one_that_cannot_be_used():
    import boto3

    from blocks.storage import ObjectStorage, StoreUnavailable
    from tests.support.servers import s3_server

    with s3_server() as endpoint:
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="t",
                     aws_secret_access_key="t").create_bucket(Bucket="nightly")
        keys = {"endpoint_url": endpoint, "region": "us-east-1", "access_key_id": "t", "secret_access_key": SECRET}
        ObjectStorage(url="s3://nightly/lifecycle", **keys).store().probe()  # answers: nothing raised
        with pytest.raises(StoreUnavailable, match=r"s3://elsewhere at http://127\.0\.0\.1:\d+: the bucket does not "):
            ObjectStorage(url="s3://elsewhere", **keys).store().probe()
    with pytest.raises(StoreUnavailable, match="cannot be reached") as down:  # the same server, stopped
        ObjectStorage(url="s3://nightly/lifecycle", **keys).store().probe()
    assert SECRET not in str(down.value)


@pytest.mark.parametrize("field, value, said, stored", [
    ("timeout_seconds", -1.0, "Input should be greater than or equal to 0.1", None),
    # JSON has no NaN nor infinity: the server keeps null, refused as no number
    ("timeout_seconds", float("nan"), "Input should be a finite number", "Input should be a valid number (given None)"),
    ("timeout_seconds", float("inf"), "Input should be a finite number", "Input should be a valid number (given None)"),
    ("retries", 10 ** 6, "Input should be less than or equal to 10", None),
])
def test_a_block_saved_out_of_its_bounds_stops_a_run_in_one_line_naming_the_field(prefect_server, home, ledger,
                                                                                  field, value, said, stored):
    """A PlatformControl document with a timeout of -1, NaN or infinity, or a million retries (written through
    the API, around the UI's form) raised ValueError or OverflowError when a flag was applied; it was also taken
    for "no document" and its defaults used silently. It is refused when loaded, in one line naming the field."""
    from blocks.platform import PlatformControl
    from blocks.settings import BlockInvalid, load_settings

    block = PlatformControl()
    object.__setattr__(block, field, value)  # as a document written through the API, not the form
    block.save("lifecycle", overwrite=True)
    try:
        with pytest.raises(BlockInvalid) as refused:
            load_settings()
    finally:
        PlatformControl.delete("lifecycle")
    takes = {"timeout_seconds": "from 0.1 to 300", "retries": "from 0 to 10"}[field]
    given = stored.removesuffix(")") if stored else f"{said} (given {value!r}"
    assert str(refused.value) == (f"the platform-control block 'lifecycle': {field}: {given}; it takes {takes}): "
                                  f"correct it in the UI (Blocks)")
    with pytest.raises(ValueError, match=said):  # and the block itself, built with such a value
        PlatformControl(**{field: value})


def test_terms_whose_earliest_date_lies_after_today_are_refused_naming_the_field_and_never_kept(
        prefect_server, home, ledger, monkeypatch):
    """A policy-terms block with earliest_date a day after today refused every date of the past, blaming each
    (`as_of ... is before 2027-06-01`), and the refused run recorded it as the terms of the latest run: imports
    and `show terms` used it until another run completed. It is refused when loaded, naming the block's field,
    and the ledger keeps the terms it had; the block corrected, the next run's terms are the ones kept."""
    from datetime import date

    from blocks.settings import BlockInvalid
    from blocks.terms_block import PolicyTerms
    from ledger.db import session_scope
    from ledger.terms_copies import latest_copy, latest_terms
    from tasks.settings import load_run_settings

    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-12-06")
    PolicyTerms(earliest_date=date(2027, 6, 1)).save("lifecycle", overwrite=True)
    try:
        with pytest.raises(BlockInvalid) as refused:
            load_run_settings.fn("arrears-escalation")
        assert str(refused.value) == ("the policy-terms block 'lifecycle': earliest_date: 2027-06-01 lies after today "
                                      "(2026-12-06): no date of the past would fit the window; set a day before it "
                                      "(default 2000-01-01): correct it in the UI (Blocks)")
        with session_scope(ledger) as session:
            assert latest_copy(session) is None and latest_terms(session).earliest_date == date(2000, 1, 1)
        PolicyTerms(earliest_date=date(2026, 1, 1)).save("lifecycle", overwrite=True)
        assert load_run_settings.fn("arrears-escalation").terms.earliest_date == date(2026, 1, 1)
        with session_scope(ledger) as session:
            assert latest_terms(session).earliest_date == date(2026, 1, 1)
    finally:
        PolicyTerms.delete("lifecycle")
