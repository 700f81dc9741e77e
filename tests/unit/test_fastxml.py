"""The fast parse path (monitor.feeds.fastxml): feedparser's entries, or a refusal.

Each small document below is read by both paths and must give the same Articles;
the ones the fast path must refuse (and leave to feedparser) are listed apart, with
the safety cases: no entity expansion, no external entity, no network.
"""

from __future__ import annotations

import io

import feedparser
import pytest

from monitor.article import FeedSpec
from monitor.feeds import fastxml
from monitor.feeds.parse import _read_document, entry_to_article, parse_feed

FEED = FeedSpec(url="https://feed.test/rss", name="T")
HEADERS = {"content-type": "application/rss+xml"}
DC = 'xmlns:dc="http://purl.org/dc/elements/1.1/"'
CONTENT = 'xmlns:content="http://purl.org/rss/1.0/modules/content/"'


def rss(items: str, ns: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" {ns}><channel>'
            f"<title>T</title>{items}</channel></rss>").encode()


def atom(entries: str) -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>T</title>{entries}</feed>").encode()


# One row per feedparser rule the fast path follows.
SAME = [
    # guid as link when there is no <link>; isPermaLink="false" is not a link
    rss("<item><guid>https://a.test/1</guid><title>x</title></item>"
        '<item><guid isPermaLink="false">tag:2</guid><title>y</title></item>'),
    # RSS author "email (name)", dc:creator, several categories with a domain
    rss("<item><title>t</title><link>https://a.test/1</link>"
        "<author>jo@a.test (Jo Doe)</author><dc:creator>Ann</dc:creator>"
        '<category domain="d">One</category><category>Two</category><category>One</category>'
        "</item>", DC),
    # content:encoded before the description: the description stays the summary
    rss("<item><title>t</title><content:encoded>&lt;p&gt;Body&lt;/p&gt;</content:encoded>"
        "<description>Teaser &amp;amp; more</description></item>", CONTENT),
    # an HTML-looking title in RSS is read as HTML (feedparser guesses), dates
    rss("<item><title>A &lt;b&gt;bold&lt;/b&gt; move</title><guid>g</guid>"
        "<pubDate>Tue, 01 Dec 2026 10:00:00 GMT</pubDate><dc:date>2026-12-01T11:00:00Z</dc:date>"
        "</item>", DC),
    # the first non-empty title wins; an empty <link/> after a guid link
    rss("<item><title></title><title>second</title><title>third</title>"
        "<guid>https://a.test/g</guid><link/></item>"),
    # windows-1252 code points and double-encoded UTF-8 in the text
    rss("<item><title>caf\u00c3\u00a9 \u0093quoted\u0094</title><guid>g</guid></item>"),
    # query strings in links: feedparser's "&amp;" repair
    rss("<item><title>t</title><link>https://a.test/?a=1&amp;amp;b=2&amp;c;</link></item>"),
    # Atom: alternate link, id, html content, text summary, author with email, category label
    atom('<entry><id>tag:a,2026:1</id><title type="html">A &amp;lt;i&amp;gt;b</title>'
         '<link rel="self" href="https://a.test/self"/><link href="https://a.test/1"/>'
         '<summary>plain &lt;not html&gt;</summary><content type="html">&lt;p&gt;x&lt;/p&gt;'
         "</content><author><name>N</name><email>n@a.test</email></author>"
         '<category term="t1" label="L1"/><category label="only label"/>'
         "<published>2026-12-01T10:00:00+02:00</published><updated>2026-12-02T00:00:00Z</updated>"
         "</entry>"),
    # Atom without an alternate link: the id becomes the link, as feedparser does
    atom("<entry><id>https://a.test/id</id><title>t</title></entry>"),
    # harmless extensions: enclosure, media:content, comments, unknown namespaces
    rss('<item xmlns:media="http://search.yahoo.com/mrss/" xmlns:x="urn:x"><title>t</title>'
        '<guid>g</guid><enclosure url="https://a.test/a.mp3" type="audio/mpeg"/>'
        '<media:content url="https://a.test/i.jpg"><media:title>m</media:title></media:content>'
        "<comments>https://a.test/c</comments><x:thing>x</x:thing></item>"),
    # RSS 1.0: rdf:about is the id
    (b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
     b'xmlns="http://purl.org/rss/1.0/"><channel rdf:about="c"><title>T</title></channel>'
     b'<item rdf:about="https://a.test/1"><title>t</title><link>https://a.test/1</link>'
     b"<description>d</description></item></rdf:RDF>"),
]


