"""A fresh home (no ledger file, no server record) given a ledger another home serves took it: two homes then
worked on one ledger with two sets of settings, keys and storage. The ledger records the home whose `lifecycle
up` serves it (`ledger_claim`); every other home's commands and `up` refuse it in one line naming that home, exit
2, and `lifecycle db adopt` moves it on purpose, refused while that home's `up` still runs (its up.lock held)."""

from __future__ import annotations

import fcntl
import socket

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from ledger.db import session_scope
from ledger.installation import LedgerHeld, claim, claim_of
from ledger.models import AuditEntry
from lifecycle.cli import app
from tests.support.sqlite_ledger import sqlite_ledger


@pytest.fixture
def two_homes(tmp_path, monkeypatch):
    """Homes A and B side by side, both pointed at one ledger file outside either; A claims it (as its `up` does)."""
    engine = sqlite_ledger(tmp_path, monkeypatch, "2026-11-20")
    monkeypatch.delenv("PREFECT_HOME", raising=False)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    monkeypatch.setenv("LIFECYCLE_HOME", str(a))
    claim(engine, how="up", api_url="http://127.0.0.1:9/api", pid=0)
    monkeypatch.setenv("LIFECYCLE_HOME", str(b))
    return engine, a, b


def test_another_homes_commands_refuse_a_ledger_a_home_serves_naming_that_home(two_homes):
    engine, a, b = two_homes
    for command in (["show", "customers"], ["run", "arrears", "--as-of", "2026-11-20"]):
        result = CliRunner().invoke(app, command)
        assert (result.exit_code, result.stdout) == (2, ""), result.output
        [line] = result.stderr.splitlines()
        assert line.startswith("lifecycle: the ledger at 'sqlite:///") and "nothing was done" in line
        assert f"is served by LIFECYCLE_HOME '{a.resolve()}' on '{socket.gethostname()}'" in line
        assert f"not by this one ('{b.resolve()}'" in line and "`lifecycle db adopt`" in line
    with pytest.raises(LedgerHeld):  # B's `up` too, at the moment it would claim it
        claim(engine, how="up")
    assert claim_of(engine)["home"] == str(a.resolve())


def test_the_serving_home_and_a_ledger_no_home_claimed_work_as_before(two_homes, monkeypatch, tmp_path):
    engine, a, _ = two_homes
    monkeypatch.setenv("LIFECYCLE_HOME", str(a))
    assert CliRunner().invoke(app, ["show", "customers"]).exit_code == 0
    from ledger.models import LedgerClaim

    with session_scope(engine, write=True) as session:  # a ledger no `up` ever started on
        session.execute(LedgerClaim.__table__.delete())
    monkeypatch.setenv("LIFECYCLE_HOME", str(tmp_path / "home"))  # a fresh home, an unclaimed ledger: taken
    assert CliRunner().invoke(app, ["show", "customers"]).exit_code == 0


def test_db_adopt_moves_the_ledger_to_this_home_once_the_other_up_is_stopped(two_homes, monkeypatch):
    engine, a, b = two_homes
    with (a / "up.lock").open("a+") as held:  # A's `lifecycle up` runs: the lock it holds for its whole life
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        refused = CliRunner().invoke(app, ["db", "adopt"])
        assert refused.exit_code == 2
        [line] = refused.stderr.splitlines()
        assert f"LIFECYCLE_HOME '{a.resolve()}'" in line and "its `lifecycle up` still runs" in line
        assert "nothing was done" in line
        assert claim_of(engine)["home"] == str(a.resolve())
    adopted = CliRunner().invoke(app, ["db", "adopt"])  # A's `up` stopped: its lock is free
    assert adopted.exit_code == 0, adopted.output
    assert "now serves the ledger" in adopted.stdout and f"it was served by '{a.resolve()}'" in adopted.stdout
    assert (claim_of(engine)["home"], claim_of(engine)["how"]) == (str(b.resolve()), "adopt")
    assert CliRunner().invoke(app, ["show", "customers"]).exit_code == 0
    with session_scope(engine) as session:
        moved = session.scalar(select(AuditEntry).where(AuditEntry.action == "ledger_adopted"))
        assert (moved.before["home"], moved.after["home"]) == (str(a.resolve()), str(b.resolve()))
    monkeypatch.setenv("LIFECYCLE_HOME", str(a))  # the old home now refuses it, naming B
    result = CliRunner().invoke(app, ["show", "customers"])
    assert result.exit_code == 2 and f"is served by LIFECYCLE_HOME '{b.resolve()}'" in result.stderr


