"""Finding the Prefect server a command should use, and running the embedded one (`lifecycle up`).

docs/reference/cli.md: `PREFECT_API_URL` when set; otherwise the server `lifecycle up` started for this
`LIFECYCLE_HOME`, when it answers; otherwise a temporary one, with a note on stderr. `up` runs the
server, applies the deployments of prefect.yaml, registers the blocks and runs a worker; Ctrl-C
stops all of them, and everything they keep lives under `LIFECYCLE_HOME`, so a restart loses nothing.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import lifecycle_config as config

WORK_POOL = "lifecycle"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def answers(api_url: str, timeout: float = 1.5) -> bool:
    try:
        with urllib.request.urlopen(api_url.rstrip("/") + "/health", timeout=timeout) as response:
            return response.status == 200
    except (OSError, ValueError):
        return False


def running_server() -> str | None:
    """The API URL of the server `lifecycle up` runs for this home, if it answers."""
    try:
        recorded = json.loads(config.server_file().read_text())
    except (OSError, ValueError):
        return None
    url = recorded.get("api_url")
    return url if url and answers(url) else None


def choose_server() -> tuple[str | None, str]:
    """(API URL or None for a temporary server, a sentence saying which)."""
    explicit = os.environ.get("PREFECT_API_URL")
    if explicit:
        return explicit, f"using PREFECT_API_URL {explicit}"
    url = running_server()
    if url:
        return url, f"using the server of `lifecycle up` at {url}"
    return None, ("no server of `lifecycle up` answers for this LIFECYCLE_HOME: starting a temporary Prefect "
                  "server for this run (20-30 s; run `lifecycle up` to avoid it)")


def _prefect(*args: str, env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "prefect", *args], env=env, cwd=PROJECT_ROOT,
                          text=True, capture_output=True, **kwargs)


def _wait_until_up(api_url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Prefect server exited with code {process.returncode}; see "
                               f"{config.home() / 'logs' / 'server.log'}")
        if answers(api_url, timeout=1):
            return
        time.sleep(0.5)
    raise RuntimeError(f"the Prefect server did not answer at {api_url} within {int(timeout)} s")


def _stop(child: subprocess.Popen, grace: float = 20) -> None:
    if child.poll() is not None:
        return
    os.killpg(child.pid, signal.SIGTERM)
    try:
        child.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()


def _serve_downloads(storage_url: str, host: str, port: int, echo) -> str | None:
    """Serve the workbooks of a local storage folder over HTTP, so the UI's links can be clicked."""
    from urllib.parse import unquote, urlparse

    from lifecycle.downloads import serve_exports

    if not storage_url.startswith("file://"):
        return None
    try:
        serve_exports(Path(unquote(urlparse(storage_url).path)), host, port)
    except OSError as error:
        echo(f"  note: workbook downloads not served ({error}); links will point at files")
        return None
    echo(f"serving workbook downloads at http://{host}:{port}/exports/")
    return f"http://{host}:{port}"


def _serve_helpdesk(host: str, port: int, echo) -> None:
    """The helpdesk's signed webhook (lifecycle/helpdesk.py), and where its secret is."""
    from lifecycle.helpdesk import start_webhook

    from ledger.sealing import KeyUnavailable

    try:
        first, *notes = start_webhook(host, port, report=echo)
    except (OSError, KeyUnavailable) as error:
        echo(f"  note: the helpdesk webhook is not served ({error})")
        return
    echo(f"{first} (UI > Blocks)")
    for line in notes:
        echo(line)


