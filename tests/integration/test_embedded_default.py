"""What `lifecycle up` applies: prefect.yaml's deployments and the ledger's migration (the running
server itself is in test_up.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml

from tests.support.up import first_time_of_day

ROOT = Path(__file__).resolve().parents[2]


def test_prefect_yaml_lists_existing_flows_with_paris_schedules():
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    names = set()
    for deployment in config["deployments"]:
        path, function = deployment["entrypoint"].split(":")
        spec = importlib.util.spec_from_file_location(f"entry_{function}", ROOT / path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        flow = getattr(module, function)
        assert flow.__class__.__name__ == "Flow", deployment["name"]
        assert flow.name == deployment["name"], "prefect deployment run <flow>/<deployment> with one name"
        assert flow.description, f"{deployment['name']}: the UI shows the flow's docstring"
        for schedule in deployment.get("schedules", []):
            assert schedule["timezone"] == "Europe/Paris"
            assert f"{first_time_of_day(schedule['cron'])} Europe/Paris" in deployment["description"]
        assert deployment["work_pool"]["name"] == "lifecycle"
        assert deployment.get("concurrency_limit"), deployment["name"]
        names.add(deployment["name"])
    assert {"standby-expiry", "standby-request", "monthly-close", "arrears-escalation", "data-deletion",
            "billable-export", "nightly-backup", "verify-backups", "restore-backup"} <= names


def test_the_migration_builds_exactly_the_models(ledger):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from ledger.models import Base

    with ledger.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