def test_a_homes_own_ledger_file_stays_its_own_whatever_its_claim_says(tmp_path, monkeypatch):
    """A home copied with its ledger file (`cp -r a a2`) holds a claim naming a: its own file is still its own, and
    its first `up` claims it."""
    import shutil

    engine = sqlite_ledger(tmp_path, monkeypatch, "2026-11-20")
    a = tmp_path / "a"
    a.mkdir()
    shutil.copy(tmp_path / "ledger.db", a / "ledger.db")
    monkeypatch.setenv("LIFECYCLE_HOME", str(a))
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", f"sqlite:///{a / 'ledger.db'}")
    from lifecycle_config.databases import engine_for
    claim(engine_for(f"sqlite:///{a / 'ledger.db'}"), how="up")
    shutil.copytree(a, tmp_path / "a2")
    monkeypatch.setenv("LIFECYCLE_HOME", str(tmp_path / "a2"))
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", f"sqlite:///{tmp_path / 'a2' / 'ledger.db'}")
    assert CliRunner().invoke(app, ["show", "customers"]).exit_code == 0
    engine.dispose()


def test_a_home_that_uses_the_serving_homes_own_server_is_one_of_its_clients(two_homes, monkeypatch):
    """A worker or an ops shell on another machine of the same installation reaches the ledger through the serving
    home's server (a server of the installation's own): it is not a second installation. Another server, or a
    loopback address from another machine (which names another server there), is not that."""
    engine, a, _ = two_homes
    from ledger.models import LedgerClaim

    with session_scope(engine, write=True) as session:
        session.get(LedgerClaim, True).api_url = "http://prefect.internal:4200/api"
    monkeypatch.setenv("PREFECT_API_URL", "http://prefect.internal:4200/api")
    assert CliRunner().invoke(app, ["show", "customers"]).exit_code == 0
    monkeypatch.setenv("PREFECT_API_URL", "http://prefect.elsewhere:4200/api")
    assert CliRunner().invoke(app, ["show", "customers"]).exit_code == 2
    from lifecycle_config.installation import same_server

    loopback = {"home": str(a), "host": "machine-1", "api_url": "http://127.0.0.1:4200/api"}
    assert same_server(loopback, "http://127.0.0.1:4200/api", host="machine-1")
    assert not same_server(loopback, "http://127.0.0.1:4200/api", host="machine-2")


def _claim_names(engine, home: str, host: str, api_url: str | None = None) -> None:
    """The claim as another home or machine left it (the state a move, a copy or a new container starts from)."""
    from ledger.models import LedgerClaim

    with session_scope(engine, write=True) as session:
        row = session.get(LedgerClaim, True)
        row.home, row.host, row.api_url = home, host, api_url


@pytest.mark.parametrize("was", ["a container recreated under a new host name", "the home moved (mv)"])
def test_a_homes_own_ledger_file_is_claimed_by_its_up_whoever_its_claim_names(tmp_path, monkeypatch, was):
    """The home's own ledger.db names the home and host of its last `up`: after `mv` of the home, or in a container
    recreated with a new host name, its own `up` was refused its own file (no other home can be using it). Its
    up now claims it, and the audit log keeps the move."""
    from lifecycle_config.databases import engine_for

    sqlite_ledger(tmp_path, monkeypatch, "2026-11-20").dispose()
    home = tmp_path / "home"
    monkeypatch.setenv("LIFECYCLE_HOME", str(home))
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", f"sqlite:///{home / 'ledger.db'}")
    import shutil

    shutil.copy(tmp_path / "ledger.db", home / "ledger.db")
    engine = engine_for(f"sqlite:///{home / 'ledger.db'}")
    claim(engine, how="up")
    old = ((str(home.resolve()), "container-1f3a") if was.startswith("a container")
           else ("/srv/old-place/home", socket.gethostname()))
    _claim_names(engine, *old)
    assert claim(engine, how="up", api_url="http://127.0.0.1:4200/api", pid=1)["home"] == old[0]
    assert (claim_of(engine)["home"], claim_of(engine)["host"]) == (str(home.resolve()), socket.gethostname())
    with session_scope(engine) as session:
        moved = session.scalar(select(AuditEntry).where(AuditEntry.action == "ledger_claimed"))
        assert (moved.before, moved.after) == ({"home": old[0], "host": old[1]},
                                               {"home": str(home.resolve()), "host": socket.gethostname()})
    engine.dispose()


