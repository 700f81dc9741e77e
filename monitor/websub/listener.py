"""Where hubs call back: the callback routes, mounted on the HTTP API's listener
(``http:`` configured) or served by a minimal aiohttp.web listener of their own on
``websub.listen``.

    callback_address(websub, http)  None: the API's listener serves the callbacks
    routes(subscriber)              GET (verification of intent), POST (content)

Handlers only translate HTTP to the subscriber's two methods; the web app
(monitor/web/app.py) adds the same ``routes`` to its own table as public routes:
the unguessable token in the path and the signature guard them, not an API token.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from monitor.config.models import HttpSettings, WebSubSettings
from monitor.errors import ConfigError
from monitor.websub.subscriber import WebSubscriber

log = logging.getLogger(__name__)

#: Pushed bodies larger than this are refused (a feed document, not a file upload).
MAX_PUSH_BYTES = 10_000_000
#: Each subscription's callback: ``{callback_base}/websub/{feed id}/{token}``.
CALLBACK_PATH = "/websub/{feed_id}/{token}"


def _address(host: str, port: int) -> tuple[str, int]:
    return (host.strip("[]").lower() or "0.0.0.0", port)


def callback_address(websub: WebSubSettings, http: HttpSettings | None) -> tuple[str, int] | None:
    """Where the callbacks' own listener binds; None when the HTTP API's listener
    serves them: ``http:`` is configured and ``websub.listen`` is left out or names
    the same address. A ``websub.listen`` set to another address keeps a listener of
    its own (say, the callbacks public behind a proxy, the API on loopback)."""
    own = _address(*websub.host_port)
    if http is None:
        return own
    if "listen" not in websub.model_fields_set or own == _address(http.host, http.port):
        return None
    return own


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
        # The push limit, not the application's (the API's is far smaller).
        body = await request.clone(client_max_size=MAX_PUSH_BYTES).read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        return web.Response(status=await subscriber.deliver(*found, body, headers))

    return [web.get(CALLBACK_PATH, verify, allow_head=False), web.post(CALLBACK_PATH, deliver)]


class Listener:
    """Runs the callback routes alone on host:port until ``stop``."""

    def __init__(self, subscriber: WebSubscriber, host: str, port: int) -> None:
        app = web.Application()
        app.add_routes(routes(subscriber))
        self._runner = web.AppRunner(app, access_log=None)
        self.host, self.port = host, port

    async def start(self) -> None:
        """Listen; raises ConfigError when the address is unusable (taken, say)."""
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except OSError as e:
            await self._runner.cleanup()
            raise ConfigError(f"websub.listen: cannot listen on {self.host}:{self.port}: "
                              f"{e.strerror or e}") from None
        log.info("websub.listening host=%s port=%d", self.host, self.port)

    async def stop(self) -> None:
        await self._runner.cleanup()
