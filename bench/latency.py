"""Delivery benchmark: poll-to-webhook latency and delivery worker throughput.

1. Latency. The real daemon loop (``Monitor.run_forever``, in process, SQLite in a
   temporary folder) watches a local feed; once its first poll pass is over (steady
   state: start-up is bench/startup.py's), 200 items arrive in bursts. For each
   item: from the moment the feed server answered the poll that first carried
   it, to the moment the local webhook received its alert. Reported: p50, p90,
   p99, max.
   With ``--full-text``, a second run does the same with teaser items whose alert
   needs the article page: the rule's phrase is only in the page body (beside a
   navigation bar, a related-stories block and a footer), so each alert waits for
   poll -> page fetch -> extraction -> second match -> delivery.
   With ``--websub``, a third run measures push: the feed names a local WebSub hub
   (tests/websubhub.py); after the daemon subscribed, each item is published through
   the hub (signed POST to the daemon's callback). Latency: from the publish call to
   the local webhook receiving the alert. Polling is hourly, so pushes do it all.
   Beside it, a second feed is polled every second (one new item every 0.5 s); its
   poll-to-alert latency is measured with the pushes and, first, without them
   (the same daemon and feeds, nothing published): pushes must not slow polling.
2. Throughput. N alerts are put in the outbox at once; one delivery worker
   (``deliver_due``, the daemon's pass) sends them to a local webhook through
   apprise ``json://``. Reported: alerts/s.

Everything is local (127.0.0.1); nothing leaves the machine.

   With ``--hung``, like for like: a run with three webhook targets, then the same
   with one of the three hung (it accepts the connection and trickles one byte every
   0.5 s, so only ``delivery.timeout`` ends a send): the latencies of the other two.
   Then a stop with every target hung (silent HTTP, trickling HTTP, trickling SMTP):
   how long the stop took. The feed-item runs split each latency where the alert is
   queued (fetch -> queued: parse, store, match; queued -> webhook: delivery).

Run:  python bench/latency.py [--items 200] [--burst 10] [--throughput 2000]
                             [--full-text] [--websub] [--hung [--stop-timeout 30]]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from monitor.alerts.drain import deliver_due
from monitor.alerts.notifier import Notifier
from monitor.article import Article, FeedSpec, Hit, Match
from monitor.config import Settings
from monitor.service import Monitor
from monitor.store.repo import Store


class Feed:
    """A local RSS feed whose items grow; remembers when each item was first served."""

    def __init__(self, link_base: str = "https://bench.test", title: str = "Zoom story") -> None:
        self.link_base = link_base
        self.title = title
        #: Extra channel elements (the WebSub hub links).
        self.head = ""
        self.items: list[int] = []
        self.first_served: dict[int, float] = {}
        #: When the article page of each item was first requested (full text).
        self.page_requested: dict[int, float] = {}
        self.lock = threading.Lock()

    def body(self) -> bytes:
        with self.lock:
            now = time.monotonic()
            for i in self.items:
                self.first_served.setdefault(i, now)
            shown = self.items[-100:]  # a feed shows its latest entries
        entries = "".join(
            f"<item><title>{self.title} {i}</title><link>{self.link_base}/{i}</link>"
            f"<guid>g{i}</guid><description>Zoom item {i}</description></item>"
            for i in reversed(shown))
        return (f'<?xml version="1.0"?><rss version="2.0" '
                f'xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>Bench</title>'
                f"{self.head}{entries}</channel></rss>").encode()


class Hook:
    """A local webhook recording when each alert title arrived."""

    def __init__(self) -> None:
        self.received: dict[str, float] = {}
        self.count = 0
        self.lock = threading.Lock()


def serve(feed: Feed | None, hook: Hook | None) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body are separate writes: with Nagle's algorithm on, the body
        # waits for the client's delayed ACK (40 ms on Linux), which no real server does.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            if self.path.startswith("/a/"):
                if feed is not None and self.path[3:].isdigit():
                    with feed.lock:
                        feed.page_requested.setdefault(int(self.path[3:]), time.monotonic())
                self._reply(200, article_page(self.path[3:]), "text/html; charset=utf-8")
            elif self.path == "/robots.txt":
                self._reply(404, b"", "text/plain")
            else:
                body = feed.body() if feed else b""
                self._reply(200, body, "application/rss+xml")

        def do_POST(self) -> None:
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if hook is not None:
                title = json.loads(data).get("title", "")
                with hook.lock:
                    hook.received.setdefault(title, time.monotonic())
                    hook.count += 1
            self._reply(200, b'{"ok":true}', "application/json")

        def _reply(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


def article_page(n: str) -> bytes:
    """An article page whose body alone says "partner-only" (about 250 words)."""
    body = "".join(f"<p>Paragraph {k} of story {n}: the company told resellers about the "
                   "change, its timing and what customers should expect next quarter.</p>"
                   for k in range(12))
    return (f"<!DOCTYPE html><html><head><title>Story {n}</title></head><body>"
            "<nav><a href='/'>Home</a> <a href='/world'>World</a> <a href='/tech'>Tech</a></nav>"
            f"<main><article><h1>Zoom story {n}</h1>{body}<p>It moves to a partner-only "
            "model in March.</p></article><aside><h2>Related stories</h2><ul>"
            "<li><a href='/x'>Another story about markets</a></li></ul></aside></main>"
            "<footer>Copyright Bench News</footer></body></html>").encode()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def hung_server(protocol: str, trickle_s: float | None = None) -> Any:
    """tests/receivers.HungServer: accepts connections, never answers (or one byte a time)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from receivers import HungServer

    return HungServer(protocol, trickle_s=trickle_s)