def test_an_up_that_joins_the_serving_homes_server_leaves_the_claim_to_that_home(two_homes):
    """B's `up` on a second machine, with PREFECT_API_URL set to A's server, is one more worker of A's installation:
    it took the claim (A's home and host overwritten), and A's next `up` was then refused. It now writes nothing."""
    engine, a, b = two_homes
    _claim_names(engine, str(a.resolve()), "machine-a", "http://prefect.internal:4200/api")
    claim(engine, how="up", api_url="http://prefect.internal:4200/api", pid=2, joins_server=True)
    held = claim_of(engine)
    assert (held["home"], held["host"], held["pid"]) == (str(a.resolve()), "machine-a", 0)
    with pytest.raises(LedgerHeld):  # a joining up of another server is still another installation's
        claim(engine, how="up", api_url="http://prefect.elsewhere:4200/api", pid=2, joins_server=True)


def test_db_adopt_records_the_server_so_the_other_machines_stay_its_clients(two_homes, monkeypatch, tmp_path):
    """Workers and shells on other machines (PREFECT_API_URL set to the server, no `up` of their own) were refused
    after `db adopt`: it recorded no server. It records PREFECT_API_URL (or the home's server record's)."""
    engine, a, b = two_homes
    monkeypatch.setenv("PREFECT_API_URL", "http://prefect.internal:4200/api")
    adopted = CliRunner().invoke(app, ["db", "adopt"])
    assert adopted.exit_code == 0, adopted.output
    assert claim_of(engine)["api_url"] == "http://prefect.internal:4200/api"
    monkeypatch.setenv("LIFECYCLE_HOME", str(tmp_path / "worker-shell"))  # a client of B's server, elsewhere
    (tmp_path / "worker-shell").mkdir()
    shown = CliRunner().invoke(app, ["show", "customers"])
    assert shown.exit_code == 0, shown.output


def test_the_claim_keeps_the_servers_address_never_its_password(two_homes, monkeypatch, tmp_path):
    """Probe 16: `db adopt` with PREFECT_API_URL carrying basic-auth credentials stored the password in the
    claim, a row of the ledger and so of every nightly ledger snapshot; a client of that server, with the
    password in its own URL, is still recognised."""
    engine, a, b = two_homes
    monkeypatch.setenv("PREFECT_API_URL", "http://ops:S3cretPW@prefect.internal:4200/api")
    adopted = CliRunner().invoke(app, ["db", "adopt"])
    assert adopted.exit_code == 0, adopted.output
    assert claim_of(engine)["api_url"] == "http://ops:***@prefect.internal:4200/api"
    with session_scope(engine) as session:
        assert not [entry for entry in session.scalars(select(AuditEntry)) if "S3cretPW" in repr(entry.__dict__)]
    monkeypatch.setenv("LIFECYCLE_HOME", str(tmp_path / "worker-shell"))
    (tmp_path / "worker-shell").mkdir()
    shown = CliRunner().invoke(app, ["show", "customers"])
    assert shown.exit_code == 0, shown.output


@pytest.mark.parametrize("recorded, used, host, same", [
    ("http://0.0.0.0:4200/api", "http://prefect.internal:4200/api", "machine-2", True),
    ("http://0.0.0.0:4200/api", "http://10.0.0.5:4200/api/", "machine-2", True),
    ("http://[::]:4200/api", "http://prefect.internal:4200/api", "machine-2", True),
    ("http://0.0.0.0:4200/api", "http://prefect.internal:4201/api", "machine-2", False),
    ("http://0.0.0.0:4200/api", "http://127.0.0.1:4200/api", "machine-1", True),
    ("http://0.0.0.0:4200/api", "http://127.0.0.1:4200/api", "machine-2", False),
    ("http://localhost:4200/api", "http://127.0.0.1:4200/api", "machine-1", True),
    ("http://127.0.0.1:4200/api", "http://[::1]:4200/api", "machine-1", True),
    ("http://localhost:4200/api", "http://127.0.0.1:4200/api", "machine-2", False),
    ("http://Prefect.Internal/api", "http://prefect.internal:80/api", "machine-2", True),
    ("http://prefect.internal:4200/api", "http://prefect.internal:4200/other", "machine-2", False),
    ("http://prefect.internal:4200/api", None, "machine-2", False),
])
def test_the_serving_homes_server_is_recognised_by_address_not_by_spelling(recorded, used, host, same):
    """`up --host 0.0.0.0` recorded http://0.0.0.0:PORT/api, which no client spells: every remote worker was a
    stranger; localhost and 127.0.0.1 were two servers. A wildcard address answers under any name of its machine
    on its port and path; the loopback names are one, on that machine only."""
    from lifecycle_config.installation import same_server

    assert same_server({"home": "/srv/a", "host": "machine-1", "api_url": recorded}, used, host=host) is same


