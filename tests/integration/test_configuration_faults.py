"""Configuration and the environment as a user meets them: a setting that cannot be used, a server that does
not answer, a ledger another process holds, a home copied with its server.json. One line each, naming the
variable, option or URL and what to do; exit 2 for the user's mistake, 1 for the world's; never a traceback,
never an exception's class name."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from lifecycle_config import escaped
from tests.support import cli
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv
from tests.support.ports import free_port

DATABASE_FORMS = "sqlite:///path/to/file.db or postgresql+psycopg://user@host/database (postgresql:// also)"


def lifecycle(*args: str, env: dict[str, str], timeout: float = 240,
              cwd: Path | None = None) -> subprocess.CompletedProcess:
    """A ledger's command through the CLI's entry point in this process, a command that reaches Prefect in a
    process of its own (tests/support/cli.py): a new process costs 3-4 s of CPU."""
    return cli.lifecycle(*args, env=env, timeout=timeout, cwd=cwd)


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """A shell with no LIFECYCLE_* or PREFECT_API_URL of the test's own, this home, and `extra`."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("LIFECYCLE_") and name != "PREFECT_API_URL"}
    return {**env, "LIFECYCLE_HOME": str(home), **extra}


def said(result: subprocess.CompletedProcess) -> str:
    """The one line a failed command says; a second line, a traceback or a class name fails the test."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output and "Error:" not in output and "this is a bug" not in output, output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, output
    return lines[0]


# --- 5. a path from the environment holding a control or invisible character ----------------------------------

@pytest.mark.parametrize("variable, value, shown", [
    ("LIFECYCLE_HOME", "{tmp}/x/\x1b]0;pwned\x07", "'{tmp}/x/\\x1b]0;pwned\\x07'"),
    ("LIFECYCLE_HOME", "{tmp}/h\x1b[31m", "'{tmp}/h\\x1b[31m'"),
    ("LIFECYCLE_HOME", "{tmp}/zero\u200bwidth", "'{tmp}/zero\\u200bwidth'"),
    ("LIFECYCLE_CREDENTIALS_KEY_FILE", "{tmp}/keys/\u202ecredentials.key", "'{tmp}/keys/\\u202ecredentials.key'"),
    ("LIFECYCLE_DATABASE_URL", "sqlite:///{tmp}/ledger\x07.db", "'sqlite:///{tmp}/ledger\\x07.db'"),
], ids=["home-osc-title", "home-sgr", "home-zero-width", "key-file-bidi", "database-bel"])
def test_a_path_from_the_environment_holding_a_control_character_is_refused_escaped(tmp_path, variable, value,
                                                                                      shown):
    # paths relative to the folder the command runs in: a few characters, given back whole (escaped); a long one
    # is cut after 40 characters (tests/unit/test_long_values.py)
    value, shown = value.format(tmp="."), shown.format(tmp=".")
    character = next(char for char in value if char in "\x1b\x07\u200b\u202e")
    env = clean_env(tmp_path / "home", **{variable: value})
    for command in (["show", "customers"], ["import", "customers", str(tmp_path / "c.csv")], ["db", "upgrade"]):
        result = lifecycle(*command, env=env, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert said(result) == (f"lifecycle: {variable}={shown} holds the control or invisible character "
                                f"U+{ord(character):04X}: set it to a path without it (or unset it)")
        assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == []  # no folder, no ledger made


def test_a_lifecycle_home_that_is_a_file_is_named_as_such(tmp_path):
    """It said "the ledger ... cannot be used (its folder ... cannot be made: File exists): ... correct
    LIFECYCLE_DATABASE_URL", exit 1: a variable never set, and the world blamed for a typo."""
    (tmp_path / "afile").write_text("not a folder")
    env = clean_env(tmp_path / "home", LIFECYCLE_HOME=str(tmp_path / "afile"))
    for command in (["show", "customers"], ["demo", "--customers", "3"]):
        result = lifecycle(*command, env=env)
        home = escaped(str(tmp_path / "afile"))
        assert (result.returncode, said(result)) == (2, f"lifecycle: LIFECYCLE_HOME={home} is a file, not a folder: "
                                                        f"set it to a folder (made when missing)")


