"""What `lifecycle up` echoes from server.log: errors and the exception of each traceback, not the noise."""

from lifecycle.logwatch import ErrorLines

# the scheduler's failure of last wave, as Prefect 3.8 logged it with SQLAlchemy 2.1
SCHEDULER_FAILURE = """\
17:02:11.503 | INFO    | uvicorn.access - 127.0.0.1:51234 - "POST /api/deployments/filter HTTP/1.1" 200
17:02:12.118 | ERROR   | prefect.server.services.scheduler - Unexpected error in: InvalidRequestError("Can't evaluate bulk DML statement; please supply a bulk_dml decorated function")
Traceback (most recent call last):
  File "/site-packages/prefect/server/services/base.py", line 242, in start
    await self.run_once()
  File "/site-packages/sqlalchemy/orm/bulk_persistence.py", line 1713, in orm_pre_session_exec
    raise sa_exc.InvalidRequestError(
sqlalchemy.exc.InvalidRequestError: Can't evaluate bulk DML statement; please supply a bulk_dml decorated function
17:02:13.001 | WARNING | prefect.server - something odd but harmless
"""


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def feed(watcher, text):
    return [message for line in text.splitlines(keepends=True) for message in watcher.feed(line)]


def test_an_error_line_and_its_exception_are_shown_and_nothing_else():
    shown = feed(ErrorLines(Clock()), SCHEDULER_FAILURE)  # told when the next, unrelated, line comes
    assert shown == [
        "prefect.server.services.scheduler: Unexpected error in: InvalidRequestError(\"Can't evaluate bulk DML "
        "statement; please supply a bulk_dml decorated function\")",
        "sqlalchemy.exc.InvalidRequestError: Can't evaluate bulk DML statement; please supply a bulk_dml decorated "
        "function",
    ]


def test_a_repeating_error_is_shown_again_once_a_minute_with_its_count():
    clock = Clock()
    watcher = ErrorLines(clock)
    assert len(feed(watcher, SCHEDULER_FAILURE)) == 2
    for _ in range(3):                      # the scheduler loops every few seconds
        clock.now += 5
        assert feed(watcher, SCHEDULER_FAILURE) == []
    clock.now = 61
    again = feed(watcher, SCHEDULER_FAILURE)
    assert len(again) == 2 and all(line.endswith("(and 3 more time(s) since)") for line in again)


def test_a_critical_line_counts_and_info_or_warning_lines_do_not():
    clock = Clock()
    watcher = ErrorLines(clock)
    assert feed(watcher, "10:00:00.000 | CRITICAL | prefect.server - database is gone\n") == []  # a traceback may follow
    assert watcher.flush() == []
    clock.now = 3                                      # none came: the line is shown on its own
    assert watcher.flush() == ["prefect.server: database is gone"]
    assert feed(watcher, "10:00:01.000 | WARNING | prefect.server - ERROR in the message is not a level\n") == []
    assert feed(watcher, "10:00:02.000 | ERROR | prefect.server - first\n10:00:03.000 | INFO | x - next\n") == [
        "prefect.server: first"]


# Prefect's event consumer on SQLite, which retries the event (PrefectHQ/prefect#18934)
RETRIED = """17:14:36.916 | ERROR   | prefect.server.utilities.messaging.memory - Failed in consume_loop
Traceback (most recent call last):
  File "/site-packages/sqlalchemy/engine/base.py", line 2000, in _exec_single_context
sqlite3.OperationalError: database is locked

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/site-packages/prefect/server/utilities/messaging/memory.py", line 375, in _consume_loop
sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) database is locked
[SQL: INSERT INTO automation_bucket (automation_id) VALUES (:automation_id)]
"""


def test_a_retried_sqlite_lock_is_a_note_not_an_error():
    clock = Clock()
    watcher = ErrorLines(clock)
    assert feed(watcher, RETRIED) == []                # the chain may go on
    clock.now = 5                                      # the log went quiet: the record is complete
    shown = watcher.flush()
    assert len(shown) == 1 and shown[0].startswith("note: SQLite was busy and Prefect will try again")


# a state change the orchestration could not validate on a busy SQLite: answered 503, which clients retry
STATE_VALIDATION = """09:46:10.503 | ERROR   | prefect.server - Encountered error during state validation
Traceback (most recent call last):
  File "/site-packages/prefect/server/orchestration/rules.py", line 274, in validate_proposed_state
sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) database is locked
[SQL: UPDATE flow_run SET state_id=:state_id]
09:46:10.600 | INFO    | prefect.server - next
"""


def test_a_state_validation_on_a_busy_sqlite_is_a_note_but_other_errors_of_that_logger_are_not():
    watcher = ErrorLines(Clock())
    shown = feed(watcher, STATE_VALIDATION)
    assert len(shown) == 1 and shown[0].startswith("note: SQLite was busy")
    other = STATE_VALIDATION.replace("database is locked", "no such column: flow_run.state_id")
    assert feed(ErrorLines(Clock()), other) == ["prefect.server: Encountered error during state validation",
                                                "sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) no such "
                                                "column: flow_run.state_id"]


# a background task of the server (Prefect's docket) that waited a minute for a busy SQLite: run again
DOCKET = """04:24:31.210 | ERROR   | docket.dependencies - ↩ [ 60223ms] mark_work_queues_ready(polled_work_queue_ids=..., ready_work_queue_ids=...){mark_work_queues_ready:work_pool:41817a93}
Traceback (most recent call last):
  File "/site-packages/sqlalchemy/engine/base.py", line 1967, in _exec_single_context
sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) database is locked
[SQL: UPDATE work_queue SET status=:status]
04:24:31.300 | INFO    | prefect.server - next
"""


def test_a_server_background_task_on_a_busy_sqlite_is_a_note_and_its_other_errors_are_not():
    shown = feed(ErrorLines(Clock()), DOCKET)
    assert len(shown) == 1 and shown[0].startswith("note: SQLite was busy")
    other = DOCKET.replace("database is locked", "disk I/O error")
    assert feed(ErrorLines(Clock()), other)[1] == "sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) disk I/O error"


CLIENT_LEFT = """\
09:12:01.004 | ERROR   | uvicorn.error - Exception in ASGI application
Traceback (most recent call last):
  File "/site-packages/uvicorn/protocols/websockets/websockets_impl.py", line 244, in run_asgi
    result = await self.app(self.scope, self.asgi_receive, self.asgi_send)
  File "/site-packages/starlette/websockets.py", line 80, in _raise_on_disconnect
    raise WebSocketDisconnect(message["code"], message.get("reason"))
starlette.websockets.WebSocketDisconnect
09:12:01.210 | INFO    | prefect.server - Stopping
"""


def test_a_websocket_client_that_left_is_a_note_and_other_asgi_errors_are_not():
    assert feed(ErrorLines(Clock()), CLIENT_LEFT) == [
        "note: a client (a worker, a browser tab) closed its event stream while the server answered it "
        "(Starlette logs the disconnect as an error; nothing is lost)"]
    other = CLIENT_LEFT.replace("starlette.websockets.WebSocketDisconnect", "KeyError: 'flow_run_id'")
    assert feed(ErrorLines(Clock()), other) == ["uvicorn.error: Exception in ASGI application",
                                                "KeyError: 'flow_run_id'"]
