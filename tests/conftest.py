"""What every tier of the suite shares: a quiet Prefect and a temporary server that has time to start.

Nothing here touches a database or a server: `pytest tests/unit` runs the rules alone, in
seconds. The fixtures of the real services are in tests/integration/conftest.py.
"""

from __future__ import annotations

import os

os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

# Property tests judge what the product answers, not how fast a loaded CI machine generates examples or
# runs one: no deadline, and no "too slow" health check (both failed the fast tier under load, 2026-12-06)
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("lifecycle", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("lifecycle")


def pytest_collection_modifyitems(config, items):
    """Every unit test runs on each calendar day .ci/run sets under faketime (`-m dates`): the rules of
    months, DST and leap days are there, and the whole tier takes seconds."""
    import pytest

    unit = os.sep + os.path.join("tests", "unit") + os.sep
    for item in items:
        if unit in str(item.path):
            item.add_marker(pytest.mark.dates)


def pytest_terminal_summary(terminalreporter):
    """What a test asked to tell on the terminal (`record_property("tell", ...)`), also from xdist workers
    (here, in the root conftest: the xdist controller loads only this one)."""
    for report in terminalreporter.getreports("passed") + terminalreporter.getreports("failed"):
        for name, value in getattr(report, "user_properties", ()):
            if name == "tell":
                terminalreporter.write_line(value)


def pytest_collection_finish(session):
    """What collection imported (Prefect, SQLAlchemy, pydantic, the product: some 230,000 objects) lives as long
    as the process: gc.freeze() keeps the collector from walking it again in every full collection, and in the
    five pytest makes at the end to find unraisable exceptions (about half the collector's time in a unit run)."""
    import gc

    gc.freeze()
