"""Fuzz: parse_feed over byte-level mutations of real feeds (../shared/data/feeds, the
corpus tests' files) and of the project's own RSS, Atom and JSON Feed fixtures.

Whatever the bytes, parse_feed returns a ParseResult: articles (maybe with a warning)
or an error, which is the feed's own problem and is recorded on it. It never raises
and never needs its last-resort ``except`` (a crash logged as ``feed.parse_crashed``
loses every entry of the feed). What comes back can be stored: no NUL character
(PostgreSQL text refuses it) and no lone surrogate (not UTF-8). And it stays in
proportion to the input: a few hundred bytes of entity declarations never become
megabytes of text ("billion laughs").
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import pytest
from fuzzkit import fuzz_settings, logged_errors
from hypothesis import given
from hypothesis import strategies as st
from mutate import CHARSET_NAMES, mutated

from monitor.article import Article, FeedSpec
from monitor.feeds.parse import ParseResult, parse_feed

pytestmark = pytest.mark.fuzz

FEED = FeedSpec(url="https://fuzz.example/feeds/main.xml", name="fuzz")
OWN_FEEDS = Path(__file__).resolve().parents[1] / "data" / "feeds"

_LAUGHS = b"".join(
    b'<!ENTITY lol%d "%s">\n' % (n, b"".join(b"&lol%d;" % (n - 1) for _ in range(10)))
    for n in range(1, 10))
#: A DOCTYPE whose entities expand 10^9 times, as one line and as feedparser expects.
LAUGHS_DOCTYPES = [
    b'<!DOCTYPE rss [<!ENTITY lol0 "lol">' + _LAUGHS.replace(b"\n", b"") + b"]>",
    b'<!DOCTYPE rss [\n<!ENTITY lol0 "lol">\n' + _LAUGHS + b"]>\n",
]
#: What a hostile or broken feed inserts into a document.
SNIPPETS = [
    *LAUGHS_DOCTYPES, b"&lol9;", b"&lol3;",
    b'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', b"&xxe;",
    b'<!DOCTYPE rss SYSTEM "http://127.0.0.1:9/x.dtd">',
    b"&#0;", b"&#x0;", b"&#xD800;", b"&#55296;", b"&#xDFFF;", b"&#x110000;", b"&#1114112;",
    b"&#99999999999999999999;", b"&#x7FFFFFFFFFFFFFFF;", b"&#xFFFE;", b"&#8;", b"\x00",
    b"&nbsp;", b"&unknown;", b"&amp", b"&", b"<", b">", b"]]>", b"<![CDATA[", b"<!--",
    b"-->", b"<?xml version='1.0'?>", b"<?php ?>", b'xml:base="javascript:alert(1)"',
    b"<item>", b"</item>", b"<entry>", b"</entry>", b"<item><title>x</title></item>",
    b"<link>::::</link>", b"<link>http://[::1/</link>", b'<link href="http://x:99999/"/>',
    b"<guid></guid>", b"<pubDate>Mon, 31 Feb 99999 25:61:61 +9999</pubDate>",
    b"<updated>0000-00-00T00:00:00Z</updated>", b"<ttl>99999999999999999999999</ttl>",
    b"<ttl>-5</ttl>", b"<language>\xff\xfe</language>", b"\xef\xbb\xbf", b"\xff\xfe",
    b"\xe2\x80\xae", b"\xf0\x9f\x92\xa9", b"\xed\xa0\x80", b"\xc0\xaf", b"\x1b[31m",
    b"<content:encoded><![CDATA[<p>&#xD800;</p>]]></content:encoded>",
    b'<summary type="html">&lt;script&gt;x&lt;/script&gt;</summary>',
    b'"version": "https://jsonfeed.org/version/1.1"', b'{"id": 1e999}', b'{"id": -0}',
    b'"date_published": "9999-12-31T23:59:59-23:59"', b"[" * 200, b"{" * 200,
]
CONTENT_TYPES = ["", "application/xml", "application/rss+xml", "text/xml", "text/html",
                 "application/json", "application/feed+json", "text/plain",
                 "application/octet-stream"]


@functools.cache
def documents(root: Path) -> tuple[bytes, ...]:
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix not in (".tsv", ".json")
                   or p.name.endswith(".json") and not p.name.endswith(".expected.json"))
    return tuple(f.read_bytes() for f in files)


def headers() -> st.SearchStrategy[dict[str, str]]:
    charset = st.sampled_from(CHARSET_NAMES).map(lambda c: f"; charset={c}") | st.just("")
    content_type = st.tuples(st.sampled_from(CONTENT_TYPES), charset).map("".join)
    return st.fixed_dictionaries({}, optional={"Content-Type": content_type,
                                               "content-location": st.just("http://x/")})


def check_result(body: bytes, result: ParseResult, crashes: list[object]) -> None:
    assert isinstance(result, ParseResult)
    assert crashes == [], f"parse_feed crashed: {crashes[0]}"
    assert (result.error is None) or not result.articles
    strings = [result.title, result.language, result.warning, result.error]
    for article in result.articles:
        assert isinstance(article, Article)
        for f in dataclasses.fields(article):
            value = getattr(article, f.name)
            strings += value if isinstance(value, tuple) else [value]
    texts = [s for s in strings if isinstance(s, str)]
    for text in texts:
        assert "\x00" not in text, f"NUL in {text!r:.200}"
        text.encode("utf-8")  # raises on a lone surrogate
    # Proportion: every field comes from the document, each at most once or twice.
    assert sum(map(len, texts)) <= 8 * len(body) + 20_000


def parse(body: bytes, head: dict[str, str], max_items: int | None = None) -> None:
    with logged_errors("monitor.feeds") as crashes:
        result = parse_feed(body, head, FEED, max_items=max_items)
    check_result(body, result, crashes)


@fuzz_settings(scale=1.0)
@given(data=st.data())
def test_mutated_corpus_feed_parses_or_fails_cleanly(shared_data: Path, data: st.DataObject
                                                     ) -> None:
    original = data.draw(st.sampled_from(documents(shared_data / "feeds")), label="original")
    body = data.draw(mutated(original, SNIPPETS), label="body")
    parse(body, data.draw(headers(), label="headers"),
          data.draw(st.none() | st.integers(1, 5), label="max_items"))


@fuzz_settings(scale=0.5)
@given(data=st.data())
def test_mutated_own_feed_parses_or_fails_cleanly(data: st.DataObject) -> None:
    # RSS 1.0/2.0, Atom, cp1251 and four JSON Feeds: always here, also without shared data.
    original = data.draw(st.sampled_from(documents(OWN_FEEDS)), label="original")
    body = data.draw(mutated(original, SNIPPETS), label="body")
    parse(body, data.draw(headers(), label="headers"),
          data.draw(st.none() | st.integers(1, 5), label="max_items"))


@fuzz_settings(scale=0.5)
@given(st.binary(max_size=2000), headers())
def test_arbitrary_bytes_parse_or_fail_cleanly(body: bytes, head: dict[str, str]) -> None:
    parse(body, head)


def rss(items: bytes, prolog: bytes = b"", encoding: bytes = b' encoding="utf-8"') -> bytes:
    """A broken RSS 2.0 document (no closing tags: feedparser's lenient parser reads it)."""
    return (b'<?xml version="1.0"' + encoding + b"?>" + prolog
            + b'<rss version="2.0"><channel><title>t</title>' + items)


REGRESSIONS = [
    # (body, titles expected) -- each once crashed parse_feed or came back unstorable
    # feedparser's lenient parser: chr() of a surrogate, of a number past U+10FFFF, and int()
    # of more than 4,300 digits raised, and the whole feed was "parse failed".
    (rss(b"<item><guid>1</guid><title>a&#xD800;b</title></item>"), ["a\ufffdb"]),
    (rss(b"<item><guid>1</guid><title>a&#55296;b</title></item>"), ["a\ufffdb"]),
    (rss(b"<item><guid>1</guid><title>a&#x110000;b &#99999999999;</title></item>"),
     ["a\ufffdb \ufffd"]),
    (rss(b"<item><guid>1</guid><title>&#" + b"9" * 5000 + b";</title></item>"), ["\ufffd"]),
    (rss(b"<item><guid>1</guid><title>&#" + b"0" * 5000 + b"65;</title></item>"), ["A"]),
    # the same in UTF-16 (the reference is edited as text, in the document's encoding)
    (rss(b"<item><guid>1</guid><title>a&#xD800;b</title></item>").replace(
        b"utf-8", b"utf-16").decode().encode("utf-16"), ["a\ufffdb"]),
    # a UTF-16 byte-order mark on an ASCII document: feedparser reads it as UTF-8 anyway
    (b"\xff\xfe" + rss(b"<item><guid>1</guid><title>a&#xD800;b</title></item>"), ["a\ufffdb"]),
    # declared encodings whose decoder raises what feedparser does not catch
    (rss(b"<item><guid>1</guid><title>x</title></item>").replace(b"utf-8", b"\x00tf-8"), ["x"]),
    # (idna fails on a "label" that starts with xn-- and is no punycode)
    (rss(b"<item><guid>1</guid><title>a.xn--abc</title></item>").replace(b"utf-8", b"idna"),
     ["a.xn--abc"]),
    (rss(b"<item><guid>1</guid><title>x</title></item>").replace(b"utf-8", b"undefined"), ["x"]),
    (rss(b"<item><guid>1</guid><title>x</title></item>").replace(b"utf-8", b"\xff"), ["x"]),
    # an end tag that closes nothing: feedparser's extension handlers raised KeyError
    # ("media_player", "license") and the whole feed was lost (nightly run)
    (rss(b"<item><guid>1</guid><title>a</title></media:player></media:rating></item>"),
     ["a"]),
    ((b'<feed xmlns="http://www.w3.org/2005/Atom">&bad;<title>t</title>'
     b"</creativeCommons:license><entry><id>1</id><title>a</title></entry></feed>"), ["a"]),
    # the root element broken, so its namespace declarations are lost
    ((b'<?xml version="1.0"?>\n\x00feed xmlns="http://www.w3.org/2005/Atom" xmlns:creativeCommons='
     b'"http://backend.userland.com/creativeCommonsRssModule"><creativeCommons:license>'
     b"http://x</creativeCommons:license><entry><id>1</id><title>a</title></entry></feed>"),
     ["a"]),
    # NUL from a reference or a raw byte: PostgreSQL refused the whole batch, every poll
    (rss(b"<item><guid>1</guid><title>a&#0;b\x00c</title></item>"), ["a\ufffdbc"]),
    (rss(b"<item><guid>1</guid><title>a\x00b</title></item>"), ["ab"]),
    # guids that differ only by a NUL are one article once the NUL is gone
    (rss(b"<item><guid>g\x00</guid><title>one</title></item>"
         b"<item><guid>g</guid><title>two</title></item>"), ["one"]),
    # billion laughs written on one line after the declaration: 909 bytes gave 300 kB of
    # titles at 5 levels; at 9, expat's limit stopped it after 2.7 s and ~60 MB
    (rss(b"<item><guid>1</guid><title>&lol5;</title></item><item><guid>2</guid>"
         b"<title>x &lol5;</title></item></channel></rss>", LAUGHS_DOCTYPES[0], b""),
     ["&lol5;", "x &lol5;"]),
    # ... or multi-line, after a comment holding a "<a" (feedparser's own defence stops
    # at the first thing that looks like a tag): 300 kB of titles in 5 s
    (rss(b"<item><guid>1</guid><title>&lol5;</title></item></channel></rss>",
         b"<!-- <a -->" + LAUGHS_DOCTYPES[1], b""), ["&lol5;"]),
    # a parameter entity defining the general one: dropped too (and expat then skips the
    # reference it cannot resolve: an empty title, not "boom")
    (rss(b"<item><guid>1</guid><title>&x;</title></item></channel></rss>",
         b"""<!DOCTYPE rss [<!ENTITY % p "<!ENTITY x 'boom'>"> %p;]>""", b""), [""]),
    # an entity defined by a character reference still works
    (rss(b"<item><guid>1</guid><title>a&nb;b</title></item></channel></rss>",
         b'<!DOCTYPE rss [<!ENTITY nb "&#160;">]>', b""), ["a b"]),
]


@pytest.mark.parametrize(("body", "titles"), REGRESSIONS)
def test_crash_found_by_fuzzing_is_fixed(body: bytes, titles: list[str]) -> None:
    with logged_errors("monitor.feeds") as crashes:
        result = parse_feed(body, {}, FEED)
    check_result(body, result, crashes)
    assert [a.title for a in result.articles] == titles


def test_a_document_feedparser_fails_on_twice_is_the_feeds_error() -> None:
    # Found by the nightly run: "<title>x/title>" in <image> made feedparser's <width>
    # handler call int(None), in the strict and the lenient parser alike. Logged as a
    # crash and "parse failed: TypeError" before; now the feed's own error, said so.
    body = rss(b"<image><title>x/title><link>http://x/</link><width>120</width></image>"
               b"<item><guid>1</guid><title>a</title></item></channel></rss>")
    with logged_errors("monitor.feeds") as crashes:
        result = parse_feed(body, {}, FEED)
    check_result(body, result, crashes)
    assert result.error is not None
    assert result.error.startswith("unreadable: the feed parser failed on it: TypeError")


@pytest.mark.parametrize("charset", ["idna", "undefined", "punycode", '"idna"'])
def test_a_charset_header_that_crashed_feedparser_is_ignored(charset: str) -> None:
    body = rss(b"<item><guid>1</guid><title>a.xn--abc</title></item>")
    with logged_errors("monitor.feeds") as crashes:
        result = parse_feed(body, {"Content-Type": f"text/xml; charset={charset}"}, FEED)
    check_result(body, result, crashes)
    assert [a.title for a in result.articles] == ["a.xn--abc"]
