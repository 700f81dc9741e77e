"""Property: for any document built from the pieces real feeds use, in any order and
number, the fast path either declines or gives exactly feedparser's Articles."""

from __future__ import annotations

import io

import feedparser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.article import FeedSpec
from monitor.feeds import fastxml
from monitor.feeds.parse import entry_to_article

FEED = FeedSpec(url="https://feed.test/rss", name="T")
NS = ('xmlns:dc="http://purl.org/dc/elements/1.1/" '
      'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
      'xmlns:media="http://search.yahoo.com/mrss/" '
      'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
      'xmlns:atom="http://www.w3.org/2005/Atom" xmlns:x="urn:x"')

# fmt: off
RSS_PIECES = [
    "<title>Plain title</title>", "<title></title>", "<title>A &lt;b&gt;b&lt;/b&gt; &amp; c</title>",
    "<title>caf\u00c3\u00a9 \u0093q\u0094 \u00e9t\u00e9</title>", "<dc:title>DC title</dc:title>",
    "<title><![CDATA[Ca<i>t</i>]]></title>",
    "<link>https://a.test/1?utm_source=x&amp;b=2</link>", "<link/>", "<link>/relative</link>",
    "<link>http:///triple</link>",
    '<atom:link rel="alternate" href="https://a.test/alt"/>',
    '<atom:link rel="self" href="https://a.test/self"/>', '<atom:link href=""/>',
    "<guid>https://a.test/g</guid>", '<guid isPermaLink="false">tag:g</guid>',
    "<guid>  spaced  </guid>", '<guid isPermaLink="true">rel/g</guid>',
    "<description>Some &lt;p&gt;html&lt;/p&gt; text</description>",
    "<description>plain text</description>", "<description/>",
    "<dc:description>dc desc</dc:description>",
    "<content:encoded>&lt;p&gt;Full&lt;/p&gt;&lt;p&gt;text&lt;/p&gt;</content:encoded>",
    "<content:encoded></content:encoded>",
    "<itunes:summary>it summary</itunes:summary>",
    "<author>jo@a.test (Jo)</author>", "<author>Just A Name</author>", "<author></author>",
    "<author>&lt;jo@a.test&gt; Jo</author>",
    "<dc:creator>Creator</dc:creator>", "<itunes:author>Pod Author</itunes:author>",
    '<category domain="d">One</category>', "<category>Two</category>", "<category/>",
    '<category domain="only-domain"/>', "<dc:subject>Subj</dc:subject>",
    '<itunes:category text="Tech"/>', "<itunes:keywords>a, b,,c</itunes:keywords>",
    '<media:category scheme="s">mc</media:category>', "<media:keywords>k1,k2</media:keywords>",
    "<pubDate>Tue, 01 Dec 2026 10:00:00 GMT</pubDate>", "<pubDate>not a date</pubDate>",
    "<pubDate>2026-12-01T10:00:00+01:00</pubDate>", "<dc:date>2026-12-01T11:00:00Z</dc:date>",
    "<atom:updated>2026-12-02T00:00:00Z</atom:updated>", "<pubDate></pubDate>",
    '<enclosure url="https://a.test/a.mp3" length="1" type="audio/mpeg"/>',
    '<media:content url="https://a.test/i.jpg"><media:title>mt</media:title></media:content>',
    '<media:thumbnail url="https://a.test/t.jpg"/>', "<media:title>Media title</media:title>",
    "<comments>https://a.test/c</comments>", '<source url="https://s.test/">Src</source>',
    "<image>https://a.test/i.png</image>", "<x:thing>x</x:thing>", '<x:attr a="1"/>',
    "<itunes:duration>1:00</itunes:duration>", "<itunes:explicit>no</itunes:explicit>",
]
ATOM_PIECES = [
    "<title>T</title>", '<title type="html">A &amp;lt;b&amp;gt;</title>', '<title type="text"/>',
    "<id>tag:a,2026:1</id>", "<id>https://a.test/id</id>",
    '<link href="https://a.test/1"/>', '<link rel="alternate" type="text/html" href="/r"/>',
    '<link rel="enclosure" href="https://a.test/e.mp3"/>', '<link rel="self" href="x"/>',
    '<link rel="alternate" type="application/pdf" href="https://a.test/p.pdf"/>',
    "<summary>plain &lt;b&gt;</summary>", '<summary type="html">&lt;p&gt;s&lt;/p&gt;</summary>',
    '<content type="html">&lt;p&gt;c&lt;/p&gt;</content>', "<content>text content</content>",
    '<content type="text/html">&lt;i&gt;x&lt;/i&gt;</content>',
    "<author><name>N</name></author>", "<author><name>N</name><email>n@a.test</email></author>",
    "<author><email>e@a.test</email><uri>https://a.test/</uri></author>", "<author/>",
    '<category term="t"/>', '<category term="t" label="L"/>', '<category label="L2"/>',
    "<published>2026-12-01T10:00:00Z</published>", "<updated>2026-12-02T10:00:00+02:00</updated>",
    "<updated>garbage</updated>", "<rights>r</rights>",
]
# fmt: on


def entries_equal(body: bytes) -> None:
    headers = {"content-type": "application/xml"}
    try:
        fast = fastxml.parse_fast(body, headers)
    except fastxml.Unsupported:
        return
    ref = feedparser.parse(io.BytesIO(body), response_headers=headers, sanitize_html=False,
                           resolve_relative_uris=False)
    assert not ref.bozo, ref.bozo_exception
    assert len(fast.entries) == len(ref.entries)
    for ours, theirs in zip(fast.entries, ref.entries, strict=True):
        assert entry_to_article(ours, FEED) == entry_to_article(theirs, FEED)


items = st.lists(st.lists(st.sampled_from(RSS_PIECES), max_size=8), min_size=1, max_size=3)
entries = st.lists(st.lists(st.sampled_from(ATOM_PIECES), max_size=8), min_size=1, max_size=3)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items)
def test_rss_items_read_as_feedparser_reads_them(parts: list[list[str]]) -> None:
    body = "".join(f"<item>{''.join(p)}</item>" for p in parts)
    entries_equal(f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" {NS}><channel>'
                  f"<title>T</title>{body}</channel></rss>".encode())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries)
def test_atom_entries_read_as_feedparser_reads_them(parts: list[list[str]]) -> None:
    body = "".join(f"<entry>{''.join(p)}</entry>" for p in parts)
    entries_equal(('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
                   f"<title>T</title>{body}</feed>").encode())
