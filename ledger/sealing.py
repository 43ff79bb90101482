"""Sealing the credentials a customer gives with a ticket (seed 003: nobody reads them in the ledger, a log
or a backup; they are deleted once the request is closed), with the installation's own key.

The key is the installation's key file (lifecycle_config/keyfile.py, under `LIFECYCLE_HOME`), read the
same way by every process of the installation (the CLI's imports, the helpdesk webhook, the server's
flows), with no Prefect server and never from the user's home. The ledger records which key it is
(`installation.credentials_key_id`): a process holding another key (another installation's file, a
machine where the file was not copied) refuses to seal in one line rather than seal with a key the
installation does not hold, and a ledger's tokens open only with its own installation's key.
"""

from __future__ import annotations

from sqlalchemy import select, update

from ledger.db import session_scope
from ledger.installation import installation_id
from ledger.models import Installation
from lifecycle_config import keyfile
from lifecycle_config.conditions import Unavailable
from policy.refusals import Refusal


class KeyUnavailable(Unavailable):
    """The installation's key cannot be used here: missing, or not the one the ledger names."""


class NotSealedHere(Refusal, ValueError):
    """A token that this installation's key did not seal (another installation's, or damaged)."""


def _recorded(engine) -> str | None:
    installation_id(engine)  # the row exists
    with session_scope(engine) as session:
        return session.scalar(select(Installation.credentials_key_id))


def _record(engine, fingerprint: str) -> str:
    """Name `fingerprint` as the ledger's key unless one is named already; returns the one named."""
    with session_scope(engine, write=True) as session:
        session.execute(update(Installation).where(Installation.credentials_key_id.is_(None))
                        .values(credentials_key_id=fingerprint))
    return _recorded(engine)


def keys(engine=None, *, create: bool = True) -> list[bytes]:
    """The installation's keys, the sealing one first, once the file and the ledger agree on it. The first
    use of a fresh installation (no key named in the ledger, no file) makes the key when `create`."""
    from cryptography.fernet import Fernet

    path = keyfile.key_file()
    found = keyfile.read_keys(path)
    named = _recorded(engine)
    if not found:
        if named is not None:
            raise KeyUnavailable(f"this ledger's ticket credentials are sealed with key {named[:12]}, and there is no "
                                 f"key file at {path}: copy the installation's key file there (or name it with "
                                 f"{keyfile.VARIABLE}); nothing was sealed")
        if not create:
            raise KeyUnavailable(f"no key file at {path}: this installation has sealed no credentials yet")
        found = keyfile.create(path, Fernet.generate_key())
    own = keyfile.fingerprint(found[0])
    if named is None:
        named = _record(engine, own)
    if named != own:
        raise KeyUnavailable(f"the key file {path} holds key {own[:12]}, not this ledger's key {named[:12]} (another "
                             f"installation's file?): use the key file of the installation this ledger belongs to "
                             f"({keyfile.VARIABLE} names its path); nothing was sealed")
    return found


def adopt(key: bytes, engine=None) -> str:
    """Keep a key of an older release (the Prefect Secret block that sealed before the key file): it becomes
    the installation's key when there is none yet, else it stays able to unseal. Returns what was done."""
    path = keyfile.key_file()
    if not keyfile.read_keys(path) and _recorded(engine) in (None, keyfile.fingerprint(key)):
        keyfile.create(path, key)
        keys(engine, create=False)
        return f"the credentials key of the Prefect Secret block now lives in {path}"
    if key in keyfile.read_keys(path):
        return ""
    keyfile.add(path, key)
    return f"the credentials key of the Prefect Secret block is kept in {path} to open what it sealed"


def cipher(engine=None, *, create: bool = True):
    """The installation's Fernet cipher: seals with its key, opens what any of its keys sealed."""
    from cryptography.fernet import Fernet, MultiFernet

    return MultiFernet([Fernet(key) for key in keys(engine, create=create)])


def seal(secret: str, fernet) -> str:
    return fernet.encrypt(secret.encode("utf-8")).decode("ascii")


def unseal(token: str, fernet) -> str:
    from cryptography.fernet import InvalidToken

    try:
        return fernet.decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise NotSealedHere("these credentials were not sealed with this installation's key") from None


def sealer(engine=None):
    """A function sealing one secret with the installation's key. The key is made ready now, before the
    import's write transaction that calls it (naming a fresh installation's key writes to the ledger); a key
    that cannot be used is said only when a secret is to be sealed (an import without credentials needs none)."""
    try:
        fernet, problem = cipher(engine), None
    except (KeyUnavailable, keyfile.KeyFileDamaged) as error:
        fernet, problem = None, error

    def seal_one(secret: str) -> str:
        if problem is not None:
            raise problem
        return seal(secret, fernet)

    return seal_one
