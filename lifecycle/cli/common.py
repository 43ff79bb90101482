"""What every command group of the CLI shares: how it says a refusal and a note, the ledger it works on,
and the checks of a month or a day given as an option. No Prefect imported here (installation_storage asks
the server, when one answers, for the storage block)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Optional

import typer


def fail(message: str, code: int = 1):
    """One line on stderr, `lifecycle: ...`, and the command ends with `code` (2: the user's to fix)."""
    typer.echo(f"lifecycle: {message}", err=True)
    raise typer.Exit(code)


def note(message: str) -> None:
    typer.echo(message, err=True)


def ledger(*, held_elsewhere_too: bool = True):
    """The ledger engine, migrated to the newest schema if it is missing or old. Refused (one line, exit 2) when
    it is another installation's, or another home serves it (`held_elsewhere_too`: only `db adopt` skips that)."""
    import lifecycle_config as config
    from ledger.db import ledger_engine
    from ledger.installation import installation_id
    from ledger.migrate import ensure_current

    refuse_another_homes_ledger(held_elsewhere_too=held_elsewhere_too)
    engine = ledger_engine()
    ensure_current(engine, config.database_url())
    # again once migrated: a ledger that had no identity yet gets one here, which may be another installation's
    problem = (_another_installations_ledger(lambda: installation_id(engine))
               or (_held_by_another_home(engine) if held_elsewhere_too else None))
    if problem:
        fail(problem, 2)
    return engine


def refuse_another_homes_ledger(*, held_elsewhere_too: bool = True) -> None:
    """One line, exit 2, when this home must not use the ledger it is pointed at (another installation's, a second
    name of its file, served by another home): said from what the ledger records, only read, before a migration
    writes to it (an older schema's file of another home was migrated, then refused)."""
    from sqlalchemy.exc import SQLAlchemyError

    import lifecycle_config as config
    from ledger.installation import hard_linked_ledger, ledger_looked_at, recorded_installation

    with ledger_looked_at(config.database_url()) as look:
        linked = hard_linked_ledger(look)  # before the migration writes to it through a second name
        if linked:
            fail(linked, 2)
        try:
            problem = None if look is None else (
                _another_installations_ledger(lambda: recorded_installation(look))
                or (_held_by_another_home(look) if held_elsewhere_too else None))
        except SQLAlchemyError:  # not a ledger, or not one to read: what the migration says of it is said then
            problem = None
    if problem:
        fail(problem, 2)


def _held_by_another_home(engine) -> Optional[str]:
    """Why this home must not work on a ledger another home serves (lifecycle_config.installation.held_elsewhere):
    its `lifecycle up` claimed it. The home's own ledger file is always its own (a copied home's file names the
    home it was copied from until its own `up` claims it); a command whose PREFECT_API_URL is that home's server
    is one of its clients (a worker or shell on another machine)."""
    import os

    import lifecycle_config as config
    from ledger.installation import claim_of, homes_own_ledger, this_home
    from lifecycle_config.installation import held_elsewhere, without_password

    url = config.database_url()
    if homes_own_ledger():
        return None
    home, host = this_home()
    return held_elsewhere(claim_of(engine), home=home, host=host, ledger=without_password(url),
                          api_url=os.environ.get("PREFECT_API_URL") or (config.server_record() or {}).get("api_url"))


def serving_home(engine) -> Optional[dict]:
    """The claim of the home that serves the ledger when this home is only one of its clients: its
    PREFECT_API_URL is that home's server (a worker machine, an ops shell of the same installation; any other
    home was refused by `ledger`). None: this home serves the ledger (or its own file), or no home claimed it."""
    from ledger.installation import claim_of, homes_own_ledger, this_home

    if homes_own_ledger():
        return None
    claim = claim_of(engine)
    if not claim or (claim.get("home"), claim.get("host")) == this_home():
        return None
    return claim


def refuse_in_a_client_home(engine, what: str) -> None:
    """One line, exit 2, when this home is a client of the home that serves the ledger (serving_home) and the
    command would act with this home's own settings: `what` says which command and what it would use. The
    installation's master key file, storage defaults, mail and secrets are that home's (its environment, its
    `objects/`, its `keys/`), which a client has no way to read: a client's own copies are another store, or a
    key file the other machines do not share (`keys rotate-master` there left every other machine's key file
    without the key it rewrapped every data key under). Said before anything is read or written."""
    claim = serving_home(engine)
    if claim is None:
        return
    from ledger.installation import this_home
    from lifecycle_config import escaped

    home, host = this_home()
    fail(f"this LIFECYCLE_HOME ({escaped(home, 4096)} on {escaped(host)}) is a client of the installation whose "
         f"ledger LIFECYCLE_HOME {escaped(str(claim.get('home')), 4096)} on {escaped(str(claim.get('host')))} serves: "
         f"{what}, not that home's: run it in that home, on {escaped(str(claim.get('host')))}; nothing was done", 2)


def _another_installations_ledger(identity) -> Optional[str]:
    """Why this home must not work on the ledger it is pointed at (lifecycle_config.installation.foreign_home):
    the home holds a ledger of its own, of another installation. `identity()` is the ledger's installation id
    (None: it records none yet, and says nothing here). Its own ledger is only read, never made nor migrated
    here; one that cannot be read says nothing."""
    import sqlite3

    import lifecycle_config as config
    from lifecycle_config.installation import foreign_claimed_home, foreign_home, ledger_location

    own_file = config.home() / "ledger.db"
    url = config.database_url()
    if not own_file.is_file():
        claimed = home_installation()
        if claimed is None:  # a fresh home (no ledger, no server yet): the ledger's claim says (above)
            return None
        ledger_id = identity()
        return None if ledger_id is None else foreign_claimed_home(claimed[0], ledger_id, home=str(config.home()),
                                                                   url=url, said_by=claimed[1])
    if ledger_location(url) == ledger_location(f"sqlite:///{own_file}"):
        return None
    try:
        with sqlite3.connect(f"{own_file.resolve().as_uri()}?mode=ro", uri=True) as own:
            row = own.execute("SELECT id FROM installation").fetchone()
    except sqlite3.Error:
        row = None
    ledger_id = identity()
    return ((None if ledger_id is None else foreign_home(row[0] if row else None, ledger_id, home=str(config.home()),
                                                         url=url, own_file=str(own_file)))
            or _another_ledger_file(url, own_file))


def _another_ledger_file(url: str, own_file: Path) -> Optional[str]:
    """Why a home with a ledger.db of its own must not work on another SQLite ledger file: a copy of a home (the
    same installation, its identity copied too) pointed at its original's ledger would work on it with the copy's
    settings, keys and outbox while no claim names either yet. Another database (the installation moved to
    PostgreSQL) is not refused here: the installation's identity says (foreign_home)."""
    import lifecycle_config as config
    from lifecycle_config.installation import sqlite_file

    if sqlite_file(url) is None:
        return None
    return (f"LIFECYCLE_DATABASE_URL={config.escaped(url, 4096)} is another ledger file than this LIFECYCLE_HOME's own "
            f"({config.escaped(str(own_file), 4096)}): nothing was done; use the LIFECYCLE_HOME of that ledger (its "
            f"settings, keys and storage are there), or move {config.escaped(str(own_file), 4096)} away if this home "
            f"now keeps its ledger in that file")


def home_installation() -> Optional[tuple[str, str]]:
    """The installation a home without a ledger file of its own belongs to, and what says so: the server.json
    `lifecycle up` wrote for it, else its own Prefect server's record (the Variable `up` and `deploy` register
    in the home's Prefect database, beside the blocks they saved there: terms, seller, storage, mail). None for
    a fresh home that has neither. Only read, never made here; what cannot be read says nothing."""
    import os
    import sqlite3

    import lifecycle_config as config
    from lifecycle_config.installation import VARIABLE

    recorded = config.server_record() or {}
    if isinstance(recorded.get("installation"), str) and recorded["installation"]:
        return recorded["installation"], str(config.server_file())
    database = Path(os.environ.get("PREFECT_HOME") or config.prefect_home()) / "prefect.db"
    if not database.is_file() or Path(os.environ.get("PREFECT_HOME") or config.prefect_home()) != config.prefect_home():
        return None  # a Prefect home shared outside this home (a user's profile) is no record of this home
    try:
        with sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True) as prefect:
            row = prefect.execute("SELECT value FROM variable WHERE name = ?", (VARIABLE,)).fetchone()
    except sqlite3.Error:
        return None
    try:
        value = json.loads(row[0]) if row else None
    except (TypeError, ValueError):
        value = row[0] if row else None
    return (value, f"{database} (its Prefect server's blocks and records)") if isinstance(value, str) and value else None


