"""Run the web app: beside the daemon in its event loop (``run``), or alone (``serve``)."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

from monitor.config import Settings
from monitor.errors import ConfigError, MonitorError
from monitor.store.repo import Store
from monitor.web.app import make_app

if TYPE_CHECKING:
    from monitor.service import Monitor

log = logging.getLogger(__name__)
#: How long open requests (live streams) get to finish when stopping.
SHUTDOWN_S = 3.0


async def start(app: web.Application, settings: Settings, *,
                reuse_port: bool = False) -> web.AppRunner:
    """Listen on ``http.listen``; raises ConfigError when the address is unusable.
    ``reuse_port``: share the port with sibling processes (``serve --workers``)."""
    http = settings.http
    assert http is not None
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_S)
    await runner.setup()
    try:
        await web.TCPSite(runner, http.host, http.port, reuse_port=reuse_port or None).start()
    except OSError as e:
        await runner.cleanup()
        raise ConfigError(f"http.listen: cannot listen on {http.listen}: {e.strerror or e}") \
            from None
    log.info("web.listening address=%s tokens=%d", http.listen, len(http.tokens))
    return runner


async def run_with_web(monitor: Monitor, stop: asyncio.Event | None = None) -> None:
    """The daemon with its web listener in the same event loop (which also serves
    the WebSub callbacks: monitor.websub.listener.callback_address)."""
    app = make_app(lambda: monitor.settings, monitor.store, monitor=monitor)
    runner = await start(app, monitor.settings)
    try:
        await monitor.run_forever(stop)
    finally:
        await runner.cleanup()


async def serve_only(settings: Settings, store: Store,
                     stop: asyncio.Event | None = None, *, reuse_port: bool = False) -> None:
    """Serve the dashboard and API over ``store`` without polling or delivering."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = await start(make_app(lambda: settings, store), settings, reuse_port=reuse_port)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _serve_worker(settings: Settings, open_store: Callable[[], Store]) -> None:
    try:
        store = open_store()
        try:
            asyncio.run(serve_only(settings, store, reuse_port=True))
        finally:
            store.close()
    except MonitorError as e:
        print(f"news-monitor: {e}", file=sys.stderr)
        raise SystemExit(1) from None


def serve_processes(settings: Settings, open_store: Callable[[], Store], workers: int) -> int:
    """Serve from ``workers`` processes sharing the port (SO_REUSEPORT: the kernel
    spreads connections), each with its own event loop and database connections.
    One Python process renders on one core at a time; on PostgreSQL this is how reads
    scale. Returns the exit status: 0 when stopped by a signal, 1 when a worker died."""
    ctx = multiprocessing.get_context("fork")  # the settings are already parsed
    procs = [ctx.Process(target=_serve_worker, args=(settings, open_store),
                         name=f"serve-{i}", daemon=False) for i in range(workers)]
    stopping = False

    def stop(_sig: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for proc in procs:
            proc.start()
        log.info("web.workers count=%d", workers)
        while not stopping and all(proc.is_alive() for proc in procs):
            multiprocessing.connection.wait([p.sentinel for p in procs], timeout=0.5)
    finally:
        for proc in procs:
            if proc.is_alive():
                os.kill(proc.pid, signal.SIGTERM)  # type: ignore[arg-type]
        for proc in procs:
            proc.join(SHUTDOWN_S + 5)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    died = [p for p in procs if p.exitcode not in (0, None, -signal.SIGTERM)]
    if died or not stopping:
        log.error("web.worker_died exit_codes=%s", [p.exitcode for p in procs])
        return 1
    return 0
