"""A deletion killed for real (SIGKILL in a process of its own) before and after it shreds the customer's data
key, on both databases: the ledger's intent makes the key count as shredded at once (a backup of it is not read,
a restore is refused), and the next arrears sweep completes the deletion with its certificate and the approval
already given, never asking again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select, text

from blocks.notifications import Notifications
from blocks.platform import PlatformControl
from blocks.seller import Seller
from blocks.settings import Settings
from blocks.storage import ObjectStorage
from ledger import keys as object_keys
from ledger.db import session_scope
from ledger.imports import import_file
from ledger.models import Backup, Customer, DeletionCertificate, DeletionIntent
from policy.terms import Terms
from tests.support.builders import CUSTOMER_HEADER, customer, platform, write_csv
from tests.integration.test_arrears_flows import debtors  # noqa: F401 - the fixture
from tests.unit.test_deletion_killed import DELETION

PROJECT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("point", ["purge.intent-recorded", "keys.key-destroyed"])
def test_a_deletion_killed_before_or_after_its_shred_is_completed_by_the_next_sweep(home, ledger, tmp_path,
                                                                                     monkeypatch, point):
    from operations.arrears import sweep
    from operations.backup import backup_customer
    from operations.backup_keys import KeyDestroyed
    from operations.backup_objects import BackupObjects
    from operations.deletion import complete_interrupted

    monkeypatch.setenv("LIFECYCLE_TODAY", "2027-03-02")
    settings = Settings(Terms(), ObjectStorage(url=(tmp_path / "store").as_uri()), PlatformControl(), Notifications(),
                        Seller())
    engine = platform(f"sqlite:///{home / 'platform.db'}", ["ACME"])
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO users (tenant_id, email) VALUES ('ACME', 'a@acme.fr')"))
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME")]), engine=ledger)
    import_file("invoices", write_csv(tmp_path / "i.csv", ["invoice_id", "customer_id", "issued_on", "due_on",
                                                            "amount_ht", "vat_rate", "description", "status"],
                                      [["F-1", "ACME", "2026-09-01", "2026-10-01", "990.00", "", "Septembre", ""]]),
                engine=ledger)
    sweep(date(2027, 3, 2), settings, dry_run=False, actor="test", flow_run_id=None, engine=ledger)
    backup = backup_customer("ACME", date(2027, 3, 30), settings.platform, settings.storage, engine=ledger)
    assert backup.status == "good", backup.error
    with session_scope(ledger) as session:
        key_id = session.get(Backup, backup.backup_id).manifest["encryption"]["key_id"]
    monkeypatch.setenv("LIFECYCLE_TODAY", "2027-04-01")

    killed = subprocess.run([sys.executable, "-c", DELETION, settings.storage.url], cwd=PROJECT, capture_output=True,
                            text=True, timeout=240, env={**os.environ, "PYTHONPATH": str(PROJECT),
                                                         "LIFECYCLE_FAILPOINT": point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    key_object = tmp_path / "store" / object_keys.data_key_object("ACME", key_id)
    assert key_object.exists() == (point == "purge.intent-recorded")
    with session_scope(ledger) as session:
        assert session.scalar(select(DeletionCertificate.id)) is None
        assert session.scalar(select(DeletionIntent.key_ids)) == [key_id]
    with pytest.raises(KeyDestroyed):
        BackupObjects(settings.storage, customer_id="ACME")._unwrap(key_id)

    # the next arrears sweep (or the customer's deletion run) begins with this, before anything else
    [certificate] = complete_interrupted(settings, actor="sweep", flow_run_id=None, engine=ledger)
    assert (certificate["approved_by"], [entry["key_id"] for entry in certificate["keys_shredded"]]) == (
        "ops@example.com", [key_id])
    assert not key_object.exists() and PlatformControl().row_counts("ACME")["users"] == 0
    with session_scope(ledger) as session:
        assert session.get(Customer, "ACME").stage == "data_deleted"
        assert session.scalar(select(DeletionIntent.completed_at)) is not None
        assert session.scalar(select(DeletionCertificate.approved_by)) == "ops@example.com"
    assert complete_interrupted(settings, actor="sweep", flow_run_id=None, engine=ledger) == []


def test_an_approved_deletion_killed_in_its_run_is_finished_by_the_next_sweep_without_asking_again(debtors, ledger,
                                                                                                  prefect_server):
    """`lifecycle run arrears --approve-deletion` killed (SIGKILL) once the purge began: the next daily sweep, which
    approves nothing itself, finishes that deletion with the approval it was given, rather than sending it to the
    form again, and says so."""
    from tests.integration.test_arrears_flows import run, state

    assert run("2026-09-15")["deletion_notices"] == ["OWE: deletion on or after 2026-10-15"]
    killed = subprocess.run([sys.executable, "-m", "lifecycle.cli", "run", "arrears", "--as-of", "2026-10-15",
                             "--approve-deletion"], cwd=PROJECT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "LIFECYCLE_TODAY": "2026-10-15", "PYTHONPATH": str(PROJECT),
                                 "PREFECT_API_URL": prefect_server,
                                 "LIFECYCLE_FAILPOINT": "purge.platform-deleted"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert state(ledger, "OWE")[0] != "data_deleted"
    with session_scope(ledger) as session:
        assert session.scalar(select(DeletionCertificate.id)) is None
        assert session.scalar(select(DeletionIntent.approved_by)).endswith("(--approve-deletion)")

    result = run("2026-10-16")  # the next morning's sweep: no --approve-deletion
    [said] = result["deletions"]
    assert said.startswith("OWE: deleted (an approved deletion a stopped run left unfinished, approved by ")
    assert state(ledger, "OWE")[0] == "data_deleted"
    with session_scope(ledger) as session:
        certificate = session.scalars(select(DeletionCertificate)).one()
        assert certificate.approved_by.endswith("(--approve-deletion)")
        assert session.scalar(select(DeletionIntent.completed_at)) == certificate.deleted_at
    with debtors.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM users WHERE tenant_id = 'OWE'")).scalar() == 0


def test_a_begun_deletion_the_platform_refuses_is_one_failed_line_and_the_sweep_does_its_day(debtors, ledger,
                                                                                               prefect_server, tmp_path):
    """OWE's deletion was begun (its intent recorded) and the platform now refuses to delete OWE's rows. The sweep,
    which completes begun deletions first, ended there, every day: no other customer's stage changed, no notice.
    Now the day's work is done for the others and the run fails with one line for OWE, its intent left open."""
    from datetime import datetime, timezone

    from flows.arrears import SweepIncomplete
    from ledger.models import StageChange
    from tests.integration.test_arrears_flows import INVOICES, run

    import_file("invoices", write_csv(tmp_path / "late.csv", INVOICES, [
        ["L1", "LATE", "2026-08-01", "2026-09-01", "100.00", "", "", ""]]), engine=ledger)
    with session_scope(ledger, write=True) as session:
        session.add(DeletionIntent(customer_id="OWE", day=date(2026, 10, 15), approved_by="ops@example.com",
                                   recorded_at=datetime(2026, 10, 15, 9, tzinfo=timezone.utc), key_ids=[]))
    with debtors.begin() as connection:  # the platform's own rule, for OWE only: a failure of the world
        connection.execute(text("CREATE TRIGGER keep_owe BEFORE DELETE ON users WHEN old.tenant_id = 'OWE' "
                                "BEGIN SELECT RAISE(ABORT, 'OWE is under legal hold'); END"))
    with pytest.raises(SweepIncomplete, match=r"OWE: its deletion approved by ops@example\.com on 2026-10-15 \(begun, "
                                              r"its keys count as shredded\) could not be completed: .*legal hold.*; "
                                              r"the next run tries again"):
        run("2026-10-16")
    with session_scope(ledger) as session:
        assert session.scalar(select(StageChange.stage).where(StageChange.customer_id == "LATE")) is not None
        assert session.scalar(select(DeletionIntent.completed_at)) is None
        assert session.scalar(select(DeletionCertificate.id)) is None
