"""Every number of every settings block has bounds a person can read in its description: a timeout of -1,
NaN or infinity, a port of 0, a million retries or a part of 1 TB is refused when the block is built (saved
from the UI, or loaded: tests/integration/test_actionable_errors.py), never at the first use."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from blocks.notifications import Notifications
from blocks.platform import PlatformControl
from blocks.storage import ObjectStorage


@pytest.mark.parametrize("block, field, value, said", [
    (PlatformControl, "timeout_seconds", -1, "greater than or equal to 0.1"),
    (PlatformControl, "timeout_seconds", float("nan"), "a finite number"),
    (PlatformControl, "timeout_seconds", float("inf"), "a finite number"),
    (PlatformControl, "timeout_seconds", 301, "less than or equal to 300"),
    (PlatformControl, "retries", -1, "greater than or equal to 0"),
    (PlatformControl, "retries", 11, "less than or equal to 10"),
    (Notifications, "smtp_port", 0, "greater than or equal to 1"),
    (Notifications, "smtp_port", 65536, "less than or equal to 65535"),
    (Notifications, "timeout_seconds", 0, "greater than or equal to 1"),
    (Notifications, "timeout_seconds", 10 ** 9, "less than or equal to 300"),
    (ObjectStorage, "multipart_chunk_mb", 4, "greater than or equal to 5"),
    (ObjectStorage, "multipart_chunk_mb", 1 << 20, "less than or equal to 5120"),
])
def test_a_number_of_a_block_outside_its_bounds_is_refused_naming_the_field(block, field, value, said):
    with pytest.raises(ValidationError) as refused:
        block(**{field: value})
    [error] = refused.value.errors()
    assert error["loc"] == (field,) and error["msg"] == f"Input should be {said}"
    described = block.model_fields[field].description
    assert "from" in described  # the form says which numbers it takes


def test_the_defaults_and_the_bounds_themselves_are_taken():
    assert PlatformControl(timeout_seconds=0.1, retries=0).retries == 0
    assert PlatformControl(timeout_seconds=300, retries=10).timeout_seconds == 300
    assert Notifications(smtp_port=65535, timeout_seconds=300).smtp_port == 65535
    assert ObjectStorage(multipart_chunk_mb=5120).multipart_chunk_mb == 5120
