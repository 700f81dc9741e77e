"""The WebSub subscriber: asks hubs for push, answers their verification of intent,
checks and hands over pushed content. State lives in the store (websub_subscription).

    poll ─▶ discover hub ─▶ note_hub ─▶ tick: POST hub.mode=subscribe to the hub
    hub ─▶ GET callback?hub.challenge (verify: pending request, same topic and mode)
    hub ─▶ POST callback + X-Hub-Signature ─▶ verify ─▶ ingest (same path as a poll)

Polling stays on as the safety net (slower while a subscription is active and the
hub brings everything: monitor.websub.schedule).

Every store call runs in a worker thread, never on the event loop: a write waits for
the database (SQLite's write lock while a feed's articles are saved, a PostgreSQL
round trip), and on the loop that wait would stall every poll and page fetch.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

import aiohttp

import monitor
from monitor.config.models import WebSubSettings
from monitor.store.repo import Store
from monitor.store.websub import Subscription
from monitor.websub.discover import Discovery
from monitor.websub.signature import new_secret, signature_problem

log = logging.getLogger(__name__)

#: A pending request without verification, or a failed one, is asked again after this.
RETRY_S = 600
#: A lease is renewed when less than this share of it (at least an hour) is left.
RENEW_SHARE = 0.1

Ingest = Callable[[int, bytes, Mapping[str, str]], Awaitable[None]]


class WebSubscriber:
    """Subscriptions of one daemon (any replica may answer any callback: state is
    in the database)."""

    def __init__(self, store: Store, settings: WebSubSettings, *,
                 clock: Callable[[], datetime], ingest: Ingest) -> None:
        self.store, self.settings, self.clock, self.ingest = store, settings, clock, ingest
        self._known: dict[int, tuple[str, str]] = {}
        #: Feeds whose subscription is active (polled at a slower rate), from the last tick.
        self.active: set[int] = set()

    def callback_url(self, sub: Subscription) -> str:
        return f"{self.settings.callback_base}/websub/{sub.feed_id}/{sub.token}"

    def discovered(self, feed_id: int, found: Discovery) -> None:
        """A poll found the feed's hub (blocking: called in the ingest thread)."""
        if found.hub is None or self._known.get(feed_id) == (found.hub, found.topic):
            return
        self._known[feed_id] = (found.hub, found.topic)
        if self.store.note_hub(feed_id, found.hub, found.topic, secret=new_secret(),
                               token=secrets.token_urlsafe(16)):
            log.info("websub.hub_found feed_id=%d hub=%s topic=%s", feed_id, found.hub,
                     found.topic)

    async def tick(self, session: aiohttp.ClientSession) -> int:
        """Send the due (re)subscribe and unsubscribe requests; returns how many."""
        now = self.clock()
        renew = max(3600, int(self.settings.lease_s * RENEW_SHARE))
        due = await asyncio.to_thread(self.store.subscriptions_to_request, now,
                                      renew_before_s=renew, retry_after_s=RETRY_S)
        for sub in due:
            mode = "subscribe" if sub.feed_active else "unsubscribe"
            if mode == "unsubscribe" and sub.state in ("unsubscribed", "new", "failed"):
                continue
            await self._request(session, sub, mode, now)
        self.active = await asyncio.to_thread(self.store.active_subscriptions, now)
        return len(due)

    async def _request(self, session: aiohttp.ClientSession, sub: Subscription, mode: str,
                       now: datetime) -> None:
        form = {"hub.mode": mode, "hub.topic": sub.topic, "hub.callback": self.callback_url(sub)}
        if mode == "subscribe":
            form.update({"hub.secret": sub.secret,
                         "hub.lease_seconds": str(self.settings.lease_s)})
        # Pending before the request: a hub may verify intent before it answers.
        pending = "subscribing" if mode == "subscribe" else "unsubscribing"
        await asyncio.to_thread(self.store.update_subscription, sub.feed_id, state=pending,
                                requested_at=now)
        try:
            async with session.post(sub.hub, data=form, allow_redirects=False,
                                    timeout=aiohttp.ClientTimeout(total=20)) as resp:
                error = None if 200 <= resp.status < 300 else f"hub answered HTTP {resp.status}"
        except (aiohttp.ClientError, TimeoutError) as e:
            error = f"hub unreachable: {type(e).__name__}: {e}"[:300]
        if error:
            # A failed renewal keeps the lease it has; asked again later.
            state = "active" if sub.state == "active" else "failed"
            await asyncio.to_thread(self.store.update_subscription, sub.feed_id, state=state,
                                    last_error=error)
        log.info("websub.requested feed_id=%d mode=%s hub=%s error=%s", sub.feed_id, mode,
                 sub.hub, error)

    def verify(self, feed_id: int, token: str, query: Mapping[str, str]) -> tuple[int, str]:
        """The hub's verification of intent (GET; blocking: the listener runs it in a
        thread): echo ``hub.challenge`` only for a request we made and still wait on,
        with the same topic and mode."""
        sub = self._subscription(feed_id, token)
        mode = query.get("hub.mode", "")
        if sub is None or query.get("hub.topic") != sub.topic:
            return 404, "unknown subscription"
        now = self.clock()
        if mode == "denied":
            reason = f"hub denied: {query.get('hub.reason', '')}"[:300]
            self.store.update_subscription(feed_id, state="failed", requested_at=now,
                                           last_error=reason)
            return 200, ""
        expected = {"subscribe": "subscribing", "unsubscribe": "unsubscribing"}.get(mode)
        challenge = query.get("hub.challenge")
        if expected is None or sub.state != expected or not challenge:
            return 404, "no such pending request"
        if mode == "subscribe":
            lease = query.get("hub.lease_seconds", "")
            seconds = int(lease) if lease.isdigit() else self.settings.lease_s
            self.store.update_subscription(feed_id, state="active", last_error=None,
                                           lease_until=now + timedelta(seconds=seconds))
        else:
            self.store.update_subscription(feed_id, state="unsubscribed", lease_until=None)
        log.info("websub.verified feed_id=%d mode=%s", feed_id, mode)
        return 200, challenge

    async def deliver(self, feed_id: int, token: str, body: bytes,
                      headers: Mapping[str, str]) -> int:
        """Pushed content (POST). Content whose signature does not verify is dropped
        (the spec has the subscriber answer 2xx all the same, so hubs do not retry it)."""
        sub = await asyncio.to_thread(self._subscription, feed_id, token)
        if sub is None or sub.state not in ("active", "subscribing"):
            return 410  # unknown or cancelled: the hub drops the subscription
        problem = signature_problem(sub.secret, body, headers.get("x-hub-signature"))
        if problem:
            log.warning("websub.rejected feed_id=%d reason=%s", feed_id, problem)
            return 202
        await asyncio.to_thread(self.store.update_subscription, feed_id,
                                last_push_at=self.clock())
        await self.ingest(feed_id, body, headers)
        return 202

    def _subscription(self, feed_id: int, token: str) -> Subscription | None:
        sub = self.store.subscription(feed_id)
        if sub is None or not secrets.compare_digest(sub.token, token):
            return None
        return sub


def client_session() -> aiohttp.ClientSession:
    """The session for hub requests."""
    return aiohttp.ClientSession(headers={"User-Agent": monitor.USER_AGENT})
