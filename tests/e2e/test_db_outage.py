"""The database goes away and comes back, under a running `news-monitor run`.

PostgreSQL: the daemon polls 100 local feeds that keep getting new items and sends
each match to two webhook targets. Its backends are terminated every 2 s for a minute
(``pg_terminate_backend``), then the database refuses connections for 30 s (a
TCP proxy in front of the shared server stops listening and drops every
connection: the shared server keeps running). Afterwards, with the same daemon
process: every article stored once, every match once and alerted once per target
(at most the message in flight at the cut repeated), no feed recorded as failing
or stuck with a lease, ``status`` healthy, ``/readyz`` said "not ready" while the
database was gone, and the log has one line for the outage and one for its end,
no traceback.

The waits are guards against a hang, each for an event; nothing asserts a duration.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
from clirun import cli
from daemon import start_daemon, stop_daemon
from daemon import wait_until as wait_for_event
from dbproxy import TcpProxy
from farm import Farm
from feedserver import FeedServer, unused_port
from receivers import WebhookReceiver
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError

from monitor.store import db

FEEDS = 100
#: As the issue has it: backends terminated every few seconds for a minute, then the
#: database refusing connections for 30 s.
TERMINATE_FOR_S, TERMINATE_EVERY_S, OUTAGE_S = 60, 2, 30

CONFIG = """
poll: {{interval: 1s, tick: 1s, lease: 10s, timeout: 5s, jitter: 0, concurrency: 20,
        per_host: 50, backlog: 0}}
delivery: {{tick: 1s, lease: 5s}}
storage: {{retry_base: 1s, retry_cap: 2s}}
http: {{listen: "127.0.0.1:{port}", public_metrics: true}}
feeds:
{feeds}
recipients:
  one: ["{one}"]
  two: ["{two}"]
rules:
  - {{name: alpha, query: alpha, notify: [one, two], alert_per: article}}
