"""The processes `lifecycle up` starts die with it, however it dies (Ctrl-C, SIGKILL, the out-of-memory killer).

`up` starts its server, warm engine and workers each in a session of its own (so that stopping one stops its whole
process group, and a Ctrl-C in the terminal reaches `up` alone, which stops them in order). Nothing told them
when `up` itself was killed outright: they ran on, the server kept the port (the next `up` then said "something
already answers"), and an orphaned worker could join the pool of another home's server started later on that port.

Each of them is a *lifeline*'s end: `up` holds the write end of a pipe for its whole life and never writes; each
child is started as `python -m lifecycle.deathwatch MODULE ARGS...`, which watches the read end in a thread and
then runs MODULE as `python -m MODULE ARGS...` would, in the same process (no process in between). When `up` ends,
however it ends, the kernel closes the write end: the read sees end-of-file, and the child's process group gets
SIGTERM, as `up`'s own Ctrl-C would give it, then SIGKILL after GRACE if it is still there. A pipe rather than
Linux's PR_SET_PDEATHSIG: that one fires when the *thread* that started the child ends, and works on Linux alone.

Kept to the standard library: the warm engine imports nothing else of ours before its runs.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
import threading
import time

#: the child's environment names the read end of its lifeline here
VARIABLE = "LIFECYCLE_LIFELINE"
#: how long the child's group has to end after SIGTERM before SIGKILL (as `up`'s own stop gives it)
GRACE = 20.0
#: a worker's environment names here the PREFECT_HOME of the server its `up` started (watch_server)
SERVER_HOME_VARIABLE = "LIFECYCLE_SERVER_HOME"
#: how often a worker asks its server who it is
SERVER_POLL = 5.0


class Lifeline:
    """The parent's end: a pipe whose write end only this process holds (not inherited by anything it starts)."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()  # neither is inherited, but for the read end passed on (pass_fds)

    def command(self, module: str, *args: str) -> list[str]:
        """`python -m module args...`, watched: it ends when this process ends."""
        return [sys.executable, "-m", __name__, module, *args]

    def popen(self, env: dict[str, str]) -> dict:
        """What subprocess.Popen needs besides the command: the read end passed on, and named."""
        return {"env": {**env, VARIABLE: str(self.read_fd)}, "pass_fds": (self.read_fd,), "start_new_session": True}

    def close(self) -> None:
        for fd in (self.read_fd, self.write_fd):
            try:
                os.close(fd)
            except OSError:
                pass


def watch(fd: int, grace: float = GRACE) -> threading.Thread:
    """Until end-of-file on `fd` (the parent is gone), then end this process's group: SIGTERM, and SIGKILL after
    `grace` if it is still there. A process that does not lead its group (started without a session of its own)
    ends itself only, never its caller's group."""
    os.set_inheritable(fd, False)  # the runs this process starts hold no end of its lifeline

    def wait_for_the_parent() -> None:
        try:
            while os.read(fd, 1):
                pass
        except OSError:
            pass
        group = os.getpgrp()
        leads = group == os.getpid()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(group, sig) if leads else os.kill(os.getpid(), sig)
            except ProcessLookupError:
                return
            time.sleep(grace)

    thread = threading.Thread(target=wait_for_the_parent, daemon=True, name="lifeline")
    thread.start()
    return thread


def _end_the_group() -> None:
    group = os.getpgrp()
    try:
        os.killpg(group, signal.SIGTERM) if group == os.getpid() else os.kill(os.getpid(), signal.SIGTERM)
    except ProcessLookupError:
        pass


def served_home(api_url: str) -> str | None:
    """The PREFECT_HOME the server at `api_url` keeps its data in (its identity: two servers never share one);
    None when it does not say (gone, starting, behind a password)."""
    import json
    import urllib.request

    try:
        with urllib.request.urlopen(api_url.rstrip("/") + "/admin/settings", timeout=5) as response:
            home = json.loads(response.read()).get("home")
    except (OSError, ValueError, AttributeError):
        return None
    return os.path.realpath(os.path.expanduser(home)) if isinstance(home, str) else None


def watch_server(api_url: str, home: str, every: float = SERVER_POLL) -> threading.Thread:
    """Until the server at `api_url` says it keeps its data elsewhere than `home` (another server took the port
    its `up` gave this worker), then end this process's group: a worker serves the server its own `up` started,
    never a stranger that happens to listen at the same address (it took that server's runs, which its guard then
    refused). A server that does not answer is left to `up`, which stops when its server does."""
    expected = os.path.realpath(os.path.expanduser(home))

    def keep_watching() -> None:
        while True:
            time.sleep(every)
            answered = served_home(api_url)
            if answered is not None and answered != expected:
                print(f"lifecycle: the server at {api_url} is no longer the one this worker's `lifecycle up` started "
                      f"(its data in {answered}, not {expected}): this worker stops", file=sys.stderr, flush=True)
                _end_the_group()
                return

    thread = threading.Thread(target=keep_watching, daemon=True, name="server-identity")
    thread.start()
    return thread


def main(argv: list[str]) -> None:
    """`python -m lifecycle.deathwatch MODULE ARGS...`: MODULE run as `python -m` runs it, watched when the
    environment names a lifeline (unwatched otherwise), and, when it names the server's home too, stopped once
    another server answers at its PREFECT_API_URL."""
    fd = os.environ.pop(VARIABLE, None)
    if fd is not None and fd.isdigit():
        watch(int(fd))
    server_home = os.environ.pop(SERVER_HOME_VARIABLE, None)
    if server_home and os.environ.get("PREFECT_API_URL"):
        watch_server(os.environ["PREFECT_API_URL"], server_home)
    sys.argv = argv
    runpy.run_module(argv[0], run_name="__main__", alter_sys=True)


# --- what an `up` killed before this release (or before its lifelines ended its children) left running --------------

def record(child_pid: int) -> dict:
    """What the next `up` needs to recognise a child of this one: its process and its command line."""
    return {"pid": child_pid, "command": command_line(child_pid)}


def command_line(pid: int) -> str:
    """The process's command line as `ps` shows it (its arguments joined by spaces), or "" once it is gone."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper is gone as far as the port and the pool know)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def orphans(children: list[dict]) -> list[int]:
    """The recorded children of an earlier `up` still running: the same process, recognised by its command line
    (a pid taken since by another program is not ours to stop)."""
    return [child["pid"] for child in children
            if isinstance(child, dict) and isinstance(child.get("pid"), int) and child.get("command")
            and _alive(child["pid"]) and command_line(child["pid"]) == child["command"]]


def stop_orphans(pids: list[int], grace: float = GRACE) -> None:
    """SIGTERM to each one's process group (they each lead one), as `up`'s own stop; SIGKILL to what is left after
    `grace`. Returns once they are gone."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.killpg(pid, sig) if os.getpgid(pid) == pid else os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + grace
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not any(_alive(pid) for pid in pids):
            return


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python -m lifecycle.deathwatch MODULE [ARGS...]")
    main(sys.argv[1:])
