"""The flow-run process of a deployment run, started warm: `lifecycle up`'s runs skip Prefect's import.

Prefect's process worker starts every run as a new `python -m prefect.engine` (by default behind a
supervisor process that prepares the workspace, itself a second Python importing Prefect): on a 2-core
machine that is seconds of imports before the flow's first line, each run. `lifecycle up` sets the work
pool's command to this module and starts, beside its worker, a *warm engine*: one process that has
imported Prefect's engine and nothing of ours, and listens on a Unix socket of the home.

`python -m lifecycle.warm_engine [flow-run-id]` (the pool's command, run by the worker as it would run
`python -m prefect.engine`) hands its standard streams, environment and working directory to the warm
engine, which forks; the child takes them and runs `prefect.engine` as `python -m prefect.engine` would,
importing the flow's code fresh from the deployment's working directory (our modules are never imported
by the warm engine itself, so an edit of a flow is seen by the next run). This command stays as the
worker's process for the run: it passes the worker's signals on to the child (a cancellation is a
SIGTERM), and exits with the child's status. If it is killed outright (SIGKILL), the warm engine sees
its connection close and kills the child too, so a run never outlives the process its worker tracks.
Without a warm engine (`LIFECYCLE_WARM_ENGINE` unset, the socket gone, a worker of another machine) it
becomes `python -m prefect.engine` itself (exec): the same run, without the head start. So it does when the
warm engine closes its connection before saying it is starting the run (a flood's eviction, a late request,
the warm engine stopped): nothing was started for it.

How long the warm engine waits for a connection's request (REQUEST_TIMEOUT before its first byte,
REQUEST_DEADLINE from its first byte to its last) can be set, in seconds, by LIFECYCLE_WARM_ENGINE_REQUEST_TIMEOUT
and LIFECYCLE_WARM_ENGINE_REQUEST_DEADLINE in its own environment: the tests of a slow client make them short
instead of waiting them out; `lifecycle up` sets neither.

Kept to the standard library on the command's side: it is the part every run pays for.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import struct
import sys
import time

#: where the worker's environment names the warm engine's socket
SOCKET_VARIABLE = "LIFECYCLE_WARM_ENGINE"
#: the socket's file name carries the protocol's version: a command speaks only to a warm engine of its own
#: version, so "closed before 'starting'" always means nothing started (an engine left running from before an
#: upgrade, which answered with the pid at once, is not spoken to: the command runs cold)
SOCKET_NAME = "engine-2.sock"
#: what the warm engine imports once, ahead of every run: Prefect's engine and what every flow run loads, then
#: the third-party libraries our flows' modules import (the invoice documents' Factur-X, PDF and XML, the
#: calendar's holidays, the workbook's writer): libraries only, never a module of ours, which each run imports
#: fresh from its deployment's working directory
PRELOAD = ("prefect.engine", "prefect.flow_engine", "prefect.flows", "prefect.tasks", "prefect.task_engine",
           "prefect.artifacts", "prefect.deployments.steps", "prefect.results", "prefect.logging.handlers",
           "prefect.client.orchestration", "sqlalchemy", "sqlalchemy.orm", "pydantic.v1", "facturx", "pypdf",
           "lxml.etree", "reportlab.pdfgen.canvas", "reportlab.platypus", "holidays", "requests", "babel.numbers",
           "babel.dates", "xlsxwriter", "cryptography.hazmat.primitives.ciphers.aead")
_HEADER = struct.Struct("!I")
#: room, in the warm engine's own environment block, for each forked run's environment: what a process's
#: /proc/PID/environ shows is that block as the process started, never os.environ, so a run forked from here
#: writes its own variables there (as setproctitle writes a title over argv). Whoever looks for the processes
#: of a flow run by its PREFECT__FLOW_RUN_ID (`lifecycle up` after a lost worker, an operator, the tests)
#: finds the run's own process as well as this command
ENVIRON_ROOM_VARIABLE = "LIFECYCLE_WARM_ENGINE_ENVIRON"
ENVIRON_ROOM = 32 * 1024
#: how long a connection may stay silent before its request's first byte: long enough that a command slowed down
#: on a loaded machine between its connect and its request is still served. Each connection is read apart, as
#: its bytes come, so a silent or slow client holds only its own connection, never another command's run
REQUEST_TIMEOUT = 10.0
#: how long a request may take from its first byte to its last, whatever its pace: a command sends its request
#: at once (kilobytes), while a client trickling a byte every few seconds would otherwise stay for hours
REQUEST_DEADLINE = 3.0
#: the variables of the warm engine's environment that set those two waits (seconds; anything else: the default)
REQUEST_TIMEOUT_VARIABLE = "LIFECYCLE_WARM_ENGINE_REQUEST_TIMEOUT"
REQUEST_DEADLINE_VARIABLE = "LIFECYCLE_WARM_ENGINE_REQUEST_DEADLINE"
#: the warm engine's environment names here the read end of `lifecycle up`'s lifeline (lifecycle.deathwatch), which
#: each run it forks watches too: a run's process has a session of its own (a Ctrl-C or a stop of the warm engine
#: leaves it running, tracked by its worker's command), so `up` killed outright (SIGKILL, the out-of-memory killer)
#: left the runs in flight running as orphans nobody tracked; they now end with `up` as everything it started does
RUN_LIFELINE_VARIABLE = "LIFECYCLE_WARM_ENGINE_LIFELINE"
#: how many connections may wait for their requests at once: past it, the one waiting longest is closed, so a
#: flood of idle connections costs descriptors only up to this, and a command's connection (its request sent
#: with its connect) is read before it could be the oldest
PENDING_LIMIT = 64
#: how many connections are accepted per turn of the loop before the waiting ones are read again
ACCEPT_BATCH = 16
#: the largest request the warm engine reads (argv, working directory and environment of a run take kilobytes)
REQUEST_LIMIT = 4 * 1024 * 1024


def _seconds(variable: str, default: float) -> float:
    """The wait `variable` sets in this process's environment, or `default` when unset or not a positive number:
    a wrong value never stops the warm engine, whose runs would then all start cold."""
    try:
        seconds = float(os.environ.get(variable, ""))
    except ValueError:
        return default
    return seconds if 0 < seconds < float("inf") else default


def _send(sock: socket.socket, payload: dict, fds: list[int] | None = None) -> None:
    data = json.dumps(payload).encode()
    if fds:
        socket.send_fds(sock, [_HEADER.pack(len(data))], fds)
    else:
        sock.sendall(_HEADER.pack(len(data)))
    sock.sendall(data)


def _receive(sock: socket.socket) -> tuple[dict | None, list[int]]:
    """The warm engine's answer to a command (the run's pid, then its status); None when it closed, or sent
    something that is not a message."""
    try:
        head = b""
        while len(head) < _HEADER.size:
            more = sock.recv(_HEADER.size - len(head))
            if not more:
                return None, []
            head += more
        (size,) = _HEADER.unpack(head)
        data = b""
        while len(data) < size:
            more = sock.recv(size - len(data))
            if not more:
                return None, []
            data += more
        return json.loads(data), []
    except (OSError, ValueError, RecursionError):
        return None, []


def _is_run_request(request) -> bool:
    """What a command sends (start): argv and environment as strings, a working directory."""
    return (isinstance(request, dict) and isinstance(request.get("cwd"), str)
            and isinstance(request.get("argv"), list) and all(isinstance(arg, str) for arg in request["argv"])
            and isinstance(request.get("env"), dict)
            and all(isinstance(name, str) and isinstance(value, str) and name and "=" not in name
                    and "\0" not in name + value for name, value in request["env"].items()))


# --- the command's side: the worker's process for the run ---------------------------------------------

def _exec_engine(argv: list[str]) -> None:
    """No warm engine: be `python -m prefect.engine` itself."""
    os.execv(sys.executable, [sys.executable, "-m", "prefect.engine", *argv])


def _exit_like(status: dict) -> None:
    """End as the run's process ended: by the same signal (the worker then says "killed by SIGKILL", as for a
    `python -m prefect.engine` of its own), or with its code. SIGKILL's handler cannot be set, not even to its
    default: the attempt raised, and the command exited 1 ("general error") for a run killed outright."""
    signum = status.get("signal")
    if signum:
        try:
            signal.signal(signum, signal.SIG_DFL)
        except (OSError, ValueError):  # SIGKILL, SIGSTOP: their action is their own already
            pass
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signum])
        os.kill(os.getpid(), signum)
        sys.exit(128 + signum)  # a signal whose default is not to end (none a process dies of): its shell status
    sys.exit(status.get("code", 1))


def start(argv: list[str]) -> None:
    try:  # a session of its own, as Prefect gives a run by default: signals to the worker's group spare it
        os.setsid()
    except OSError:
        pass
    path = os.environ.get(SOCKET_VARIABLE)
    if not path or os.path.basename(path) != SOCKET_NAME:  # none, or one of another version: the cold way
        _exec_engine(argv)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:  # no warm engine there (stopped, lost): the cold way, the same run
        sock.close()
        _exec_engine(argv)
    child = _hand_over(sock, argv)
    if child is None:  # the warm engine started nothing for this command: the cold way, the same run
        sock.close()
        _exec_engine(argv)

    def pass_on(signum, _frame):
        try:
            os.kill(child, signum)
        except ProcessLookupError:
            pass

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(signum, pass_on)
    try:
        status, _ = _receive(sock)
    except OSError:
        status = None
    if status is None:  # the warm engine stopped before the run ended: the run goes on; wait for its end
        # imported here, never by the module: the warm engine imports nothing of ours (its forks import it fresh)
        from lifecycle_config.scratch import process_alive

        while process_alive(child):
            time.sleep(0.5)
    _exit_like(status or {"code": 1})


def _hand_over(sock: socket.socket, argv: list[str]) -> int | None:
    """Send the run's request; the pid of the run the warm engine forked, or None when it started nothing.

    The warm engine says "starting" before it forks, and only then: a connection it closes before that word (its
    oldest waiting one given way to a flood, a request late or cut, the warm engine stopped or killed) started
    nothing, and the command runs cold. Closed after that word and before the pid, the run may be under way:
    no second start then; the command exits 1 and the worker sees a crash, as for a process that died at once."""
    try:
        _send(sock, {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}, [0, 1, 2])
    except OSError:  # closed while the request went (evicted, late): what the warm engine said is still read
        pass
    answer, _ = _receive(sock)
    if answer is not None and answer.get("starting"):
        answer, _ = _receive(sock)
        if answer is None or not (answer.get("pid") or answer.get("cold")):
            print("lifecycle.warm_engine: the warm engine did not say whether it started the run", file=sys.stderr)
            sys.exit(1)
    if answer is not None and isinstance(answer.get("pid"), int) and answer["pid"] > 0:
        return answer["pid"]
    return None


# --- the warm engine's side -------------------------------------------------------------------------

def _run_child(request: dict, fds: list[int], listener: socket.socket, connection: socket.socket,
               others: list[socket.socket] = (), other_fds: list[int] = (), selector=None) -> None:
    """In the forked child: become the command's process as `python -m prefect.engine` would be, and run."""
    code = 1
    try:
        if selector is not None:
            os.close(selector.fileno())  # the warm engine's epoll, not this run's
        listener.close()
        connection.close()
        for other in others:  # the other connections: held here, a command would wait for this run's end
            other.close()
        for fd in other_fds:  # the streams other waiting requests passed: theirs, not this run's
            os.close(fd)
        os.setsid()  # its own session: stopping the warm engine leaves the runs in flight running
        if _lifeline is not None:  # but not `up`'s end: inherited by the fork, watched here in the run's own thread
            _watch_lifeline(_lifeline)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        _show_environment(request["env"])
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        sys.stdin, sys.stdout, sys.stderr = (open(0, "r", closefd=False),
                                             open(1, "w", buffering=1, closefd=False),
                                             open(2, "w", buffering=1, closefd=False))
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        for entry in reversed([p for p in request["env"].get("PYTHONPATH", "").split(os.pathsep) if p]):
            if entry not in sys.path:
                sys.path.insert(0, entry)
        sys.path.insert(0, request["cwd"])  # as `python -m` puts the working directory first
        import prefect.context

        prefect.context.refresh_global_settings_context()  # the run's own environment, not the warm engine's
        import runpy
        import warnings

        # imported ahead by design (PRELOAD): runpy's warning that it is in sys.modules says nothing here
        warnings.filterwarnings("ignore", message=r"'prefect\.engine' found in sys\.modules", category=RuntimeWarning)
        sys.argv = ["prefect.engine", *request["argv"]]
        runpy.run_module("prefect.engine", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:  # noqa: BLE001 - what python -m would print, then its status
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        # a process's end as the interpreter makes it: threads joined, then the exit handlers, among them
        # Prefect's, which send the run's last logs (its "Finished in state ...") to the server
        try:
            import atexit
            import threading

            threading._shutdown()  # noqa: SLF001 - what Py_Finalize does before the exit handlers
            atexit._run_exitfuncs()  # noqa: SLF001
        except BaseException:  # noqa: BLE001 - the run's status stands whatever an exit handler did
            pass
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


#: the lifeline's read end, in the warm engine (from RUN_LIFELINE_VARIABLE) and the runs it forks; None: no `up`
_lifeline: int | None = None
#: how long a run has, once `up` is gone, between SIGTERM and SIGKILL (lifecycle.deathwatch's GRACE)
LIFELINE_GRACE = 20.0


def _watch_lifeline(fd: int) -> None:
    """In a forked run: once `up` is gone (end-of-file on its lifeline), end this run's group as `up`'s own lifelines
    end its children: SIGTERM (Prefect's engine marks the run crashed, when its server still answers), SIGKILL after
    LIFELINE_GRACE. The next `up` marks crashed the runs whose process is gone (lifecycle.server.crash_lost_runs).

    Why a lifeline rather than up.lock: the runs are forked by the warm engine, not started by `up`, so `up` never
    knows their pids to record; and a run left to the next `up` would go on unwatched meanwhile, its server gone
    (the probe's ran ~80 s, then finished under the next `up`'s server). Ending with `up` is deathwatch's rule for
    whatever `up` brought about."""
    import threading

    def wait_for_up() -> None:
        try:
            while os.read(fd, 1):
                pass
        except OSError:
            pass
        for signum in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(os.getpid(), signum)
            except (ProcessLookupError, PermissionError):
                return
            time.sleep(LIFELINE_GRACE)

    threading.Thread(target=wait_for_up, daemon=True, name="lifeline").start()


def _show_environment(env: dict) -> None:
    """Write the run's variables (its PREFECT__ ones first) over the room kept in this process's environment
    block, so /proc/PID/environ shows them; as many as fit, the rest left out."""
    room = len(os.environ.get(ENVIRON_ROOM_VARIABLE, ""))
    if not room:
        return
    import ctypes

    getenv = ctypes.CDLL(None).getenv
    getenv.restype = ctypes.c_void_p
    address = getenv(ENVIRON_ROOM_VARIABLE.encode())
    if not address:
        return
    shown = b"\0"  # ends the room's own `NAME=` entry
    for name, value in sorted(env.items(), key=lambda item: not item[0].startswith("PREFECT__")):
        entry = f"{name}={value}".encode(errors="replace") + b"\0"
        if len(shown) + len(entry) > room:
            break
        shown += entry
    ctypes.memmove(address, shown.ljust(room, b"\0"), room)


def serve_environment(env: dict) -> dict:
    """The environment to start the warm engine with: `env` and the room for its runs' variables."""
    return {**env, ENVIRON_ROOM_VARIABLE: "." * ENVIRON_ROOM}


def serve(path: str) -> None:
    """Import Prefect's engine once, then fork a run for each command that connects; until SIGTERM. The socket's
    folder goes with it when it is `up`'s private one, even when it is stopped during its imports (`up` killed as
    soon as it said ready, which it says without waiting for this engine)."""
    global _lifeline

    def leave(*_):
        raise SystemExit(0)

    held = os.environ.pop(RUN_LIFELINE_VARIABLE, "")
    if held.isdigit():
        try:
            os.fstat(int(held))  # open here (passed on by `up`), not a number naming nothing or another file
            _lifeline = int(held)
        except OSError:
            pass

    signal.signal(signal.SIGTERM, leave)  # until _serve listens: ended where it stands, through the finally
    signal.signal(signal.SIGINT, leave)
    try:
        _serve(path)
    finally:
        if os.path.basename(os.path.dirname(path)).startswith("lifecycle-engine-"):
            try:
                os.rmdir(os.path.dirname(path))
            except OSError:
                pass


def _serve(path: str) -> None:
    import importlib

    for module in PRELOAD:
        try:
            importlib.import_module(module)
        except ImportError:
            pass
    if os.path.exists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(128)
    listener.setblocking(False)
    selector = selectors.DefaultSelector()  # epoll: no FD_SETSIZE ceiling on how many connections are watched
    selector.register(listener, selectors.EVENT_READ)
    pending: dict[socket.socket, _Pending] = {}  # connections whose request is still arriving
    children: dict[int, socket.socket] = {}      # child pid -> its command's connection
    running = True

    def stop(*_):
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"warm engine ready on {path}", flush=True)
    try:
        while running:
            try:
                events = selector.select(0.2)
            except InterruptedError:
                continue
            for key, _ in events:
                sock = key.fileobj
                if sock is listener:
                    for connection in _accept(listener):
                        if len(pending) >= PENDING_LIMIT:  # a flood of connections: the oldest waiting one
                            _drop(selector, pending, min(pending.values(), key=lambda p: p.accepted))  # gives way
                        pending[connection] = _Pending(connection)
                        selector.register(connection, selectors.EVENT_READ)
                        _read_request(selector, pending, children, listener, pending[connection])
                elif sock in pending:
                    _read_request(selector, pending, children, listener, pending[sock])
                elif sock.fileno() >= 0:  # a run's command: anything it sends is read and ignored; its close
                    try:                  # means it went away before its run ended (killed outright)
                        gone = not sock.recv(4096)
                    except BlockingIOError:
                        gone = False
                    except OSError:
                        gone = True
                    pid = next((pid for pid, conn in children.items() if conn is sock), None)
                    if gone:
                        selector.unregister(sock)
                        if pid is not None:  # the run goes with it; _reap closes the connection
                            try:
                                os.kill(pid, signal.SIGKILL)
                            except ProcessLookupError:
                                pass
                        else:
                            sock.close()
            now = time.monotonic()
            for late in [p for p in pending.values() if p.deadline < now]:
                _drop(selector, pending, late)
            _reap(children, selector)
    finally:
        listener.close()
        if os.path.exists(path):
            os.unlink(path)
        for waiting in list(pending.values()):
            _drop(selector, pending, waiting)
        for pid in list(children):  # runs in flight keep running; their commands learn no status
            children.pop(pid).close()
        selector.close()


