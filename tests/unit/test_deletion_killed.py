"""A deletion killed between its shred and its certificate (kill -9, a power cut) left a shred without a
certificate, or a certificate's keys still in the store: the deletion records its intent (the approval and every
key it shreds) before any key is touched, the certificate completes it in the same transaction, an open intent's
keys count as shredded, and the next run completes it with the same approval. Killed for real (SIGKILL at the
failpoints before, between and after the shred) in a process of its own, on a SQLite ledger."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from ledger import keys as object_keys
from ledger.db import session_scope
from ledger.models import Backup, Customer, DeletionCertificate, DeletionIntent
from tests.unit.test_operation_deletion import _settings, announced  # noqa: F401 - the fixture

PROJECT = Path(__file__).resolve().parents[2]
DELETION = """
from datetime import date
from blocks.notifications import Notifications
from blocks.platform import PlatformControl
from blocks.seller import Seller
from blocks.settings import Settings
from blocks.storage import ObjectStorage
from operations.deletion import execute
from policy.terms import Terms
import sys
settings = Settings(Terms(), ObjectStorage(url=sys.argv[1]), PlatformControl(), Notifications(), Seller())
execute("ACME", date(2027, 4, 1), settings, {"reviewer": "ops@example.com", "comment": "6 months"}, actor="test",
        flow_run_id=None)
