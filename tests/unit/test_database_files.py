"""A SQLite URL naming a path that is no database file (a FIFO, a folder, a device, a text file, a path under
a file) is the user's to correct: one line naming the variable or option, exit 2, before SQLite opens it.
SQLite told a device or a FIFO as "disk is full" or "disk I/O error" (exit 1, the world blamed), and a text
file as a bug with its traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lifecycle.cli import app
from lifecycle_config.databases import sqlite_file_problem


@pytest.fixture
def paths(tmp_path, monkeypatch) -> dict[str, Path]:
    """Each kind of path, named relative to the folder the command runs in: a few characters, given back whole
    (a long one is cut after 40 characters: test_long_values)."""
    monkeypatch.chdir(tmp_path)
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "folder").mkdir()
    (tmp_path / "notes.txt").write_text("not a database")
    (tmp_path / "empty.db").write_bytes(b"")
    return {"fifo": Path("fifo"), "folder": Path("folder"), "device": Path("/dev/full"),
            "text file": Path("notes.txt"), "under a file": Path("notes.txt/ledger.db")}


PROBLEMS = {"fifo": "is a FIFO, not a database file", "folder": "is a folder, not a database file",
            "device": "is a device, not a database file", "text file": "is a file that is not a SQLite database",
            "under a file": "cannot be made: 'notes.txt' is a file, not a folder"}


@pytest.mark.parametrize("kind", list(PROBLEMS))
def test_a_path_that_is_no_database_file_is_named_as_what_it_is(paths, tmp_path, kind):
    assert sqlite_file_problem(str(paths[kind])) == PROBLEMS[kind].format(tmp=tmp_path)


def test_a_missing_or_empty_file_or_a_database_is_taken(tmp_path):
    import sqlite3

    sqlite3.connect(tmp_path / "real.db").execute("create table t (x)").connection.close()
    (tmp_path / "empty.db").write_bytes(b"")
    for name in ("real.db", "empty.db", "missing.db", "missing/folder/x.db"):
        assert sqlite_file_problem(str(tmp_path / name)) is None, name


@pytest.mark.parametrize("kind", ["fifo", "folder", "device", "text file"])
def test_a_ledger_url_naming_no_database_file_is_one_line_exit_2(paths, tmp_path, monkeypatch, kind):
    url = f"sqlite:///{paths[kind]}"
    monkeypatch.setenv("LIFECYCLE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", url)
    result = CliRunner().invoke(app, ["show", "customers"])
    assert result.exit_code != 0
    assert type(result.exception).__name__ == "Misconfigured"  # main() says it in one line, exit 2
    assert str(result.exception) == f"the ledger {url!r} {PROBLEMS[kind]}: correct LIFECYCLE_DATABASE_URL"
    assert (tmp_path / "notes.txt").read_text() == "not a database"


@pytest.mark.parametrize("kind", list(PROBLEMS))
def test_restore_snapshot_to_a_path_that_is_no_database_file_is_refused_before_the_ledger_opens(paths, tmp_path,
                                                                                                  monkeypatch, kind):
    monkeypatch.setenv("LIFECYCLE_HOME", str(tmp_path / "home"))
    target = f"sqlite:///{paths[kind]}"
    result = CliRunner().invoke(app, ["db", "restore-snapshot", "LEDGER-20261120", "--to", target])
    assert result.exit_code == 2, result.output
    assert result.stderr == f"lifecycle: --to {target!r} {PROBLEMS[kind].format(tmp=tmp_path)}\n"
    assert not (tmp_path / "home" / "ledger.db").exists()  # refused before the ledger was opened


@pytest.mark.parametrize("suffix", ["-journal", "-wal", "-shm"])
def test_a_name_sqlite_keeps_for_another_databases_journal_is_refused(tmp_path, monkeypatch, suffix):
    # a snapshot restored as ledger.db-journal beside ledger.db was deleted by the next command that opened the
    # ledger (SQLite took it for a stale journal): the restore said "restored", and the copy was gone
    import sqlite3

    sqlite3.connect(tmp_path / "ledger.db").execute("create table t (x)").connection.close()
    name = str(tmp_path / f"ledger.db{suffix}")
    assert sqlite_file_problem(name) == (f"is the name SQLite gives the {suffix[1:]} file of the database "
                                         f"'ledger.db' beside it: opening that database deletes or rewrites it; "
                                         f"name another file")
    monkeypatch.setenv("LIFECYCLE_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(app, ["db", "restore-snapshot", "ledger-20261120-013000", "--to", f"sqlite:///{name}"])
    assert result.exit_code == 2 and "is the name SQLite gives" in result.stderr
    assert not os.path.exists(name)
    assert sqlite_file_problem(str(tmp_path / f"alone.db{suffix}")) is None  # no database beside it: a name like any
