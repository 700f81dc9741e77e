"""`once` finishes its job, an interrupted run does not block the next, and an idle
daemon is quiet: real `news-monitor` processes, a local feed farm, a webhook receiver,
SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clirun import cli
from daemon import start_daemon, stop_daemon
from feedserver import FeedServer
from receivers import HungServer, WebhookReceiver

CONFIG = """
database: sqlite:///state/monitor.db
poll: {{interval: 15m, timeout: 60s, jitter: 0, tick: 1s, per_host: 20}}
delivery: {{batch: 5, tick: {deliver_tick}}}
feeds:
{feeds}
recipients:
  hook: ["{hook}"]
rules:
  - {{name: zoom, query: Zoom, notify: [hook], alert_per: article}}
"""
FEEDS, ITEMS = 8, 5  # 40 matches, eight times delivery.batch


def farm_feed(n: int) -> str:
    # Undated items: new, so alerted on the first poll whatever poll.backlog says.
    items = "".join(f"<item><title>Zoom story {n}-{i}</title><link>https://f{n}.test/{i}</link>"
                    f"<guid>{n}-{i}</guid></item>" for i in range(ITEMS))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>F{n}</title>{items}</channel></rss>'


@pytest.fixture
def farm(tmp_path: Path) -> Iterator[tuple[FeedServer, WebhookReceiver, list[str]]]:
    with FeedServer() as feeds, WebhookReceiver() as hook:
        urls = [feeds.add(f"/f{n}.xml", farm_feed(n), content_type="application/rss+xml")
                for n in range(FEEDS)]
        yield feeds, hook, urls


def write_config(tmp_path: Path, urls: list[str], hook: WebhookReceiver,
                 deliver_tick: str = "5s") -> Path:
    config = tmp_path / "monitor.yaml"
    config.write_text(CONFIG.format(
        feeds="\n".join(f'  - {{url: "{u}", name: F{i}}}' for i, u in enumerate(urls)),
        hook=hook.json_url(), deliver_tick=deliver_tick))
    return config


def test_once_sends_every_due_alert_batch_by_batch(farm, tmp_path: Path, db_url: str) -> None:  # type: ignore[no-untyped-def]
    _, hook, urls = farm
    config = write_config(tmp_path, urls, hook)
    result = cli("once", "-c", str(config), cwd=tmp_path, db_url=db_url)
    assert result.returncode == 0, result.stderr
    assert len(hook.delivered) == FEEDS * ITEMS
    assert "alerts sent 40," in result.stderr and "pending" not in result.stderr
    listed = cli("alerts", "list", "-c", str(config), "--format", "jsonl", cwd=tmp_path,
                 db_url=db_url)
    assert {json.loads(line)["status"] for line in listed.stdout.splitlines()} == {"sent"}


def test_once_past_its_time_budget_says_what_is_pending(farm, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    feeds, hook, urls = farm
    # Feeds that answer after 2 s spend the whole 1 s budget on the poll (nothing is due
    # while it runs): one batch still goes, the rest is counted and left for the next run.
    urls = [feeds.add(f"/f{n}.xml", farm_feed(n), content_type="application/rss+xml",
                      delay_s=2) for n in range(FEEDS)]
    config = write_config(tmp_path, urls, hook)
    result = cli("once", "-c", str(config), "--max-time", "1s", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(hook.delivered) == 5
    assert "35 alerts still pending: --max-time 1s ran out" in result.stderr, result.stderr
    again = cli("once", "-c", str(config), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert len(hook.delivered) == 40


def daemon(config: Path, tmp_path: Path, db_url: str | None = None) -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp_path / "daemon.log"
    return start_daemon(config, log, db_url=db_url), log


def test_daemon_sends_a_burst_without_waiting_for_ticks(farm, tmp_path: Path, db_url: str) -> None:  # type: ignore[no-untyped-def]
    _, hook, urls = farm
    # One delivery tick an hour: the burst must go out in the pass after the poll.
    config = write_config(tmp_path, urls, hook, deliver_tick="1h")
    proc, log = daemon(config, tmp_path, db_url)
    try:
        delivered = hook.wait_for(FEEDS * ITEMS, timeout=60)
    finally:
        code = stop_daemon(proc)
    assert len(delivered) == FEEDS * ITEMS, log.read_text()
    assert code == 0, log.read_text()


def test_an_idle_daemon_logs_no_warning(tmp_path: Path) -> None:
    with FeedServer() as feeds, WebhookReceiver() as hook:
        url = feeds.add("/f.xml", farm_feed(0).replace("Zoom", "Quiet"), etag='"v1"')
        config = write_config(tmp_path, [url], hook, deliver_tick="1s")
        config.write_text(config.read_text().replace("interval: 15m", "interval: 1s"))
        proc, log = daemon(config, tmp_path)
        try:
            deadline = time.monotonic() + 60
            while "service.started" not in log.read_text():
                assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
                time.sleep(0.1)
            time.sleep(8)  # several poll and delivery ticks, nothing to send
        finally:
            code = stop_daemon(proc)
        text = log.read_text()
        assert code == 0, text
        assert len(feeds.requests_to("/f.xml")) >= 3, text  # it really was polling
        assert " WARNING " not in text and " ERROR " not in text, text


def polled(stderr: str) -> int:
    line = next(line for line in stderr.splitlines() if "feeds polled" in line)
    return int(line.split()[0])


@pytest.mark.parametrize(("backend", "sig"), [
    ("sqlite_url", signal.SIGINT),
    pytest.param("pg_url", signal.SIGINT, marks=pytest.mark.postgres),
    ("sqlite_url", signal.SIGTERM),  # the same release on the way out; SQLite is enough
])
def test_an_interrupted_once_does_not_block_the_next(
    tmp_path: Path, request: pytest.FixtureRequest, backend: str, sig: int
) -> None:
    db_url = str(request.getfixturevalue(backend))
    with FeedServer() as feeds, WebhookReceiver() as hook:
        urls = [feeds.add(f"/f{n}.xml", farm_feed(n), content_type="application/rss+xml")
                for n in range(3)]
        urls += [feeds.add(f"/slow{n}.xml", farm_feed(10 + n), delay_s=60) for n in range(3)]
        config = write_config(tmp_path, urls, hook)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
        env["MONITOR_DATABASE_URL"] = db_url
        proc = subprocess.Popen([sys.executable, "-m", "monitor", "once", "-c", str(config)],
                                cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while len([r for r in feeds.requests if r.path.startswith("/slow")]) < 3:
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=30)  # not the 60 s the slow feeds take
        assert proc.returncode == 130, stderr
        assert "interrupted" in stderr and "Traceback" not in stderr, stderr
        for n in range(3):
            feeds.add(f"/slow{n}.xml", farm_feed(10 + n))
        again = cli("once", "-c", str(config), cwd=tmp_path, db_url=db_url)
        assert again.returncode == 0, again.stderr
        assert polled(again.stderr) == 6, again.stderr


@pytest.mark.parametrize(("backend", "sig"), [
    ("sqlite_url", signal.SIGINT),
    pytest.param("pg_url", signal.SIGINT, marks=pytest.mark.postgres),
    ("sqlite_url", signal.SIGTERM),
])
def test_an_interrupted_once_records_the_feeds_it_finished(
    tmp_path: Path, request: pytest.FixtureRequest, backend: str, sig: int
) -> None:
    # Outcomes wait in a buffer for their batch: the interrupt must write them before it
    # gives the leases back, or status says "not polled yet" beside stored articles.
    db_url = str(request.getfixturevalue(backend))
    with FeedServer() as feeds, WebhookReceiver() as hook:
        good = feeds.add("/good.xml", farm_feed(0), content_type="application/rss+xml",
                         etag='"v1"')
        html = feeds.add("/page.html", "<html><body>not a feed</body></html>",
                         content_type="text/html")
        missing = feeds.url("/missing.xml")  # 404
        with HungServer() as hung:
            hanging = f"http://127.0.0.1:{hung.port}/feed.xml"
            config = write_config(tmp_path, [good, html, missing, hanging], hook)
            log = tmp_path / "once.log"
            proc = start_once(config, log, db_url)
            try:
                deadline = time.monotonic() + 60
                while log.read_text().count("feed.polled") < 3 or not hung.connections:
                    assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
                    time.sleep(0.05)
                proc.send_signal(sig)
                proc.wait(timeout=30)  # not the 60 s the hanging feed may take
            finally:
                proc.kill()
        assert proc.returncode == 130, log.read_text()
        rows = status_rows(config, tmp_path, db_url)
        assert rows[good]["last_status"] == 200 and rows[good]["health"] == "ok", rows[good]
        assert rows[good]["articles"] == ITEMS and rows[good]["last_polled_at"]
        assert rows[missing]["last_status"] == 404 and rows[missing]["error_count"] == 1
        assert rows[html]["last_error"] and rows[html]["error_count"] == 1, rows[html]
        for url in (good, html, missing):  # polled: not due again, not held
            assert rows[url]["next_poll"] != "due now" and rows[url]["lease_owner"] is None
        assert rows[hanging]["health"] == "new: not polled yet", rows[hanging]
        assert rows[hanging]["next_poll"] == "due now" and rows[hanging]["lease_owner"] is None
        # The next run polls the feed left unfinished (refused now) and revalidates the
        # finished one with the ETag the interrupted run stored; no alert twice.
        again = cli("once", "-c", str(config), cwd=tmp_path, db_url=db_url)
        assert again.returncode == 0, again.stderr
        assert feeds.requests_to("/good.xml")[-1].headers.get("if-none-match") == '"v1"'
        assert status_rows(config, tmp_path, db_url)[hanging]["last_polled_at"]
        assert len(hook.delivered) == ITEMS, again.stderr


def start_once(config: Path, log: Path, db_url: str) -> subprocess.Popen[bytes]:
    """`news-monitor --log-level INFO once`, its stderr written to ``log``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["MONITOR_DATABASE_URL"] = db_url
    with log.open("w") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "monitor", "--log-level", "INFO", "once", "-c", str(config)],
            cwd=config.parent, env=env, stdout=subprocess.DEVNULL, stderr=stderr)


