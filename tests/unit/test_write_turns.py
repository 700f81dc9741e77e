"""SQLite write turns: one writer at a time in this process (and with the processes it
shares them with), short writes before bulk."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from typing import Any

from monitor.store.db import ProcessTurns, WriteTurns


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


def _short_write(between: ProcessTurns, wrote: Any) -> None:
    with WriteTurns(between).turn():
        wrote.set()


def test_between_processes_a_short_write_waiting_goes_before_the_next_bulk_one() -> None:
    """`once`'s delivery process records each sent alert between the poll's batches."""
    ctx = mp.get_context("spawn")
    between = ProcessTurns(ctx, timeout_s=30)
    turns, wrote = WriteTurns(between), ctx.Event()
    with turns.turn(bulk=True):
        child = ctx.Process(target=_short_write, args=(between, wrote))
        child.start()
        _wait_until(lambda: _held(between._gate), timeout=30)  # it waits for the turn
        assert not wrote.is_set()
    with turns.turn(bulk=True):  # waited for the short write of the other process
        assert wrote.is_set()
    child.join(10)
    assert child.exitcode == 0


def test_a_turn_held_too_long_by_another_process_is_given_up_on() -> None:
    """A process stopped in a write: SQLite's busy timeout decides, not a wait for ever."""
    between = ProcessTurns(mp.get_context("spawn"), timeout_s=0.2)
    assert between._turn.acquire()  # as a stopped process would hold it
    started = time.monotonic()
    with WriteTurns(between).turn(bulk=True):
        waited = time.monotonic() - started
    assert 0.2 <= waited < 5
    with WriteTurns(between).turn():  # a short write too; the gate is free again
        pass
    assert not _held(between._gate)


def _held(lock: Any) -> bool:
    if lock.acquire(block=False):
        lock.release()
        return False
    return True
