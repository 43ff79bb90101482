"""Where the embedded default keeps its files, and how the environment overrides it.

Every local file lives under one folder (`LIFECYCLE_HOME`) so that a user can move, back up or wipe
an installation as a whole; each URL can point elsewhere for production. This package is a leaf:
it imports nothing of the project, so the CLI, blocks, ledger, tasks and flows all read the same
configuration without reaching up to one another. Nothing here imports Prefect: the CLI reads
this on every command and must stay fast.
"""

from __future__ import annotations

import os
from pathlib import Path

#: How long a temporary Prefect server may take to start on a small machine.
PREFECT_STARTUP_TIMEOUT = "120"
#: seconds between a running flow's heartbeats when the environment does not say (Prefect's default): a
#: lost worker's runs are marked crashed after three missed beats (automations.yaml, lifecycle-lost-run).
#: deploy/'s PostgreSQL-backed servers use 30 s (Prefect's smallest); the embedded SQLite server of
#: `lifecycle up` keeps 180 s: every beat is an event its triggers service writes, and SQLite under that
#: load answers "database is locked", which Prefect's in-memory messaging redelivers as duplicate alerts
HEARTBEAT_SECONDS = "180"
#: upcoming runs Prefect's scheduler keeps per deployment (Prefect's default is 100: a hundred days of each
#: daily deployment). Two weeks is what ops look ahead at, and each `prefect deploy` of `lifecycle up`
#: rewrites them in one transaction: with 100 per daily deployment the embedded SQLite server held its
#: write lock long enough for its own background tasks to give up ("database is locked" in CI)
SCHEDULER_MAX_RUNS = "14"
#: seconds between a worker's asks for runs to start (Prefect's default, 10 s, is on average 5 s of waiting
#: before `lifecycle run` or the UI's Run button starts anything); one small read a second per worker
WORKER_QUERY_SECONDS = "1"
#: seconds between a run's sends of its logs to the server (Prefect's default is 2 s): `lifecycle run` prints
#: them as they come, and waits for the run's last ones after it ended
LOGS_BATCH_SECONDS = "0.5"


class Misconfigured(ValueError):
    """A LIFECYCLE_* variable set to something that cannot be used as it is (a path holding a control
    character, a URL of a kind the product does not drive): the user's to fix, in one line naming the
    variable, its value escaped, and what is accepted."""


#: the variables that hold a path or a URL (one holding a path): read through `setting`, so that none of them
#: ever reaches a terminal, a file name or a log with a control or invisible character in it
PATH_VARIABLES = ("LIFECYCLE_HOME", "LIFECYCLE_DATABASE_URL", "LIFECYCLE_PLATFORM_URL", "LIFECYCLE_SANDBOX_URL",
                  "LIFECYCLE_STORAGE_URL", "LIFECYCLE_CREDENTIALS_KEY_FILE", "LIFECYCLE_MASTER_KEY_FILE", "LIFECYCLE_DOWNLOAD_URL",
                  "LIFECYCLE_FAILPOINT_LOG")
#: the database URLs, and what each may be
DATABASE_VARIABLES = ("LIFECYCLE_DATABASE_URL", "LIFECYCLE_PLATFORM_URL", "LIFECYCLE_SANDBOX_URL")
DATABASE_FORMS = "sqlite:///path/to/file.db or postgresql+psycopg://user@host/database (postgresql:// also)"
STORAGE_FORMS = "file:///absolute/path or s3://bucket/prefix"


def unprintable(value: str) -> str | None:
    """The first character of `value` a terminal would act on or not show (a control character, an
    invisible format character, a line or paragraph separator, a lone surrogate: bytes that are not UTF-8),
    as U+XXXX; None when there is none. A leaf's own test: policy.text says the same of the ledger's texts."""
    import unicodedata

    for char in value:
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            return f"U+{ord(char):04X}"
    return None


def setting(variable: str) -> str | None:
    """The value of a LIFECYCLE_* variable that names a path or a URL, None when unset or empty; refused in
    one line (Misconfigured, its value escaped) when it holds a character a terminal would act on or hide."""
    raw = os.environ.get(variable)
    if not raw:
        return None
    found = unprintable(raw)
    if found:
        raise Misconfigured(f"{variable}={escaped(raw)} holds the control or invisible character {found}: set it to "
                            f"a path without it (or unset it)")
    return raw


