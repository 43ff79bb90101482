"""The ops alerts file: each alert says when it fires, and a deadline becomes the window after the schedule."""

from datetime import timedelta

import pytest

from lifecycle.alerts import read_alerts, window_until


def test_the_repository_file_names_the_four_alerts_of_the_issue_and_the_lost_run_repair():
    alerts = {alert.name: alert for alert in read_alerts()}
    assert set(alerts) == {"lifecycle-run-failed", "nightly-backup-not-done-by-0600",
                           "monthly-close-awaiting-approval", "data-deletion-awaiting-approval", "lifecycle-lost-run",
                           "lifecycle-lost-before-start"}
    lost = alerts["lifecycle-lost-run"]
    assert (lost.action, lost.after, lost.within_heartbeats) == ("crash", ["prefect.flow-run.heartbeat"], 3)
    # a run waiting for a human sends no heartbeat: it must not be taken for a lost one
    assert {"prefect.flow-run.Suspended", "prefect.flow-run.Paused", "prefect.flow-run.heartbeat"} <= set(lost.expect)
    assert alerts["lifecycle-run-failed"].deployments == "all"
    assert set(alerts["lifecycle-run-failed"].when) == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}
    assert alerts["nightly-backup-not-done-by-0600"].deadline == "06:00"
    assert alerts["monthly-close-awaiting-approval"].within_hours == 24


@pytest.mark.parametrize("deadline, cron, window", [
    ("06:00", "30 1 * * *", timedelta(hours=4, minutes=30)),   # the nightly backup
    ("01:00", "30 23 * * *", timedelta(hours=1, minutes=30)),  # past midnight
    ("08:15", "15 8 * * *", timedelta(days=1)),                # the same time: a full day
])
def test_a_deadline_is_counted_from_the_scheduled_time(deadline, cron, window):
    assert window_until(deadline, cron) == window


def test_an_alert_with_neither_trigger_is_refused(tmp_path):
    path = tmp_path / "automations.yaml"
    path.write_text("alerts:\n  - {name: x, description: d, deployments: all, subject: s, body: b}\n")
    with pytest.raises(ValueError, match="x needs either `when`, or `after` with `expect`"):
        read_alerts(path)


def test_a_lost_run_window_counts_heartbeats_and_its_action_crashes_the_run(monkeypatch):
    from types import SimpleNamespace

    from lifecycle.alerts import automation_for

    monkeypatch.setenv("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "40")
    lost = {alert.name: alert for alert in read_alerts()}["lifecycle-lost-run"]
    automation = automation_for(lost, {"nightly-backup": SimpleNamespace(id="d1")}, None)
    assert automation.trigger.within == timedelta(seconds=120)
    [action] = automation.actions
    assert (action.type, action.state.value) == ("change-flow-run-state", "CRASHED")
