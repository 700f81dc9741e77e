"""Polling through the real service: schedules from server hints, 410, 301, unchanged
bodies, adaptive intervals and status words. Local HTTP server, real store, injected clock."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from random import Random
from typing import Any

import pytest
from feedserver import FeedServer

from monitor.config import Settings
from monitor.feeds.health import health, next_poll
from monitor.poll import ingest
from monitor.service import Monitor
from monitor.store.repo import FeedStatus

T0 = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
RSS_TYPE = "application/rss+xml"


def rss(*guids: str, ttl: int | None = None) -> str:
    items = "".join(
        f"<item><title>Story {g}</title><link>https://news.test/{g}</link><guid>{g}</guid></item>"
        for g in guids
    )
    ttl_tag = f"<ttl>{ttl}</ttl>" if ttl else ""
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{ttl_tag}{items}</channel></rss>'


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


def make_monitor(db_url: str, urls: list[str], clock: Clock, **poll: Any) -> Monitor:
    settings = Settings.model_validate({
        "database": db_url,
        "poll": {"interval": 900, "timeout": 3, "jitter": 0, **poll},
        "feeds": [{"url": u, "name": f"feed{i}"} for i, u in enumerate(urls)],
    })
    return Monitor.from_settings(settings, clock=clock)


def statuses(m: Monitor) -> dict[str, FeedStatus]:
    return {s.url: s for s in m.store.feed_statuses()}


def test_gone_disables_the_feed_and_status_says_so(db_url: str, server: FeedServer) -> None:
    gone = server.add("/gone", "bye", status=410)
    ok = server.add("/ok", rss("a"), content_type=RSS_TYPE)
    clock = Clock()
    m = make_monitor(db_url, [gone, ok], clock)
    try:
        report = asyncio.run(m.poll())
        assert report.feeds == 2 and report.errors == {gone: "HTTP 410"}
        s = statuses(m)[gone]
        assert s.disabled_reason and "410" in s.disabled_reason
        assert health(s).startswith("disabled: HTTP 410 Gone")
        assert next_poll(s, clock.now) == "never (not polled)"
        clock.advance(86400 * 30)
        assert asyncio.run(m.poll()).feeds == 1  # only the healthy feed
        assert asyncio.run(m.poll(all_feeds=True)).feeds == 1
        assert m.store.enable_feed(gone, clock.now)
        assert asyncio.run(m.poll()).feeds == 1  # the enabled one (ok is not due yet)
    finally:
        m.close()
    assert len(server.requests_to("/gone")) == 2


def test_permanent_redirect_moves_the_feed_and_status_shows_it(
    db_url: str, server: FeedServer
) -> None:
    new = server.add("/new", rss("a"), content_type=RSS_TYPE)
    old = server.redirect("/old", "/new", status=301)
    clock = Clock()
    m = make_monitor(db_url, [old], clock)
    try:
        assert asyncio.run(m.poll()).new_articles == 1
        s = statuses(m)[old]
        assert s.fetch_url == new
        assert health(s) == f"ok; moved permanently, now fetched from {new}"
        clock.advance(901)
        asyncio.run(m.poll())
    finally:
        m.close()
    assert len(server.requests_to("/old")) == 1 and len(server.requests_to("/new")) == 2


def test_identical_body_is_not_parsed_again(
    db_url: str, server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = server.add("/feed", rss("a", "b"), content_type=RSS_TYPE)  # no validators
    parses: list[bytes] = []
    real = ingest.parse_feed

    def counting(body: bytes, *args: Any, **kwargs: Any) -> Any:
        parses.append(body)
        return real(body, *args, **kwargs)

    monkeypatch.setattr(ingest, "parse_feed", counting)
    clock = Clock()
    m = make_monitor(db_url, [url], clock)
    try:
        assert asyncio.run(m.poll()).new_articles == 2
        clock.advance(901)
        second = asyncio.run(m.poll())
        assert (second.feeds, second.not_modified, second.new_articles) == (1, 1, 0)
        assert len(parses) == 1
        server.add("/feed", rss("c", "a", "b"), content_type=RSS_TYPE)
        clock.advance(901)
        assert asyncio.run(m.poll()).new_articles == 1
        assert len(parses) == 2
        assert statuses(m)[url].error_count == 0
    finally:
        m.close()


@pytest.mark.parametrize(
    ("status", "headers", "body", "delay_s"),
    [
        (503, {"Retry-After": "7200"}, "busy", 7200),
        (429, {"Retry-After": "Thu, 26 Nov 2026 15:00:00 GMT"}, "slow down", 3 * 3600),
        (503, {}, "busy", 1800),  # no Retry-After: plain backoff (900 * 2)
        (200, {"Cache-Control": "max-age=5400"}, rss("a"), 5400),
        (200, {"Expires": "Thu, 26 Nov 2026 14:00:00 GMT"}, rss("a"), 7200),
        (200, {}, rss("a", ttl=120), 7200),  # RSS <ttl> in minutes
        (200, {"Cache-Control": "max-age=60"}, rss("a"), 900),  # shorter than the interval
    ],
)
def test_next_poll_honours_the_server(
    sqlite_url: str, server: FeedServer, status: int, headers: dict[str, str], body: str,
    delay_s: int,
) -> None:
    url = server.add("/feed", body, status=status, headers=headers, content_type=RSS_TYPE)
    m = make_monitor(sqlite_url, [url], Clock())
    try:
        asyncio.run(m.poll())
        assert statuses(m)[url].next_poll_at == T0 + timedelta(seconds=delay_s)
    finally:
        m.close()


def test_adaptive_interval_follows_the_rate_of_new_items(
    sqlite_url: str, server: FeedServer
) -> None:
    url = server.add("/feed", rss(*(f"old{i}" for i in range(10))), content_type=RSS_TYPE)
    clock = Clock()
    m = make_monitor(sqlite_url, [url], clock, adaptive=True, min_interval="5m",
                     max_interval="1d")
    try:
        asyncio.run(m.poll())  # the backlog of 10 says nothing about the rate
        assert statuses(m)[url].items_per_day is None
        clock.advance(3600)
        server.add("/feed", rss("new1", "new2", *(f"old{i}" for i in range(8))),
                   content_type=RSS_TYPE)
        asyncio.run(m.poll(all_feeds=True))
        s = statuses(m)[url]
        assert s.items_per_day == pytest.approx(48.0)  # 2 in an hour
        assert s.next_poll_at == clock.now + timedelta(seconds=1800)
        clock.advance(86400)  # a quiet day: same body, no new items
        asyncio.run(m.poll(all_feeds=True))
        s = statuses(m)[url]
        assert s.items_per_day == pytest.approx(24.0)  # half-life of a day
        assert s.next_poll_at == clock.now + timedelta(seconds=3600)
    finally:
        m.close()


def test_jitter_spreads_feeds_but_stays_within_its_share(
    sqlite_url: str, server: FeedServer
) -> None:
    urls = [server.add(f"/f{i}", rss(f"x{i}"), content_type=RSS_TYPE) for i in range(20)]
    clock = Clock()
    settings = Settings.model_validate({
        "database": sqlite_url, "poll": {"interval": 1000, "jitter": 0.2},
        "feeds": [{"url": u} for u in urls],
    })
    m = Monitor.from_settings(settings, clock=clock)
    m.rng = Random(42)
    try:
        asyncio.run(m.poll())
        delays = {(s.next_poll_at - T0).total_seconds() for s in statuses(m).values()
                  if s.next_poll_at}
    finally:
        m.close()
    assert len(delays) > 10 and min(delays) >= 1000 and max(delays) <= 1200


def test_status_words() -> None:
    base = FeedStatus(url="u", name="n", active=True, last_status=200, last_error=None,
                      error_count=0, articles=3, last_polled_at=T0, next_poll_at=T0)
    assert health(base) == "ok"
    failing = FeedStatus(**{**base.__dict__, "error_count": 3, "last_error": "HTTP 500"})
    assert health(failing) == "failing 3 times in a row: HTTP 500"
    assert health(FeedStatus(**{**base.__dict__, "last_polled_at": None})).startswith("new")
    assert health(FeedStatus(**{**base.__dict__, "active": False})).startswith("not in the config")
    later = FeedStatus(**{**base.__dict__, "next_poll_at": T0 + timedelta(minutes=14, seconds=5)})
    assert next_poll(later, T0) == "in 14 min"
    assert next_poll(base, T0 + timedelta(hours=2, minutes=5)) == "overdue by 2 h 5 min"
    assert next_poll(base, T0) == "due now"


def test_parsing_in_a_worker_process_gives_the_same_result(
    sqlite_url: str, server: FeedServer
) -> None:
    urls = [server.add(f"/f{i}", rss(f"p{i}a", f"p{i}b"), content_type=RSS_TYPE)
            for i in range(3)]
    urls.append(server.add("/html", "<html><body>no</body></html>", content_type="text/html"))
    clock = Clock()
    m = make_monitor(sqlite_url, urls, clock, parse_workers=1)
    try:
        assert m._parse_pool is None  # started on first use, not at start-up
        report = asyncio.run(m.poll())
        assert m._parse_pool is not None
        assert (report.new_articles, report.failed) == (6, 1)
        assert "not a feed" in report.errors[urls[-1]]
        clock.advance(901)
        assert asyncio.run(m.poll()).not_modified == 3  # identical bodies: skipped
    finally:
        m.close()


def test_record_fetches_skips_feeds_that_are_gone(sqlite_url: str, server: FeedServer) -> None:
    from monitor.store.repo import FetchRecord

    url = server.add("/f", rss("a"), content_type=RSS_TYPE)
    m = make_monitor(sqlite_url, [url], Clock())
    try:
        (feed,) = m.store.claim_due_feeds(T0, owner="me")
        records = [FetchRecord(feed.id, now=T0, next_poll_at=T0 + timedelta(hours=1),
                               status=304, error=None),
                   FetchRecord(feed.id + 999, now=T0, next_poll_at=T0, status=200, error=None)]
        assert m.store.record_fetches(records) == 1
        (s,) = m.store.feed_statuses()
        assert s.next_poll_at == T0 + timedelta(hours=1) and s.last_status == 304
    finally:
        m.close()


@pytest.mark.parametrize("feeds, pooled", [
    (3, False),  # a small cron job: parsing in threads beats starting a process
    (50, True),  # a farm: `once` parses in a second process, as the daemon does
])
def test_once_parses_in_a_process_from_fifty_feeds(
    sqlite_url: str, server: FeedServer, feeds: int, pooled: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    urls = [server.add(f"/many{i}", rss(f"m{i}"), content_type=RSS_TYPE) for i in range(feeds)]
    m = make_monitor(sqlite_url, urls, Clock())  # poll.parse_workers unset
    try:
        report, _ = asyncio.run(m.run_once())
        assert (report.new_articles, report.failed) == (feeds, 0)
        assert (m._parse_pool is not None) is pooled
    finally:
        m.close()


def test_a_language_scoped_rule_works_with_stories_off(sqlite_url: str, server: FeedServer) -> None:
    english = ("<item><title>Lawmakers debate a TikTok ban</title><guid>e1</guid><description>"
               "The committee will vote next week on whether the app should be banned from "
               "government phones, officials said on Tuesday.</description></item>")
    url = server.add("/lang", f'<?xml version="1.0"?><rss version="2.0"><channel><title>T'
                     f"</title>{english}</channel></rss>", content_type=RSS_TYPE)
    settings = Settings.model_validate({
        "database": sqlite_url, "poll": {"jitter": 0}, "feeds": [{"url": url}],
        "rules": [{"name": "en-only", "query": "tiktok", "notify": [], "languages": ["en"]},
                  {"name": "fr-only", "query": "tiktok", "notify": [], "languages": ["fr"]}],
    })
    assert not settings.stories.enabled  # the default: no grouping
    m = Monitor.from_settings(settings, clock=Clock())
    try:
        report = asyncio.run(m.poll())
        assert (report.new_articles, report.new_matches) == (1, 1)  # en-only, not fr-only
    finally:
        m.close()


def test_a_hanging_feed_holds_back_neither_other_polls_nor_their_alerts(
    db_url: str, server: FeedServer
) -> None:
    """The daemon: one feed answers only after 20 s (its timeout is 25 s). Meanwhile the
    other feed, due every second, is polled again and again, and its alert goes out
    while the slow fetch still hangs: a pass does not wait for its slowest feed."""
    from receivers import WebhookReceiver
    from websubhub import wait_for

    slow = server.add("/slow.xml", rss("s1"), delay_s=20, content_type=RSS_TYPE)
    fast = server.add("/fast.xml", rss("f1"), content_type=RSS_TYPE)
    with WebhookReceiver() as hook:
        settings = Settings.model_validate({
            "database": db_url,
            "poll": {"interval": 1, "tick": 1, "jitter": 0, "timeout": 25,
                     "full_text": False},
            "feeds": [{"url": slow, "name": "slow"}, {"url": fast, "name": "fast"}],
            "recipients": {"hook": hook.json_url("/hook")},
            "rules": [{"name": "zoom", "query": "Zoom", "notify": ["hook"]}],
            "delivery": {"tick": 30},  # only a poll's wake-up sends within the test
        })
        m = Monitor.from_settings(settings)

        async def scenario() -> None:
            stop = asyncio.Event()
            daemon = asyncio.create_task(m.run_forever(stop))
            try:
                await asyncio.to_thread(wait_for, lambda: server.requests_to("/fast.xml"))
                server.add("/fast.xml", rss("f1", "Zoom f2"), content_type=RSS_TYPE)
                await asyncio.to_thread(
                    wait_for, lambda: len(server.requests_to("/fast.xml")) >= 4, 15)
                await asyncio.to_thread(wait_for, lambda: hook.delivered, 15)
                # ... all of it while the first fetch of the slow feed is unanswered.
                assert len(server.requests_to("/slow.xml")) == 1
                assert statuses(m)[slow].last_polled_at is None
            finally:
                stop.set()
                await daemon

        asyncio.run(scenario())
        assert "Zoom f2" in hook.delivered[0].body.decode()


def test_a_fetch_that_raises_is_that_feeds_failure_and_the_others_go_on(
    db_url: str, server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fetcher that raises instead of returning an error (a bug, or a broken install:
    # `import aiohttp` failing) was lost with its task: the pass said "0 failed".
    from monitor.feeds.fetch import Fetcher

    bad = server.add("/bad", rss("x"), content_type=RSS_TYPE)
    ok = server.add("/ok", rss("a"), content_type=RSS_TYPE)
    fetch = Fetcher.fetch

    async def broken_for_one(self: Fetcher, url: str, *args: Any) -> Any:
        if url == bad:
            raise ImportError("no module named aiohttp")
        return await fetch(self, url, *args)

    monkeypatch.setattr(Fetcher, "fetch", broken_for_one)
    m = make_monitor(db_url, [bad, ok], Clock())
    try:
        report = asyncio.run(m.poll(all_feeds=True))
        assert report.feeds == 2 and report.failed == 1 and report.new_articles == 1
        assert report.errors == {bad: "internal error: ImportError: no module named aiohttp"}
        assert statuses(m)[bad].last_error == report.errors[bad]
        assert m.store.feeds_leased_elsewhere(T0, "someone-else") == []  # none left leased
    finally:
        m.close()


STORY_ITEMS = [  # (guid, title, description): two copies of one event, a German one
    ("ban1", "US moves to ban TikTok over data security fears",
     "The Commerce Department said on Monday it would ban the TikTok app from US app "
     "stores, citing national security risks from its Chinese owner ByteDance."),
    ("ban2", "US to ban TikTok over security fears",
     "The Commerce Department said Monday it would ban the TikTok app from app stores, "
     "citing national security risks from Chinese owner ByteDance."),
    ("de1", "Hochwasser in Valencia",
     "Die Regierung hat am Montag den Notstand ausgerufen, nachdem der Fluss über die Ufer "
     "getreten ist und auch die Stromversorgung ausfiel."),
    ("fr1", "Inondations à Valence",
     "Le gouvernement a déclaré l'état d'urgence dans la région, où les pluies ont coupé "
     "l'électricité de milliers de foyers pour la nuit."),
]


def story_feed(items: list[tuple[str, str, str]]) -> str:
    body = "".join(f"<item><title>{t}</title><link>https://news.test/{g}</link><guid>{g}</guid>"
                   f"<description>{d}</description></item>" for g, t, d in items)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{body}'
            "</channel></rss>")


@pytest.mark.parametrize(("workers", "queued"), [
    (0, 0),  # no parse process: the thread works them out
    (1, 0),
    (1, 100),  # feeds waiting to be parsed: still there (the storing process is busier)
])
def test_story_features_worked_out_in_the_parse_process_decide_as_in_the_thread(
    tmp_path: Any, server: FeedServer, workers: int, queued: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With a parse process, the unseen articles' language and story features are
    worked out there, however many feeds wait to be parsed: the stored languages and
    stories are those of the thread path."""
    from sqlalchemy import create_engine, text

    urls = [server.add("/a", story_feed(STORY_ITEMS[:1] + STORY_ITEMS[2:]),
                       content_type=RSS_TYPE),
            server.add("/b", story_feed(STORY_ITEMS[1:2] + STORY_ITEMS[3:]),
                       content_type=RSS_TYPE)]
    url = f"sqlite:///{tmp_path}/s.db"
    settings = Settings.model_validate({
        "database": url, "stories": {"enabled": True},
        "poll": {"interval": 900, "timeout": 3, "jitter": 0, "parse_workers": workers,
                 "concurrency": 1},
        "feeds": [{"url": u, "name": f"feed{i}"} for i, u in enumerate(urls)],
    })
    m = Monitor.from_settings(settings, clock=Clock())
    sent: list[str] = []
    try:
        m._start_parse_pool()
        if m._parse_warm is not None:
            m._parse_warm.result(timeout=60)  # until then the threads parse and prepare
        if m._parse_pool is not None:
            pool, submit = m._parse_pool, m._parse_pool.submit

            def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
                sent.append(getattr(fn, "__name__", type(fn).__name__))
                return submit(fn, *args, **kwargs)

            pool.submit = counted  # type: ignore[method-assign]
        m._parse_queued = queued  # each parse adds one and takes it away again
        assert asyncio.run(m.poll()).new_articles == 4
    finally:
        m.close()
    # Each feed's unseen articles went to the parse process (none were worked out here).
    assert sent.count("prepare_articles") == (2 if workers else 0)
    assert "prepare_pool_failed" not in caplog.text
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT guid, language, story_id FROM article")).all()
    engine.dispose()
    story = {g: s for g, _, s in rows}
    assert {g: lang for g, lang, _ in rows} == {"ban1": "en", "ban2": "en", "de1": "de",
                                                 "fr1": "fr"}
    # The copies share a story; the floods (in German, then in French) are other stories.
    assert story["ban1"] == story["ban2"] and len(set(story.values())) == 3