def test_an_up_that_fails_before_it_serves_leaves_the_claim_as_it_was(two_homes, monkeypatch):
    """B's `up` on an unclaimed ledger whose downloads port is taken failed, but kept the claim it took first:
    the home that then started was refused. The claim is now taken after those checks, and given back when the
    `up` fails before it is ready."""
    import signal

    from ledger.models import LedgerClaim
    from lifecycle.server import up
    from tests.support.ports import free_port

    engine, a, b = two_homes
    with session_scope(engine, write=True) as session:
        session.execute(LedgerClaim.__table__.delete())
    port = free_port()
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port + 1))
        taken.listen(1)
        try:
            with pytest.raises(RuntimeError, match="workbook downloads"):
                up(host="127.0.0.1", port=port, echo=lambda line: None)
        finally:
            signal.signal(signal.SIGINT, handlers[0])
            signal.signal(signal.SIGTERM, handlers[1])
    assert claim_of(engine) is None
    monkeypatch.setenv("LIFECYCLE_HOME", str(a))
    assert claim(engine, how="up") is None  # A, starting next, takes it


def test_a_symlinked_ledger_db_is_not_the_homes_own(two_homes, monkeypatch):
    """`ln -s $A/ledger.db $H/ledger.db`: H's ledger.db is a name for A's file, which A serves. H's commands and
    H's `up` refuse it as any other home's would; only a file really in the home is its own."""
    engine, a, b = two_homes
    (b / "ledger.db").symlink_to(a.parent / "ledger.db")
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", f"sqlite:///{b / 'ledger.db'}")
    result = CliRunner().invoke(app, ["show", "customers"])
    assert result.exit_code == 2 and f"is served by LIFECYCLE_HOME '{a.resolve()}'" in result.stderr
    with pytest.raises(LedgerHeld):
        claim(engine, how="up")
    assert claim_of(engine)["home"] == str(a.resolve())


def test_db_adopt_refuses_another_homes_own_ledger_file(tmp_path, monkeypatch):
    """`LIFECYCLE_HOME=$C LIFECYCLE_DATABASE_URL=sqlite:///$A/ledger.db lifecycle db adopt`: A's own ledger.db is
    A's to serve whatever its claim says, so C taking it would have two homes run `up` on one ledger."""
    import shutil

    sqlite_ledger(tmp_path, monkeypatch, "2026-11-20").dispose()
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    a, c = tmp_path / "a", tmp_path / "c"
    a.mkdir(), c.mkdir()
    shutil.copy(tmp_path / "ledger.db", a / "ledger.db")
    (a / "server.json").write_text("{}")  # A's `up` ran there
    monkeypatch.setenv("LIFECYCLE_HOME", str(c))
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", f"sqlite:///{a / 'ledger.db'}")
    result = CliRunner().invoke(app, ["db", "adopt"])
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    assert f"is the own ledger.db of LIFECYCLE_HOME '{a.resolve()}'" in line and "nothing was done" in line
    from lifecycle_config.databases import engine_for

    assert claim_of(engine_for(f"sqlite:///{a / 'ledger.db'}")) is None


def test_a_homes_own_up_is_refused_while_the_home_that_adopted_its_file_runs_up(tmp_path, monkeypatch):
    """A ledger adopted by C (an older release let it, or by hand) whose file is A's own: A's `up` used to retake
    it without a look at C, and both ran `up`. While C's up.lock is held A's `up` is refused; once C's `up`
    stopped, A's own file is A's again."""
    import shutil

    from lifecycle_config.databases import engine_for

    sqlite_ledger(tmp_path, monkeypatch, "2026-11-20").dispose()
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    a, c = tmp_path / "a", tmp_path / "c"
    a.mkdir(), c.mkdir()
    shutil.copy(tmp_path / "ledger.db", a / "ledger.db")
    engine = engine_for(f"sqlite:///{a / 'ledger.db'}")
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", f"sqlite:///{a / 'ledger.db'}")
    monkeypatch.setenv("LIFECYCLE_HOME", str(c))
    claim(engine, how="adopt", adopt=True)
    monkeypatch.setenv("LIFECYCLE_HOME", str(a))
    with (c / "up.lock").open("a+") as held:  # C's `lifecycle up` runs
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(LedgerHeld, match="whose `lifecycle up` still runs"):
            claim(engine, how="up")
        assert claim_of(engine)["home"] == str(c.resolve())
    claim(engine, how="up")  # C's `up` stopped
    assert claim_of(engine)["home"] == str(a.resolve())
    engine.dispose()


