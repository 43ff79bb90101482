"""Free TCP ports on loopback, for the servers the tests start.

A port the kernel hands out for "any free port" (bind to 0) is one it may hand out again to the next
process that asks, once the asker closed its probe socket: Prefect's test harness asks that way, and so do
the clients of every server. A `lifecycle up` that was given such a port and is still starting its server
then finds the port taken by another worker's harness, and (before up checked whose server answers) deployed
into it. So the tests take their ports below the kernel's ephemeral range, where nobody is handed a port
without asking for it by number, and reserve each one across the concurrent pytest processes (xdist
workers, the faketime days) with a lock file held until the process ends. Each port comes with the two
after it (`lifecycle up` uses N, N+1 and N+2).
"""

from __future__ import annotations

import fcntl
import os
import socket
import tempfile
from pathlib import Path

LOW, HIGH = 20000, 32000  # below 32768, Linux's default ip_local_port_range
SPAN = 3
_held: list[int] = []  # the lock files' descriptors: a reservation lasts as long as this process
_next = [LOW + (os.getpid() * SPAN * 7) % (HIGH - LOW) // SPAN * SPAN]
_folder = Path(tempfile.gettempdir()) / "lifecycle-test-ports"


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _reserve(port: int) -> bool:
    _folder.mkdir(exist_ok=True)
    descriptor = os.open(_folder / str(port), os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(descriptor)
        return False
    _held.append(descriptor)
    return True


def free_port() -> int:
    """A port P such that P, P+1 and P+2 were free and are this process's alone."""
    for _ in range((HIGH - LOW) // SPAN):
        port = _next[0]
        _next[0] = port + SPAN if port + 2 * SPAN < HIGH else LOW
        if _reserve(port) and all(_bindable(port + offset) for offset in range(SPAN)):
            return port
    raise RuntimeError(f"no free port between {LOW} and {HIGH}")


#: how often a test's HTTP server looks whether it was asked to stop: socketserver's 0.5 s held each of the fast
#: tier's ~40 servers half a second in its shutdown(), after its last request
POLL_SECONDS = 0.02


def serve_in_thread(server):
    """`server` (a socketserver) answering on a daemon thread, stopped within POLL_SECONDS of its shutdown()."""
    import threading

    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL_SECONDS}, daemon=True)
    thread.start()
    return thread
