"""A notice the outbox folder cannot take (read-only, not a folder) waits, and its line says what to do, with
no exception class name (it said `(OSError: [Errno 30] Read-only file system: '...eml')`)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from blocks.notifications import Notifications, OutboxUnwritable
from operations.dispatch import Dispatched, _grouped, _tell, transient


def test_a_notice_the_outbox_cannot_take_waits_saying_what_to_do(tmp_path):
    (tmp_path / "taken").write_text("a file where the outbox's parent should be")
    folder = tmp_path / "taken" / "outbox"
    with pytest.raises(OutboxUnwritable) as refused:
        Notifications(outbox_dir=str(folder)).send("a@example.com", "Subject", "Body", key="notice:1")
    said = (f"the outbox folder {folder} cannot be written (Not a directory): let this user write there, or set "
            f"outbox_dir in the notifications block")
    assert str(refused.value) == said
    assert transient(refused.value)  # tried again by the next run
    result = Dispatched()
    _tell(result, "pending", [], "notice N1 to C1", refused.value, datetime(2026, 11, 2, tzinfo=timezone.utc))
    assert _grouped(result.left) == [f"notice N1 to C1: pending, will be tried again ({said})"]
