"""SQLite write turns: one writer at a time in this process, short writes before bulk."""

from __future__ import annotations

import threading
import time

from monitor.store.db import WriteTurns


def _wait_until(check: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def test_a_short_write_waiting_goes_before_a_bulk_one_that_waited_longer() -> None:
    turns, order = WriteTurns(), []
    release = threading.Event()

    def write(name: str, *, bulk: bool) -> None:
        with turns.turn(bulk=bulk):
            order.append(name)

    def hold() -> None:
        with turns.turn():
            order.append("holder")
            release.wait(5)

    threads = [threading.Thread(target=hold)]
    threads[0].start()
    _wait_until(lambda: order == ["holder"])
    threads.append(threading.Thread(target=write, args=("bulk",), kwargs={"bulk": True}))
    threads[-1].start()
    _wait_until(lambda: turns.waiting() == (0, 1))
    threads.append(threading.Thread(target=write, args=("short",), kwargs={"bulk": False}))
    threads[-1].start()
    _wait_until(lambda: turns.waiting() == (1, 1))
    release.set()
    for t in threads:
        t.join(5)
    assert order == ["holder", "short", "bulk"]
    assert turns.waiting() == (0, 0)


def test_turns_are_exclusive_and_reentrant() -> None:
    turns, inside, most = WriteTurns(), [0], [0]
    lock = threading.Lock()

    def write(bulk: bool) -> None:
        for _ in range(200):
            with turns.turn(bulk=bulk), turns.turn():  # the same thread again: no deadlock
                with lock:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                with lock:
                    inside[0] -= 1

    threads = [threading.Thread(target=write, args=(i % 2 == 0,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert most[0] == 1 and turns.waiting() == (0, 0)
