"""`lifecycle db`: the ledger's schema, what it holds that today's import rules refuse, and a ledger snapshot
restored into a new database. No Prefect."""

from __future__ import annotations

import typer

from lifecycle.cli.common import fail, ledger, note
from lifecycle.help_format import ReadableHelp

db_app = typer.Typer(no_args_is_help=True, cls=ReadableHelp, help="The ledger's schema.")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the ledger or migrate it to the newest schema."""
    import lifecycle_config as config
    from lifecycle.cli.common import refuse_another_homes_ledger
    from ledger.migrate import upgrade

    refuse_another_homes_ledger()  # another home's ledger is refused before a migration touches it
    before, after = upgrade(config.database_url())
    typer.echo(f"ledger at {after}" + (" (already current)" if before == after else f" (was {before or 'empty'})"))
    _warn_unsafe_ids()
    flags = _flags()
    typer.echo(f"ledger checked: {_counted(flags)} that today's import rules would refuse; `lifecycle db check` lists "
               f"them" if flags else "ledger checked: nothing to flag")


@db_app.command("adopt")
def db_adopt(
    server_gone: bool = typer.Option(False, "--server-gone",
                                     help="The old home's machine is gone for good: take the ledger over without "
                                          "asking its server (which, while it answers or cannot be reached, "
                                          "refuses the move)."),
) -> None:
    """Make this LIFECYCLE_HOME the one that serves the ledger it is pointed at: an installation moved to a new
    home or machine. Refused while the home that holds it still runs `lifecycle up` (stop it first); the move is
    kept in the audit log. Bring the old home's master key, settings and storage along first."""
    import os

    import lifecycle_config as config
    from ledger.installation import claim, claim_of, ledger_looked_at, other_homes_file, this_home
    from lifecycle_config.installation import without_password

    missing = _no_ledger_to_adopt(config.database_url())
    if missing:
        fail(missing, 2)
    theirs = other_homes_file(config.database_url())
    if theirs:
        fail(f"the ledger at {config.escaped(without_password(config.database_url()), 4096)} is the own ledger.db of "
             f"LIFECYCLE_HOME {config.escaped(theirs, 4096)}, which serves it whatever its claim says: nothing was "
             f"done; to move the installation here, stop that home's `lifecycle up` and move its ledger.db (with its "
             f"master key and settings) into this LIFECYCLE_HOME", 2)
    home, host = this_home()
    with ledger_looked_at(config.database_url()) as look:  # only read: a refused adopt migrates nothing either
        seen = claim_of(look) if look is not None else None
    if seen and (seen["home"], seen["host"]) != (home, host):
        problem = _still_served(seen, host, ask_its_server=not server_gone)
        if problem:
            fail(problem, 2)
    engine = ledger(held_elsewhere_too=False)
    held = claim_of(engine)
    if held and (held["home"], held["host"]) == (home, host):
        typer.echo(f"this LIFECYCLE_HOME ({home} on {host}) serves the ledger already; nothing to do")
        return
    if held and held != seen:  # claimed meanwhile: asked again
        problem = _still_served(held, host, ask_its_server=not server_gone)
        if problem:
            fail(problem, 2)
    # where this home's server answers: workers and shells on other machines (PREFECT_API_URL set to it, no `up`
    # of their own) are its clients, as they were the old home's. A PREFECT_API_URL whose server serves another
    # installation is refused, as every command refuses it: recorded, it made that installation's machines
    # clients of this ledger
    if os.environ.get("PREFECT_API_URL"):
        from lifecycle.cli.serve import refuse_explicit_server

        refuse_explicit_server()
    claim(engine, how="adopt", adopt=True, actor="lifecycle db adopt",
          api_url=os.environ.get("PREFECT_API_URL") or (config.server_record() or {}).get("api_url"))
    typer.echo(f"this LIFECYCLE_HOME ({home} on {host}) now serves the ledger at "
               f"{config.escaped(without_password(config.database_url()), 4096)}"
               + (f"; it was served by {config.escaped(held['home'], 4096)} on {config.escaped(held['host'])}, which now "
                            f"refuses it" if held else ""))


