"""Database faults in the middle of a poll, injected for real: on SQLite another
process holding the write lock past ``storage.busy_timeout`` and a full disk
(``PRAGMA max_page_count``); on PostgreSQL the connection cut while a feed is fetched
(a proxy in front of the shared server stops).

Each leaves nothing half-written, is recorded (the store's outage state and its one
log line; not on the feed: a database failure is not the feed's), and the next poll
after the lock, the space or the server comes back stores everything, once.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dbproxy import TcpProxy
from feedserver import FeedServer
from sqlalchemy import event

from monitor.config import Settings
from monitor.errors import StoreUnavailable
from monitor.service import Monitor
from monitor.store.repo import Store

T0 = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
RSS = "application/rss+xml"
#: A second process: BEGIN IMMEDIATE on "lock", COMMIT on "unlock" (one line each).
LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
for line in sys.stdin:
    conn.execute("BEGIN IMMEDIATE" if line.strip() == "lock" else "COMMIT")
    print("done", flush=True)
"""


def rss(*ids: int, words: int = 5) -> str:
    body = " ".join(["zeppelin"] * words)
    items = "".join(f"<item><title>Story {i}</title><link>https://news.test/{i}</link>"
                    f"<guid>g{i}</guid><description>{body} {i}</description></item>"
                    for i in ids)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{items}</channel></rss>'


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Locker:
    """Another process with its own connection to the database file."""

    def __init__(self, path: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", LOCKER, str(path)], text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def _say(self, word: str) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(word + "\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "done"

    def lock(self) -> None:
        self._say("lock")

    def unlock(self) -> None:
        self._say("unlock")

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


def make_monitor(db_url: str, urls: list[str], clock: Clock) -> Monitor:
    settings = Settings.model_validate({
        "database": db_url,
        "poll": {"interval": 900, "timeout": 10, "jitter": 0, "backlog": 0, "full_text": False},
        "feeds": [{"url": u, "name": f"feed{i}"} for i, u in enumerate(urls)],
        "rules": [{"name": "zep", "query": "zeppelin"}],
        "storage": {"busy_timeout": 1},  # the lock below is held longer than this
    })
    return Monitor.from_settings(settings, clock=clock)


def counts(source: Monitor | Store) -> tuple[int, int]:
    store = source.store if isinstance(source, Monitor) else source
    return (len(list(store.stored_articles())), len(store.list_matches()))


def test_a_write_lock_held_elsewhere_defers_the_poll_and_nothing_is_lost(
    sqlite_url: str, server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    url = server.add("/feed", rss(1, 2), content_type=RSS)
    clock = Clock()
    m = make_monitor(sqlite_url, [url], clock)
    locker = Locker(path)
    try:
        asyncio.run(m.poll())
        assert counts(m) == (2, 2)
        server.add("/feed", rss(1, 2, 3, 4), content_type=RSS, delay_s=0.5)
        clock.now += timedelta(seconds=901)
        # The lock is taken once the feed is claimed (its fetch under way): the ingest
        # and the release of the feed wait busy_timeout, then give up.
        fetched = threading.Thread(target=_when_requested, args=(server, 2, locker.lock))
        fetched.start()
        with caplog.at_level(logging.INFO), pytest.raises(StoreUnavailable):
            asyncio.run(m.poll())
        fetched.join()
        outage = m.store.health.outage
        assert outage is not None and "database is locked" in outage.error  # recorded
        locker.unlock()  # readers never waited: the lock only blocked writes
        assert counts(m) == (2, 2)  # nothing half-written
        (status,) = m.store.feed_statuses()
        assert status.error_count == 0 and status.last_error is None  # not the feed's
        assert status.lease_owner == m.owner  # held until its outcome can be stored
        report = asyncio.run(m.poll())  # recovers by itself: releases, then polls again
        assert (report.feeds, report.new_articles, report.failed) == (1, 2, 0)
        assert counts(m) == (4, 4)
        assert m.store.health.up
        (status,) = m.store.feed_statuses()
        assert status.error_count == 0 and status.lease_owner is None
    finally:
        locker.close()
        m.close()
    assert _messages(caplog, "store.unavailable") == 1
    assert _messages(caplog, "store.recovered") == 1
    assert not [r for r in caplog.records if r.exc_info]  # no traceback


def test_a_full_disk_stores_nothing_half_and_recovers_when_space_returns(
    sqlite_url: str, server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    url = server.add("/feed", rss(1), content_type=RSS)
    clock = Clock()
    m = make_monitor(sqlite_url, [url], clock)
    pages: list[int] = []

    def cap(dbapi_conn: Any, _record: Any) -> None:
        if pages:
            dbapi_conn.execute(f"PRAGMA max_page_count={pages[-1]}")

    # The daemon's own connections get the cap (a test reaches into the store here).
    engine = m.store._engine
    event.listen(engine, "connect", cap)
    try:
        asyncio.run(m.poll())
        with engine.connect() as conn:
            used = conn.exec_driver_sql("PRAGMA page_count").scalar()
        pages.append(int(used))  # full: not one page more
        engine.dispose()
        server.add("/feed", rss(*range(1, 301), words=200), content_type=RSS)
        clock.now += timedelta(seconds=901)
        with caplog.at_level(logging.INFO):
            report = asyncio.run(m.poll())
        assert (report.deferred, report.failed, report.new_articles) == (1, 0, 0)
        assert m.store.health.outages == 1  # recorded: one store.unavailable line
        assert "database or disk is full" in caplog.text
        assert counts(m) == (1, 1)  # the 299 new articles: none, not some
        (status,) = m.store.feed_statuses()
        assert status.error_count == 0 and status.last_error is None
        pages.append(1_000_000)  # space again
        engine.dispose()
        report = asyncio.run(m.poll())
        assert (report.new_articles, report.failed) == (299, 0)
        assert counts(m) == (300, 300)
        assert m.store.health.up
    finally:
        m.close()


@pytest.mark.postgres
def test_postgres_cut_mid_poll_defers_the_feed_and_the_next_poll_stores_it(
    pg_url: str, server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    url = server.add("/feed", rss(1, 2), content_type=RSS)
    clock = Clock()
    with TcpProxy(("127.0.0.1", 5432)) as proxy:
        m = make_monitor(pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"), [url],
                         clock)
        direct = Store.open(pg_url, migrate=False)  # the test's own view, not through the proxy
        try:
            asyncio.run(m.poll())
            server.add("/feed", rss(1, 2, 3, 4), content_type=RSS, delay_s=0.5)
            clock.now += timedelta(seconds=901)
            # Cut once the feed is claimed and being fetched: its items cannot be stored.
            cut = threading.Thread(target=_when_requested, args=(server, 2, proxy.refuse))
            cut.start()
            with caplog.at_level(logging.INFO), pytest.raises(StoreUnavailable):
                asyncio.run(m.poll())
            cut.join()
            assert counts(direct) == (2, 2)
            (status,) = direct.feed_statuses()
            assert status.error_count == 0 and status.last_error is None  # not the feed's
            assert status.lease_owner == m.owner
            proxy.accept()
            report = asyncio.run(m.poll())
            assert (report.feeds, report.new_articles, report.failed) == (1, 2, 0)
            assert counts(direct) == (4, 4)
            (status,) = direct.feed_statuses()
            assert status.error_count == 0 and status.lease_owner is None
        finally:
            direct.close()
            m.close()
    assert _messages(caplog, "store.unavailable") == 1
    assert _messages(caplog, "store.recovered") == 1
    assert not [r for r in caplog.records if r.exc_info]


def _when_requested(server: FeedServer, n: int, then: Any) -> None:
    """Run ``then`` once the server has seen ``n`` requests (a guard bounds the wait)."""
    ready = threading.Event()
    for _ in range(600):
        if len(server.requests) >= n:
            ready.set()
            break
        ready.wait(0.05)
    assert ready.is_set(), "the feed was never fetched"
    then()


def _messages(caplog: pytest.LogCaptureFixture, event_name: str) -> int:
    return sum(1 for r in caplog.records if r.getMessage().startswith(event_name))
