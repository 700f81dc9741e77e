"""Delivery in a process of its own, beside the poll of a ``once`` over many feeds.

In one process, the poll and the delivery share one interpreter lock, so their CPU
adds up: on ``bench/ingest.py``'s farm (500 feeds, 957 alerts to one webhook) the
sends added ~75% to a first ``once``, whatever the threads (apprise's send costs a few
milliseconds of CPU each). A :class:`DeliveryProcess` runs the same :func:`drain`
loop in a spawned child with its own database connection, on another core, while the
parent polls: the alerts go out as they are stored, and the run ends soon after its
last fetch.

Nothing about the outbox guarantees changes: the child claims rows under its own
lease owner, records each outcome as the loop in the parent would, and on a stop
gives back what it did not send, records what it sent, and releases its leases.

Messages on the pipe, parent to child: ``"alerts"`` (new alerts are stored),
``"done"`` (the poll ended: send what is due, then report), ``"stop"`` (interrupted:
send nothing more). The pipe closing means ``"stop"``. The child answers once, with
its :class:`DeliveryReport` and the error that ended it, if any.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from monitor.alerts.drain import DeliveryReport, Dispatch, drain, record_before_exit
from monitor.errors import MonitorError
from monitor.redact import log_to_stderr, redact

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from monitor.alerts.sendpool import SendPool
    from monitor.config import Settings
    from monitor.store.db import ProcessTurns
    from monitor.store.repo import Store

log = logging.getLogger(__name__)

#: Between passes, the child looks for due alerts this often even without a message.
IDLE_WAIT_S = 0.5
#: The longest a child may take to start and read its settings.
HANDOFF_S = 60.0
#: How long after the deadline (and the last send's timeout) ``finish`` waits for a report.
REPORT_GRACE_S = 30.0


class DeliveryProcess:
    """A delivery child, started by the first :meth:`nudge` (a run with nothing to send
    never pays for a process). Every method may be called from any thread."""

    def __init__(self, store: Store, settings: Settings, owner: str, *,
                 deadline: float | None) -> None:
        self._store, self._settings = store, settings
        #: The child's lease owner: its own, so the parent's release of its feed leases
        #: never frees a row the child is sending.
        self.owner = f"{owner}/deliver"
        #: ``time.monotonic()`` value past which nothing more is claimed (CLOCK_MONOTONIC
        #: is one clock for every process of the machine).
        self._deadline = deadline
        self._lock = threading.Lock()
        self._proc: Any = None
        self._conn: Connection | None = None
        #: Sends the settings to the child after its start (see ``_start``).
        self._handoff: threading.Thread | None = None

    def nudge(self) -> None:
        """Alerts are due: start the child if it is not running, else wake it. Never
        waits for the child (an ingest thread calls this)."""
        with self._lock:
            if self._proc is None:
                self._start()
            elif self._handoff is None or not self._handoff.is_alive():
                self._send("alerts")
            # else: not started yet; its first pass, right after the start, sends them

    def _start(self) -> None:
        from monitor.store.db import ProcessTurns

        ctx = mp.get_context("spawn")  # the parent has threads (resolver, database) to not copy
        parent, child = ctx.Pipe()
        # SQLite: the child's one-row writes go between the poll's batches, not after them.
        turns = ProcessTurns(ctx, self._settings.storage.busy_timeout_s)
        self._store.share_write_turns(turns)
        self._proc = ctx.Process(target=_child_main, name="news-monitor-deliver", daemon=True,
                                 args=(child, turns))
        self._proc.start()
        child.close()
        self._conn = parent
        # The settings (~200 KB for 500 feeds and 1,000 rules) go over our pipe, from a
        # thread: spawn's own payload pipe keeps the child's end open in this process
        # until the payload is written, so a child that died while reading it (a Ctrl-C
        # at its start) would block the writer for good, and the reader imports modules
        # as it reads: the caller would wait for that.
        payload = (self._settings, self.owner, self._deadline,
                   logging.getLogger().getEffectiveLevel())
        self._handoff = threading.Thread(target=self._send, args=(payload,), daemon=True,
                                         name="deliver-handoff")
        self._handoff.start()
        log.debug("deliver.process_started pid=%s", self._proc.pid)

    def _send(self, message: object) -> None:
        if self._handoff is not None and self._handoff is not threading.current_thread():
            self._handoff.join(HANDOFF_S)  # messages go after the settings
            if self._handoff.is_alive():  # it does not read: finish() and stop() end it
                log.warning("deliver.process_stuck pid=%s: it did not take its settings "
                            "within %g s", self._proc.pid, HANDOFF_S)
                return
        try:
            assert self._conn is not None
            self._conn.send(message)
        except (OSError, ValueError):  # it ended: finish() or stop() says how
            pass

    def finish(self, halted: Callable[[], bool] = lambda: False) -> DeliveryReport | None:
        """The poll ended: let the child send what is due and report. None when it ended
        without a report (killed); MonitorError when it stopped on an error. Once
        ``halted()`` (a SIGTERM to this process alone), the child is told to stop."""
        with self._lock:
            if self._proc is None:
                return None
            self._send("done")
        timeout = None
        if self._deadline is not None:  # past it, the child claims nothing more
            timeout = (max(0.0, self._deadline - time.monotonic()) + REPORT_GRACE_S
                       + self._settings.delivery.timeout_s)
        return self._wait(timeout, halted)

    def stop(self, timeout_s: float) -> DeliveryReport | None:
        """Interrupted: the child sends nothing more, records what it sent and exits;
        it is killed if it is not gone within ``timeout_s``."""
        with self._lock:
            if self._proc is None or self._conn is None or self._conn.closed:
                return None
            self._send("stop")
        try:
            return self._wait(timeout_s)
        except MonitorError:
            return None

    def _wait(self, timeout_s: float | None,
              halted: Callable[[], bool] = lambda: False) -> DeliveryReport | None:
        assert self._conn is not None
        answer: dict[str, Any] | None = None
        until = None if timeout_s is None else time.monotonic() + timeout_s
        told = False
        try:
            while answer is None:
                if not told and halted():
                    self._send("stop")
                    told = True
                left = 0.25 if until is None else min(0.25, until - time.monotonic())
                if self._conn.poll(max(0.0, left)):
                    answer = self._conn.recv()
                elif until is not None and time.monotonic() >= until:
                    break
        except (EOFError, OSError):
            answer = None
        finally:  # after its report it exits at once; without one, it gets no longer
            self._end(5.0 if answer is not None else 0.5)
        if answer is None:
            log.warning("deliver.process_lost exitcode=%s: the delivery process ended "
                        "without a report", self._proc.exitcode)
            return None
        if answer["error"]:
            raise MonitorError(answer["error"])
        return DeliveryReport(**answer["report"])

    def _end(self, grace_s: float) -> None:
        self._proc.join(grace_s)
        if self._proc.is_alive():
            log.warning("deliver.process_killed pid=%s: it did not stop in time; alerts it "
                        "held are sent again when their leases expire", self._proc.pid)
            self._proc.kill()
            self._proc.join()
        if self._conn is not None:
            self._conn.close()


def _child_main(conn: Connection, turns: ProcessTurns) -> None:
    """The delivery child: drain passes until the parent says the poll is done."""
    from monitor.alerts.sendpool import SendPool

    wake, done, halt = threading.Event(), threading.Event(), threading.Event()
    sends = SendPool()

    def stop(*_: object) -> None:
        halt.set()
        done.set()
        wake.set()
        sends.nudge()  # a drain waiting on a send looks at ``halt`` now

    # Ctrl-C reaches the whole process group: stop as the parent does, not mid-write.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        settings, owner, deadline, log_level = conn.recv()
    except (EOFError, OSError):
        return  # the parent is gone before it said anything
    log_to_stderr(log_level)
    report, error = DeliveryReport(), None
    store: Any = None
    try:
        from monitor.alerts.notifier import Notifier
        from monitor.alerts.policy import RuleDelivery, retry_policy
        from monitor.redact import register_secrets
        from monitor.store.repo import Store

        register_secrets(settings.secrets)
        store = Store.open(settings.database, migrate=False,
                           busy_timeout_s=settings.storage.busy_timeout_s)
        store.share_write_turns(turns)
        notifier = Notifier(settings.recipients)
        notifier.warm()  # apprise loads while the poll's first feeds are fetched
        threading.Thread(target=_listen, args=(conn, wake, done, stop, sends), daemon=True,
                         name="deliver-listen").start()
        delivery = settings.delivery
        dispatch = Dispatch(delivery.timeout_s, delivery.concurrency, sends)
        rules, policy = RuleDelivery.from_settings(settings), retry_policy(settings)
        while True:
            last = done.is_set()  # read first: the drain below then sees every alert stored
            wake.clear()
            passed = drain(store, notifier, _utcnow, owner=owner, batch=delivery.batch,
                           rules=rules, policy=policy, lease_s=delivery.lease_s,
                           deadline=deadline, stop=halt.is_set, dispatch=dispatch)
            report.add(passed)
            report.pending = passed.pending
            if last or halt.is_set() or passed.pending:
                break
            wake.wait(IDLE_WAIT_S)
    except MonitorError as e:
        error = str(e)
    except Exception as e:  # a bug: the parent reports it and its run fails
        log.exception("deliver.process_failed")
        error = redact(f"delivery process: {type(e).__name__}: {e}")
    finally:
        if store is not None:
            record_before_exit(store, sends, _utcnow())
            try:
                store.release_leases(owner)
            except Exception as e:  # noqa: BLE001 - the leases expire on their own
                log.warning("deliver.leases_not_released owner=%s error=%s", owner,
                            redact(str(e)))
            store.close()
        try:
            conn.send({"report": asdict(report), "error": error})
        except OSError:
            pass


def _listen(conn: Connection, wake: threading.Event, done: threading.Event,
            stop: Callable[[], None], sends: SendPool) -> None:
    """The parent's messages, turned into events (and a nudge of a drain under way)."""
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            message = "stop"  # the parent is gone
        if message == "stop":
            stop()
            return
        if message == "done":
            done.set()
        wake.set()
        sends.nudge()


def _utcnow() -> datetime:
    return datetime.now(UTC)

