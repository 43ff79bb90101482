"""Which installation a run or a server belongs to: the rule that keeps one installation off another's data.

Every ledger holds one identity (a UUID, table `installation`). `lifecycle up` and `lifecycle deploy`
register it on their Prefect server (a Prefect Variable) and tag every deployment with it, so every run
the server starts (UI, schedule, `lifecycle run`, `run_deployment`) carries the identity of the ledger it
was meant for; whoever starts a run adds its own ledger's tag as well. Two rules follow, both plain:

- a run is refused when any identity it carries is not the ledger's that would execute it (a worker
  of another installation, or an in-process run whose ledger is not the server's);
- a command refuses a server whose registered identity is not its own ledger's: it would dispatch to
  that server's worker and read that server's blocks (terms, seller, secrets, storage, mail).

A run or server that carries no identity (a temporary server, a deployment applied by an older release)
is accepted: there is nothing to compare, and such a server has no other installation's worker.
This module is a leaf (no Prefect, no database), so the rule is tested without a server.
"""

from __future__ import annotations

from collections.abc import Iterable

#: the tag of a run (and of a deployment) meant for one installation: TAG_PREFIX + its id
TAG_PREFIX = "lifecycle-installation:"
#: the Prefect Variable in which a server records the installation its deployments and worker serve
VARIABLE = "lifecycle_installation"


def tag(installation_id: str) -> str:
    return f"{TAG_PREFIX}{installation_id}"


def claimed(tags: Iterable[str] | None) -> set[str]:
    """The installation ids a run's (or a deployment's) tags name."""
    return {value[len(TAG_PREFIX):] for value in (tags or ()) if value.startswith(TAG_PREFIX)}


def with_tag(tags: Iterable[str] | None, installation_id: str) -> list[str]:
    """`tags` naming `installation_id` and no other installation (a deployment re-tagged by `up`)."""
    kept = [value for value in (tags or ()) if not value.startswith(TAG_PREFIX)]
    return kept + [tag(installation_id)]


def foreign_run(claims: Iterable[str], own: str, *, home: str) -> str | None:
    """Why a run carrying `claims` must not run on the ledger whose identity is `own` (None: it may)."""
    others = sorted(set(claims) - {own})
    if not others:
        return None
    return (f"this run is meant for installation {', '.join(others)}, but this ledger (LIFECYCLE_HOME {home}) is "
            f"installation {own}: nothing was done; start it from that installation's own server")


def foreign_server(registered: str | None, own: str, *, api_url: str, home: str) -> str | None:
    """Why a command of installation `own` must not use the server at `api_url`, which registered the
    installation `registered` (None: it may)."""
    from lifecycle_config import escaped

    if registered is None or registered == own:
        return None
    return (f"the Prefect server at {escaped(api_url)} serves installation {registered}, not this ledger's {own} "
            f"(LIFECYCLE_HOME {home}): nothing was done; point PREFECT_API_URL at this installation's own server "
            f"(or unset it and run `lifecycle up` here), or use the LIFECYCLE_HOME and ledger that server serves")


# --- where the ledger is, and the configuration a worker runs with ------------------------------------------
#
# A copy of a home (`cp -r`, a rehearsal copy, a snapshot restored elsewhere) keeps its ledger's identity:
# the identity alone cannot tell the original from its copy. So a server also records *where* the ledger
# its worker serves is (LOCATION_VARIABLE, with the configuration that worker runs with), every run carries
# the location of the ledger it was meant for (LOCATION_PREFIX), and both rules above apply to it as well.

#: the tag of a run (and of a deployment) meant for the ledger at one location: LOCATION_PREFIX + location
LOCATION_PREFIX = "lifecycle-ledger:"
#: the Prefect Variable in which a server records what its worker serves: {"installation", "ledger", "config"}
SERVED_VARIABLE = "lifecycle_served"


def without_password(url: str) -> str:
    """`url` with any password in it replaced by ***: what may be shown, recorded on a server or compared."""
    import re

    return re.sub(r"(://[^/@:]*):[^/@]*@", r"\1:***@", url)


def sqlite_file(database_url: str):
    """The file a SQLite URL names, as a resolved path (symbolic links and `..` followed), None for any other
    database, an in-memory one or a URL that does not parse. Every spelling SQLAlchemy accepts for one file is
    the same file here: `sqlite:///`, `sqlite+pysqlite:///`, any case of the scheme, SQLite's own `file:` URI
    (`?uri=true`). Every check that tells one ledger file from another asks this, never the URL's prefix: a
    spelling a prefix test misses (`sqlite+pysqlite:///`) let a copied home work on its original's file."""
    from pathlib import Path
    from urllib.parse import unquote, urlsplit

    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(database_url)
    except Exception:  # noqa: BLE001 - ArgumentError, or ValueError for a port that is not a number
        return None
    if parsed.get_backend_name().lower() != "sqlite" or not parsed.database:
        return None
    path = parsed.database
    if str(parsed.query.get("uri", "")).lower() in ("true", "1") and path.startswith("file:"):
        uri = urlsplit(path)
        if "mode=memory" in uri.query:
            return None
        path = unquote(uri.path)
    if not path or path == ":memory:":
        return None
    return Path(path).expanduser().resolve()


