"""The fault of Prefect's that `lifecycle up` mends, shown on Prefect's own code so a release that
fixes it (or changes the writer under the mend) shows here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, how: str) -> dict:
    result = subprocess.run([sys.executable, "-m", "tests.support.event_writer", str(tmp_path / f"{how}.db"), how],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_events_sent_again_are_skipped_instead_of_failing_the_whole_flush(tmp_path):
    bare = write(tmp_path, "bare")
    # Prefect alone (3.8.8, still 3.9.1): a batch of events stored already fails (the persister retries it five times,
    # then drops it with whatever was new in it), and so does a batch that holds one event twice
    assert bare["first"] == "written"
    assert "NOT NULL constraint failed: events.occurred" in bare["sent_again"]
    assert "UNIQUE constraint failed: events.id" in bare["mixed"] and bare["stored"] == 3

    mended = write(tmp_path, "mended")
    assert mended == {"first": "written", "sent_again": "written", "mixed": "written", "stored": 5}
