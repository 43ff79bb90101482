"""Named failpoints: where the crash-anywhere tests kill a run, for real.

Each step of a flow that writes something (to the ledger, the platform, storage, a mailbox) names
the point just after it with `failpoint("close.drafted")`. In production nothing happens there. In
the tests, `LIFECYCLE_FAILPOINT=close.drafted` makes the process SIGKILL itself at that point (no
exception, no cleanup, no `finally`: a power cut), and `LIFECYCLE_FAILPOINT_LOG=<file>` records every
point a run crosses, so the suite knows them all and can say how many it crossed.
`LIFECYCLE_FAILPOINT_PAUSE=backup.manifest-written=0.5` makes a run sleep there instead (a slow
machine), so a test can catch it in the middle of its work.
"""

from __future__ import annotations

import os
import signal
import time

KILL = "LIFECYCLE_FAILPOINT"
LOG = "LIFECYCLE_FAILPOINT_LOG"
PAUSE = "LIFECYCLE_FAILPOINT_PAUSE"


def failpoint(name: str) -> None:
    log = os.environ.get(LOG)
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(name + "\n")
    if os.environ.get(KILL) == name:
        os.kill(os.getpid(), signal.SIGKILL)
    pause = os.environ.get(PAUSE, "")
    if pause.startswith(name + "="):
        time.sleep(float(pause.split("=", 1)[1]))
