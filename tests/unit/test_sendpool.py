"""SendPool: a target's sends go through one kept thread; a hung one is left behind."""

from __future__ import annotations

import threading
import time

from monitor.alerts.sendpool import SendOutcome, SendPool


def _outcomes(pool: SendPool, n: int, timeout: float = 5.0) -> list[SendOutcome]:
    got: list[SendOutcome] = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        assert time.monotonic() < deadline, got
        got += pool.wait(until=time.monotonic() + 0.1)
    return got


def test_a_targets_sends_reuse_one_thread_started_once() -> None:
    pool, threads = SendPool(), []

    def send() -> None:
        threads.append(threading.current_thread())

    for job in range(5):
        pool.start("a", job, send, timeout_s=5)
        (outcome,) = _outcomes(pool, 1)
        assert (outcome.job, outcome.error) == (job, None)
    pool.start("b", "other", send, timeout_s=5)
    _outcomes(pool, 1)
    assert len(set(threads[:5])) == 1 and threads[5] is not threads[0]
    assert threads[0].is_alive()  # kept for the target's next send


def test_a_hung_send_keeps_its_thread_and_the_next_send_gets_a_new_one() -> None:
    pool, release, threads = SendPool(), threading.Event(), []

    def hang() -> str | None:
        threads.append(threading.current_thread())
        release.wait(10)
        return None

    def send() -> None:
        threads.append(threading.current_thread())

    pool.start("a", "hung", hang, timeout_s=0.2)
    (timed_out,) = _outcomes(pool, 1)
    assert timed_out.timed_out and "a" in pool.stuck_targets()
    release.set()  # it returns at last: a late outcome, and its thread ends
    (late,) = _outcomes(pool, 1)
    assert late.late and late.job == "hung" and late.error is None
    threads[0].join(5)
    assert not threads[0].is_alive()
    pool.start("a", "next", send, timeout_s=5)
    (outcome,) = _outcomes(pool, 1)
    assert outcome.job == "next" and threads[1] is not threads[0]
