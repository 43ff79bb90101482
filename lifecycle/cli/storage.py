"""The installation's storage as a command reaches it outside a run (`keys`, `db restore-snapshot`, the
`--out` checks): the storage block the runs read, from the server of `lifecycle up` or of PREFECT_API_URL, and
what must never be written inside its folder."""

from __future__ import annotations

from lifecycle.cli.common import fail


def inside_storage_problem(path, storage) -> str | None:
    """Why the CLI must not write `path` (an --out file or folder, a restored database): it lies inside the
    storage's folder (`storage`: the ObjectStorage the installation's runs use), where every file is a stored
    object (another month's workbook, a backup, a data key) or may become one. `run export --out` with --force
    overwrote another version's stored workbook there. Compared as real paths: a symbolic link to the folder,
    or into it, is inside too; `..` and relative paths are resolved first. Another installation's storage folder
    (known by its marker or its layout: blocks.storage.storage_folder_holding) is refused as well: a master key's
    escrow copy or a workbook written there was served by that installation's downloads server, as its own.
    None: outside every storage folder."""
    from blocks.storage import storage_folder_holding
    from lifecycle_config import escaped

    root = storage.holding(path)
    if root is not None:
        return (f"is inside the storage folder {escaped(root, 4096)} (where the installation keeps its stored objects: "
                f"workbooks, backups, keys): name a file or folder outside it; nothing was written there")
    other = storage_folder_holding(path)
    if other is None:
        return None
    return (f"is inside {escaped(other, 4096)}, the storage folder of another lifecycle installation (its stored "
            f"objects, which its downloads server serves as its own): name a file or folder outside every storage "
            f"folder; nothing was written there")


def installation_storage():
    """The storage block this installation's runs use (ObjectStorage): read from the server of `lifecycle up`
    for this home, or of PREFECT_API_URL, when one answers, as every run reads it; else its defaults
    (LIFECYCLE_STORAGE_URL, else $LIFECYCLE_HOME/objects). A command that works on the storage outside a run
    (`keys`, `db restore-snapshot`) must see the store the runs write: a url, credentials or KMS key set in the
    block and not in the environment would otherwise send it to another store. A server that serves another
    installation is refused in one line (its blocks are that one's); a saved block out of bounds too."""
    import os

    from lifecycle.server import ServerDown, explicit_server_answers, running_server

    explicit = os.environ.get("PREFECT_API_URL")
    if explicit:
        try:
            explicit_server_answers(explicit)
        except ServerDown as error:
            fail(str(error))
        url = explicit
    else:
        url = running_server()
    if url is not None:
        # this process's server from now on, as prefect_ready makes it, before Prefect is imported (the blocks
        # import it): Prefect reads its settings once, and a command that checks its options here (`run export
        # --out`) and then runs would find no server and start a temporary one for its run
        os.environ["PREFECT_API_URL"] = url
    from blocks.settings import BLOCK_NAME
    from blocks.storage import ObjectStorage

    if url is None:
        return ObjectStorage()
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from pydantic import ValidationError

    from blocks.settings import invalid_block_line
    from lifecycle.cli.serve import refuse_another_installations_server

    refuse_another_installations_server(url)
    # its fields, as a run's Block.load reads them, in a block of no document: a loaded block's methods emit
    # events, whose sender would start a temporary server at exit (this process has no PREFECT_API_URL)
    with temporary_settings({PREFECT_API_URL: url}), get_client(sync_client=True) as client:
        try:
            document = client.read_block_document_by_name(
                name=BLOCK_NAME, block_type_slug=ObjectStorage.get_block_type_slug(), include_secrets=True)
        except ObjectNotFound:
            return ObjectStorage()
    try:
        return ObjectStorage.model_validate(document.data)
    except ValidationError as error:
        fail(invalid_block_line(ObjectStorage, BLOCK_NAME, error), 2)


def backups_keys(engine) -> dict[str, str | None]:
    """The data keys the ledger's good backups were made under: {key id: owner (a customer, None for the
    installation's ledger snapshots)}, from each backup's manifest."""
    from sqlalchemy import select

    from ledger.db import session_scope
    from ledger.models import Backup
    from policy.vocabulary import BackupKind, BackupStatus

    found: dict[str, str | None] = {}
    with session_scope(engine) as session:
        for kind, customer_id, manifest in session.execute(
                select(Backup.kind, Backup.customer_id, Backup.manifest).where(Backup.status == BackupStatus.GOOD)):
            key_id = ((manifest or {}).get("encryption") or {}).get("key_id")
            if key_id:
                found[key_id] = None if kind == BackupKind.LEDGER else customer_id
    return found
