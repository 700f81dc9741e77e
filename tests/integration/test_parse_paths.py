"""An article is the same article whichever parser read it (issue 13).

Over every file of the shared corpus (../shared/data/feeds) that the fast path
(``monitor.feeds.fastxml``, lxml) reads, its entries and feedparser's entries of the
same bytes and headers become identical Articles: the same key (guid, link or hash)
always, and the same canonical URL, title, summary, content, authors, categories and
dates. A field may differ only where feedparser is shown wrong, listed in
``FEEDPARSER_WRONG`` with the reason (none so far). Files the fast path declines go
to feedparser in ``parse_feed``; they are counted, so the comparison cannot shrink
to nothing unnoticed.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
from pathlib import Path
from typing import Any

import feedparser
import pytest
from test_corpus import Served, corpus_files

from monitor.article import Article, FeedSpec
from monitor.feeds import fastxml, parse
from monitor.feeds.parse import entry_to_article, parse_feed

#: (corpus path, entry index, Article field) -> why feedparser's value is wrong there.
FEEDPARSER_WRONG: dict[tuple[str, int, str], str] = {}
#: Files compared (both paths with entries): 114 of the 177 when written.
MIN_FAST_FILES = 110


def body_of(item: Served) -> bytes:
    raw = item.file.read_bytes()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def reference(body: bytes, headers: dict[str, str]) -> Any:
    """feedparser as parse_feed runs it."""
    return feedparser.parse(io.BytesIO(body), response_headers=headers, sanitize_html=False,
                            resolve_relative_uris=False)


def differences(path: str, ours: list[Article | None], theirs: list[Article | None]) -> list[str]:
    found = []
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        if a is None or b is None:
            if a is not b:
                found.append(f"{path}[{i}]: one path drops the entry")
            continue
        assert a.key == b.key, f"{path}[{i}]: keys differ: {a.key!r} vs {b.key!r}"
        for f in dataclasses.fields(Article):
            if getattr(a, f.name) != getattr(b, f.name) and (path, i, f.name) not in FEEDPARSER_WRONG:
                found.append(f"{path}[{i}].{f.name}: {getattr(a, f.name)!r:.80} "
                             f"vs feedparser {getattr(b, f.name)!r:.80}")
    return found


def test_both_paths_make_the_same_articles(shared_data: Path) -> None:
    compared = declined = 0
    problems: list[str] = []
    for item in corpus_files(shared_data):
        body = body_of(item)
        headers = parse._feedparser_headers({"content-type": item.content_type})
        spec = FeedSpec(url="https://corpus.test" + item.path, name=item.path)
        try:
            fast = fastxml.parse_fast(body, headers)
        except fastxml.Unsupported:
            declined += 1
            continue
        ref = reference(body, headers)
        if not (fast.entries and ref.entries):
            continue
        assert len(fast.entries) == len(ref.entries), item.path
        compared += 1
        problems += differences(item.path, [entry_to_article(e, spec) for e in fast.entries],
                                [entry_to_article(e, spec) for e in ref.entries])
        # The feed-level values parse_feed reports.
        for key in ("title", "ttl", "language"):
            assert (fast.feed.get(key) or None) == (ref.feed.get(key) or None), (item.path, key)
    print(f"fast path: {compared} files compared, {declined} declined")
    assert not problems, "\n".join(problems)
    assert compared >= MIN_FAST_FILES
    assert all(k[0] for k in FEEDPARSER_WRONG)


def test_parse_feed_gives_the_same_result_with_the_fast_path_off(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole ParseResult (articles, error, warning, title, ttl, language), file by
    file, with and without the fast path."""
    files = corpus_files(shared_data)
    items = [(f, body_of(f), {"content-type": f.content_type}) for f in files]
    spec = FeedSpec(url="https://corpus.test/feed", name="corpus")
    with_fast = [parse_feed(body, headers, spec) for _, body, headers in items]

    def declined(body: bytes, headers: Any) -> Any:
        raise fastxml.Unsupported("switched off by the test")

    monkeypatch.setattr(fastxml, "parse_fast", declined)
    for (item, body, headers), fast in zip(items, with_fast, strict=True):
        assert parse_feed(body, headers, spec) == fast, item.path