def test_a_copied_homes_up_takes_its_own_file_while_the_original_runs_up(tmp_path, monkeypatch):
    """`cp -r a a2` while a's `up` runs: a2's file names a in its claim, but a's `up` serves a's own file, not the
    copy: a2's `up` takes its own file."""
    import shutil

    from lifecycle_config.databases import engine_for

    sqlite_ledger(tmp_path, monkeypatch, "2026-11-20").dispose()
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    a, a2 = tmp_path / "a", tmp_path / "a2"
    a.mkdir()
    shutil.copy(tmp_path / "ledger.db", a / "ledger.db")
    monkeypatch.setenv("LIFECYCLE_HOME", str(a))
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", f"sqlite:///{a / 'ledger.db'}")
    claim(engine_for(f"sqlite:///{a / 'ledger.db'}"), how="up")
    engine_for(f"sqlite:///{a / 'ledger.db'}").dispose()
    shutil.copytree(a, a2)
    engine = engine_for(f"sqlite:///{a2 / 'ledger.db'}")
    monkeypatch.setenv("LIFECYCLE_HOME", str(a2))
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", f"sqlite:///{a2 / 'ledger.db'}")
    with (a / "up.lock").open("a+") as held:  # a's `lifecycle up` runs, on a's own file
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        claim(engine, how="up")
    assert claim_of(engine)["home"] == str(a2.resolve())
    engine.dispose()


@pytest.mark.parametrize("made", ["no file", "an empty file", "an empty database"])
def test_db_adopt_on_a_mistyped_url_creates_and_claims_nothing(tmp_path, monkeypatch, made):
    """A typo in LIFECYCLE_DATABASE_URL made `db adopt` create an empty ledger and claim it: this home then served
    no customer of its installation. Only an existing, migrated ledger holding its installation is adopted."""
    import sqlite3

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("LIFECYCLE_HOME", str(tmp_path / "home"))
    typo = tmp_path / "ledgr.db"
    if made == "an empty file":
        typo.touch()
    elif made == "an empty database":
        sqlite3.connect(typo).execute("CREATE TABLE notes (line TEXT)").connection.close()
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", f"sqlite:///{typo}")
    before = typo.read_bytes() if typo.exists() else None
    result = CliRunner().invoke(app, ["db", "adopt"])
    assert (result.exit_code, result.stdout) == (2, ""), result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("lifecycle: there is no ledger at" if made == "no file" else "lifecycle: the database at ")
    assert "nothing was done; check LIFECYCLE_DATABASE_URL" in line
    assert (typo.read_bytes() if typo.exists() else None) == before


def test_a_copied_home_is_refused_its_originals_ledger_file(tmp_path, monkeypatch):
    """`cp -r a a2`, then a2's commands pointed at a's ledger.db (no `up` claimed it yet): the same installation id
    let the copy work on the original's ledger with the copy's settings and keys. A home with a ledger.db of its
    own works on no other ledger file."""
    import shutil

    sqlite_ledger(tmp_path, monkeypatch, "2026-11-20").dispose()
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    a = tmp_path / "a"
    a.mkdir()
    shutil.copy(tmp_path / "ledger.db", a / "ledger.db")
    shutil.copytree(a, tmp_path / "a2")
    monkeypatch.setenv("LIFECYCLE_HOME", str(tmp_path / "a2"))
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", f"sqlite:///{a / 'ledger.db'}")
    result = CliRunner().invoke(app, ["show", "customers"])
    assert (result.exit_code, result.stdout) == (2, ""), result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("lifecycle: LIFECYCLE_DATABASE_URL=") and str(a / "ledger.db") in line
    assert "is another ledger file than this LIFECYCLE_HOME's own" in line and "nothing was done" in line
    assert str(tmp_path / "a2" / "ledger.db") in line
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", f"sqlite:///{tmp_path / 'a2' / 'ledger.db'}")
    assert CliRunner().invoke(app, ["show", "customers"]).exit_code == 0  # its own file: its own


def _home_with_its_own_ledger(tmp_path, monkeypatch, name: str):
    """A home whose ledger.db is its own file, claimed by its `up` (the claim names it), set as this process's."""
    import shutil

    from lifecycle_config.databases import engine_for

    home = tmp_path / name
    home.mkdir()
    shutil.copy(tmp_path / "ledger.db", home / "ledger.db")
    monkeypatch.setenv("LIFECYCLE_HOME", str(home))
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", f"sqlite:///{home / 'ledger.db'}")
    engine = engine_for(f"sqlite:///{home / 'ledger.db'}")
    claim(engine, how="up")
    engine.dispose()
    return home


