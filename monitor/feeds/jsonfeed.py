"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1) -> Articles. Pure.

feedparser reads no JSON, so this small reader does, on the same terms as
``parse.parse_feed`` for XML: it never raises, every field of the wrong type is
ignored (as if absent) rather than failing the item, an item that is not an
object is skipped, at most ``max_items`` items are read, and a document nested
deeper than any feed needs is refused before it can exhaust the stack.

Mapping to ``Article`` (the same as an RSS/Atom entry's):

====================  ==========================================================
``id``                guid and per-feed key (a number is turned into a string,
                      as the 1.1 spec asks readers to do)
``url``               link (``external_url`` when ``url`` is missing)
``title``             title
``content_html``      content (HTML stripped); ``content_text`` when no HTML
``summary``           summary
``authors``/author    authors (1.1 ``authors``; 1.0 ``author``; feed-level ones
                      when an item has none, as the spec says)
``tags``              categories
``date_published``    published (RFC 3339)
``date_modified``     updated
====================  ==========================================================
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from monitor.article import Article, FeedSpec
from monitor.feeds.mojibake import repair
from monitor.feeds.parse import (
    ParseResult,
    _absolute,
    canonical_url,
    entry_key,
    html_to_text,
)

#: The ``version`` URL prefix every JSON Feed carries.
VERSION_PREFIX = "https://jsonfeed.org/version/"
#: Containers nested deeper than this make the document refused (a feed needs ~4).
MAX_DEPTH = 64
JSON_TYPES = ("application/feed+json", "application/json")

_BOM = b"\xef\xbb\xbf"
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)