#: how many characters of a user's value an error line gives back (policy.text.SHOWN_CHARACTERS: the same cut)
SHOWN_CHARACTERS = 40


def escaped(value: str, most: int = SHOWN_CHARACTERS) -> str:
    """`value` quoted, every character a terminal would act on or hide written as an escape (\\x1b, \\u200b, a
    byte that is not UTF-8 as \\xff), and the password of a URL (`scheme://user:password@host`) as ***; cut
    after its first `most` characters with the length said (`'/tmp/aaa…' (3,005 characters)`), as
    policy.text.quoted cuts every value an error line gives back: a path or a URL pasted by mistake never fills
    the terminal or the log."""
    import re

    value = re.sub(r"(://[^/@:]*:)[^/]*@", r"\1***@", value)
    if len(value) > most:
        return f"{_escaped(value[:most] + '…')} ({len(value):,} characters)"
    return _escaped(value)


def _escaped(value: str) -> str:
    import unicodedata

    shown = []
    for char in value:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8, as Python hands it over
            shown.append(f"\\x{code - 0xDC00:02x}")
        elif unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            shown.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        elif char in "'\\":
            shown.append("\\" + char)
        else:
            shown.append(char)
    return "'" + "".join(shown) + "'"


def file_in_the_way(path) -> Path | None:
    """The file that stands where a folder of `path` should be (`/srv/notes.txt` for
    `/srv/notes.txt/out/x.xlsx`), None when there is none: a path under a file can be neither read nor
    made, and the system says only "Not a directory", which reads as if the path itself were the problem.
    Every path the user names to be written (--out, --to, LIFECYCLE_HOME) or read (an import) is told
    by it as `... is a file, not a folder`."""
    import stat

    for parent in Path(path).parents:
        try:
            mode = os.stat(parent).st_mode
        except (FileNotFoundError, NotADirectoryError):  # missing, or itself under a file: look further up
            continue
        except OSError:  # a permission, a name too long: the caller's own error says it
            return None
        return None if stat.S_ISDIR(mode) else parent
    return None


