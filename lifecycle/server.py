"""Finding the Prefect server a command should use, and running the embedded one (`lifecycle up`).

docs/reference/cli.md: `PREFECT_API_URL` when set; otherwise the server `lifecycle up` started for this
`LIFECYCLE_HOME`, when it answers; otherwise a temporary one, with a note on stderr. `up` runs the
server, applies the deployments of prefect.yaml, registers the blocks and runs a worker; Ctrl-C
stops all of them, and everything they keep lives under `LIFECYCLE_HOME`, so a restart loses nothing.
A worker that dies is started again (the server stays up), and the runs it took whose process is gone
are marked crashed at once, which frees their concurrency slots (`crash_lost_runs`).
"""

from __future__ import annotations

import errno
import fcntl
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import lifecycle_config as config
from lifecycle.deathwatch import SERVER_HOME_VARIABLE, Lifeline, record
from lifecycle.warm_engine import RUN_LIFELINE_VARIABLE, SOCKET_NAME, SOCKET_VARIABLE, serve_environment
from lifecycle_config.conditions import Unavailable
from lifecycle_config.installation import WILDCARD, link_host

WORK_POOL = "lifecycle"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def answers(api_url: str, timeout: float = 1.5) -> bool:
    try:
        with urllib.request.urlopen(api_url.rstrip("/") + "/health", timeout=timeout) as response:
            return response.status == 200
    except (OSError, ValueError, http.client.HTTPException):
        return False


#: how long `db adopt` waits for the old home's server to answer before it counts a silent one as still running
#: (hanging, or at work on a close); read at each call, so a test of that silence can make it short
SILENT_SERVER_SECONDS = 5.0


def may_still_run(api_url: str, timeout: float | None = None) -> str | None:
    """What says the server at `api_url` may still run (None: it has stopped), for a decision that must not be
    taken while it runs (`db adopt`). A stopped server's machine refuses the connection at once, or its name no
    longer resolves: only that says stopped. Any HTTP answer is a server (a 401 behind basic auth, which every
    request without its password gets, a 5xx of a busy one), and so is one that takes the connection and answers
    nothing within `timeout` (SILENT_SERVER_SECONDS when None: hanging, or at work on a close); a machine that
    cannot be reached cannot be told stopped either. /health's 200 alone (`answers`) took all of these for a
    stopped server."""
    import urllib.error

    if timeout is None:
        timeout = SILENT_SERVER_SECONDS
    try:
        with urllib.request.urlopen(api_url.rstrip("/") + "/health", timeout=timeout) as response:
            return f"answers (HTTP {response.status})"
    except urllib.error.HTTPError as error:
        return f"answers (HTTP {error.code})"
    except ValueError:  # no URL at all: no server can be there
        return None
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, (ConnectionRefusedError, socket.gaierror)):
            return None
        if isinstance(reason, TimeoutError):
            return f"takes the connection but gives no answer within {timeout:g} s"
        return f"cannot be reached ({config.escaped(str(reason), 200)}), so it cannot be told stopped"
    except TimeoutError:  # connected, and the answer never came
        return f"takes the connection but gives no answer within {timeout:g} s"
    except (OSError, http.client.HTTPException) as error:  # connected, and something answered that is not HTTP
        return f"takes the connection and answers ({config.escaped(type(error).__name__)})"


class ServerDown(Unavailable):
    """The Prefect server PREFECT_API_URL names does not answer (stopped, or the URL is wrong)."""


def explicit_server_answers(api_url: str) -> None:
    """Raise ServerDown, one line naming the URL, unless the server PREFECT_API_URL names answers: checked
    before a command relies on it, so that no command waits on it, or says something else (Prefect's own
    "Failed to reach API"). A server that is down refuses the connection at once; a busy one (a loaded CI
    machine, a server at work on a close) gets 10 s per try and three tries."""
    for attempt in range(3):
        if answers(api_url, timeout=10):
            return
        if attempt < 2:
            time.sleep(1)
    raise ServerDown(f"the Prefect server at {config.escaped(api_url)} (PREFECT_API_URL) does not answer: start it, "
                     f"or correct PREFECT_API_URL (unset, a command uses the server of `lifecycle up` for this "
                     f"LIFECYCLE_HOME, or a temporary one)")


