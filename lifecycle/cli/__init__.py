"""`lifecycle`: the command line of docs/reference/cli.md.

`import`, `show`, `demo` and `db` touch only the ledger (and the demo platform) and never import
Prefect, so they answer in a second or two; `run` and `up` need Prefect and load it on demand.
Every command exits 0 on success and non-zero with a one-line reason on stderr otherwise.

One module per command group: db, keys, imports (`import`), show, demo, serve (`up`, `deploy`, `worker`,
`helpdesk-webhook`) and run (its table RUNS, with run_options, run_printers and run_checks); common holds
what they share, errors how an uncaught error is told. This module puts them together in the order
`lifecycle --help` lists them, and `main` is the entry point (`lifecycle`, `python -m lifecycle.cli`).
"""

from __future__ import annotations

import signal
import sys

import typer

from lifecycle.cli import db, demo, imports, keys, run, serve, show
from lifecycle.help_format import ReadableHelp

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, cls=ReadableHelp,
                  help="Run a SaaS vendor's support policy: quota, billing, arrears, standby, backups, exports.")
app.add_typer(db.db_app, name="db")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(run.run_app, name="run")
app.command("import")(imports.import_)
app.command()(show.show)
app.command()(demo.demo)
app.command()(serve.up)
app.command()(serve.deploy)
app.command()(serve.worker)
app.command("helpdesk-webhook")(serve.helpdesk_webhook)

#: the exit of a command interrupted by Ctrl-C (128 + SIGINT), as typer returns it
INTERRUPTED = 130


def main() -> None:
    """The command, then, in the command's own process, an exit no leftover thread can hold (_bounded_exit)."""
    import threading

    here = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminated) if here else None
    try:
        _main()
    except SystemExit as exit_:
        code = exit_.code
        if _the_process_is_this_command():
            _bounded_exit(0 if code is None else code if isinstance(code, int) else 1)
        raise
    finally:
        if here and previous is not None:
            signal.signal(signal.SIGTERM, previous)


class Terminated(BaseException):
    """A SIGTERM (a supervisor's stop, `kill`): raised where the command stands, so that what it holds is let go
    as for a Ctrl-C (a transaction rolled back, an upload cancelled), then said in one line (_main)."""

    def __init__(self, signum: int):
        super().__init__(f"signal {signum}")
        self.signal = signum


def _terminated(signum, _frame) -> None:
    raise Terminated(signum)


def _the_process_is_this_command() -> bool:
    """Whether this process is `lifecycle` itself (its script, or `python -m lifecycle.cli`), not a program that
    calls main() and goes on (the tests' in-process commands): only then may its end be forced."""
    import os

    started = sys.modules.get("__main__")
    spec = getattr(started, "__spec__", None)
    return (spec is not None and spec.name in ("lifecycle.cli", "lifecycle.cli.__main__")) \
        or os.path.basename(getattr(started, "__file__", None) or "") == "lifecycle"


def _main() -> None:
    """Every known mistake is one line and exit 2; a condition of the world (a store or server that cannot be
    reached, a full disk, a refused permission) one line and exit 1; only a bug prints a traceback, and says
    it is one."""
    from lifecycle.cli.errors import argument_problem, usage_line, users_mistake
    from lifecycle_config.conditions import Unavailable, is_world_condition, one_line

    problem = argument_problem(sys.argv[1:])
    if problem:
        typer.echo(f"lifecycle: {problem}", err=True)
        sys.exit(2)
    try:
        import lifecycle_config
        from lifecycle_config import clock

        clock.check()  # a malformed LIFECYCLE_TODAY stops every command before it starts
        lifecycle_config.check()  # and so does a LIFECYCLE_HOME (any path) holding a control character
        # not standalone: a mistake in the command line comes back here, to be said in one line (usage_line)
        # rather than in typer's usage box, which echoes the value given whole
        code = app(standalone_mode=False)
    except KeyboardInterrupt:
        code = INTERRUPTED
    except Exception as error:  # noqa: BLE001 - the last word: a user's mistake, the world, or a bug
        said = usage_line(error)
        if said is not None and type(error).__name__ == "NoArgsIsHelpError":  # `lifecycle run`: its help, printed
            sys.exit(2)
        if said is not None:
            typer.echo(f"lifecycle: {said}", err=True)
            sys.exit(2)
        if isinstance(error, typer.Abort):  # a prompt answered with Ctrl-D
            typer.echo("Aborted!", err=True)
            sys.exit(1)
        if isinstance(error, Unavailable) or (is_world_condition(error) and not users_mistake(error)):
            typer.echo(f"lifecycle: {one_line(error)}", err=True)
            sys.exit(1)
        if users_mistake(error):
            typer.echo(f"lifecycle: {one_line(error)}", err=True)
            sys.exit(2)
        import traceback

        traceback.print_exc()
        typer.echo(f"lifecycle: this is a bug, not something you did wrong ({type(error).__name__}); please report "
                   f"it with the traceback above", err=True)
        sys.exit(1)
    except BaseException as error:  # a SIGTERM (Prefect's own handler in a flow run raises its TerminationSignal,
        # then gives the signal again to the handler it found, Terminated's): one line, then the signal's own end
        if not isinstance(error, Terminated) and type(error).__name__ != "TerminationSignal":
            raise
        typer.echo("lifecycle: terminated (SIGTERM)", err=True)
        _end_by_signal(getattr(error, "signal", None) or signal.SIGTERM)
    if code == INTERRUPTED:  # typer returns a Ctrl-C in a command as this code: said in one line, as any end
        typer.echo("lifecycle: interrupted (Ctrl-C)", err=True)
    sys.exit(code if isinstance(code, int) and not isinstance(code, bool) else 0)


#: how long the interpreter's own exit (joining threads, exit handlers) may take once the command said its last line
EXIT_SECONDS = 15.0


def _bounded_exit(code: int) -> None:
    """The command's line is said: from here, no thread may hold the process. A worker thread stuck in a store's read
    (s3transfer's, not a daemon) held a finished `run export` for minutes at exit, and a Ctrl-C there printed the
    interpreter's traceback. Past EXIT_SECONDS, or at a Ctrl-C or SIGTERM meanwhile, the process ends with its
    status without waiting (os._exit); a normal exit, far shorter, never sees it."""
    import os
    import threading

    def now(*_) -> None:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)

    if threading.current_thread() is threading.main_thread():  # a Ctrl-C while threads are joined: no traceback
        signal.signal(signal.SIGINT, now)
        signal.signal(signal.SIGTERM, now)
    timer = threading.Timer(EXIT_SECONDS, now)
    timer.daemon = True
    timer.start()


def _end_by_signal(signum: int) -> None:
    """End as the signal's default would (the status a shell or a supervisor sees for any SIGTERMed command)."""
    import os

    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    os._exit(128 + signum)  # not reached: the signal ends the process
