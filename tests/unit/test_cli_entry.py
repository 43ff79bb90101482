"""What every `lifecycle` command checks before it starts: arguments a ledger could hold, and whether a
run may go to the worker of `lifecycle up` (the same settings) or must run here."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support.cli import lifecycle_in_process
from tests.support.sqlite_ledger import home_with_ledger


@pytest.mark.parametrize("args, option", [
    (["run", "standby-request", "--customer", "C020", "--reason", "temporary_inactivity",
      "--requested-by", "x\udcffy"], "--requested-by"),
    (["run", "restore", "--ticket", "\udcff\udcfe"], "--ticket"),
    (["show", "customers", "--format=\udcfe"], "--format"),
    (["import", "customers", "f\udcff.csv"], "argument 3"),
    (["run", "refund", "--customer", "C020", "--amount", "5", "--reference", "Z\udce9"], "--reference"),
], ids=["requested-by", "ticket", "format=", "positional", "reference"])
def test_bytes_that_are_not_utf8_are_one_line_naming_the_option_exit_2_for_every_command(args, option, tmp_path):
    """A shell hands bytes (a Latin-1 terminal, $'\\xff'); Python passes those that are not UTF-8 on as lone
    surrogates, which nothing can store, print or mail: refused before any command starts."""
    argv = [os.fsencode(argument) for argument in args]  # the bytes the shell passes
    result = subprocess.run([sys.executable.encode(), b"-m", b"lifecycle.cli", *argv], capture_output=True,
                            env={**os.environ, "LIFECYCLE_HOME": str(tmp_path / "home")}, timeout=60)
    err = result.stderr.decode("utf-8", "backslashreplace")
    assert result.returncode == 2, err
    assert err.startswith(f"lifecycle: {option}: is not valid UTF-8 (the byte \\x") and err.count("\n") == 1, err
    assert "Traceback" not in err and not (tmp_path / "home" / "ledger.db").exists()  # nothing started


@pytest.fixture
def up_recorded(tmp_path, monkeypatch):
    """A home whose `lifecycle up` recorded the settings its worker runs with (a clean shell's)."""
    import lifecycle_config as config

    for name in list(os.environ):
        if name.startswith("LIFECYCLE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LIFECYCLE_HOME", str(tmp_path / "home"))
    config.home().mkdir(parents=True)

    def record(**variables):
        with monkeypatch.context() as during_up:
            for name, value in variables.items():
                during_up.setenv(name, value)
            config.server_file().write_text(json.dumps({"api_url": "http://127.0.0.1:9/api", "pid": 0,
                                                        "config": config.snapshot()}))
    record()
    return record


@pytest.mark.parametrize("name, value", [
    ("LIFECYCLE_TODAY", "2027-01-05"),
    ("LIFECYCLE_CREDENTIALS_KEY_FILE", "/srv/keys/credentials.key"),
    ("LIFECYCLE_STORAGE_URL", "file:///srv/objects"),
    ("LIFECYCLE_DOWNLOAD_URL", "https://files.example/"),
    ("LIFECYCLE_FAILPOINT", "close.drafted"),
    ("LIFECYCLE_SOMETHING_NEW", "1"),
])
def test_any_lifecycle_setting_of_this_command_only_makes_it_run_here(up_recorded, monkeypatch, name, value):
    from lifecycle import runner

    assert runner.configuration_differs() is None  # the same shell: the worker's run is this command's
    monkeypatch.setenv(name, value)
    assert runner.configuration_differs() == name


def test_a_setting_the_worker_runs_with_and_this_command_lacks_differs_too(up_recorded, monkeypatch):
    """`lifecycle up` started with LIFECYCLE_TODAY set (a rehearsal): a command on the real calendar must not
    run on the worker's day."""
    from lifecycle import runner

    up_recorded(LIFECYCLE_TODAY="2026-12-20")
    assert runner.configuration_differs() == "LIFECYCLE_TODAY"
    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-12-20")
    assert runner.configuration_differs() is None


def test_an_older_record_without_a_setting_differs_only_when_this_command_sets_it(up_recorded, monkeypatch):
    import lifecycle_config as config
    from lifecycle import runner

    recorded = json.loads(config.server_file().read_text())
    for name in ("LIFECYCLE_TODAY", "LIFECYCLE_CREDENTIALS_KEY_FILE", "LIFECYCLE_DOWNLOAD_URL"):
        del recorded["config"][name]
    config.server_file().write_text(json.dumps(recorded))
    assert runner.configuration_differs() is None
    monkeypatch.setenv("LIFECYCLE_CREDENTIALS_KEY_FILE", "/srv/keys/credentials.key")
    assert runner.configuration_differs() == "LIFECYCLE_CREDENTIALS_KEY_FILE"


@pytest.mark.parametrize("args, says", [
    (["run", "credit-note", "--invoice", "OLD-1", "--amount", "0.001", "--reason", "x", "--requested-by", "y"],
     "--amount: '0.001' has more than 2 decimal places"),
    (["run", "credit-note", "--invoice", "OLD-1", "--amount", "1.000", "--reason", "x", "--requested-by", "y"],
     "--amount: '1.000' has more than 2 decimal places"),
    (["run", "refund", "--customer", "ACME", "--amount", "2,500", "--reference", "VIR-1"],
     "--amount: '2,500' has more than 2 decimal places"),
    (["run", "credit-note", "--invoice", "OLD-1", "--amount", "9" * 100_000, "--reason", "x", "--requested-by", "y"],
     "--amount: '" + "9" * 40 + "…' (100,000 characters) has more than 12 digits before the decimal point"),
    (["run", "refund", "--customer", "ACME", "--amount", "5", "--reference", "r" * 100_000],
     "--reference '" + "r" * 40 + "…' (100,000 characters): an id has at most 64 characters, this one 100000"),
    (["run", "refund", "--customer", "c" * 100_000, "--amount", "5", "--reference", "VIR-1"],
     "unknown customer '" + "c" * 40 + "…' (100,000 characters) (lifecycle show customers lists them)"),
    (["run", "credit-note", "--invoice", "OLD-1", "--amount", "5", "--reason", "\ufe0f", "--requested-by", "y"],
     "--reason: shows nothing: it holds only marks with no character to carry them (U+FE0F VARIATION SELECTOR-16): "
     "type the text itself"),
    (["run", "credit-note", "--invoice", "OLD-1", "--amount", "-5", "--reason", "x", "--requested-by", "y"],
     "--amount: must not be negative: '-5'"),
    (["run", "credit-note", "--invoice", "OLD 1", "--amount", "5", "--reason", "x", "--requested-by", "y"],
     "--invoice 'OLD 1': not an id (1-64 characters of A-Z a-z 0-9 . _ -, not starting with . or -): ' ' not allowed"),
    (["run", "refund", "--customer", "ACME", "--amount", "5", "--reference", "vir 1"],
     "--reference 'vir 1': not an id (1-64 characters of A-Z a-z 0-9 . _ -, not starting with . or -): ' ' not "
     "allowed"),
    (["run", "refund", "--customer", "ACME", "--amount", "1e3", "--reference", "VIR-1"],
     "--amount: not a plain decimal (like 1234.50, no exponent or thousands separator): '1e3'"),
    (["run", "refund", "--customer", "ACME", "--amount", "0,00", "--reference", "VIR-1"],
     "--amount '0,00': must be greater than zero"),
    (["run", "verify-backups", "--sample", "0"], "--sample: 0 is out of range: a whole number from 1 to 100000"),
], ids=["credit-note-places", "credit-note-thousand", "refund-thousand", "credit-note-long-amount",
        "refund-long-reference", "refund-long-customer", "credit-note-reason-shows-nothing", "credit-note-negative", "credit-note-invoice", "refund-reference", "refund-exponent",
        "refund-zero", "sample"])
def test_amounts_and_ids_are_checked_before_any_run_starts(args, says, tmp_path):
    """Refused here, in one line, exit 2: no Prefect server is reached (the one named does not answer), no run is
    dispatched to a worker that would only then refuse it."""
    result = lifecycle_in_process(*args, env={**os.environ, "LIFECYCLE_HOME": str(home_with_ledger(tmp_path / "home")),
                                              "PREFECT_API_URL": "http://127.0.0.1:9/api"})
    assert (result.returncode, result.stderr) == (2, f"lifecycle: {says}\n")


@pytest.mark.parametrize("args, says", [
    (["show", "customers", "--format", "xml"],
     "show: --format 'xml' is not one of 'table', 'json', 'csv' (`lifecycle show --help` says what it takes)"),
    (["show", "customers", "--format", "x" * 50_000],
     "show: --format '" + "x" * 40 + "…' (50,000 characters) is not one of 'table', 'json', 'csv' "
     "(`lifecycle show --help` says what it takes)"),
    (["show", "bogus"],
     "show: subject 'bogus' is not one of 'customers', 'invoices', 'interventions', 'backups', 'notices', 'terms', "
     "'audit', 'tickets', 'drills' (`lifecycle show --help` says what it takes)"),
    (["show", "--" + "y" * 50_000],
     "show: No such option: --" + "y" * 38 + "… (50,002 characters) (`lifecycle show --help` says what it takes)"),
    (["run", "refund", "--customer", "ACME"],
     "run refund: Missing option '--amount' (`lifecycle run refund --help` says what it takes)"),
], ids=["choice", "long-choice", "subject", "long-option", "missing-option"])
def test_a_mistake_in_the_command_line_is_one_line_naming_what_is_allowed(args, says, tmp_path):
    """Not typer's usage box, which echoes the value whole across the terminal: one line, the value cut short."""
    result = lifecycle_in_process(*args, env={**os.environ, "LIFECYCLE_HOME": str(tmp_path / "home")})
    assert (result.returncode, result.stdout, result.stderr) == (2, "", f"lifecycle: {says}\n")


def test_help_and_a_group_without_its_command_still_show_their_help(tmp_path):
    env = {**os.environ, "LIFECYCLE_HOME": str(tmp_path / "home")}
    shown = subprocess.run([sys.executable, "-m", "lifecycle.cli", "show", "--help"], capture_output=True,
                           text=True, env=env, timeout=60)
    assert shown.returncode == 0 and "Usage:" in shown.stdout and shown.stderr == ""
    bare = subprocess.run([sys.executable, "-m", "lifecycle.cli", "run"], capture_output=True, text=True, env=env,
                          timeout=60)
    assert bare.returncode == 2 and "Usage:" in bare.stdout and bare.stderr == ""