async def latency(items: int, burst: int, tmp: Path, *, full_text: bool = False,
                  targets: int = 1, hung: bool = False) -> list[float]:
    """Fetch-to-webhook latencies at ``targets`` webhooks. With ``hung``, the last of the
    targets never answers (it trickles one byte every 0.5 s, so only delivery.timeout
    ends a send) and the latencies are the other webhooks'. The feed-item runs also
    split each latency at the alert's queueing (``QUEUED``)."""
    feed, hooks = Feed(), [Hook() for _ in range(targets - hung)]
    fsrv, hsrvs = serve(feed, None), [serve(None, h) for h in hooks]
    base = f"http://127.0.0.1:{fsrv.server_address[1]}"
    feed.link_base = f"{base}/a"
    recipients = {f"hook{n}": [f"json://127.0.0.1:{h.server_address[1]}/hook"]
                  for n, h in enumerate(hsrvs)}
    stuck = hung_server("http", trickle_s=0.5).__enter__() if hung else None
    if stuck is not None:
        recipients["hung"] = [stuck.url]
    # Without full text: the rule matches the feed item. With it: only the page body.
    rule = {"name": "zoom", "query": '"partner-only"' if full_text else "Zoom",
            "notify": list(recipients), "alert_per": "article"}
    name = f"latency-{'ft' if full_text else targets}{'-hung' if hung else ''}.db"
    settings = Settings.model_validate({
        "database": f"sqlite:///{tmp / name}",
        "poll": {"interval": 1, "tick": 1, "jitter": 0, "timeout": 5,
                 "full_text": "auto" if full_text else False},
        "feeds": [{"url": f"{base}/feed.xml", "name": "Bench"}],
        "recipients": recipients,
        "rules": [rule],
        "delivery": {"tick": 1},
    }, by_alias=True)
    monitor = Monitor.from_settings(settings)
    stop = asyncio.Event()
    runner = asyncio.create_task(monitor.run_forever(stop))
    try:
        await started(monitor)
        for start in range(0, items, burst):
            with feed.lock:
                feed.items.extend(range(start, min(start + burst, items)))
            await asyncio.sleep(0.5)
        deadline = time.monotonic() + 60
        while (any(len(h.received) < items for h in hooks)
               and time.monotonic() < deadline):
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await runner
        if full_text:
            PAGE_OUTCOMES.update(page_outcomes(monitor.store))
            stored = pages_stored_at(monitor.store)
        else:
            queued = alerts_queued_at(monitor.store)
        monitor.close()
        fsrv.shutdown()
        for h in hsrvs:
            h.shutdown()
        if stuck is not None:
            stuck.__exit__(None, None, None)
    if full_text:
        hook = hooks[0]
        PHASES["fetch -> page requested"] = [feed.page_requested[i] - feed.first_served[i]
                                             for i in range(items) if i in feed.page_requested]
        PHASES["page requested -> stored (extracted, matched)"] = [
            stored[f"{feed.link_base}/{i}"] - feed.page_requested[i]
            for i in range(items)
            if i in feed.page_requested and f"{feed.link_base}/{i}" in stored]
        PHASES["stored -> webhook (delivery)"] = [
            hook.received[f"[zoom] Zoom story {i}"] - stored[f"{feed.link_base}/{i}"]
            for i in range(items)
            if f"{feed.link_base}/{i}" in stored and f"[zoom] Zoom story {i}" in hook.received]
    else:
        key = f"{targets}{' (1 hung)' if hung else ''}"
        QUEUED[key] = {
            "fetch -> alert queued": [queued[f"{feed.link_base}/{i}"] - feed.first_served[i]
                                      for i in range(items) if f"{feed.link_base}/{i}" in queued],
            "alert queued -> webhook": [
                hook.received[f"[zoom] Zoom story {i}"] - queued[f"{feed.link_base}/{i}"]
                for hook in hooks for i in range(items)
                if f"[zoom] Zoom story {i}" in hook.received and f"{feed.link_base}/{i}" in queued],
        }
    return [hook.received[f"[zoom] Zoom story {i}"] - feed.first_served[i]
            for hook in hooks for i in range(items) if f"[zoom] Zoom story {i}" in hook.received]


