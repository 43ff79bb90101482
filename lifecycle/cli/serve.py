"""The commands that run Prefect: `lifecycle up` (the embedded default), `deploy` (a server of your own),
`worker` and `helpdesk-webhook` (a machine added to it); and the checks every command that talks to a
Prefect server makes first (the right server, serving this installation's ledger)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Optional

import typer

from lifecycle.cli.common import fail, ledger, note, whole_number


def up(
    demo_data: bool = typer.Option(False, "--demo", help="Create the demo data first (when there is none)."),
    port: int = typer.Option(4200, parser=whole_number("--port", minimum=1, maximum=65533),
                             help="Port of the Prefect server and UI (the webhook takes port + 2)."),
    host: str = typer.Option("127.0.0.1", help="Address the Prefect server listens on."),
    workers: int = typer.Option(1, "--workers", parser=whole_number("--workers", minimum=1, maximum=32),
                                help="How many workers to start on the pool (the nightly backup's shards spread "
                                     "over them)."),
) -> None:
    """Run the embedded default: Prefect server and UI, every deployment with its schedule, a worker."""
    import lifecycle_config as config
    from lifecycle import demo as demo_module
    from lifecycle.server import HomeInUse, refuse_a_home_in_use
    from lifecycle.server import up as run_up
    from lifecycle.server import host_problem
    from lifecycle_config.installation import sqlite_file
    from policy.calendar import today_paris

    problem = host_problem(host)
    if problem:
        fail(problem, 2)
    with _as_found_if_refused():
        try:
            refuse_a_home_in_use()
        except HomeInUse as error:
            fail(str(error), 2)
        ledger()
        refuse_explicit_server()
        if demo_data:
            try:
                typer.echo(demo_module.create(customers=50, seed=7, today=today_paris()))
            except demo_module.DemoExists as error:
                typer.echo(f"{error}; keeping it")
        elif (platform := sqlite_file(config.platform_url())) is not None and not platform.exists():
            note("note: no platform database yet; `lifecycle up --demo` or `lifecycle demo` creates the demo one")
        from ledger.installation import LedgerHeld

        try:
            code = run_up(host=host, port=port, echo=typer.echo, workers=workers)
        except (HomeInUse, LedgerHeld) as error:
            fail(str(error), 2)
        except RuntimeError as error:
            fail(str(error))
    raise typer.Exit(code)


@contextmanager
def _as_found_if_refused():
    """A refused `up` or `worker` (exit 2) leaves its home as it found it: the folders it made on its way to the
    refusal (its logs, Prefect's folder, which importing Prefect makes) are removed again when still empty."""
    from lifecycle.server import leave_as_found, not_yet_made

    made = not_yet_made()
    try:
        yield
    except typer.Exit as exit_:
        if exit_.exit_code == 2:
            leave_as_found(made)
        raise


def deploy() -> None:
    """Prepare a Prefect server of your own (PREFECT_API_URL) for the workers: the default blocks, the work
    pool, every deployment of prefect.yaml, the ops automations and the global concurrency limits."""
    import os
    import time

    import lifecycle_config as config
    from lifecycle.server import answers, apply

    config.prepare_prefect_environment()
    api_url = os.environ.get("PREFECT_API_URL")
    if not api_url:
        fail("PREFECT_API_URL is not set: `lifecycle deploy` prepares a server of your own (docs/how-to/postgresql-and-s3.md); "
             "`lifecycle up` does it for the embedded one", 2)
    deadline = time.monotonic() + 120  # a server started a moment ago (deploy/) takes its time
    if not answers(api_url):
        note(f"waiting for the Prefect server at {config.escaped(api_url)} (PREFECT_API_URL) to answer (up to 2 "
             f"minutes: one started a moment ago takes its time)")
    while not answers(api_url):
        if time.monotonic() > deadline:
            fail(f"the Prefect server at {config.escaped(api_url)} (PREFECT_API_URL) does not answer (waited 2 "
                 f"minutes): start it, or correct PREFECT_API_URL")
        time.sleep(2)
    ledger()
    refuse_another_installations_server(api_url)
    try:
        apply({**os.environ, "LIFECYCLE_HOME": str(config.home())}, typer.echo)
    except RuntimeError as error:
        fail(str(error))
    typer.echo(f"deployed to {api_url}: start workers with `lifecycle worker` on each machine")


def worker(
    name: Optional[str] = typer.Option(None, help="The worker's name in the UI; default lifecycle-<host>."),
    limit: Optional[int] = typer.Option(None, parser=whole_number("--limit", minimum=1, maximum=10_000), help="Most runs at once on this worker (default: no limit)."),
) -> None:
    """Run one worker of the `lifecycle` pool here, for the server of PREFECT_API_URL (or of `lifecycle
    up`), until stopped: the way to add a machine (deploy/)."""
    import os
    import socket

    import lifecycle_config as config
    from lifecycle.server import PROJECT_ROOT, worker_command, worker_environment

    with _as_found_if_refused():
        api_url = _server_to_serve("no Prefect server to work for: set PREFECT_API_URL (or run `lifecycle up` for "
                                   "this LIFECYCLE_HOME)")
        from lifecycle.server import joining_refused

        refused = joining_refused(api_url, how="`lifecycle worker`")  # it would take that home's runs, with this one's
        if refused:
            fail(refused, 2)
    env = worker_environment({**os.environ, "PREFECT_API_URL": api_url, "LIFECYCLE_HOME": str(config.home())})
    command = worker_command(name or f"lifecycle-{socket.gethostname()}") + (["--limit", str(limit)] if limit else [])
    note(f"worker {name or command[-1]} on the pool lifecycle of {api_url} (heartbeat every "
         f"{config.heartbeat_seconds()} s)")
    # exec: a service manager's signals reach the worker itself
    os.chdir(PROJECT_ROOT)
    os.execve(command[0], command, env)


def helpdesk_webhook(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (put TLS in front of it)."),
    port: int = typer.Option(4202, parser=whole_number("--port", minimum=1, maximum=65535), help="Port to listen on."),
) -> None:
    """Serve the helpdesk's signed webhook (POST /helpdesk/tickets), and the e-invoicing platform's (POST
    /e-invoicing/statuses), for the server of PREFECT_API_URL, until stopped: what `lifecycle up` serves on its
    own port + 2, for a server of your own (deploy/)."""
    import time

    _server_to_serve("no Prefect server holds the webhook's secret: set PREFECT_API_URL (or run `lifecycle up`)")
    from ledger.sealing import KeyUnavailable
    from lifecycle.helpdesk import start_webhook

    try:
        first, *notes = start_webhook(host, port, report=note)
    except OSError as error:
        fail(f"cannot listen on {host}:{port}: {error}")
    except KeyUnavailable as error:
        fail(str(error))
    note(f"{first}; Ctrl-C stops it")
    for line in notes:
        note(line)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


# --- the server a command talks to ---------------------------------------------------------------


def prefect_ready() -> None:
    """Point this process at the right Prefect server before Prefect is imported."""
    import os

    import lifecycle_config as config
    from lifecycle.server import choose_server, temporary_server_in_its_own_session

    config.prepare_prefect_environment()
    url, sentence = choose_server()
    if url:
        os.environ["PREFECT_API_URL"] = url  # before the check imports Prefect, which reads it once
        refuse_another_installations_server(url)
    else:
        note(f"note: {sentence}")
        temporary_server_in_its_own_session()  # a Ctrl-C stops the run, not its server first


def _server_to_serve(none_answers: str) -> str:
    """The Prefect server a machine added to an installation serves (PREFECT_API_URL, or that of `lifecycle
    up`), made this process's; `none_answers` ends the command when there is none. Refused when it serves
    another installation's ledger."""
    import os

    import lifecycle_config as config
    from lifecycle.server import answers, choose_server

    config.prepare_prefect_environment()
    api_url, _ = choose_server()
    if not api_url or not answers(api_url):
        fail(none_answers)
    ledger()
    os.environ["PREFECT_API_URL"] = api_url
    refuse_another_installations_server(api_url)
    return api_url


def refuse_explicit_server() -> None:
    """The check below for commands that use PREFECT_API_URL only when it is set (and answers)."""
    import os

    import lifecycle_config as config
    from lifecycle.server import answers

    api_url = os.environ.get("PREFECT_API_URL")
    if api_url and answers(api_url):
        config.prepare_prefect_environment()
        refuse_another_installations_server(api_url)


def refuse_server_before_writing() -> None:
    """For a command that writes to the ledger and then starts a run (`import credit-notes` sends what it
    recorded): the server that run would use (PREFECT_API_URL, else that of `lifecycle up`), when it answers,
    is checked before anything is written, so a server of another installation leaves nothing half done."""
    import os

    import lifecycle_config as config
    from lifecycle.server import answers, choose_server

    config.prepare_prefect_environment()
    api_url, _ = choose_server()
    if api_url and answers(api_url):
        before = os.environ.get("PREFECT_API_URL")
        os.environ["PREFECT_API_URL"] = api_url  # before the check imports Prefect, which reads it once
        try:
            refuse_another_installations_server(api_url)
        finally:  # only for the check: the import then runs as it would have, and a caller in the same
            # process (a test's CliRunner) keeps its own environment, not the server this command chose
            if before is None:
                os.environ.pop("PREFECT_API_URL", None)
            else:
                os.environ["PREFECT_API_URL"] = before


def refuse_another_installations_server(api_url: str) -> None:
    """One line, exit 2, when the server at `api_url` serves another installation's ledger: its worker would
    act on that ledger, and its blocks (terms, seller, secrets, storage, mail) are that installation's."""
    from lifecycle.server import another_installations_server

    problem = another_installations_server(api_url)
    if problem:
        fail(problem, 2)


def require_up_server(what: str) -> None:
    """Approvals are given in the UI of the server `lifecycle up` runs: without it nobody could answer."""
    import os

    from lifecycle.server import running_server

    if not (os.environ.get("PREFECT_API_URL") or running_server()):
        fail(f"{what} needs the Prefect server of `lifecycle up` (the approval is given in its UI); "
             f"start it first, or use --approve auto")