def apply(env: dict[str, str], echo, *, serve_downloads: tuple[str, int] | None = None) -> str | None:
    """What a server needs before a worker can run anything: the default blocks (only those missing;
    edits made in the UI stay), the work pool, the deployments of prefect.yaml, the ops automations and
    the global concurrency limits of the terms. `up` calls it; so does `lifecycle deploy` for a server
    of its own (deploy/). Returns the URL serving workbook downloads, when there is one."""
    echo("registering blocks (PolicyTerms, ObjectStorage, PlatformControl, Notifications, Seller)")
    from blocks.settings import load_settings, register_defaults

    for saved in register_defaults():
        echo(f"  saved default block {saved}")
    settings = load_settings()
    if settings.seller.sample:
        echo("  note: invoices carry the SAMPLE seller (SPECIMEN band, test IBAN) until the `seller` block is filled "
             "in (UI > Blocks > Seller, then `sample` off)")
    downloads = _serve_downloads(settings.storage.resolved_url(), *serve_downloads, echo) if serve_downloads else None

    echo(f"applying the deployments of {PROJECT_ROOT / 'prefect.yaml'}")
    pool = _prefect("work-pool", "create", WORK_POOL, "--type", "process", env=env)
    if pool.returncode != 0 and "already exists" not in (pool.stdout + pool.stderr):
        raise RuntimeError("could not create the work pool: " + (pool.stderr or pool.stdout).strip()[-500:])
    deployed = _prefect("--no-prompt", "deploy", "--all", env=env)
    logs = config.home() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / "deploy.log").write_text(deployed.stdout + deployed.stderr)
    if deployed.returncode != 0:
        raise RuntimeError(f"`prefect deploy --all` failed; see {logs / 'deploy.log'}")

    echo(f"registering installation {register_installation()} (every run of these deployments carries it)")

    from lifecycle import alerts
    from tasks.fanout import set_limits

    echo("creating the ops alerts of automations.yaml (sent through lifecycle-notifications/lifecycle)")
    for line in alerts.apply():
        echo(f"  {line}")
    limits = set_limits(settings.terms)
    echo("global concurrency limits (from the terms): " + ", ".join(f"{name} {limit}" for name, limit in limits.items()))
    return downloads


