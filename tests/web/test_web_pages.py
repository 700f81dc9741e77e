"""The pages through a real listening server (SQLite and PostgreSQL): hostile feed text
stays inert, every page reads without JavaScript, live matches arrive over SSE."""

from __future__ import annotations

import asyncio
import csv
import http.client
import io
import json
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from websites import ADMIN, HOSTILE_TITLE, READ, Site, login

from monitor.web.render import highlight, safe_href


@pytest.fixture
def site(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    with Site(db_url, tmp_path) as s:
        yield s


@pytest.fixture
def cookie(site: Site) -> str:
    return login(site, READ)[0]


def _page(site: Site, path: str, cookie: str) -> str:
    status, headers, body = site.call("GET", path, cookie=cookie)
    assert status == 200, (path, status, body[:300])
    assert headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    return body


def test_hostile_feed_text_is_escaped_and_javascript_links_are_not_links(
        site: Site, cookie: str) -> None:
    hostile = site.get_json("/api/v1/matches?q=rogue")["items"][0]
    for path in ("/", "/matches", "/matches?q=rogue", f"/matches/{hostile['id']}",
                 "/rules/try?query=rogue", "/alerts", "/stories?since=all",
                 f"/stories/{hostile['story']}"):
        body = _page(site, path, cookie)
        assert "<script>alert" not in body and "onerror=alert" not in body, path
        assert 'href="javascript:' not in body.lower(), path
        # The alerts page shows no titles; the stories list shows each story's title,
        # which is the hostile article's only when it started its story.
        if path not in ("/alerts", "/stories?since=all"):
            assert "&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt;" in body, path
    detail = _page(site, f"/matches/{hostile['id']}", cookie)
    assert "not http, not clickable" in detail
    # ...while an http(s) article link is a link, opened without a referrer.
    listing = _page(site, "/matches?q=partner", cookie)
    assert ('<a href="https://news.example/zoom-china" rel="noopener noreferrer nofollow"'
            in listing)


@pytest.mark.parametrize(("url", "href"), [
    ("https://a.example/x", "https://a.example/x"),
    ("HTTP://a.example/x", "HTTP://a.example/x"),
    ("javascript:alert(1)", None),          # script
    (" JavaScript:alert(1)", None),         # with case and space games
    ("data:text/html,<script>", None),      # data URL
    ("//evil.example/x", None),             # scheme-relative: no scheme, not linked
    ("https:///nohost", None),              # no host
    ("vbscript:x", None),
    ("", None),
    (None, None),
])
def test_only_http_links_are_rendered(url: str | None, href: str | None) -> None:
    assert safe_href(url) == href


def test_highlight_escapes_first_then_marks_the_hits() -> None:
    assert str(highlight("a «<b>Zoom</b>» & «China»")) == (
        "a <mark>&lt;b&gt;Zoom&lt;/b&gt;</mark> &amp; <mark>China</mark>")


def test_every_page_reads_without_javascript(site: Site, cookie: str) -> None:
    overview = _page(site, "/", cookie)
    assert "Zoom signs partner-only deal" in overview
    assert "Broken</strong>: failing once: HTTP 500" in overview  # feeds with errors
    pending = len(site.monitor.store.list_alerts(status="pending"))
    assert pending > 0 and re.search(rf'status=pending">pending</a></td><td>{pending}<', overview)
    matches = _page(site, "/matches?rule=weather", cookie)
    assert "Weather: rain over Berlin" in matches and "partner-only" not in matches
    assert '<form class="filters" method="get" action="/matches"' in matches
    searched = _page(site, "/matches?q=berlin", cookie)
    assert "<mark>rain</mark>" in searched and "Zoom signs" not in searched
    rules = _page(site, "/rules", cookie)
    assert "<code>@Zoom AND @China</code>" in rules and "<svg class=\"bars\"" in rules
    feeds = _page(site, "/feeds?errors=1", cookie)
    assert "Broken" in feeds and "World" not in feeds
    assert "Poll now" not in feeds  # read role: no buttons
    alerts = _page(site, "/alerts?status=pending", cookie)
    assert alerts.count('class="status-pending"') == pending
    assert site.call("GET", "/static/htmx-2.0.11.min.js")[0] == 200
    assert site.call("GET", "/static/..%2Fapp.py")[0] == 404


def test_match_evidence_page_lists_every_hit(site: Site, cookie: str) -> None:
    m = site.get_json("/api/v1/matches?rule=zoom-china&q=partner")["items"][0]
    page = _page(site, f"/matches/{m['id']}", cookie)
    rows = re.findall(r"<tr><td><code>(.*?)</code></td><td>(\w+)</td>", page)
    assert ("@Zoom", "title") in rows and ("@China", "summary") in rows
    assert len(rows) == len(m["evidence"])


def test_try_a_query_shows_matches_or_the_error_with_a_caret(site: Site, cookie: str) -> None:
    page = _page(site, "/rules/try?query=%40Zoom+AND+%22partner-only%22&since=30d", cookie)
    assert "<strong>1</strong> of 3 stored articles would match" in page
    # htmx asks for the fragment only
    status, _, fragment = site.call("GET", "/rules/try?query=rain", cookie=cookie,
                                    headers={"HX-Request": "true"})
    assert status == 200 and fragment.startswith('<div id="trial"') and "<html" not in fragment
    bad = _page(site, "/rules/try?query=%40Zoom+AND+%28rain", cookie)
    assert 'role="alert">Column ' in bad
    caret = re.search(r'<pre class="caret">(.*?)\n(.*?)</pre>', bad, re.DOTALL)
    assert caret is not None
    column = int(re.search(r"Column (\d+)", bad).group(1))  # type: ignore[union-attr]
    assert caret.group(2) == " " * (column - 1) + "^"


def test_export_gives_the_current_filter_as_csv_and_jsonl(site: Site, cookie: str) -> None:
    status, headers, body = site.call("GET", "/matches/export?format=csv&rule=zoom-china",
                                      cookie=cookie)
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert {r["rule"] for r in rows} == {"zoom-china"} and len(rows) == 2
    assert HOSTILE_TITLE in {r["title"] for r in rows}
    assert all(r["story"].isdigit() for r in rows)  # the test site groups stories
    status, headers, body = site.call("GET", "/matches/export?format=jsonl&q=berlin",
                                      cookie=cookie)
    lines = [json.loads(line) for line in body.splitlines()]
    assert status == 200 and [m["rule"] for m in lines] == ["weather"]
    assert site.call("GET", "/matches/export?format=xml", cookie=cookie)[0] == 400


def test_admin_sees_buttons_and_they_work_without_javascript(site: Site) -> None:
    cookie, csrf = login(site, ADMIN)
    site.make_dead_alert()
    alerts = _page(site, "/alerts", cookie)
    assert 'id="retry-dead"' in alerts and 'class="retry"' in alerts
    status, _, _ = site.call("POST", "/alerts/retry-dead", cookie=cookie, form={"csrf": csrf})
    assert status == 303 and not site.monitor.store.list_alerts(status="dead")
    feeds = _page(site, "/feeds", cookie)
    assert feeds.count(">Poll now</button>") == 2
    url = site.broken_url
    assert '<input type="hidden" name="name" value="Broken">' in feeds
    status, _, _ = site.call("POST", "/feeds/poll", cookie=cookie,
                             form={"csrf": csrf, "name": "Broken"})
    assert status == 303
    due = site.monitor.store.claim_due_feeds(site.monitor.clock(), owner="t")
    assert [f.url for f in due] == [url]
    site.monitor.store.record_fetch(due[0].id, now=site.monitor.clock(), status=500,
                                    next_poll_at=site.monitor.clock() + timedelta(hours=1),
                                    error="HTTP 500")
    status, _, _ = site.call("POST", "/feeds/poll-failing", cookie=cookie, form={"csrf": csrf})
    assert status == 303  # the failing feed only (World is fine and not due)
    due = site.monitor.store.claim_due_feeds(site.monitor.clock(), owner="t")
    assert [f.url for f in due] == [url]


def test_new_matches_arrive_live_over_server_sent_events(site: Site, cookie: str) -> None:
    overview = _page(site, "/", cookie)
    after = re.search(r'data-events="/events\?after=(\d+)"', overview).group(1)  # type: ignore[union-attr]
    conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=20)
    conn.request("GET", f"/events?after={after}", headers={"Cookie": cookie})
    response = conn.getresponse()
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    site.feeds.add("/world.xml", site.feeds.routes["/world.xml"].body.replace(
        b"</channel>", b"<item><title>Rain &lt;script&gt;live()&lt;/script&gt;</title>"
        b"<link>https://news.example/live</link><guid>live</guid></item></channel>"),
        headers={"Content-Type": "application/rss+xml"})
    asyncio.run(site.monitor.poll(all_feeds=True))
    event = b""
    while b"event: match" not in event:
        line = response.readline()
        assert line, "stream ended"
        event = event + line if line.strip() else (event if b"event: match" in event else b"")
    data = event.decode() + response.readline().decode()
    conn.close()
    assert "Rain &lt;script&gt;live()&lt;/script&gt;" in data and "<script>" not in data
    assert re.search(r"^id: \d+$", data, re.MULTILINE)


