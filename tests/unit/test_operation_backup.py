"""The nightly backup as an operation (operations/backup.py), on a SQLite ledger and a folder store, without
Prefect: every customer backed up with its manifest, the ledger snapshotted, a second night skips; a customer
unknown is refused; a store that cannot be written fails the night in one line, with nothing half written."""

from __future__ import annotations

import json
from datetime import date

import pytest

from blocks.storage import ObjectStorage
from ledger import keys
from ledger.db import session_scope
from ledger.models import Backup
from operations.backup import BackupRefused, back_up_night
from policy.refusals import Refusal
from policy.terms import Terms
from tests.support.backup_shop import USERS, backup_shop, stored_plain

DAY = date(2026, 11, 20)


@pytest.fixture
def shop(tmp_path, monkeypatch):
    return backup_shop(tmp_path, monkeypatch, DAY.isoformat())


def test_a_night_backs_up_every_customer_and_the_ledger_then_skips_what_is_done(shop):
    night = back_up_night(DAY, shop.platform, shop.storage, Terms(), engine=shop.ledger)
    summary = night.summary()
    assert [(b["customer_id"], b["backup_id"], b["status"], b["rows"]) for b in summary["backups"]] == [
        ("ACME", "ACME-20261120", "good", USERS["ACME"] + 1), ("BETA", "BETA-20261120", "good", USERS["BETA"] + 1)]
    assert summary["ledger_snapshot"].startswith("ledger-20261120")
    assert night.store_down is None and night.failed == []
    assert night.line().startswith("2026-11-20: 2 backed up, 0 already done, 0 failed; ledger snapshot ledger-")
    # what is in storage: the manifest (written last) names every table object, with its rows
    manifest = json.loads(stored_plain(shop.storage, keys.backup_folder("ACME", "ACME-20261120") + "manifest.json",
                                       "ACME"))
    assert manifest["encryption"]["scheme"] == "aes-256-gcm-chunked/v1"
    assert {t["name"]: t["rows"] for t in manifest["tables"]} == {"users": USERS["ACME"], "operations": 1,
                                                                  "documents": 0}
    assert all((shop.objects / t["key"]).is_file() for t in manifest["tables"])
    with session_scope(shop.ledger) as session:
        acme = session.get(Backup, "ACME-20261120")
        assert (acme.status, acme.manifest) == ("good", manifest)

    again = back_up_night(DAY, shop.platform, shop.storage, Terms(), engine=shop.ledger, snapshot_ledger_too=False)
    assert [o.status for o in again.outcomes] == ["skipped", "skipped"] and again.ledger_snapshot is None


def test_an_unknown_customer_is_refused_and_nothing_is_written(shop):
    with pytest.raises(BackupRefused) as refused:
        back_up_night(DAY, shop.platform, shop.storage, Terms(), customer_id="NOPE", engine=shop.ledger)
    assert isinstance(refused.value, Refusal)
    assert str(refused.value) == "no customer 'NOPE' to back up (unknown, or its data was deleted)"
    assert not shop.objects.exists()


def test_a_store_that_cannot_be_written_fails_the_night_in_one_line(shop, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the store's folder should be")
    night = back_up_night(DAY, shop.platform, ObjectStorage(url=blocked.as_uri()), Terms(), engine=shop.ledger)
    assert [(o.customer_id, o.status, o.store_down) for o in night.outcomes] == [("ACME", "failed", True),
                                                                                ("BETA", "failed", True)]
    assert night.ledger_snapshot is None
    message = night.store_down_message()
    assert message.startswith(f"object storage folder {blocked} cannot be written (")
    assert message.endswith(": 2 of 2 customer(s) not backed up on 2026-11-20; no ledger snapshot")
    with session_scope(shop.ledger) as session:
        assert session.get(Backup, "ACME-20261120").status == "failed"


def test_a_customer_whose_data_is_deleted_after_the_night_listed_it_is_not_backed_up(shop):
    """Probe 15: the night lists its customers once, hours before it reaches the last; a deletion approved
    meanwhile shreds the customer's keys and certifies its backups gone, then the night reached it and wrote a
    new backup under a new key: a copy the certificate says does not exist. Under the customer's lock, the
    backup reads the customer's stage again; the night says who was deleted meanwhile, and fails for nobody."""
    from sqlalchemy import update

    from ledger.models import Customer
    from operations.backup import Night, backup_chunk, outcomes_of
    from policy.vocabulary import Stage

    listed = ["ACME", "BETA"]  # as the night listed them, before the deletion
    with session_scope(shop.ledger, write=True) as session:
        session.execute(update(Customer).where(Customer.customer_id == "ACME").values(stage=Stage.DATA_DELETED))
    outcomes = backup_chunk(listed, DAY, shop.platform, shop.storage, Terms(), flow_run_id=None, engine=shop.ledger)
    assert [(o.customer_id, o.status) for o in outcomes] == [("ACME", "deleted"), ("BETA", "good")]
    night = Night(DAY, outcomes)
    assert night.failed == [] and night.line() == "2026-11-20: 1 backed up, 0 already done, 0 failed, 1 deleted meanwhile (ACME)"
    # and `lifecycle run backup` prints it from the run's result as the flow returns it (JSON values)
    import typer
    from typer.testing import CliRunner

    from lifecycle.cli import run_printers
    from operations.backup import NightDone

    printed = typer.Typer()
    printed.command()(lambda: run_printers.backup(NightDone.from_summary(night.summary()), {}))
    assert CliRunner().invoke(printed).output == "2026-11-20: 1 backed up, 0 already done today, 1 deleted meanwhile (ACME)\n"
    with session_scope(shop.ledger) as session:
        assert session.get(Backup, "ACME-20261120") is None
    assert not (shop.objects / keys.backup_folder("ACME", "ACME-20261120")).exists()
    assert not list((shop.objects / "keys").rglob("*ACME*")) and not (shop.objects / "keys" / "ACME").exists()
    # the shards' summary, read back from the ledger, says the same
    assert [(o.customer_id, o.status) for o in outcomes_of(listed, DAY, engine=shop.ledger)] == [
        ("ACME", "deleted"), ("BETA", "good")]
