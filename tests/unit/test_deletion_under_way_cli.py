"""A customer whose approved deletion is under way (its intent recorded, its keys shredded or about to be; a killed
run's, the next arrears sweep certifies it) as the CLI shows and treats it: `keys rotate` made it a new data key
that would outlive the shred (restore refuses it already), and `show customers` said `awaiting_approval`, which
would have someone approve it again."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

from ledger.db import session_scope
from ledger.models import Customer, DeletionIntent
from operations.backup import backup_customer
from tests.support.backup_shop import backup_shop
from tests.support.cli import lifecycle_in_process

DAY = date(2026, 11, 20)


def test_keys_rotate_refuses_and_show_customers_says_under_way_while_a_deletion_is_under_way(tmp_path, monkeypatch):
    shop = backup_shop(tmp_path, monkeypatch, DAY.isoformat())
    monkeypatch.setenv("LIFECYCLE_STORAGE_URL", shop.objects.as_uri())
    assert backup_customer("ACME", DAY, shop.platform, shop.storage, engine=shop.ledger).status == "good"
    keys_before = sorted(path.name for path in (shop.objects / "keys").rglob("*.json"))
    with session_scope(shop.ledger, write=True) as session:
        session.get(Customer, "ACME").deletion_status = "awaiting_approval"
        session.add(DeletionIntent(customer_id="ACME", day=DAY, recorded_at=datetime.now(timezone.utc),
                                   approved_by="ops@example.com", comment=None, key_ids=[]))

    refused = lifecycle_in_process("keys", "rotate", "--customer", "ACME")
    assert (refused.returncode, refused.stderr.strip()) == (
        2, "lifecycle: --customer ACME: its data deletion, approved by ops@example.com on 2026-11-20, is under way "
           "(its data keys count as shredded): no new key is made")
    assert sorted(path.name for path in (shop.objects / "keys").rglob("*.json")) == keys_before

    shown = {row["customer_id"]: row for row in json.loads(
        lifecycle_in_process("show", "customers", "--format", "json").stdout)}
    assert shown["ACME"]["deletion_under_way"] is True
    assert shown["ACME"]["deletion_status"] in (None, "notice_sent", "awaiting_approval", "refused")  # the interface's
    assert shown["BETA"]["deletion_status"] is None and shown["BETA"]["deletion_under_way"] is False