def test_a_hard_linked_ledger_db_is_refused_to_every_home_but_the_serving_one(tmp_path, monkeypatch):
    """Probe 17 (D3): `ln $A/ledger.db $H/ledger.db` made the file H's own (only a symbolic link was told apart).
    SQLite keeps a log per name, so H read A's ledger without A's last writes ("no customers" while A had 50)
    and wrote a log of its own onto the shared file. H's commands and H's `up` are refused in one line, before
    anything is written through H's name; A, which the claim names, works on."""
    import os

    from lifecycle_config.databases import engine_for

    sqlite_ledger(tmp_path, monkeypatch, "2026-11-20").dispose()
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    a = _home_with_its_own_ledger(tmp_path, monkeypatch, "a")
    h = tmp_path / "h"
    h.mkdir()
    os.link(a / "ledger.db", h / "ledger.db")
    monkeypatch.setenv("LIFECYCLE_HOME", str(h))
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", f"sqlite:///{h / 'ledger.db'}")
    for command in (["show", "customers"], ["db", "adopt"], ["show", "audit"]):
        result = CliRunner().invoke(app, command)
        assert (result.exit_code, result.stdout) == (2, ""), (command, result.output)
        [line] = result.stderr.splitlines()
        assert line.startswith(f"lifecycle: the ledger file '{h / 'ledger.db'}' has 2 names (a hard link"), line
        assert "nothing was done; remove the other name" in line
    engine = engine_for(f"sqlite:///{h / 'ledger.db'}")
    with pytest.raises(LedgerHeld):  # H's `up`, at the moment it would claim it: not H's own file
        claim(engine, how="up")
    engine.dispose()
    assert claim_of(engine_for(f"sqlite:///{a / 'ledger.db'}"))["home"] == str(a.resolve())
    monkeypatch.setenv("LIFECYCLE_HOME", str(a))  # the home the claim names keeps its ledger
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", f"sqlite:///{a / 'ledger.db'}")
    assert CliRunner().invoke(app, ["show", "customers"]).exit_code == 0


@pytest.mark.parametrize("spelling", ["sqlite+pysqlite:///{}", "sqlite:///file:{}?uri=true",
                                      "sqlite+pysqlite:///{folder}/../{folder.name}/./{name}"])
def test_every_spelling_of_a_sqlite_url_is_one_file(tmp_path, monkeypatch, spelling):
    """Probe 17 (D4): the checks that tell one ledger file from another tested the URL's prefix `sqlite:///`, so
    `sqlite+pysqlite:///$A/ledger.db` let a copied home work on its original's file (and `db upgrade` it), and
    `db adopt` take another home's own ledger.db. Every spelling SQLAlchemy and SQLite accept names the file."""
    import shutil

    def written(path):
        return spelling.format(path, folder=path.parent, name=path.name)

    sqlite_ledger(tmp_path, monkeypatch, "2026-11-20").dispose()
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    a = tmp_path / "a"
    a.mkdir()
    shutil.copy(tmp_path / "ledger.db", a / "ledger.db")
    (a / "server.json").write_text("{}")  # A's `up` ran there
    shutil.copytree(a, tmp_path / "a2")
    monkeypatch.setenv("LIFECYCLE_HOME", str(tmp_path / "a2"))
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", written(a / "ledger.db"))
    before = (a / "ledger.db").read_bytes()
    for command, said in ((["show", "customers"], "is another ledger file than this LIFECYCLE_HOME's own"),
                          (["db", "upgrade"], "is another ledger file than this LIFECYCLE_HOME's own"),
                          (["db", "adopt"], f"is the own ledger.db of LIFECYCLE_HOME '{a.resolve()}'")):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2, (command, result.output)
        [line] = result.stderr.splitlines()
        assert said in line and "nothing was done" in line, line
    assert (a / "ledger.db").read_bytes() == before
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", written(tmp_path / "a2" / "ledger.db"))  # its own file: its own
    from ledger.installation import homes_own_ledger

    assert homes_own_ledger()
    assert CliRunner().invoke(app, ["show", "customers"]).exit_code == 0


