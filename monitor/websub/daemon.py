"""The WebSub part of the daemon (``run``): the subscription loop and, unless the
HTTP API's listener serves the callbacks (monitor.websub.listener.callback_address),
a callback listener of its own."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable

from monitor.config.models import HttpSettings
from monitor.loop import every
from monitor.websub.listener import Listener, callback_address
from monitor.websub.subscriber import WebSubscriber, client_session

log = logging.getLogger(__name__)


async def start_websub(
    subscriber: WebSubscriber, http: HttpSettings | None, stop: asyncio.Event, *,
    tick_s: Callable[[], float], backoff: Callable[[int], float],
) -> tuple[asyncio.Future[None], Callable[[], Awaitable[None]]]:
    """Start the subscription loop (every ``tick_s``, until ``stop``) and the callback
    listener if the callbacks need one; returns the loop and what stops the rest.
    With ``http`` the caller serves the callbacks on the API's listener (``run``
    mounts them in the web app) unless ``websub.listen`` names another address."""
    address = callback_address(subscriber.settings, http)
    listener = None if address is None else Listener(subscriber, *address)
    if listener is not None:
        await listener.start()
    else:
        log.info("websub.mounted listen=%s path=/websub/", http.listen if http else None)
    session = client_session()
    loop = asyncio.ensure_future(every(tick_s, functools.partial(subscriber.tick, session),
                                       stop, name="websub", backoff=backoff))

    async def close() -> None:
        if listener is not None:
            await listener.stop()
        await session.close()

    return loop, close