class _Pending:
    """A connection whose request is still arriving, read as its bytes come, beside every other connection: a
    client that trickles its request (a byte every few seconds) or says nothing holds no other command's run.
    It has REQUEST_TIMEOUT to begin and REQUEST_DEADLINE from its first byte to finish, whatever its pace."""

    __slots__ = ("sock", "data", "fds", "accepted", "deadline")

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.data = bytearray()
        self.fds: list[int] = []
        self.accepted = time.monotonic()
        self.deadline = self.accepted + _seconds(REQUEST_TIMEOUT_VARIABLE, REQUEST_TIMEOUT)


def _accept(listener: socket.socket) -> list[socket.socket]:
    """The connections waiting on the listener (at most a backlog's worth, so reading keeps its turn)."""
    accepted = []
    for _ in range(ACCEPT_BATCH):
        try:
            connection, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            break
        except OSError:  # out of descriptors (EMFILE) or the like: the connection waits in the backlog
            break
        connection.setblocking(False)
        accepted.append(connection)
    return accepted


def _drop(selector, pending: dict, waiting: _Pending) -> None:
    """Close a connection whose request did not come (late, cut, too large, not ours) and what it passed."""
    pending.pop(waiting.sock, None)
    try:
        selector.unregister(waiting.sock)
    except (KeyError, ValueError):
        pass
    for fd in waiting.fds:
        os.close(fd)
    waiting.fds = []
    waiting.sock.close()


