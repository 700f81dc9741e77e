"""The page fetcher against a real local server: robots.txt rules, 404 and 5xx
robots.txt, the per-host cache with an injected clock, redirects and caps."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from feedserver import FeedServer

from monitor.fulltext.pages import ROBOTS_RETRY_S, ROBOTS_TTL_S, PageFetcher, RobotsCache

BODY = ("<html><body><article><p>" + "A sentence of the body. " * 30
        + "</p></article></body></html>")


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fetcher(**kw: object) -> PageFetcher:
    return PageFetcher(**{"timeout_s": 2, "max_bytes": 100_000, "concurrency": 4,  # type: ignore[arg-type]
                          "per_host": 2, **kw})


def test_robots_rules_are_honoured_and_cached_per_host(server: FeedServer) -> None:
    server.add("/robots.txt", "User-agent: news-monitor\nDisallow: /no/\n\n"
               "User-agent: *\nDisallow: /\n", content_type="text/plain")
    server.add("/yes/a", BODY, content_type="text/html")
    server.add("/no/b", BODY, content_type="text/html")
    ticks = Ticks()

    async def run() -> list[str | None]:
        async with fetcher() as pages:
            pages.robots = RobotsCache(pages._fetcher, clock=ticks)
            first = [await pages.robots.refusal(server.url(p)) for p in ("/yes/a", "/no/b")]
            ticks.now += ROBOTS_TTL_S + 1  # expired: read again
            return first + [await pages.robots.refusal(server.url("/yes/a"))]

    assert asyncio.run(run()) == [None, "disallowed by robots.txt", None]
    assert len(server.requests_to("/robots.txt")) == 2


@pytest.mark.parametrize(("status", "refusal"), [
    (404, None),  # no robots.txt: everything allowed (RFC 9309)
    (403, None),
    (503, "robots.txt unavailable (HTTP 503); host skipped"),  # unreachable: nothing allowed
])
def test_robots_txt_that_cannot_be_read(server: FeedServer, status: int,
                                        refusal: str | None) -> None:
    server.add("/robots.txt", "x", status=status)
    server.add("/a", BODY, content_type="text/html")

    async def run() -> tuple[str | None, str | None]:
        async with fetcher() as pages:
            result = await pages.get(server.url("/a"))
            return result.error, result.text[:8] or None

    error, text = asyncio.run(run())
    assert error == refusal
    assert (text is None) == (refusal is not None)
    assert (server.requests_to("/a") == []) == (refusal is not None)


def test_an_unreadable_robots_txt_is_tried_again_later(server: FeedServer) -> None:
    server.add("/robots.txt", "x", status=500)
    ticks = Ticks()

    async def run() -> list[str | None]:
        async with fetcher() as pages:
            robots = RobotsCache(pages._fetcher, clock=ticks)
            out = [await robots.refusal(server.url("/a"))]
            server.add("/robots.txt", "", status=404)
            out.append(await robots.refusal(server.url("/a")))  # cached failure
            ticks.now += ROBOTS_RETRY_S + 1
            out.append(await robots.refusal(server.url("/a")))
            return out

    first, cached, later = asyncio.run(run())
    assert first is not None and cached == first and later is None


def test_redirects_are_followed_to_the_page_and_too_many_are_refused(server: FeedServer) -> None:
    server.add("/robots.txt", "", status=404)
    server.add("/story", BODY, content_type="text/html")
    server.redirect("/short", "/story", status=301)
    for i in range(7):
        server.redirect(f"/loop{i}", f"/loop{i + 1}")

    async def run() -> tuple[str, str | None]:
        async with fetcher() as pages:
            ok = await pages.get(server.url("/short"))
            loop = await pages.get(server.url("/loop0"))
            return ok.text, loop.error

    text, error = asyncio.run(run())
    assert text.startswith("A sentence of the body.")
    assert error == "too many redirects (more than 5)"


def test_a_page_over_the_size_cap_fails(server: FeedServer) -> None:
    server.add("/robots.txt", "", status=404)
    server.add("/big", "<html>" + "x" * 200_000 + "</html>", content_type="text/html")

    async def run() -> str | None:
        async with fetcher(max_bytes=50_000) as pages:
            return (await pages.get(server.url("/big"))).error

    assert asyncio.run(run()) == "body larger than 50 KB"
