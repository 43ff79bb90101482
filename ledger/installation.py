"""This ledger's identity (table `installation`): made by the migration that creates the table, or at
first use for a ledger whose row is missing (emptied by a test, a snapshot from before it existed)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.engine import Engine

from ledger.db import insert_if_missing, now, session_scope
from ledger.models import Installation


def installation_id(engine=None) -> str:
    """The ledger's installation id, made once if it has none (two first uses agree: one row only)."""
    with session_scope(engine) as session:
        found = session.scalar(select(Installation.id))
    if found:
        return found
    with session_scope(engine, write=True) as session:
        insert_if_missing(session, Installation, only_row=True, id=str(uuid.uuid4()), created_at=now())
    with session_scope(engine) as session:
        return session.scalar(select(Installation.id))


# --- which home serves this ledger (table `ledger_claim`) --------------------------------------------------------

def this_home() -> tuple[str, str]:
    """This process's home and host, as a claim names them: the home's resolved path, the machine's name (the
    same path on two machines is two homes)."""
    import socket

    import lifecycle_config as config

    return str(config.home().resolve()), socket.gethostname()


def claim_of(engine=None) -> dict | None:
    """The ledger's claim (home, host, api_url, pid, claimed_at, how), or None when no home claimed it yet. A
    database without the table (not a ledger, or not migrated yet) has none."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from ledger.models import LedgerClaim

    try:
        with session_scope(engine) as session:
            row = session.get(LedgerClaim, True)
    except (OperationalError, ProgrammingError) as error:
        if LedgerClaim.__tablename__ in str(error.orig):
            return None
        raise
    return None if row is None else _as_dict(row)


@contextmanager
def ledger_looked_at(url: str) -> Iterator[Engine | None]:
    """An engine that only reads the ledger at `url`, for the checks a command makes before the ledger is migrated
    (a refused command writes nothing to another home's ledger). The product's SQLite engine turns a file to WAL
    as it connects (its header rewritten, a log made beside it): here a SQLite file is opened read-only, and there
    is None when there is no file yet (nothing to read). Another database is read through its own engine."""
    import sqlite3

    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from lifecycle_config.databases import BUSY_TIMEOUT_MS, engine_for
    from lifecycle_config.installation import sqlite_file

    path = sqlite_file(url)
    if path is None:
        yield engine_for(url)
        return
    if not path.is_file():
        yield None
        return
    uri = read_only_uri(path)
    engine = create_engine("sqlite://", poolclass=NullPool,
                           creator=lambda: sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000))
    try:
        yield engine
    finally:
        engine.dispose()


def read_only_uri(path) -> str:
    """The URI that opens the SQLite file at `path` only to read it, leaving nothing beside it. A WAL file opened
    even read-only gets a -wal and a -shm beside the name it is opened by (a refused home's name of another home's
    file kept them): with no log beside this name there is nothing but the file to read, read as it is
    (immutable: no lock taken, no log made)."""
    from pathlib import Path

    uri = f"{Path(path).resolve().as_uri()}?mode=ro"
    return uri if Path(f"{path}-wal").exists() else uri + "&immutable=1"


def recorded_installation(engine) -> str | None:
    """The ledger's installation id as it is recorded, only read: None when it has none yet, or no table for it
    (a schema older than identities). installation_id makes one."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    try:
        with session_scope(engine) as session:
            return session.scalar(select(Installation.id))
    except (OperationalError, ProgrammingError):
        return None


class LedgerHeld(RuntimeError):
    """Another home holds the ledger: the one-line reason (lifecycle_config.installation.held_elsewhere)."""


def homes_own_ledger() -> bool:
    """Whether the ledger this process uses is the home's own file ($LIFECYCLE_HOME/ledger.db): always the home's
    to serve, whatever its claim says. The claim names a home by its path and machine: a home moved (`mv`),
    copied with its file (`cp -r`), or run in a container recreated under a new host name holds a claim naming
    where it was, and no other home can be using that file."""
    import lifecycle_config as config
    from lifecycle_config.installation import sqlite_file

    own = config.home() / "ledger.db"  # config.home() is resolved already
    # a symlinked ledger.db is another file's name in this home (another home's ledger, which that home serves),
    # and so is a hard link (two names of one file, `ln`): only a file that is really, and only, in this folder is
    # the home's own
    return not own.is_symlink() and sqlite_file(config.database_url()) == own and _names_of(own) == 1


def _names_of(path) -> int:
    """How many names (hard links) the file at `path` has; 0 when there is none."""
    import os

    try:
        return os.stat(path).st_nlink
    except OSError:
        return 0


def hard_linked_ledger(engine=None) -> str | None:
    """Why this process must not work on its SQLite ledger file (None: it may): the file has more than one name
    (`ln`, a hard link: another home's ledger.db, say). SQLite keeps a file's write-ahead log beside the name it
    was opened by, so two names of one file are two logs: each name reads the file without the other's last
    writes, and the checkpoints of one overwrite what the other has yet to write back (a home linked to another's
    ledger.db saw none of its 50 customers, and wrote a log of its own onto the shared file). A symbolic link is
    no such risk (SQLite follows it to the file's one name). Only the home the ledger's claim names keeps it (its
    `up` serves that file, and the other name is the one to remove); every other home is refused."""
    import lifecycle_config as config
    from lifecycle_config import escaped
    from lifecycle_config.installation import sqlite_file

    path = sqlite_file(config.database_url())
    names = 0 if path is None else _names_of(path)
    if names <= 1:
        return None if path is None else _mounted_problem(path, engine)
    held = claim_of(engine)
    if held is not None and (held["home"], held["host"]) == this_home():
        return None
    return (f"the ledger file {escaped(str(path), 4096)} has {names} names (a hard link, `ln`): SQLite keeps a log "
            f"per name, so two names of one ledger split its writes: nothing was done; remove the other name (a "
            f"copy of a home is made with `cp`, not `ln`), or use the LIFECYCLE_HOME that serves it")


def claimed_homes_file(path, claim: dict | None) -> str | None:
    """The home the claim names when its ledger.db is the very file at `path` under another name of one link: a
    bind mount (`mount --bind $B/ledger.db $F/ledger.db`) or a container volume gives another home's file a name
    in this home, one link and no symbolic link, so only the file's identity (st_dev, st_ino) tells it. SQLite
    keeps its log beside the name, so two homes would write two logs onto one file. None: the claim names this
    home (or the same folder under another name: a bind mount of the whole home is that home), names no home
    whose ledger.db is here to look at, or one whose ledger.db is another file."""
    import os
    from pathlib import Path

    import lifecycle_config as config

    if path is None or not claim or not claim.get("home"):
        return None
    theirs = Path(str(claim["home"]))
    try:
        if os.path.samefile(theirs, config.home()):
            return None
        mine, other = os.stat(path), os.stat(theirs / "ledger.db")
    except OSError:  # that home is not on this machine, or holds no ledger.db
        return None
    return str(theirs) if (mine.st_dev, mine.st_ino) == (other.st_dev, other.st_ino) else None


def _mounted_problem(path, engine) -> str | None:
    """Why this home must not work on its SQLite ledger file of one name (None: it may): the claim names another
    home whose ledger.db is this very file (claimed_homes_file), a bind mount or a volume of that home's
    ledger. Only read: the claim through the read-only engine of the check."""
    from sqlalchemy.exc import SQLAlchemyError

    from lifecycle_config import escaped

    try:
        held = claim_of(engine)
    except SQLAlchemyError:  # not a ledger, or not one to read: the migration says what it is
        return None
    theirs = claimed_homes_file(path, held)
    if theirs is None:
        return None
    home, host = this_home()
    return (f"the ledger file {escaped(str(path), 4096)} of this LIFECYCLE_HOME ({escaped(home, 4096)} on "
            f"{escaped(host)}) is the very file of the ledger.db of LIFECYCLE_HOME {escaped(theirs, 4096)} (the "
            f"same device and inode: a bind mount or a volume), which that home serves: SQLite keeps a log per name, so "
            f"two names of one ledger split its writes: nothing was done; remove the mount, or use that home")


def other_homes_file(database_url: str) -> str | None:
    """The home whose own ledger.db `database_url` is, when that is not this home: a file named ledger.db whose
    folder holds a home's server.json or up.lock. That home's `up` serves it whatever a claim says
    (homes_own_ledger), so no other home may take it (`db adopt`); None for any other database."""
    import lifecycle_config as config
    from lifecycle_config.installation import sqlite_file

    path = sqlite_file(database_url)
    if path is None:
        return None
    if path.name != "ledger.db" or path.parent == config.home():
        return None
    if (path.parent / "server.json").exists() or (path.parent / "up.lock").exists():
        return str(path.parent)
    return None


def _serves_another_file(home: str) -> bool:
    """Whether the `up` of `home` (a folder on this machine) serves a ledger file of its own other than this
    process's ledger: a home with its own ledger.db works on no other ledger file, so the original of a copied
    home (`cp -r`, its claim copied too) runs its `up` on its own file, not on the copy's."""
    import os
    from pathlib import Path

    import lifecycle_config as config

    theirs, ours = Path(home) / "ledger.db", config.home() / "ledger.db"
    try:
        return theirs.is_file() and not os.path.samefile(theirs, ours)
    except OSError:
        return False


def up_running(home: str) -> str | None:
    """The up.lock of `home` (a folder on this machine) while its `lifecycle up` runs (the kernel frees the lock
    when that `up` ends, however it ends), else None."""
    import fcntl
    from pathlib import Path

    lock = Path(home) / "up.lock"
    if not lock.is_file():
        return None
    with lock.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return str(lock)
    return None


def claim(engine=None, *, how: str, api_url: str | None = None, pid: int | None = None, adopt: bool = False,
          joins_server: bool = False, actor: str = "lifecycle") -> dict | None:
    """Make this home the one that serves the ledger (`up`: how="up"; `db adopt`: adopt=True, how="adopt").
    Checked and written in one transaction with the row locked, so two homes starting `up` at once on one ledger
    cannot both take it: the second finds the first's claim and gets LedgerHeld (unless `adopt`, or the ledger is
    the home's own file: homes_own_ledger). An `up` that joins the serving home's server (`joins_server`:
    PREFECT_API_URL given, not a server this `up` starts) is one more machine of that installation: it writes
    nothing, the claim stays the serving home's. A move from one home to another is kept in the audit log.
    Returns the claim as it was before (None: there was none), for `give_back` when the `up` fails to start."""
    from ledger import audit
    from ledger.models import LedgerClaim
    from lifecycle_config import escaped
    from lifecycle_config.installation import held_elsewhere, same_server, without_password

    home, host = this_home()
    # the claim is a row of the ledger, in its snapshots and backups: a server's address, never its password
    api_url = without_password(api_url) if api_url else api_url
    with session_scope(engine, write=True) as session:
        made = insert_if_missing(session, LedgerClaim, only_row=True, home=home, host=host, api_url=api_url, pid=pid,
                                 claimed_at=now(), how=how)
        row = session.get(LedgerClaim, True, with_for_update=True, populate_existing=True)
        previous = None if made else _as_dict(row)
        before = {"home": row.home, "host": row.host}
        if not made and before != {"home": home, "host": host}:
            if not adopt and joins_server and same_server(previous, api_url, host=host):
                return previous  # a client of the serving home's server: that home still serves the ledger
            mounted = claimed_homes_file(_own_path(), previous) is not None  # another home's file, mounted here
            if not adopt and (not homes_own_ledger() or mounted):
                problem = held_elsewhere(previous, home=home, host=host, ledger=_shown_ledger(),
                                         api_url=api_url if joins_server else None)
                if problem:
                    raise LedgerHeld(problem)
            if not adopt and previous["host"] == host and _serves_another_file(previous["home"]) is False \
                    and (running := up_running(previous["home"])):
                # the home's own file, adopted by another home of this machine whose `up` still runs: two `up`s
                # would serve one ledger
                raise LedgerHeld(f"the ledger at {escaped(_shown_ledger(), 4096)} is served by LIFECYCLE_HOME "
                                 f"{escaped(previous['home'], 4096)} on {escaped(host)}, whose `lifecycle up` still runs (it holds {running}): nothing was "
                                 f"done; stop that `lifecycle up` first, then run `lifecycle db adopt` here")
        row.home, row.host, row.api_url, row.pid, row.claimed_at, row.how = home, host, api_url, pid, now(), how
        if before != {"home": home, "host": host}:
            audit.record(session, "ledger_adopted" if adopt else "ledger_claimed", customer_id=None, before=before,
                         after={"home": home, "host": host}, actor=actor)
    return previous


def give_back(previous: dict | None, *, pid: int | None, engine=None, actor: str = "lifecycle") -> None:
    """Undo this process's claim (an `up` that failed before it served anything: its port taken, its server
    not starting): the claim goes back to what it was, so the home that served the ledger is not refused by
    a claim nobody serves under. Nothing is done when another process claimed it since."""
    from ledger import audit
    from ledger.models import LedgerClaim

    home, host = this_home()
    with session_scope(engine, write=True) as session:
        row = session.get(LedgerClaim, True, with_for_update=True, populate_existing=True)
        if row is None or (row.home, row.host, row.pid) != (home, host, pid):
            return
        if previous is None:
            session.delete(row)
        else:
            for name, value in previous.items():
                setattr(row, name, value)
        if previous is not None and (previous["home"], previous["host"]) != (home, host):
            audit.record(session, "ledger_claim_given_back", customer_id=None, before={"home": home, "host": host},
                         after={"home": previous["home"], "host": previous["host"]}, actor=actor)


def _as_dict(row) -> dict:
    return {"home": row.home, "host": row.host, "api_url": row.api_url, "pid": row.pid, "claimed_at": row.claimed_at,
            "how": row.how}


def _own_path():
    """The SQLite file this process's ledger is, or None (another database)."""
    import lifecycle_config as config
    from lifecycle_config.installation import sqlite_file

    return sqlite_file(config.database_url())


def _shown_ledger() -> str:
    import lifecycle_config as config
    from lifecycle_config.installation import without_password

    return without_password(config.database_url())