def host_problem(host: str) -> str | None:
    """Why `lifecycle up --host` cannot listen on `host` (None: it can): empty, or not an address of this
    machine (a name that does not resolve, an address no interface holds). Said before anything starts."""
    from lifecycle_config import escaped

    if not host.strip():
        return "--host is empty: give an address of this machine (127.0.0.1, the default; 0.0.0.0 for all of them)"
    try:
        family, kind, _, _, address = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind) as probe:
            probe.bind(address)
    except (OSError, UnicodeError) as error:
        if isinstance(error, OSError) and not isinstance(error, socket.gaierror) \
                and error.errno != errno.EADDRNOTAVAIL:
            return None  # an address of this machine that cannot be bound just now: the port check says why
        return (f"--host {escaped(host)} is not an address of this machine: give one of its addresses (127.0.0.1, the "
                f"default; 0.0.0.0 for all of them)")
    return None


def running_server() -> str | None:
    """The API URL of the server `lifecycle up` runs for this home, if it answers. A server.json that
    `lifecycle up` wrote for another home (a home copied with it, `cp -r`) names that home's server: not this
    one's."""
    recorded = config.server_record()  # None when written for another home
    url = (recorded or {}).get("api_url")
    return url if url and answers(url) else None


def choose_server() -> tuple[str | None, str]:
    """(API URL or None for a temporary server, a sentence saying which)."""
    explicit = os.environ.get("PREFECT_API_URL")
    if explicit:
        explicit_server_answers(explicit)
        return explicit, f"using PREFECT_API_URL {explicit}"
    url = running_server()
    if url:
        return url, f"using the server of `lifecycle up` at {url}"
    return None, ("no server of `lifecycle up` answers for this LIFECYCLE_HOME: starting a temporary Prefect "
                  "server for this run (20-30 s; run `lifecycle up` to avoid it)")


def temporary_server_in_its_own_session() -> None:
    """Have the temporary Prefect server of a run in this process start in a session of its own. A Ctrl-C at the
    terminal goes to its whole foreground process group: it stopped the temporary server with the command, and the
    flow engine then reported the interrupted run (Crashed) to a server gone, retrying for minutes: the command
    stayed after "Crash detected" until a second Ctrl-C. In its own session the server hears only this process,
    which stops it on the way out (Prefect's exit hook); on Linux it is also told to end with this process
    (PR_SET_PDEATHSIG), so a command killed or hung up (its terminal closed) leaves no server behind. Prefect
    starts it with `subprocess.Popen` and no way to ask for a session: its module is given a Popen that asks.
    Started from the main thread (the run's first client, lifecycle.runner.route): the signal follows the thread
    that started it."""
    import signal
    import subprocess
    import types

    from prefect.server.api import server as prefect_api

    prctl = None
    if sys.platform.startswith("linux"):  # looked up here: the child between fork and exec imports nothing
        import ctypes

        prctl = ctypes.CDLL(None).prctl

    def end_with_this_process() -> None:
        if prctl is not None:
            prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    class OwnSession(subprocess.Popen):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **{**kwargs, "start_new_session": True, "preexec_fn": end_with_this_process})

    prefect_api.subprocess = types.SimpleNamespace(**{**vars(subprocess), "Popen": OwnSession})


def _prefect(*args: str, env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "prefect", *args], env=env, cwd=PROJECT_ROOT,
                          text=True, capture_output=True, **kwargs)