def ledger_location(database_url: str) -> str:
    """Where a ledger is, the same however it is written: a SQLite file by its resolved path (sqlite_file), any
    other database by its URL without the password."""
    path = sqlite_file(database_url)
    return f"sqlite:///{path}" if path is not None else without_password(database_url)


def location_tag(location: str) -> str:
    return f"{LOCATION_PREFIX}{location}"


def claimed_locations(tags: Iterable[str] | None) -> set[str]:
    """The ledger locations a run's (or a deployment's) tags name."""
    return {value[len(LOCATION_PREFIX):] for value in (tags or ()) if value.startswith(LOCATION_PREFIX)}


def with_location(tags: Iterable[str] | None, location: str) -> list[str]:
    """`tags` naming the ledger at `location` and no other one."""
    return [value for value in (tags or ()) if not value.startswith(LOCATION_PREFIX)] + [location_tag(location)]


def foreign_location(claims: Iterable[str], own: str, *, home: str) -> str | None:
    """Why a run meant for the ledgers at `claims` must not run on the ledger at `own` (None: it may): the
    same installation's copy (or original) elsewhere is another ledger."""
    others = sorted(set(claims) - {own})
    if not others:
        return None
    return (f"this run is meant for the ledger at {', '.join(others)}, but this worker's ledger is at {own} "
            f"(LIFECYCLE_HOME {home}): nothing was done; a copy of an installation has its own server "
            f"(`lifecycle up` with its own LIFECYCLE_HOME)")


def recorded_config(snapshot: dict[str, str]) -> dict[str, str]:
    """A configuration snapshot as a server may show it: no password in any value."""
    return {name: without_password(value) for name, value in snapshot.items()}


def served_elsewhere(served: dict | None, own_location: str, *, api_url: str, home: str) -> str | None:
    """Why a command whose ledger is at `own_location` must not use the server at `api_url`, whose worker
    serves the ledger `served` records (None: it may; a server that records nothing cannot say)."""
    from lifecycle_config import escaped

    theirs = (served or {}).get("ledger")
    if not theirs or theirs == own_location:
        return None
    # the two ledgers' places are given whole: cut short, two homes that differ in their tails read the same
    return (f"the Prefect server at {escaped(api_url)} serves the ledger at {theirs}, not this command's at "
            f"{own_location} (LIFECYCLE_HOME {home}; the same installation {served.get('installation')}: a copy of it, "
            f"or its original): nothing was done; run `lifecycle up` for this LIFECYCLE_HOME (or unset "
            f"PREFECT_API_URL), or use the LIFECYCLE_HOME and ledger that server serves")


def configuration_differences(recorded: dict[str, str] | None, mine: dict[str, str], set_here) -> list[str]:
    """The names of the settings of `mine` that differ from the `recorded` ones a worker runs with. A name
    not recorded (a variable the worker runs without, or an older release's record) differs only when this
    command sets it (`set_here(name)`). Passwords are not compared (a server never records them)."""
    if not recorded:
        return []
    mine = recorded_config(mine)
    recorded = recorded_config(recorded)
    return [name for name in sorted(set(recorded) | set(mine))
            if (recorded[name] != mine.get(name, "") if name in recorded else set_here(name))]


# --- a home and the ledger it is pointed at --------------------------------------------------------------------
#
# A home that holds a ledger of its own (LIFECYCLE_HOME/ledger.db) belongs to that ledger's installation: its
# blocks, keys, objects and outbox are that installation's. LIFECYCLE_DATABASE_URL pointing it at another
# installation's ledger would read and write that ledger with this home's settings (its seller, its storage,
# its master key): home B's CLI worked on A's ledger in process.


def foreign_home(home_ledger: str | None, ledger: str, *, home: str, url: str, own_file: str) -> str | None:
    """Why a command of the home `home`, whose own ledger file `own_file` is installation `home_ledger`, must
    not use the ledger at `url`, installation `ledger` (None: it may; a home without a ledger of its own, or
    one that cannot say, belongs to the ledger it is pointed at)."""
    from lifecycle_config import escaped

    if home_ledger is None or home_ledger == ledger:
        return None
    return (f"LIFECYCLE_DATABASE_URL={escaped(without_password(url))} is the ledger of installation {ledger}, but "
            f"this LIFECYCLE_HOME ({escaped(home)}) holds the ledger of installation {home_ledger} "
            f"({escaped(own_file)}): nothing was done; use the LIFECYCLE_HOME of that ledger (its settings, keys "
            f"and storage are there), or move {escaped(own_file)} away if this home now keeps its ledger at that URL")


# A home without a ledger file of its own belongs to the installation its server.json (written by `lifecycle up`)
# or its own Prefect server's record names: its blocks (terms, seller, storage, mail), keys and outbox are that
# installation's. A fresh home, which has neither yet, takes the ledger it is pointed at, and its first
# `lifecycle up` makes it that ledger's home.


