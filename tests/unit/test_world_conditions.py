"""What is a condition of the world (one line, exit 1) and what is a bug (its traceback)."""

from __future__ import annotations

import errno

import pytest

from lifecycle_config.conditions import Unavailable, is_world_condition, one_line


@pytest.mark.parametrize("error", [
    ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
    TimeoutError("timed out"),
    OSError(errno.ENOSPC, "No space left on device"),
    OSError(errno.EROFS, "Read-only file system"),
    PermissionError(errno.EACCES, "Permission denied"),
    OSError(errno.EIO, "Input/output error"),
    Unavailable("object storage s3://nightly at http://127.0.0.1:9 cannot be reached"),
], ids=lambda error: type(error).__name__)
def test_the_world(error):
    assert is_world_condition(error)


def test_the_network_as_botocore_names_it():
    from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError

    assert is_world_condition(EndpointConnectionError(endpoint_url="http://127.0.0.1:9/x"))
    assert is_world_condition(ConnectTimeoutError(endpoint_url="http://127.0.0.1:9/x"))


@pytest.mark.parametrize("error", [ValueError("bad"), KeyError("x"), AttributeError("y"), TypeError("z"),
                                   ZeroDivisionError(), OSError("no errno"),
                                   # a file the program itself needs and lost (a catalogue, a template): a bug
                                   FileNotFoundError(errno.ENOENT, "No such file or directory"),
                                   IsADirectoryError(errno.EISDIR, "Is a directory"),
                                   OSError(errno.ENAMETOOLONG, "File name too long")],
                          ids=lambda error: f"{type(error).__name__}-{getattr(error, 'errno', None)}")
def test_a_bug_is_not(error):
    assert not is_world_condition(error)


def test_one_line_is_the_first_line_or_the_type():
    assert one_line(Unavailable("store down\nmore detail")) == "store down"
    assert one_line(TimeoutError()) == "TimeoutError"
