"""Temporary files of the runs: under `LIFECYCLE_HOME/tmp`, one folder per process, swept at each start.

A backup killed with `kill -9` left its dump in /tmp for ever (no `finally` runs after a SIGKILL).
Each folder is named after the process that made it; a folder whose process is dead is removed by
the next run that starts (and by `lifecycle up`).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

from lifecycle_config import home


def scratch_root() -> Path:
    root = home() / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    return root


def scratch_folder() -> tempfile.TemporaryDirectory:
    """A temporary folder for this process's work, removed when done (or by the next sweep if killed)."""
    return tempfile.TemporaryDirectory(dir=scratch_root(), prefix=f"{os.getpid()}-")


def process_alive(pid: int) -> bool:
    """Whether a process of this machine is still there."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def this_process() -> str:
    """`host:pid`, how a claim or a lock names its holder."""
    return f"{socket.gethostname()}:{os.getpid()}"


def holder_dead(holder: str | None) -> bool:
    """Whether a `host:pid` holder is a process of this machine that is gone (another machine's: unknown)."""
    host, _, pid = (holder or "").rpartition(":")
    return host == socket.gethostname() and pid.isdigit() and not process_alive(int(pid))


def sweep_scratch() -> list[Path]:
    """Remove the folders of processes that are gone; returns them."""
    root = home() / "tmp"
    if not root.is_dir():
        return []
    swept = []
    for folder in root.iterdir():
        owner = folder.name.split("-", 1)[0]
        if owner.isdigit() and not process_alive(int(owner)):
            shutil.rmtree(folder, ignore_errors=True)
            swept.append(folder)
    return swept