async def stop_all_hung(tmp: Path, timeout_s: int) -> tuple[float, int]:
    """The daemon with every target hung (HTTP silent, HTTP trickling, SMTP trickling):
    once each has a send in flight, stop it (what SIGTERM does); seconds the stop took,
    and the alerts still due afterwards (none dropped)."""
    feed = Feed()
    feed.items.extend(range(5))
    fsrv = serve(feed, None)
    servers = [hung_server("http"), hung_server("http", 0.5), hung_server("smtp", 0.5)]
    for server in servers:
        server.__enter__()
    settings = Settings.model_validate({
        "database": f"sqlite:///{tmp / 'latency-stop.db'}",
        "poll": {"interval": 60, "tick": 1, "jitter": 0, "timeout": 5, "full_text": False},
        "feeds": [{"url": f"http://127.0.0.1:{fsrv.server_address[1]}/feed.xml"}],
        "recipients": {f"t{n}": [s.url] for n, s in enumerate(servers)},
        "rules": [{"name": "zoom", "query": "Zoom", "alert_per": "article",
                   "notify": [f"t{n}" for n in range(len(servers))]}],
        "delivery": {"tick": 1, "timeout": timeout_s},
    }, by_alias=True)
    monitor = Monitor.from_settings(settings)
    stop = asyncio.Event()
    runner = asyncio.create_task(monitor.run_forever(stop))
    while any(s.connections == 0 for s in servers):
        await asyncio.sleep(0.05)
    started = time.monotonic()
    stop.set()
    await runner
    took = time.monotonic() - started
    due = monitor.store.count_due_alerts(datetime.now(UTC) + timedelta(days=1))
    monitor.close()
    fsrv.shutdown()
    for server in servers:
        server.__exit__(None, None, None)
    return took, due


async def started(monitor: Monitor) -> None:
    """Wait for the daemon's first poll pass to end (an empty feed): steady-state
    latency, without the start-up (migrations, the parse process, imports), which
    bench/startup.py measures."""
    while monitor.last_tick_at is None or monitor.polling_since is not None:
        await asyncio.sleep(0.05)
    await asyncio.sleep(1)  # the extractor's import, started with the daemon


#: The full-text run's latency split in two (seconds per item), for the table.
PHASES: dict[str, list[float]] = {}
#: The full-text run's pages by outcome and error (a late alert's cause).
PAGE_OUTCOMES: dict[str, int] = {}


#: Feed-item runs: per number of targets, the latency split at the alert's queueing.
QUEUED: dict[str, dict[str, list[float]]] = {}