def _no_ledger_to_adopt(url: str) -> str | None:
    """Why `db adopt` has nothing to take over at `url`: no file there, or a database that is not a migrated ledger
    (a mistyped URL would otherwise be made into an empty ledger and claimed, and this home would serve nothing of
    the installation). A ledger whose installation row is missing (a snapshot from before it existed, a ledger a
    test emptied) is still a ledger: its identity is made at first use, as for any command. Only read (a SQLite
    file opened read-only): nothing is created nor changed."""
    import sqlite3

    from sqlalchemy import inspect, text

    import lifecycle_config as config
    from ledger.db import ledger_engine
    from ledger.installation import read_only_uri
    from lifecycle_config.installation import sqlite_file, without_password

    shown = config.escaped(without_password(url), 4096)
    hint = ("nothing was done; check LIFECYCLE_DATABASE_URL: `lifecycle db adopt` takes over an installation's "
            "existing ledger")
    path = sqlite_file(url)
    if path is not None:
        if not path.is_file():
            return f"there is no ledger at {shown} (no such file): {hint}"
        try:
            with sqlite3.connect(read_only_uri(path), uri=True) as database:
                tables = {row[0] for row in database.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                versioned = "alembic_version" in tables and database.execute(
                    "SELECT version_num FROM alembic_version").fetchone() is not None
        except sqlite3.Error as error:
            return f"the file at {shown} is not a ledger ({error}): {hint}"
    else:
        engine = ledger_engine()
        tables = set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            versioned = "alembic_version" in tables and connection.execute(
                text("SELECT version_num FROM alembic_version")).first() is not None
    if not versioned:
        return f"the database at {shown} is not a ledger (empty, or never migrated): {hint}"
    return None


def _still_served(held: dict, host: str, *, ask_its_server: bool = True) -> str | None:
    """Why the ledger may not move yet: the home that holds it still runs `lifecycle up`. On this machine its
    home's up.lock says so exactly (the kernel frees it when that `up` ends, however it ends); on another one,
    its server is asked when its address can be reached from here (a loopback address cannot: stop it there),
    and anything but a refused connection or a name that no longer resolves counts as running (may_still_run):
    a server behind basic auth, a busy or hanging one, was taken for stopped and the ledger moved under it.
    `ask_its_server` False (`--server-gone`): its machine is gone for good, said by the user."""
    from urllib.parse import urlsplit

    from ledger.installation import up_running
    from lifecycle.server import may_still_run
    from lifecycle_config import escaped

    running = None
    if held["host"] == host:
        lock = up_running(held["home"])
        if lock:
            running = f"its `lifecycle up` still runs (it holds {lock})"
    elif ask_its_server and held.get("api_url") \
            and urlsplit(held["api_url"]).hostname not in ("127.0.0.1", "localhost", "::1", None):
        seen = may_still_run(held["api_url"])
        if seen:
            running = f"its server at {escaped(held['api_url'], 4096)} {seen}"
    if running is None:
        return None
    where = escaped(held["host"])
    return (f"the ledger is served by LIFECYCLE_HOME {escaped(held['home'], 4096)} on {where}, and "
            f"{running}: nothing was done; stop that `lifecycle up` (Ctrl-C in its terminal on {where}), then run "
            f"`lifecycle db adopt` again"
            + ("" if held["host"] == host else f" (if {where} is gone for good: `lifecycle db adopt --server-gone`)"))


@db_app.command("check")
def db_check() -> None:
    """List the stored rows today's import rules would refuse (data an older release let in), one line each:
    table, id, rule. Exit 1 if any, 0 if none. Changes nothing."""
    flags = _flags()
    for flag in flags:
        typer.echo(flag.line())
    if flags:
        fail(f"ledger checked: {_counted(flags)} that today's import rules would refuse (correct them and import "
             f"them again: docs/how-to/moving-in-from-an-older-release.md)", 1)
    typer.echo("ledger checked: nothing to flag")


def _counted(flags: list) -> str:
    return f"{len(flags)} problem(s) in {len({(flag.table, flag.id) for flag in flags})} stored row(s)"


def _flags() -> list:
    from ledger.db import session_scope
    from ledger.stored_check import stored_problems

    with session_scope(ledger()) as session:
        return stored_problems(session)


def _warn_unsafe_ids() -> None:
    """Ids an older release let in that could reach past their place: said once per id, on stderr."""
    from ledger.db import session_scope
    from ledger.queries import unsafe_ids

    with session_scope(ledger()) as session:
        found = unsafe_ids(session)
    for what, value, problem in found:
        note(f"warning: {what} {value!r} has an unsafe id ({problem}); "
             + ("backups skip this customer until it has a new id" if what == "customer" else "kept as it is"))


@db_app.command("restore-snapshot")
def db_restore_snapshot(
    backup_id: str = typer.Argument(..., help="A ledger snapshot id (lifecycle show backups: kind ledger)."),
    to: str = typer.Option(..., "--to", help="SQLAlchemy URL of a new, empty ledger database."),
    master_key_file: str = typer.Option(None, "--master-key-file",
                                        help="The master key's escrow copy (lifecycle keys export), when this "
                                             "home's key is lost; LIFECYCLE_MASTER_KEY_FILE does the same."),
) -> None:
    """Restore a snapshot of the ledger (taken by the nightly backup) into a new database."""
    import os

    if master_key_file is not None:
        from lifecycle_config.masterkey import VARIABLE

        if not os.path.isfile(master_key_file):
            fail(f"--master-key-file {master_key_file!r}: no such file", 2)
        os.environ[VARIABLE] = os.path.abspath(master_key_file)
    from lifecycle.cli.common import refuse_in_a_client_home
    from lifecycle.cli.storage import installation_storage
    from lifecycle_config import database_url_problem, escaped
    from lifecycle_config.conditions import Unavailable, one_line
    from lifecycle_config.masterkey import MasterKeyMissing
    from operations.restore import restore_ledger_snapshot

    problem = database_url_problem(to) or _target_file_problem(to)
    if problem:
        fail(f"--to {escaped(to)} {problem}", 2)
    to = _absolute(to)
    engine = ledger()
    refuse_in_a_client_home(engine, "`lifecycle db restore-snapshot` would read the snapshot with this home's own "
                                    "master key file and storage settings")
    storage = installation_storage()
    inside = _target_inside_storage(to, storage)
    if inside:
        fail(f"--to {escaped(to)} {inside}", 2)
    try:
        loaded = restore_ledger_snapshot(backup_id, to, storage, engine=engine)
    except ValueError as error:  # no such snapshot, a target that is not empty: the user's to fix
        fail(str(error), 2)
    except MasterKeyMissing as error:  # the home's master key lost, and no escrow copy given
        fail(str(error), 2)
    except Unavailable as error:  # the target's disk full, its server down: the world's, said as it is
        fail(one_line(error))
    except Exception as error:  # noqa: BLE001 - one line for the user (a database's error: never its SQL)
        fail(f"the snapshot {backup_id} could not be restored into --to {escaped(to)}: {one_line(error)}")
    typer.echo(f"restored {sum(loaded.values())} rows in {len(loaded)} tables into {_said(to)}")


def _target_file_problem(url: str) -> str | None:
    """Why the SQLite file --to names cannot take a snapshot (a folder, a FIFO, a device, a file that is no
    database, a path under a file), said before the ledger is even opened: SQLite told a device or a FIFO
    as a full disk, exit 1, after the snapshot was fetched."""
    from sqlalchemy.engine import make_url

    from lifecycle_config.databases import sqlite_file_problem

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return sqlite_file_problem(parsed.database)


def _target_inside_storage(url: str, storage) -> str | None:
    """Why the SQLite file --to names must not take the snapshot: it is inside the storage's folder, among the
    stored objects (lifecycle.cli.storage.inside_storage_problem). Another database is no file of ours."""
    from sqlalchemy.engine import make_url

    from lifecycle.cli.storage import inside_storage_problem

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return inside_storage_problem(parsed.database, storage)


def _absolute(url: str) -> str:
    """A SQLite URL with its file's path made absolute (`sqlite:///new.db` from the folder the command runs
    in): what the success line prints is where the snapshot was written, not a path the reader must resolve
    against a folder they may have left. Other URLs as given."""
    import os

    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:") \
            or os.path.isabs(parsed.database):
        return url
    return parsed.set(database=os.path.abspath(parsed.database)).render_as_string(hide_password=False)


def _said(url: str) -> str:
    """A database URL as a line prints it: its password as ***."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
