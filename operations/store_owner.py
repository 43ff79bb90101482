"""Which installation owns an object store: the ledger's (its installation id), named in the store's marker at its
first write (blocks.storage._Owned.claim), so one installation never writes into another's store: a close of
another ledger on the same folder took this one's invoice documents as its own and mailed them, and its export
overwrote this one's workbook.

A store an older release filled names no installation yet: it is adopted at its first write only when nothing in it
says it is another's (`contradiction`): data keys wrapped by a master key this installation does not hold,
workbooks or invoice documents its ledger did not record as it wrote them."""

from __future__ import annotations

import hashlib
import re

from blocks.storage import FolderStore, S3Store, StoreOwner


def this_installation(engine=None) -> StoreOwner | None:
    """The ledger's installation (made once if its ledger has none), from this home and machine; None when there is
    no ledger to ask (no ledger file, a database not migrated): a store used without one (a test of the storage
    alone) names no owner, and is claimed by the first installation that writes there with its ledger."""
    from sqlalchemy.exc import SQLAlchemyError

    import lifecycle_config as config
    from ledger.installation import installation_id, ledger_looked_at, this_home

    if engine is None:
        with ledger_looked_at(config.database_url()) as look:  # never makes a ledger file where there is none
            if look is None:
                return None
    try:
        installation = installation_id(engine)
    except SQLAlchemyError:
        return None
    home, host = this_home()
    return StoreOwner(installation, f"{home} on {host}", adoptable=lambda store: contradiction(store, engine))


def contradiction(store: FolderStore | S3Store, engine=None) -> str | None:
    """What in a store that names no installation says it is not this one's (None: nothing; it may be adopted)."""
    return _foreign_keys(store) or _foreign_workbooks(store, engine) or _foreign_documents(store, engine)


def _foreign_keys(store: FolderStore | S3Store) -> str | None:
    """Data keys wrapped by a master key file this installation does not hold (operations.backup_keys)."""
    from lifecycle_config import masterkey
    from operations.backup_keys import KMS, _record_at

    prints = {masterkey.fingerprint(key) for key in masterkey.read_keys()}
    for item in store.list("keys/"):
        if not item.key.endswith(".json"):
            continue
        wrapping = str(_record_at(store, item.key).get("master"))
        if wrapping.startswith(KMS):
            continue
        if wrapping not in prints:
            return f"its data key {item.key} is wrapped by master key {wrapping[:40]}, which this installation does " \
                   f"not hold"
        return None  # one key of ours: the key store is this installation's
    return None


def _foreign_workbooks(store: FolderStore | S3Store, engine=None) -> str | None:
    from sqlalchemy import select

    from ledger.db import session_scope
    from ledger.models import Export

    with session_scope(engine) as session:
        recorded = dict(session.execute(select(Export.key, Export.bytes)).all())
    for item in store.list("exports/"):
        if recorded.get(item.key) != item.size:
            return f"the workbook {item.key} is not one this installation's ledger records"
    return None


def _foreign_documents(store: FolderStore | S3Store, engine=None) -> str | None:
    from sqlalchemy import select

    from ledger.db import session_scope
    from ledger.models import Invoice

    with session_scope(engine) as session:
        recorded = {key: sha for key, sha in session.execute(
            select(Invoice.document_key, Invoice.document_sha256).where(Invoice.document_key.is_not(None))).all()}
        numbers = set(session.scalars(select(Invoice.number).where(Invoice.number.is_not(None))).all())
    for item in store.list("invoices/"):
        if item.key in recorded:
            if recorded[item.key]:
                with store.open(item.key) as handle:
                    if hashlib.sha256(handle.read()).hexdigest() != recorded[item.key]:
                        return f"the document {item.key} is not the one this installation's ledger records"
            continue
        again = re.fullmatch(r"(.+)-r[1-9][0-9]*\.pdf", item.key.rsplit("/", 1)[-1])
        if not again or again[1] not in numbers:  # a redeposit's document of one of ours (ledger.keys)
            return f"the document {item.key} is not one this installation's ledger records"
    return None