def ledger_terms(engine):
    """The terms the latest run used (a copy of the PolicyTerms block), else the defaults: imports
    check the same numbers the flows apply, without asking a Prefect server."""
    from ledger.db import session_scope
    from ledger.terms_copies import latest_terms

    with session_scope(engine) as session:
        return latest_terms(session)


def window():
    """The plausible window of a date given here (policy.window), from the terms the ledger keeps."""
    from policy.window import DateWindow

    return DateWindow.of(ledger_terms(ledger()))


def check_month(month: str, option: str = "--month") -> None:
    """A month of the form YYYY-MM within the window (9999-12, 0000-01: one line, exit 2, never a traceback)."""
    from policy.calendar import parse_month

    try:
        parse_month(month)
    except ValueError as error:
        fail(f"{option}: {error}", 2)
    problem = window().month_problem(month)
    if problem:
        fail(f"{option}: {problem}", 2)


def parse_day(text: Optional[str], option: str, *, past_only: bool = False) -> Optional[date]:
    """A day given as an option, within the window (no later than today for a fact of the past)."""
    if text is None:
        return None
    from policy.calendar import YearZero, parse_day as parse_iso_day

    try:
        day = parse_iso_day(text)  # digits 0-9 only: the shared parser says why another script's are refused
    except YearZero:  # 0000-01-01: before the window, said as 0001-01-01 is
        fail(f"{option} {window().problem(date.min, past_only=past_only, shown=text)}", 2)
    except ValueError as error:
        fail(f"{option} is {error}", 2)
    problem = window().problem(day, past_only=past_only)
    if problem:
        fail(f"{option} {problem}", 2)
    return day


