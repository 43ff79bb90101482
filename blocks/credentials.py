"""The Prefect Secret block in which releases before the installation's key file kept the key sealing ticket
credentials (`ticket-credentials-key`). The key now lives in the installation's key file
(lifecycle_config/keyfile.py, ledger/sealing.py); `lifecycle up` and `lifecycle helpdesk-webhook` adopt
the block's key once, so what it sealed stays readable. Nothing seals with the block any more.
"""

from __future__ import annotations

KEY_BLOCK = "ticket-credentials-key"


def legacy_key() -> bytes | None:
    """The key the Prefect server in use keeps in the block of an older release, or None."""
    from prefect.blocks.system import Secret

    try:
        key = Secret.load(KEY_BLOCK).get()
    except ValueError:  # no such block: nothing to adopt
        return None
    return key.encode("ascii") if isinstance(key, str) else key
