"""`lifecycle keys` and `db restore-snapshot` work on the storage the runs use: the storage block of the
installation's server, not only the environment's defaults (probe 14).

The how-to names the storage block as the place for a bucket's url, its credentials and a KMS master key. The
keys commands built the block's defaults (LIFECYCLE_STORAGE_URL, else the home's `objects/`), so with the url
set in the block, `keys rotate-master` rewrapped the keys of a store that held no backup, then dropped the old
master key: every backup in the block's store was left wrapped by a key nobody held.
"""

from __future__ import annotations

from datetime import date

import pytest

from operations.backup import backup_customer, snapshot_ledger
from tests.support.backup_shop import backup_shop
from tests.support.cli import lifecycle_in_process

pytestmark = pytest.mark.prefect

DAY = date(2026, 11, 20)


def test_the_keys_commands_and_a_snapshot_restore_use_the_storage_block_of_the_server(prefect_server, tmp_path,
                                                                                      monkeypatch):
    from blocks.storage import ObjectStorage

    shop = backup_shop(tmp_path, monkeypatch, DAY.isoformat())
    monkeypatch.delenv("LIFECYCLE_STORAGE_URL", raising=False)  # the defaults: the home's objects/, an empty folder
    assert backup_customer("ACME", DAY, shop.platform, shop.storage, engine=shop.ledger).status == "good"
    snapshot = snapshot_ledger(DAY, shop.storage, flow_run_id=None, engine=shop.ledger)
    ObjectStorage(url=shop.objects.as_uri()).save("lifecycle", overwrite=True)
    try:
        monkeypatch.setenv("PREFECT_API_URL", prefect_server)
        rotated = lifecycle_in_process("keys", "rotate-master")
        assert rotated.returncode == 0 and "(2 rewrapped)" in rotated.stdout, rotated.stderr
        new_key = lifecycle_in_process("keys", "rotate", "--customer", "ACME")
        assert new_key.returncode == 0, new_key.stderr
        restored = lifecycle_in_process("db", "restore-snapshot", snapshot.backup_id, "--to",
                                        f"sqlite:///{tmp_path / 'restored.db'}")
        assert restored.returncode == 0 and restored.stdout.startswith("restored "), restored.stderr
    finally:
        ObjectStorage.delete("lifecycle")
    assert not (tmp_path / "home" / "objects").exists()  # the defaults' store was never written
    from operations.backup_keys import key_ids

    assert len(key_ids(shop.storage.store(), "ACME")) == 2  # the rotated key is where the backups are
    # and the backup made under the old master key still reads under the new one
    from operations.restore import restore_customer

    outcome = restore_customer("ACME", None, "sandbox", "alice", "T-1", platform=shop.platform, storage=shop.storage,
                               sandbox_url=shop.sandbox_url, flow_run_id=None, actor="test", request_key="r-1",
                               engine=shop.ledger)
    assert outcome.backup_id == "ACME-20261120" and outcome.rows["users"] == 30
