"""`lifecycle keys`: the backups' keys. The master key's escrow copy for the vendor's safe, a new master
key (every data key rewrapped, no backup re-encrypted) and a customer's new data key. No Prefect: they
touch the key file and the storage's `keys/` only."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from lifecycle.cli.common import fail, whole_number
from lifecycle.help_format import ReadableHelp

#: what a `keys` command run in a client home would use (lifecycle.cli.common.refuse_in_a_client_home)
KEYS = "would use this home's own master key file and storage settings"

keys_app = typer.Typer(no_args_is_help=True, cls=ReadableHelp,
                       help="The backups' keys: escrow copy of the master key, rotations.")


@keys_app.command("export")
def keys_export(
    out: Path = typer.Option(..., "--out", help="The escrow file to write (new: an existing file is never overwritten)."),
) -> None:
    """Write an escrow copy of the master key (readable by its owner only) for the vendor's safe: with it,
    `--master-key-file` or LIFECYCLE_MASTER_KEY_FILE reads every backup when the home's key is lost. With a
    KMS master key there is nothing to export: the key never leaves KMS."""
    from lifecycle.cli.common import ledger, refuse_in_a_client_home
    from lifecycle.cli.storage import inside_storage_problem, installation_storage
    from lifecycle_config import escaped, masterkey

    refuse_in_a_client_home(ledger(), f"`lifecycle keys export` {KEYS}")
    storage = installation_storage()
    inside = inside_storage_problem(out, storage)  # the master key beside the data keys it wraps: no secret left
    if inside:
        fail(f"--out {escaped(str(out))} {inside}", 2)
    kms = storage.master_kms()
    if kms is not None:
        fail(f"the master key is the KMS key {kms.key_id}: its escrow is the KMS key's own (its key policy and "
             f"deletion waiting period), it never leaves KMS; nothing was written to --out", 2)
    try:
        held = masterkey.read_keys()
    except masterkey.MasterKeyMissing as error:
        fail(str(error), 2)
    if not held:
        fail(f"no master key at {masterkey.key_file()} yet (it is made by the first backup): nothing to export", 2)
    if len(held) > 1:
        fail("a master-key rotation is unfinished: run `lifecycle keys rotate-master` to finish it, then export", 2)
    try:
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        fail(f"--out {out} exists: choose a new file (an escrow copy is never overwritten)", 2)
    except OSError as error:  # said as the other --out paths say it, never the system's bare words
        from lifecycle_config import file_in_the_way

        under = file_in_the_way(out)
        if under is not None:
            fail(f"--out {escaped(str(out))} cannot be made: {escaped(str(under))} is a file, not a folder", 2)
        if isinstance(error, FileNotFoundError) and not Path(out).parent.is_dir():
            fail(f"--out {escaped(str(out))}: its folder {escaped(str(Path(out).parent))} does not exist: make it "
                 f"first, or name a file in a folder that exists", 2)
        fail(f"--out {escaped(str(out))} cannot be written ({error.strerror}): name a new file in a folder you may "
             f"write", 2)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(masterkey.encoded(held[0]).decode("ascii") + "\n")
    typer.echo(f"master key {masterkey.fingerprint(held[0])} written to {out} (keep it in the vendor's safe)")


@keys_app.command("rotate-master")
def keys_rotate_master(
    wait: Optional[int] = typer.Option(None, "--wait", metavar="SECONDS",
                                       parser=whole_number("--wait", minimum=0, maximum=86400),
                                       help="How long to wait for backups wrapping data keys (they hold the key "
                                            "file's FILE.wrapping lock) before giving up with nothing changed "
                                            "(default 300)."),
) -> None:
    """A new master key: every data key is rewrapped under it, no backup is re-encrypted. Interrupted, it is
    finished by running it again; the old key is dropped only once no data key needs it. Export the new
    key afterwards (lifecycle keys export). With a KMS master key: every data key is rewrapped under the KMS
    key now named (from the key file, or a KMS key named before)."""
    from lifecycle.cli.common import ledger, note, refuse_in_a_client_home
    from lifecycle.cli.storage import backups_keys, installation_storage
    from lifecycle_config import masterkey
    from operations.backup_keys import (BackupsWrapping, KeyDestroyed, RotationImpossible, RotationRunning,
                                        WrongStore, check_store_holds, rotate_master)

    def waiting(lock, seconds) -> None:  # said once: a rotation waiting silently looked hung
        note(f"waiting for backups wrapping data keys to finish (they hold {lock} shared): at most {seconds:g} s "
             f"(--wait)")

    refuse_in_a_client_home(ledger(), f"`lifecycle keys rotate-master` {KEYS}")
    store = installation_storage().store()
    try:
        check_store_holds(store, backups_keys(ledger()))
        fingerprint, rewrapped = rotate_master(store, on_wait=waiting,
                                               **({} if wait is None else {"wait_seconds": wait}))
    except (masterkey.MasterKeyMissing, WrongStore, RotationImpossible) as error:
        fail(str(error), 2)
    except (KeyDestroyed, RotationRunning, BackupsWrapping) as error:  # a damaged key object, work under way
        fail(str(error))
    if store.master_kms is not None:
        typer.echo(f"the KMS key {store.master_kms.key_id} wraps every data key ({rewrapped} rewrapped); KMS rotates "
                   f"its own key material (enable automatic rotation on the key); to move to another KMS key, name "
                   f"it (LIFECYCLE_MASTER_KEY_KMS_ID or the storage block's master_key_kms_id) and run this again")
        return
    typer.echo(f"master key {fingerprint} now wraps every data key ({rewrapped} rewrapped); export it: "
               f"lifecycle keys export --out FILE")


@keys_app.command("rotate")
def keys_rotate(
    customer: str = typer.Option(..., "--customer", help="The customer whose new backups get a new data key."),
) -> None:
    """A new data key for a customer's new backups; its older backups stay readable under their own key until
    retention deletes them."""
    from sqlalchemy import select

    from ledger.db import session_scope
    from ledger.models import Customer, DeletionIntent
    from lifecycle.cli.common import ledger, refuse_in_a_client_home
    from lifecycle.cli.storage import backups_keys, installation_storage
    from lifecycle_config import masterkey
    from operations.backup_keys import KeyDestroyed, WrongStore, check_store_holds, create_key
    from policy.ids import id_problem
    from policy.text import quoted
    from policy.vocabulary import Stage

    problem = id_problem(customer)
    if problem:
        fail(f"--customer {quoted(customer)}: {problem}", 2)
    refuse_in_a_client_home(ledger(), f"`lifecycle keys rotate` {KEYS}")
    with session_scope(ledger()) as session:
        known = session.get(Customer, customer)
        if known is None:
            fail(f"--customer {quoted(customer)}: unknown customer (lifecycle show customers lists them)", 2)
        if known.stage == Stage.DATA_DELETED:
            fail(f"--customer {customer}: its data was deleted and its keys shredded: nothing to rotate", 2)
        intent = session.scalar(select(DeletionIntent).where(DeletionIntent.customer_id == customer))
        if intent is not None:  # a new key would outlive the shred the approved deletion is making
            fail(f"--customer {customer}: its data deletion, approved by {intent.approved_by} on {intent.day}, is under "
                 f"way (its data keys count as shredded): no new key is made", 2)
    try:
        store = installation_storage().store()
        check_store_holds(store, backups_keys(ledger()))
        made = create_key(store, customer)
    except (masterkey.MasterKeyMissing, WrongStore) as error:
        fail(str(error), 2)
    except KeyDestroyed as error:
        fail(str(error))
    typer.echo(f"customer {customer}: new backups use data key {made.key_id}; older ones keep theirs")