# --- 2. a database or storage URL of a kind the product does not drive ----------------------------------------

@pytest.mark.parametrize("variable, value, problem", [
    ("LIFECYCLE_DATABASE_URL", "mysql://x/y", f"names the driver 'mysql', which this product does not drive: "
                                              f"write {DATABASE_FORMS}"),
    ("LIFECYCLE_DATABASE_URL", "garbage", f"is not a database URL: write {DATABASE_FORMS}"),
    ("LIFECYCLE_DATABASE_URL", "postgresql://ops:s3cret@db:port/ledger", f"is not a database URL: write {DATABASE_FORMS}"),
    ("LIFECYCLE_DATABASE_URL", "sqlite://", f"names no SQLite file: write {DATABASE_FORMS}"),
    ("LIFECYCLE_PLATFORM_URL", "mysql://ops:s3cret@x/y", f"names the driver 'mysql', which this product does not "
                                                         f"drive: write {DATABASE_FORMS}"),
    ("LIFECYCLE_PLATFORM_URL", "garbage", f"is not a database URL: write {DATABASE_FORMS}"),
    ("LIFECYCLE_SANDBOX_URL", "oracle://x/y", f"names the driver 'oracle', which this product does not drive: "
                                              f"write {DATABASE_FORMS}"),
    ("LIFECYCLE_STORAGE_URL", "garbage", "is not a storage URL: write file:///absolute/path or s3://bucket/prefix"),
    ("LIFECYCLE_STORAGE_URL", "ftp://x/y", "is not a storage URL: write file:///absolute/path or s3://bucket/prefix"),
])
def test_a_database_or_storage_url_that_cannot_be_used_is_refused_naming_its_variable(tmp_path, variable, value,
                                                                                      problem):
    env = clean_env(tmp_path / "home", **{variable: value})
    shown = value.replace(":s3cret@", ":***@")
    for command in (["show", "customers"], ["demo"], ["run", "standby-expiry"]):
        result = lifecycle(*command, env=env)
        assert result.returncode == 2, result.stderr
        assert said(result) == f"lifecycle: {variable}='{shown}' {problem}"
        assert "s3cret" not in result.stderr


# --- 2. `lifecycle up --host` that is not an address of this machine -----------------------------------------

@pytest.mark.parametrize("host, line", [
    ("no such host", "--host 'no such host' is not an address of this machine: give one of its addresses "
                     "(127.0.0.1, the default; 0.0.0.0 for all of them)"),
    ("999.1.1.1", "--host '999.1.1.1' is not an address of this machine: give one of its addresses "
                  "(127.0.0.1, the default; 0.0.0.0 for all of them)"),
    ("192.0.2.1", "--host '192.0.2.1' is not an address of this machine: give one of its addresses "
                  "(127.0.0.1, the default; 0.0.0.0 for all of them)"),  # TEST-NET-1: no machine holds it
    ("", "--host is empty: give an address of this machine (127.0.0.1, the default; 0.0.0.0 for all of them)"),
])
def test_up_refuses_a_host_that_is_not_an_address_of_this_machine(tmp_path, host, line):
    result = lifecycle("up", "--host", host, "--port", str(free_port()), env=clean_env(tmp_path / "home"),
                       timeout=60)
    assert result.returncode == 2, result.stderr
    assert said(result) == f"lifecycle: {line}"
    assert not (tmp_path / "home" / "prefect").exists()  # nothing started


# --- 3. a Prefect server that does not answer ----------------------------------------------------------------