def test_stories_pages_link_articles_and_their_matches(site: Site, cookie: str) -> None:
    weather = site.get_json("/api/v1/matches?rule=weather")["items"][0]
    sid = weather["story"]
    listing = _page(site, "/stories?since=all", cookie)
    assert f'<a href="/stories/{sid}">Weather: rain over Berlin</a>' in listing
    story = _page(site, f"/stories/{sid}", cookie)
    assert '<a href="https://news.example/weather"' in story
    assert f'href="/matches?story={sid}"' in story
    matches = _page(site, f"/matches?story={sid}", cookie)
    assert "Weather: rain over Berlin" in matches and "Zoom signs" not in matches
    assert f'name="story" value="{sid}"' in matches  # kept while searching
    assert f'href="/stories/{sid}"' in _page(site, f"/matches/{weather['id']}", cookie)
    status, _, _ = site.call("GET", "/stories/999999", cookie=cookie)
    assert status == 404


def test_admin_applies_a_new_rule_from_the_rules_page(site: Site) -> None:
    site.reload('  - {name: berlin, query: "Berlin", notify: []}\n')
    reader, reader_csrf = login(site, READ)
    assert 'id="apply-rules"' not in _page(site, "/rules", reader)
    status, _, _ = site.call("POST", "/rules/apply", cookie=reader,
                             form={"csrf": reader_csrf, "rule": "berlin"})
    assert status == 403
    cookie, csrf = login(site, ADMIN)
    assert 'id="apply-rules"' in _page(site, "/rules", cookie)
    status, _, body = site.call("POST", "/rules/apply", cookie=cookie,
                                form={"csrf": csrf, "rule": "berlin", "since": "30d"})
    assert status == 200, body[:300]
    assert "Applied berlin: 3 articles scanned, 1 new match, 0 alerts queued." in body
    status, _, _ = site.call("POST", "/rules/apply", cookie=cookie, form={"rule": "berlin"})
    assert status == 403  # no CSRF token