def whole_number(option: str, *, minimum: Optional[int] = None, maximum: Optional[int] = None):
    """The parser of an integer option (`typer.Option(..., parser=whole_number("--sample", minimum=1))`): the
    digits 0-9 with an optional sign, as every number from outside (policy.digits), within its bounds;
    anything else one line and exit 2. Typer's int took `1_0` as 10 and Arabic-Indic or full-width digits as
    numbers, and told a mistake in a box of several lines."""
    if minimum is not None and maximum is not None:
        bounds = f"from {minimum} to {maximum}"
    elif minimum is not None:
        bounds = f"at least {minimum}"
    else:
        bounds = f"at most {maximum}"

    def parse(value):
        if isinstance(value, int):  # the option's default
            return value
        from policy.digits import parse_whole

        try:
            number = parse_whole(value, negative=True)  # the bounds below say what is allowed
        except ValueError as error:
            fail(f"{option}: {error}", 2)
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            fail(f"{option}: {number} is out of range: a whole number {bounds}", 2)
        return number

    parse.__name__ = "INTEGER"  # how --help names the value
    return parse


def not_a_file_problem(path) -> str | None:
    """Why `path` cannot be a file the CLI writes (--out): a symbolic link (writing through it would overwrite
    what it points to), or a FIFO, a device or a socket (writing would block for ever, or go elsewhere).
    None: missing, or a regular file. The link itself is looked at, never followed."""
    import os
    import stat

    from lifecycle_config import escaped, file_in_the_way

    under = file_in_the_way(path)
    if under is not None:  # it said "cannot be read (Not a directory)"
        return f"cannot be made: {escaped(str(under))} is a file, not a folder"
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as error:
        return f"cannot be used ({error.strerror or error})"
    if stat.S_ISLNK(mode):
        return "is a symbolic link: give the path of a regular file (a link is never written through)"
    for test, kind in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return f"is {kind}, not a regular file"
    return None


def write_file(path, data: bytes) -> None:
    """Write `data` as the file `path` whole: to a temporary file in its folder, then renamed over `path`
    (a reader never meets half a file; a link or a FIFO put there meanwhile is replaced, never followed or
    opened). The file gets the usual mode (0666 less the umask), as a plain write would give it."""
    import os
    import tempfile
    from pathlib import Path

    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def literal(cell: str) -> str:
    """Stored text as it is stored, each character a terminal would act on or hide written as its escape
    (`\\x1b`, `\\u202e`, a line break `\\x0a`): every entry refuses them now, but a ledger written before (a
    restored snapshot of an older version, a row typed in by hand) still holds them, and a table cell or a run's
    line must print what is stored, not let it recolour the terminal, forge a line or reorder it. The joiners of
    emoji and Indic scripts stay (policy.text.controls_escaped, which Markdown's literal text uses too)."""
    from policy.text import controls_escaped

    return controls_escaped(cell)