def foreign_claimed_home(home_installation: str | None, ledger: str, *, home: str, url: str,
                         said_by: str) -> str | None:
    """Why a command of the home `home`, which `said_by` records as installation `home_installation`, must not
    use the ledger at `url`, installation `ledger` (None: it may)."""
    from lifecycle_config import escaped

    if home_installation is None or home_installation == ledger:
        return None
    return (f"LIFECYCLE_DATABASE_URL={escaped(without_password(url))} is the ledger of installation {ledger}, but "
            f"this LIFECYCLE_HOME ({escaped(home)}) belongs to installation {home_installation} ({escaped(said_by)} "
            f"says so): nothing was done; use the LIFECYCLE_HOME of that ledger (its settings, keys and storage are "
            f"there), or point LIFECYCLE_DATABASE_URL at this home's own ledger")


# A ledger that lives outside any home (PostgreSQL, a SQLite file given by URL) cannot say by where it is which
# home it goes with, and a fresh home (no ledger file, no server record yet) has nothing to compare. So the ledger
# records which home serves it (`ledger_claim`: written by `lifecycle up` when it starts, and by `lifecycle db
# adopt`), and every other home refuses it, its `up` included: two homes serving one ledger would run two
# schedulers, two outboxes and two sets of keys and storage on the same customers.


LOOPBACK = ("127.0.0.1", "localhost", "::1")
WILDCARD = ("0.0.0.0", "::", "")  # `up --host 0.0.0.0`: the server answers on every address of its machine


def link_host(host: str) -> str:
    """The address a link to a server listening on `host` names, as a URL spells it: a wildcard (`up --host
    0.0.0.0` or `::`, listening on every address of the machine) is no address anyone can reach, so links name
    the machine's host name (what `hostname` prints), reachable from the other machines when the network
    resolves it, or 127.0.0.1 when even this machine cannot resolve it (local use only); any other host as
    given, an IPv6 address in brackets."""
    import socket

    if host.strip() in WILDCARD:
        name = socket.gethostname()
        try:
            socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return "127.0.0.1"
        return name
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _server_address(url: str) -> tuple[str, str, int, str] | None:
    """(scheme, host, port, path) of a Prefect API URL, as compared: the host lower-case, "loopback" for any
    loopback name, "*" for a wildcard address; the port the scheme's default when none is written; the path
    without its trailing slash. None: not a URL."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url.strip())
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    host = "loopback" if host in LOOPBACK else "*" if host in WILDCARD else host
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80), parts.path.rstrip("/")


def same_server(claim: dict | None, api_url: str | None, *, host: str) -> bool:
    """Whether a command whose PREFECT_API_URL is `api_url`, on `host`, uses the very server of the home that
    serves the ledger: it is one more client of that installation (a worker or an ops shell on another machine,
    with the server's blocks for settings), not a second installation. Compared as addresses, not strings:
    localhost, 127.0.0.1 and ::1 are one; a server recorded on a wildcard address (`up --host 0.0.0.0`) answers
    under any name of its machine on that port and path. A loopback address names that server only on its own
    machine (elsewhere it is another server there)."""
    theirs = _server_address((claim or {}).get("api_url") or "")
    mine = _server_address(api_url or "")
    if theirs is None or mine is None or (theirs[0], theirs[2], theirs[3]) != (mine[0], mine[2], mine[3]):
        return False
    same_machine = claim.get("host") == host
    if mine[1] in ("loopback", "*"):  # this machine's own server, whatever the claim's address
        return same_machine and theirs[1] in ("loopback", "*")
    if theirs[1] == "*":
        return True
    if theirs[1] == "loopback":
        return False  # a name of this machine reaching a server recorded on loopback: cannot be told from here
    return theirs[1] == mine[1]


def held_elsewhere(claim: dict | None, *, home: str, host: str, ledger: str, api_url: str | None = None) -> str | None:
    """Why the home `home` on `host`, whose commands use the Prefect server `api_url` (PREFECT_API_URL, or none),
    must not work on the ledger `ledger`, which `claim` says another home serves (None: it may; a ledger no home
    claimed yet is anyone's to claim, and a command that uses the claiming home's own server is its client)."""
    from lifecycle_config import escaped

    if not claim or (claim.get("home"), claim.get("host")) == (home, host) or same_server(claim, api_url, host=host):
        return None
    whole = 4096  # the two homes given whole: cut short, two homes that differ in their tails read the same
    return (f"the ledger at {escaped(ledger, whole)} is served by LIFECYCLE_HOME {escaped(str(claim.get('home')), whole)} on "
            f"{escaped(str(claim.get('host')))}, not by this one ({escaped(home, whole)} on {escaped(host)}): nothing was "
            f"done; "
            f"use that home, or move the installation here with `lifecycle db adopt` once that home's "
            f"`lifecycle up` is stopped")
