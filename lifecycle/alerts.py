"""Ops alerts as Prefect automations, built from `automations.yaml` by `lifecycle up`.

The file names deployments and says when to alert; this module resolves the names to the
server's deployment ids, turns a deadline in Europe/Paris into the window of a proactive trigger
(the nightly backup at 01:30 must be done by 06:00: a 4 h 30 window from its start), and points
every automation's action at the notifications block, which the Prefect server itself calls.
One entry is not an alert but a repair: a run whose heartbeats stop (its worker or machine was
lost) is marked crashed, as Prefect documents for zombie runs, so the nightly backup starts its
shard again on a live worker (tasks/fanout.py) and the failed-run alert tells ops.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import yaml

FILE = Path(__file__).resolve().parent.parent / "automations.yaml"
NOTIFICATIONS_BLOCK = "lifecycle-notifications/lifecycle"


@dataclass(frozen=True)
class Alert:
    name: str
    description: str
    deployments: list[str] | str
    subject: str = ""
    body: str = ""
    action: str = "alert"
    when: list[str] | None = None
    after: list[str] | None = None
    expect: list[str] | None = None
    within_hours: float | None = None
    within_heartbeats: float | None = None
    deadline: str | None = None


def read_alerts(path: Path = FILE) -> list[Alert]:
    entries = yaml.safe_load(path.read_text())["alerts"]
    alerts = [Alert(**entry) for entry in entries]
    for alert in alerts:
        if bool(alert.when) == bool(alert.after and alert.expect):
            raise ValueError(f"{path.name}: {alert.name} needs either `when`, or `after` with `expect`")
        if alert.after and sum(x is not None for x in (alert.within_hours, alert.deadline, alert.within_heartbeats)) != 1:
            raise ValueError(f"{path.name}: {alert.name} needs one of `within_hours`, `within_heartbeats` or `deadline`")
        if alert.action not in ("alert", "crash"):
            raise ValueError(f"{path.name}: {alert.name}: `action` is `alert` or `crash`, not {alert.action!r}")
        if alert.action == "alert" and not (alert.subject and alert.body):
            raise ValueError(f"{path.name}: {alert.name} needs a `subject` and a `body`")
        if alert.action == "crash" and not alert.body:
            raise ValueError(f"{path.name}: {alert.name} needs a `body`: the crashed state's message")
    return alerts


def cron_time(cron: str) -> tuple[int, int]:
    """(hour, minute) of a daily-or-rarer cron line like '30 1 * * *'."""
    minute, hour = cron.split()[:2]
    return int(hour), int(minute)


def window_until(deadline: str, cron: str) -> timedelta:
    """From the scheduled time of `cron` to the wall-clock `deadline` (HH:MM) the same night or day."""
    hour, minute = (int(part) for part in deadline.split(":"))
    start_hour, start_minute = cron_time(cron)
    window = timedelta(hours=hour - start_hour, minutes=minute - start_minute)
    return window if window > timedelta(0) else window + timedelta(days=1)


def automation_for(alert: Alert, deployments: dict, block_document_id, *, window: timedelta | None = None):
    """The Prefect automation of one alert. `deployments` maps names to the server's deployments;
    `window` replaces the file's window (tests use seconds instead of hours)."""
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState, SendNotification

    import lifecycle_config
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

    names = sorted(deployments) if alert.deployments == "all" else list(alert.deployments)
    missing = [name for name in names if name not in deployments]
    if missing:
        raise ValueError(f"automations.yaml: {alert.name} watches unknown deployment(s) {', '.join(missing)}")
    related = {"prefect.resource.role": "deployment",
               "prefect.resource.id": [f"prefect.deployment.{deployments[name].id}" for name in names]}
    if alert.when:
        trigger = EventTrigger(match={"prefect.resource.id": "prefect.flow-run.*"}, match_related=related,
                               expect=set(alert.when), for_each={"prefect.resource.id"}, posture=Posture.Reactive,
                               threshold=1, within=timedelta(0))
    else:
        if window is None and alert.deadline:
            [schedule] = deployments[names[0]].schedules[:1] or [None]
            if schedule is None or not getattr(schedule.schedule, "cron", None):
                raise ValueError(f"automations.yaml: {alert.name} has a deadline but {names[0]} no cron schedule")
            window = window_until(alert.deadline, schedule.schedule.cron)
        if window is None and alert.within_heartbeats:
            window = timedelta(seconds=alert.within_heartbeats * lifecycle_config.heartbeat_seconds())
        window = window or timedelta(hours=alert.within_hours)
        trigger = EventTrigger(match={"prefect.resource.id": "prefect.flow-run.*"}, match_related=related,
                               after=set(alert.after), expect=set(alert.expect), for_each={"prefect.resource.id"},
                               posture=Posture.Proactive, threshold=1, within=window)
    if alert.action == "crash":
        action = ChangeFlowRunState(state=StateType.CRASHED, name="Crashed", message=alert.body)
    else:
        action = SendNotification(block_document_id=block_document_id, subject=alert.subject, body=alert.body)
    return AutomationCore(name=alert.name, description=alert.description, trigger=trigger, tags=["lifecycle"],
                          actions=[action])


def apply(windows: dict[str, timedelta] | None = None, path: Path = FILE) -> list[str]:
    """Create every alert's automation on the server, replacing any of the same name; returns the
    names with their windows, for the terminal."""
    from prefect import get_client

    from blocks.notifications import Notifications

    windows = windows or {}
    block = Notifications.load("lifecycle")
    done = []
    with get_client(sync_client=True) as client:
        deployments = {deployment.name: deployment for deployment in client.read_deployments()}
        for alert in read_alerts(path):
            automation = automation_for(alert, deployments, block._block_document_id,
                                        window=windows.get(alert.name))
            existing = client.read_automations_by_name(alert.name)
            if len(existing) == 1 and same(existing[0], automation):
                # kept, not made again: a proactive trigger's open windows (a run whose heartbeats stopped
                # while `up` was down) belong to the automation; a new one would never see them close
                pass
            else:
                for old in existing:
                    client.delete_automation(old.id)
                client.create_automation(automation)
            window = "" if alert.when else f" (window {_words(automation.trigger.within)})"
            done.append(f"{alert.name}: {alert.description}{window}")
    return done


def same(stored, wanted) -> bool:
    """Whether the server's automation says what `wanted` says (trigger, actions, description, enabled)."""
    def without_ids(value):  # a trigger's id is made anew with each model
        if isinstance(value, dict):
            return {key: without_ids(item) for key, item in value.items() if key != "id"}
        if isinstance(value, list):  # sets (expect, after, for_each) come in any order
            items = [without_ids(item) for item in value]
            return sorted(items) if all(isinstance(item, str) for item in items) else items
        return value

    def core(automation) -> dict:
        return without_ids(automation.model_dump(mode="json", include={
            "name", "description", "enabled", "trigger", "actions", "actions_on_trigger", "actions_on_resolve",
            "tags"}))

    return core(stored) == core(wanted)


def _words(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    if seconds < 3600:
        return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours} h" + (f" {minutes:02d}" if minutes else "")


def apply_to(api_url: str, windows: dict[str, timedelta] | None = None) -> list[str]:
    """`apply` against the server at `api_url`."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api_url}):
        return apply(windows)
