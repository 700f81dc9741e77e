"""Crash safety of the real daemon: SIGKILL it mid-delivery, start it again.

Every alert must arrive, and only the message in flight at the kill may repeat
(at-least-once: a crash between a send and its commit). A slow webhook keeps a
delivery in flight; the waits below are guards against a hang, not timing
assertions: each waits for an event (a request, the process exiting).
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from pathlib import Path

from daemon import kill_daemon, start_daemon, stop_daemon, wait_until
from feedserver import FeedServer
from receivers import WebhookReceiver

ITEMS = 12


class SlowReceiver(WebhookReceiver):
    """Records each request, then waits before answering: the sender is mid-send."""

    def __init__(self) -> None:
        super().__init__(delay_s=0.3)


def feed_xml(n: int) -> bytes:
    items = "".join(
        f"<item><title>Zoom story {i}</title><link>https://wire.test/{i}</link>"
        f"<guid>g{i}</guid><description>Zoom news number {i}</description></item>"
        for i in range(n))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
            f"{items}</channel></rss>").encode()


def start(cwd: Path, log: Path, db_url: str) -> subprocess.Popen[bytes]:
    return start_daemon(cwd / "monitor.yaml", log, db_url=db_url, log_level="INFO")


def test_sigkill_mid_delivery_then_restart_delivers_everything_once(
    tmp_path: Path, db_url: str
) -> None:
    with FeedServer() as feeds, SlowReceiver() as hook:
        feed_url = feeds.add("/wire.xml", feed_xml(ITEMS),
                             headers={"Content-Type": "application/rss+xml"})
        (tmp_path / "monitor.yaml").write_text(f"""
poll: {{interval: 15m, timeout: 5s}}
feeds: [{{url: "{feed_url}", name: Wire}}]
recipients: {{hook: ["{hook.json_url()}"]}}
default_notify: [hook]
rules: [{{name: zoom, query: Zoom, alert_per: article}}]  # each item: its own alert
delivery: {{tick: 1s, lease: 2s, batch: 4}}
""")
        log = tmp_path / "daemon.log"
        first = start(tmp_path, log, db_url)
        try:
            wait_until(lambda: len(hook.requests) >= 3, "the first deliveries")
        finally:
            kill_daemon(first)
        in_flight = len(hook.requests)
        assert in_flight < ITEMS, "killed too late: nothing was left in flight"
        second = start(tmp_path, log, db_url)
        try:
            wait_until(lambda: len({r.json["title"] for r in hook.requests}) == ITEMS,
                       "every alert after the restart")
        finally:
            code = stop_daemon(second)
        titles = Counter(r.json["title"] for r in hook.requests)
    assert code == 0, log.read_text()[-3000:]
    assert set(titles) == {f"[zoom] Zoom story {i}" for i in range(ITEMS)}
    # Deliveries are sequential per process: at most the one message in flight repeats.
    repeats = sum(n - 1 for n in titles.values())
    assert repeats <= 1, titles
    assert "service.stopped" in log.read_text()


def test_sigterm_mid_delivery_then_restart_delivers_everything_exactly_once(
    tmp_path: Path, db_url: str
) -> None:
    """A stop, unlike a kill, finishes the message in flight and records it: nothing
    repeats, and the alerts it had claimed but not sent go out after the restart."""
    with FeedServer() as feeds, SlowReceiver() as hook:
        feed_url = feeds.add("/wire.xml", feed_xml(ITEMS),
                             headers={"Content-Type": "application/rss+xml"})
        (tmp_path / "monitor.yaml").write_text(f"""
