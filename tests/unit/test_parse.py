"""parse_feed, html_to_text and canonical_url: golden files and tables. Pure, no I/O
beyond reading the fixtures under tests/data/feeds/.

Golden files: tests/data/feeds/<feed>.expected.json holds the ParseResult of <feed>.
After a deliberate change, regenerate with UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.article import FeedSpec
from monitor.feeds.parse import ParseResult, canonical_url, entry_key, html_to_text, parse_feed

DATA = Path(__file__).resolve().parent.parent / "data" / "feeds"
FEED = FeedSpec(url="https://feeds.example.com/test.xml", name="Test feed", tags=("t1",))


def parse_file(name: str, content_type: str | None = None) -> ParseResult:
    headers = {"Content-Type": content_type} if content_type else {}
    return parse_feed((DATA / name).read_bytes(), headers, FEED)


def as_json(result: ParseResult) -> dict[str, Any]:
    def default(value: object) -> str:
        assert isinstance(value, datetime)
        return value.isoformat()

    return json.loads(json.dumps(dataclasses.asdict(result), default=default))


GOLDEN = [
    # (fixture, Content-Type sent with it)
    ("rss2.xml", "application/rss+xml; charset=utf-8"),  # RSS 2.0, content:encoded, entities
    ("atom.xml", "application/atom+xml"),  # Atom 1.0, xml:base, xhtml content, 2 authors
    ("rss1.rdf", "application/rdf+xml"),  # RSS 1.0 with dc: elements
    ("no-ids.xml", "application/rss+xml"),  # no guid/link, duplicate guid
    ("cp1251-no-decl.xml", "application/rss+xml; charset=windows-1251"),  # charset only in HTTP
    ("html-page.html", "text/html; charset=utf-8"),  # not a feed
    ("jsonfeed-1.1-simple.json", "application/feed+json"),  # the 1.1 spec's first example
    ("jsonfeed-1.0-podcast.json", "application/json"),  # 1.0 spec: podcast (html + text)
    ("jsonfeed-1.0-microblog.json", "text/plain"),  # 1.0 spec: feed-level author; sniffed
    ("jsonfeed-1.1-news.json", "application/feed+json"),  # numeric id, bad types, skipped items
]


@pytest.mark.parametrize(("name", "content_type"), GOLDEN)
def test_golden(name: str, content_type: str) -> None:
    got = as_json(parse_file(name, content_type))
    golden = DATA / f"{name}.expected.json"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert got == json.loads(golden.read_text(encoding="utf-8"))


def test_rss2_fields() -> None:
    first, second = parse_file("rss2.xml", "application/rss+xml").articles
    assert first.key == first.guid == "urn:example:zoom-china-42"
    assert first.canonical_url == "https://news.example.com/tech/zoom-china?id=42"
    assert first.published == datetime(2026, 11, 3, 8, 30, tzinfo=UTC)  # +0100 -> UTC
    assert first.authors == ("Jane Reporter",)
    assert first.categories == ("Technology", "China")
    # Entities decoded once, HTML stripped, paragraphs kept as line breaks.
    assert first.summary == "Zoom is shifting to a partner-only model & more.\n\nCafé — “quoted”"
    # No alt text, no script, no style; list items and <br> become lines.
    assert "ban" not in first.content
    assert "color" not in first.content
    assert first.content == "First paragraph with a link.\n\none\ntwo\nLast line\nafter break"
    assert (first.feed_url, first.feed_name, first.feed_tags) == (FEED.url, FEED.name, FEED.tags)
    # No guid: the link is the key; whitespace of the description collapsed.
    assert second.guid is None
    assert second.key == "https://news.example.com/politics/tiktok?fbclid=abc&page=2"
    assert second.summary == "Lawmakers argue over the ban."


def test_atom_fields() -> None:
    result = parse_file("atom.xml", "application/atom+xml")
    assert result.title == "Policy & Tech Blog"
    post, content_only = result.articles
    assert post.title == "AT&T <not a tag> in the title"  # type="text": not HTML
    assert post.link == "https://blog.example.org/posts/1?utm_campaign=x"  # xml:base applied
    assert post.canonical_url == "https://blog.example.org/posts/1"
    assert post.authors == ("Ann Author", "Bob Byline")
    assert post.published == datetime(2026, 11, 3, 13, 0, tzinfo=UTC)
    assert post.updated == datetime(2026, 11, 3, 10, 15, 30, tzinfo=UTC)
    assert (post.summary, post.content) == ("Short summary.", "Heading\n\nBody text.")
    # feedparser copies <content> into summary when there is none: not counted twice.
    assert (content_only.summary, content_only.content) == ("", "Only content, no summary.")
    assert content_only.published is None  # not invented from <updated>


def test_charset_from_http_header_is_honoured() -> None:
    body = (DATA / "cp1251-no-decl.xml").read_bytes()
    with_charset = parse_feed(body, {"content-type": "text/xml; charset=windows-1251"}, FEED)
    assert with_charset.title == "Новости дня"
    assert with_charset.articles[0].title == "Запрет TikTok обсуждают в Москве"
    # Control: without the header the same bytes decode to something else.
    without = parse_feed(body, {"content-type": "text/xml"}, FEED)
    assert without.articles[0].title != with_charset.articles[0].title


def test_entries_without_ids() -> None:
    articles = parse_file("no-ids.xml", "application/rss+xml").articles
    keys = [a.key for a in articles]
    assert len(set(keys)) == len(keys) == 5  # 6 items, one repeats guid dup-1
    dated = articles[0]
    assert dated.key == entry_key(None, None, "Dated entry", "Sun, 01 Nov 2026 10:00:00 GMT", "")
    assert dated.key.startswith("sha256:")
    # The repeated guid keeps its first occurrence.
    assert [a.title for a in articles if a.key == "dup-1"] == ["First copy"]
    # Parsing twice gives the same keys (stable identity across polls).
    assert keys == [a.key for a in parse_file("no-ids.xml", "application/rss+xml").articles]


def test_key_does_not_depend_on_feed_url() -> None:
    body = (DATA / "no-ids.xml").read_bytes()
    moved = FeedSpec(url="https://elsewhere.example.net/feed", name="x")
    assert [a.key for a in parse_feed(body, {}, FEED).articles] == [
        a.key for a in parse_feed(body, {}, moved).articles
    ]


NOT_FEEDS = [
    # (body, content type, expected error)
    (b"", "application/rss+xml", "not a feed: empty body"),
    (b"<!DOCTYPE html><html><body>hi</body></html>", None, "not a feed: looks like an HTML page"),
    (b"<html><body><p>x</p></body></html>", "text/xml", "not a feed: looks like an HTML page"),
    (
        b'{"version": "https://jsonfeed.org/version/1"}',
        "application/json",
        "not a feed: JSON Feed without an items list",
    ),
    (
        b"<?xml version='1.0'?><a><b></a>",
        "application/xml",
        "not a feed: XML parse error at line 1: mismatched tag",
    ),
    (
        b"<?xml version='1.0'?><note>hello</note>",
        "application/xml",
        "not a feed: no RSS or Atom elements found",
    ),
]


@pytest.mark.parametrize(("body", "content_type", "error"), NOT_FEEDS)
def test_not_a_feed(body: bytes, content_type: str | None, error: str) -> None:
    result = parse_feed(body, {"Content-Type": content_type} if content_type else {}, FEED)
    assert (result.articles, result.error) == ((), error)


def test_body_naming_a_local_file_is_not_read() -> None:
    # feedparser.parse(bytes) would open this path and parse the file's contents.
    target = DATA / "rss2.xml"
    result = parse_feed(str(target).encode(), {}, FEED)
    assert result.articles == ()
    assert result.error is not None


def test_truncated_feed_keeps_complete_entries_with_warning() -> None:
    body = (DATA / "rss2.xml").read_bytes()
    cut = body[: body.index(b"<title>TikTok") + 20]  # mid second item
    result = parse_feed(cut, {"content-type": "application/rss+xml"}, FEED)
    assert result.error is None
    assert result.warning is not None and result.warning.startswith("XML parse error")
    assert result.articles[0].key == "urn:example:zoom-china-42"


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=400).map(lambda t: f"<rss><item>{t}".encode()))
def test_parse_feed_never_raises(body: bytes) -> None:
    result = parse_feed(body, {"content-type": "application/xml"}, FEED)
    assert result.error is not None or isinstance(result.articles, tuple)


HTML_TO_TEXT = [
    # (html, text)
    ("", ""),
    ("plain   text\nwith lines", "plain text with lines"),  # source newlines are spaces
    ("AT&amp;T &lt;3 &eacute;&#233;&#xE9;", "AT&T <3 ééé"),  # entities, all three forms
    ("<p>one</p><p>two</p>", "one\n\ntwo"),
    ("a<br>b<br/>c", "a\nb\nc"),
    ("<ul><li>x</li><li>y</li></ul>", "x\ny"),
    (
        '<img src="a.png" alt="ban">text <a href="http://ban.example" title="ban">link</a>',
        "text link",
    ),  # attributes never become text
    ("<script>ban()</script><style>.ban{}</style><noscript>ban</noscript>ok", "ok"),
    ("a&nbsp;&nbsp;b \t c", "a b c"),  # nbsp collapses like a space
    ("<div><div><p>deep</p></div></div>\n\n\n<p>x</p>", "deep\n\nx"),  # at most one blank line
    ("<td>a</td><td>b</td>", "a b"),
    ("x < y and y > z", "x < y and y > z"),  # stray brackets are text
    ("<b>unclosed <i>tags", "unclosed tags"),
]


@pytest.mark.parametrize(("html", "text"), HTML_TO_TEXT)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


CANONICAL = [
    # (url, canonical)
    (None, None),
    ("  ", None),
    ("HTTPS://Example.COM/Path?a=1#frag", "https://example.com/Path?a=1"),  # path case kept
    ("http://example.com:80/x", "http://example.com/x"),  # default port dropped
    ("https://example.com:443/x", "https://example.com/x"),
    ("https://example.com:8443/x", "https://example.com:8443/x"),  # other ports kept
    ("https://example.com", "https://example.com/"),  # empty path is /
    ("https://e.com/a?utm_source=rss&utm_medium=x&UTM_Campaign=y", "https://e.com/a"),
    ("https://e.com/a?b=2&fbclid=x&a=1&gclid=y&mc_cid=1&mc_eid=2", "https://e.com/a?b=2&a=1"),
    ("https://e.com/a?q=a%20b&x=1+2&utm_term=z", "https://e.com/a?q=a%20b&x=1+2"),  # as written
    ("https://e.com/a?utmost=1", "https://e.com/a?utmost=1"),  # only the utm_ prefix
    ("https://user@Example.com/a", "https://user@example.com/a"),
    ("http://[::1]:80/x", "http://[::1]/x"),
    ("http://[::1/x", "http://[::1/x"),  # malformed: left as written, no exception
    ("urn:uuid:1234", "urn:uuid:1234"),
]


@pytest.mark.parametrize(("url", "expected"), CANONICAL)
def test_canonical_url(url: str | None, expected: str | None) -> None:
    assert canonical_url(url) == expected


def test_html_to_text_ignores_marker_characters_in_input() -> None:
    assert html_to_text("<b>a\x1eb</b>") == "a b"


def test_entities_are_not_expanded_and_external_entities_not_read() -> None:
    levels = "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )  # billion laughs: 10**9 "lol"s if expanded
    body = (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol0 "lol">'
        f'{levels}<!ENTITY xxe SYSTEM "file://{DATA / "rss2.xml"}">]>'
        '<rss version="2.0"><channel><item><guid>a</guid><title>&lol9;</title>'
        "<description>&xxe;</description></item></channel></rss>"
    ).encode()
    (article,) = parse_feed(body, {"content-type": "application/rss+xml"}, FEED).articles
    assert len(article.title) < 100
    assert "Zoom" not in article.summary  # the file's text was not pulled in
