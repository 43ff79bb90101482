"""`lifecycle ARGS` run inside the test's own process, through the same entry point (`lifecycle.cli.main`) as
the `lifecycle` script: the same one-line errors, exit codes, stdout and stderr, with the environment given.

A new process costs 2-4 s of CPU on CI's machine (Python, typer, SQLAlchemy, cryptography imported again): the
fast tier spent most of its time there. A test that judges what a command says and does uses this; a test that
needs a process of its own (a kill, what a fresh process imports, Prefect's settings read at its import, a
terminal's width) keeps `subprocess`.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Mapping


def lifecycle_in_process(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
    """What `lifecycle ARGS` answers when run with `env` as its whole environment (os.environ when None), as a
    CompletedProcess like `subprocess.run(..., capture_output=True, text=True)` gives; the process's own
    environment and argv are given back afterwards."""
    from lifecycle.cli import main

    saved_env, saved_argv = dict(os.environ), sys.argv
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        sys.argv = ["lifecycle", *args]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as done:
                code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
                if isinstance(done.code, str):
                    err.write(done.code + "\n")
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        sys.argv = saved_argv
    return subprocess.CompletedProcess(["lifecycle", *args], code, out.getvalue(), err.getvalue())
