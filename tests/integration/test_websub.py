"""WebSub through the real daemon loop: a local hub (tests/websubhub.py), the feed on a
local server, alerts to a local webhook; SQLite and PostgreSQL.

Subscription and verification of intent, signed and badly signed deliveries, lease
renewal, unsubscribe when the feed leaves the config, a hub that is down; the callbacks
on the HTTP API's listener (``run`` with ``http:``) or on their own."""

from __future__ import annotations

import asyncio
import os
import socket
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from feedserver import FeedServer, unused_port
from receivers import WebhookReceiver
from websubhub import LocalHub, wait_for

from monitor.cli.core import push_status
from monitor.config import Settings
from monitor.errors import ConfigError
from monitor.service import Monitor
from monitor.web.serve import run_with_web

ADMIN = "admin-token-0123456789abcdef"


def rss(hub: str, self_url: str, *titles: str) -> bytes:
    items = "".join(f"<item><title>{t}</title><guid>{t}</guid></item>" for t in titles)
    return ('<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">'
            f'<channel><title>Pushed</title><atom:link rel="hub" href="{hub}"/>'
            f'<atom:link rel="self" href="{self_url}"/>{items}</channel></rss>').encode()


def serve_feed(server: FeedServer, hub: LocalHub) -> str:
    """/feed.xml, one item, announcing the hub: its URL (the topic)."""
    topic = server.url("/feed.xml")
    server.add("/feed.xml", rss(hub.url, topic, "Old story"), content_type="application/rss+xml")
    return topic


def config(db_url: str, feed: str, hook: str, websub: dict[str, Any],
           http: dict[str, Any] | None = None) -> Settings:
    return Settings.model_validate({
        "database": db_url,
        "poll": {"interval": 3600, "tick": 1, "jitter": 0, "timeout": 5, "full_text": False},
        "feeds": [{"url": feed, "name": "Pushed"}],
        "recipients": {"hook": hook},
        "rules": [{"name": "zoom", "query": "Zoom", "notify": ["hook"]}],
        "delivery": {"tick": 1},
        "websub": websub,
        **({"http": http} if http else {}),
    })


def settings(db_url: str, feed: str, hook: str, port: int, **websub: Any) -> Settings:
    return config(db_url, feed, hook, {"callback_base": f"http://127.0.0.1:{port}",
                                       "listen": f"127.0.0.1:{port}", **websub})


Run = Callable[[Monitor, asyncio.Event], Awaitable[None]]


async def with_daemon(m: Monitor, scenario: Callable[[], Awaitable[None]],
                      run: Run = Monitor.run_forever) -> None:
    stop = asyncio.Event()
    daemon = asyncio.create_task(run(m, stop))
    try:
        await scenario()
    finally:
        stop.set()
        await daemon


def assert_pushed_once(m: Monitor, hook: WebhookReceiver, server: FeedServer) -> None:
    """The story pushed by the hub is stored and alerted once, and the feed was polled
    only at the start (the push, not a poll, brought it)."""
    titles = {a.title for a in m.store.stored_articles()}
    assert titles == {"Old story", "Zoom pushed story"}
    assert [r.json["title"] for r in hook.delivered] == ["[zoom] Zoom pushed story"]
    assert len(server.requests_to("/feed.xml")) == 1  # pushed, not polled again


def until(condition: Callable[[], object]) -> Awaitable[None]:
    return asyncio.to_thread(wait_for, condition)