def _wait_until_up(api_url: str, process: subprocess.Popen, timeout: float, prefect_home: str) -> None:
    """Until the server `process` answers at `api_url`. Another server that takes the port between the check
    that it was free and this one's start would answer too (this one then fails to bind): deploying into it
    would register this installation on someone else's server, so the server that answers must keep its data
    in `prefect_home`, or up stops with one line."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Prefect server exited with code {process.returncode}; see "
                               f"{config.home() / 'logs' / 'server.log'}")
        if answers(api_url, timeout=1):
            home = _served_home(api_url)
            if home is not None and Path(home).expanduser().resolve() != Path(prefect_home).expanduser().resolve():
                raise RuntimeError(f"another Prefect server (its data in {home}) took {api_url} while this one was "
                                   f"starting: stop it, or choose another --port")
            if home is not None:
                return
        time.sleep(0.5)
    raise RuntimeError(f"the Prefect server did not answer at {api_url} within {int(timeout)} s")


def _served_home(api_url: str) -> str | None:
    """The PREFECT_HOME of the server answering at `api_url` (None: it does not say yet)."""
    try:
        with urllib.request.urlopen(api_url.rstrip("/") + "/admin/settings", timeout=2) as response:
            home = json.loads(response.read()).get("home")
    except (OSError, ValueError, AttributeError):
        return None
    return home if isinstance(home, str) else None


def _stop(child: subprocess.Popen, grace: float = 20) -> None:
    if child.poll() is not None:
        return
    os.killpg(child.pid, signal.SIGTERM)
    try:
        child.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()


def _in_url(host: str) -> str:
    """`host` as a URL writes it (an IPv6 address in brackets), wildcard or not."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


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
    link = f"http://{link_host(host)}:{port}"  # listening on 0.0.0.0, its links name the machine
    echo(f"serving workbook downloads at {link}/exports/")
    return link


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
    echo(f"  {settings.storage.immutability_line()}")
    downloads = _serve_downloads(settings.storage.resolved_url(), *serve_downloads, echo) if serve_downloads else None

    echo(f"applying the deployments of {PROJECT_ROOT / 'prefect.yaml'}")
    pool = _prefect("work-pool", "create", WORK_POOL, "--type", "process", env=env)
    if pool.returncode != 0 and "already exists" not in (pool.stdout + pool.stderr):
        raise RuntimeError("could not create the work pool: " + (pool.stderr or pool.stdout).strip()[-500:])
    set_run_command()
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
    registered another installation, or its worker serves this installation's ledger at another location (a
    copy of the home, or its original: the identity alone cannot tell them apart), so its worker would act on
    that ledger and its blocks are that one's. A server that cannot say (unreachable, never registered) is
    left to the command's own errors."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from ledger.installation import installation_id
    from lifecycle_config.installation import foreign_server, ledger_location, served_elsewhere
    from tasks.runtime import registered_installation, served_record

    try:
        with temporary_settings({PREFECT_API_URL: api_url}):
            registered = registered_installation()
            served = served_record()
    except Exception:  # noqa: BLE001 - no answer is no evidence; the command says what is wrong with the server
        return None
    home = str(config.home())
    return (foreign_server(registered, installation_id(), api_url=api_url, home=home)
            or served_elsewhere(served, ledger_location(config.database_url()), api_url=api_url, home=home))


#: settings a machine joining a server keeps its own: the serving `up`'s link base (the joining workers are given
#: the recorded one), and a test's fault injection on one worker
JOINER_OWN_SETTINGS = ("LIFECYCLE_DOWNLOAD_URL", "LIFECYCLE_FAILPOINT", "LIFECYCLE_FAILPOINT_LOG",
                       "LIFECYCLE_FAILPOINT_PAUSE")


