"""Blocking sends in worker threads, each with a total deadline.

apprise sends block, and its own timeouts are per socket operation (4 s per HTTP
read, 15 s per SMTP command): a server that accepts the connection and then
answers nothing, or one byte now and then, holds a send for as long as it likes.
A :class:`SendPool` runs each send in a daemon thread of its target's and stops waiting
for it at its deadline (``delivery.timeout``): the caller records the send as
failed (a timeout, retried later) and goes on with the other targets.

A thread cannot be killed. One past its deadline is kept as *stuck* until it
returns, and its target takes no new send while it is: a hung target holds at
most one thread, so threads never pile up (one per target that sent in the last
``WORKER_IDLE_S``, plus one stuck per configured target). When a stuck send returns at last, its
outcome is reported as ``late`` (a late success can then be recorded as sent).
The pool outlives delivery passes (the daemon keeps one), so the next pass knows
which targets are still stuck.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: A send: returns None when delivered, else the (redacted) reason it failed.
SendFn = Callable[[], "str | None"]


@dataclass(eq=False)
class _Send:
    target: str
    job: Any
    deadline: float
    timeout_s: float
    #: Set by the worker thread when the send returned.
    error: str | None = None
    done: bool = False


class _Worker:
    """A target's send thread, kept between its sends: handing a send to a running
    thread costs nothing, where starting a thread waited for the kernel to run it
    (a fifth of a delivery process's time, ~3 ms a send, on a busy machine)."""

    def __init__(self, pool: SendPool, target: str) -> None:
        self.target = target
        self.jobs: queue.SimpleQueue[tuple[_Send, SendFn]] = queue.SimpleQueue()
        #: Its send hung past the deadline: it ends after that send returns, and a new
        #: worker serves the target.
        self.retired = False
        self.thread = threading.Thread(target=pool._work, args=(self,), daemon=True,
                                       name=f"send-{target}")


@dataclass(frozen=True)
class SendOutcome:
    """How one send ended."""

    #: What the caller handed to :meth:`SendPool.start` (the outbox row).
    job: Any
    target: str
    #: None: delivered. Otherwise why not (``timeout: ...`` when the deadline passed).
    error: str | None
    #: The send returned after its timeout had been reported (its outcome came too late).
    late: bool = False
    #: The deadline passed with the send still running (its thread is now stuck).
    timed_out: bool = False


#: Put in the queue of finished sends by :meth:`SendPool.nudge`: not a send.
_NUDGE = _Send("", None, 0.0, 0.0)
#: A target's idle send thread ends after this many seconds without a send.
WORKER_IDLE_S = 60.0


class SendPool:
    """Sends in flight, by target (at most one per target), and the stuck ones."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._finished: queue.SimpleQueue[_Send] = queue.SimpleQueue()
        self._running: dict[str, _Send] = {}
        self._stuck: dict[str, _Send] = {}
        self._workers: dict[str, _Worker] = {}
        self._nudged = False
        #: Outcomes handed back because they could not be recorded (the database was
        #: away): the next :meth:`wait` returns them first.
        self._unrecorded: list[SendOutcome] = []

    def nudge(self) -> None:
        """New alerts were queued: a :meth:`wait` under way returns now, and
        :meth:`take_nudge` says so once (any thread may call this)."""
        self._nudged = True
        self._finished.put(_NUDGE)

    def take_nudge(self) -> bool:
        """Whether :meth:`nudge` was called since the last call of this."""
        nudged, self._nudged = self._nudged, False
        return nudged

    @property
    def running(self) -> int:
        """Sends started and not past their deadline."""
        return len(self._running)

    def busy_targets(self) -> frozenset[str]:
        """Targets with a send running or stuck: they take no other send now."""
        with self._lock:
            return frozenset(self._running) | frozenset(self._stuck)

    def stuck_targets(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._stuck)

    def start(self, target: str, job: Any, send: SendFn, timeout_s: float) -> None:
        """Run ``send`` in the target's daemon thread; its outcome comes from :meth:`wait`."""
        if target in self.busy_targets():
            raise RuntimeError(f"target {target} already has a send in flight")
        item = _Send(target, job, time.monotonic() + timeout_s, timeout_s)
        with self._lock:
            self._running[target] = item
            worker = self._workers.get(target)
            new = worker is None
            if worker is None:
                worker = self._workers[target] = _Worker(self, target)
            worker.jobs.put((item, send))
        if new:
            worker.thread.start()

    def _work(self, worker: _Worker) -> None:
        """A target's thread: its sends, one at a time, until idle or retired."""
        while True:
            try:
                item, send = worker.jobs.get(timeout=WORKER_IDLE_S)
            except queue.Empty:
                with self._lock:
                    if worker.jobs.empty():
                        if self._workers.get(worker.target) is worker:
                            del self._workers[worker.target]
                        return
                continue  # a send was handed over just now
            self._run(item, send)
            if worker.retired:
                return

    def _run(self, item: _Send, send: SendFn) -> None:
        try:
            item.error = send()
        except BaseException as e:  # the caller's send catches everything; belt and braces
            item.error = f"internal error: {type(e).__name__}"
        item.done = True
        self._finished.put(item)

    def put_back(self, outcomes: list[SendOutcome]) -> None:
        """Outcomes the caller could not record: :meth:`wait` returns them again, so a
        delivered message is marked sent once the database answers, not sent twice."""
        self._unrecorded.extend(outcomes)

    def take_unrecorded(self) -> list[SendOutcome]:
        """The outcomes put back and not yet returned by :meth:`wait` (for a last try)."""
        left, self._unrecorded = self._unrecorded, []
        return left

    def wait(self, until: float | None = None) -> list[SendOutcome]:
        """Wait until a send returns, one passes its deadline, :meth:`nudge`, or
        ``until`` (``time.monotonic()``); then every outcome known, possibly none
        (outcomes put back first, without waiting)."""
        if self._unrecorded:
            until = 0.0
        deadlines = [s.deadline for s in self._running.values()]
        if until is not None:
            deadlines.append(until)
        # Nothing running and no ``until``: only stuck sends, which may never return.
        timeout = min(deadlines) - time.monotonic() if deadlines else 0.0
        items: list[_Send] = []
        try:
            if timeout > 0:
                items.append(self._finished.get(timeout=timeout))
        except queue.Empty:
            pass
        while True:
            try:
                items.append(self._finished.get_nowait())
            except queue.Empty:
                break
        outcomes = self.take_unrecorded()
        outcomes += [self._finish(item) for item in items if item is not _NUDGE]
        return outcomes + self._expire(time.monotonic())

    def _finish(self, item: _Send) -> SendOutcome:
        with self._lock:
            late = self._stuck.get(item.target) is item
            if late:
                del self._stuck[item.target]
            else:
                self._running.pop(item.target, None)
        return SendOutcome(item.job, item.target, item.error, late=late)

    def _expire(self, now: float) -> list[SendOutcome]:
        """Sends past their deadline: reported as timeouts, their threads kept as stuck."""
        expired: list[SendOutcome] = []
        with self._lock:
            for target, item in list(self._running.items()):
                if now >= item.deadline and not item.done:
                    del self._running[target]
                    self._stuck[target] = item
                    worker = self._workers.pop(target, None)
                    if worker is not None:
                        worker.retired = True
                    error = f"timeout: no answer within {item.timeout_s:g} s (delivery.timeout)"
                    expired.append(SendOutcome(item.job, target, error, timed_out=True))
        return expired
