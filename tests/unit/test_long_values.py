"""Every value a user gives that an error line gives back (a path, a URL, an option's value, a variable's) is
cut after 40 characters with its length said, as policy.text.quoted cuts it: a 3,000-character --to, import
path, --out, LIFECYCLE_HOME or PREFECT_API_URL came back whole, filling the terminal and the log. Each is
tried here through the command line as a user meets it: one line, well under 300 characters."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.support.cli import NOWHERE, lifecycle_in_process
from tests.support.sqlite_ledger import home_with_ledger

LONG = "b" * 3000
#: what a cut value reads as: its first 40 characters, an ellipsis, and its length
CUT = "…' ("


def lifecycle(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """The command in this process (tests/support/cli.py): each case is refused by a check of what it is given,
    before anything runs, and a process of its own cost seconds of CPU (Prefect imported again) to say so."""
    clean = {name: value for name, value in os.environ.items()
             if not name.startswith("LIFECYCLE_") and name != "PREFECT_API_URL"}
    clean.update({"LIFECYCLE_HOME": str(home_with_ledger(tmp_path / "home")), "LIFECYCLE_TODAY": "2026-11-20", **env})
    return lifecycle_in_process(*args, env=clean)


#: a `run` or `up` checked against an explicit Prefect API after its options: one where nothing listens, so that
#: one that got past its checks stops there, on another line, instead of running a flow or starting a server in
#: the test's process. `run export --out` is checked before any server is looked for (test_paths_under_a_file)
NO_SERVER = {"PREFECT_API_URL": NOWHERE}


CASES = {
    "LIFECYCLE_HOME": ({"LIFECYCLE_HOME": "{tmp}/" + LONG}, ["show", "customers"],
                       "LIFECYCLE_HOME='{tmp40}"),
    "LIFECYCLE_HOME a file": ({"LIFECYCLE_HOME": "{tmp}/notes.txt/" + LONG}, ["show", "customers"],
                              "LIFECYCLE_HOME='{tmp40}"),
    "LIFECYCLE_DATABASE_URL": ({"LIFECYCLE_DATABASE_URL": "mysql:///" + LONG}, ["show", "customers"],
                               "LIFECYCLE_DATABASE_URL='mysql:///"),
    "LIFECYCLE_STORAGE_URL": ({"LIFECYCLE_STORAGE_URL": "ftp://" + LONG}, ["show", "customers"],
                              "LIFECYCLE_STORAGE_URL='ftp://"),
    "LIFECYCLE_TODAY": ({"LIFECYCLE_TODAY": LONG}, ["show", "customers"], "LIFECYCLE_TODAY='bbb"),
    "LIFECYCLE_CREDENTIALS_KEY_FILE": ({"LIFECYCLE_CREDENTIALS_KEY_FILE": "{tmp}/notes.txt/" + LONG},
                                       ["import", "tickets", "{tmp}/notes.txt"], "LIFECYCLE_CREDENTIALS_KEY_FILE='"),
    "--to": ({}, ["db", "restore-snapshot", "X", "--to", LONG], "--to 'bbb"),
    "--to a sqlite path": ({}, ["db", "restore-snapshot", "X", "--to", "sqlite:///{tmp}/notes.txt/" + LONG],
                           "--to 'sqlite:///"),
    "import file": ({}, ["import", "customers", "{tmp}/" + LONG], "'{tmp40}"),
    "import file under a file": ({}, ["import", "customers", "{tmp}/notes.txt/" + LONG], "'{tmp40}"),
    "--out": ({}, ["run", "export", "--month", "2026-10", "--out", "{tmp}/" + LONG], "--out '{tmp40}"),
    "--out under a file": ({}, ["run", "export", "--month", "2026-10", "--out", "{tmp}/notes.txt/" + LONG + ".xlsx"],
                           "--out '{tmp40}"),
    "--host": (NO_SERVER, ["up", "--host", LONG], "--host 'bbb"),
    "--map-columns": (NO_SERVER, ["run", "restore", "--customer", "A", "--requested-by", "a", "--ticket", "T",
                                  "--target", "in_place", "--map-columns", "t.a=" + LONG[:1500]],
                      "--map-columns 't.a=bbb"),
    "PREFECT_API_URL": ({"PREFECT_API_URL": "http://127.0.0.1:9/" + LONG}, ["run", "standby-expiry"],
                        "the Prefect server at 'http://127.0.0.1:9/bbb"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_3000_character_value_is_given_back_cut_short_in_one_line(tmp_path, case):
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    env, args, begins = CASES[case]
    tmp = str(tmp_path)
    env = {name: value.replace("{tmp}", tmp) for name, value in env.items()}
    args = [arg.replace("{tmp}", tmp) for arg in args]
    result = lifecycle(tmp_path, *args, **env)
    assert result.returncode in (1, 2), result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[:2000]
    line = lines[0]
    assert line.startswith("lifecycle: ") and len(line) < 300, line
    assert begins.replace("{tmp40}", (tmp + "/")[:40]) in line and CUT in line, line
    assert " characters)" in line and LONG[:100] not in line