def another_installations_server(api_url: str) -> str | None:
    """Why a command of this ledger must not use the server at `api_url` (None: it may): the server
    registered another installation, so its worker would act on that one's ledger and its blocks are that
    one's. A server that cannot say (unreachable, never registered) is left to the command's own errors."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from ledger.installation import installation_id
    from lifecycle_config.installation import foreign_server
    from tasks.runtime import registered_installation

    try:
        with temporary_settings({PREFECT_API_URL: api_url}):
            registered = registered_installation()
    except Exception:  # noqa: BLE001 - no answer is no evidence; the command says what is wrong with the server
        return None
    return foreign_server(registered, installation_id(), api_url=api_url, home=str(config.home()))


def register_installation() -> str:
    """Record on this server the installation it serves (this ledger's identity) and tag every deployment
    of the work pool with it, so every run the server starts (UI, schedules) carries it; returns the id."""
    from prefect import get_client
    from prefect.client.schemas.actions import DeploymentUpdate, VariableCreate, VariableUpdate
    from prefect.client.schemas.filters import WorkPoolFilter, WorkPoolFilterName

    from ledger.installation import installation_id
    from lifecycle_config.installation import VARIABLE, with_tag

    own = installation_id()
    with get_client(sync_client=True) as client:
        if client.read_variable_by_name(VARIABLE) is None:
            client.create_variable(VariableCreate(name=VARIABLE, value=own))
        else:
            client.update_variable(VariableUpdate(name=VARIABLE, value=own))
        for deployment in client.read_deployments(work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[WORK_POOL]))):
            tags = with_tag(deployment.tags, own)
            if sorted(tags) != sorted(deployment.tags):
                client.update_deployment(deployment.id, DeploymentUpdate(tags=tags))
    return own


def worker_command(name: str) -> list[str]:
    """A process worker on the pool; its runs send a heartbeat every HEARTBEAT_SECONDS (the environment's
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY), so a lost one is marked crashed after three missed beats."""
    return [sys.executable, "-m", "prefect", "worker", "start", "--pool", WORK_POOL, "--type", "process",
            "--name", name]


#: how long `up` waits for the scheduler to create the upcoming runs of every scheduled deployment
SCHEDULER_TIMEOUT = 120.0


def up(*, host: str, port: int, echo, workers: int = 1) -> int:
    """Run the embedded default until Ctrl-C; returns the exit code."""
    from lifecycle.logwatch import LogWatcher

    config.prepare_prefect_environment()
    logs = config.home() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["LIFECYCLE_HOME"] = str(config.home())
    children: list[subprocess.Popen] = []
    watcher = None
    own_server = not os.environ.get("PREFECT_API_URL")
    api_url = os.environ.get("PREFECT_API_URL") or f"http://{host}:{port}/api"
    ui = api_url[:-4] if api_url.endswith("/api") else api_url

    def stop(*_):
        raise KeyboardInterrupt

    # explicit handlers: a process started in the background inherits an ignored SIGINT
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        if own_server:
            if answers(api_url):
                raise RuntimeError(f"something already answers at {api_url}: is `lifecycle up` running already? "
                                   f"(or use --port)")
            echo(f"starting the Prefect server at http://{host}:{port} (data in {config.prefect_home()})")
            server_log_path = logs / "server.log"
            server_log = server_log_path.open("ab")
            # errors the server logs from now on are shown here too, not only in server.log
            watcher = LogWatcher(server_log_path, server_log.tell(), echo)
            watcher.start()
            children.append(subprocess.Popen(
                [sys.executable, "-m", "lifecycle.prefect_server", "server", "start", "--host", host,
                 "--port", str(port)],
                # the UI must call this server's API (Prefect would point it at port 4200 whatever --port
                # says), and alert links must lead to this UI
                env={**env, "PREFECT_UI_URL": ui, "PREFECT_SERVER_UI_API_URL": api_url}, stdout=server_log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            ))
            _wait_until_up(api_url, children[-1], timeout=float(config.PREFECT_STARTUP_TIMEOUT))
        env["PREFECT_API_URL"] = api_url
        os.environ["PREFECT_API_URL"] = api_url
        downloads = apply(env, echo, serve_downloads=(host, port + 1))
        if downloads:
            env["LIFECYCLE_DOWNLOAD_URL"] = downloads
        _serve_helpdesk(host, port + 2, echo)
        config.server_file().write_text(json.dumps({"api_url": api_url, "pid": os.getpid(), "downloads": downloads,
                                                    "config": config.snapshot()}))

        echo(f"starting {'a worker' if workers == 1 else f'{workers} workers'} on the work pool {WORK_POOL}")
        for number in range(1, workers + 1):  # several: the nightly backup's shards spread over them
            worker_log = (logs / ("worker.log" if number == 1 else f"worker-{number}.log")).open("ab")
            children.append(subprocess.Popen(worker_command(f"lifecycle-{socket.gethostname()}-{number}"),
                                             env=env, cwd=PROJECT_ROOT, stdout=worker_log, stderr=subprocess.STDOUT,
                                             start_new_session=True))

        from lifecycle.schedules import NoUpcomingRuns, paris, wait_for_upcoming_runs

        echo("waiting for the scheduler to create the upcoming runs")
        try:
            upcoming = wait_for_upcoming_runs(WORK_POOL, timeout=SCHEDULER_TIMEOUT)
        except NoUpcomingRuns as error:
            seen = watcher.seen[-1] if watcher and watcher.seen else "nothing logged as an error"
            raise RuntimeError(f"{error}: the schedules would never fire (server: {seen}); see "
                               f"{logs / 'server.log'}") from None
        echo("next runs (Europe/Paris):")
        width = max((len(name) for name in upcoming), default=0)
        for name, when in upcoming.items():
            echo(f"  {name:<{width}}  {paris(when)}")
        echo(f"ready: the UI is at {ui} (deployments, runs, blocks); logs in {logs}. Ctrl-C stops everything.")
        while True:
            for child in children:
                if child.poll() is not None:
                    raise RuntimeError(f"{' '.join(child.args[2:5])} exited with code {child.returncode}; see {logs}")
            time.sleep(1)
    except KeyboardInterrupt:
        echo("stopping the worker and the server")
        return 0
    finally:
        # the worker first, so it never polls a server that is already gone
        for child in reversed(children):
            _stop(child)
        if watcher is not None:
            watcher.stop()
        try:
            recorded = json.loads(config.server_file().read_text())
            if recorded.get("pid") == os.getpid():
                config.server_file().unlink()
        except (OSError, ValueError):
            pass
