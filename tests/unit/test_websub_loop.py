"""WebSub never blocks the event loop on the database, and a pushed feed is polled
more slowly only while the hub brings everything (monitor.websub.schedule).

The subscriber is tested alone with a store whose every call waits until a
coroutine on the loop opens a gate: a store call made on the loop itself could
never see the gate open (the guard below then records it), one made in a worker
thread returns as soon as the loop runs."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.config.models import WebSubSettings
from monitor.store.websub import Subscription
from monitor.websub.schedule import PUSHED_POLL_FACTOR, safety_net_interval
from monitor.websub.signature import sign
from monitor.websub.subscriber import WebSubscriber

NOW = datetime(2026, 12, 2, 9, tzinfo=UTC)
SECRET = "s" * 40


class GatedStore:
    """The subscriber's store port; each call waits for ``gate``, at most ``guard_s``."""

    guard_s = 5.0

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.calls_on_loop: list[str] = []
        self.pushed_at: list[datetime] = []

    def _wait(self, name: str) -> None:
        if not self.gate.wait(self.guard_s):  # the loop never ran: we are on it
            self.calls_on_loop.append(name)

    def subscription(self, feed_id: int) -> Subscription:
        self._wait("subscription")
        return Subscription(feed_id=feed_id, hub="http://hub.test/", topic="http://f.test/",
                            secret=SECRET, token="tok", state="active",
                            lease_until=NOW + timedelta(days=1))

    def update_subscription(self, feed_id: int, **values: Any) -> None:
        self._wait("update_subscription")
        if "last_push_at" in values:
            self.pushed_at.append(values["last_push_at"])

    def subscriptions_to_request(self, now: datetime, **_: Any) -> list[Subscription]:
        self._wait("subscriptions_to_request")
        return []

    def active_subscriptions(self, now: datetime) -> set[int]:
        self._wait("active_subscriptions")
        return {1}


def subscriber(store: GatedStore, ingested: list[bytes]) -> WebSubscriber:
    async def ingest(feed_id: int, body: bytes, headers: Mapping[str, str]) -> None:
        ingested.append(body)

    settings = WebSubSettings(callback_base="http://127.0.0.1:9")
    return WebSubscriber(store, settings, clock=lambda: NOW, ingest=ingest)  # type: ignore[arg-type]


async def open_gate_from_the_loop(store: GatedStore) -> None:
    await asyncio.sleep(0)
    store.gate.set()


def test_a_push_waits_for_the_database_off_the_loop() -> None:
    store, ingested = GatedStore(), []
    sub = subscriber(store, ingested)
    body = b"<rss/>"
    headers = {"x-hub-signature": sign(SECRET, body, "sha256")}

    async def run() -> int:
        status, _ = await asyncio.gather(sub.deliver(1, "tok", body, headers),
                                         open_gate_from_the_loop(store))
        return status

    assert asyncio.run(run()) == 202
    assert store.calls_on_loop == []
    assert ingested == [body] and store.pushed_at == [NOW]


def test_the_subscription_tick_waits_for_the_database_off_the_loop() -> None:
    store = GatedStore()
    sub = subscriber(store, [])

    async def run() -> int:
        due, _ = await asyncio.gather(sub.tick(None),  # type: ignore[arg-type]
                                      open_gate_from_the_loop(store))
        return due

    assert asyncio.run(run()) == 0
    assert store.calls_on_loop == []
    assert sub.active == {1}


@pytest.mark.parametrize(("interval", "pushed", "missed", "max_interval", "expected"), [
    # Not pushed: the feed's own rate.
    (600, False, 0, 86400, 600),
    # Pushed and the poll found nothing the hub had not brought: slower.
    (600, True, 0, 86400, 600 * PUSHED_POLL_FACTOR),
    # Pushed, but the poll found items the hub missed: its own rate again.
    (600, True, 3, 86400, 600),
    # Slower, but never beyond max_interval...
    (600, True, 0, 1200, 1200),
    # ...and never faster than its own rate when that is above max_interval already.
    (7200, True, 0, 3600, 7200),
])
def test_safety_net_interval(interval: float, pushed: bool, missed: int, max_interval: float,
                             expected: float) -> None:
    assert safety_net_interval(interval, pushed=pushed, missed_items=missed,
                               max_interval_s=max_interval) == expected
