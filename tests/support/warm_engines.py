"""Warm engines for the tests, each a process of its own that has imported what `lifecycle up`'s warm engine
imports, without paying that import (2.5-3.5 s of CPU, most of test_warm_engine's time) once per test.

One *preloader* per test module imports lifecycle.warm_engine's PRELOAD once, then, for each engine asked of it,
forks a child that runs `serve(path)`, lifecycle.warm_engine's own: the child starts from the preloader's state
(modules imported, nothing served), never from another test's engine, and is stopped and reaped on its own. A
test of how `python -m lifecycle.warm_engine serve` starts and stops as a command keeps starting it so.

Its handle answers as subprocess.Popen's does (pid, poll, terminate, wait, returncode): the preloader, whose
child it is, reaps it and says its exit status on its stdout, a line `exited PID CODE`.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Mapping

#: what the preloader runs: it reads a request (a JSON line: the socket's path, variables of the engine's own)
#: from stdin, forks the engine, which says its pid, and says its exit status once it ends; one engine at a time
_PRELOADER = """
import importlib, json, os, sys
from lifecycle.warm_engine import PRELOAD, serve
for name in PRELOAD:
    try:
        importlib.import_module(name)
    except ImportError:
        pass
print("preloaded", flush=True)
for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        os.write(1, f"forked {os.getpid()}\\n".encode())  # said by the engine, so that no line of the two mixes
        os.environ.update(request["env"])
        code = 1
        try:
            serve(request["path"])
            code = 0
        finally:
            sys.stdout.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    os.write(1, f"exited {pid} {os.waitstatus_to_exitcode(status)}\\n".encode())
"""


class Preloader:
    """The process that forks the warm engines of one test module (started with `env`, in `cwd`)."""

    def __init__(self, env: Mapping[str, str], cwd: str | os.PathLike):
        self.process = subprocess.Popen([sys.executable, "-c", _PRELOADER], env=dict(env), cwd=cwd, bufsize=0,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        line = self.line(timeout=300)
        assert line == "preloaded", line

    def line(self, timeout: float | None) -> str | None:
        """The preloader's (or its engine's) next line on stdout, or None if none came within `timeout`."""
        if timeout is not None:
            # poll, not select: in the whole suite an xdist worker holds more than 1024 descriptors, past which
            # select() refuses one ("filedescriptor out of range")
            readable = select.poll()
            readable.register(self.process.stdout, select.POLLIN | select.POLLHUP)
            if not readable.poll(max(0.0, timeout) * 1000):
                return None
        raw = self.process.stdout.readline()
        assert raw, f"the preloader ended (status {self.process.wait()})"
        return raw.decode().rstrip("\n")

    def engine(self, path: str, **env: str) -> "ForkedEngine":
        """A warm engine of its own serving `path`, with `env` added to its environment."""
        self.process.stdin.write((json.dumps({"path": path, "env": env}) + "\n").encode())
        line = self.line(timeout=300)
        assert line and line.startswith("forked "), line
        return ForkedEngine(self, int(line.split()[1]))

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


class ForkedEngine:
    """A warm engine forked by the preloader, as a Popen of it: `stdout` gives its lines until it ends."""

    def __init__(self, preloader: Preloader, pid: int):
        self.preloader, self.pid, self.returncode = preloader, pid, None

    def readline(self, timeout: float = 300) -> str:
        """The engine's next line (what it says once it listens), not the preloader's own."""
        line = self.preloader.line(timeout)
        assert line is not None and not line.startswith("exited "), line
        return line

    def poll(self, timeout: float = 0) -> int | None:
        deadline = time.monotonic() + timeout
        while self.returncode is None:
            line = self.preloader.line(max(0.0, deadline - time.monotonic()))
            if line is None:
                break
            if line.startswith(f"exited {self.pid} "):
                self.returncode = int(line.split()[2])
        return self.returncode

    def wait(self, timeout: float) -> int:
        if self.poll(timeout) is None:
            raise subprocess.TimeoutExpired(f"warm engine {self.pid}", timeout)
        return self.returncode

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:  # not reaped yet: the pid is still this engine's
            os.kill(self.pid, signum)