def alerts_queued_at(store: Store) -> dict[str, float]:
    """Per article URL: when its (first) alert was queued (``created_at``), in
    time.monotonic()."""
    from sqlalchemy import func, select

    from monitor.store.tables import alert, article, match

    offset = time.time() - time.monotonic()
    query = (select(article.c.link, func.min(alert.c.created_at))
             .join(match, match.c.article_id == article.c.id)
             .join(alert, alert.c.match_id == match.c.id).group_by(article.c.link))
    rows = store._tx("bench", lambda c: c.execute(query).all(), readonly=True)
    return {url: at.replace(tzinfo=UTC).timestamp() - offset for url, at in rows}


def pages_stored_at(store: Store) -> dict[str, float]:
    """Per page URL: when its outcome was stored (``fetched_at``), in time.monotonic()."""
    from sqlalchemy import select

    from monitor.store.tables import article_page as page

    offset = time.time() - time.monotonic()
    rows = store._tx("bench", lambda c: c.execute(select(page.c.url, page.c.fetched_at)).all(),
                     readonly=True)
    return {r.url: r.fetched_at.replace(tzinfo=UTC).timestamp() - offset
            for r in rows if r.fetched_at is not None}


def page_outcomes(store: Store) -> dict[str, int]:
    from sqlalchemy import func, select

    from monitor.store.tables import article_page as page

    query = (select(page.c.status, page.c.attempts, page.c.error, func.count())
             .group_by(page.c.status, page.c.attempts, page.c.error))
    rows = store._tx("bench", lambda c: c.execute(query).all(), readonly=True)
    return {f"{r[0]}, {r[1]} attempt(s){', ' + r[2] if r[2] else ''}": r[3] for r in rows}