def _read_request(selector, pending: dict, children: dict, listener: socket.socket, waiting: _Pending) -> None:
    """Read what has arrived of a waiting connection's request; once whole, fork its run."""
    try:
        data, fds, _, _ = socket.recv_fds(waiting.sock, 65536, 3)
    except (BlockingIOError, InterruptedError):
        return
    except OSError:
        _drop(selector, pending, waiting)
        return
    waiting.fds.extend(fds)
    if not data:  # closed before its request was whole
        _drop(selector, pending, waiting)
        return
    if not waiting.data:
        waiting.deadline = time.monotonic() + _seconds(REQUEST_DEADLINE_VARIABLE, REQUEST_DEADLINE)
    waiting.data += data
    if len(waiting.data) < _HEADER.size:
        return
    (size,) = _HEADER.unpack_from(waiting.data)
    if size > REQUEST_LIMIT or len(waiting.fds) > 3:
        _drop(selector, pending, waiting)
        return
    if len(waiting.data) < _HEADER.size + size:
        return
    try:
        request = json.loads(bytes(waiting.data[_HEADER.size:_HEADER.size + size]))
    except (ValueError, RecursionError):  # not JSON, not UTF-8, nested past the parser's depth (b"[" * 200000)
        request = None
    if not _is_run_request(request) or len(waiting.fds) != 3:
        _drop(selector, pending, waiting)
        return
    connection, fds = waiting.sock, waiting.fds
    try:  # the word before the fork (a few bytes into a buffer nothing was written to): closed before it, the
        _send(connection, {"starting": True})  # command knows nothing started and runs cold
    except OSError:  # the command is gone, or its half of the word is all it gets: nothing is forked for it
        _drop(selector, pending, waiting)
        return
    pending.pop(connection)
    selector.unregister(connection)
    try:
        pid = os.fork()
    except OSError:  # no process to be had now (EAGAIN, ENOMEM): this command runs cold
        for fd in fds:
            os.close(fd)
        connection.setblocking(True)
        try:
            _send(connection, {"cold": True})
        except OSError:
            pass
        connection.close()
        return
    if pid == 0:
        _run_child(request, fds, listener, connection,
                   [*children.values(), *(p.sock for p in pending.values())],
                   [fd for p in pending.values() for fd in p.fds], selector)
    for fd in fds:
        os.close(fd)
    connection.setblocking(True)
    children[pid] = connection
    try:
        _send(connection, {"pid": pid})
    except OSError:
        pass
    selector.register(connection, selectors.EVENT_READ)


def _reap(children: dict[int, socket.socket], selector=None) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        connection = children.pop(pid, None)
        if connection is None:
            continue
        outcome = ({"signal": os.WTERMSIG(status)} if os.WIFSIGNALED(status)
                   else {"code": os.waitstatus_to_exitcode(status)})
        try:
            _send(connection, outcome)
        except OSError:
            pass
        if selector is not None:
            try:
                selector.unregister(connection)
            except (KeyError, ValueError):  # unregistered already: its command had gone
                pass
        connection.close()


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2])
    else:
        start(sys.argv[1:])
