"""Run the web app: beside the daemon in its event loop (``run``), or alone (``serve``)."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import TYPE_CHECKING

from aiohttp import web

from monitor.config import Settings
from monitor.errors import ConfigError
from monitor.store.repo import Store
from monitor.web.app import make_app

if TYPE_CHECKING:
    from monitor.service import Monitor

log = logging.getLogger(__name__)
#: How long open requests (live streams) get to finish when stopping.
SHUTDOWN_S = 3.0


async def start(app: web.Application, settings: Settings) -> web.AppRunner:
    """Listen on ``http.listen``; raises ConfigError when the address is unusable."""
    http = settings.http
    assert http is not None
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_S)
    await runner.setup()
    try:
        await web.TCPSite(runner, http.host, http.port).start()
    except OSError as e:
        await runner.cleanup()
        raise ConfigError(f"http.listen: cannot listen on {http.listen}: {e.strerror or e}") \
            from None
    log.info("web.listening address=%s tokens=%d", http.listen, len(http.tokens))
    return runner


async def run_with_web(monitor: Monitor) -> None:
    """The daemon with its web listener in the same event loop."""
    app = make_app(lambda: monitor.settings, monitor.store, monitor=monitor)
    runner = await start(app, monitor.settings)
    try:
        await monitor.run_forever()
    finally:
        await runner.cleanup()


async def serve_only(settings: Settings, store: Store,
                     stop: asyncio.Event | None = None) -> None:
    """Serve the dashboard and API over ``store`` without polling or delivering."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = await start(make_app(lambda: settings, store), settings)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