def test_a_prefect_server_that_does_not_answer_is_named_at_once(home, ledger, tmp_path):
    api = f"http://127.0.0.1:{free_port()}/api"  # nothing listens there
    env = {**os.environ, "PREFECT_API_URL": api, "LIFECYCLE_TODAY": "2026-11-20"}
    down = (f"lifecycle: the Prefect server at '{api}' (PREFECT_API_URL) does not answer: start it, or correct "
            f"PREFECT_API_URL (unset, a command uses the server of `lifecycle up` for this LIFECYCLE_HOME, or a "
            f"temporary one)")
    for command in (["run", "standby-expiry"], ["run", "export", "--month", "2026-10"], ["worker"],
                    ["helpdesk-webhook", "--port", str(free_port())]):
        # a `run` in this process: it stops before any flow, on the server that does not answer (a process of
        # its own for the others: they would serve); one that waited for it would time out, or say so first
        result = (cli.lifecycle_in_process(*command, env=env) if command[0] == "run" else
                  lifecycle(*command, env=env, timeout=120))
        assert result.returncode == 1, (command, result.stderr)
        assert said(result) == down, command   # its one line, and no "waiting for" line before it


def test_deploy_says_at_once_that_it_waits_for_a_server_that_does_not_answer(home, ledger):
    api = f"http://127.0.0.1:{free_port()}/api"
    process = subprocess.Popen([sys.executable, "-m", "lifecycle.cli", "deploy"], stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PREFECT_API_URL": api})
    try:
        first = process.stderr.readline()   # the first thing it says is that it waits (not, later, that it gave up)
        assert first.rstrip("\n") == (f"waiting for the Prefect server at '{api}' (PREFECT_API_URL) to answer (up to 2 "
                                      f"minutes: one started a moment ago takes its time)")
    finally:
        process.kill()
        process.wait()


# --- 4. the ledger held by another process ----------------------------------------------------------------------

def test_a_ledger_another_process_holds_is_said_busy_in_one_line(tmp_path):
    """SQLite's own lock (PostgreSQL queues a writer behind another's row locks instead: no time-out to meet)."""
    home = tmp_path / "home"
    env = clean_env(home)
    assert lifecycle("db", "upgrade", env=env).returncode == 0
    rows = write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME")])
    holder = sqlite3.connect(home / "ledger.db", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        result = lifecycle("import", "customers", str(rows), env=env, timeout=120)
    finally:
        holder.close()
    assert result.returncode == 1, result.stderr
    ledger_url = escaped(f"sqlite:///{home.resolve() / 'ledger.db'}")  # given back cut after 40 characters
    assert said(result) == (f"lifecycle: the ledger {ledger_url} is busy: another lifecycle command or run holds it "
                            f"(waited 30 s): try again once it has finished")
    assert lifecycle("show", "customers", env=env).stdout.strip() == "no customers"  # nothing was imported


# --- 2. `db restore-snapshot --to` ---------------------------------------------------------------------------

@pytest.mark.parametrize("target, line", [
    ("garbage", f"--to 'garbage' is not a database URL: write {DATABASE_FORMS}"),
    ("mysql://x/y", f"--to 'mysql://x/y' names the driver 'mysql', which this product does not drive: write "
                    f"{DATABASE_FORMS}"),
    ("sqlite://", f"--to 'sqlite://' names no SQLite file: write {DATABASE_FORMS}"),
])
def test_restore_snapshot_refuses_a_target_url_that_is_not_a_database(home, ledger, target, line):
    result = lifecycle("db", "restore-snapshot", "LEDGER-20261120", "--to", target, env=dict(os.environ))
    assert result.returncode == 2, result.stderr
    assert said(result) == f"lifecycle: {line}"


#: a SQLite file on a disk that is full: a 64 KiB tmpfs mounted in a mount namespace of the command's own
#: (`unshare --mount`), so the mount ends with the command, whatever happens, and no other process sees it. Not
#: /dev/full (a device: now refused as a path that is no database file, exit 2), not `ulimit -f` (SQLite says
#: "disk I/O error" for EFBIG, not a full disk), not a loop device (a file and a device to clean up after a
#: crash). It needs root (CAP_SYS_ADMIN), which CI has; elsewhere the test says it is skipped and why.
ON_A_FULL_DISK = ("unshare", "--mount", "sh", "-c", 'mount -t tmpfs -o size=64k tmpfs "$0" && exec "$@"')


def test_restore_snapshot_into_a_full_disk_is_the_worlds_in_one_line(prefect_server, home, ledger, tmp_path,
                                                                     monkeypatch):
    from datetime import date

    from flows.backup import nightly_backup
    from ledger.imports import import_file
    from tests.support.builders import platform

    disk = tmp_path / "small-disk"
    disk.mkdir()
    tried = subprocess.run([*ON_A_FULL_DISK, str(disk), "true"], capture_output=True, text=True)
    if tried.returncode != 0:
        pytest.skip(f"a tmpfs cannot be mounted here (root is needed): {tried.stderr.strip()}")
    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-11-20")
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME")]), engine=ledger)
    platform(os.environ["LIFECYCLE_PLATFORM_URL"], ["ACME"])
    snapshot_id = nightly_backup(as_of=date(2026, 11, 20))["ledger_snapshot"].split(":")[0]
    target = f"sqlite:///{disk / 'restored.db'}"
    result = subprocess.run([*ON_A_FULL_DISK, str(disk), sys.executable, "-m", "lifecycle.cli", "db",
                             "restore-snapshot", snapshot_id, "--to", target], capture_output=True, text=True,
                            env=dict(os.environ), timeout=240)
    assert result.returncode == 1, result.stderr
    assert said(result) == (f"lifecycle: the database {escaped(target)} cannot be used (database or disk is full): "
                            f"free its disk or let it be written, or correct its URL")
    assert list(disk.iterdir()) == []  # the small disk was the command's own: nothing of it is left here


def test_restore_snapshot_into_a_relative_sqlite_path_says_the_absolute_path_it_wrote(prefect_server, home, ledger,
                                                                                     tmp_path, monkeypatch):
    """`--to sqlite:///restored.db` is a file in the folder the command runs in: the success line said
    `into sqlite:///restored.db`, which names no file once the reader is elsewhere."""
    from datetime import date

    from flows.backup import nightly_backup
    from ledger.imports import import_file
    from tests.support.builders import platform

    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-11-20")
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME")]), engine=ledger)
    platform(os.environ["LIFECYCLE_PLATFORM_URL"], ["ACME"])
    snapshot_id = nightly_backup(as_of=date(2026, 11, 20))["ledger_snapshot"].split(":")[0]
    here = tmp_path / "here"
    here.mkdir()
    result = lifecycle("db", "restore-snapshot", snapshot_id, "--to", "sqlite:///restored.db", env=dict(os.environ),
                       cwd=here)
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert line.startswith("restored ") and line.endswith(f" tables into sqlite:///{here / 'restored.db'}"), line
    with sqlite3.connect(here / "restored.db") as restored:
        assert restored.execute("SELECT customer_id FROM customers").fetchall() == [("ACME",)]


@pytest.mark.parametrize("kind", ["fifo", "folder", "device", "text file", "under a file"])
def test_restore_snapshot_into_a_path_that_is_no_database_file_is_refused_before_anything(home, ledger, tmp_path,
                                                                                          kind):
    """A FIFO, a folder or a device was told as a full disk or a disk I/O error, exit 1: the path is the user's
    to correct, exit 2, and nothing is read or written (the snapshot need not even exist)."""
    paths = {"fifo": tmp_path / "fifo", "folder": tmp_path, "device": Path("/dev/null"),
             "text file": tmp_path / "notes.txt", "under a file": tmp_path / "notes.txt" / "x.db"}
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "notes.txt").write_text("not a database")
    lines = {"fifo": "is a FIFO, not a database file", "folder": "is a folder, not a database file",
             "device": "is a device, not a database file", "text file": "is a file that is not a SQLite database",
             "under a file": "cannot be made: {notes} is a file, not a folder"}
    target = f"sqlite:///{paths[kind]}"
    result = lifecycle("db", "restore-snapshot", "LEDGER-20261120", "--to", target, env=dict(os.environ), timeout=60)
    assert result.returncode == 2, result.stderr
    notes = escaped(str(tmp_path / "notes.txt"))
    assert said(result) == f"lifecycle: --to {escaped(target)} {lines[kind].format(notes=notes)}"
    assert (tmp_path / "notes.txt").read_text() == "not a database"


# --- 1. a copy of a home, with the original's server.json ----------------------------------------------------------

def test_a_server_json_written_for_another_home_supplies_no_download_link(prefect_server, home, ledger, tmp_path):
    """`cp -r h1 h1copy` while h1's `lifecycle up` runs: h1copy/server.json names h1's live server and its
    downloads. A command of the copy must link to its own workbook, never to h1's server."""
    original = tmp_path / "h1"
    downloads = f"http://127.0.0.1:{free_port()}"
    record = {"api_url": f"{downloads}/api", "pid": os.getpid(), "downloads": downloads,  # a live process
              "config": {"LIFECYCLE_HOME": str(original)}}
    (home / "server.json").write_text(json.dumps(record))
    env = {**os.environ, "PREFECT_API_URL": prefect_server, "LIFECYCLE_TODAY": "2026-11-20"}
    key = "exports/2026/10/2026-10_billable-interventions.xlsx"

    # in this process (the link the command prints is judged, not its process): 3-4 s of CPU less each
    copied = cli.lifecycle_in_process("run", "export", "--month", "2026-10", env=env)
    assert copied.returncode == 0, copied.stderr
    assert f"download: {(home / 'objects' / key).as_uri()}" in copied.stdout.splitlines(), copied.stdout
    assert downloads not in copied.stdout + copied.stderr

    # the same record written for this home is this home's server: its downloads are the link
    (home / "server.json").write_text(json.dumps({**record, "config": {"LIFECYCLE_HOME": str(home.resolve())}}))
    own = cli.lifecycle_in_process("run", "export", "--month", "2026-10", env=env)
    assert own.returncode == 0, own.stderr
    assert f"download: {downloads}/{key}" in own.stdout.splitlines(), own.stdout


def test_a_home_with_a_ledger_of_its_own_pointed_at_another_installations_ledger_is_refused(home, ledger, ledger_url,
                                                                                             tmp_path):
    """Home B (its own ledger.db, its own identity) with LIFECYCLE_DATABASE_URL naming installation A's ledger read
    and wrote A's ledger in process, with B's settings, keys and storage. Refused in one line, before any read or
    write: A's ledger keeps its customers; B's own commands and A's own home work as before."""
    from sqlalchemy import text

    from ledger.installation import installation_id

    a_env = {**clean_env(home), "LIFECYCLE_DATABASE_URL": ledger_url}
    customers = write_csv(tmp_path / "customers.csv", CUSTOMER_HEADER, [customer("ACME")])
    assert lifecycle("import", "customers", str(customers), env=a_env).returncode == 0
    home_b = tmp_path / "home-b"
    assert lifecycle("db", "upgrade", env=clean_env(home_b)).returncode == 0  # B's own ledger: another identity
    b_on_a = {**clean_env(home_b), "LIFECYCLE_DATABASE_URL": ledger_url}
    other = write_csv(tmp_path / "other.csv", CUSTOMER_HEADER, [customer("BETA")])
    for command in (["show", "customers"], ["import", "customers", str(other)],
                    ["run", "refund", "--customer", "ACME", "--amount", "1", "--reference", "R-1"]):
        refused = lifecycle(*command, env=b_on_a)
        assert refused.returncode == 2, (command, refused.stdout, refused.stderr)
        line = said(refused)
        assert f"is the ledger of installation {installation_id(ledger)}" in line, line
        assert f"this LIFECYCLE_HOME ({escaped(str(home_b))}) holds the ledger of installation" in line, line
        assert "nothing was done" in line, line
    with ledger.connect() as connection:
        assert connection.execute(text("SELECT customer_id FROM customers")).scalars().all() == ["ACME"]
    assert lifecycle("show", "customers", env=clean_env(home_b)).returncode == 0
    assert lifecycle("show", "customers", env=a_env).returncode == 0
