"""Ticket credentials are sealed with the installation's own key, as a user meets it: `lifecycle import tickets`
in a shell with only LIFECYCLE_HOME set seals with the key file of that home (no Prefect server, nothing
written to the user's home), the server-side code of the same installation opens them, and another
installation's key neither opens them nor seals for this ledger; a missing key file is said in one line
rather than replaced by a new key. On SQLite and PostgreSQL."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from ledger.db import session_scope
from ledger.imports import import_file
from ledger.models import Installation, Ticket
from ledger.sealing import KeyUnavailable, NotSealedHere, adopt, cipher, seal, unseal
from lifecycle_config.databases import engine_for
from lifecycle_config.keyfile import fingerprint
from tests.support.builders import CUSTOMER_HEADER, customer, write_csv
from tests.support.up import clean_env

SECRET = "vpn: ops-acme / Tr0ub4dor&3-secret"
HEADER = ["ticket_id", "customer_id", "received_at", "type", "credentials"]


def token(engine, ticket_id: str) -> str | None:
    with session_scope(engine) as session:
        found = session.get(Ticket, ticket_id)
        return None if found is None else found.credentials_token


@pytest.fixture
def shell(home, ledger, ledger_url, tmp_path):
    """`lifecycle` as a user runs it: this installation's home and ledger, a user's home of its own, no
    Prefect variable; ACME imported."""
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME")]), engine=ledger)
    user = tmp_path / "user"
    user.mkdir()

    def lifecycle(*args: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "lifecycle.cli", *args], capture_output=True, text=True,
                              timeout=180, env=clean_env(home, HOME=str(user), LIFECYCLE_DATABASE_URL=ledger_url, **env))

    lifecycle.user = user
    return lifecycle


def tickets(tmp_path: Path, ticket_id: str, credentials: str = SECRET) -> Path:
    return write_csv(tmp_path / f"{ticket_id}.csv", HEADER, [[ticket_id, "ACME", "2026-10-05T10:00", "bug", credentials]])


def test_import_tickets_seals_with_the_installations_key_that_its_server_opens_and_no_other(shell, home, ledger,
                                                                                             tmp_path, monkeypatch):
    imported = shell("import", "tickets", str(tickets(tmp_path, "T-1")))
    assert imported.returncode == 0, imported.stderr
    assert "temporary" not in imported.stderr and "Prefect" not in imported.stderr, imported.stderr
    assert not (shell.user / ".prefect").exists()  # the user's default Prefect profile was never started
    key_file = home / "keys" / "credentials.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    sealed = token(ledger, "T-1")
    assert sealed and SECRET not in sealed
    # the server-side code of the same installation (same LIFECYCLE_HOME and ledger) opens it
    assert unseal(sealed, cipher(ledger, create=False)) == SECRET
    with session_scope(ledger) as session:
        named = session.get(Installation, True).credentials_key_id
    assert named == fingerprint(key_file.read_text().strip().encode())

    # another installation (its own home and ledger) has a key of its own, which opens nothing of this one's
    other_home = tmp_path / "other"
    other = engine_for(f"sqlite:///{tmp_path / 'other.db'}")
    from ledger.migrate import upgrade

    upgrade(f"sqlite:///{tmp_path / 'other.db'}")
    monkeypatch.setenv("LIFECYCLE_HOME", str(other_home))
    with pytest.raises(NotSealedHere, match="^these credentials were not sealed with this installation's key$"):
        unseal(sealed, cipher(other))
    other_key = other_home / "keys" / "credentials.key"
    assert other_key.read_text() != key_file.read_text()
    monkeypatch.setenv("LIFECYCLE_HOME", str(home))

    # nor does it seal for this ledger: in a process...
    monkeypatch.setenv("LIFECYCLE_CREDENTIALS_KEY_FILE", str(other_key))
    with pytest.raises(KeyUnavailable, match="not this ledger's key"):
        cipher(ledger)
    monkeypatch.delenv("LIFECYCLE_CREDENTIALS_KEY_FILE")
    # ... nor from the command line: one line, nothing written
    refused = shell("import", "tickets", str(tickets(tmp_path, "T-2")), LIFECYCLE_CREDENTIALS_KEY_FILE=str(other_key))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines() == [
        f"lifecycle: the key file {other_key} holds key {fingerprint(other_key.read_text().strip().encode())[:12]}, "
        f"not this ledger's key {named[:12]} (another installation's file?): use the key file of the installation "
        f"this ledger belongs to (LIFECYCLE_CREDENTIALS_KEY_FILE names its path); nothing was sealed"]
    assert token(ledger, "T-2") is None


def test_a_missing_key_file_is_said_in_one_line_never_replaced_by_a_new_key(shell, home, ledger, tmp_path):
    assert shell("import", "tickets", str(tickets(tmp_path, "T-1"))).returncode == 0
    key_file = home / "keys" / "credentials.key"
    kept = key_file.read_text()
    key_file.unlink()  # a machine the key file was not copied to, or a home restored without it
    refused = shell("import", "tickets", str(tickets(tmp_path, "T-2")))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("lifecycle: this ledger's ticket credentials are sealed with key ")
    assert line.endswith(f"and there is no key file at {key_file}: copy the installation's key file there (or name "
                         f"it with LIFECYCLE_CREDENTIALS_KEY_FILE); nothing was sealed")
    assert not key_file.exists() and token(ledger, "T-2") is None
    # a file without credentials needs no key
    plain = shell("import", "tickets", str(tickets(tmp_path, "T-3", credentials="")))
    assert plain.returncode == 0, plain.stderr
    # the key copied back readable by others (umask 022): refused as ssh refuses a private key, then chmod 600
    key_file.write_text(kept)
    key_file.chmod(0o644)
    loose = shell("import", "tickets", str(tickets(tmp_path, "T-2")))
    assert loose.returncode == 2 and f"is readable by others than its owner (mode 644): `chmod 600 {key_file}`" \
        in loose.stderr and token(ledger, "T-2") is None
    key_file.chmod(0o600)
    assert shell("import", "tickets", str(tickets(tmp_path, "T-2"))).returncode == 0
    assert unseal(token(ledger, "T-2"), cipher(ledger)) == unseal(token(ledger, "T-1"), cipher(ledger)) == SECRET


def test_the_key_an_older_release_kept_in_a_prefect_block_is_adopted_and_what_it_sealed_still_opens(ledger, home):
    block_key = Fernet.generate_key()
    sealed_before = seal(SECRET, Fernet(block_key))
    assert adopt(block_key, ledger) == f"the credentials key of the Prefect Secret block now lives in " \
                                       f"{home / 'keys' / 'credentials.key'}"
    assert unseal(sealed_before, cipher(ledger)) == SECRET
    assert adopt(block_key, ledger) == ""  # once
    # an installation whose key file came first keeps sealing with it, and opens what the block sealed
    (home / "keys" / "credentials.key").unlink()
    with session_scope(ledger, write=True) as session:
        session.get(Installation, True).credentials_key_id = None
    fresh = cipher(ledger)
    other_block = Fernet.generate_key()
    sealed_by_block = seal(SECRET, Fernet(other_block))
    assert adopt(other_block, ledger).startswith("the credentials key of the Prefect Secret block is kept in ")
    both = cipher(ledger)
    assert unseal(sealed_by_block, both) == SECRET
    assert unseal(seal(SECRET, both), fresh) == SECRET  # new seals use the installation's own key
