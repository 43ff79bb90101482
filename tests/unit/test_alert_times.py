"""Ops alerts state times in Europe/Paris, like everything else the product prints (the event's time is
UTC in Prefect; the template says it in Paris and names the zone)."""

import pendulum
from jinja2.sandbox import ImmutableSandboxedEnvironment

from lifecycle.alerts import read_alerts


def test_a_failed_run_alert_says_when_in_paris_time_with_the_zone_named():
    [failed] = [alert for alert in read_alerts() if alert.name == "lifecycle-run-failed"]
    # the sandbox Prefect renders automations in; its `ui_url` filter is the server's
    environment = ImmutableSandboxedEnvironment()
    environment.filters["ui_url"] = lambda run: "http://127.0.0.1:4200/runs/flow-run/1"
    template = environment.from_string(failed.body)
    run = {"name": "brave-fox", "state": {"name": "Failed", "message": "boom"}}
    # 23:30 UTC on 31 October 2026 (winter time, UTC+1) is already 1 November in Paris; 30 June: UTC+2
    for occurred, shown in ((pendulum.datetime(2026, 10, 31, 23, 30, 2, tz="UTC"), "2026-11-01 00:30:02"),
                            (pendulum.datetime(2026, 6, 30, 12, 0, 0, tz="UTC"), "2026-06-30 14:00:00")):
        text = template.render(flow_run=run, deployment={"name": "nightly-backup"}, event={"occurred": occurred})
        assert f"ended Failed at {shown} (Europe/Paris)." in text, text
        assert "UTC" not in text


def test_no_alert_template_states_a_time_in_utc():
    for alert in read_alerts():
        assert "UTC" not in (alert.subject or "") + (alert.body or ""), alert.name
