"""No backlog flood: a feed's first successful poll alerts only items dated within
``poll.backlog``; older ones are stored and matched silently, and ``rules apply --alert``
queues them later, once. Real feed server, real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from feedserver import FeedServer

from monitor.article import Route
from monitor.config import Settings
from monitor.service import Monitor

T0 = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
RSS, ATOM = "application/rss+xml", "application/atom+xml"


def rfc822(when: datetime) -> str:
    return when.strftime("%a, %d %b %Y %H:%M:%S GMT")


def rss(items: dict[str, datetime | None]) -> str:
    body = "".join(
        f"<item><title>Zoom story {g}</title><link>https://news.test/{g}</link><guid>{g}</guid>"
        + (f"<pubDate>{rfc822(when)}</pubDate>" if when else "") + "</item>"
        for g, when in items.items())
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{body}</channel></rss>'


def atom_updated_only(items: dict[str, datetime]) -> str:
    body = "".join(
        f"<entry><title>Zoom entry {g}</title><id>urn:{g}</id>"
        f'<link href="https://atom.test/{g}"/><updated>{when.isoformat()}</updated></entry>'
        for g, when in items.items())
    return ('<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>'
            f"<id>urn:a</id><updated>{T0.isoformat()}</updated>{body}</feed>")


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


def make_monitor(db_url: str, urls: list[str], **poll: Any) -> Monitor:
    settings = Settings.model_validate({
        "database": db_url,
        "poll": {"interval": 900, "timeout": 3, "jitter": 0, **poll},
        "feeds": [{"url": u, "name": f"feed{i}"} for i, u in enumerate(urls)],
        "recipients": {"team": ["json://127.0.0.1:9/hook"]},
        "rules": [{"name": "zoom", "query": "Zoom", "notify": ["team"],
                   "alert_per": "article"}],
    })
    return Monitor.from_settings(settings, clock=lambda: T0)


def _alerted(m: Monitor) -> set[str]:
    ids = {a.id for a in m.store.list_alerts()}
    return {a.article.title for a in m.store.claim_due_alerts(T0, owner="peek", limit=1000)
            if a.id in ids}


def test_first_poll_alerts_only_recent_and_undated_items(db_url: str, server: FeedServer) -> None:
    old, recent = T0 - timedelta(days=400), T0 - timedelta(hours=2)
    news = server.add("/news", rss({"old": old, "recent": recent, "undated": None}),
                      content_type=RSS)
    atom = server.add("/atom", atom_updated_only({"stale": old, "fresh": recent}),
                      content_type=ATOM)
    m = make_monitor(db_url, [news, atom])
    try:
        report = asyncio.run(m.poll())
        assert (report.new_matches, report.new_alerts) == (5, 3)
        assert _alerted(m) == {"Zoom story recent", "Zoom story undated", "Zoom entry fresh"}
        # A later poll alerts every new item, whatever its date.
        server.add("/news", rss({"old": old, "late": old}), content_type=RSS)
        report = asyncio.run(m.poll(all_feeds=True))
        assert (report.new_matches, report.new_alerts) == (1, 1)
    finally:
        m.close()


def test_backlog_zero_alerts_only_undated_items_and_counts_from_first_success(
    db_url: str, server: FeedServer
) -> None:
    news = server.add("/news", "down", status=500)
    m = make_monitor(db_url, [news], backlog=0)
    try:
        assert asyncio.run(m.poll()).failed == 1
        server.add("/news", rss({"recent": T0 - timedelta(minutes=5), "undated": None}),
                   content_type=RSS)
        report = asyncio.run(m.poll(all_feeds=True))  # the first successful poll
        assert (report.new_matches, report.new_alerts) == (2, 1)
        assert _alerted(m) == {"Zoom story undated"}
    finally:
        m.close()


def test_rules_apply_alert_queues_never_alerted_matches_once(db_url: str, server: FeedServer) -> None:
    old = T0 - timedelta(days=30)
    news = server.add("/news", rss({"a": old, "b": old, "c": None}), content_type=RSS)
    m = make_monitor(db_url, [news])
    try:
        asyncio.run(m.poll())  # a, b: silent backlog; c: alerted
        store, route = m.store, m.routes("zoom")
        ids = [(aid, m.rules.match(a)) for aid, a in store.stored_articles_with_ids()]
        # An earlier apply without --alert records nothing new and queues nothing.
        assert store.add_matches(ids, {}, T0) == (0, 0)
        assert store.add_matches(ids, {"zoom": route}, T0) == (0, 2)
        assert store.add_matches(ids, {"zoom": route}, T0) == (0, 0)  # once
        assert len(store.list_alerts()) == 3
    finally:
        m.close()


def test_matches_recorded_without_alert_can_be_alerted_later(db_url: str) -> None:
    from monitor.article import Article, FeedSpec, Hit, Match
    from monitor.store.repo import Store

    spec = FeedSpec(url="http://127.0.0.1/x.xml", name="X")
    with Store.open(db_url) as store:
        store.sync_feeds([spec], T0)
        fid = store.claim_due_feeds(T0, owner="o", include_not_due=True)[0].id
        art = Article(feed_url=spec.url, feed_name="X", feed_tags=(), key="k", guid="k",
                      link="https://x.test/k", canonical_url="https://x.test/k", title="Zoom",
                      summary="", content="", authors=(), categories=(), published=None)
        hit = Match(rule="zoom", hits=(Hit("Zoom", "title", 0, 4, "Zoom"),), snippet="«Zoom»")
        mail = Route(recipient="team", target_key="k1")
        saved = store.save_articles(fid, [(art, [hit])], {"zoom": [mail]}, T0, quiet={"k"})
        assert (saved.new_matches, saved.new_alerts) == (1, 0)
        (aid, _), = store.stored_articles_with_ids()
        # A new rule applied without --alert, then with it: both rules' matches alerted once.
        other = Match(rule="other", hits=hit.hits, snippet=hit.snippet)
        assert store.add_matches([(aid, [hit, other])], {}, T0) == (1, 0)
        routes = {"zoom": [mail], "other": [mail]}
        assert store.add_matches([(aid, [hit, other])], routes, T0) == (0, 2)
        assert store.add_matches([(aid, [hit, other])], routes, T0) == (0, 0)
