"""`once` over a farm (50+ feeds, 2+ cores) delivers in a process of its own while it
polls: every alert still goes out once, a stop repeats nothing, and the time budget
counts what is left. Real `news-monitor` processes, a local feed farm, a webhook
receiver, SQLite and PostgreSQL."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from clirun import cli
from feedserver import FeedServer
from receivers import WebhookReceiver
from test_once_finishes import write_config

from monitor.service import ONCE_PARSE_PROCESS_FEEDS

FEEDS, ITEMS = ONCE_PARSE_PROCESS_FEEDS + 10, 2
ALERTS = FEEDS * ITEMS

pytestmark = pytest.mark.skipif((os.cpu_count() or 1) < 2,
                                reason="`once` delivers in its own process on 2+ cores only")

def farm_feed(n: int) -> str:
    # Undated items are new: alerted on the first poll whatever poll.backlog says.
    items = "".join(f"<item><title>Zoom {n}.{i}</title><guid>z{n}.{i}</guid>"
                    f"<link>https://z{n}.test/{i}</link></item>" for i in range(ITEMS))
    return f'<rss version="2.0"><channel><title>Z{n}</title>{items}</channel></rss>'


def farm_config(tmp_path: Path, feeds: FeedServer, hook: WebhookReceiver) -> Path:
    urls = [feeds.add(f"/f{n}.xml", farm_feed(n), content_type="application/rss+xml")
            for n in range(FEEDS)]
    return write_config(tmp_path, urls, hook)


def statuses(config: Path, tmp_path: Path, db_url: str) -> collections.Counter[str]:
    listed = cli("alerts", "list", "-c", str(config), "--format", "jsonl", cwd=tmp_path,
                 db_url=db_url)
    return collections.Counter(json.loads(line)["status"] for line in listed.stdout.splitlines())


def test_once_over_a_farm_delivers_every_alert_once_from_a_process_of_its_own(
    tmp_path: Path, db_url: str
) -> None:
    with FeedServer() as feeds, WebhookReceiver() as hook:
        config = farm_config(tmp_path, feeds, hook)
        result = cli("--log-level", "DEBUG", "once", "-c", str(config), cwd=tmp_path,
                     db_url=db_url)
        assert result.returncode == 0, result.stderr[-3000:]
        titles = collections.Counter(r.json["title"] for r in hook.requests)
        # All unchanged now, nothing due: no process is started for nothing.
        again = cli("--log-level", "DEBUG", "once", "-c", str(config), cwd=tmp_path,
                    db_url=db_url)
    # Feeds never polled: it starts with the run, its start beside the first fetches.
    log = result.stderr
    assert "deliver.process_started" in log
    assert log.index("deliver.process_started") < log.index("store.articles_saved")
    assert f"alerts sent {ALERTS}," in log and "pending" not in log
    assert len(titles) == ALERTS and set(titles.values()) == {1}
    assert statuses(config, tmp_path, db_url) == {"sent": ALERTS}
    assert again.returncode == 0 and "alerts sent 0," in again.stderr, again.stderr
    assert "deliver.process_started" not in again.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("when", ["while polling", "after the poll"])
def test_a_stopped_once_stops_its_delivery_process_and_the_next_sends_the_rest_once(
    tmp_path: Path, db_url: str, sig: int, when: str
) -> None:
    # A slow receiver: the stop comes while most alerts are still to send.
    with FeedServer() as feeds, WebhookReceiver(delay_s=0.1) as hook:
        config = farm_config(tmp_path, feeds, hook)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
        env["MONITOR_DATABASE_URL"] = db_url
        log = tmp_path / "once.log"
        with log.open("w") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-m", "monitor", "--log-level", "INFO", "once", "-c",
                 str(config)], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            hook.wait_for(5, timeout=60)
            deadline = time.monotonic() + 60
            while when == "after the poll" and "poll.done" not in log.read_text():
                assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
                time.sleep(0.02)
            # Only the parent is told (as by `kill` or a service manager): it stops the
            # child, also while it waits for the child's last sends.
            proc.send_signal(sig)
            proc.wait(timeout=30)
        finally:
            proc.kill()
        assert proc.returncode == 130, log.read_text()[-3000:]
        stopped_at = len(hook.delivered)
        assert stopped_at < ALERTS, "the stop came too late to test anything"
        time.sleep(0.5)
        assert len(hook.delivered) == stopped_at, "the delivery process went on sending"
        # Its rows were given back: the next run sends them at once, not after a lease.
        again = cli("once", "-c", str(config), cwd=tmp_path, db_url=db_url)
        assert again.returncode == 0, again.stderr
        titles = collections.Counter(r.json["title"] for r in hook.requests)
    assert len(titles) == ALERTS, again.stderr
    assert max(titles.values()) == 1, titles  # a stop repeats nothing
    assert statuses(config, tmp_path, db_url) == {"sent": ALERTS}


def test_once_past_its_time_budget_counts_what_its_delivery_process_left(
    tmp_path: Path
) -> None:
    with FeedServer() as feeds, WebhookReceiver(delay_s=0.1) as hook:
        config = farm_config(tmp_path, feeds, hook)
        result = cli("--log-level", "DEBUG", "once", "-c", str(config), "--max-time", "3s",
                     cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "deliver.process_started" in result.stderr
        sent = len(hook.delivered)
        assert 0 < sent < ALERTS, result.stderr
        assert f"alerts sent {sent}," in result.stderr, result.stderr
        assert (f"{ALERTS - sent} alerts still pending: --max-time 3s ran out"
                in result.stderr), result.stderr


def test_a_killed_once_leaves_no_delivery_process_sending_and_loses_nothing(
    tmp_path: Path
) -> None:
    with FeedServer() as feeds, WebhookReceiver(delay_s=0.1) as hook:
        config = farm_config(tmp_path, feeds, hook)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
        proc = subprocess.Popen([sys.executable, "-m", "monitor", "once", "-c", str(config)],
                                cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        hook.wait_for(5, timeout=60)
        proc.kill()  # the parent only: its delivery process sees the pipe close
        proc.wait(timeout=10)
        time.sleep(1.0)  # the send it had in flight ends (0.1 s) and it exits
        stopped_at = len(hook.delivered)
        time.sleep(1.0)
        assert len(hook.delivered) == stopped_at, "an orphaned delivery process went on"
        again = cli("once", "-c", str(config), cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        titles = collections.Counter(r.json["title"] for r in hook.requests)
    assert max(titles.values()) == 1, titles  # it recorded what it sent, gave back the rest
    # Every alert stored went out in the next run, at once (feeds the killed run held
    # are skipped until their leases run out: their items are not stored yet).
    assert statuses(config, tmp_path, "") == {"sent": len(titles)}, again.stderr
    assert len(titles) > stopped_at
