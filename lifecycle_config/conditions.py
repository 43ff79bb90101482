"""Conditions of the world: what stops a command that is neither the user's mistake nor a bug.

A store that cannot be reached, a full disk, a folder that may not be written: the person running
the command can act on it (start the server, free space, fix a permission), so it is said in one
line naming what and where, never with a traceback. Every layer may raise it; the CLI and the
flows (tasks.runtime.refusals_fail_quietly) turn it into that one line.
"""

from __future__ import annotations

import errno

#: the errors of a file operation that describe the machine, not the program. A missing file, a folder where a
#: file was expected or a name already taken are not among them: where a user named the path, the code that
#: opens it says so itself (a user's mistake); anywhere else (a catalogue the package lost, a path the program
#: built wrong) it is a bug, and keeps its traceback
WORLD_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO,
                errno.ECONNREFUSED, errno.ECONNRESET, errno.ETIMEDOUT, errno.EHOSTUNREACH, errno.ENETUNREACH,
                errno.EPIPE}


class Unavailable(RuntimeError):
    """Something the run needs cannot be used just now (down, unreachable, full, read-only); the message
    says what and where in one line, and never holds a credential."""


class Reported(Exception):
    """A run's account of what it left undone, each thing with its reason (a mail server down, a refused
    recipient, a platform that does not answer), kept in the ledger and tried again by the next run. Its
    message is the whole story: like a condition of the world it is said in one line, without the traceback
    that would only show the line raising it. A bug met on the way (one customer's) is logged with its own
    traceback where it is caught (tasks.runtime.log_bug)."""


def is_world_condition(error: BaseException) -> bool:
    """Whether an error describes the world (network, disk, permissions, a missing file) rather than a bug,
    or is a run's report of what the world left undone (Reported)."""
    if isinstance(error, (Unavailable, Reported)):
        return True
    if isinstance(error, (ConnectionError, TimeoutError)):
        return True
    if isinstance(error, OSError) and error.errno in WORLD_ERRNOS:
        return True
    names = {kind.__name__ for kind in type(error).__mro__}
    # the network as other libraries name it (botocore, urllib3, httpx, psycopg), without importing them
    return bool(names & {"EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError",
                         "NewConnectionError", "MaxRetryError", "ConnectError", "ConnectTimeout", "ReadTimeout",
                         "RemoteProtocolError", "NetworkError"})


def one_line(error: BaseException) -> str:
    """The error's own first line (its type's name when it says nothing), every character a terminal would act on
    or hide written as its code (`\\x1b`): its words are often another system's (an S3 endpoint's or a mail
    server's message, a database's), and an ESC or a bidi override in them drove or reordered the terminal."""
    import unicodedata

    text = str(error).strip()
    line = text.splitlines()[0] if text else type(error).__name__
    if line.isprintable():
        return line
    return "".join((f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")
                   if unicodedata.category(char) in ("Cc", "Cf", "Co", "Cn", "Cs") and char not in "\u200c\u200d"
                   else char for char in line)
