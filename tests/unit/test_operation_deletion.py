"""The data deletion as an operation (operations/deletion.py), on a SQLite ledger, without Prefect: six months
overdue and announced, a customer's platform rows and backups are purged and certified; before its day, the
deletion is refused with the day it becomes due."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from blocks.notifications import Notifications
from blocks.platform import PlatformControl
from blocks.seller import Seller
from blocks.settings import Settings
from blocks.storage import ObjectStorage
from ledger.db import session_scope
from ledger.imports import import_file
from ledger.models import Backup, Customer, DeletionCertificate, Notice
from operations.arrears import sweep
from operations.deletion import check_due, execute, plan_purge
from policy.terms import Terms
from tests.support.builders import CUSTOMER_HEADER, customer, platform, write_csv
from tests.support.sqlite_ledger import sqlite_ledger


@pytest.fixture
def announced(tmp_path, monkeypatch):
    """ACME has owed 1188.00 EUR TTC since 2026-10-01; the sweep of 2027-03-02 announced the deletion for
    2027-04-01 (anchor + 6 months, 30 days after the notice)."""
    ledger = sqlite_ledger(tmp_path, monkeypatch, "2027-03-02")
    engine = platform(f"sqlite:///{tmp_path / 'home' / 'platform.db'}", ["ACME", "BETA"])
    with engine.begin() as connection:   # two users of ACME's platform, one of another customer's
        connection.execute(text("INSERT INTO users (tenant_id, email) VALUES ('ACME', 'a@acme.fr'), "
                                "('ACME', 'b@acme.fr'), ('BETA', 'c@beta.fr')"))
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME")]), engine=ledger)
    import_file("invoices", write_csv(tmp_path / "i.csv", ["invoice_id", "customer_id", "issued_on", "due_on",
                                                            "amount_ht", "vat_rate", "description", "status"],
                                      [["F-1", "ACME", "2026-09-01", "2026-10-01", "990.00", "", "Septembre", ""]]),
                engine=ledger)
    report = sweep(date(2027, 3, 2), _settings(tmp_path), dry_run=False, actor="test", flow_run_id=None,
                   engine=ledger)
    assert report.deletion_notices == ["ACME: deletion on or after 2027-04-01"]
    return ledger


def _settings(tmp_path) -> Settings:
    return Settings(Terms(), ObjectStorage(url=(tmp_path / "store").as_uri()), PlatformControl(), Notifications(),
                    Seller())


def test_an_announced_deletion_on_its_day_purges_certifies_and_tells_the_customer(announced, tmp_path, monkeypatch):
    monkeypatch.setenv("LIFECYCLE_TODAY", "2027-04-01")
    settings = _settings(tmp_path)
    due = check_due("ACME", date(2027, 4, 1), settings, engine=announced)
    assert (due.due, due.owed, due.anchor) == (True, Decimal("1188.00"), date(2026, 10, 1))
    plan = plan_purge("ACME", settings.platform, settings.storage, engine=announced)
    assert (plan.customer_id, plan.backups, plan.objects) == ("ACME", [], [])
    assert plan.tables == {"users": 2, "operations": 0, "documents": 0}
    certificate = execute("ACME", date(2027, 4, 1), settings, {"reviewer": "ops@example.com", "comment": "6 months"},
                          actor="test", flow_run_id=None, engine=announced)
    assert certificate["platform_rows"] == {"users": 2, "operations": 0, "documents": 0}
    assert (certificate["customer_id"], certificate["approved_by"], certificate["backups"]) == (
        "ACME", "ops@example.com", [])
    with session_scope(announced) as session:
        acme = session.get(Customer, "ACME")
        assert (acme.stage, acme.admin_enabled, acme.platform_enabled, acme.operations_enabled) == (
            "data_deleted", False, False, False)
        assert acme.deletion_status is None
        assert session.scalar(select(DeletionCertificate.approved_by)) == "ops@example.com"
        assert "data_deleted" in set(session.scalars(select(Notice.kind)))
    assert PlatformControl().row_counts("BETA") == {"users": 1, "operations": 0, "documents": 0}  # others' kept
    # done once: the deletion is not due again
    assert check_due("ACME", date(2027, 4, 2), settings, engine=announced).why == "the data was already deleted"


def test_a_deletion_before_its_day_is_refused_with_the_day_it_becomes_due(announced, tmp_path):
    due = check_due("ACME", date(2027, 3, 31), _settings(tmp_path), engine=announced)
    assert (due.due, due.why) == (False, "the deletion is not due before 2027-04-01")
    with session_scope(announced) as session:
        assert session.get(Customer, "ACME").stage == "platform_disabled"


def test_a_deletion_shreds_the_customers_data_key_certifies_it_and_refuses_any_restore(announced, tmp_path, monkeypatch):
    """ACME's backups were encrypted under its data key: the deletion destroys it, the certificate names it,
    when, and how many objects it made unreadable; `show backups` says "shredded"; a restore says why not."""
    from ledger import views
    from operations.backup import backup_customer
    from operations.deletion import certificate_markdown
    from operations.restore import RestoreRefused, restore_customer

    settings = _settings(tmp_path)
    backup = backup_customer("ACME", date(2027, 3, 30), settings.platform, settings.storage, engine=announced)
    assert backup.status == "good", backup.error
    with session_scope(announced) as session:
        key_id = session.get(Backup, backup.backup_id).manifest["encryption"]["key_id"]
        assert [row["key"] for row in views.backups(session)] == [key_id]
    monkeypatch.setenv("LIFECYCLE_TODAY", "2027-04-01")
    certificate = execute("ACME", date(2027, 4, 1), settings, {"reviewer": "ops@example.com", "comment": "6 months"},
                          actor="test", flow_run_id=None, engine=announced)
    [shredded] = certificate["keys_shredded"]
    assert (shredded["key_id"], shredded["versions"], shredded["objects_unreadable"]) == (key_id, 1, 4)
    assert not (tmp_path / "store" / "keys" / "customers" / "ACME").exists() or not any(
        (tmp_path / "store" / "keys" / "customers" / "ACME").iterdir())
    text_ = certificate_markdown(certificate)
    assert f"| {key_id} | {shredded['destroyed_at']} | 4 |" in text_ and "## Data keys shredded" in text_
    with session_scope(announced) as session:
        assert [row["key"] for row in views.backups(session)] == [f"{key_id} (shredded)"]
    with pytest.raises(RestoreRefused) as refused:
        restore_customer("ACME", None, "sandbox", "alice", "T-1", platform=settings.platform, storage=settings.storage,
                         sandbox_url=f"sqlite:///{tmp_path / 'sandbox.db'}", flow_run_id=None, actor="test",
                         engine=announced)
    assert str(refused.value) == (f"customer ACME's data was deleted and its data keys shredded on 2027-04-01 "  # its day
                                  f"({key_id}): its backups cannot be read, nothing may be restored")


def test_a_key_object_put_back_after_a_shred_never_reads_the_backups_again(announced, tmp_path, monkeypatch):
    """A shredded key's object re-appearing under keys/ (a copy put back, an old version restored, a forged one)
    made the customer's backups readable again: the shred is recorded in the ledger (the deletion certificate),
    and a key the ledger says was shredded is never used, whatever the store holds; a master key rotation does
    not wrap it again either (it dies with the old master key)."""
    from ledger import keys as object_keys
    from operations.backup import backup_customer
    from operations.backup_archive import read_manifest
    from operations.backup_keys import KeyDestroyed, rotate_master, shredded_keys
    from operations.backup_objects import BackupObjects

    settings = _settings(tmp_path)
    backup = backup_customer("ACME", date(2027, 3, 30), settings.platform, settings.storage, engine=announced)
    with session_scope(announced) as session:
        record = session.get(Backup, backup.backup_id)
        key_id, manifest_key, manifest = record.manifest["encryption"]["key_id"], record.manifest_key, record.manifest
    key_object = tmp_path / "store" / object_keys.data_key_object("ACME", key_id)
    kept, kept_manifest = key_object.read_bytes(), (tmp_path / "store" / manifest_key).read_bytes()
    monkeypatch.setenv("LIFECYCLE_TODAY", "2027-04-01")
    certificate = execute("ACME", date(2027, 4, 1), settings, {"reviewer": "ops@example.com", "comment": "6 months"},
                          actor="test", flow_run_id=None, engine=announced)
    assert shredded_keys("ACME", announced) == {key_id: "2027-04-01"}  # the deletion's day, not the machine's
    assert not key_object.exists() and not (tmp_path / "store" / manifest_key).exists()
    key_object.parent.mkdir(parents=True, exist_ok=True)
    key_object.write_bytes(kept)  # the very key object, put back, and the backup's manifest from a copy
    (tmp_path / "store" / manifest_key).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "store" / manifest_key).write_bytes(kept_manifest)
    with pytest.raises(KeyDestroyed) as refused:
        BackupObjects(settings.storage, customer_id="ACME")._unwrap(key_id)
    assert str(refused.value) == (f"the data key {key_id} of ACME was shredded on 2027-04-01, as "
                                  f"the ledger records: a key object found under its name is not used, and its backups "
                                  f"stay unreadable")
    with pytest.raises(KeyDestroyed):  # a manifest kept elsewhere and put back is not read with it either
        read_manifest(BackupObjects(settings.storage, customer_id="ACME"), backup.backup_id, manifest_key, manifest)
    fingerprint, rewrapped = rotate_master(settings.storage.store())
    assert rewrapped == 0 and f'"master": "{fingerprint}"' not in key_object.read_text()