def database_url_problem(url: str) -> str | None:
    """Why `url` is not a database URL this product drives (None: it is one): a SQLite file or PostgreSQL
    through psycopg 3, written so that SQLAlchemy parses it."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - ArgumentError, or ValueError for a port that is not a number
        return f"is not a database URL: write {DATABASE_FORMS}"
    if parsed.drivername not in ("sqlite", "sqlite+pysqlite", "postgresql", "postgres", "postgresql+psycopg"):
        return f"names the driver {parsed.drivername!r}, which this product does not drive: write {DATABASE_FORMS}"
    if parsed.get_backend_name() == "sqlite" and not parsed.database:
        return f"names no SQLite file: write {DATABASE_FORMS}"
    return None


def _database(variable: str, default: str) -> str:
    raw = setting(variable)
    if raw is None:
        return _sqlite(default)
    problem = database_url_problem(raw)
    if problem:
        raise Misconfigured(f"{variable}={escaped(raw)} {problem}")
    return raw


def home() -> Path:
    raw = setting("LIFECYCLE_HOME")
    path = (Path(raw) if raw else Path.cwd() / ".lifecycle").expanduser().resolve()
    if path.parent == path:  # `/`: the ledger, the outbox and the objects would be spread over the filesystem's root
        raise Misconfigured(f"LIFECYCLE_HOME={escaped(raw or '')[:300]} is the filesystem's root: set it to a folder "
                            f"of its own (made when missing), e.g. /srv/lifecycle")
    return path


def _sqlite(name: str) -> str:
    return f"sqlite:///{home() / name}"


def database_url() -> str:
    return _database("LIFECYCLE_DATABASE_URL", "ledger.db")


def platform_url() -> str:
    return _database("LIFECYCLE_PLATFORM_URL", "platform.db")


def sandbox_url() -> str:
    return _database("LIFECYCLE_SANDBOX_URL", "sandbox.db")


def storage_url() -> str:
    raw = setting("LIFECYCLE_STORAGE_URL")
    if raw is None:
        return f"file://{home() / 'objects'}"
    problem = storage_url_problem(raw)
    if problem:
        raise Misconfigured(f"LIFECYCLE_STORAGE_URL={escaped(raw)} {problem}")
    return raw


def storage_url_problem(url: str) -> str | None:
    """Why `url` is not a storage URL this product drives (None: it is one): a folder or an S3 bucket."""
    if not url.startswith(("file:///", "s3://")) or url in ("file:///", "s3://"):
        return f"is not a storage URL: write {STORAGE_FORMS}"
    return None


def check() -> None:
    """Refuse, before any command starts, a LIFECYCLE_* path holding a control or invisible character, and a
    database or storage URL this product cannot use (the CLI calls this first; each is checked again wherever
    it is read, a flow run's included)."""
    for variable in PATH_VARIABLES:
        setting(variable)
    given = setting("LIFECYCLE_HOME")
    try:
        if given:
            Path(given).stat()
    except (FileNotFoundError, NotADirectoryError):
        pass
    except OSError as error:  # a name longer than the filesystem takes: it printed a traceback, "this is a bug"
        raise Misconfigured(f"LIFECYCLE_HOME={escaped(given)} cannot be used ({error.strerror}): set it to a "
                            f"folder (made when missing)") from None
    under = file_in_the_way(given) if given else None
    if under is not None:  # it said "the ledger ... cannot be used (its folder ... cannot be made: Not a directory)"
        raise Misconfigured(f"LIFECYCLE_HOME={escaped(given)} cannot be made: {escaped(str(under))} is a file, not a "
                            f"folder: set it to a folder (made when missing)")
    if given and Path(given).exists() and not Path(given).is_dir():  # "cannot make its folder: File exists"
        raise Misconfigured(f"LIFECYCLE_HOME={escaped(given)} is a file, not a folder: set it to a folder (made "
                            f"when missing)")
    database_url(), platform_url(), sandbox_url(), storage_url()


def outbox_dir() -> Path:
    return home() / "outbox"


def prefect_home() -> Path:
    return home() / "prefect"


def server_file() -> Path:
    """Written by `lifecycle up`: where its Prefect server answers, for the other commands."""
    return home() / "server.json"


def server_record() -> dict | None:
    """What `lifecycle up` wrote in this home's server.json (its API URL, pid, downloads, configuration), the
    only way to read that file: None when there is none, or when it was written for another home. A home
    copied with it (`cp -r h1 h1copy`) holds h1's server.json, naming h1's server, serving h1's workbooks:
    nothing of it may lead this home's commands there (a record of an older release, which names no home,
    is taken as this home's)."""
    import json

    try:
        recorded = json.loads(server_file().read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(recorded, dict):
        return None
    recorded = _sound_fields(recorded)
    if recorded is None:
        return None
    written_for = (recorded.get("config") or {}).get("LIFECYCLE_HOME")
    if written_for and written_for != str(home()):
        return None
    return recorded


#: the fields `lifecycle up` writes in server.json, and the types it writes them with
_RECORD_FIELDS = {"api_url": (str,), "pid": (int,), "downloads": (str, type(None)), "config": (dict,),
                  "installation": (str,)}


def _sound_fields(recorded: dict) -> dict | None:
    """A server.json's record without the fields of another type than `lifecycle up` writes (edited by hand,
    written by something else): its `api_url: 5` made every command that looks for the home's server end in a
    traceback. The sound fields still say what they say (the home's installation among them); a damaged
    `config` leaves no way to tell which home the record was written for: None."""
    config = recorded.get("config")
    if config is not None and not (isinstance(config, dict) and all(
            isinstance(name, str) and isinstance(value, str) for name, value in config.items())):
        return None
    return {name: value for name, value in recorded.items()
            if name not in _RECORD_FIELDS or (isinstance(value, _RECORD_FIELDS[name])
                                              and not (name == "pid" and isinstance(value, bool)))}


def download_base() -> str | None:
    """Where the workbooks can be downloaded over HTTP: set by `lifecycle up` while it runs, for its own
    home (its worker gets LIFECYCLE_DOWNLOAD_URL; the other commands of that home read its server.json)."""
    explicit = setting("LIFECYCLE_DOWNLOAD_URL")
    if explicit:
        return explicit
    recorded = server_record()
    try:
        os.kill(int(recorded["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return recorded.get("downloads")


#: the settings read from the environment that change what a run does, besides the URLs and the home: the
#: day it believes it is (clock), the key unsealing ticket credentials (keyfile), where workbook links lead,
#: and the tests' failpoints. Any other LIFECYCLE_* variable set is compared as it is, so none goes unseen.
RUN_VARIABLES = ("LIFECYCLE_TODAY", "LIFECYCLE_CREDENTIALS_KEY_FILE", "LIFECYCLE_DOWNLOAD_URL", "LIFECYCLE_FAILPOINT",
                 "LIFECYCLE_FAILPOINT_LOG", "LIFECYCLE_FAILPOINT_PAUSE")


#: variables holding a secret: recorded and compared by their hash only
SECRET_VARIABLES = ("LIFECYCLE_EINVOICING_TOKEN",)


def snapshot() -> dict[str, str]:
    """The settings a run depends on: `lifecycle up` records them, so that a command can tell whether
    the worker would run with the same ones (docs/reference/cli.md, "Which Prefect server"). Every
    `LIFECYCLE_*` variable counts: those with a default as this process resolves them, the others as set
    ("" when unset)."""
    from lifecycle_config.keyfile import key_file

    import hashlib

    values = {name: value for name, value in os.environ.items() if name.startswith("LIFECYCLE_")}
    values.update({name: os.environ.get(name, "").strip() for name in RUN_VARIABLES})
    for name in SECRET_VARIABLES:  # compared by their hash: server.json never holds a secret
        if values.get(name):
            values[name] = "sha256:" + hashlib.sha256(values[name].encode()).hexdigest()
    values.update({"LIFECYCLE_HOME": str(home()), "LIFECYCLE_DATABASE_URL": database_url(),
                   "LIFECYCLE_PLATFORM_URL": platform_url(), "LIFECYCLE_SANDBOX_URL": sandbox_url(),
                   "LIFECYCLE_STORAGE_URL": storage_url(), "LIFECYCLE_CREDENTIALS_KEY_FILE": str(key_file()),
                   "LIFECYCLE_DOWNLOAD_URL": download_base() or ""})
    return values


def overridden(variable: str) -> str | None:
    """The value of a variable the user set explicitly, which wins over a block for one run."""
    if variable in DATABASE_VARIABLES:
        return _database(variable, "") if setting(variable) else None
    if variable == "LIFECYCLE_STORAGE_URL":
        return storage_url() if setting(variable) else None
    value = os.environ.get(variable)
    return value or None


def heartbeat_seconds() -> int:
    return int(os.environ.get("PREFECT_FLOWS_HEARTBEAT_FREQUENCY") or HEARTBEAT_SECONDS)


def prepare_prefect_environment() -> None:
    """Point Prefect at our home before it is imported, so blocks edited in the UI are the ones
    every run sees, and give a temporary server time to start."""
    home().mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(prefect_home()))
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", PREFECT_STARTUP_TIMEOUT)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", HEARTBEAT_SECONDS)
    os.environ.setdefault("PREFECT_SERVER_SERVICES_SCHEDULER_MAX_RUNS", SCHEDULER_MAX_RUNS)
    os.environ.setdefault("PREFECT_WORKER_QUERY_SECONDS", WORKER_QUERY_SECONDS)
    os.environ.setdefault("PREFECT_LOGGING_TO_API_BATCH_INTERVAL", LOGS_BATCH_SECONDS)


#: who owns the object stores this process writes to (a callable giving blocks.storage.StoreOwner, or None): set by
#: the operations layer (operations.store_owner), which knows the ledger, and asked by blocks.storage at a store's
#: first write. Kept here, the leaf both read, so neither imports the other.
store_owner = None
