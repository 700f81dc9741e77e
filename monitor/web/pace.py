"""The web gives way to the poll cycle: while a poll pass runs, a web process spends at
most ``http.cpu_while_polling`` cores.

    pacer = Pacer(budget=lambda: 0.25, polling=is_polling, spent=cpu_seconds)
    async with pacer.turn():
        ...  # handle one request

Why: on a small machine twenty dashboard clients take whatever CPU the daemon leaves,
and the daemon needs more than its one Python thread: its parse process, its
database backend, the feeds' TLS. ``serve --nice`` lowers the web process, but not the
PostgreSQL backends it keeps busy, nor the clients (bench/web.py measured the ingest
20-40% slower beside 20 clients at ``--nice 10``). So while some process holds a feed
lease (a poll pass runs), requests take turns, one at a time, and a request starts
only when the CPU spent so far fits the budget: a token bucket refilled at ``budget``
CPU seconds per second, holding at most ``BURST_S``. When nothing polls, requests run
freely and at once.

``spent()`` is the CPU the web has used so far: under ``serve`` the whole process's
(all of it is the web) plus, on PostgreSQL, the time its store calls waited for the
database, which is the backend's work; under ``run`` only its store calls' (the
process is mostly the daemon's).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

#: CPU seconds a web process may spend at once after an idle spell (one heavy page).
BURST_S = 0.05
#: How often ``serve`` asks the database whether a poll pass runs.
CHECK_EVERY_S = 1.0


class Pacer:
    """Requests take turns under a CPU budget while ``polling()`` says a pass runs."""

    def __init__(self, budget: Callable[[], float | None], polling: Callable[[], Awaitable[bool]],
                 spent: Callable[[], float], *,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self.budget = budget
        self._polling = polling
        self._spent = spent
        self._monotonic = monotonic
        self._sleep = sleep
        self._credit = BURST_S
        self._marks: tuple[float, float] | None = None  # (wall, spent) when last settled
        self._turn: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        #: Requests that waited for the budget, and the seconds they waited (metrics).
        self.waits = 0
        self.waited_s = 0.0

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        budget = self.budget()  # the settings in force (a reload may change it)
        if budget is None or not await self._polling():
            self._marks = None  # the next busy spell starts with a full bucket
            yield
            return
        async with self._lock():
            owed = self._settle(budget)
            if owed > 0:  # one sleep repays the debt (no loop on rounding leftovers)
                await self._sleep(owed)
                self._settle(budget)
                self.waits += 1
                self.waited_s += owed
            yield

    def _settle(self, budget: float) -> float:
        """Bring the bucket up to now; the seconds to wait until it is not in debt."""
        wall, spent = self._monotonic(), self._spent()
        if self._marks is None:
            self._credit = BURST_S
        else:
            self._credit = min(BURST_S, self._credit + budget * (wall - self._marks[0])
                               - (spent - self._marks[1]))
        self._marks = (wall, spent)
        return -self._credit / budget if self._credit < 0 else 0.0

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._turn is None or self._turn[0] is not loop:  # a lock is per loop
            self._turn = (loop, asyncio.Lock())
        return self._turn[1]


class PollingCheck:
    """``await check()``: whether any process polls, from the feed leases in the
    database, asked at most every CHECK_EVERY_S (concurrent callers share one query).
    A failing database counts as not polling: the web answers 503 on its own then."""

    def __init__(self, ask: Callable[[], Awaitable[bool]], *,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._ask = ask
        self._monotonic = monotonic
        self._answer = False
        self._asked_at = float("-inf")
        self._asking: asyncio.Future[bool] | None = None

    async def __call__(self) -> bool:
        if self._monotonic() - self._asked_at < CHECK_EVERY_S:
            return self._answer
        if self._asking is None:
            self._asking = asyncio.ensure_future(self._refresh())
        asking = self._asking
        return await asyncio.shield(asking)

    async def _refresh(self) -> bool:
        try:
            self._answer = await self._ask()
        except Exception:  # noqa: BLE001 - the request itself meets the outage
            self._answer = False
        finally:
            self._asked_at = self._monotonic()
            self._asking = None
        return self._answer