def joining_refused(api_url: str, *, how: str) -> str | None:
    """Why this home must not add a worker (`how`: "`lifecycle up`", "`lifecycle worker`") to the server at
    `api_url`, which serves this ledger for another home: the worker would take that home's runs and do them with
    this home's settings (a fresh home's: no keys, no platform, its own storage). A machine joins with the serving
    installation's configuration (the one the server records: the same LIFECYCLE_HOME path, ledger, platform,
    storage and key files), or not at all; a server that records none cannot be joined safely. None: it may."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from ledger.installation import claim_of
    from lifecycle_config.installation import configuration_differences
    from tasks.runtime import served_record

    try:
        with temporary_settings({PREFECT_API_URL: api_url}):
            served = served_record()
    except Exception:  # noqa: BLE001 - the record cannot be read: no configuration to carry
        served = None
    recorded = (served or {}).get("config")
    held = claim_of() or {}
    serving = held.get("home") or (recorded or {}).get("LIFECYCLE_HOME") or "?"
    where = (f"LIFECYCLE_HOME {config.escaped(serving, 4096)}"
             + (f" on {config.escaped(held['host'])}" if held.get("host") else ""))
    start = f"the Prefect server at {config.escaped(api_url, 4096)} serves this ledger for {where}"
    if not isinstance(recorded, dict) or not recorded:
        return (f"{start}, and records no configuration its workers run with: nothing was done; {how} joins a "
                f"server whose `lifecycle up` or `lifecycle deploy` recorded it (start that home's `up` again), or "
                f"use that home itself")
    differs = configuration_differences(
        {name: value for name, value in recorded.items() if name not in JOINER_OWN_SETTINGS},
        {name: value for name, value in config.snapshot().items() if name not in JOINER_OWN_SETTINGS},
        lambda name: name not in JOINER_OWN_SETTINGS and os.environ.get(name))
    if not differs:
        return None
    return (f"{start}, whose workers run with another configuration than this home's "
            f"({', '.join(differs)}): nothing was done; {how} joins that installation only with its configuration "
            f"(the same LIFECYCLE_HOME path, ledger, platform, storage and key files, on another machine), or use "
            f"that home itself")


def register_installation(snapshot: dict[str, str] | None = None) -> str:
    """Record on this server the installation it serves (this ledger's identity), where that ledger is and
    the configuration its worker runs with (`snapshot`, this process's by default), and tag every deployment
    of the work pool with the identity and the location, so every run the server starts (UI, schedules)
    carries them; returns the id."""
    from prefect import get_client
    from prefect.client.schemas.actions import DeploymentUpdate
    from prefect.client.schemas.filters import WorkPoolFilter, WorkPoolFilterName

    from ledger.installation import installation_id
    from lifecycle_config.installation import (SERVED_VARIABLE, VARIABLE, ledger_location, recorded_config,
                                               with_location, with_tag)

    own, location = installation_id(), ledger_location(config.database_url())
    served = {"installation": own, "ledger": location,
              "config": recorded_config(snapshot if snapshot is not None else config.snapshot())}
    if len(json.dumps(served)) > 4800:  # a Prefect Variable holds 5000 characters: the location matters most
        served["config"] = None
    with get_client(sync_client=True) as client:
        _set_variable(client, VARIABLE, own)
        _set_variable(client, SERVED_VARIABLE, served)
        for deployment in client.read_deployments(work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[WORK_POOL]))):
            tags = with_location(with_tag(deployment.tags, own), location)
            if sorted(tags) != sorted(deployment.tags):
                client.update_deployment(deployment.id, DeploymentUpdate(tags=tags))
    return own


def _set_variable(client, name: str, value) -> None:
    from prefect.client.schemas.actions import VariableCreate, VariableUpdate

    if client.read_variable_by_name(name) is None:
        client.create_variable(VariableCreate(name=name, value=value))
    else:
        client.update_variable(VariableUpdate(name=name, value=value))


#: how the pool's workers start a run: lifecycle.warm_engine (a fork of `up`'s warm engine, else `python -m
#: prefect.engine`), rather than Prefect's default of a supervisor process that then starts the engine (two
#: Pythons importing Prefect per run). `python` is the worker's own: worker_environment puts its directory first
RUN_COMMAND = "python -m lifecycle.warm_engine"


def set_run_command(command: str = RUN_COMMAND) -> None:
    """Make `command` the default command of the work pool's runs (its base job template), once."""
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolUpdate

    with get_client(sync_client=True) as client:
        pool = client.read_work_pool(WORK_POOL)
        template = json.loads(json.dumps(pool.base_job_template))
        variable = template.get("variables", {}).get("properties", {}).get("command")
        if variable is None or variable.get("default") == command:
            return
        variable["default"] = command
        client.update_work_pool(WORK_POOL, WorkPoolUpdate(base_job_template=template))


def worker_environment(env: dict[str, str]) -> dict[str, str]:
    """A worker's environment: this interpreter's directory first on PATH, so the `python` of RUN_COMMAND is
    the one the worker runs with (a virtual environment's, not the system's)."""
    here = os.path.dirname(sys.executable)
    path = env.get("PATH", os.defpath)
    return {**env, "PATH": here if not path else here + os.pathsep + path}


def warm_engine_command(socket_path: str) -> list[str]:
    """The warm engine beside `up`'s workers (lifecycle.warm_engine): Prefect's engine imported once."""
    return [sys.executable, "-m", "lifecycle.warm_engine", "serve", socket_path]


def worker_command(name: str) -> list[str]:
    """A process worker on the pool; its runs send a heartbeat every HEARTBEAT_SECONDS (the environment's
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY), so a lost one is marked crashed after three missed beats."""
    return [sys.executable, "-m", "prefect", "worker", "start", "--pool", WORK_POOL, "--type", "process",
            "--name", name]


#: Prefect's lease storage on disk (under PREFECT_HOME), for the embedded server
LEASE_STORAGE = "prefect.server.concurrency.lease_storage.filesystem"
#: the states of a run whose process should be alive somewhere
LIVE_STATES = ["RUNNING", "PENDING", "CANCELLING"]
#: a worker lost more often than this within a minute cannot start: `up` stops and says so
WORKER_RESTARTS_A_MINUTE = 3
#: how much of a worker's log is searched for the runs it took (the end: the latest runs)
LOG_TAIL = 16 * 1024 * 1024


def _how(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def worker_logs(logs: Path) -> list[tuple[Path, int]]:
    """Every worker log of this home, read from the start (or from LOG_TAIL before its end)."""
    return [(path, 0) for path in sorted(logs.glob("worker*.log"))]


def run_process_alive(flow_run_id: str) -> bool | None:
    """Whether a process of this machine runs the flow run (the worker starts each with its id in the
    environment); None when this machine cannot tell (no /proc)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    marker = f"PREFECT__FLOW_RUN_ID={flow_run_id}".encode()
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "environ").read_bytes():
                return True
        except OSError:
            continue
    return False


def crash_lost_runs(logs: list[tuple[Path, int]]) -> list[str]:
    """Mark crashed every run a worker of this `up` took (its id is in the worker's log from the offset on)
    that is still running, pending or cancelling on the server but whose process is gone from this machine:
    its worker was lost with it. Its concurrency slot is freed with the crash (Prefect releases a
    deployment's slot when a run leaves Running). A run whose process still lives (its worker died, not the
    run) is left to finish. Returns one sentence per run crashed; the server's errors are left to the caller's
    next poll (a lost run is then caught by the heartbeat automation)."""
    from prefect import get_client
    from prefect.client.schemas.filters import (FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType,
                                                WorkPoolFilter, WorkPoolFilterName)
    from prefect.client.schemas.objects import StateType
    from prefect.states import Crashed

    from policy.calendar import PARIS

    texts = []
    for path, offset in logs:
        try:
            with path.open("rb") as log:
                log.seek(max(offset, log.seek(0, 2) - LOG_TAIL))
                texts.append(log.read().decode(errors="replace"))
        except OSError:
            continue
    taken = "\n".join(texts)
    if not taken:
        return []
    said = []
    try:
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(
                    any_=[StateType(kind) for kind in LIVE_STATES]))),
                work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[WORK_POOL])), limit=200)
            for run in runs:
                if str(run.id) not in taken or run_process_alive(str(run.id)) is not False:
                    continue
                since = run.state.timestamp.astimezone(PARIS).strftime("%Y-%m-%d %H:%M") if run.state else "?"
                client.set_flow_run_state(run.id, Crashed(message=LOST_RUN_MESSAGE), force=True)
                said.append(f"run {run.name} ({run.state_name} since {since}) marked crashed: its process is gone")
    except Exception as error:  # noqa: BLE001 - the server busy or gone: the heartbeat automation catches it later
        said.append(f"note: could not check the runs of the lost worker ({type(error).__name__}: {error}); "
                    f"a lost run is marked crashed once its heartbeats stop")
    return said


#: the crashed state's message of a run whose worker `up` saw die (as the run's page shows it)
LOST_RUN_MESSAGE = "its process is gone: the worker running it was lost"


#: how long `up` waits for the scheduler to create the upcoming runs of every scheduled deployment
SCHEDULER_TIMEOUT = 120.0


def taken_port(host: str, ports: list[tuple[int, str]]) -> str | None:
    """Why `lifecycle up` cannot listen on one of `ports` (each with what needs it), in one line; None: all
    free. Checked before anything starts, as the servers themselves would bind (SO_REUSEADDR: a port left
    in TIME_WAIT by a previous run is free)."""
    for port, what in ports:
        if not 0 < port <= 65535:
            return f"port {port} ({what}) is no TCP port: give a --port from 1 to 65533 (up uses N, N+1 and N+2)"
        try:
            family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((host, port))
        except OSError as error:
            reason = "is in use" if error.errno == errno.EADDRINUSE else f"cannot be used ({error.strerror or error})"
            return (f"port {port} on {host} {reason}, and {what} needs it: stop what listens there, or choose "
                    f"another --port (up uses N, N+1 and N+2)")
    return None


class HomeInUse(RuntimeError):
    """Another `lifecycle up` runs for this home: a second one would run a second server on the same Prefect
    database, a second scheduler and worker, and on its exit take the first one's server.json away."""


def up_lock() -> Path:
    """The file a running `lifecycle up` holds locked for its whole life, naming its process and UI."""
    return config.home() / "up.lock"


def refuse_a_home_in_use() -> None:
    """Raise HomeInUse when a `lifecycle up` holds this home: checked before `up` touches anything (its
    ledger, its demo data); `up` itself then holds the lock (hold_home). A home no `up` ever held has no lock
    file, and a look makes none (a refused `up` leaves its home as it found it)."""
    if not up_lock().exists():
        return
    hold_home(None).close()


def not_yet_made() -> list[Path]:
    """What `up` or `worker` may make before it is refused that is not there yet: the home's logs, Prefect's
    folder (importing Prefect makes it), the home itself. A refused command removes them again (leave_as_found):
    it leaves the home as it found it."""
    home = config.home()
    made_by_prefect = Path(os.environ.get("PREFECT_HOME") or config.prefect_home())
    return [path for path in (home / "logs", made_by_prefect, home) if not os.path.lexists(path)]


def leave_as_found(made: list[Path]) -> None:
    """Remove the folders of `made` (not_yet_made) that are still empty: one written in since is kept."""
    for path in made:
        try:
            path.rmdir()
        except OSError:
            pass


def hold_home(ui: str | None):
    """Lock this home for one `lifecycle up` (an flock the kernel frees when the process ends, however it
    ends), or raise HomeInUse naming the `up` that holds it. Returns the open file: the lock lasts while it
    is open."""
    path = up_lock()
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    handle.previous = {}  # what the `up` before this one recorded (read once the lock is this one's)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        try:
            holder = json.loads(handle.read() or "{}")
        except ValueError:
            holder = {}
        handle.close()
        raise HomeInUse(f"this LIFECYCLE_HOME ({config.home()}) is in use by `lifecycle up` (process "
                        f"{holder.get('pid', '?')}, its UI at {holder.get('ui', '?')}): stop it first (Ctrl-C in its "
                        f"terminal), or give this one another LIFECYCLE_HOME") from None
    if ui is not None:  # None: only a look
        handle.seek(0)
        try:
            previous = json.loads(handle.read() or "{}")
        except ValueError:
            previous = {}
        handle.previous = previous if isinstance(previous, dict) else {}
        record_up(handle, ui)
    return handle


def record_up(held, ui: str, children: list[dict] | None = None, engine_dir: str | None = None) -> None:
    """Write in the held lock file this `up`'s process and UI, and what it started (each child's process and command
    line, the warm engine's folder): the next `up` of this home stops what a killed one left (_left_behind)."""
    held.seek(0)
    held.truncate()
    held.write(json.dumps({"pid": os.getpid(), "ui": ui, "children": children or [], "engine_dir": engine_dir}))
    held.flush()


def _left_behind(previous: dict, echo) -> None:
    """Stop what the previous `up` of this home recorded and left running, and remove its warm engine's folder.
    Since its children hold a lifeline (lifecycle.deathwatch) they end with it; an `up` of an earlier release could
    leave them, and a child frozen (SIGSTOP) when `up` died ends only once it runs again. They are this home's own
    (recorded in its lock file, which only its `up` writes, and the same command line still), so they are stopped
    without asking: the user who starts `up` wants this home served, and those processes hold its port and take its
    runs with nobody watching them; a second flag to type would only delay the same decision."""
    from lifecycle.deathwatch import orphans, stop_orphans

    left = orphans(previous.get("children") or [])
    if left:
        echo(f"stopping what the previous `lifecycle up` of this home (process {previous.get('pid', '?')}) left "
             f"running when it was killed: process{'es' if len(left) > 1 else ''} {', '.join(map(str, left))}")
        stop_orphans(left)
    engine_dir = previous.get("engine_dir")
    if isinstance(engine_dir, str) and os.path.basename(engine_dir).startswith(ENGINE_DIR_PREFIX) \
            and os.path.dirname(os.path.abspath(engine_dir)) == os.path.abspath(tempfile.gettempdir()):
        shutil.rmtree(engine_dir, ignore_errors=True)


#: the warm engine's private folder under the temporary directory (lifecycle.warm_engine removes it as it ends)
ENGINE_DIR_PREFIX = "lifecycle-engine-"


def up(*, host: str, port: int, echo, workers: int = 1) -> int:
    """Run the embedded default until Ctrl-C; returns the exit code. One `up` a home (hold_home)."""
    from lifecycle.logwatch import LogWatcher

    from ledger.installation import LedgerHeld, claim, give_back

    config.prepare_prefect_environment()
    own_server = not os.environ.get("PREFECT_API_URL")
    # the server listens on `host`; every link to it (the UI's, alerts', server.json's for this home's commands)
    # names an address a browser or a client can reach: never 0.0.0.0 (link_host)
    api_url = os.environ.get("PREFECT_API_URL") or f"http://{link_host(host)}:{port}/api"
    ui = api_url[:-4] if api_url.endswith("/api") else api_url
    if not own_server:  # one more machine of the installation that server serves: its configuration, or none;
        refused = joining_refused(api_url, how="`lifecycle up`")  # asked before this home's lock, logs or claim
        if refused:
            raise LedgerHeld(refused)
    logs = config.home() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["LIFECYCLE_HOME"] = str(config.home())
    children: list[subprocess.Popen] = []
    watcher = warm_engine = engine_dir = None
    held = hold_home(ui)  # before anything starts or is written
    _left_behind(held.previous, echo)
    # every process started here ends when this one ends, however it ends (lifecycle.deathwatch)
    lifeline = Lifeline()
    started: list[tuple[subprocess.Popen, dict]] = []

    def note(child: subprocess.Popen) -> None:  # recorded for the next `up` as each starts (a lost worker's gone)
        started[:] = [(process, entry) for process, entry in started if process.poll() is None]
        started.append((child, record(child.pid)))
        record_up(held, ui, [entry for _, entry in started], engine_dir)

    def stop(*_):
        raise KeyboardInterrupt

    # explicit handlers: a process started in the background inherits an ignored SIGINT
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    claimed = serving = failed = False
    previous = None
    try:
        if own_server:
            if answers(api_url):
                raise RuntimeError(f"something already answers at {api_url}: is `lifecycle up` running already? "
                                   f"(or use --port)")
        taken = taken_port(host, [*([(port, "the Prefect server and UI")] if own_server else []),
                                  (port + 1, "the workbook downloads"), (port + 2, "the helpdesk webhook")])
        if taken:
            raise RuntimeError(taken)
        # this home serves the ledger from now on: another home's `up`, runs and commands refuse it (LedgerHeld
        # here when another home's `up` took it a moment ago). Taken once the checks above passed, and given
        # back below if this `up` fails before it is ready (an error, not Ctrl-C): a failed `up` must not lock
        # the serving home out
        # the claim records where the server listens (0.0.0.0: under any name of this machine), not a link
        previous = claim(how="up", api_url=f"http://{_in_url(host)}:{port}/api" if own_server else api_url,
                         pid=os.getpid(), joins_server=not own_server, actor="lifecycle up")
        claimed = True
        if own_server:
            listening = f", listening on every address ({host})" if host.strip() in WILDCARD else ""
            echo(f"starting the Prefect server at {ui} (data in {config.prefect_home()}{listening})")
            server_log_path = logs / "server.log"
            server_log = server_log_path.open("ab")
            # errors the server logs from now on are shown here too, not only in server.log
            watcher = LogWatcher(server_log_path, server_log.tell(), echo)
            watcher.start()
            children.append(subprocess.Popen(
                lifeline.command("lifecycle.prefect_server", "server", "start", "--host", host, "--port", str(port)),
                # the UI must call this server's API (Prefect would point it at port 4200 whatever --port
                # says), and alert links must lead to this UI
                **lifeline.popen({**env, "PREFECT_UI_URL": ui, "PREFECT_SERVER_UI_API_URL": api_url,
                     # the leases of concurrency slots outlive a restart of the server, so a slot held by a
                     # run lost meanwhile is still freed when its lease runs out (Prefect keeps them in
                     # memory by default: lost at a restart, the slot stayed taken for good)
                     "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": env.get(
                         "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE", LEASE_STORAGE)}),
                stdout=server_log,
                stderr=subprocess.STDOUT,
            ))
            note(children[-1])
            _wait_until_up(api_url, children[-1], timeout=float(config.PREFECT_STARTUP_TIMEOUT),
                           prefect_home=env.get("PREFECT_HOME") or str(config.prefect_home()))
        env["PREFECT_API_URL"] = api_url
        os.environ["PREFECT_API_URL"] = api_url
        if own_server:
            downloads = apply(env, echo, serve_downloads=(host, port + 1))
            if downloads:
                env["LIFECYCLE_DOWNLOAD_URL"] = downloads
            _serve_helpdesk(host, port + 2, echo)
            # what the workers run with: their links lead to the downloads served here
            recorded = {**config.snapshot(), "LIFECYCLE_DOWNLOAD_URL": env.get("LIFECYCLE_DOWNLOAD_URL", "")}
            installation = register_installation(recorded)  # the server records it too: a copied home has no server.json
        else:
            # a machine joining the server of the home that serves this ledger: that home's blocks, deployments and
            # records are its own, never rewritten from here (they named this home, and that home's own commands
            # then took their settings for changed); the workers here run with its configuration (checked above),
            # their links leading to the downloads it serves
            from ledger.installation import installation_id
            from tasks.runtime import served_record

            recorded = (served_record() or {}).get("config") or {}
            downloads = recorded.get("LIFECYCLE_DOWNLOAD_URL") or None
            if downloads:
                env["LIFECYCLE_DOWNLOAD_URL"] = downloads
            installation = installation_id()
            echo(f"joining the server at {api_url} as one more machine of installation {installation} (its "
                 f"deployments, blocks and records left as they are)")
        config.server_file().write_text(json.dumps({"api_url": api_url, "pid": os.getpid(), "downloads": downloads,
                                                    "config": recorded, "installation": installation}))

        # runs a worker of an earlier `up` left running or pending, whose process is gone (the machine
        # rebooted, `up` was killed with its workers): crashed now rather than after the heartbeat window
        for line in crash_lost_runs(worker_logs(logs)):
            echo(line)
        echo(f"starting {'a worker' if workers == 1 else f'{workers} workers'} on the work pool {WORK_POOL}")
        workers_by_name: dict[str, subprocess.Popen] = {}
        log_offsets: dict[str, int] = {}
        # the runs' head start (lifecycle.warm_engine): a socket of a private directory (a home's path may
        # be too long for a Unix socket's name)
        engine_dir = tempfile.mkdtemp(prefix=ENGINE_DIR_PREFIX)
        engine_socket = os.path.join(engine_dir, SOCKET_NAME)
        with (logs / "warm-engine.log").open("ab") as engine_log:
            warm_engine = subprocess.Popen(lifeline.command(*warm_engine_command(engine_socket)[2:]),
                                           **lifeline.popen({**serve_environment(env),
                                                            RUN_LIFELINE_VARIABLE: str(lifeline.read_fd)}),
                                           cwd=PROJECT_ROOT,
                                           stdout=engine_log, stderr=subprocess.STDOUT)
        note(warm_engine)
        # not among `children`: if it is lost, runs start the cold way (`python -m prefect.engine`), up stays
        env = worker_environment({**env, SOCKET_VARIABLE: engine_socket})
        if own_server:  # a worker stops if another server ever answers at this address (lifecycle.deathwatch)
            env[SERVER_HOME_VARIABLE] = env.get("PREFECT_HOME") or str(config.prefect_home())

        def start_worker(number: int) -> None:  # several: the nightly backup's shards spread over them
            path = logs / ("worker.log" if number == 1 else f"worker-{number}.log")
            name = f"lifecycle-{socket.gethostname()}-{number}"
            with path.open("ab") as worker_log:
                log_offsets[name] = worker_log.tell()
                workers_by_name[name] = subprocess.Popen(lifeline.command(*worker_command(name)[2:]),
                                                         **lifeline.popen(env), cwd=PROJECT_ROOT,
                                                         stdout=worker_log, stderr=subprocess.STDOUT)
            children.append(workers_by_name[name])
            note(workers_by_name[name])

        for number in range(1, workers + 1):
            start_worker(number)

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
        serving = True
        losses: dict[str, list[float]] = {}
        while True:
            for number, (name, worker) in enumerate(list(workers_by_name.items()), start=1):
                if worker.poll() is None:
                    continue
                # a lost worker is started again; the server, the scheduler and the webhook stay up
                children.remove(worker)
                path = logs / ("worker.log" if number == 1 else f"worker-{number}.log")
                losses[name] = [when for when in losses.get(name, []) if when > time.monotonic() - 60]
                losses[name].append(time.monotonic())
                if len(losses[name]) > WORKER_RESTARTS_A_MINUTE:  # it cannot start: restarting it would only spin
                    raise RuntimeError(f"the worker {name} keeps exiting ({_how(worker.returncode)}, "
                                       f"{len(losses[name])} times in a minute); see {path}")
                crashed = crash_lost_runs([(path, log_offsets[name])])
                start_worker(number)
                echo(f"worker {name} lost ({_how(worker.returncode)}): restarted"
                     + (f"; {'; '.join(crashed)}" if crashed else ""))
            for child in children:
                if child.poll() is not None:
                    raise RuntimeError(f"{' '.join(child.args[3:6])} exited with code {child.returncode}; see {logs}")
            time.sleep(1)
    except KeyboardInterrupt:
        echo("stopping the worker and the server")
        return 0
    except BaseException:
        failed = True
        raise
    finally:
        # the worker first, so it never polls a server that is already gone
        for child in reversed(children):
            _stop(child)
        if failed and claimed and not serving:  # stopped by the user (Ctrl-C) is not failed: it served meanwhile
            try:
                give_back(previous, pid=os.getpid(), actor="lifecycle up")
            except Exception as error:  # noqa: BLE001 - the failure that ended `up` is the one to tell
                echo(f"the ledger's claim could not be given back ({type(error).__name__}); `lifecycle db adopt` "
                     f"in the home that serves it takes it again")
        if warm_engine is not None:  # its runs in flight have sessions of their own: they go on
            _stop(warm_engine, grace=5)
            shutil.rmtree(engine_dir, ignore_errors=True)
        if watcher is not None:
            watcher.stop()
        lifeline.close()
        try:
            if (config.server_record() or {}).get("pid") == os.getpid():
                config.server_file().unlink()
        except OSError:
            pass
        held.close()
