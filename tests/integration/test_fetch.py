"""Fetcher against a real local HTTP server (tests/feedserver.py): statuses,
conditional GET, limits, redirects and network failures all become data."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from feedserver import FeedServer, unused_port

import monitor
from monitor.article import FeedSpec, FetchResult
from monitor.feeds.fetch import Fetcher
from monitor.feeds.parse import parse_feed

DATA = Path(__file__).resolve().parent.parent / "data" / "feeds"
RSS = (DATA / "rss2.xml").read_bytes()
RSS_TYPE = "application/rss+xml; charset=utf-8"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


def fetch(url: str, **kwargs: Any) -> FetchResult:
    """One fetch with a fresh Fetcher; conditional validators go to fetch()."""
    etag = kwargs.pop("etag", None)
    last_modified = kwargs.pop("last_modified", None)

    async def run() -> FetchResult:
        async with Fetcher(**kwargs) as f:
            return await f.fetch(url, etag=etag, last_modified=last_modified)

    return asyncio.run(run())


@lru_cache(maxsize=1)
def gzip_bomb() -> bytes:
    """About 1 MB of gzip that inflates to 1 GB: 100 members of 10 MB of zeros each."""
    member = gzip.compress(bytes(10_000_000), compresslevel=9)
    return member * 100


def test_ok_body_headers_and_request(server: FeedServer) -> None:
    url = server.add(
        "/feed.xml",
        RSS,
        headers={"Content-Type": RSS_TYPE, "X-Mixed-Case": "1"},
        etag='"v1"',
        last_modified="Tue, 03 Nov 2026 08:00:00 GMT",
    )
    result = fetch(url)
    assert result.ok and result.error is None
    assert (result.status, result.body, result.url, result.final_url) == (200, RSS, url, url)
    assert result.headers["content-type"] == RSS_TYPE
    assert result.headers["x-mixed-case"] == "1"  # names lower-cased
    assert (result.etag, result.last_modified) == ('"v1"', "Tue, 03 Nov 2026 08:00:00 GMT")
    assert result.permanent_redirect is None
    sent = server.requests_to("/feed.xml")[0].headers
    assert sent["user-agent"] == monitor.USER_AGENT
    assert "gzip" in sent["accept-encoding"]
    assert "if-none-match" not in sent


def test_conditional_get_with_etag_gives_304(server: FeedServer) -> None:
    url = server.add("/feed.xml", RSS, content_type=RSS_TYPE, etag='"v1"')
    first = fetch(url)
    second = fetch(url, etag=first.etag)
    assert second.not_modified and second.status == 304 and second.body is None
    assert second.error is None and second.etag == '"v1"'
    assert server.requests_to("/feed.xml")[1].headers["if-none-match"] == '"v1"'


def test_conditional_get_with_last_modified_keeps_validators(server: FeedServer) -> None:
    stamp = "Tue, 03 Nov 2026 08:00:00 GMT"
    # The route answers 304 but repeats no validator: the ones we sent are kept.
    url = server.add("/feed.xml", RSS, last_modified=stamp, headers={"Last-Modified": ""})
    result = fetch(url, etag='"old"', last_modified=stamp)
    assert result.status == 304
    assert (result.etag, result.last_modified) == ('"old"', stamp)
    assert server.requests_to("/feed.xml")[0].headers["if-modified-since"] == stamp


@pytest.mark.parametrize("status", [500, 503, 404, 410, 403])
def test_http_errors(server: FeedServer, status: int) -> None:
    url = server.add("/err", b"oops", status=status, headers={"Retry-After": "120"})
    result = fetch(url)
    assert (result.status, result.error, result.body) == (status, f"HTTP {status}", None)
    assert result.headers["retry-after"] == "120"  # for the scheduler
    assert not result.ok


def test_timeout_when_server_does_not_answer(server: FeedServer) -> None:
    url = server.add("/slow", RSS, delay_s=30)
    result = fetch(url, timeout_s=0.3)
    assert (result.status, result.error) == (None, "timeout after 0.3s")


def test_total_timeout_when_server_dribbles_the_body(server: FeedServer) -> None:
    # Each byte arrives quickly, so only a total bound stops this.
    url = server.add("/dribble", RSS, dribble_s=0.05)
    result = fetch(url, timeout_s=0.5)
    assert result.error == "timeout after 0.5s"
    assert result.body is None


def test_html_page_is_fetched_then_refused_by_the_parser(server: FeedServer) -> None:
    url = server.add_file("/page", DATA / "html-page.html", content_type="text/html")
    result = fetch(url)
    assert result.ok and result.body is not None
    parsed = parse_feed(result.body, result.headers, FeedSpec(url=url, name="page"))
    assert parsed.error == "not a feed: looks like an HTML page"


def test_gzip_body_is_decompressed(server: FeedServer) -> None:
    url = server.add("/feed.xml", RSS, content_type=RSS_TYPE, gzip=True)
    result = fetch(url)
    assert result.body == RSS and result.headers["content-encoding"] == "gzip"
    parsed = parse_feed(result.body, result.headers, FeedSpec(url=url, name="x"))
    assert len(parsed.articles) == 2


@pytest.mark.parametrize("wbits", [15, -15], ids=["zlib", "raw-deflate"])
def test_deflate_body_is_decompressed(server: FeedServer, wbits: int) -> None:
    packer = zlib.compressobj(6, zlib.DEFLATED, wbits)
    body = packer.compress(RSS) + packer.flush()
    url = server.add("/feed.xml", body, headers={"Content-Encoding": "deflate"})
    assert fetch(url).body == RSS


def test_gzip_file_served_without_content_encoding_is_sniffed(server: FeedServer) -> None:
    url = server.add("/feed.xml.gz", gzip.compress(RSS), content_type="application/x-gzip")
    assert fetch(url).body == RSS


def test_gzip_bomb_stops_at_the_decompressed_cap(server: FeedServer) -> None:
    bomb = gzip_bomb()
    assert len(bomb) < 2_000_000  # ~1 MB on the wire, 1 GB inflated
    url = server.add("/bomb.xml", bomb, headers={"Content-Encoding": "gzip"})
    result = fetch(url)
    assert (result.status, result.error, result.body) == (200, "body larger than 10 MB", None)


def test_declared_length_over_the_cap_is_refused_before_reading(server: FeedServer) -> None:
    url = server.add("/big", b"x" * 5000)
    assert fetch(url, max_bytes=4000).error == "body larger than 4 KB"


def test_chunked_body_over_the_cap_is_counted_as_it_arrives(server: FeedServer) -> None:
    url = server.add("/big", b"x" * 100_000, chunked=True)
    result = fetch(url, max_bytes=40_000)
    assert (result.error, result.body) == ("body larger than 40 KB", None)
    # Control: the same chunked body under the cap arrives whole.
    assert fetch(url, max_bytes=100_000).body == b"x" * 100_000


def test_corrupt_gzip(server: FeedServer) -> None:
    url = server.add("/bad.gz", b"\x1f\x8b not really gzip", headers={"Content-Encoding": "gzip"})
    result = fetch(url)
    assert result.error is not None and result.error.startswith("invalid gzip body")


def test_unsupported_content_encoding(server: FeedServer) -> None:
    url = server.add("/br", b"...", headers={"Content-Encoding": "br"})
    assert fetch(url).error == "unsupported content-encoding 'br'"


def chain(server: FeedServer, hops: int, status: int = 302) -> str:
    """/r0 -> /r1 -> ... -> /r{hops-1} -> /feed.xml; returns the first URL."""
    server.add("/feed.xml", RSS, content_type=RSS_TYPE)
    for i in range(hops):
        server.redirect(f"/r{i}", f"/r{i + 1}" if i + 1 < hops else "/feed.xml", status)
    return server.url("/r0")


def test_five_redirects_are_followed(server: FeedServer) -> None:
    result = fetch(chain(server, 5))
    assert result.ok and result.body == RSS
    assert result.final_url == server.url("/feed.xml")
    assert result.permanent_redirect is None  # 302s are temporary


def test_more_than_five_redirects_is_an_error(server: FeedServer) -> None:
    result = fetch(chain(server, 6))
    assert result.error == "too many redirects (more than 5)"
    assert not server.requests_to("/feed.xml")


def test_redirect_loop_is_an_error(server: FeedServer) -> None:
    server.redirect("/a", "/b")
    server.redirect("/b", "/a")
    assert fetch(server.url("/a")).error == "too many redirects (more than 5)"


def test_redirect_to_ftp_is_refused(server: FeedServer) -> None:
    url = server.redirect("/ftp", "ftp://127.0.0.1/feed.xml")
    result = fetch(url)
    assert (result.status, result.error) == (302, "redirect to unsupported scheme 'ftp'")


@pytest.mark.parametrize("status", [301, 308])
def test_permanent_redirect_is_recorded(server: FeedServer, status: int) -> None:
    server.add("/new.xml", RSS, content_type=RSS_TYPE)
    url = server.redirect("/old.xml", "/new.xml", status)
    result = fetch(url)
    assert result.ok and result.body == RSS
    assert result.url == url
    assert result.final_url == result.permanent_redirect == server.url("/new.xml")


def test_permanent_then_temporary_redirect_records_the_permanent_target(
    server: FeedServer,
) -> None:
    server.add("/feed.xml", RSS)
    server.redirect("/moved", "/temp", 301)
    server.redirect("/temp", "/feed.xml", 302)
    result = fetch(server.url("/moved"))
    assert result.permanent_redirect == server.url("/temp")
    assert result.final_url == server.url("/feed.xml")


def test_connection_refused() -> None:
    result = fetch(f"http://127.0.0.1:{unused_port()}/feed.xml")
    assert (result.status, result.error, result.body) == (None, "connection refused", None)


def test_dns_failure() -> None:
    result = fetch("http://no-such-host.invalid/feed.xml")
    assert result.error == "DNS lookup failed for no-such-host.invalid"


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/feed.xml", "not a url", "http://"])
def test_bad_urls_are_errors(url: str) -> None:
    result = fetch(url)
    assert result.error is not None and result.status is None


def test_concurrency_is_bounded(server: FeedServer) -> None:
    urls = [server.add(f"/f{i}", RSS, delay_s=0.1) for i in range(8)]

    async def run() -> list[FetchResult]:
        async with Fetcher(concurrency=2) as f:
            return list(await asyncio.gather(*(f.fetch(u) for u in urls)))

    results = asyncio.run(run())
    assert all(r.ok for r in results)
    assert server.max_in_flight == 2


def test_fetch_outside_context_manager_is_a_programming_error() -> None:
    with pytest.raises(RuntimeError):
        asyncio.run(Fetcher().fetch("http://127.0.0.1/"))


@pytest.mark.parametrize("status", [204, 300])
def test_odd_statuses(server: FeedServer, status: int) -> None:
    url = server.add("/odd", b"" if status == 204 else b"choices", status=status)
    result = fetch(url)
    if status == 204:  # success without a body: the parser will call it empty
        assert (result.ok, result.body) == (True, b"")
    else:  # a 3xx that is not a redirect is not a feed
        assert (result.ok, result.error) == (False, "HTTP 300")
