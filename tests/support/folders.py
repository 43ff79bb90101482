"""A folder nobody may write, for the tests of a read-only store or target."""

from __future__ import annotations

import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def read_only(folder: Path):
    """A folder nobody may write, root included (the tests may run as root, whom modes do not stop)."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    immutable = os.geteuid() == 0
    if immutable:
        if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(folder)]).returncode != 0:
            folder.chmod(0o755)
            pytest.skip("running as root without chattr: no folder is read-only here")
    try:
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)])
        folder.chmod(0o755)
