"""The key that seals the credentials a customer gives with a ticket (seed 003: they are "deleted
completely" once the request is closed; until then nobody reads them in the ledger, a log or a backup).

The key is a Fernet key in a Prefect Secret block (`ticket-credentials-key`), created the first time
it is needed (`lifecycle up`, `lifecycle deploy`, or the first import that carries credentials) and
never written anywhere else: the ledger keeps only the token, so a ledger snapshot or a stolen
database discloses nothing without the server's block.
"""

from __future__ import annotations

KEY_BLOCK = "ticket-credentials-key"


class KeyUnavailable(ValueError):
    """The Prefect server holding the key does not answer."""


def cipher(create: bool = True):
    """The Fernet cipher of the key block (made when missing and `create`)."""
    from cryptography.fernet import Fernet
    from prefect.blocks.system import Secret

    try:
        try:
            key = Secret.load(KEY_BLOCK).get()
        except ValueError:  # no such block yet
            if not create:
                raise KeyUnavailable(f"no key block {KEY_BLOCK!r} on the Prefect server") from None
            key = Fernet.generate_key().decode()
            Secret(value=key).save(KEY_BLOCK, overwrite=False)
    except KeyUnavailable:
        raise
    except Exception as error:  # noqa: BLE001 - any way the server cannot be reached
        raise KeyUnavailable(f"the key of ticket credentials lives in the Prefect Secret block {KEY_BLOCK!r} and the "
                             f"Prefect server does not answer ({type(error).__name__}); start `lifecycle up` or set "
                             f"PREFECT_API_URL") from None
    return Fernet(key.encode() if isinstance(key, str) else key)


def seal(secret: str, fernet) -> str:
    return fernet.encrypt(secret.encode("utf-8")).decode("ascii")


def unseal(token: str, fernet) -> str:
    return fernet.decrypt(token.encode("ascii")).decode("utf-8")


def sealer():
    """A function sealing one secret, that reaches the key block only when first called (an import without
    credentials never needs the server)."""
    fernet = None

    def seal_one(secret: str) -> str:
        nonlocal fernet
        if fernet is None:
            fernet = cipher()
        return seal(secret, fernet)

    return seal_one