"""


@pytest.mark.parametrize("point", ["purge.intent-recorded", "purge.platform-deleted", "keys.key-destroyed",
                                   "purge.object-deleted"])
def test_a_deletion_killed_around_its_shred_counts_as_shredded_and_the_next_run_certifies_it(announced, tmp_path,
                                                                                             monkeypatch, point):
    from operations.backup import backup_customer
    from operations.backup_keys import KeyDestroyed, shredded_keys
    from operations.backup_objects import BackupObjects
    from operations.deletion import check_due, complete_interrupted
    from operations.restore import RestoreRefused, restore_customer

    settings = _settings(tmp_path)
    backup = backup_customer("ACME", date(2027, 3, 30), settings.platform, settings.storage, engine=announced)
    assert backup.status == "good", backup.error
    with session_scope(announced) as session:
        key_id = session.get(Backup, backup.backup_id).manifest["encryption"]["key_id"]
    key_object = tmp_path / "store" / object_keys.data_key_object("ACME", key_id)
    monkeypatch.setenv("LIFECYCLE_TODAY", "2027-04-01")
    killed = subprocess.run([sys.executable, "-c", DELETION, settings.storage.url], cwd=PROJECT, capture_output=True,
                            text=True, timeout=240, env={**os.environ, "PYTHONPATH": str(PROJECT),
                                                         "LIFECYCLE_FAILPOINT": point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]

    # killed: no certificate yet, the intent open, and its key shredded as far as anyone reading is concerned
    with session_scope(announced) as session:
        assert session.scalar(select(DeletionCertificate.id)) is None
        intent = session.scalar(select(DeletionIntent))
        assert (intent.approved_by, intent.key_ids, intent.completed_at) == ("ops@example.com", [key_id], None)
        assert session.get(Customer, "ACME").stage != "data_deleted"
    assert shredded_keys("ACME", announced) == {key_id: "2027-04-01"}  # the deletion's day, not the machine's
    assert key_object.exists() == (point in ("purge.intent-recorded", "purge.platform-deleted"))
    with pytest.raises(KeyDestroyed, match=f"the data key {key_id} of ACME counts as shredded: its data deletion, "
                                           f"approved for 2027-04-01, is under way"):
        BackupObjects(settings.storage, customer_id="ACME")._unwrap(key_id)  # even while its object is still there
    with pytest.raises(RestoreRefused) as refused:
        restore_customer("ACME", None, "sandbox", "alice", "T-1", platform=settings.platform, storage=settings.storage,
                         sandbox_url=f"sqlite:///{tmp_path / 'sandbox.db'}", flow_run_id=None, actor="test",
                         engine=announced)
    assert str(refused.value) == ("customer ACME's data deletion, approved by ops@example.com on 2027-04-01, is under "
                                  "way (its data keys count as shredded): nothing may be restored")

    from operations.backup import BackupRefused, customers_to_back_up  # no new backup, under a new key, meanwhile

    assert "ACME" not in customers_to_back_up(engine=announced)
    with pytest.raises(BackupRefused, match="^customer 'ACME' is not backed up: its approved data deletion is under way"):
        customers_to_back_up("ACME", engine=announced)

    # the next run (the arrears sweep, or the customer's deletion run) completes it with the same approval
    [certificate] = complete_interrupted(settings, actor="sweep", flow_run_id=None, engine=announced)
    assert (certificate["customer_id"], certificate["approved_by"], certificate["comment"]) == (
        "ACME", "ops@example.com", "6 months")
    assert [entry["key_id"] for entry in certificate["keys_shredded"]] == [key_id]
    assert not key_object.exists()
    assert list(settings.storage.store().list(object_keys.customer_backups("ACME"))) == []  # its backups gone too
    with session_scope(announced) as session:
        assert session.scalar(select(DeletionCertificate.approved_by)) == "ops@example.com"
        assert session.scalar(select(DeletionIntent.completed_at)) is not None
        assert session.get(Customer, "ACME").stage == "data_deleted"
    assert check_due("ACME", date(2027, 4, 2), settings, engine=announced).why == "the data was already deleted"
    assert complete_interrupted(settings, actor="sweep", flow_run_id=None, engine=announced) == []  # once


def test_an_uninterrupted_deletion_leaves_its_intent_completed_with_its_certificate(announced, tmp_path, monkeypatch):
    from operations.deletion import complete_interrupted, execute

    monkeypatch.setenv("LIFECYCLE_TODAY", "2027-04-01")
    settings = _settings(tmp_path)
    certificate = execute("ACME", date(2027, 4, 1), settings, {"reviewer": "ops@example.com"}, actor="test",
                          flow_run_id=None, engine=announced)
    with session_scope(announced) as session:
        intent = session.scalar(select(DeletionIntent))
        assert intent.completed_at.isoformat() == certificate["deleted_at"]
    assert complete_interrupted(settings, actor="sweep", flow_run_id=None, engine=announced) == []


def test_a_night_that_listed_a_customer_before_its_deletion_was_killed_midway_writes_no_backup(announced, tmp_path):
    """The night listed ACME; meanwhile its deletion recorded its intent and was killed before its certificate
    (its keys count as shredded, its stage not yet data_deleted). The backup, re-reading under ACME's lock,
    wrote a new backup under a new key that would outlive the shred: it now says DELETED and writes nothing."""
    from datetime import datetime, timezone

    from operations.backup import DELETED_MEANWHILE, backup_customer, outcomes_of

    settings = _settings(tmp_path)
    with session_scope(announced, write=True) as session:
        session.add(DeletionIntent(customer_id="ACME", day=date(2027, 4, 1), recorded_at=datetime(2027, 4, 1, 9, tzinfo=timezone.utc),
                                   approved_by="ops@example.com", key_ids=[], completed_at=None))
    outcome = backup_customer("ACME", date(2027, 4, 1), settings.platform, settings.storage, engine=announced)
    assert (outcome.status, outcome.error) == ("deleted", DELETED_MEANWHILE)
    with session_scope(announced) as session:
        assert session.scalar(select(Backup.backup_id)) is None
    assert list(settings.storage.store().list(object_keys.customer_backups("ACME"))) == []
    [said] = outcomes_of(["ACME"], date(2027, 4, 1), engine=announced)  # what the night's summary says of it
    assert said.status == "deleted"


def test_a_begun_deletion_that_cannot_be_completed_now_is_one_failed_line_each_and_stops_nothing(announced, tmp_path,
                                                                                                monkeypatch):
    """The arrears sweep completes begun deletions first: one that could not be completed (the store down, the
    customer busy, the platform failing) raised out of it and ended the whole day's sweep, every customer's
    penalties and notices with it, day after day. Each is now tried on its own and said in one line; the intents
    stay open for the next run, which completes them."""
    from datetime import datetime, timezone

    from ledger.imports import import_file
    from operations.deletion import complete_interrupted
    from tests.support.builders import CUSTOMER_HEADER, customer, write_csv

    monkeypatch.setenv("LIFECYCLE_TODAY", "2027-04-01")
    import_file("customers", write_csv(tmp_path / "b.csv", CUSTOMER_HEADER, [customer("BETA")]), engine=announced)
    with session_scope(announced, write=True) as session:
        for owner in ("ACME", "BETA"):
            session.add(DeletionIntent(customer_id=owner, day=date(2027, 4, 1), approved_by="ops@example.com",
                                       recorded_at=datetime(2027, 4, 1, 9, tzinfo=timezone.utc), key_ids=[]))
    platform_url = os.environ["LIFECYCLE_PLATFORM_URL"]
    (tmp_path / "not-a-folder").write_text("")  # the platform's database cannot be reached
    monkeypatch.setenv("LIFECYCLE_PLATFORM_URL", f"sqlite:///{tmp_path / 'not-a-folder' / 'platform.db'}")
    down = _settings(tmp_path)
    failed: list[str] = []
    assert complete_interrupted(down, actor="sweep", flow_run_id=None, engine=announced, failed=failed) == []
    assert [line.split(":")[0] for line in failed] == ["ACME", "BETA"], failed
    assert all("its deletion approved by ops@example.com on 2027-04-01" in line and line.endswith("the next run tries again")
               and "\n" not in line for line in failed), failed
    with session_scope(announced) as session:
        assert session.scalar(select(DeletionCertificate.id)) is None
        assert list(session.scalars(select(DeletionIntent.completed_at))) == [None, None]
    with pytest.raises(Exception):  # a customer's own deletion run still fails on it
        complete_interrupted(down, actor="run", flow_run_id=None, customer_id="ACME", engine=announced)
    monkeypatch.setenv("LIFECYCLE_PLATFORM_URL", platform_url)  # reached again
    done = complete_interrupted(_settings(tmp_path), actor="sweep", flow_run_id=None, engine=announced, failed=failed)
    assert [certificate["customer_id"] for certificate in done] == ["ACME", "BETA"] and len(failed) == 2
