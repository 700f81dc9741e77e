"""The fast parse path: well-formed RSS 2.0/0.9x, RSS 1.0 and Atom 1.0 read with lxml.

feedparser stays the reference (``monitor.feeds.parse``): this module reads a document
into the same entry mappings feedparser would build for it (the keys
``entry_to_article`` reads: id, link, title, summary, content, authors, author, tags,
published, updated and their ``_detail``/``_parsed`` companions), so an article is the
same article whichever path parsed it. It does so by following feedparser's own rules
(``feedparser/mixin.py``, ``namespaces/_base.py``) for the elements it supports, and
by reusing feedparser's decoding (``convert_to_utf8``), date parser and URL joining.

It reads only what it can read exactly. Anything else raises ``Unsupported`` and the
caller falls back to feedparser: a document that is not well-formed XML, a DOCTYPE
(entities), ``xml:base``, Atom 0.3, ``type="xhtml"`` or base64 content, markup inside
a text element, an element feedparser would treat specially that is not handled here
(``<image>`` in an item, ``<source>`` with children, contributors, ...), or the
orderings where feedparser turns a second summary into content.

Safety: lxml runs with no network, no DTD loading, no entity resolution and no huge
trees (libxml2's default limits on text and depth stay on); a document with a DOCTYPE
is refused after parsing, before anything is read from it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from feedparser.encodings import convert_to_utf8  # type: ignore[import-untyped]
from lxml import etree  # type: ignore[import-untyped]

from monitor.feeds.fastxml_base import (
    _ATOM10,
    _RSS090,
    _RSS10,
    Unsupported,
    _attrs,
    _content_type,
    _finish,
    _looks_like_html,
    _name,
)
from monitor.feeds.fastxml_entry import _TITLES, _read_entry

__all__ = ["FastFeed", "Unsupported", "parse_fast"]

@dataclass
class FastFeed:
    """What feedparser's result would hold, for the keys parse.py reads."""

    version: str
    #: Feed-level values: title, title_detail, ttl, language.
    feed: dict[str, Any] = field(default_factory=dict)
    entries: list[dict[str, Any]] = field(default_factory=list)
    #: feedparser's bozo_exception from decoding (e.g. a charset override), or None.
    bozo_exception: Exception | None = None


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, recover=False, remove_comments=True, remove_pis=True,
        strip_cdata=True,
    )


# An lxml parser must not be used by two threads at once: one per thread.
_local = threading.local()


def _xml_parser() -> etree.XMLParser:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = _parser()
    return parser


# -- documents -----------------------------------------------------------------------

_ENTRY_NAMES = ("item", "entry")
_BASE_ATTRIBUTE = re.compile(rb"\sbase\s*=", re.IGNORECASE)


def _version(root: etree._Element) -> str:
    name = _name(root)
    if name == "rss":
        version = root.get("version", "")
        versions = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}
        return versions.get(version) or ("rss20" if version.startswith("2.") else "rss")
    for prefix, uri in root.nsmap.items():  # feedparser: the first format namespace seen
        lower = (uri or "").lower()
        if (prefix, lower) == (None, _RSS090):
            return "rss090"
        if lower == _RSS10:
            return "rss10"
        if lower == _ATOM10.lower():
            return "atom10"
    return ""


def _feed_values(root: etree._Element, version: str, language: str | None) -> dict[str, Any]:
    feed: dict[str, Any] = {}
    if language:
        feed["language"] = language.replace("_", "-")
    lang = root.get("{http://www.w3.org/XML/1998/namespace}lang")
    if lang and _name(root) in ("feed", "rss"):
        feed["language"] = lang.replace("_", "-")
    channel = root
    for child in root:
        if isinstance(child.tag, str) and _name(child) == "channel":
            channel = child
            break
    atom = version.startswith("atom")
    for child in channel:
        if not isinstance(child.tag, str):
            continue
        name = _name(child)
        if name in _TITLES and "title" not in feed and len(child) == 0:
            ctype = _content_type(_attrs(child).get("type", "text/plain"))
            value = (child.text or "").strip()
            if not atom and ctype == "text/plain" and _looks_like_html(value):
                ctype = "text/html"
            if value:
                feed["title"], feed["title_detail"] = _finish(value), {"type": ctype}
        elif name in ("ttl", "language", "dc_language") and len(child) == 0:
            feed[name.removeprefix("dc_")] = _finish((child.text or "").strip())
    return feed


def parse_fast(body: bytes, headers: Mapping[str, str]) -> FastFeed:
    """Read a well-formed RSS/Atom document the way feedparser would, or raise
    Unsupported. ``headers`` are lower-cased, as ``parse._feedparser_headers`` gives
    them to feedparser."""
    result: dict[str, Any] = {}
    data = convert_to_utf8(headers, body, result)
    if not result.get("encoding"):
        raise Unsupported("encoding unknown")
    try:
        root = etree.fromstring(data, _xml_parser())
    except etree.XMLSyntaxError as e:
        raise Unsupported(f"not well-formed: {e}") from e
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise Unsupported("DOCTYPE")
    name = _name(root)
    if name not in ("rss", "feed", "rdf_rdf"):
        raise Unsupported(f"root <{name}>")
    version = _version(root)
    if name == "feed" and version != "atom10":
        raise Unsupported("Atom before 1.0")
    # feedparser changes its base URI on xml:base, and on a plain base="" attribute too.
    if b"xml:base" in data or _BASE_ATTRIBUTE.search(data):
        raise Unsupported("xml:base")
    # In document order; an entry inside an entry is refused by the outer one's walk.
    entries = [_read_entry(el, version) for el in root.iter()
               if isinstance(el.tag, str) and _name(el) in _ENTRY_NAMES]
    return FastFeed(
        version=version,
        feed=_feed_values(root, version, headers.get("content-language")),
        entries=entries,
        bozo_exception=result.get("bozo_exception"),
    )