def _this_machines_address() -> str:
    """An address of this machine that is not loopback (the one its default route leaves by): `db adopt` asks a
    claim's server only there, a loopback address naming another server on each machine."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: the kernel only picks the route
        except OSError:
            pytest.skip("this machine has no route off loopback")
        return probe.getsockname()[0]


#: how long `db adopt` waits here for a hanging server to answer, instead of its 5 s (docs/reference/cli.md): the
#: answer never comes, so the wait is always waited out in full; a server that answers is still given the 5 s
SILENCE_WAITED = 0.5


@pytest.fixture
def old_server(two_homes, monkeypatch):
    """A stand-in for the old home's server on another machine, at an address of this one: answering every
    request with a given HTTP status (`status`), or taking the connection and answering nothing ("hangs": `db
    adopt` then waits SILENCE_WAITED for its answer, not its own 5 s). Yields a function that starts it and
    points the claim at it."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import lifecycle.server

    engine, a, b = two_homes
    address, started = _this_machines_address(), []
    assert lifecycle.server.SILENT_SERVER_SECONDS == 5  # what the docs tell a user `db adopt` waits

    def start(status):
        if status == "hangs":
            monkeypatch.setattr(lifecycle.server, "SILENT_SERVER_SECONDS", SILENCE_WAITED)
            listener = socket.create_server((address, 0))  # the kernel takes the connection; nobody answers
            started.append(listener.close)
            port = listener.getsockname()[1]
        elif status == "stopped":
            with socket.create_server((address, 0)) as gone:  # a port nothing listens on any more: refused
                port = gone.getsockname()[1]
        else:
            class Answer(BaseHTTPRequestHandler):
                def do_GET(self):
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

                def log_message(self, *args):
                    pass

            server = ThreadingHTTPServer((address, 0), Answer)
            threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()  # stopped at once
            started.append(lambda: (server.shutdown(), server.server_close()))
            port = server.server_address[1]
        api_url = f"http://{address}:{port}/api"
        _claim_names(engine, str(a.resolve()), "machine-a", api_url)
        return api_url

    yield start
    for stop in started:
        stop()


@pytest.mark.parametrize("status", [401, 503, 200, "hangs"])
def test_db_adopt_is_refused_while_the_old_homes_server_answers_anything_or_hangs(old_server, two_homes, status):
    """Probe 17 (D5): `db adopt` took the old home's `up` for stopped unless its /health answered 200 within
    1.5 s: a server behind basic auth (401 to every request without its password, which the claim does not keep),
    a busy one (5xx) or a hanging one lost its ledger while it ran. Any answer, or none in time, is a server."""
    engine, a, _ = two_homes
    api_url = old_server(status)
    result = CliRunner().invoke(app, ["db", "adopt"])
    assert (result.exit_code, result.stdout) == (2, ""), result.output
    [line] = result.stderr.splitlines()
    assert f"served by LIFECYCLE_HOME '{a.resolve()}' on 'machine-a', and its server at '{api_url}' " in line
    assert (f"gives no answer within {SILENCE_WAITED:g} s" if status == "hangs" else f"answers (HTTP {status})") \
        in line
    assert "nothing was done; stop that `lifecycle up` (Ctrl-C in its terminal on 'machine-a')" in line
    assert "`lifecycle db adopt --server-gone`" in line
    assert claim_of(engine)["home"] == str(a.resolve())


def test_db_adopt_takes_over_once_the_old_server_refuses_connections_or_is_said_gone(old_server, two_homes):
    engine, a, b = two_homes
    old_server("stopped")
    adopted = CliRunner().invoke(app, ["db", "adopt"])
    assert adopted.exit_code == 0, adopted.output
    assert claim_of(engine)["home"] == str(b.resolve())
    from ledger.models import LedgerClaim

    with session_scope(engine, write=True) as session:  # back to the old home, whose machine now hangs
        session.get(LedgerClaim, True).home = str(a.resolve())
    old_server("hangs")
    assert CliRunner().invoke(app, ["db", "adopt"]).exit_code == 2
    gone = CliRunner().invoke(app, ["db", "adopt", "--server-gone"])  # its machine is gone for good, says the user
    assert gone.exit_code == 0, gone.output
    assert claim_of(engine)["home"] == str(b.resolve())


def _older_ledger(path, installation: str) -> None:
    """A ledger at the schema before the newest migration (what a home of the previous release left), whose
    identity is `installation`."""
    import sqlite3

    from alembic import command

    from ledger.migrate import _config

    command.upgrade(_config(f"sqlite:///{path}"), "0022_backup_locks")
    with sqlite3.connect(path) as database:
        database.execute("UPDATE installation SET id = ?", (installation,))  # the id its migration made