poll: {{interval: 15m, timeout: 5s, full_text: false}}
feeds: [{{url: "{feed_url}", name: Wire}}]
recipients: {{hook: ["{hook.json_url()}"]}}
default_notify: [hook]
rules: [{{name: zoom, query: Zoom, alert_per: article}}]
delivery: {{tick: 1s, lease: 30s, batch: 4}}
""")
        log = tmp_path / "daemon.log"
        first = start(tmp_path, log, db_url)
        try:
            wait_until(lambda: len(hook.requests) >= 3, "the first deliveries")
        finally:
            first_code = stop_daemon(first)
        sent_before = len(hook.requests)
        assert sent_before < ITEMS, "stopped too late: nothing was left to send"
        # The lease is 30 s: only a stop that released the claims lets them go out now.
        second = start(tmp_path, log, db_url)
        try:
            wait_until(lambda: len({r.json["title"] for r in hook.requests}) == ITEMS,
                       "every alert after the restart")
            time.sleep(1.5)  # a late duplicate, if any, would arrive now
        finally:
            code = stop_daemon(second)
        titles = Counter(r.json["title"] for r in hook.requests)
    text = log.read_text()
    assert first_code == code == 0, text[-3000:]
    assert set(titles) == {f"[zoom] Zoom story {i}" for i in range(ITEMS)}
    assert max(titles.values()) == 1, titles  # a stop repeats nothing
    assert text.count("service.stopped") == 2
    assert "Traceback" not in text


FARM = 1000


def test_sigterm_mid_poll_of_1000_feeds_then_restart_polls_each_feed_once(
    tmp_path: Path, db_url: str
) -> None:
    """Stopped while polling 1,000 slow feeds: the fetches under way finish and are
    recorded, the feeds claimed but not started are released, so the restart polls
    exactly the rest: each feed fetched once in all, each item stored and alerted once."""
    from sqlalchemy import create_engine, text

    with FeedServer() as feeds, WebhookReceiver() as hook:
        urls = [feeds.add(f"/f/{i}.xml", _farm_feed(i), delay_s=0.3,
                          headers={"Content-Type": "application/rss+xml"})
                for i in range(FARM)]
        lines = "\n".join(f'  - {{url: "{u}"}}' for u in urls)
        (tmp_path / "monitor.yaml").write_text(f"""
poll: {{interval: 1h, timeout: 10s, jitter: 0, concurrency: 20, per_host: 20, backlog: 0,
        full_text: false}}
feeds:
{lines}
recipients: {{hook: ["{hook.json_url()}"]}}
default_notify: [hook]
rules: [{{name: zoom, query: Zoom, alert_per: article}}]
delivery: {{tick: 1s}}
""")
        log = tmp_path / "daemon.log"
        first = start(tmp_path, log, db_url)
        try:
            wait_until(lambda: len(feeds.requests) >= 200, "a fifth of the farm fetched",
                       guard_s=180)
        finally:
            first_code = stop_daemon(first)
        fetched_first = len(feeds.requests)
        assert fetched_first < FARM, "stopped too late: the pass had finished"
        engine = create_engine(db_url)
        with engine.connect() as conn:
            leased = conn.execute(text("SELECT count(*) FROM feed WHERE lease_owner IS NOT NULL"
                                       )).scalar()
            polled = conn.execute(text("SELECT count(*) FROM feed WHERE last_polled_at IS NOT "
                                       "NULL")).scalar()
        assert leased == 0  # released at the stop: the restart need not wait for them
        assert polled == fetched_first  # every fetch under way was finished and recorded
        second = start(tmp_path, log, db_url)
        try:
            wait_until(lambda: len(feeds.requests) >= FARM, "the rest of the farm", guard_s=180)
            wait_until(lambda: len(hook.delivered) >= FARM // 3 + 1, "every alert")
            time.sleep(1.5)  # a duplicate fetch or alert, if any, would come now
        finally:
            code = stop_daemon(second)
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT count(*) FROM article")).scalar()
        engine.dispose()
        per_feed = Counter(r.path for r in feeds.requests)
        alerts = Counter(r.json["title"] for r in hook.delivered)
    text_log = log.read_text()
    assert first_code == code == 0, text_log[-3000:]
    assert len(per_feed) == FARM and max(per_feed.values()) == 1  # none lost, none twice
    assert stored == FARM
    assert len(alerts) == len(range(0, FARM, 3)) and max(alerts.values()) == 1
    assert "Traceback" not in text_log


def _farm_feed(i: int) -> bytes:
    title = f"Zoom item {i}" if i % 3 == 0 else f"Quiet item {i}"
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>F{i}</title>'
            f"<item><title>{title}</title><link>https://farm.test/{i}</link>"
            f"<guid>i{i}</guid></item></channel></rss>").encode()
