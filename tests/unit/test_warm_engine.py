"""The warm engine hands a run's process over without changing what the worker sees: the run's own streams,
its exit status, and `python -m prefect.engine` itself when there is no warm engine. Driven here with a flow run
id Prefect's engine refuses before it needs any server (it says so on stderr and exits 1)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from lifecycle.warm_engine import SOCKET_NAME, serve_environment
from tests.support.warm_engines import Preloader

ROOT = Path(__file__).resolve().parents[2]
ENGINE_REFUSAL = "Invalid flow run id"


def _environment(**extra: str) -> dict:
    env = {key: value for key, value in os.environ.items() if key != "PREFECT__FLOW_RUN_ID"}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def _command(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lifecycle.warm_engine", "not-a-uuid"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


@contextlib.contextmanager
def _socket_folder():
    folder = tempfile.mkdtemp(prefix="lifecycle-engine-test-")
    try:
        yield os.path.join(folder, SOCKET_NAME)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _stopped_at_the_end(server, first_line):
    """The engine `server` once `first_line()` says it listens; stopped at the end if the test did not stop it."""
    try:
        assert "warm engine ready" in first_line()
        yield
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=60)


@pytest.fixture(scope="module")
def preloader():
    """Forks each test's warm engine with Prefect's engine already imported (tests/support/warm_engines.py)."""
    preloading = Preloader(serve_environment(_environment()), ROOT)
    yield preloading
    preloading.close()


@contextlib.contextmanager
def _serving(preloader: Preloader, **extra: str):
    """A warm engine of its own, with `extra` in its environment: its socket's path and its process."""
    with _socket_folder() as path:
        server = preloader.engine(path, **extra)
        with _stopped_at_the_end(server, server.readline):
            yield path, server


@pytest.fixture()
def warm_engine(preloader):
    with _serving(preloader) as serving:
        yield serving


