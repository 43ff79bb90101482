"""A run outlives the worker that started it.

Prefect's process worker gives each flow run a pipe for its stdout and stderr. When the worker dies
(kill -9, out of memory), the run's process lives on, but its next log line to the console meets a
broken pipe, and Rich turns that into SystemExit: the run crashed between two steps (seen: invoices
issued, the mails half sent) although nothing was wrong with it. The run's logs also go to the Prefect
API, which is where ops read them, so once the pipe is gone the console lines are dropped and the run
finishes its work; `lifecycle up` restarts the worker beside it.
"""

from __future__ import annotations

import io
import logging
import sys


class _Outliving(io.TextIOBase):
    """A text stream that goes quiet, instead of raising, once its reader is gone."""

    def __init__(self, stream):
        self._stream = stream
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                self._stream.write(text)
            except (OSError, ValueError):  # BrokenPipeError, or a stream closed under us
                self.gone = True
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._stream.flush()
            except (OSError, ValueError):
                self.gone = True

    def isatty(self) -> bool:
        try:
            return not self.gone and self._stream.isatty()
        except (OSError, ValueError):
            return False

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:
        return getattr(self._stream, "encoding", None) or "utf-8"


def _outliving(stream):
    return stream if stream is None or isinstance(stream, _Outliving) else _Outliving(stream)


def outlive_the_reader() -> None:
    """Make this process's console output (sys.stdout, sys.stderr, every logging stream handler and the
    Rich console of Prefect's handler) survive the loss of whoever reads it. Idempotent."""
    sys.stdout, sys.stderr = _outliving(sys.stdout), _outliving(sys.stderr)
    loggers = [logging.getLogger()] + [logger for logger in logging.Logger.manager.loggerDict.values()
                                       if isinstance(logger, logging.Logger)]
    for logger in loggers:
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                handler.stream = _outliving(handler.stream)
                console = getattr(handler, "console", None)
                if console is not None and hasattr(console, "file"):
                    console.file = _outliving(console.file)
