"""The restore drill as an operation (operations/drill.py), on a SQLite ledger and a folder store, without
Prefect: a good backup is verified in the sandbox, and one whose object was damaged is found and marked
corrupt, so no restore chooses it."""

from __future__ import annotations

from datetime import date

import pytest

from ledger.db import session_scope
from ledger.models import Backup
from operations.drill import drill, plan_drill
from tests.support.backup_shop import backed_up_shop

DAY = date(2026, 11, 20)


@pytest.fixture
def shop(tmp_path, monkeypatch):
    return backed_up_shop(tmp_path, monkeypatch, DAY)


def test_the_drill_verifies_good_backups_and_marks_a_damaged_one_corrupt(shop):
    plan = plan_drill(5, engine=shop.ledger)
    assert sorted(plan.backup_ids) == ["ACME-20261120", "BETA-20261120"]
    with session_scope(shop.ledger) as session:
        key = session.get(Backup, "BETA-20261120").manifest["tables"][0]["key"]
    (shop.objects / key).write_bytes(b"damaged")
    results = {r.backup: r for r in drill(sorted(plan.backup_ids), shop.sandbox_url, shop.platform, shop.storage,
                                          engine=shop.ledger)}
    row = results["ACME-20261120"].row()
    assert {key: row[key] for key in ("backup", "customer", "ok", "detail")} == {
        "backup": "ACME-20261120", "customer": "ACME", "ok": True, "detail": "rows and hashes match the manifest"}
    assert row["evidence"]["outcome"] == "verified" and row["evidence"]["day"] == "2026-11-20"
    assert not results["BETA-20261120"].ok
    assert results["BETA-20261120"].detail.startswith("CorruptBackup: backup BETA-20261120: ")
    assert results["BETA-20261120"].detail.endswith("(now marked corrupt; the next nightly backup takes a fresh one)")
    with session_scope(shop.ledger) as session:
        assert session.get(Backup, "ACME-20261120").verified_at is not None
        assert session.get(Backup, "BETA-20261120").status == "corrupt"
    assert plan_drill(5, engine=shop.ledger).backup_ids == ("ACME-20261120",)   # the corrupt one is never drilled


def test_a_customer_whose_deletion_is_under_way_is_not_drilled_and_the_plan_says_why(shop):
    """A deletion killed after it recorded its intent (keys shredded, or about to be; the next sweep certifies it)
    failed the weekly drill with KeyDestroyed every week: the drill leaves such a customer out, as a deleted one."""
    from datetime import datetime, timezone

    from ledger.models import DeletionIntent

    with session_scope(shop.ledger, write=True) as session:
        key_id = session.get(Backup, "BETA-20261120").manifest["encryption"]["key_id"]
        session.add(DeletionIntent(customer_id="BETA", day=DAY, recorded_at=datetime.now(timezone.utc),
                                   approved_by="ops@example.com", comment=None, key_ids=[key_id]))
    plan = plan_drill(5, engine=shop.ledger)
    assert (plan.backup_ids, plan.deleting) == (("ACME-20261120",), ("BETA",))
    assert plan.skipped_line() == "not drilled, deletion under way: BETA"
    [result] = drill(list(plan.backup_ids), shop.sandbox_url, shop.platform, shop.storage, engine=shop.ledger)
    assert (result.customer, result.ok) == ("ACME", True)


def test_the_drill_refuses_the_platforms_database_as_its_sandbox_before_anything_is_written(shop):
    """Probe 19a (D4): the drill restores into the sandbox too; LIFECYCLE_SANDBOX_URL naming the live platform
    would have replaced its customers' rows with their backups. Refused once, in one line, before any backup is
    read or anything written: the platform's rows as they were, no backup marked."""
    from sqlalchemy import text

    from operations.restore import RestoreRefused

    platform_url = f"sqlite:///{shop.platform_engine.url.database}"
    with shop.platform_engine.connect() as connection:
        before = connection.execute(text("SELECT * FROM users ORDER BY id")).fetchall()
    with pytest.raises(RestoreRefused) as refused:
        drill(["ACME-20261120", "BETA-20261120"], platform_url, shop.platform, shop.storage, engine=shop.ledger)
    assert str(refused.value) == (f"the sandbox {platform_url} (LIFECYCLE_SANDBOX_URL) is the platform's database "
                                  f"(LIFECYCLE_PLATFORM_URL): a sandbox restore never writes there; point "
                                  f"LIFECYCLE_SANDBOX_URL at an empty database of its own; nothing was restored")
    with shop.platform_engine.connect() as connection:
        assert connection.execute(text("SELECT * FROM users ORDER BY id")).fetchall() == before
    with session_scope(shop.ledger) as session:
        assert [(b.verified_at, b.error) for b in session.query(Backup)] == [(None, None), (None, None)]
