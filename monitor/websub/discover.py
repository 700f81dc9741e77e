"""WebSub discovery: a feed's hub and self URL (W3C WebSub, section 4). Pure.

Looked for, in this order (the HTTP header wins, as the spec says):
the ``Link`` response header (``<https://hub>; rel="hub"``), then the document:
``<link rel="hub" href="...">`` / ``<atom:link rel="hub" .../>`` in RSS and Atom,
``hubs[].url`` and ``feed_url`` in JSON Feed. Without a self URL the feed's own URL
is the topic.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

#: Only the head of a document is searched: hub links sit before the first entry.
_HEAD_BYTES = 64 * 1024
_LINK_TAG = re.compile(rb"<(?:[\w.-]+:)?link\b([^>]*)>", re.IGNORECASE)
_ATTR = re.compile(rb"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_HEADER_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^,;]+(?:=(?:\"[^\"]*\"|[^,;]*))?)*)")
_ENTRY = re.compile(rb"<(?:[\w.-]+:)?(?:item|entry)[\s>]")


@dataclass(frozen=True)
class Discovery:
    """Where a feed says it is pushed from."""

    #: The hub URL (None: the feed names no hub).
    hub: str | None
    #: The topic URL to subscribe to (the feed's ``rel="self"``, else its URL).
    topic: str


def _http_url(url: str | None, base: str) -> str | None:
    if not url or not url.strip():
        return None
    absolute = urljoin(base, url.strip())
    return absolute if urlsplit(absolute).scheme in ("http", "https") else None


def _from_header(value: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for m in _HEADER_LINK.finditer(value):
        params = m.group(2)
        rel = re.search(r'rel\s*=\s*(?:"([^"]*)"|([^;,\s]+))', params, re.IGNORECASE)
        for name in ((rel.group(1) or rel.group(2)).lower().split() if rel else ()):
            found.setdefault(name, m.group(1))
    return found


def _from_xml(body: bytes) -> dict[str, str]:
    head = body[:_HEAD_BYTES]
    entry = _ENTRY.search(head)
    if entry:
        head = head[: entry.start()]
    found: dict[str, str] = {}
    for m in _LINK_TAG.finditer(head):
        attrs = {a.lower(): (v1 or v2) for a, v1, v2 in _ATTR.findall(m.group(1))}
        href = attrs.get(b"href")
        for name in attrs.get(b"rel", b"").lower().split():
            if href:
                found.setdefault(name.decode("ascii", "replace"),
                                 href.decode("utf-8", "replace"))
    return found


def _from_json(body: bytes) -> dict[str, str]:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return {}
    if not isinstance(doc, dict):
        return {}
    found: dict[str, str] = {}
    hubs = doc.get("hubs")
    for hub in hubs if isinstance(hubs, list) else ():
        if isinstance(hub, dict) and isinstance(hub.get("url"), str):
            kind = hub.get("type")
            if not isinstance(kind, str) or kind.lower() in ("websub", "pubsubhubbub"):
                found.setdefault("hub", hub["url"])
    if isinstance(doc.get("feed_url"), str):
        found["self"] = doc["feed_url"]
    return found


def discover(body: bytes, headers: Mapping[str, str], feed_url: str) -> Discovery:
    """The hub and topic of one fetched feed document."""
    links = _from_header(headers.get("link", ""))
    start = body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    document = _from_json(body) if start[:1] == b"{" else _from_xml(body)
    hub = _http_url(links.get("hub") or document.get("hub"), feed_url)
    topic = _http_url(links.get("self") or document.get("self"), feed_url)
    return Discovery(hub=hub, topic=topic or feed_url)