def looks_like_json_feed(body: bytes, headers: Mapping[str, str]) -> bool:
    """True when the body should be read as JSON: a JSON content type, or a body
    that starts with ``{`` (servers often send JSON Feeds as text/plain)."""
    content_type = _header(headers, "content-type").split(";")[0].strip().lower()
    if content_type in JSON_TYPES or content_type.endswith("+json"):
        return True
    head = body[:1024]
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with its byte-order mark
        head = head[: len(head) // 2 * 2].decode("utf-16", errors="replace").encode()
    return head.lstrip(_BOM).lstrip()[:1] == b"{"


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return ""


def parse_json_feed(
    body: bytes, headers: Mapping[str, str], feed: FeedSpec, *, max_items: int | None = None
) -> ParseResult:
    """Read a JSON Feed document into Articles. Never raises (errors are data)."""
    text, warning = _decode(body, _header(headers, "content-type"))
    depth = _max_depth(text)
    if depth > MAX_DEPTH:
        return ParseResult(error=f"not a feed: JSON nested deeper than {MAX_DEPTH} levels")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as e:
        return ParseResult(error=f"not a feed: invalid JSON: {e}"[:300])
    if not isinstance(doc, dict):
        return ParseResult(error="not a feed: JSON, but not an object")
    version = doc.get("version")
    if not (isinstance(version, str) and version.startswith(VERSION_PREFIX)):
        return ParseResult(error="not a feed: JSON without a JSON Feed version")
    title = _text(doc.get("title")) or None
    items = doc.get("items")
    if not isinstance(items, list):
        return ParseResult(error="not a feed: JSON Feed without an items list", title=title)
    notes = [warning] if warning else []
    if max_items is not None and len(items) > max_items:
        notes.append(f"feed has {len(items)} entries; only the first {max_items} were read")
        items = items[:max_items]
    feed_authors = _authors(doc)
    articles: dict[str, Article] = {}
    skipped = 0
    for item in items:
        article = item_to_article(item, feed, feed_authors) if isinstance(item, dict) else None
        if article is None:
            skipped += 1
        elif article.key not in articles:
            articles[article.key] = article
    if skipped:
        notes.append(f"{skipped} items skipped: not objects or empty")
    return ParseResult(articles=tuple(articles.values()), warning="; ".join(notes) or None,
                       title=title)


def _decode(body: bytes, content_type: str) -> tuple[str, str | None]:
    """JSON text is UTF-8 (RFC 8259); a declared other charset is honoured, and
    bytes that are neither are replaced rather than losing the whole feed."""
    body = body.removeprefix(_BOM)
    if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return body.decode("utf-16", errors="replace"), None
    declared = _CHARSET.search(content_type)
    if declared and declared.group(1).lower().replace("_", "-") not in ("utf-8", "utf8"):
        try:
            return body.decode(declared.group(1)), None
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return body.decode("utf-8"), None
    except UnicodeDecodeError as e:
        return (body.decode("utf-8", errors="replace"),
                f"not valid UTF-8 (first bad byte at offset {e.start}); bad bytes replaced")


_NESTING = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _max_depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` outside strings (stops once past MAX_DEPTH)."""
    depth = deepest = 0
    for m in _NESTING.finditer(text):
        c = m.group()
        if c in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    break
        elif c in "]}":
            depth -= 1
    return deepest


def _text(value: Any) -> str:
    """A stripped string, or "" for anything that is not a string."""
    return value.strip() if isinstance(value, str) else ""


_LINE_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def plain_text(text: str) -> str:
    """``content_text`` tidied: spaces collapsed, line breaks kept, one blank line at most."""
    lines = (_LINE_SPACES.sub(" ", line).strip() for line in text.replace("\r\n", "\n").split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _authors(obj: Mapping[str, Any]) -> tuple[str, ...]:
    raw = obj.get("authors")
    people = list(raw) if isinstance(raw, list) else []
    if isinstance(obj.get("author"), dict):  # JSON Feed 1.0
        people.append(obj["author"])
    names = (_text(p.get("name")) for p in people if isinstance(p, dict))
    return tuple(dict.fromkeys(n for n in names if n))


def _tags(item: Mapping[str, Any]) -> tuple[str, ...]:
    raw = item.get("tags")
    if not isinstance(raw, list):
        return ()
    return tuple(dict.fromkeys(t for t in (_text(v) for v in raw) if t))


def parse_rfc3339(value: Any) -> datetime | None:
    """An RFC 3339 date -> aware UTC datetime; None when absent, not a string or invalid.
    A date without a zone is read as UTC (the spec requires one; feeds forget it)."""
    text = _text(value)
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _item_id(item: Mapping[str, Any]) -> str | None:
    raw = item.get("id")
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int) or (isinstance(raw, float) and raw.is_integer()):
        return str(int(raw))
    return _text(raw) or None


def item_to_article(
    item: Mapping[str, Any], feed: FeedSpec, feed_authors: tuple[str, ...] = ()
) -> Article | None:
    """One JSON Feed item -> Article; None for an item with nothing to identify or read."""
    guid = _item_id(item)
    raw_link = _text(item.get("url")) or _text(item.get("external_url")) or None
    link = _absolute(raw_link, feed.url)
    html = _text(item.get("content_html"))
    content = html_to_text(html) if html else plain_text(_text(item.get("content_text")))
    title = html_to_text(_text(item.get("title")))
    summary = html_to_text(_text(item.get("summary")))
    if not (guid or raw_link or title or content or summary):
        return None
    published = parse_rfc3339(item.get("date_published"))
    updated = parse_rfc3339(item.get("date_modified"))
    date = _text(item.get("date_published")) or _text(item.get("date_modified"))
    return Article(
        feed.url, feed.name, feed.tags, entry_key(guid, raw_link, title, date, html or content),
        # Double-encoded UTF-8 repaired as in RSS/Atom; the key keeps the text as written.
        guid, link, canonical_url(link), repair(title), summary=repair(summary),
        content=repair(content),
        authors=tuple(repair(a) for a in _authors(item) or feed_authors),
        categories=tuple(repair(t) for t in _tags(item)),
        published=published, updated=updated,
    )

