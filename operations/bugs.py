"""Where a sweep's operation tells a bug it met on one customer and went past (the sweep reports its one line).

A sweep (arrears, standby) never stops for one customer's failure; when the failure is a bug (neither a
refusal nor a condition of the world) its traceback must be kept where it happened. The Prefect task
wrapping the sweep hands in the run's logger (`tasks.runtime.log_bug`); called as plain Python, the
operation keeps it in Python's log."""

from __future__ import annotations

import logging
from typing import Callable

from lifecycle_config.conditions import is_world_condition
from policy.refusals import Refusal

#: what: the customer or item it happened on; error: the exception, with its traceback
BugLog = Callable[[str, BaseException], None]


def log_to_python(what: str, error: BaseException) -> None:
    if isinstance(error, Refusal) or is_world_condition(error):
        return
    logging.getLogger("operations").error("%s: a bug, not a condition of the world", what,
                                          exc_info=(type(error), error, error.__traceback__))