def _files(folder) -> dict:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.mark.parametrize("command", [
    pytest.param(["db", "upgrade"], id="db upgrade"),
    pytest.param(["db", "check"], id="db check"),
    pytest.param(["db", "adopt"], id="db adopt"),
    pytest.param(["db", "restore-snapshot", "a1b2", "--to", "sqlite:///{tmp}/restored.db"], id="db restore-snapshot"),
    pytest.param(["show", "customers"], id="show customers"),
])
@pytest.mark.parametrize("belongs", ["its own ledger file", "its server.json"])
def test_another_installations_older_ledger_is_refused_before_it_is_migrated(tmp_path, monkeypatch, command,
                                                                             belongs):
    """`db upgrade` pointed at another installation's ledger ran the migrations first and refused after: an older
    schema's file was migrated by a home that must never act on it. Every command that uses the ledger refuses it
    before anything is written: the file is byte for byte as it was."""
    import json

    sqlite_ledger(tmp_path, monkeypatch, "2026-11-20").dispose()
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("PREFECT_HOME", raising=False)
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    _older_ledger(theirs / "other.db", "installation-of-another-home")
    home = tmp_path / "b"
    home.mkdir()
    if belongs == "its own ledger file":
        import shutil

        shutil.copy(tmp_path / "ledger.db", home / "ledger.db")
    else:
        (home / "server.json").write_text(json.dumps({"installation": "installation-of-this-home"}))
    monkeypatch.setenv("LIFECYCLE_HOME", str(home))
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", f"sqlite:///{theirs / 'other.db'}")
    before = _files(theirs)
    result = CliRunner().invoke(app, [part.format(tmp=tmp_path) for part in command])
    assert (result.exit_code, result.stdout) == (2, ""), result.output
    [line] = result.stderr.splitlines()
    assert "is the ledger of installation installation-of-another-home" in line and "nothing was done" in line
    assert _files(theirs) == before  # not migrated, not given an identity, no journal left beside it
    assert not (tmp_path / "restored.db").exists()


def test_an_up_refused_another_homes_ledger_leaves_its_home_as_it_found_it(two_homes):
    # the look for a running `up` of this home made an empty up.lock before the ledger was refused
    import os

    engine, a, b = two_homes
    refused = CliRunner().invoke(app, ["up", "--port", "4711"])
    assert (refused.exit_code, refused.stdout) == (2, ""), refused.output
    assert f"is served by LIFECYCLE_HOME '{a.resolve()}'" in refused.stderr
    assert os.listdir(b) == []


def _refused_as_another_homes_file(result, h, a):
    assert (result.exit_code, result.stdout) == (2, ""), result.output
    [line] = result.stderr.splitlines()
    assert line.startswith(f"lifecycle: the ledger file '{h / 'ledger.db'}' of this LIFECYCLE_HOME ('{h.resolve()}'"), line
    assert f"is the very file of the ledger.db of LIFECYCLE_HOME '{a.resolve()}' (the same device and inode" in line and "nothing was done" in line


def test_another_homes_ledger_db_under_a_name_of_one_link_is_refused_by_its_identity(tmp_path, monkeypatch):
    """Probe 19a (D3): `mount --bind $B/ledger.db $F/ledger.db` gave F a name of B's file with one link and no
    symbolic link, so F took it as its own and wrote a log of its own beside it (a split write log). The claim
    names B, and B's ledger.db is the same file (device and inode): F's commands, `db adopt` and `up` are refused
    in one line naming both homes, before anything is written (no -wal beside F's name). Made here without
    mount(2): B's ledger.db is a symbolic link to the file in F, which is the one name of one link in F;
    tests/integration/test_ledger_claim_up.py does it with a real bind mount."""
    import os

    from lifecycle_config.databases import engine_for

    sqlite_ledger(tmp_path, monkeypatch, "2026-11-20").dispose()
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    b = _home_with_its_own_ledger(tmp_path, monkeypatch, "b")  # the claim names B
    f = tmp_path / "f"
    f.mkdir()
    os.replace(b / "ledger.db", f / "ledger.db")
    (b / "ledger.db").symlink_to(f / "ledger.db")  # B's ledger.db is F's file: one file, one link, two homes
    assert os.stat(f / "ledger.db").st_nlink == 1 and not (f / "ledger.db").is_symlink()
    monkeypatch.setenv("LIFECYCLE_HOME", str(f))
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", f"sqlite:///{f / 'ledger.db'}")
    before = (f / "ledger.db").read_bytes()
    for command in (["show", "customers"], ["db", "adopt"], ["db", "upgrade"]):
        _refused_as_another_homes_file(CliRunner().invoke(app, command), f, b)
    assert sorted(p.name for p in f.iterdir()) == ["ledger.db"]  # no -wal, no -shm: nothing written
    assert (f / "ledger.db").read_bytes() == before
    engine = engine_for(f"sqlite:///{f / 'ledger.db'}")
    with pytest.raises(LedgerHeld):  # F's `up`, at the moment it would claim it
        claim(engine, how="up")
    assert claim_of(engine)["home"] == str(b.resolve())
    engine.dispose()
    monkeypatch.setenv("LIFECYCLE_HOME", str(b))  # the home the claim names keeps it
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", f"sqlite:///{b / 'ledger.db'}")
    assert CliRunner().invoke(app, ["show", "customers"]).exit_code == 0
