"""The shared corpus (../shared/data/feeds: 136 real-world feeds, 41 edge cases),
served from a local server, fetched by Fetcher and parsed by parse_feed.

Every file yields articles or a recorded error, never an exception; and no entry
that feedparser itself sees in the same bytes is lost. The only entries that do
not become articles are, on purpose:

* duplicates: an entry whose identity (guid, else link, else title+date) repeats
  an earlier entry of the same document; the store keeps one row per key anyway,
  and a feed listing an item twice means one article;
* empty shells: an entry with no guid, link, title, summary or content (what
  feedparser leaves behind for a truncated ``<item>``): nothing to match or show.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import feedparser
import pytest
from feedserver import FeedServer

from monitor.article import FeedSpec, FetchResult
from monitor.feeds.fetch import Fetcher
from monitor.feeds.parse import ParseResult, parse_feed

#: feedparser's test files say which Content-Type to serve them with.
HEADER_COMMENT = re.compile(rb"^Header:\s*Content-type:\s*(.+?)\s*$", re.MULTILINE | re.IGNORECASE)
DEFAULT_TYPE = "application/xml"


@dataclass(frozen=True)
class Served:
    path: str
    file: Path
    content_type: str


def corpus_files(shared_data: Path) -> list[Served]:
    root = shared_data / "feeds"
    served = []
    for file in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix != ".tsv"):
        header = HEADER_COMMENT.search(file.read_bytes()[:2000])
        content_type = header.group(1).decode("ascii") if header else DEFAULT_TYPE
        served.append(Served("/" + file.relative_to(root).as_posix(), file, content_type))
    return served


@pytest.fixture(scope="module")
def corpus(shared_data: Path) -> Iterator[list[tuple[Served, FetchResult]]]:
    files = corpus_files(shared_data)
    assert len(files) > 150, "the shared corpus should hold ~177 feeds"
    with FeedServer() as server:
        for item in files:
            server.add_file(item.path, item.file, content_type=item.content_type)

        async def fetch_all() -> list[FetchResult]:
            async with Fetcher(timeout_s=10) as fetcher:
                return list(
                    await asyncio.gather(*(fetcher.fetch(server.url(f.path)) for f in files))
                )

        yield list(zip(files, asyncio.run(fetch_all())))


def identity(entry: Any) -> tuple[str, ...] | None:
    """An entry's identity as feedparser shows it; None for an empty shell."""

    def text(key: str) -> str:
        value = dict.get(entry, key)
        return value.strip() if isinstance(value, str) else ""

    content = "".join(c.get("value", "") for c in dict.get(entry, "content") or ())
    if not any([text("id"), text("link"), text("title"), text("summary"), content.strip()]):
        return None
    if text("id"):
        return ("id", text("id"))
    if text("link"):
        return ("link", text("link"))
    if text("title") or text("published") or text("updated"):
        return ("title+date", text("title"), text("published") or text("updated"))
    return ("text", text("summary"), content)


def expected_count(entries: list[Any]) -> tuple[int, int, int]:
    """(articles expected, duplicates, empty shells) from feedparser's own entries."""
    keys = [identity(e) for e in entries]
    empty = keys.count(None)
    distinct = len({k for k in keys if k is not None})
    return distinct, len(keys) - empty - distinct, empty


def feedparser_reference(result: FetchResult) -> Any:
    """feedparser on the same bytes and headers. Without the HTML sanitiser and
    URI resolution, which change entry markup but never which entries exist
    (the same 1,939 entries either way), and would double this test's time."""
    assert result.body is not None
    return feedparser.parse(
        io.BytesIO(result.body),
        response_headers=result.headers,
        sanitize_html=False,
        resolve_relative_uris=False,
    )


def test_every_corpus_file_fetches(corpus: list[tuple[Served, FetchResult]]) -> None:
    for served, result in corpus:
        assert result.ok, f"{served.path}: {result.error}"
        raw = served.file.read_bytes()
        # One file is a gzip file named .xml, served without Content-Encoding:
        # the fetcher recognises the gzip magic and inflates it.
        assert result.body == (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)


def test_every_corpus_file_parses_without_losing_entries(
    corpus: list[tuple[Served, FetchResult]],
) -> None:
    totals = {"files": 0, "entries": 0, "articles": 0, "duplicates": 0, "empty": 0, "errors": 0}
    for served, result in corpus:
        assert result.body is not None
        spec = FeedSpec(url=result.url, name=served.path)
        parsed: ParseResult = parse_feed(result.body, result.headers, spec)
        reference = feedparser_reference(result)
        want, duplicates, empty = expected_count(reference.entries)
        where = f"{served.path}: {parsed.error or parsed.warning}"
        assert len(parsed.articles) == want, where
        # Nothing and no error only for a sound feed that is empty.
        assert parsed.articles or parsed.error or (want == 0 and not parsed.warning), where
        # Every guid feedparser saw is there, as written.
        guids = {a.guid for a in parsed.articles}
        for entry in reference.entries:
            guid = (dict.get(entry, "id") or "").strip()
            assert not guid or guid in guids, f"{served.path}: lost {guid!r}"
        for article in parsed.articles:
            for stamp in (article.published, article.updated):
                assert stamp is None or stamp.utcoffset() is not None, where
        totals["files"] += 1
        totals["entries"] += len(reference.entries)
        totals["articles"] += len(parsed.articles)
        totals["duplicates"] += duplicates
        totals["empty"] += empty
        totals["errors"] += parsed.error is not None
    print(f"corpus: {totals}")
    assert totals["articles"] == totals["entries"] - totals["duplicates"] - totals["empty"]
    assert totals["articles"] > 1500