def status_rows(config: Path, tmp_path: Path, db_url: str) -> dict[str, dict[str, object]]:
    status = cli("status", "-c", str(config), "--format", "json", cwd=tmp_path, db_url=db_url)
    assert status.returncode == 0, status.stderr
    return {r["url"]: r for r in json.loads(status.stdout)}


def test_after_kill_9_once_and_status_say_who_holds_the_feeds(tmp_path: Path) -> None:
    with FeedServer() as feeds, WebhookReceiver() as hook:
        fast = feeds.add("/fast.xml", farm_feed(0))
        slow = feeds.add("/slow.xml", farm_feed(1), delay_s=60)
        config = write_config(tmp_path, [fast, slow], hook)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
        proc = subprocess.Popen([sys.executable, "-m", "monitor", "once", "-c", str(config)],
                                cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not feeds.requests_to("/slow.xml"):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        proc.kill()
        proc.wait(timeout=10)
        again = cli("once", "-c", str(config), cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert f"feed skipped: {slow}: held by " in again.stderr, again.stderr
        status = cli("status", "-c", str(config), "--format", "json", cwd=tmp_path)
        rows = {r["url"]: r for r in json.loads(status.stdout)}
        owner, until = rows[slow]["lease_owner"], rows[slow]["lease_until"]
        assert owner and until, rows[slow]
        assert f"feed skipped: {slow}: held by {owner} until {until}" in again.stderr
        assert rows[slow]["next_poll"].startswith(f"held by {owner} until ")


def test_once_sends_alerts_while_a_slow_feed_is_still_polled(farm, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    feeds, hook, urls = farm
    # The farm's alerts go out while `once` still waits for the slow feed: a first run
    # over many feeds ends soon after its last fetch, not a whole drain later.
    delay_s = 30  # long enough for a start-up on a loaded machine (11 s seen at load 18)
    slow = feeds.add("/slow.xml", farm_feed(99).replace("Zoom", "Quiet"), delay_s=delay_s)
    config = write_config(tmp_path, [*urls, slow], hook)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "once", "-c", str(config)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        hook.wait_for(FEEDS * ITEMS, timeout=60)
        # Sent before the slow feed could answer: its request went out after start-up.
        assert time.monotonic() - started < delay_s and proc.poll() is None
        _, stderr = proc.communicate(timeout=delay_s + 60)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    assert "alerts sent 40," in stderr and len(hook.delivered) == FEEDS * ITEMS