@pytest.mark.parametrize("body", SAME)
def test_the_fast_path_reads_what_feedparser_reads(body: bytes) -> None:
    fast = fastxml.parse_fast(body, HEADERS)
    ref = feedparser.parse(io.BytesIO(body), response_headers=HEADERS, sanitize_html=False,
                           resolve_relative_uris=False)
    assert len(fast.entries) == len(ref.entries) > 0
    for ours, theirs in zip(fast.entries, ref.entries, strict=True):
        assert entry_to_article(ours, FEED) == entry_to_article(theirs, FEED)
    assert _read_document(body, HEADERS)["parser"] == "fast"


LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
          + b"".join(b'<!ENTITY %c "&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;">'
                     % ((98 + i,) + (97 + i,) * 10) for i in range(8))
          + b']><rss version="2.0"><channel><title>T</title><item><title>&i;</title>'
          b"<guid>g</guid></item></channel></rss>")
XXE = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
       b'<rss version="2.0"><channel><item><title>&x;</title><guid>g</guid></item>'
       b"</channel></rss>")
EXTERNAL_DTD = (b'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "http://192.0.2.1/rss.dtd">'
                b'<rss version="2.0"><channel><item><title>t</title><guid>g</guid></item>'
                b"</channel></rss>")


@pytest.mark.parametrize(("body", "reason"), [
    (LAUGHS, "DOCTYPE|amplification"),  # entity expansion: libxml2 refuses it, or we do
    (XXE, "DOCTYPE"),  # an external entity is not read
    (EXTERNAL_DTD, "DOCTYPE"),  # and no DTD is fetched
    (rss("<item><title>t</title><guid>g</guid>") , "not well-formed"),  # truncated
    (rss("<item><title>x &nbsp; y</title></item>"), "not well-formed"),  # HTML entity
    (atom('<entry><id>i</id><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
          "x</div></content></entry>"), "content type"),
    (rss('<item xml:base="https://a.test/"><link>rel</link></item>'), "xml:base"),
    (rss("<item><title>t</title><description>a</description>"
         "<itunes:summary>b</itunes:summary></item>",
         'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'), "second summary"),
    (rss("<item><description>a <b>bold</b></description></item>"), "markup inside"),
    (rss("<item><item><title>t</title></item></item>"), "in an entry"),
    (b'{"version": "https://jsonfeed.org/version/1.1", "items": []}', "not well-formed"),
])
def test_what_the_fast_path_leaves_to_feedparser(body: bytes, reason: str) -> None:
    with pytest.raises(fastxml.Unsupported, match=reason):
        fastxml.parse_fast(body, HEADERS)


def test_entity_expansion_and_external_entities_stay_harmless_end_to_end() -> None:
    for body in (LAUGHS, XXE, EXTERNAL_DTD):
        result = parse_feed(body, HEADERS, FEED)
        for article in result.articles:  # never 10^8 characters, never /etc/passwd
            assert "root:" not in article.title and len(article.title) < 10_000


def test_fewer_entries_than_item_tags_goes_to_feedparser() -> None:
    # An </item> in a CDATA section: the bytes show two closing tags, the fast path one
    # entry; the document goes to feedparser, which agrees.
    body = rss("<item><title>t</title><guid>g</guid>"
               "<description><![CDATA[an </item> in text]]></description></item>")
    assert len(fastxml.parse_fast(body, HEADERS).entries) == 1
    assert _read_document(body, HEADERS)["parser"] == "feedparser"
    assert [a.key for a in parse_feed(body, HEADERS, FEED).articles] == ["g"]


def test_an_empty_channel_goes_to_feedparser() -> None:
    body = rss("")
    assert _read_document(body, HEADERS)["parser"] == "feedparser"
    result = parse_feed(body, HEADERS, FEED)
    assert result.articles == () and result.error is None and result.title == "T"


def test_a_fast_path_crash_falls_back_to_feedparser(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(body: bytes, headers: object) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(fastxml, "parse_fast", broken)
    body = rss("<item><title>t</title><guid>g</guid></item>")
    assert _read_document(body, HEADERS)["parser"] == "feedparser"
    assert [a.key for a in parse_feed(body, HEADERS, FEED).articles] == ["g"]


def test_a_plain_base_attribute_is_left_to_feedparser() -> None:
    # feedparser resolves links against base="" as against xml:base.
    body = rss('<item base="https://b.test/dir/"><title>t</title><link>/x</link></item>')
    with pytest.raises(fastxml.Unsupported, match="xml:base"):
        fastxml.parse_fast(body, HEADERS)


def test_an_author_name_nested_deeper_is_left_to_feedparser() -> None:
    body = atom('<entry xmlns:x="urn:x"><id>i</id><title>t</title>'
                "<author><x:wrap><name>Deep</name></x:wrap></author></entry>")
    with pytest.raises(fastxml.Unsupported, match="in an author"):
        fastxml.parse_fast(body, HEADERS)