def test_admin_retries_the_ticked_alerts(site: Site) -> None:
    dead = site.make_dead_alert()
    cookie, csrf = login(site, ADMIN)
    page = _page(site, "/alerts", cookie)
    assert f'name="id" value="{dead}" form="bulk"' in page and 'id="retry-selected"' in page
    status, headers, _ = site.call("POST", "/alerts/retry", cookie=cookie,
                                   form={"csrf": csrf, "id": str(dead)})
    assert (status, headers["Location"]) == (303, "/alerts")
    assert dead in [a.id for a in site.monitor.store.list_alerts(status="pending")]


def test_a_burst_of_matches_arrives_whole_over_server_sent_events(site: Site, cookie: str) -> None:
    """More new matches than one page between two updates: every one is sent."""
    overview = _page(site, "/", cookie)
    after = re.search(r'data-events="/events\?after=(\d+)"', overview).group(1)  # type: ignore[union-attr]
    items = b"".join(b"<item><title>Rain burst %d</title><link>https://news.example/b%d</link>"
                     b"<guid>b%d</guid></item>" % (i, i, i) for i in range(130))
    site.feeds.add("/world.xml", site.feeds.routes["/world.xml"].body.replace(
        b"</channel>", items + b"</channel>"), headers={"Content-Type": "application/rss+xml"})
    asyncio.run(site.monitor.poll(all_feeds=True))
    conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=20)
    conn.request("GET", f"/events?after={after}", headers={"Cookie": cookie})
    response = conn.getresponse()
    titles: set[str] = set()
    deadline = time.monotonic() + 30  # keep-alive lines would wait forever
    while len(titles) < 130 and time.monotonic() < deadline:
        line = response.readline()
        assert line, "stream ended"
        titles.update(re.findall(r"Rain burst \d+", line.decode()))
    conn.close()
    assert titles == {f"Rain burst {i}" for i in range(130)}
