"""A path under a file (`notes.txt/out/x.xlsx`) can be neither made nor read: every path a user names to be
written (--out, --to, LIFECYCLE_HOME, LIFECYCLE_CREDENTIALS_KEY_FILE) or read (an import) says which file
stands where a folder should be, in one line, exit 2. It said "cannot be read (Not a directory)" for an
output, "cannot write there", or blamed LIFECYCLE_DATABASE_URL that nobody set."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from lifecycle.cli import app
from tests.support.sqlite_ledger import home_with_ledger


@pytest.fixture
def notes(tmp_path, monkeypatch):
    """notes.txt in the folder the command runs in: paths of a few characters, given back whole (a long one is
    cut after 40 characters: test_long_values)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("keep me")
    return Path("notes.txt")


def refused(args: list[str], tmp_path, monkeypatch, **env: str) -> str:
    monkeypatch.setenv("LIFECYCLE_HOME", str(home_with_ledger(tmp_path / "home")))
    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-11-20")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):  # told by main(), exit 2
        from lifecycle.cli.errors import users_mistake

        assert users_mistake(result.exception), result.exception
        return str(result.exception)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0].removeprefix("lifecycle: ")


@pytest.mark.parametrize("out, shown", [
    ("notes.txt/x.xlsx", "--out notes.txt/x.xlsx cannot be made"),
    ("notes.txt/deeper/x.xlsx", "--out notes.txt/deeper/x.xlsx cannot be made"),
    ("notes.txt/folder/", "--out notes.txt/folder: cannot be made"),
    ("notes.txt/folder", "--out notes.txt/folder: cannot be made"),
])
def test_out_under_a_file_says_that_file_is_not_a_folder(notes, tmp_path, monkeypatch, out, shown):
    line = refused(["run", "export", "--month", "2026-10", "--out", out], tmp_path, monkeypatch)
    assert line == f"{shown}: '{notes}' is a file, not a folder"
    assert notes.read_text() == "keep me"


def test_restore_snapshot_to_under_a_file_says_that_file_is_not_a_folder(notes, tmp_path, monkeypatch):
    target = f"sqlite:///{notes}/restored/ledger.db"
    line = refused(["db", "restore-snapshot", "LEDGER-20261120", "--to", target], tmp_path, monkeypatch)
    assert line == f"--to '{target}' cannot be made: '{notes}' is a file, not a folder"


def test_a_home_or_key_file_under_a_file_names_its_variable_and_that_file(notes, tmp_path, monkeypatch):
    import lifecycle_config

    home = f"{notes}/home"
    monkeypatch.setenv("LIFECYCLE_HOME", home)
    with pytest.raises(lifecycle_config.Misconfigured) as checked:
        lifecycle_config.check()  # what the command line does first, before any command
    assert str(checked.value) == (f"LIFECYCLE_HOME='{home}' cannot be made: '{notes}' is a file, not a folder: set it "
                                  f"to a folder (made when missing)")
    # a command called without that check: the ledger's default place is told as LIFECYCLE_HOME's, not as
    # LIFECYCLE_DATABASE_URL's, which nobody set
    line = refused(["show", "customers"], tmp_path, monkeypatch, LIFECYCLE_HOME=home)
    assert line.startswith("the ledger 'sqlite:///") and line.endswith(
        " is a file, not a folder: correct LIFECYCLE_HOME"), line  # the home made absolute: cut after 40 characters
    key = f"{notes}/keys/credentials.key"
    tickets = tmp_path / "tickets.csv"
    tickets.write_text("ticket_id\n")
    line = refused(["import", "tickets", str(tickets)], tmp_path, monkeypatch, LIFECYCLE_CREDENTIALS_KEY_FILE=key)
    assert line == (f"LIFECYCLE_CREDENTIALS_KEY_FILE='{key}' cannot be made: '{notes}' is a file, not a folder: set "
                    f"it to the path of the key file")
    assert notes.read_text() == "keep me"


def test_an_import_under_a_file_says_that_file_is_not_a_folder(notes, tmp_path, monkeypatch):
    line = refused(["import", "customers", f"{notes}/customers.csv"], tmp_path, monkeypatch)
    assert line == f"{notes}/customers.csv: no such file: '{notes}' is a file, not a folder"
