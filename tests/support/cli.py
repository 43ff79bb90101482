"""`lifecycle ARGS` run inside the test's own process, through the same entry point (`lifecycle.cli.main`) as
the `lifecycle` script: the same one-line errors, exit codes, stdout and stderr, with the environment given.

A new process costs 2-4 s of CPU on CI's machine (Python, typer, SQLAlchemy, cryptography imported again): the
fast tier spent most of its time there. A test that judges what a command says and does uses this; a test that
needs a process of its own (a kill, what a fresh process imports, a terminal's width) keeps `subprocess`.

Prefect reads its settings once, when first imported: a command that reaches Prefect (`run`, `up`) is given the
environment's PREFECT_API_URL as a temporary setting, the only Prefect setting these tests give a command.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Mapping


def lifecycle_in_process(*args: str, env: Mapping[str, str] | None = None,
                         cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
    """What `lifecycle ARGS` answers when run with `env` as its whole environment (os.environ when None), in the
    folder `cwd` (this process's when None), as a CompletedProcess like `subprocess.run(..., capture_output=True,
    text=True)` gives; the process's own environment, argv and folder are given back afterwards."""
    from lifecycle.cli import main

    saved_env, saved_argv, saved_cwd = dict(os.environ), sys.argv, os.getcwd()
    settings = _prefect_api_url(args, os.environ if env is None else env)  # Prefect, if loaded here, with the process's env
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        if env is not None:
            _become(env)
        if cwd is not None:
            os.chdir(cwd)
        sys.argv = ["lifecycle", *args]
        with settings, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as done:
                code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
                if isinstance(done.code, str):
                    err.write(done.code + "\n")
    finally:
        os.chdir(saved_cwd)
        _become(saved_env)
        sys.argv = saved_argv
    return subprocess.CompletedProcess(["lifecycle", *args], code, out.getvalue(), err.getvalue())


def _become(env: Mapping[str, str]) -> None:
    """os.environ made equal to `env`, variable by variable: never empty in between, for a thread reading it."""
    for name in [name for name in os.environ if name not in env]:
        del os.environ[name]
    for name, value in env.items():
        if os.environ.get(name) != value:
            os.environ[name] = value


def _prefect_api_url(args: tuple[str, ...], env: Mapping[str, str]):
    """The environment's PREFECT_API_URL as Prefect's setting for a command that loads Prefect; nothing else."""
    if not args or args[0] not in ("run", "up", "deploy", "worker"):
        return contextlib.nullcontext()
    from prefect.settings import PREFECT_API_URL, temporary_settings

    url = env.get("PREFECT_API_URL")
    if url:
        return temporary_settings(updates={PREFECT_API_URL: url})
    return temporary_settings(restore_defaults={PREFECT_API_URL})


#: a Prefect API where nothing listens: a `run` command tried in this process finds no server there
NOWHERE = "http://127.0.0.1:9/api"


def refused_before_any_run(*args: str, env: Mapping[str, str] | None = None,
                           cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
    """`lifecycle run ...` whose options (or the ledger rows they name) its checks refuse before any flow runs: in
    this process, as a ledger's command is, and not in a process of its own (2.5-4 s of CPU each: Prefect imported
    again), since the point is what the checks say. PREFECT_API_URL is a port nothing listens on, whatever `env`
    says: a command that got past its checks stops on that server, not answering, with another line and exit
    code, instead of running a flow in the test's process."""
    assert args and args[0] == "run", args
    return lifecycle_in_process(*args, env={**(os.environ if env is None else env), "PREFECT_API_URL": NOWHERE},
                                cwd=cwd)


#: the commands that touch only the ledger (and the demo platform) and never load Prefect (test_cli_package)
LEDGER_COMMANDS = ("import", "show", "db", "keys", "demo")


def lifecycle(*args: str, env: Mapping[str, str] | None = None, timeout: float = 120,
              cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
    """`lifecycle ARGS`: a ledger's command in this process; a command that runs a flow (`run`, `up`...) in a
    process of its own, as the user's shell starts it, against the Prefect server its environment names."""
    if args and args[0] in LEDGER_COMMANDS:
        return lifecycle_in_process(*args, env=env, cwd=cwd)
    return subprocess.run([sys.executable, "-m", "lifecycle.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ if env is None else env), timeout=timeout, cwd=cwd)
