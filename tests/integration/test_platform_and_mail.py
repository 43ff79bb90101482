"""PlatformControl against real platform databases and a real webhook; notices through real SMTP."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from blocks.notifications import Notifications
from blocks.platform import PlatformControl, PlatformError
from policy.arrears import flags_for
from tests.support.builders import platform
from tests.support.servers import Webhook, smtp_server


@pytest.fixture(params=["sqlite", "postgresql"])
def platform_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'platform.db'}"
    return request.getfixturevalue("pg_database")


def test_database_mode_writes_all_three_flags_and_nothing_else(platform_url, monkeypatch):
    monkeypatch.delenv("LIFECYCLE_PLATFORM_URL", raising=False)
    engine = platform(platform_url, ["T1", "T2"])
    control = PlatformControl(mode="database", database_url=platform_url)
    control.apply("T1", flags_for("admin_disabled", True), reason="test", idempotency_key="k1")
    with engine.connect() as connection:
        rows = dict((row[0], tuple(map(bool, row[1:]))) for row in connection.execute(
            text("SELECT tenant_id, admin_enabled, platform_enabled, operations_enabled FROM tenants")))
    assert rows == {"T1": (False, True, False), "T2": (True, True, True)}
    assert control.read("T1") == flags_for("admin_disabled", True)
    with pytest.raises(PlatformError, match="'T9' is not in the platform's tenants table"):
        control.apply("T9", flags_for("current", False), reason="test", idempotency_key="k2")


def test_webhook_is_signed_carries_the_flags_and_is_retried():
    hook = Webhook("s3cr3t", fail_first=2)
    with hook.running() as url:
        control = PlatformControl(mode="webhook", webhook_url=url, webhook_secret="s3cr3t", retries=3)
        control.apply("T1", flags_for("platform_disabled", False), reason="arrears", idempotency_key="arrears:T1:2")
    assert hook.attempts == 3 and hook.rejected == []
    assert hook.calls == [{"tenant_id": "T1", "admin_enabled": False, "platform_enabled": False,
                           "operations_enabled": False, "reason": "arrears", "idempotency_key": "arrears:T1:2"}]


def test_webhook_failure_after_retries_and_a_wrong_secret_are_errors():
    hook = Webhook("right", always_fail=True)
    with hook.running() as url:
        with pytest.raises(PlatformError, match="failed after 2 attempt"):
            PlatformControl(mode="webhook", webhook_url=url, webhook_secret="right", retries=1).apply(
                "T1", flags_for("current", False), reason="x", idempotency_key="x")
    wrong = Webhook("right")
    with wrong.running() as url:
        with pytest.raises(PlatformError, match="HTTP 401"):
            PlatformControl(mode="webhook", webhook_url=url, webhook_secret="wrong", retries=0).apply(
                "T1", flags_for("current", False), reason="x", idempotency_key="x")
    assert wrong.rejected == ["bad signature"] and wrong.calls == []


def test_notices_go_through_smtp_when_it_is_set():
    with smtp_server() as (port, received):
        notifications = Notifications(smtp_host="127.0.0.1", smtp_port=port, security="none",
                                      sender="Support <support@vendor.example>")
        transport, where = notifications.send("client@example.com", "Votre plateforme est en veille",
                                              "Bonjour Hélène,\n\nÀ bientôt.", key="standby_started:1")
    assert (transport, where) == ("smtp", f"127.0.0.1:{port}")
    [mail] = received
    assert mail["to"] == ["client@example.com"]
    assert mail["message"]["Subject"] == "Votre plateforme est en veille"
    assert mail["message"]["X-Lifecycle-Notice"] == "standby_started:1"
    assert "Hélène" in mail["message"].get_content()


def test_notices_go_to_the_outbox_without_smtp(tmp_path):
    transport, where = Notifications(outbox_dir=str(tmp_path)).send("a@example.com", "Subject", "Body", key="k:1")
    assert transport == "outbox"
    assert (tmp_path / "k_1.eml").read_text().count("Subject: Subject") == 1