def test_subscribe_verify_and_signed_push_alerts_once(db_url: str) -> None:
    port = unused_port()
    with FeedServer() as server, LocalHub() as hub, WebhookReceiver() as hook:
        topic = server.url("/feed.xml")
        server.add("/feed.xml", rss(hub.url, topic, "Old story"),
                   content_type="application/rss+xml")
        m = Monitor.from_settings(settings(db_url, topic, hook.json_url("/hook"), port))

        async def scenario() -> None:
            await until(lambda: hub.verified(topic))
            (request,) = [r for r in hub.requests if r["hub.mode"] == "subscribe"][:1]
            assert request["hub.topic"] == topic and len(request["hub.secret"]) >= 32
            callback = request["hub.callback"]
            assert callback.startswith(f"http://127.0.0.1:{port}/websub/")
            sub = m.store.subscription(1)
            assert sub is not None and sub.state == "active" and sub.lease_until is not None
            assert sub.secret == request["hub.secret"] and sub.secret not in repr(sub)
            await until(lambda: 1 in m.websub.active)  # polling slows down while pushed
            state = m.store.push_states()[topic]
            assert push_status(state, datetime.now(UTC)).startswith("WebSub until ")

            # Pushed content goes through parse, dedup, match and the outbox.
            body = rss(hub.url, topic, "Old story", "Zoom pushed story")
            assert await asyncio.to_thread(hub.publish, topic, body) == [202]
            await until(lambda: [r for r in hook.delivered
                                 if r.json["title"] == "[zoom] Zoom pushed story"])
            # A badly signed delivery is acknowledged (so the hub stops) but ignored.
            forged = rss(hub.url, topic, "Zoom forged story")
            assert await asyncio.to_thread(hub.publish, topic, forged, secret="wrong") == [202]
            # The same content pushed twice is one article, one alert.
            assert await asyncio.to_thread(hub.publish, topic, body) == [202]
            # Verification of intent only for a request we made, same topic and mode.
            for url, mode, what in [(callback, "subscribe", topic + "x"),  # other topic
                                    (callback, "unsubscribe", topic),  # not asked for
                                    (callback.rsplit("/", 1)[0] + "/bad", "subscribe", topic)]:
                answer = await asyncio.to_thread(LocalHub.check, url, mode, what, "c1")
                assert answer == (404, False)
            await asyncio.sleep(1.5)

        try:
            asyncio.run(with_daemon(m, scenario))
            assert_pushed_once(m, hook, server)
        finally:
            m.close()


def test_lease_is_renewed_and_removal_unsubscribes(db_url: str) -> None:
    port = unused_port()
    with FeedServer() as server, LocalHub(grant_lease_s=30) as hub, WebhookReceiver() as hook:
        topic = server.url("/feed.xml")
        server.add("/feed.xml", rss(hub.url, topic, "A"), content_type="application/rss+xml")
        config = settings(db_url, topic, hook.json_url("/hook"), port)
        m = Monitor.from_settings(config)

        async def scenario() -> None:
            # A 30 s lease is within the renewal margin: the next tick asks again.
            await until(lambda: sum(r["hub.mode"] == "subscribe" for r in hub.requests) >= 2)
            await until(lambda: m.store.subscription(1).state == "active")
            m.reload(config.model_copy(update={"feeds": []}))
            await until(lambda: any(r["hub.mode"] == "unsubscribe" for r in hub.requests))
            await until(lambda: m.store.subscription(1).state == "unsubscribed")
            (sub,) = hub.subscriptions.values()
            # The hub records its check once our answer reached it, which may be just
            # after we marked the subscription (a loaded machine showed the gap).
            await until(lambda: ("unsubscribe", 200, True) in sub.checks)

        try:
            asyncio.run(with_daemon(m, scenario))
        finally:
            m.close()


def test_a_hub_that_is_down_leaves_polling_in_charge(db_url: str) -> None:
    port, dead = unused_port(), unused_port()
    with FeedServer() as server, WebhookReceiver() as hook:
        topic = server.url("/feed.xml")
        server.add("/feed.xml", rss(f"http://127.0.0.1:{dead}/", topic, "Zoom polled story"),
                   content_type="application/rss+xml")
        m = Monitor.from_settings(settings(db_url, topic, hook.json_url("/hook"), port))

        async def scenario() -> None:
            await until(lambda: (s := m.store.subscription(1)) and s.state == "failed")
            await until(lambda: hook.delivered)

        try:
            asyncio.run(with_daemon(m, scenario))
            sub = m.store.subscription(1)
            assert sub is not None and "hub unreachable" in (sub.last_error or "")
            assert [r.json["title"] for r in hook.delivered] == ["[zoom] Zoom polled story"]
        finally:
            m.close()


def test_a_hub_that_verifies_before_it_answers(db_url: str) -> None:
    # The spec lets a hub verify intent before answering the subscribe request: the
    # subscription must already be pending then (it once was still "new": 404).
    port = unused_port()
    with FeedServer() as server, LocalHub(verify_first=True) as hub, WebhookReceiver() as hook:
        topic = server.url("/feed.xml")
        server.add("/feed.xml", rss(hub.url, topic, "A"), content_type="application/rss+xml")
        m = Monitor.from_settings(settings(db_url, topic, hook.json_url("/hook"), port))

        async def scenario() -> None:
            await until(lambda: hub.subscriptions)
            await until(lambda: m.store.subscription(1).state == "active")

        try:
            asyncio.run(with_daemon(m, scenario))
            (sub,) = hub.subscriptions.values()
            assert sub.checks[0] == ("subscribe", 200, True) and hub.verified(topic)
        finally:
            m.close()


