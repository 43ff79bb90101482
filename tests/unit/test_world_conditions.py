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


def test_a_runs_account_of_what_the_world_left_undone_is_said_in_one_line():
    from flows.arrears import SweepIncomplete
    from flows.backup import BackupsFailed
    from flows.commitments import AlertsNotSent
    from flows.standby import SweepIncomplete as StandbyIncomplete

    for report in (SweepIncomplete, StandbyIncomplete, BackupsFailed, AlertsNotSent):
        assert is_world_condition(report("the mail server 127.0.0.1:25 (notifications block) does not answer"))


def _record(error: BaseException):
    import logging

    try:
        raise error
    except BaseException as raised:  # noqa: BLE001 - a record as Prefect's engine makes it
        return logging.LogRecord("prefect.flow_runs", logging.ERROR, __file__, 1, "Encountered exception during "
                                 "execution: %r", (raised,), exc_info=(type(raised), raised, raised.__traceback__))


def test_the_runs_log_keeps_a_bugs_traceback_and_drops_the_worlds():
    import logging

    import tasks.runtime  # noqa: F401 - installs the filter on Prefect's run loggers

    logger = logging.getLogger("prefect.flow_runs")
    world = _record(Unavailable("the ledger postgresql+psycopg://u@127.0.0.1:9/x cannot be used (refused): start "
                                "its server, or correct LIFECYCLE_DATABASE_URL"))
    bug = _record(KeyError("x"))
    assert logger.filter(world) and logger.filter(bug)  # both are logged...
    assert world.exc_info is None                         # ...the world's in one line
    assert "Traceback" in logging.Formatter().format(bug)  # a bug with its traceback
    assert "Traceback" not in logging.Formatter().format(world)


@pytest.fixture
def prefect_logging():
    """Prefect configures logging (the root's handlers) when first imported: import it before caplog's
    handler is attached, or that import, made inside log_bug, removes it (the test then passed only after
    another test had imported Prefect)."""
    from prefect import get_run_logger  # noqa: F401 - the import log_bug makes


def test_a_bug_met_on_one_customer_is_logged_with_its_traceback_where_it_happened(prefect_logging, caplog):
    from tasks.runtime import log_bug

    try:
        {}["missing"]
    except KeyError as error:
        log_bug("C001", error)
    log_bug("C002", Unavailable("object storage folder /x cannot be written (Permission denied)"))
    [record] = caplog.records
    assert record.getMessage() == "C001: a bug, not a condition of the world" and record.exc_info[0] is KeyError


def test_a_database_that_cannot_be_used_is_one_line_naming_it(tmp_path):
    from sqlalchemy import text

    from lifecycle_config.databases import DatabaseUnavailable, make_engine

    from lifecycle_config import Misconfigured

    folder = tmp_path / "missing-parent" / "ledger.db"
    (tmp_path / "missing-parent").write_text("a file where the folder should be")
    # a file where its folder should be is a path to correct (exit 2), not a condition of the world
    with pytest.raises(Misconfigured, match=r"^the database 'sqlite:///.*' \(\d+ characters\) cannot be made: '.*' "
                                            r"\(\d+ characters\) is a file, not a folder: correct its URL$"):
        make_engine(f"sqlite:///{folder}")
    engine = make_engine("postgresql://someone:secret@127.0.0.1:9/nothing")
    with pytest.raises(DatabaseUnavailable) as down, engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    assert str(down.value).startswith("the database 'postgresql+psycopg://someone:***@127.0.0…' (52 characters) "
                                      "cannot be used (") and "secret" not in str(down.value)
    assert str(down.value).endswith("): start its server, or correct its URL") and is_world_condition(down.value)


def test_a_refusal_met_on_one_customer_is_no_bug(caplog):
    from ledger.locks import CustomerBusy
    from tasks.runtime import Refusal, log_bug

    log_bug("C001", CustomerBusy("C001 is busy: another run holds it"))
    log_bug("C002", Refusal("refused"))
    assert caplog.records == []


@pytest.mark.parametrize("refusal", ["operations.corrections:CorrectionNotMade", "operations.cancellation:CancellationNotRecorded",
                                     "flows.standby:StandbyRefused", "operations.restore:RestoreRefused"])
def test_a_refusal_of_any_name_is_one_line_in_the_runs_log_and_the_engines_last_word(refusal):
    """On a worker, Prefect's engine logs a run's exception with its traceback ("Engine execution exited with
    unexpected exception") after a run that ended Failed, and `lifecycle run` prints that log: a refusal is
    known by its class, whatever it is called, and that record is dropped (the run said `refused: ...`
    and its state carries the line): no crash in the log for a user's mistake."""
    import importlib
    import logging

    from lifecycle import runner
    from tasks.runtime import Refusal

    module, name = refusal.split(":")
    kind = getattr(importlib.import_module(module), name)
    assert issubclass(kind, Refusal)
    logger = logging.getLogger("prefect.flow_runs")
    try:
        raise kind("credit note on 2026-000011: 99999.00 is more than what is left to credit (10.00)")
    except Refusal:
        record = logging.LogRecord("prefect.flow_runs", logging.ERROR, __file__, 1, runner.ENGINE_EXIT, (),
                                   exc_info=True)
        import sys

        record.exc_info = sys.exc_info()
    assert not logger.filter(record)
    from tasks.runtime import ENGINE_EXIT

    assert ENGINE_EXIT == runner.ENGINE_EXIT  # the line the runner also leaves off the terminal
