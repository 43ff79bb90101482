"""One `lifecycle up` a home: a second one, while the first runs, is refused in one line naming the first (its
process and UI), exit 2, before it starts or writes anything, and the first one's server.json stays. The lock
is the kernel's (flock): it is freed when the first process ends, however it ends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from typer.testing import CliRunner

from lifecycle.cli import app
from tests.support.sqlite_ledger import sqlite_ledger

HOLDER = ("import sys, time; from lifecycle.server import hold_home; held = hold_home('http://127.0.0.1:21684'); "
          "print('held', flush=True); time.sleep(120)")


def test_a_second_up_on_a_home_whose_up_runs_is_refused_and_leaves_its_server_json(tmp_path, monkeypatch):
    sqlite_ledger(tmp_path, monkeypatch, "2026-11-02")
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    home = tmp_path / "home"
    first = subprocess.Popen([sys.executable, "-c", HOLDER], env=dict(os.environ), stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout.readline() == "held\n"
        record = json.dumps({"api_url": "http://127.0.0.1:21684/api", "pid": first.pid})
        (home / "server.json").write_text(record)
        result = CliRunner().invoke(app, ["up", "--port", "21694"])
        assert result.exit_code == 2
        assert result.stderr == (f"lifecycle: this LIFECYCLE_HOME ({home.resolve()}) is in use by `lifecycle up` "
                                 f"(process {first.pid}, its UI at http://127.0.0.1:21684): stop it first (Ctrl-C in "
                                 f"its terminal), or give this one another LIFECYCLE_HOME\n")
        assert (home / "server.json").read_text() == record
        assert not (home / "logs" / "server.log").exists()   # nothing was started
    finally:
        first.kill()
        first.wait()
    from lifecycle.server import hold_home   # the first one gone (even by kill -9), the home is free again
    hold_home("http://127.0.0.1:21694").close()
