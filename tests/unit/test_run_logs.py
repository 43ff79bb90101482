"""`lifecycle run X` prints its deployment run's log lines as they reach the server: each once, none lost.
The lines come from the worker and from the run's processes (a suspended close resumes in another one),
each sending its own batches, so a line stamped earlier can arrive after a later one; and the process of a
run that suspends says "Finished in state Suspended(...)", which is not the run's end."""

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from lifecycle.runner import LOG_PAGE, RunLogs

START = datetime(2026, 11, 30, 23, 0, tzinfo=timezone.utc)


class Server:
    """The server's log store as the API answers it: the lines that have arrived, stamped at or after
    `after`, sorted by time, a page at a time."""

    def __init__(self):
        self.arrived: list = []

    def send(self, seconds: float, message: str, task_run_id=None) -> None:
        self.arrived.append(SimpleNamespace(id=len(self.arrived), timestamp=START + timedelta(seconds=seconds),
                                            message=message, task_run_id=task_run_id))

    def read_page(self, after, offset: int) -> list:
        lines = sorted((log for log in self.arrived if after is None or log.timestamp >= after),
                       key=lambda log: log.timestamp)
        return lines[offset:offset + LOG_PAGE]


def test_a_line_that_arrives_after_a_later_one_is_printed_all_the_same():
    server, shown = Server(), []
    logs = RunLogs(server.read_page, lambda log: shown.append(log.message))
    server.send(0, "Worker submitting flow run")
    server.send(5, "Opening process...")                 # the worker's batch arrives first
    assert logs.print_new() is False
    server.send(3, "finance refused by claire.finance (the October rates are wrong)")  # the run's, stamped earlier
    server.send(6, "Finished in state Failed('refused')")
    assert logs.print_new() is True
    assert shown == ["Worker submitting flow run", "Opening process...",
                     "finance refused by claire.finance (the October rates are wrong)",
                     "Finished in state Failed('refused')"]
    assert logs.print_new() is False and len(shown) == 4          # each line once


def test_a_suspension_is_not_the_runs_last_word_nor_a_tasks_end():
    server, shown = Server(), []
    logs = RunLogs(server.read_page, lambda log: shown.append(log.message))
    server.send(0, "Suspending flow run, execution will be rescheduled when this flow run is resumed.")
    server.send(1, "Finished in state Suspended('Suspended', type=PAUSED)")
    server.send(2, "Finished in state Paused()")
    server.send(3, "Finished in state Completed()", task_run_id="a task")
    assert logs.print_new() is False
    server.send(600, "Finished in state Completed()")
    assert logs.print_new() is True


def test_more_lines_than_a_page_at_once_are_all_printed_in_order():
    server, shown = Server(), []
    logs = RunLogs(server.read_page, lambda log: shown.append(log.message))
    for index in range(LOG_PAGE * 2 + 7):
        server.send(index / 1000, f"line {index}")
    logs.print_new()
    assert shown == [f"line {index}" for index in range(LOG_PAGE * 2 + 7)]


def test_a_log_line_quoting_stored_text_is_printed_as_stored(capsys):
    """A run's log may quote a customer's name: an ESC or a bidi override in it is printed as its escape, as
    `show` prints it; the log's own line breaks (a traceback) stay."""
    from lifecycle.runner import _print_log

    _print_log(SimpleNamespace(message="C032 Evil\x1b[31m \u202eRTL: notice sent\nTraceback (most recent call last):",
                               timestamp=START, level=20, task_run_id=None), None)
    err = capsys.readouterr().err
    assert err.endswith("INFO    C032 Evil\\x1b[31m \\u202eRTL: notice sent\nTraceback (most recent call last):\n")
