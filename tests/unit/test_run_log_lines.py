"""A refusal on a worker is the run's one line, never a crash in its log: Prefect's engine logs "Engine execution
exited with unexpected exception" with the traceback when a run ends Failed (the Failed state's exception is
raised again at the end); for a Refusal that line is dropped, for a condition of the world it becomes the one
line; a bug keeps both."""

from __future__ import annotations

import logging

import pytest

import tasks.runtime  # noqa: F401 - installs the filter on Prefect's run loggers, as every flow module does
from lifecycle_config.databases import DatabaseUnavailable
from policy.refusals import Refusal
from tasks.runtime import ENGINE_EXIT


class Kept(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def run_log():
    logger = logging.getLogger("prefect.flow_runs")
    kept = Kept()
    logger.addHandler(kept)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        yield logger, kept.records
    finally:
        logger.removeHandler(kept)
        logger.setLevel(level)


def engine_exit(logger, error: BaseException) -> None:
    """What prefect.flow_engine.run_flow does with its error_logger (a LoggingAdapter of this logger)."""
    try:
        raise error
    except BaseException:
        logging.LoggerAdapter(logger, {}).error(ENGINE_EXIT, exc_info=True)


def test_a_refusal_is_no_crash_in_the_runs_log(run_log):
    logger, records = run_log
    engine_exit(logger, Refusal("--amount 0.001: more than 2 decimal places"))
    assert records == []


def test_a_condition_of_the_world_is_its_one_line(run_log):
    logger, records = run_log
    down = DatabaseUnavailable("the ledger postgresql://x cannot be used (connection refused)")
    engine_exit(logger, down)
    assert [(record.levelname, record.getMessage(), record.exc_info) for record in records] == [
        ("ERROR", str(down).splitlines()[0], None)]


def test_a_bug_keeps_the_engines_line_and_its_traceback(run_log):
    logger, records = run_log
    engine_exit(logger, KeyError("customer"))
    assert [(record.getMessage(), record.exc_info[0]) for record in records] == [(ENGINE_EXIT, KeyError)]


@pytest.mark.parametrize("error", [
    "operations.backup_keys:KeyDestroyed", "operations.backup_archive:CorruptBackup",
    "lifecycle_config.masterkey:MasterKeyMissing"])
def test_a_known_outcome_of_a_restore_is_its_one_line(run_log, error):
    """A backup whose data key was damaged in the key store (or a backup damaged, a master key missing) is no bug:
    a restore on a worker printed "Engine execution exited with unexpected exception" and a traceback."""
    import importlib

    module, name = error.split(":")
    outcome = getattr(importlib.import_module(module), name)("backup C010-20261207: the key object keys/x.json is "
                                                              "damaged in the key store; nothing was restored")
    logger, records = run_log
    engine_exit(logger, outcome)
    assert [(record.levelname, record.getMessage(), record.exc_info) for record in records] == [
        ("ERROR", str(outcome), None)]