"""


#: Longer guards than the default (an outage and a recovery under load), and a slower
#: poll: each check is an HTTP request or a query.
wait_until = partial(wait_for_event, guard_s=120, every_s=0.2)


def readyz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)
    except urllib.error.URLError:  # not listening yet
        return 0


def database_up(port: int) -> str:
    """The newsmonitor_database_up sample of /metrics ("" when it does not answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            body = r.read().decode()
    except urllib.error.URLError:
        return ""
    return next((line.split()[-1] for line in body.splitlines()
                 if line.startswith("newsmonitor_database_up ")), "")


def test_postgres_outage_under_a_running_daemon(tmp_path: Path, pg_url: str) -> None:
    db.upgrade(pg_url)
    app = f"nm_outage_{uuid.uuid4().hex[:8]}"
    direct = create_engine(pg_url)
    admin = psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True)

    def scalar(sql: str, **params: object) -> Any:
        with direct.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def terminate() -> int:
        return len(admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE application_name = %s", (app,)).fetchall())

    with FeedServer() as server, WebhookReceiver() as one, WebhookReceiver() as two, \
            TcpProxy(("127.0.0.1", 5432)) as proxy:
        farm = Farm(server, FEEDS)
        farm.add(30)
        port = unused_port()
        config = tmp_path / "monitor.yaml"
        config.write_text(CONFIG.format(port=port, feeds=farm.config_feeds(),
                                        one=one.json_url("/one"), two=two.json_url("/two")))
        daemon_url = (pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
                      + f"&application_name={app}")
        log = tmp_path / "daemon.log"
        daemon = start_daemon(config, log, db_url=daemon_url, log_level="INFO")
        stop_publishing = farm.publish_every(0.2, 3)
        try:
            wait_until(lambda: readyz(port) == 200, "the daemon to be ready")
            # 1. Backends terminated again and again while it polls and delivers.
            killed = 0
            for _ in range(TERMINATE_FOR_S // TERMINATE_EVERY_S):
                killed += terminate()
                time.sleep(TERMINATE_EVERY_S)
            assert killed > 0
            assert daemon.poll() is None, log.read_text()[-3000:]
            # 2. The database refuses connections for a while.
            proxy.refuse()
            wait_until(lambda: readyz(port) == 503, "/readyz to say not ready")
            time.sleep(OUTAGE_S)  # the outage: polls, deliveries, probes all fail meanwhile
            assert readyz(port) == 503
            assert database_up(port) == "0.0"  # /metrics answers, and says so
            assert daemon.poll() is None, log.read_text()[-3000:]
            proxy.accept()
            recovered_at = datetime.now(UTC)
            wait_until(lambda: readyz(port) == 200, "/readyz to be ready again")
            assert database_up(port) == "1.0"
            time.sleep(3)  # more items arrive after the outage
            stop_publishing()
            expected, alpha = len(farm.published), farm.alpha
            wait_until(lambda: scalar("SELECT count(*) FROM article") >= expected,
                       "every published item to be stored")
            wait_until(lambda: len(one.delivered) >= len(alpha)
                       and len(two.delivered) >= len(alpha), "every alert to both targets")
            # Every feed polled since the outage ended: none stuck behind a lease.
            wait_until(lambda: scalar("SELECT count(*) FROM feed WHERE last_polled_at > :t",
                                      t=recovered_at) == FEEDS, "every feed to be polled again")
            time.sleep(2)  # a late duplicate, if any, would arrive now
            assert daemon.poll() is None, log.read_text()[-3000:]  # it never exited
            status = cli("status", "-c", str(config), "--format", "json", cwd=tmp_path,
                         db_url=pg_url)
        finally:
            stop_publishing()
            code = stop_daemon(daemon)
            admin.close()
        stored = scalar("SELECT count(*) FROM article")
        distinct = scalar("SELECT count(DISTINCT key) FROM article")
        matches = scalar("SELECT count(*) FROM match")
        failing = scalar("SELECT count(*) FROM feed WHERE error_count > 0 "
                         "OR last_error IS NOT NULL")
    direct.dispose()
    text_log = log.read_text()
    assert code == 0, text_log[-3000:]
    assert stored == distinct == expected  # each article once
    assert matches == len(alpha)
    for target in (one, two):
        sent = Counter(r.json["title"] for r in target.delivered)
        assert set(sent) == {f"[alpha] {t}" for t in alpha}  # every match alerted
        repeats = sum(n - 1 for n in sent.values())
        assert repeats <= 1, sent.most_common(3)  # at most the message in flight at the cut
    assert failing == 0  # a database failure is not the feeds'
    assert status.returncode == 0, status.stderr
    rows = json.loads(status.stdout)
    assert len(rows) == FEEDS and all(r["error_count"] == 0 for r in rows)
    assert all(r["lease_owner"] is None or r["last_polled_at"] for r in rows)
    # One line when the database went away and one when it came back; no traceback.
    health = _lines(text_log, "monitor.store.health")  # the outage lines, not every save
    assert text_log.count("store.unavailable") == 1, health
    assert text_log.count("store.recovered") == 1, health
    assert "Traceback" not in text_log, text_log[text_log.index("Traceback") - 500:][:3000]
    assert "service.stopped" in text_log


def _lines(log: str, needle: str) -> str:
    return "\n".join(line for line in log.splitlines() if needle in line)[:3000]


def test_the_daemon_started_before_its_database_waits_for_it(tmp_path: Path,
                                                             pg_url: str) -> None:
    """Both restarting (a host reboot): `run` waits for the database, logging once that it
    is not there and once that it is, instead of exiting."""
    with FeedServer() as server, TcpProxy(("127.0.0.1", 5432)) as proxy:
        farm = Farm(server, 3)
        farm.add(3)
        proxy.refuse()
        config = tmp_path / "monitor.yaml"
        config.write_text(f"feeds:\n{farm.config_feeds()}\npoll: {{full_text: false}}\n"
                          "storage: {retry_base: 1s, retry_cap: 2s}\n")
        log = tmp_path / "daemon.log"
        daemon = start_daemon(config, log, log_level="INFO",
                              db_url=pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"))
        try:
            wait_until(lambda: "store.unavailable" in log.read_text(), "the first attempt")
            time.sleep(3)  # a few retries
            assert daemon.poll() is None, log.read_text()[-3000:]
            proxy.accept()
            engine = create_engine(pg_url)

            def stored() -> int:
                with engine.connect() as conn:
                    try:
                        return int(conn.execute(text("SELECT count(*) FROM article")).scalar())
                    except ProgrammingError:  # not migrated yet
                        conn.rollback()
                        return 0

            wait_until(lambda: stored() == 3, "the items once the database is there")
            engine.dispose()
        finally:
            code = stop_daemon(daemon)
    text_log = log.read_text()
    assert code == 0, text_log[-3000:]
    assert text_log.count("store.unavailable") == 1 and text_log.count("store.recovered") == 1
    assert "Traceback" not in text_log
