"""What every handler of the web app shares (one object, stored on the app)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from monitor.config import Settings
from monitor.store.repo import Store
from monitor.web.auth import Access, TokenBook

if TYPE_CHECKING:
    from monitor.service import Monitor
    from monitor.web.metrics import Metrics


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
    #: Set when the server shuts down: live streams end.
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    _book: tuple[Any, TokenBook] | None = None

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
