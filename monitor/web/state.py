"""What every handler of the web app shares (one object, stored on the app)."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from monitor.config import Settings
from monitor.store.repo import Store
from monitor.web.auth import Access, TokenBook
from monitor.web.pace import Pacer

if TYPE_CHECKING:
    from monitor.service import Monitor
    from monitor.web.metrics import Metrics

T = TypeVar("T")
#: Threads running the web's blocking store calls. The web's own pool, not asyncio's
#: default one: under `run` the daemon ingests through the default pool, and 20
#: dashboard clients queued there would make every feed's ingest wait behind them.
#: Fewer than the store's pooled connections (5), so a request never waits for one.
WEB_THREADS = 4
#: How many of the web's store calls run at once on PostgreSQL. Each keeps a server
#: backend busy, and backends run at the database server's priority whatever
#: ``serve --nice`` says: four at once beside a polling daemon on the same 2 cores made
#: the web's database work compete with the poll cycle at full weight (bench/web.py).
#: About two thirds of a call's CPU is the backend's (the rest is this process building
#: and decoding rows), so two are a core and a bit of database work at most. With 20
#: clients on a busy machine, one cost 15-40% of the requests/s of four (p95 110-220
#: ms); two served as many as four (p95 93-164 ms).
#: Per process: ``serve --workers N`` uses N times as many. SQLite reads run in this
#: process, under its own nice: as many as WEB_THREADS.
PG_WEB_SESSIONS = 2


@dataclass
class WebState:
    """The store, the current settings (they change on SIGHUP) and the daemon, if any."""

    store: Store
    #: The settings now in force (``run``: the daemon's, which a reload replaces).
    settings_now: Callable[[], Settings]
    clock: Callable[[], datetime]
    started_at: datetime
    metrics: Metrics
    #: The polling daemon (``run``); None under ``serve``.
    monitor: Monitor | None = None
    #: Route -> who may use it (a route missing here is admin-only).
    access: dict[Any, Access] = field(default_factory=dict)
    #: Routes whose requests take turns while the daemon polls (monitor.web.pace).
    paced: set[Any] = field(default_factory=set)
    #: Set when the server shuts down: live streams end.
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    _book: tuple[Any, TokenBook] | None = None
    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(
        WEB_THREADS, thread_name_prefix="web"))
    #: Store calls that may run at once (``None``: as many as there are threads).
    sessions: int | None = None
    _slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
    #: Gives way to the poll cycle (monitor.web.pace); set by make_app.
    pacer: Pacer | None = None
    #: CPU seconds of the store calls so far, and the seconds they waited for something
    #: else than this process's CPU (on PostgreSQL: the database backend's work).
    store_cpu_s: float = 0.0
    store_wait_s: float = 0.0
    _count_lock: threading.Lock = field(default_factory=threading.Lock)

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` (a blocking store call) on the web's threads, at
        most ``sessions`` at once."""
        call = functools.partial(self._counted, fn, *args, **kwargs)
        loop = asyncio.get_running_loop()
        if self.sessions is None:
            return await loop.run_in_executor(self.executor, call)
        if self._slots is None or self._slots[0] is not loop:  # a semaphore is per loop
            self._slots = (loop, asyncio.Semaphore(self.sessions))
        async with self._slots[1]:
            return await loop.run_in_executor(self.executor, call)

    def _counted(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            used = time.thread_time() - cpu
            waited = max(0.0, time.perf_counter() - wall - used)
            with self._count_lock:
                self.store_cpu_s += used
                self.store_wait_s += waited

    @property
    def settings(self) -> Settings:
        return self.settings_now()

    def tokens(self) -> TokenBook:
        """The tokens of the current settings (rebuilt after a reload)."""
        http = self.settings.http
        if self._book is None or self._book[0] is not http:
            self._book = (http, TokenBook(http.tokens if http else {}))
        return self._book[1]


STATE = web.AppKey("state", WebState)
