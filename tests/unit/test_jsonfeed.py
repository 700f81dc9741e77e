"""JSON Feed reader: dispatch from parse_feed, wrong types for every field, hostile
documents (deep nesting, non-UTF-8, 100,000 items). Pure; the spec's own examples
are golden files in tests/unit/test_parse.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from monitor.article import FeedSpec
from monitor.feeds.jsonfeed import MAX_DEPTH, looks_like_json_feed, parse_rfc3339
from monitor.feeds.parse import parse_feed

FEED = FeedSpec(url="https://feeds.example.com/j/feed.json", name="J", tags=("x",))
V11 = "https://jsonfeed.org/version/1.1"
JSON = {"Content-Type": "application/feed+json"}


def doc(*items: Any, **top: Any) -> bytes:
    return json.dumps({"version": V11, "title": "T", "items": list(items), **top}).encode()


GOOD = {"id": "a1", "url": "https://x.example/a", "title": "Title", "summary": "Sum",
        "content_html": "<p>Body</p>", "authors": [{"name": "Ann"}], "tags": ["t"],
        "date_published": "2026-01-02T03:04:05Z", "date_modified": "2026-01-02T04:00:00Z"}


# One row per field and wrong type: the item still parses; the bad field reads as absent.
WRONG_TYPES = [
    ("id", 12.5, "key", "https://x.example/a"),  # a non-integral number is no id: url is
    ("id", True, "guid", None),  # a boolean is not an id
    ("id", ["a"], "guid", None),
    ("id", 42, "guid", "42"),  # an integer id becomes a string (spec 1.1)
    ("url", 5, "link", None),
    ("url", {"href": "x"}, "canonical_url", None),
    ("title", ["T"], "title", ""),
    ("title", None, "title", ""),
    ("summary", 3, "summary", ""),
    ("content_html", {"x": 1}, "content", ""),
    ("content_html", 7, "content", ""),
    ("authors", "Ann", "authors", ()),
    ("authors", [1, "Ann", {"name": 5}, None], "authors", ()),
    ("tags", "t", "categories", ()),
    ("tags", [1, None, {"t": 1}], "categories", ()),
    ("date_published", 1700000000, "published", None),
    ("date_published", "not a date", "published", None),
    ("date_modified", ["2026"], "updated", None),
]


@pytest.mark.parametrize(("name", "value", "attr", "expected"), WRONG_TYPES)
def test_a_field_of_the_wrong_type_reads_as_absent(
    name: str, value: Any, attr: str, expected: Any
) -> None:
    result = parse_feed(doc({**GOOD, name: value}), JSON, FEED)
    assert result.error is None
    (article,) = result.articles
    assert getattr(article, attr) == expected


# Whole documents that are not usable JSON Feeds: a clear error, never an exception.
BAD_DOCUMENTS = [
    (b"{", "not a feed: invalid JSON"),
    (b"[1, 2]", "not a feed: JSON, but not an object"),
    (b'{"title": "no version", "items": []}', "not a feed: JSON without a JSON Feed version"),
    (b'{"version": "https://example.com/v1", "items": []}', "not a feed: JSON without a JSON"),
    (json.dumps({"version": V11, "items": {"a": 1}}).encode(), "not a feed: JSON Feed without"),
    (json.dumps({"version": 1.1, "items": []}).encode(), "not a feed: JSON without a JSON"),
    (b"[" * 100_000 + b"]" * 100_000, f"not a feed: JSON nested deeper than {MAX_DEPTH}"),
    (b'{"version": "' + V11.encode() + b'", "items": [' + b"[" * 5000 + b"]" * 5000 + b"]}",
     "not a feed: JSON nested deeper"),
]


@pytest.mark.parametrize(("body", "error"), BAD_DOCUMENTS)
def test_documents_that_are_not_json_feeds_are_refused_clearly(body: bytes, error: str) -> None:
    result = parse_feed(body, JSON, FEED)
    assert result.articles == ()
    assert result.error is not None and result.error.startswith(error), result.error


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    body = doc({**GOOD, "title": "[" * 500 + "{" * 500})
    (article,) = parse_feed(body, JSON, FEED).articles
    assert article.title.startswith("[[[")


def test_item_fields_map_like_an_rss_entry() -> None:
    (a,) = parse_feed(doc(GOOD), JSON, FEED).articles
    assert (a.key, a.guid, a.link, a.title, a.summary, a.content) == (
        "a1", "a1", "https://x.example/a", "Title", "Sum", "Body")
    assert (a.authors, a.categories) == (("Ann",), ("t",))
    assert a.published == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert a.updated == datetime(2026, 1, 2, 4, 0, tzinfo=UTC)
    assert (a.feed_url, a.feed_name, a.feed_tags) == (FEED.url, "J", ("x",))


def test_relative_item_urls_resolve_against_the_feed_url() -> None:
    (a,) = parse_feed(doc({"id": "r", "url": "/story/1"}), JSON, FEED).articles
    assert a.link == "https://feeds.example.com/story/1"
    assert a.key == "r"


def test_external_url_is_the_link_only_when_url_is_missing() -> None:
    both = {"id": "e", "url": "https://x.example/own", "external_url": "https://y.example/ext"}
    only = {"id": "f", "external_url": "https://y.example/ext2"}
    first, second = parse_feed(doc(both, only), JSON, FEED).articles
    assert first.link == "https://x.example/own"
    assert second.link == "https://y.example/ext2"


def test_a_repeated_id_is_one_article() -> None:
    result = parse_feed(doc(GOOD, {**GOOD, "title": "again"}), JSON, FEED)
    assert [a.title for a in result.articles] == ["Title"]


def test_100000_items_are_cut_by_max_items_with_a_warning() -> None:
    items = [{"id": str(i), "title": f"t{i}"} for i in range(100_000)]
    result = parse_feed(doc(*items), JSON, FEED, max_items=1000)
    assert len(result.articles) == 1000
    assert result.articles[-1].title == "t999"
    assert result.warning == "feed has 100000 entries; only the first 1000 were read"


def test_non_utf8_bytes_are_replaced_with_a_warning_and_the_items_kept() -> None:
    body = doc({"id": "a", "title": "Caf\u00e9"}).replace(b"Caf\\u00e9", b"Caf\xe9")
    result = parse_feed(body, JSON, FEED)
    (a,) = result.articles
    assert a.title == "Caf\ufffd"
    assert result.warning is not None and "not valid UTF-8" in result.warning


def test_a_declared_charset_is_honoured() -> None:
    body = json.dumps({"version": V11, "items": [{"id": "a", "title": "Caf\u00e9"}]},
                      ensure_ascii=False).encode("latin-1")
    result = parse_feed(body, {"Content-Type": "application/json; charset=ISO-8859-1"}, FEED)
    assert [a.title for a in result.articles] == ["Caf\u00e9"]
    assert result.warning is None


def test_utf8_bom_and_utf16_are_read() -> None:
    text = json.dumps({"version": V11, "items": [{"id": "a", "title": "\u00fc"}]})
    for body in (b"\xef\xbb\xbf" + text.encode(), text.encode("utf-16")):
        assert [a.title for a in parse_feed(body, {}, FEED).articles] == ["\u00fc"]


@pytest.mark.parametrize(("body", "content_type", "expected"), [
    (b'{"version": 1}', "", True),  # sniffed: starts with {
    (b'  \n{"a": 1}', "text/plain", True),  # leading whitespace
    (b"[]", "application/feed+json", True),  # by content type
    (b"[]", "application/json; charset=utf-8", True),
    (b"<rss/>", "application/rss+xml", False),
    (b"<?xml version='1.0'?><feed/>", "", False),
])
def test_json_is_recognised_by_content_type_or_first_byte(
    body: bytes, content_type: str, expected: bool
) -> None:
    assert looks_like_json_feed(body, {"Content-Type": content_type}) is expected


@pytest.mark.parametrize(("value", "expected"), [
    ("2010-02-07T14:04:00-05:00", datetime(2010, 2, 7, 19, 4, tzinfo=UTC)),
    ("2026-11-03T10:00:00z", datetime(2026, 11, 3, 10, 0, tzinfo=UTC)),  # lower-case z
    ("2026-11-03T10:00:00.123456Z", datetime(2026, 11, 3, 10, 0, 0, 123456, tzinfo=UTC)),
    ("2026-11-03T10:00:00", datetime(2026, 11, 3, 10, 0, tzinfo=UTC)),  # no zone: UTC
    ("Tue, 03 Nov 2026 10:00:00 GMT", None),  # RFC 822 is not RFC 3339
    ("", None),
    (None, None),
])
def test_rfc3339_dates(value: Any, expected: datetime | None) -> None:
    assert parse_rfc3339(value) == expected
