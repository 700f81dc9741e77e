"""The daemon's two loops: a pass, then a pause of one tick (or until woken).

Each loop runs its passes one after another, so a pass can never overlap itself
and nothing is ever "skipped" (the APScheduler jobs this replaces logged a
warning whenever a tick found the previous pass still running). Polling and
delivery are separate loops: a long delivery drain never holds up polling.

A pass that fails because the database is unavailable is retried after a growing,
jittered pause (``backoff``) instead of the tick, and logs nothing: the store logs
the outage once and its end once (monitor.store.health).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator

from monitor.errors import Interrupted, StoreUnavailable

log = logging.getLogger(__name__)


def _doubling(failures: int) -> float:
    return float(min(60, 2 ** (failures - 1)))


async def every(
    tick_s: Callable[[], float], work: Callable[[], Awaitable[object]], stop: asyncio.Event,
    wake: asyncio.Event | None = None, *, name: str,
    backoff: Callable[[int], float] = _doubling,
) -> None:
    """Run ``work`` now, then ``tick_s()`` seconds after each pass ends (sooner when
    ``wake`` is set), until ``stop`` is set. A failing pass is logged, not fatal; after
    the n-th pass in a row failed on an unavailable database, the pause is
    ``backoff(n)`` seconds."""
    failures = 0
    while not stop.is_set():
        if wake is not None:
            wake.clear()
        delay = None
        try:
            await work()
            failures = 0
        except StoreUnavailable as e:  # logged once by the store; the daemon waits it out
            failures += 1
            delay = backoff(failures)
            log.debug("%s.deferred failures=%d retry_in_s=%.1f error=%s", name, failures,
                      delay, e)
        except Exception:  # the next tick tries again; the daemon keeps running
            log.exception("%s.failed", name)
        # A back-off is waited out in full: only a stop cuts it short.
        await pause(tick_s() if delay is None else delay, stop, wake if delay is None else None)


async def pause(seconds: float, stop: asyncio.Event, wake: asyncio.Event | None) -> None:
    """Sleep ``seconds``, or less when ``stop`` or ``wake`` is set."""
    events = [asyncio.ensure_future(e.wait()) for e in (stop, wake) if e is not None]
    try:
        await asyncio.wait(events, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in events:
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter


@contextlib.contextmanager
def interruptible(halt: threading.Event) -> Iterator[None]:
    """Within a coroutine: SIGINT/SIGTERM set ``halt`` and cancel the current task, which
    then raises ``Interrupted`` (its caller releases the leases it held)."""
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    caught: list[signal.Signals] = []

    def on_signal(sig: signal.Signals) -> None:
        caught.append(sig)
        halt.set()
        if task is not None:
            task.cancel()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal, sig)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            pass
    try:
        yield
    except asyncio.CancelledError:
        if caught:
            raise Interrupted(f"interrupted by {caught[0].name}") from None
        raise
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
