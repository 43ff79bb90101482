"""Connections to the databases the configuration names: the ledger, the platform, the sandbox.

The same on SQLite and PostgreSQL. SQLite is the embedded default and several flow runs may write
at once (a worker runs flows in parallel): WAL lets readers go on while one writer commits, a busy
timeout makes writers queue instead of failing with "database is locked", and `BEGIN IMMEDIATE`
(asked for by `connection.info["write"]`) takes the write lock at the start of a write
transaction so two writers never deadlock on a lock upgrade. PostgreSQL URLs may be written
`postgresql://`: they are driven with psycopg 3, the driver we ship.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

from lifecycle_config.conditions import Unavailable, one_line

BUSY_TIMEOUT_MS = 30_000

#: what SQLite says when its file, its folder or its disk cannot be used (not a lock, not a bad statement)
SQLITE_WORLD = ("unable to open database file", "disk i/o error", "database or disk is full",
                "attempt to write a readonly database", "authorization denied")


class DatabaseUnavailable(Unavailable):
    """A database that cannot be reached or used now: its server down, its address wrong, its disk full."""


class DatabaseBusy(DatabaseUnavailable):
    """A SQLite database another process kept locked for longer than the busy timeout (another command or run
    writing to it, a backup holding it): nothing is wrong with it, it is only busy."""


def _busy(context) -> bool:
    """Whether SQLite gave up waiting for another connection's lock (after BUSY_TIMEOUT_MS)."""
    original = context.original_exception
    return context.dialect.name == "sqlite" and type(original).__name__ == "OperationalError" \
        and str(original).lower().startswith(("database is locked", "database table is locked"))


def _unusable(context) -> bool:
    """Whether a database error says the database cannot be used at all (not a statement's own fault)."""
    if context.is_disconnect:
        return True
    original = context.original_exception
    if context.dialect.name == "sqlite":
        return type(original).__name__ == "OperationalError" and str(original).lower().startswith(SQLITE_WORLD)
    # psycopg raises its base OperationalError (not a subclass: a deadlock, a lock, a cancelled query) when
    # no connection can be made
    return context.connection is None and type(original).__name__ == "OperationalError"


def _name(url) -> tuple[str, str]:
    """How the user knows this database (the ledger, the platform...) and what to correct if its address is wrong."""
    import lifecycle_config

    known = {"LIFECYCLE_DATABASE_URL": ("the ledger", lifecycle_config.database_url),
             "LIFECYCLE_PLATFORM_URL": ("the platform database", lifecycle_config.platform_url),
             "LIFECYCLE_SANDBOX_URL": ("the sandbox database", lifecycle_config.sandbox_url)}
    for variable, (name, configured) in known.items():
        try:
            if make_url(normalise_url(configured())) == url:
                # unset, the variable is no one's to correct: its default lies in LIFECYCLE_HOME
                return name, variable if lifecycle_config.setting(variable) else "LIFECYCLE_HOME"
        except Exception:  # noqa: BLE001 - a configuration that does not parse names no database
            continue
    return "the database", "its URL"


def said_in_one_line(engine: Engine) -> None:
    """A database that cannot be used raises DatabaseUnavailable: one line naming which database, where, why
    and what to do, never a traceback (lifecycle_config.conditions)."""

    @event.listens_for(engine, "handle_error")
    def _unavailable(context):
        if context.is_pre_ping:
            return None
        from lifecycle_config import escaped

        name, variable = _name(engine.url)
        where = escaped(engine.url.render_as_string(hide_password=True))  # a long LIFECYCLE_HOME or --to: cut
        if _busy(context):
            raise DatabaseBusy(f"{name} {where} is busy: another lifecycle command or run holds it (waited "
                               f"{BUSY_TIMEOUT_MS // 1000} s): try again once it has finished") from context.sqlalchemy_exception
        if not _unusable(context):
            return None
        remedy = "free its disk or let it be written" if context.dialect.name == "sqlite" else "start its server"
        raise DatabaseUnavailable(f"{name} {where} cannot be used ({one_line(context.original_exception)}): "
                                  f"{remedy}, or correct {variable}") \
            from context.sqlalchemy_exception


#: how every SQLite database file begins (its header string); an empty file is a database not yet written
SQLITE_HEADER = b"SQLite format 3\x00"


#: the files SQLite keeps beside a database `x.db` (x.db-journal, x.db-wal, x.db-shm): a database written under one
#: of those names (`db restore-snapshot --to sqlite:///ledger.db-journal`) was deleted by the next command that
#: opened x.db, which took it for a stale journal
SQLITE_COMPANIONS = ("-journal", "-wal", "-shm")


def sqlite_file_problem(path: str) -> str | None:
    """Why the file a SQLite URL names cannot be a database (None: it can): a folder, a FIFO, a device or a
    socket (SQLite said "disk I/O error" or "disk is full", blaming the world for a mistyped path; a FIFO
    could block), a file that is not a SQLite database, or a path under a file (its folder cannot be made).
    Looked at before SQLite opens it, so nothing is written; a path that cannot be looked at (a permission)
    is left to the open, which says it. Links are followed: a link to a database file is a database file."""
    import os
    import stat

    from lifecycle_config import escaped, file_in_the_way

    under = file_in_the_way(path)
    if under is not None:
        return f"cannot be made: {escaped(str(under))} is a file, not a folder"
    for suffix in SQLITE_COMPANIONS:  # ledger.db-journal beside ledger.db: SQLite owns that name
        if path.endswith(suffix) and os.path.isfile(path[:-len(suffix)]):
            return (f"is the name SQLite gives the {suffix[1:]} file of the database "
                    f"{escaped(os.path.basename(path[:-len(suffix)]))} beside it: opening that database deletes or "
                    f"rewrites it; name another file")
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    for test, kind in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return f"is {kind}, not a database file"
    try:
        with open(path, "rb") as stream:
            header = stream.read(len(SQLITE_HEADER))
    except OSError:
        return None
    if header and header != SQLITE_HEADER:
        return "is a file that is not a SQLite database"
    return None


def normalise_url(url: str) -> str:
    """Accept plain `postgresql://` URLs and drive them with psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # let SQLAlchemy issue BEGIN itself (pysqlite's own transaction handling defers it)
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if connection.info.get("write") else "BEGIN")


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            problem = sqlite_file_problem(parsed.database)
            if problem:  # the user's to correct (exit 2), before SQLite writes anything
                from lifecycle_config import Misconfigured, escaped

                name, variable = _name(parsed)
                raise Misconfigured(f"{name} {escaped(parsed.render_as_string(hide_password=True))} {problem}: correct "
                                    f"{variable}")
            folder = Path(parsed.database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                name, variable = _name(parsed)
                from lifecycle_config import escaped

                raise DatabaseUnavailable(f"{name} {escaped(parsed.render_as_string(hide_password=True))} cannot be "
                                          f"used (its folder {escaped(str(folder))} cannot be made: {error.strerror}): "
                                          f"let it be written, or "
                                          f"correct {variable}") from error
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        _sqlite_setup(engine)
        said_in_one_line(engine)
        return engine
    engine = create_engine(url, pool_pre_ping=True)
    said_in_one_line(engine)
    return engine


@lru_cache(maxsize=16)
def _cached(url: str) -> Engine:
    return make_engine(url)


def engine_for(url: str) -> Engine:
    """One engine (and its pool) per database, whichever way its URL is written."""
    return _cached(normalise_url(url))
