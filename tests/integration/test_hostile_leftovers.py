"""Issue 24's leftovers, as a user meets them: what a failed or interrupted command leaves behind.

A failed `db restore-snapshot` left its --to behind (a 0-byte SQLite file, or the ledger's tables made in an
empty server database, which the next attempt then refused as "not empty"): interrupted after the target's
schema is made (Ctrl-C, here SIGINT at a paused failpoint), nothing of the restore is left, on SQLite and
PostgreSQL targets alike, and the same command then restores.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date

import pytest
from sqlalchemy import inspect

from lifecycle_config.databases import engine_for
from operations.backup import snapshot_ledger
from tests.integration.conftest import create_pg_database, drop_pg_database
from tests.support.backup_shop import backup_shop
from tests.support.cli import lifecycle_in_process

DAY = date(2026, 11, 20)


def interrupted_restore(backup_id: str, target: str, log) -> subprocess.CompletedProcess:
    """`lifecycle db restore-snapshot` stopped by SIGINT once the target's schema is made."""
    env = {**os.environ, "LIFECYCLE_FAILPOINT_PAUSE": "snapshot.schema-made=60", "LIFECYCLE_FAILPOINT_LOG": str(log)}
    process = subprocess.Popen([sys.executable, "-m", "lifecycle.cli", "db", "restore-snapshot", backup_id, "--to",
                                target], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while "snapshot.schema-made" not in (log.read_text() if log.exists() else ""):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the restore never reached its schema"
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _snapshot_target(kind: str, folder, request) -> str:
    """Where a snapshot is restored: `restored.db` in `folder`, or a database of its own on PostgreSQL."""
    if kind == "sqlite":
        return f"sqlite:///{folder / 'restored.db'}"
    admin = request.getfixturevalue("pg_admin")
    target = create_pg_database(admin, migrate=False)
    request.addfinalizer(lambda: drop_pg_database(admin, target))
    return target


def _tables_of(target: str) -> list[str]:
    with engine_for(target).connect() as connection:
        tables = inspect(connection).get_table_names()
    engine_for(target).dispose()
    return tables


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_an_interrupted_snapshot_restore_leaves_nothing_in_its_target(kind, tmp_path, monkeypatch, request):
    shop = backup_shop(tmp_path, monkeypatch, DAY.isoformat())
    monkeypatch.setenv("LIFECYCLE_STORAGE_URL", shop.objects.as_uri())
    snapshot = snapshot_ledger(DAY, shop.storage, flow_run_id=None, engine=shop.ledger)
    target = _snapshot_target(kind, tmp_path, request)
    stopped = interrupted_restore(snapshot.backup_id, target, tmp_path / "points.log")
    assert stopped.returncode != 0 and "restored " not in stopped.stdout, stopped.stderr
    if kind == "sqlite":
        assert not [path.name for path in tmp_path.glob("restored.db*")]
    else:
        assert _tables_of(target) == []
    again = lifecycle_in_process("db", "restore-snapshot", snapshot.backup_id, "--to", target)  # no kill this time
    assert again.returncode == 0 and again.stdout.startswith("restored "), again.stderr


# --- two redeposits of one rejected document asked together ------------------------------------------------

def rejected_document(ledger, tmp_path, platform):
    """October closed and deposited, ACME's invoice rejected (213) and its address corrected: ready to deposit
    again. Returns the settings and ACME's number."""
    from sqlalchemy import select, update

    from blocks.einvoicing import EInvoicing
    from blocks.notifications import Notifications
    from blocks.platform import PlatformControl
    from blocks.seller import Seller
    from blocks.settings import Settings
    from blocks.storage import ObjectStorage
    from ledger.db import session_scope
    from ledger.einvoicing import EinvoiceFlow
    from ledger.models import Customer
    from operations.close import draft, finalise
    from operations.einvoicing import record_statuses
    from operations.einvoicing_documents import deposit_documents
    from operations.invoice_documents import issue_documents
    from policy.einvoicing import BuyerKind, FlowState
    from policy.terms import Terms
    from tests.support.scenarios import load_october

    load_october(ledger, tmp_path)
    with session_scope(ledger, write=True) as session:
        session.execute(update(Customer).where(Customer.customer_id == "ACME")
                        .values(siren="552120222", buyer_kind=BuyerKind.FR_BUSINESS))
    draft("2026-10", Terms(), actor="test", flow_run_id=None, engine=ledger)
    report = finalise("2026-10", date(2026, 11, 2), Terms(), actor="test", flow_run_id=None, engine=ledger)
    acme = next(item.number for item in report.listed if item.customer_id == "ACME")
    settings = Settings(Terms(), ObjectStorage(url=(tmp_path / "store").as_uri()), PlatformControl(),
                        Notifications(outbox_dir=str(tmp_path / "outbox")), Seller(),
                        EInvoicing(base_url=platform.url, retries=0, timeout_seconds=5))
    platform.reject(acme, "BR-FR-12: the buyer's address lacks its postcode")
    issue_documents(settings.seller, settings.terms, settings.storage, month="2026-10", actor="test", engine=ledger,
                    platform=settings.einvoicing)
    deposit_documents(settings, actor="test", flow_run_id=None, engine=ledger)
    with session_scope(ledger, write=True) as session:
        for flow in session.scalars(select(EinvoiceFlow).where(EinvoiceFlow.state == FlowState.DEPOSITED)):
            record_statuses(session, flow, settings.einvoicing.statuses(flow.flow_id))
        session.execute(update(Customer).where(Customer.customer_id == "ACME")
                        .values(billing_address="12 rue de la Paix\n75002 Paris\nFR"))
    return settings, acme


def test_two_redeposits_asked_together_make_one_deposit_and_one_audit_line(home, ledger, tmp_path, monkeypatch):
    """Two `--redeposit` of one rejected document at once: both saw the rejection, both audited a redeposit, the
    platform got one (one tracking id). The new deposit is claimed and audited in one transaction: one audit
    line, one deposit; the second says the same deposit (or refuses in one line), never an error."""
    import threading

    from sqlalchemy import select

    from blocks.einvoicing import TOKEN_VARIABLE
    from ledger.db import session_scope
    from ledger.models import AuditEntry
    from operations.einvoicing_documents import RedepositRefused, redeposit
    from tests.support.fake_einvoicing import FakePlatform

    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-11-02")
    fake = FakePlatform()
    with fake.running():
        monkeypatch.setenv(TOKEN_VARIABLE, fake.token)
        settings, acme = rejected_document(ledger, tmp_path, fake)
        # both read the rejection and render, then wait there: the second reads before the first writes
        monkeypatch.setenv("LIFECYCLE_FAILPOINT_PAUSE", "einvoicing.redeposit-stored=2")
        outcomes: list = []

        def ask():
            try:
                outcomes.append(redeposit(settings, acme, actor="finance", flow_run_id=None, engine=ledger))
            except RedepositRefused as refused:
                outcomes.append(refused.one_line())

        threads = [threading.Thread(target=ask) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert len(outcomes) == 2, outcomes
        assert [flow.tracking_id for flow in fake.deposits()].count(f"{acme}-r1") == 1
        assert {outcome.tracking_id for outcome in outcomes if not isinstance(outcome, str)} == {f"{acme}-r1"}
        with session_scope(ledger) as session:
            lines = session.scalars(select(AuditEntry).where(AuditEntry.action == "einvoice_redeposit")).all()
        assert [entry.after["tracking_id"] for entry in lines] == [f"{acme}-r1"]


# --- a shredded key's object put back --------------------------------------------------------------------------

def test_a_shredded_keys_object_put_back_reads_nothing_on_either_database(home, ledger, tmp_path, monkeypatch):
    """After a customer's deletion shredded its data key, the key object and a backup's manifest put back (a copy
    kept elsewhere) read nothing: the ledger's record of the shred wins over what the store holds."""
    from blocks.notifications import Notifications
    from blocks.platform import PlatformControl
    from blocks.seller import Seller
    from blocks.settings import Settings
    from blocks.storage import ObjectStorage
    from ledger import keys as object_keys
    from ledger.db import session_scope
    from ledger.imports import import_file
    from ledger.models import Backup
    from operations.backup import backup_customer
    from operations.backup_archive import read_manifest
    from operations.backup_keys import KeyDestroyed
    from operations.backup_objects import BackupObjects
    from operations.deletion import execute
    from policy.terms import Terms
    from tests.support.builders import CUSTOMER_HEADER, customer, platform, write_csv

    monkeypatch.setenv("LIFECYCLE_TODAY", "2026-11-20")
    platform(os.environ["LIFECYCLE_PLATFORM_URL"], ["ACME"])
    import_file("customers", write_csv(tmp_path / "c.csv", CUSTOMER_HEADER, [customer("ACME")]), engine=ledger)
    settings = Settings(Terms(), ObjectStorage(url=(tmp_path / "store").as_uri()), PlatformControl(), Notifications(),
                        Seller())
    backup = backup_customer("ACME", DAY, settings.platform, settings.storage, engine=ledger)
    assert backup.status == "good", backup.error
    with session_scope(ledger) as session:
        record = session.get(Backup, backup.backup_id)
        key_id, manifest_key, manifest = record.manifest["encryption"]["key_id"], record.manifest_key, record.manifest
    kept = {key: (tmp_path / "store" / key).read_bytes()
            for key in (object_keys.data_key_object("ACME", key_id), manifest_key)}
    execute("ACME", DAY, settings, {"reviewer": "ops@example.com"}, actor="test", flow_run_id=None, engine=ledger)
    for key, data in kept.items():
        (tmp_path / "store" / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "store" / key).write_bytes(data)
    with pytest.raises(KeyDestroyed, match=f"the data key {key_id} of ACME was shredded on "):
        read_manifest(BackupObjects(settings.storage, customer_id="ACME"), backup.backup_id, manifest_key, manifest)


# --- a home without its own ledger file, pointed at another installation's ledger ------------------------------

def test_a_home_of_one_installation_refuses_another_installations_ledger_on_either_database(home, ledger):
    """The home has no ledger.db of its own; its server.json (written by `lifecycle up`) names installation A; the
    ledger it is pointed at (SQLite or PostgreSQL) is B: one line, exit 2, the ledger unchanged. Named B, or a
    fresh home with no record yet, it works."""
    import json

    from sqlalchemy import func, select

    from ledger.db import session_scope
    from ledger.installation import installation_id
    from ledger.models import AuditEntry

    own = installation_id(ledger)
    assert not (home / "ledger.db").exists()

    def show() -> subprocess.CompletedProcess:  # a ledger's command: in this process (tests/support/cli.py)
        return lifecycle_in_process("show", "customers")

    assert show().returncode == 0  # a fresh home takes the ledger it is given
    with session_scope(ledger) as session:
        audited = session.scalar(select(func.count()).select_from(AuditEntry))
    for installation, code in (("0b3c52de-5a0e-4c4b-9a55-aaaaaaaaaaaa", 2), (own, 0)):
        (home / "server.json").write_text(json.dumps({"api_url": "http://127.0.0.1:9", "pid": 0, "downloads": None,
                                                      "config": {"LIFECYCLE_HOME": str(home)},
                                                      "installation": installation}))
        shown = show()
        assert shown.returncode == code, shown.stderr
        if code == 2:
            [line] = shown.stderr.strip().splitlines()
            assert f"is the ledger of installation {own}" in line and f"belongs to installation {installation}" in line
    with session_scope(ledger) as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == audited


@pytest.mark.parametrize("kind, point, there", [
    pytest.param("sqlite", "snapshot.schema-made", False, id="sqlite-new-file-killed-after-schema"),
    pytest.param("sqlite", "snapshot.rows-loaded", True, id="sqlite-empty-file-killed-before-rename"),
    pytest.param("postgresql", "snapshot.schema-made", False, id="postgresql-killed-after-schema"),
])
def test_a_killed_snapshot_restore_leaves_its_target_as_it_was(kind, point, there, tmp_path, monkeypatch, request):
    """Probe 19a (D6): `db restore-snapshot` SIGKILLed (no handler runs) left --to with 34 tables, no rows and a
    ledger version, which the next attempt refused as "not empty". A SQLite target is written as a temporary
    file beside it and renamed into place once whole; a server database takes the schema and the rows in one
    transaction. Killed anywhere, the target is as it was (missing, or the empty file the user made), and the same
    command then restores, removing the killed one's temporary file."""
    shop = backup_shop(tmp_path, monkeypatch, DAY.isoformat())
    monkeypatch.setenv("LIFECYCLE_STORAGE_URL", shop.objects.as_uri())
    snapshot = snapshot_ledger(DAY, shop.storage, flow_run_id=None, engine=shop.ledger)
    out = tmp_path / "out"
    out.mkdir()
    target = _snapshot_target(kind, out, request)
    if kind == "sqlite" and there:
        (out / "restored.db").touch()  # the user made the empty file first
    log = tmp_path / "points.log"
    killed = subprocess.run([sys.executable, "-m", "lifecycle.cli", "db", "restore-snapshot", snapshot.backup_id,
                             "--to", target], env={**os.environ, "LIFECYCLE_FAILPOINT": point,
                                                   "LIFECYCLE_FAILPOINT_LOG": str(log)},
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-2000:])
    assert point in log.read_text().split()
    if kind == "sqlite":
        temporary = [path.name for path in out.iterdir() if path.name.startswith(".restored.db.")]
        assert temporary  # the killed restore's file, and nothing else of it: the target untouched
        assert sorted(path.name for path in out.iterdir() if path.name not in temporary) == (
            ["restored.db"] if there else [])
        if there:
            assert (out / "restored.db").stat().st_size == 0
    else:
        assert _tables_of(target) == []
    again = lifecycle_in_process("db", "restore-snapshot", snapshot.backup_id, "--to", target)  # no kill this time
    assert again.returncode == 0 and again.stdout.startswith("restored "), again.stderr
    if kind == "sqlite":
        assert sorted(path.name for path in out.iterdir()) == ["restored.db"]  # the killed one's file removed
        with engine_for(target).connect() as restored, shop.ledger.connect() as ledger:
            count = "SELECT count(*) FROM customers"
            assert restored.exec_driver_sql(count).scalar() == ledger.exec_driver_sql(count).scalar() > 0
        engine_for(target).dispose()
