"""`lifecycle up` killed outright (SIGKILL, the out-of-memory killer): nothing it started stays behind.

Issue 24 (D5): its server, warm engine and workers ran on, each in its own session with nobody watching `up`; the
server kept the port, so the next `up` of the home said "something already answers at ...: is `lifecycle up`
running already?" when none was, and an orphaned worker joined the pool of another home's server started later on
that port and took its runs. Now each of them watches a pipe only `up` holds open (lifecycle.deathwatch)."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import pytest

from lifecycle.deathwatch import _alive
from lifecycle.server import taken_port
from lifecycle.warm_engine import SOCKET_NAME
from tests.support.ports import free_port
from tests.support.up import Up, command_line, descendants

pytestmark = pytest.mark.prefect


def polled(condition, polls: int = 1200) -> bool:
    """Whether `condition` comes true, looked at again and again (a bound on polls, not a time asserted)."""
    for _ in range(polls):
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_up_killed_outright_takes_everything_it_started_with_it_and_the_next_up_starts(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    up = Up(home, port)
    up.start()
    started = descendants(up.process.pid)
    commands = {pid: command_line(pid) for pid in started}
    assert any("prefect_server server start" in command for command in commands.values()), commands
    assert any("worker start" in command for command in commands.values()), commands
    engine = next(command for command in commands.values() if "warm_engine serve" in command)
    engine_dir = Path(re.search(r"serve (\S+)/" + re.escape(SOCKET_NAME), engine).group(1))
    assert engine_dir.is_dir()

    up.process.send_signal(signal.SIGKILL)
    up.process.wait()
    left = lambda: [f"{pid} {commands[pid]}" for pid in started if _alive(pid)]  # noqa: E731
    assert polled(lambda: not left()), left()
    ports = [(port + offset, "up") for offset in range(3)]
    assert polled(lambda: taken_port("127.0.0.1", ports) is None), taken_port("127.0.0.1", ports)
    assert not engine_dir.exists(), (home / "logs" / "warm-engine.log").read_text()[-3000:]

    again = Up(home, port)
    try:
        lines = again.start()
    finally:
        if again.process and again.process.poll() is None:
            again.stop()
    assert not any("already answers" in line for line in lines), lines
