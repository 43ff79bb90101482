"""The e-invoicing deposits go several at a time (operations.einvoicing.side_by_side): a stop of the run stops
them (the ones already waiting on the platform finish, none starts), and no error of one deposit hides another."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from operations.einvoicing import side_by_side


def test_a_stop_of_the_run_starts_no_further_deposit_and_waits_for_those_under_way():
    started, finished = [], []
    lock = threading.Lock()

    def deposit(item: int) -> int:
        with lock:
            started.append(item)
        time.sleep(0.1)
        with lock:
            finished.append(item)
        return item

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.35)   # Ctrl-C while the run waits on its deposits
        with pytest.raises(KeyboardInterrupt):
            side_by_side(deposit, list(range(40)), 2)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    stopped_at = len(started)
    assert 2 <= stopped_at <= 12                       # a few, not the 40 a month's list would be
    assert sorted(finished) == sorted(started)         # those under way finished: none left half-done
    time.sleep(0.3)
    assert len(started) == stopped_at                  # and none started after the run stopped


def test_every_error_of_deposits_side_by_side_is_told_and_a_stop_comes_first():
    # the first four deposits are under way together before any fails (a loaded machine once let deposit 1 fail
    # before deposit 3 had started, so no stop was raised at all): the errors are truly side by side
    together = threading.Barrier(4)

    def deposit(item: int) -> int:
        if item < 4:
            together.wait(timeout=60)
        if item in (1, 2):
            raise RuntimeError(f"platform answered nonsense for {item}")
        if item == 3:
            raise SystemExit(3)
        return item

    with pytest.raises(SystemExit) as raised:
        side_by_side(deposit, list(range(10)), 4)
    notes = raised.value.__notes__
    assert "and beside it: RuntimeError: platform answered nonsense for 1" in notes
    assert "and beside it: RuntimeError: platform answered nonsense for 2" in notes


def test_the_outcomes_come_back_in_the_items_order():
    assert side_by_side(lambda item: item * 2, [5, 1, 4, 2], 3) == [10, 2, 8, 4]
    assert side_by_side(lambda item: item, [], 4) == []