def test_once_polls_and_records_the_hub_but_never_subscribes(db_url: str) -> None:
    port = unused_port()
    with FeedServer() as server, LocalHub() as hub, WebhookReceiver() as hook:
        topic = server.url("/feed.xml")
        server.add("/feed.xml", rss(hub.url, topic, "Zoom polled story"),
                   content_type="application/rss+xml")
        m = Monitor.from_settings(settings(db_url, topic, hook.json_url("/hook"), port))
        try:
            poll, delivery = asyncio.run(m.run_once())
            assert (poll.new_articles, delivery.sent) == (1, 1)
            sub = m.store.subscription(1)
            assert sub is not None and (sub.hub, sub.state) == (hub.url, "new")  # for a daemon
            assert hub.requests == []  # nothing asked of the hub: no listener to verify
        finally:
            m.close()


def listening_ports() -> set[int]:
    """The TCP ports this process listens on (its own sockets in /proc/net/tcp*)."""
    mine = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile by another thread
            continue
        if target.startswith("socket:["):
            mine.add(target[len("socket:["):-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in mine:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def http_get(url: str, token: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                    timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_with_http_the_api_listener_serves_the_callbacks(db_url: str) -> None:
    # `run` with `http:` and no websub.listen: the hub subscribes, verifies and pushes
    # through the API's listener; no second listener (websub.listen's default) opens.
    port = unused_port()
    base = f"http://127.0.0.1:{port}"
    with FeedServer() as server, LocalHub() as hub, WebhookReceiver() as hook:
        topic = serve_feed(server, hub)
        m = Monitor.from_settings(config(
            db_url, topic, hook.json_url("/hook"), {"callback_base": base},
            http={"listen": f"127.0.0.1:{port}",
                  "tokens": {"ops": {"token": ADMIN, "role": "admin"}}}))
        before = listening_ports()

        async def scenario() -> None:
            await until(lambda: hub.verified(topic))
            assert listening_ports() - before == {port}
            (request,) = [r for r in hub.requests if r["hub.mode"] == "subscribe"][:1]
            callback = request["hub.callback"]
            assert callback.startswith(f"{base}/websub/1/")
            assert m.store.subscription(1).state == "active"
            # Larger than the API's own request limit (256 kB): pushes have theirs.
            body = rss(hub.url, topic, "Old story", "Zoom pushed story").replace(
                b"</channel>", b"<!--" + b" " * 300_000 + b"--></channel>")
            assert await asyncio.to_thread(hub.publish, topic, body) == [202]
            await until(lambda: [r for r in hook.delivered
                                 if r.json["title"] == "[zoom] Zoom pushed story"])
            forged = rss(hub.url, topic, "Zoom forged story")  # acknowledged, dropped
            assert await asyncio.to_thread(hub.publish, topic, forged, secret="wrong") == [202]
            assert await asyncio.to_thread(hub.publish, topic, body) == [202]  # no 2nd alert
            for url, mode, what in [(callback, "subscribe", topic + "x"),  # other topic
                                    (callback, "unsubscribe", topic),  # not asked for
                                    (callback.rsplit("/", 1)[0] + "/bad", "subscribe", topic)]:
                answer = await asyncio.to_thread(LocalHub.check, url, mode, what, "c1")
                assert answer == (404, False)
            # Probes and metrics beside the callbacks; the public callbacks open nothing else.
            status, ready = await asyncio.to_thread(http_get, f"{base}/readyz?verbose")
            assert status == 200 and "[+]poll ok" in ready and "[+]database ok" in ready
            assert (await asyncio.to_thread(http_get, f"{base}/metrics"))[0] == 401
            status, metrics = await asyncio.to_thread(http_get, f"{base}/metrics", ADMIN)
            assert status == 200 and 'newsmonitor_feed_polls_total{result="ok"} 1.0' in metrics
            await asyncio.sleep(1.5)

        try:
            asyncio.run(with_daemon(m, scenario, run=run_with_web))
            assert_pushed_once(m, hook, server)
        finally:
            m.close()


def sample(metrics: str, series: str) -> float:
    """The value of one series in a /metrics exposition (0 when absent)."""
    return next((float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                 if line.rsplit(" ", 1)[0] == series), 0.0)


def test_pushed_articles_and_matches_are_counted_in_metrics(db_url: str) -> None:
    # Polls and pushes store articles alike: both count in the same counters.
    port = unused_port()
    base = f"http://127.0.0.1:{port}"
    polls, articles = 'newsmonitor_feed_polls_total{result="ok"}', "newsmonitor_articles_new_total"
    zoom = 'newsmonitor_rule_matches_total{rule="zoom"}'
    with FeedServer() as server, LocalHub() as hub, WebhookReceiver() as hook:
        topic = serve_feed(server, hub)
        m = Monitor.from_settings(config(
            db_url, topic, hook.json_url("/hook"), {"callback_base": base},
            http={"listen": f"127.0.0.1:{port}", "public_metrics": True}))

        def scrape() -> str:
            status, text = http_get(f"{base}/metrics")
            assert status == 200, text
            return text

        async def scenario() -> None:
            await until(lambda: hub.verified(topic))
            await until(lambda: sample(scrape(), polls) == 1)  # the poll is recorded
            polled = await asyncio.to_thread(scrape)
            assert sample(polled, articles) == 1  # "Old story", polled
            # The hub answers once the callback has ingested the push.
            body = rss(hub.url, topic, "Old story", "Zoom pushed story", "Zoom second one")
            assert await asyncio.to_thread(hub.publish, topic, body) == [202]
            pushed = await asyncio.to_thread(scrape)
            assert sample(pushed, articles) - sample(polled, articles) == 2
            assert sample(pushed, zoom) - sample(polled, zoom) == 2
            # Neither a forged push nor the same content again is new.
            forged = rss(hub.url, topic, "Zoom forged story")
            assert await asyncio.to_thread(hub.publish, topic, forged, secret="wrong") == [202]
            assert await asyncio.to_thread(hub.publish, topic, body) == [202]
            again = await asyncio.to_thread(scrape)
            assert (sample(again, articles), sample(again, zoom)) == (
                sample(pushed, articles), sample(pushed, zoom))
            # A push is not a poll.
            assert sample(again, polls) == 1
            await until(lambda: len(hook.delivered) == 2)

        try:
            asyncio.run(with_daemon(m, scenario, run=run_with_web))
            assert len(server.requests_to("/feed.xml")) == 1  # pushed, not polled again
        finally:
            m.close()


def test_websub_listen_set_elsewhere_keeps_its_own_listener(db_url: str) -> None:
    # websub.listen set to another address than http.listen (public callbacks behind a
    # proxy, the API on loopback): two listeners, the callbacks only on their own.
    api, own = unused_port(), unused_port()
    with FeedServer() as server, LocalHub() as hub, WebhookReceiver() as hook:
        topic = server.url("/feed.xml")
        server.add("/feed.xml", rss(hub.url, topic, "Old story"),
                   content_type="application/rss+xml")
        m = Monitor.from_settings(config(
            db_url, topic, hook.json_url("/hook"),
            {"callback_base": f"http://127.0.0.1:{own}", "listen": f"127.0.0.1:{own}"},
            http={"listen": f"127.0.0.1:{api}"}))
        before = listening_ports()

        async def scenario() -> None:
            await until(lambda: hub.verified(topic))
            assert listening_ports() - before == {api, own}
            (callback,) = {r["hub.callback"] for r in hub.requests}
            assert callback.startswith(f"http://127.0.0.1:{own}/websub/1/")
            on_api = callback.replace(f":{own}/", f":{api}/")
            answer = await asyncio.to_thread(LocalHub.check, on_api, "subscribe", topic, "c1")
            assert answer == (404, False)
            body = rss(hub.url, topic, "Old story", "Zoom pushed story")
            assert await asyncio.to_thread(hub.publish, topic, body) == [202]
            await until(lambda: hook.delivered)

        try:
            asyncio.run(with_daemon(m, scenario, run=run_with_web))
            assert [r.json["title"] for r in hook.delivered] == ["[zoom] Zoom pushed story"]
        finally:
            m.close()


def test_a_taken_websub_listen_stops_the_start_with_its_key(db_url: str) -> None:
    with FeedServer() as server, WebhookReceiver() as hook, socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server.add("/feed.xml", rss("http://127.0.0.1:9/", "x", "Zoom"),
                   content_type="application/rss+xml")
        m = Monitor.from_settings(settings(db_url, server.url("/feed.xml"),
                                           hook.json_url("/hook"), port))
        try:
            with pytest.raises(ConfigError, match=rf"^websub.listen: cannot listen on "
                                                  rf"127.0.0.1:{port}: "):
                asyncio.run(m.run_forever(asyncio.Event()))
            assert server.requests_to("/feed.xml") == []  # it stopped before polling
        finally:
            m.close()