async def websub_latency(items: int, tmp: Path, *, push: bool = True
                         ) -> tuple[list[float], list[float]]:
    """Publish-to-alert latency of a pushed feed, and poll-to-alert latency of a feed
    polled every second beside it (one new item every 0.5 s). ``push=False`` runs the
    same daemon and feeds but publishes nothing: the polled feed's baseline."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from feedserver import unused_port
    from websubhub import LocalHub

    hook, port = Hook(), unused_port()
    hsrv = serve(None, hook)
    with LocalHub() as hub:
        feed, polled = Feed(), Feed("https://polled.test", title="Zoom polled")
        fsrv, psrv = serve(feed, None), serve(polled, None)
        topic = f"http://127.0.0.1:{fsrv.server_address[1]}/feed.xml"
        feed.head = (f'<atom:link rel="hub" href="{hub.url}"/>'
                     f'<atom:link rel="self" href="{topic}"/>')
        settings = Settings.model_validate({
            "database": f"sqlite:///{tmp / f'latency-ws-{push}.db'}",
            "poll": {"interval": 3600, "tick": 1, "jitter": 0, "timeout": 5, "full_text": False},
            "feeds": [{"url": topic, "name": "Bench"},
                      {"url": f"http://127.0.0.1:{psrv.server_address[1]}/feed.xml",
                       "name": "Polled", "interval": 1}],
            "recipients": {"hook": [f"json://127.0.0.1:{hsrv.server_address[1]}/hook"]},
            "rules": [{"name": "zoom", "query": "Zoom", "notify": ["hook"], "alert_per": "article"}],
            "delivery": {"tick": 1},
            "websub": {"callback_base": f"http://127.0.0.1:{port}",
                       "listen": f"127.0.0.1:{port}"},
        }, by_alias=True)
        monitor = Monitor.from_settings(settings)
        stop = asyncio.Event()
        runner = asyncio.create_task(monitor.run_forever(stop))
        published: dict[int, float] = {}
        try:
            while not hub.verified(topic):
                await asyncio.sleep(0.05)
            await started(monitor)
            for i in range(items):
                if i % 5 == 0:
                    with polled.lock:
                        polled.items.append(i // 5)
                with feed.lock:
                    feed.items.append(i)
                body = feed.body()
                published[i] = time.monotonic()
                if push:
                    await asyncio.to_thread(hub.publish, topic, body)
                await asyncio.sleep(0.1)
            deadline = time.monotonic() + 60
            wanted = (items if push else 0) + len(polled.items)
            while len(hook.received) < wanted and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await runner
            monitor.close()
            fsrv.shutdown()
            psrv.shutdown()
            hsrv.shutdown()
    pushed = [hook.received[f"[zoom] Zoom story {i}"] - published[i]
              for i in range(items) if f"[zoom] Zoom story {i}" in hook.received]
    polls = [hook.received[f"[zoom] Zoom polled {i}"] - polled.first_served[i]
             for i in polled.items if f"[zoom] Zoom polled {i}" in hook.received]
    return pushed, polls


def throughput(n: int, db_url: str) -> tuple[int, float]:
    hook = Hook()
    hsrv = serve(None, hook)
    notifier = Notifier({"hook": [f"json://127.0.0.1:{hsrv.server_address[1]}/hook"]})
    now = datetime(2026, 11, 26, 12, tzinfo=UTC)
    with Store.open(db_url) as store:
        spec = FeedSpec(url="http://127.0.0.1/bench.xml", name="Bench")
        store.sync_feeds([spec], now)
        (feed,) = store.claim_due_feeds(now, owner="bench", include_not_due=True)
        match = Match("zoom", (Hit("Zoom", "title", 0, 4, "Zoom"),), "«Zoom»")
        arts = [(Article(spec.url, spec.name, (), f"k{i}", f"k{i}", f"https://b.test/{i}",
                         f"https://b.test/{i}", f"Zoom {i}"), [match]) for i in range(n)]
        store.save_articles(feed.id, arts, {"zoom": notifier.routes_for(["hook"])}, now)
        started = time.perf_counter()
        sent = 0
        while True:
            report = deliver_due(store, notifier, now + timedelta(seconds=1), owner="bench")
            if not report.sent:
                break
            sent += report.sent
        elapsed = time.perf_counter() - started
    hsrv.shutdown()
    return sent, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--burst", type=int, default=10)
    parser.add_argument("--throughput", type=int, default=2000)
    parser.add_argument("--websub", action="store_true",
                        help="also measure publish-to-alert through a local WebSub hub")
    parser.add_argument("--full-text", action="store_true",
                        help="also measure alerts that need the article page (issue 10)")
    parser.add_argument("--hung", action="store_true",
                        help="also measure with one of three targets hung, and a stop with "
                             "every target hung (issue 12)")
    parser.add_argument("--stop-timeout", type=int, default=30,
                        help="delivery.timeout for the all-hung stop measure (default 30)")
    parser.add_argument("--db-url", default=None,
                        help="database for the throughput run (default: a fresh SQLite file); "
                             "give an empty PostgreSQL schema to measure SKIP LOCKED claims")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lat = asyncio.run(latency(args.items, args.burst, Path(tmp)))
        ft = (asyncio.run(latency(args.items, args.burst, Path(tmp), full_text=True))
              if args.full_text else [])
        ws, beside, alone = [], [], []
        if args.websub:
            _, alone = asyncio.run(websub_latency(args.items, Path(tmp), push=False))
            ws, beside = asyncio.run(websub_latency(args.items, Path(tmp)))
        three, hung = [], []
        if args.hung:  # like for like: three targets, then the same with one of them hung
            three = asyncio.run(latency(args.items, args.burst, Path(tmp), targets=3))
            hung = asyncio.run(latency(args.items, args.burst, Path(tmp), targets=3, hung=True))
        stop_s, stop_due = (asyncio.run(stop_all_hung(Path(tmp), args.stop_timeout))
                            if args.hung else (0.0, 0))
        db_url = args.db_url or f"sqlite:///{Path(tmp) / 'throughput.db'}"
        sent, elapsed = throughput(args.throughput, db_url)
        backend = db_url.split(":", 1)[0].split("+", 1)[0]
    ms = [v * 1000 for v in lat]
    print("| measure | value |\n|---|---|")
    print(f"| items delivered / arrived | {len(lat)} / {args.items} "
          f"(bursts of {args.burst} every 0.5 s, poll tick 1 s) |")
    print(f"| latency p50 (fetch -> webhook) | {statistics.median(ms):.0f} ms |")
    print(f"| latency p90 | {pct(ms, 90):.0f} ms |")
    print(f"| latency p99 | {pct(ms, 99):.0f} ms |")
    print(f"| latency max | {max(ms):.0f} ms |")
    if args.full_text:
        fms = [v * 1000 for v in ft]
        print(f"| full text: items delivered / arrived | {len(ft)} / {args.items} |")
        print(f"| full text: latency p50 / p90 / p99 / max (fetch -> page -> webhook) | "
              f"{statistics.median(fms):.0f} / {pct(fms, 90):.0f} / {pct(fms, 99):.0f} / "
              f"{max(fms):.0f} ms |")
        print(f"| full text vs feed-item alerts, p99 | {pct(fms, 99) / pct(ms, 99):.1f}x |")
        outcomes = "; ".join(f"{k}: {n}" for k, n in sorted(PAGE_OUTCOMES.items()))
        print(f"| full text: pages by outcome at the end | {outcomes} |")
        for phase, values in PHASES.items():
            pms = [v * 1000 for v in values] or [0.0]
            print(f"| full text: {phase} p50 / p99 / max | {statistics.median(pms):.0f} / "
                  f"{pct(pms, 99):.0f} / {max(pms):.0f} ms |")
    if args.websub:
        wms = [v * 1000 for v in ws]
        print(f"| WebSub: items delivered / published | {len(ws)} / {args.items} |")
        print(f"| WebSub: latency p50 / p90 / p99 / max (publish -> webhook) | "
              f"{statistics.median(wms):.0f} / {pct(wms, 90):.0f} / {pct(wms, 99):.0f} / "
              f"{max(wms):.0f} ms |")
        ams, bms = [v * 1000 for v in alone], [v * 1000 for v in beside]
        print(f"| polled feed (every 1 s): delivered, without / with a pushed feed beside | "
              f"{len(alone)} / {len(beside)} of {args.items // 5} |")
        print(f"| polled feed: p50 / p99 without pushes beside (baseline) | "
              f"{statistics.median(ams):.0f} / {pct(ams, 99):.0f} ms |")
        print(f"| polled feed: p50 / p99 with 200 pushes beside | "
              f"{statistics.median(bms):.0f} / {pct(bms, 99):.0f} ms "
              f"({pct(bms, 99) / pct(ams, 99):.1f}x) |")
    for key, phases in QUEUED.items():
        for phase, values in phases.items():
            pms = [v * 1000 for v in values] or [0.0]
            print(f"| {key} target(s): {phase} p50 / p99 / max | {statistics.median(pms):.0f} / "
                  f"{pct(pms, 99):.0f} / {max(pms):.0f} ms |")
    if args.hung:
        tms = [v * 1000 for v in three] or [0.0]
        print(f"| 3 targets, none hung: alerts / expected | {len(three)} / {3 * args.items} |")
        print(f"| 3 targets, none hung: latency p50 / p90 / p99 / max | "
              f"{statistics.median(tms):.0f} / {pct(tms, 90):.0f} / {pct(tms, 99):.0f} / "
              f"{max(tms):.0f} ms |")
        hms = [v * 1000 for v in hung]
        print(f"| one of 3 targets hung: alerts at the 2 others / expected | {len(hung)} / "
              f"{2 * args.items} |")
        print(f"| one of 3 targets hung: latency p50 / p90 / p99 / max | "
              f"{statistics.median(hms):.0f} / {pct(hms, 90):.0f} / {pct(hms, 99):.0f} / "
              f"{max(hms):.0f} ms |")
        print(f"| one of 3 hung vs none of 3, p99 | {pct(hms, 99) / pct(tms, 99):.2f}x |")
        print(f"| every target hung: stop took (delivery.timeout {args.stop_timeout} s) | "
              f"{stop_s:.1f} s (budget {args.stop_timeout + 5} s); alerts still due after: "
              f"{stop_due} |")
    print(f"| delivery throughput (1 worker, {backend}, json:// to local webhook) | "
          f"{sent / elapsed:.0f} alerts/s ({sent} in {elapsed:.2f} s) |")


if __name__ == "__main__":
    main()
