"""Fetch article pages politely: robots.txt per host, the feed fetcher's limits.

Pages go through the same ``Fetcher`` as feeds (total timeout, decompressed-size
cap, at most 5 redirects to http/https only, conditional GET), with an Accept
header for HTML, and share the daemon's per-host slots with feed polls (one
``HostSlots``: a host never sees more than ``per_host`` requests from us at once);
a page waiting for its host goes before a waiting poll, since an alert may wait on it. Before a page, its host's robots.txt is read once
and cached: a disallowed page is never fetched. Following RFC 9309, a robots.txt
that does not exist (4xx) allows everything, and one that cannot be read (5xx,
network error) disallows the host until it is retried.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Self
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from monitor.article import Article
from monitor.feeds.fetch import PRIORITY_PAGE, Fetcher, HostSlots
from monitor.fulltext.extract import FullTextMode, extract_main_text, wants_full_text

log = logging.getLogger(__name__)

PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
#: The product token matched against robots.txt ``User-agent`` lines.
ROBOTS_AGENT = "news-monitor"
ROBOTS_TTL_S = 24 * 3600
#: A robots.txt that could not be read is tried again after this long.
ROBOTS_RETRY_S = 600


@dataclass(frozen=True)
class PageResult:
    """One article page fetched and extracted (or why not)."""

    text: str = ""
    error: str | None = None
    status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    #: The page answered 304 to our conditional request.
    not_modified: bool = False
    #: Worth another attempt later (a timeout, a 5xx, an empty extraction).
    transient: bool = False


def _transient(status: int | None) -> bool:
    return status is None or status == 429 or status >= 500


class RobotsCache:
    """robots.txt per scheme+host, fetched once and kept ROBOTS_TTL_S."""

    def __init__(self, fetcher: Fetcher, clock: Callable[[], float] = time.monotonic) -> None:
        self._fetcher = fetcher
        self._clock = clock
        self._rules: dict[str, tuple[float, RobotFileParser | None, str | None]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def refusal(self, url: str) -> str | None:
        """Why robots.txt forbids fetching ``url`` (None: allowed)."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        lock = self._locks.setdefault(origin, asyncio.Lock())
        async with lock:  # one robots.txt fetch per host, however many pages wait
            entry = self._rules.get(origin)
            if entry is None or entry[0] <= self._clock():
                entry = self._rules[origin] = await self._load(origin)
        _, parser, error = entry
        if parser is None:
            return error
        if not parser.can_fetch(ROBOTS_AGENT, url):
            return "disallowed by robots.txt"
        return None

    async def _load(self, origin: str) -> tuple[float, RobotFileParser | None, str | None]:
        result = await self._fetcher.fetch(origin + "/robots.txt")
        parser = RobotFileParser()
        if result.ok and result.body is not None:
            parser.parse(result.body.decode("utf-8", errors="replace").splitlines())
        elif result.status is not None and 400 <= result.status < 500:
            parser.parse([])  # no robots.txt: everything is allowed
        else:
            error = f"robots.txt unavailable ({result.error or result.status}); host skipped"
            return self._clock() + ROBOTS_RETRY_S, None, error
        return self._clock() + ROBOTS_TTL_S, parser, None


class PageFetcher:
    """Article pages -> extracted text. ``async with PageFetcher(...) as pages``."""

    def __init__(self, *, timeout_s: float, max_bytes: int, concurrency: int,
                 per_host: int, hosts: HostSlots | None = None) -> None:
        self._fetcher = Fetcher(timeout_s=timeout_s, max_bytes=max_bytes,
                                concurrency=concurrency, per_host=per_host, accept=PAGE_ACCEPT,
                                hosts=hosts, priority=PRIORITY_PAGE)
        self.robots = RobotsCache(self._fetcher)

    async def __aenter__(self) -> Self:
        await self._fetcher.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._fetcher.__aexit__(None, None, None)

    async def get(self, url: str, etag: str | None = None,
                  last_modified: str | None = None) -> PageResult:
        """Fetch and extract one page; conditional when validators are given. Never raises."""
        refusal = await self.robots.refusal(url)
        if refusal:
            return PageResult(error=refusal, transient=refusal.startswith("robots.txt unav"))
        fetched = await self._fetcher.fetch(url, etag, last_modified)
        common = {"status": fetched.status, "etag": fetched.etag,
                  "last_modified": fetched.last_modified}
        if fetched.not_modified:
            return PageResult(not_modified=True, **common)  # type: ignore[arg-type]
        if not fetched.ok or fetched.body is None:
            error = fetched.error or f"HTTP {fetched.status}: empty response"
            return PageResult(error=error, transient=_transient(fetched.status),
                              **common)  # type: ignore[arg-type]
        # trafilatura is CPU work (about 10-20 ms a page): off the event loop.
        extraction = await asyncio.to_thread(extract_main_text, fetched.body,
                                             fetched.headers, fetched.final_url)
        return PageResult(text=extraction.text, error=extraction.error,
                          transient=bool(extraction.error and "empty" in extraction.error),
                          **common)  # type: ignore[arg-type]


async def with_full_texts(
    articles: Sequence[Article], mode: FullTextMode, pages: PageFetcher
) -> list[tuple[Article, str | None]]:
    """Each article with its page's text (when ``mode`` wants it), and the page's error:
    what the daemon would match, without a store (``test-rule --full-text``)."""

    async def one(article: Article) -> tuple[Article, str | None]:
        if not wants_full_text(mode, article) or article.link is None:
            return article, None
        result = await pages.get(article.link)
        return replace(article, full_text=result.text), result.error

    return list(await asyncio.gather(*(one(a) for a in articles)))
