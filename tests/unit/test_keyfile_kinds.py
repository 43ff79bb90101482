"""A key file named by LIFECYCLE_CREDENTIALS_KEY_FILE that is no regular file (a FIFO, a device) is refused in one
line before it is opened: reading a FIFO waits for a writer for ever (every import, `up`'s start, the webhook
would hang), a device gives bytes without end. A file far larger than any key file is refused unread."""

from __future__ import annotations

import os
import threading

import pytest

from lifecycle_config.keyfile import MAX_BYTES, KeyFileDamaged, read_keys


def test_a_fifo_named_as_the_key_file_is_refused_without_being_opened(tmp_path):
    fifo = tmp_path / "key"
    os.mkfifo(fifo, 0o600)
    answer: list = []

    def read() -> None:
        try:
            answer.append(read_keys(fifo))
        except KeyFileDamaged as error:
            answer.append(str(error))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(5)
    if reader.is_alive():  # it waits on the FIFO: open it for writing so the thread ends, then fail
        with open(fifo, "wb"):
            pass
        pytest.fail("read_keys waited on a FIFO")
    assert len(answer) == 1 and str(fifo) in answer[0]
    assert answer[0].endswith("is not a regular file (a pipe, a device or a socket): name the installation's key "
                              "file; nothing was sealed")


def test_a_device_is_refused_as_no_regular_file():
    with pytest.raises(KeyFileDamaged, match="is not a regular file"):
        read_keys(__import__("pathlib").Path("/dev/zero"))


def test_a_key_file_far_larger_than_any_is_refused_unread(tmp_path):
    big = tmp_path / "key"
    big.write_bytes(b"A" * (MAX_BYTES + 1))
    big.chmod(0o600)
    with pytest.raises(KeyFileDamaged, match=f"is larger than {MAX_BYTES:,} bytes, no key file"):
        read_keys(big)
