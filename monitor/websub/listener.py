"""The callback listener: a minimal aiohttp.web app on ``websub.listen``.

Self-contained so the HTTP API (monitor/web/) can later mount ``routes`` in its own
application instead of starting this one. Handlers only translate HTTP to the
subscriber's two methods.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from monitor.websub.subscriber import WebSubscriber

log = logging.getLogger(__name__)

#: Pushed bodies larger than this are refused (a feed document, not a file upload).
MAX_PUSH_BYTES = 10_000_000


def routes(subscriber: WebSubscriber) -> list[web.RouteDef]:
    """The callback routes, to add to any aiohttp application."""

    def ids(request: web.Request) -> tuple[int, str] | None:
        raw = request.match_info["feed_id"]
        return (int(raw), request.match_info["token"]) if raw.isdigit() else None

    async def verify(request: web.Request) -> web.Response:
        found = ids(request)
        if found is None:
            return web.Response(status=404)
        status, text = await asyncio.to_thread(subscriber.verify, *found, dict(request.query))
        return web.Response(status=status, text=text, content_type="text/plain")

    async def deliver(request: web.Request) -> web.Response:
        found = ids(request)
        if found is None:
            return web.Response(status=404)
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        return web.Response(status=await subscriber.deliver(*found, body, headers))

    path = "/websub/{feed_id}/{token}"
    return [web.get(path, verify), web.post(path, deliver)]


class Listener:
    """Runs the callback app on host:port until ``stop``."""

    def __init__(self, subscriber: WebSubscriber, host: str, port: int) -> None:
        app = web.Application(client_max_size=MAX_PUSH_BYTES)
        app.add_routes(routes(subscriber))
        self._runner = web.AppRunner(app, access_log=None)
        self.host, self.port = host, port

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        log.info("websub.listening host=%s port=%d", self.host, self.port)

    async def stop(self) -> None:
        await self._runner.cleanup()
