"""Fuzz: read_opml over byte-level mutations of the shared OPML files
(../shared/data/opml) and arbitrary bytes. The reader is lenient by design: it never
raises, every feed it returns has an http(s) URL, and entities in the file are never
expanded (no billion laughs, no external files)."""

from __future__ import annotations

import functools
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fuzzkit import fuzz_settings
from hypothesis import given
from hypothesis import strategies as st
from mutate import mutated
from test_feeds_fuzz import LAUGHS_DOCTYPES

from monitor.opml import OpmlDocument, read_opml

pytestmark = pytest.mark.fuzz

SNIPPETS = [
    *LAUGHS_DOCTYPES, b"&lol9;", b'<!DOCTYPE opml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    b"&xxe;", b"&#0;", b"&#xD800;", b"&#99999999999;", b"&amp", b"&", b'"', b"'", b"<", b">",
    b"<outline>", b"</outline>", b"<outline/>", b'<outline xmlUrl="http://a.example/f"/>',
    b'<outline xmlUrl="javascript:alert(1)"/>', b'<outline xmlUrl="http://[::1/"/>',
    b'xmlUrl="https://x.example/?a=1&b=2"', b'xmlUrl=""', b'category="/,//,/a/b/"',
    b'title="\xff\xfe"', b"<title>", b"</title>", b"<!--", b"-->", b"<![CDATA[", b"]]>",
    b'<?xml version="1.0" encoding="utf-16"?>', b'<?xml version="1.0" encoding="idna"?>',
    b"\x00", b"\xef\xbb\xbf", b"\xff\xfe", b"\xed\xa0\x80", b"<" * 100, b'"' * 100,
]


@functools.cache
def documents(root: Path) -> tuple[bytes, ...]:
    return tuple(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
                 and p.suffix.lower() in (".opml", ".xml"))


def check_opml(data: bytes) -> None:
    doc = read_opml(data)
    assert isinstance(doc, OpmlDocument)
    for feed in doc.feeds:
        assert urlsplit(feed.url).scheme.lower() in ("http", "https")
        assert all(isinstance(t, str) and t for t in feed.tags)
    # No entity expansion: nothing read is longer than the file itself.
    assert sum(len(f.url) + len(f.title or "") for f in doc.feeds) <= 2 * len(data) + 100


@fuzz_settings(scale=0.25)  # the shared files are large: about 0.1 s a read here
@given(data=st.data())
def test_mutated_opml_reads_without_raising(shared_data: Path, data: st.DataObject) -> None:
    files = documents(shared_data / "opml")
    assert files, "the shared data has OPML files"
    original = data.draw(st.sampled_from(files), label="original")
    check_opml(data.draw(mutated(original, SNIPPETS), label="body"))


@fuzz_settings(scale=0.5)
@given(st.binary(max_size=2000) | st.text(max_size=500).map(
    lambda t: f'<opml><body><outline xmlUrl="http://x.example/{t}" title="{t}">'.encode(
        "utf-8", "surrogatepass")))
def test_arbitrary_bytes_read_without_raising(data: bytes) -> None:
    check_opml(data)


def test_an_xml_url_urlsplit_refuses_is_skipped() -> None:
    # Found by the nightly run: urlsplit raised ValueError ("Invalid IPv6 URL") out of
    # read_opml, both in the tag parser and in the pass that recovers hidden xmlUrls.
    doc = read_opml(b'<opml><body><outline xmlUrl="http://[::1/"/>'
                    b'<outline xmlUrl="https://ok.example/feed" title="ok"/></body></opml>')
    assert [f.url for f in doc.feeds] == ["https://ok.example/feed"]
    assert doc.skipped == ("http://[::1/",)
    recovered = read_opml(b'<opml><body><outline title="a"description="x "y" xmlUrl="http://[::1/"/>'
                          b"</body></opml>")
    assert recovered.feeds == ()
