"""`lifecycle run X` waiting for its deployment run: the terminal says what the run waits for, once it has
waited a while, again when that changes, and again every few minutes while it lasts; never silent."""

from lifecycle.runner import Waiting


def test_a_wait_is_said_once_again_when_it_changes_and_reminded_while_it_lasts():
    now = [0.0]
    said: list[str] = []
    waiting = Waiting(said.append, quiet=10, remind=300, clock=lambda: now[0])
    reason = ["waiting for a concurrency slot of monthly-close (at most 1 at once) held by run a (Running since x)"]

    def poll(seconds: float, kind: str = "SCHEDULED") -> None:
        for _ in range(int(seconds)):
            now[0] += 1
            waiting.check(kind, lambda: reason[0])

    poll(5)
    assert said == []                                  # a run is usually taken within seconds: no noise
    poll(10)
    assert said == [reason[0]]
    poll(100)
    assert said == [reason[0]]                         # once, not every poll
    reason[0] = "waiting for a worker to pick it up (no worker online for pool lifecycle: is `lifecycle up` running?)"
    poll(11)
    assert said[-1] == reason[0] and len(said) == 2
    poll(300)
    assert said[-1].startswith(reason[0] + " (for ") and said[-1].endswith(" s)")   # still, and for how long
    count = len(said)
    poll(60, "RUNNING")
    assert len(said) == count                           # running: nothing more to say about waiting


def test_a_server_that_cannot_say_why_is_still_a_line():
    now = [0.0]
    said: list[str] = []
    waiting = Waiting(said.append, quiet=1, remind=300, clock=lambda: now[0])

    def broken():
        raise TimeoutError("busy")

    now[0] = 5
    waiting.check("PENDING", broken)
    assert said == ["waiting for the run to start (the server did not say why: TimeoutError)"]
