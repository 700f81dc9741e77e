"""Full text for teaser feeds through the real service: a local HTTP server serves
teaser feeds, realistic article pages (navigation, related stories, cookie banner,
footer, scripts, JSON-LD), robots.txt and failing pages; SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from feedserver import FeedServer

from monitor.config import Settings
from monitor.fulltext.runner import RETRY_BASE_S
from monitor.service import Monitor

PAGES = Path(__file__).resolve().parent.parent / "data" / "pages"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
HTML = "text/html; charset=utf-8"
LONG = " ".join(["Plenty of words in the feed item itself, so auto mode needs no page."] * 6)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def item(path: str, title: str, text: str, base: str) -> str:
    return (f"<item><title>{title}</title><link>{base}{path}</link><guid>{path}</guid>"
            f"<description>{text}</description></item>")


def rss(*items: str) -> str:
    return ('<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
            + "".join(items) + "</channel></rss>")


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as s:
        s.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
        s.add_file("/tech/zoom-partner", PAGES / "zoom-partner.html", content_type=HTML)
        s.add_file("/world/court-tiktok", PAGES / "court-tiktok.html", content_type=HTML)
        s.add_file("/finance/exit", PAGES / "paywalled.html", content_type=HTML)
        s.add_file("/private/memo", PAGES / "zoom-partner.html", content_type=HTML)
        s.add("/files/report.pdf", b"%PDF-1.7 ...", content_type="application/pdf")
        s.add("/gone-page", "forbidden", status=403, content_type=HTML)
        yield s


RULES = [
    # Body-only phrases: only the full text can match these (recall).
    {"name": "partner", "query": '"partner-only" AND "mainland China"'},
    {"name": "deadline", "query": '"divestiture deadline"'},
    # Words only in navigation, related-stories blocks and comments (precision).
    {"name": "wechat", "query": "WeChat"},
    {"name": "tiktok-ban", "query": "TikTok NEAR/2 ban"},
    # Matches the feed item at once; the full text must not add a second match row.
    {"name": "court", "query": 'court OR "divestiture deadline"'},
    # content: searches the extracted text too.
    {"name": "content-field", "query": 'content:"data-localisation"'},
]


def make_monitor(db_url: str, feeds: list[dict[str, Any]], clock: Clock, **poll: Any) -> Monitor:
    settings = Settings.model_validate({
        "database": db_url,
        "poll": {"interval": 900, "timeout": 2, "jitter": 0, **poll},
        "feeds": feeds,
        "recipients": {"out": "json://127.0.0.1:9/never"},
        "rules": [{**r, "notify": ["out"]} for r in RULES],
    })
    return Monitor.from_settings(settings, clock=clock)


def matches(m: Monitor) -> set[tuple[str, str]]:
    return {(r.rule, r.title) for r in m.store.list_matches()}


def test_body_only_rules_match_through_the_page_and_boilerplate_never_does(
    db_url: str, server: FeedServer
) -> None:
    base = server.base_url
    wire = server.add("/wire.xml", rss(
        item("/tech/zoom-partner", "Zoom changes how it sells", "It wrote to resellers.", base),
        item("/world/court-tiktok", "Appeals court rules on app", "Judges ruled.", base),
        item("/private/memo", "Internal memo", "A short teaser.", base),
        item("/finance/exit", "Chipmaker weighs exit", "Exclusive.", base),
        item("/files/report.pdf", "Annual report", "The report.", base),
        item("/gone-page", "Forbidden page", "Teaser.", base),
        item("/long", "Long item", LONG, base),
    ), content_type="application/rss+xml")
    # A second feed carries the Zoom story too (tracking parameters differ).
    other = server.add("/other.xml", rss(
        item("/tech/zoom-partner?utm_source=other", "Zoom changes how it sells", "Teaser.", base),
    ), content_type="application/rss+xml")
    m = make_monitor(db_url, [{"url": wire, "name": "Wire"}, {"url": other, "name": "Other"}],
                     Clock())
    try:
        report = asyncio.run(m.poll())
        assert report.new_articles == 7
        assert matches(m) == {
            ("partner", "Zoom changes how it sells"),
            ("content-field", "Zoom changes how it sells"),
            ("deadline", "Appeals court rules on app"),
            ("court", "Appeals court rules on app"),
        }
        partner = next(r for r in m.store.list_matches() if r.rule == "partner")
        assert {h.field for h in partner.hits} == {"fulltext"}
        assert "«partner-only»" in partner.snippet or "«mainland China»" in partner.snippet
        # One alert per match: the page added no second alert for `court`.
        assert sorted(a.rule for a in m.store.list_alerts()) == sorted(
            ["partner", "content-field", "deadline", "court"])
        # Politeness: robots.txt read once, the disallowed page never requested, the
        # shared story's page fetched once for both feeds, the long item not at all.
        assert len(server.requests_to("/robots.txt")) == 1
        assert server.requests_to("/private/memo") == []
        assert len(server.requests_to("/tech/zoom-partner")) == 1
        assert server.requests_to("/long") == []
        assert "text/html" in server.requests_to("/world/court-tiktok")[0].headers["accept"]
        # Pages count for the feed that first stored the article (either, for Zoom).
        stats = m.store.page_stats()
        assert (stats[wire].failed, stats[wire].wanted) == (4, 0)
        assert sum(s.done for s in stats.values()) == 2
        assert stats[wire].failure_rate == pytest.approx(4 / (4 + stats[wire].done))
        errors = {url.rsplit("/", 1)[-1]: error for url, error in page_errors(m)}
        assert errors == {
            "memo": "disallowed by robots.txt",
            "exit": "paywall: the page is marked isAccessibleForFree=false"
                    " and shows only a teaser",
            "report.pdf": "not HTML: content-type 'application/pdf'",
            "gone-page": "HTTP 403",
        }
        # Stored articles carry their full text (rules apply, test-rule --stored see it).
        texts = {a.title: a.full_text for a in m.store.stored_articles()}
        assert "partner-only model" in texts["Zoom changes how it sells"]
        assert "Related stories" not in texts["Appeals court rules on app"]
        assert texts["Long item"] == "" and texts["Chipmaker weighs exit"] == ""
    finally:
        m.close()


def page_errors(m: Monitor) -> list[tuple[str, str]]:
    from sqlalchemy import select

    from monitor.store.tables import article_page

    def work(conn: Any) -> list[tuple[str, str]]:
        rows = conn.execute(select(article_page.c.url, article_page.c.error)
                            .where(article_page.c.status == "failed"))
        return [(r.url, r.error) for r in rows]

    return m.store._tx("test", work, readonly=True)  # type: ignore[no-any-return]


def test_the_feed_match_is_stored_before_the_page_arrives(db_url: str, server: FeedServer) -> None:
    base = server.base_url
    server.add_file("/slow/court", PAGES / "court-tiktok.html", content_type=HTML, delay_s=1.5)
    feed = server.add("/f.xml", rss(item("/slow/court", "Appeals court rules", "Teaser.", base)),
                      content_type="application/rss+xml")
    m = make_monitor(db_url, [{"url": feed, "name": "F"}], Clock())

    async def scenario() -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
        await m.poll(finish_pages=False)  # the daemon's way: pages run beside the poll
        before = matches(m)
        await m.fulltext.aclose()
        return before, matches(m)

    try:
        before, after = asyncio.run(scenario())
        assert before == {("court", "Appeals court rules")}
        assert after == before | {("deadline", "Appeals court rules")}
    finally:
        m.close()


def test_full_text_modes_per_feed(db_url: str, server: FeedServer) -> None:
    base = server.base_url
    never = server.add("/never.xml", rss(item("/world/court-tiktok", "Court A", "T.", base)),
                       content_type="application/rss+xml")
    server.add_file("/b/court", PAGES / "court-tiktok.html", content_type=HTML)
    always = server.add("/always.xml", rss(item("/b/court", "Court B", LONG, base)),
                        content_type="application/rss+xml")
    m = make_monitor(db_url, [{"url": never, "name": "N", "full_text": False},
                              {"url": always, "name": "A", "full_text": True}], Clock())
    try:
        asyncio.run(m.poll())
        assert server.requests_to("/world/court-tiktok") == []
        assert len(server.requests_to("/b/court")) == 1  # fetched although the item is long
        assert ("deadline", "Court B") in matches(m) and ("deadline", "Court A") not in matches(m)
    finally:
        m.close()


def test_an_empty_page_is_retried_conditionally_then_given_up(
    db_url: str, server: FeedServer
) -> None:
    base = server.base_url
    server.add("/live", "<html><body><h1>Live</h1><p>Updates soon.</p></body></html>",
               content_type=HTML, etag='"v1"')
    server.add("/slow", "<html></html>", content_type=HTML, delay_s=5)
    feed = server.add("/f.xml", rss(item("/live", "Live page", "T.", base),
                                    item("/slow", "Slow page", "T.", base)),
                      content_type="application/rss+xml")
    clock = Clock()
    m = make_monitor(db_url, [{"url": feed, "name": "F"}], clock, timeout=1)
    try:
        asyncio.run(m.poll())
        assert m.store.page_stats()[feed].wanted == 2  # both worth a retry, later
        asyncio.run(m.poll())  # not due yet: nothing fetched again
        assert len(server.requests_to("/live")) == 1
        clock.now += timedelta(seconds=RETRY_BASE_S + 1)
        asyncio.run(m.poll())
        live = server.requests_to("/live")
        assert len(live) == 2 and live[1].headers.get("if-none-match") == '"v1"'
        errors = dict(page_errors(m))
        assert errors[f"{base}/live"] == "extraction empty: the page has not changed since"
        assert m.store.page_stats()[feed].wanted == 1  # the slow page: one attempt left
        clock.now += timedelta(seconds=RETRY_BASE_S * 4 + 1)
        asyncio.run(m.poll())
        assert len(server.requests_to("/slow")) == 3
        assert dict(page_errors(m))[f"{base}/slow"] == "timeout after 1s"
        assert matches(m) == set()
    finally:
        m.close()


def test_feed_polls_and_page_fetches_share_the_per_host_limit(
    db_url: str, server: FeedServer
) -> None:
    # One host carries a teaser feed (its pages slow), polled first, and slow feeds
    # polled in the same pass: while pages are fetched the other polls are still running, and together
    # they must stay within per_host (the pages once had slots of their own: 2x).
    base = server.base_url
    for i in range(4):
        server.add_file(f"/slow/court{i}", PAGES / "court-tiktok.html", content_type=HTML,
                        delay_s=0.4)
    teasers = server.add("/a-teasers.xml", rss(*(item(f"/slow/court{i}", f"Court {i}", "T.", base)
                                               for i in range(4))),
                         content_type="application/rss+xml")
    slow = [server.add(f"/slow{i}.xml", rss(), content_type="application/rss+xml", delay_s=0.4)
            for i in range(8)]
    m = make_monitor(db_url, [{"url": teasers, "name": "T"}]
                     + [{"url": u, "name": f"S{i}"} for i, u in enumerate(slow)],
                     Clock(), per_host=2)
    try:
        asyncio.run(m.poll())
        assert len([r for r in server.requests if r.path.startswith("/slow/court")]) == 4
        assert len([r for r in server.requests if r.path.startswith("/slow")]) == 12
        assert server.max_in_flight == 2
        assert {t for r, t in matches(m) if r == "deadline"} == {f"Court {i}" for i in range(4)}
    finally:
        m.close()