@pytest.fixture()
def started_warm_engine():
    """A warm engine started as `lifecycle up` starts it: `python -m lifecycle.warm_engine serve PATH`."""
    with _socket_folder() as path:
        server = subprocess.Popen([sys.executable, "-m", "lifecycle.warm_engine", "serve", path],
                                  env=serve_environment(_environment()),
                                  cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        with _stopped_at_the_end(server, server.stdout.readline):
            yield path, server


def test_without_a_warm_engine_the_command_is_prefects_engine_itself():
    # the socket named is gone (the warm engine stopped, or a worker of another machine): the same run, cold
    done = _command(_environment(LIFECYCLE_WARM_ENGINE="/nonexistent/lifecycle-engine.sock"))
    assert done.returncode == 1
    assert ENGINE_REFUSAL in done.stderr


def test_a_warm_engine_of_another_protocol_version_is_not_spoken_to(tmp_path):
    """An engine left running from before an upgrade answers in the old way (the pid at once, no 'starting'):
    a connection it closed would be ambiguous, so the command never connects to a socket of another version's
    name and runs cold (the old engine's socket was `engine.sock`)."""
    old = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old.bind(str(tmp_path / "engine.sock"))
    old.listen(8)
    old.setblocking(False)
    done = _command(_environment(LIFECYCLE_WARM_ENGINE=str(tmp_path / "engine.sock")))
    assert done.returncode == 1 and ENGINE_REFUSAL in done.stderr  # Prefect's engine ran, in the command itself
    with pytest.raises(BlockingIOError):  # and nothing ever knocked at the old engine's door
        old.accept()
    old.close()


def test_the_forked_run_writes_to_the_commands_own_streams_and_its_status_is_the_commands(started_warm_engine):
    path, server = started_warm_engine
    done = _command(_environment(LIFECYCLE_WARM_ENGINE=path))
    assert done.returncode == 1
    assert ENGINE_REFUSAL in done.stderr  # written by the child on the stderr the command handed over
    again = _command(_environment(LIFECYCLE_WARM_ENGINE=path))  # the warm engine serves the next one too
    assert again.returncode == 1 and ENGINE_REFUSAL in again.stderr
    server.terminate()
    assert server.wait(timeout=60) == 0
    assert not os.path.exists(path)  # stopped, it leaves no socket for a command to find


def test_a_forked_run_shows_its_flow_run_id_in_its_proc_environ_as_a_started_process_would():
    # whoever finds a run's processes by PREFECT__FLOW_RUN_ID (up after a lost worker, ops) finds a forked one too
    code = ("from lifecycle.warm_engine import _show_environment; "
            "_show_environment({'PATH': '/bin', 'PREFECT__FLOW_RUN_ID': 'f1e2d3'}); "
            "import sys; sys.stdout.buffer.write(open('/proc/self/environ', 'rb').read())")
    shown = subprocess.run([sys.executable, "-c", code], env=serve_environment(_environment()), cwd=ROOT,
                           capture_output=True, timeout=120).stdout
    entries = [entry for entry in shown.split(b"\0") if entry]
    assert b"PREFECT__FLOW_RUN_ID=f1e2d3" in entries and b"PATH=/bin" in entries
    assert b"." * 100 not in shown  # the room is overwritten, not shown beside


def _client(path: str) -> "socket.socket":
    import socket

    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(path)
    return client


def _frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


@pytest.mark.parametrize("request_bytes", [
    pytest.param(_frame(b"notjs"), id="not JSON"),
    pytest.param(_frame(b"\xff\xfe"), id="not UTF-8"),
    pytest.param(_frame(b"[]"), id="a list, not a request"),
    pytest.param(_frame(b'{"argv": [1], "cwd": "/", "env": {"A": "b"}}'), id="argv of numbers"),
    pytest.param(_frame(b'{"argv": [], "cwd": "/", "env": {"A=B": "c"}}'), id="a variable named with ="),
    pytest.param(b"\xff\xff\xff\xff" + b"x" * 64, id="announces 4 GB"),
    pytest.param(b"\x00\x00", id="half a header, then gone"),
    pytest.param(_frame(b"[" * 200000), id="nested too deep for the JSON parser (RecursionError)"),
])
def test_a_hostile_or_broken_client_never_stops_the_warm_engine_nor_the_runs_after_it(warm_engine, request_bytes):
    # whoever can reach the socket (the home's user: its folder is private) may send anything: the warm engine
    # drops it and serves the next command, instead of dying on it (runs cold from then on) or forking on it
    path, server = warm_engine
    client = _client(path)
    client.sendall(request_bytes)
    client.close()
    done = _command(_environment(LIFECYCLE_WARM_ENGINE=path))
    assert done.returncode == 1 and ENGINE_REFUSAL in done.stderr
    assert server.poll() is None and os.path.exists(path)


def test_a_client_that_connects_and_says_nothing_holds_the_runs_behind_it_only_seconds(warm_engine):
    # the warm engine reads one request at a time: a silent client (a stray `nc -U`, a stopped process) held
    # every run of the installation for as long as it stayed connected
    import time

    from lifecycle.warm_engine import REQUEST_TIMEOUT

    path, server = warm_engine
    silent = _client(path)
    try:
        started = time.monotonic()
        done = _command(_environment(LIFECYCLE_WARM_ENGINE=path))
        assert done.returncode == 1 and ENGINE_REFUSAL in done.stderr
        assert time.monotonic() - started < REQUEST_TIMEOUT + 60
    finally:
        silent.close()
    assert server.poll() is None


def _trickle(client, every: float, limit: float) -> float | None:
    """Send a request's header then one byte every `every` seconds, as a slow client would, until the warm
    engine closes the connection (the seconds it took, from the first byte) or `limit` seconds pass (None)."""
    import socket
    import time

    first = time.monotonic()
    client.sendall((1000).to_bytes(4, "big"))  # announces a request of 1000 bytes, well under the limit
    while time.monotonic() - first < limit:
        time.sleep(every)
        try:
            client.sendall(b" ")
            client.setblocking(False)
            try:
                if client.recv(1) == b"":
                    return time.monotonic() - first
            except BlockingIOError:
                pass
            finally:
                client.setblocking(True)
        except (BrokenPipeError, ConnectionResetError, socket.error):
            return time.monotonic() - first
    return None


#: the request's deadline the trickling client meets (LIFECYCLE_WARM_ENGINE_REQUEST_DEADLINE), instead of the warm
#: engine's 3 s, which it waited out in full: a byte every 0.25 s is still a trickle well past it, and the command
#: still connects 1.5 s before it
TRICKLE_DEADLINE = 2.0


def test_a_client_trickling_its_request_delays_no_run_and_is_cut_at_the_requests_deadline(preloader):
    # a byte every second (every 9 s in the review) kept each recv within its time-out: the warm engine read that
    # one request for as long as the client went on, and every run start of the installation waited behind it
    import threading
    import time

    from lifecycle.warm_engine import REQUEST_DEADLINE_VARIABLE

    with _serving(preloader, **{REQUEST_DEADLINE_VARIABLE: f"{TRICKLE_DEADLINE:g}"}) as (path, server):
        trickler = _client(path)
        cut_after: list = []
        thread = threading.Thread(target=lambda: cut_after.append(_trickle(trickler, every=0.25, limit=90.0)))
        thread.start()
        try:
            time.sleep(0.5)  # the trickle is under way when the command connects
            started = time.monotonic()
            done = _command(_environment(LIFECYCLE_WARM_ENGINE=path))
            took = time.monotonic() - started
            assert done.returncode == 1 and ENGINE_REFUSAL in done.stderr
            thread.join(timeout=120)
            assert cut_after and cut_after[0] is not None, "the trickling client was never cut"
            assert cut_after[0] < TRICKLE_DEADLINE + 5
            # the command's run started without waiting for the trickling request: before, it waited the 90 s
            assert took < 45, f"the run start waited {took:.0f} s behind a slow client"
        finally:
            trickler.close()
            thread.join(timeout=120)
        assert server.poll() is None


def test_a_flood_of_silent_connections_holds_no_run_start(warm_engine):
    # whoever can open connections opens many: past the waiting connections' limit the oldest give way, so the
    # command's own connection, whose request comes with its connect, is always read
    import time

    from lifecycle.warm_engine import PENDING_LIMIT

    path, server = warm_engine
    flood = [_client(path) for _ in range(PENDING_LIMIT * 3)]
    try:
        started = time.monotonic()
        done = _command(_environment(LIFECYCLE_WARM_ENGINE=path))
        assert done.returncode == 1 and ENGINE_REFUSAL in done.stderr
        assert time.monotonic() - started < 45
    finally:
        for client in flood:
            client.close()
    assert server.poll() is None


def _connected(pid: int) -> bool:
    """Whether process `pid` holds a connected Unix socket (/proc/net/unix's state 03), as a command does once
    its connect is in the warm engine's backlog."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 7 and fields[6] in inodes and fields[5] == "03":
            return True
    return False


def test_a_command_whose_connection_gives_way_to_a_flood_runs_cold_instead_of_failing(warm_engine):
    # past PENDING_LIMIT waiting connections the oldest is closed: when that was a command still sending its
    # request (a large environment), it exited 1 ("did not say whether it started the run") and the worker saw a
    # crashed run. Nothing was started for it, so it is the same run, cold, as without a warm engine
    import signal
    import time

    from lifecycle.warm_engine import PENDING_LIMIT

    path, server = warm_engine
    # an environment of about a megabyte: its request is still arriving when the flood behind it is accepted
    ballast = {f"LIFECYCLE_TEST_BALLAST_{n}": "x" * 120_000 for n in range(8)}
    flood = []
    server.send_signal(signal.SIGSTOP)  # the command's connection first in the backlog, the flood behind it
    try:
        command = subprocess.Popen([sys.executable, "-m", "lifecycle.warm_engine", "not-a-uuid"],
                                   env=_environment(LIFECYCLE_WARM_ENGINE=path, **ballast), cwd=ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while not _connected(command.pid):
            assert command.poll() is None, command.communicate()
            time.sleep(0.05)
        flood = [_client(path) for _ in range(PENDING_LIMIT + 1)]
    finally:
        server.send_signal(signal.SIGCONT)
    try:
        out, err = command.communicate(timeout=300)
    finally:
        for client in flood:
            client.close()
    assert command.returncode == 1 and ENGINE_REFUSAL in err, err  # Prefect's engine ran it: cold
    assert "did not say" not in err
    assert server.poll() is None


def test_a_command_whose_warm_engine_dies_before_reading_its_request_runs_cold(warm_engine):
    # the connection cut before the warm engine said it was starting the run: nothing was started, the same run cold
    import signal
    import time

    path, server = warm_engine
    server.send_signal(signal.SIGSTOP)  # the command's request waits unread
    try:
        command = subprocess.Popen([sys.executable, "-m", "lifecycle.warm_engine", "not-a-uuid"],
                                   env=_environment(LIFECYCLE_WARM_ENGINE=path), cwd=ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while not _connected(command.pid):
            assert command.poll() is None, command.communicate()
            time.sleep(0.05)
    finally:
        server.kill()
        server.wait(timeout=60)
    out, err = command.communicate(timeout=300)
    assert command.returncode == 1 and ENGINE_REFUSAL in err, err
    assert "did not say" not in err


@contextlib.contextmanager
def _up_like_warm_engine():
    """A warm engine started as `lifecycle up` starts it: through lifecycle.deathwatch, holding the read end of a
    lifeline whose write end this test holds (as `up` does): closing it is `up` killed outright. Yields the socket's
    path, the engine's process, the write end, and the address of a Prefect API that accepts and never answers (a
    run forked to it waits there, in flight)."""
    from lifecycle.warm_engine import RUN_LIFELINE_VARIABLE

    read_end, write_end = os.pipe()
    silent = socket.create_server(("127.0.0.1", 0))
    with _socket_folder() as path:
        env = {**serve_environment(_environment()), "LIFECYCLE_LIFELINE": str(read_end),
               RUN_LIFELINE_VARIABLE: str(read_end)}
        server = subprocess.Popen([sys.executable, "-m", "lifecycle.deathwatch", "lifecycle.warm_engine", "serve", path],
                                  env=env, pass_fds=(read_end,), start_new_session=True, cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        os.close(read_end)
        try:
            with _stopped_at_the_end(server, server.stdout.readline):
                yield path, server, write_end, f"http://127.0.0.1:{silent.getsockname()[1]}/api"
        finally:
            try:
                os.close(write_end)
            except OSError:
                pass
            silent.close()


def _run_in_flight(path: str, server, api: str) -> tuple[subprocess.Popen, int]:
    """A command whose forked run waits on the silent API: the command and the run's pid."""
    import time
    import uuid

    from tests.support.up import descendants

    command = subprocess.Popen([sys.executable, "-m", "lifecycle.warm_engine", str(uuid.uuid4())], cwd=ROOT,
                               env=_environment(LIFECYCLE_WARM_ENGINE=path, PREFECT_API_URL=api,
                                                PREFECT_API_REQUEST_TIMEOUT="600"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(600):
        runs = descendants(server.pid)  # the warm engine's only child: the run it forked for the command
        if runs:
            return command, runs[0]
        assert command.poll() is None, command.communicate()
        time.sleep(0.1)
    raise AssertionError("no run was forked")


def test_a_forked_run_killed_outright_is_reported_as_killed_by_sigkill_as_a_plain_engine_would_be():
    """probe19a D8: the worker said "exited with status code: 1 ... general error" for a forked run SIGKILLed (the
    command's attempt to reset SIGKILL's handler raised); a plain `python -m prefect.engine` is reported killed by
    SIGKILL (status -9): so is the command now."""
    with _up_like_warm_engine() as (path, server, _write_end, api):
        command, run = _run_in_flight(path, server, api)
        os.kill(run, 9)
        _, stderr = command.communicate(timeout=120)
        assert command.returncode == -9, stderr


def test_a_run_forked_by_the_warm_engine_ends_with_up_killed_outright():
    """probe19a D8: `up` SIGKILLed mid-run: the run's process (a session of its own) ran on as an orphan nobody
    tracked, and finished under the next `up`'s server. It watches `up`'s lifeline now: `up` gone, it ends (and the
    next `up` marks the run crashed, its process gone); its command ends too."""
    from lifecycle.deathwatch import _alive

    with _up_like_warm_engine() as (path, server, write_end, api):
        command, run = _run_in_flight(path, server, api)
        os.close(write_end)  # `up` killed outright: the kernel closes its end
        command.communicate(timeout=120)
        for _ in range(600):
            if not _alive(run):
                break
            import time
            time.sleep(0.1)
        assert not _alive(run)
        assert server.wait(timeout=60) is not None  # the warm engine went with `up` too
