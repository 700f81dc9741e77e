"""Crash safety of the real daemon: SIGKILL it mid-delivery, start it again.

Every alert must arrive, and only the message in flight at the kill may repeat
(at-least-once: a crash between a send and its commit). A slow webhook keeps a
delivery in flight; the waits below are guards against a hang, not timing
assertions: each waits for an event (a request, the process exiting).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from feedserver import FeedServer
from receivers import WebhookReceiver

ITEMS = 12


class SlowReceiver(WebhookReceiver):
    """Records each request, then waits before answering: the sender is mid-send."""

    delay_s = 0.3

    def _answer(self, *args: Any) -> int:
        status = super()._answer(*args)
        time.sleep(self.delay_s)
        return status


def feed_xml(n: int) -> bytes:
    items = "".join(
        f"<item><title>Zoom story {i}</title><link>https://wire.test/{i}</link>"
        f"<guid>g{i}</guid><description>Zoom news number {i}</description></item>"
        for i in range(n))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
            f"{items}</channel></rss>").encode()


def start(cwd: Path, log: Path, db_url: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["MONITOR_DATABASE_URL"] = db_url
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "monitor", "--log-level", "INFO", "run",
                                 "-c", "monitor.yaml"], cwd=cwd, env=env, stdout=out,
                                stderr=subprocess.STDOUT)


def wait_until(check: Any, what: str, guard_s: float = 60) -> None:
    deadline = time.monotonic() + guard_s  # a guard against hanging, not a timing assertion
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


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
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
        in_flight = len(hook.requests)
        assert in_flight < ITEMS, "killed too late: nothing was left in flight"
        second = start(tmp_path, log, db_url)
        try:
            wait_until(lambda: len({r.json["title"] for r in hook.requests}) == ITEMS,
                       "every alert after the restart")
        finally:
            second.send_signal(signal.SIGTERM)
            code = second.wait(timeout=60)
        titles = Counter(r.json["title"] for r in hook.requests)
    assert code == 0, log.read_text()[-3000:]
    assert set(titles) == {f"[zoom] Zoom story {i}" for i in range(ITEMS)}
    # Deliveries are sequential per process: at most the one message in flight repeats.
    repeats = sum(n - 1 for n in titles.values())
    assert repeats <= 1, titles
    assert "service.stopped" in log.read_text()
