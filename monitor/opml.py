"""OPML subscription lists in and out. Pure (bytes in, bytes/str out), lenient on input.

Real-world OPML is often not well-formed XML: many exports put a raw ``&`` in
attributes (``xmlUrl="https://x/rss?a=1&b=2"``), some carry a BOM, comments or an
undeclared encoding. So the reader is not an XML parser: it escapes stray ``&``
first, then walks the tags with ``html.parser`` (which never gives up on junk and
never expands DTD entities, so no billion laughs and no external files).

An outline with an ``xmlUrl`` is a feed; the outlines around it (folders) become
its tags, as does an OPML 2.0 ``category`` attribute. Outlines of other kinds
(``type="link"`` with a ``url``) are not feeds and are ignored.

Some exports are broken beyond that (raw quotes and ``<a href="...">`` inside a
``description``), which hides the ``xmlUrl`` after them from any tag parser; a
last pass finds such ``xmlUrl`` values by pattern and files them in the folder
of the feed parsed just before them.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit
from xml.sax.saxutils import quoteattr

#: A "&" that does not start a character or entity reference: escape it.
_STRAY_AMP = re.compile(r"&(?!(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);)")
_DECLARED = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_SPACES = re.compile(r"\s+")
_XML_URL = re.compile(r"""\bxmlUrl\s*=\s*(["'])(.*?)\1""", re.IGNORECASE)
_LABEL = re.compile(r"""\b(?:title|text)\s*=\s*(["'])(.*?)\1""", re.IGNORECASE)


@dataclass(frozen=True)
class OpmlFeed:
    """One feed outline."""

    url: str
    #: The outline's title (or text); None when it has neither.
    title: str | None = None
    #: Folder outlines around it (outermost first), then its own categories.
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class OpmlDocument:
    """What an OPML file holds."""

    title: str | None = None
    #: Every feed outline, in document order (duplicates kept: callers decide).
    feeds: tuple[OpmlFeed, ...] = ()
    #: ``xmlUrl`` values that are not http(s) URLs, skipped.
    skipped: tuple[str, ...] = field(default=())


def decode(data: bytes) -> str:
    """The document as text: BOM, then the declared encoding, then UTF-8 (lenient)."""
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16"),
                       (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return data.decode(codec, errors="replace").lstrip("\ufeff")
    declared = _DECLARED.match(data)
    if declared:
        try:
            return data.decode(declared.group(1).decode("ascii"), errors="replace")
        except LookupError:
            pass  # an unknown encoding name: try UTF-8
    return data.decode("utf-8", errors="replace")


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        #: For each open outline: the folder name it contributes (None: not a folder).
        self.stack: list[str | None] = []
        self.feeds: list[OpmlFeed] = []
        #: The line each feed was found on (for recovering hidden ones).
        self.lines: list[int] = []
        self.skipped: list[str] = []
        self.title: str | None = None
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title" and not self.stack:
            self._in_title = True
        elif tag == "outline":
            self.stack.append(self._outline(dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "outline":
            self._outline(dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "outline" and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self._in_title and data.strip():
            self.title = _clean(data)

    def _outline(self, attrs: dict[str, str | None]) -> str | None:
        """Record a feed outline; return the folder name of a non-feed outline."""
        label = _clean(attrs.get("title") or attrs.get("text") or "")
        url = (attrs.get("xmlurl") or "").strip()
        if not url:
            return label or None
        if not _is_http(url):
            self.skipped.append(url)
            return None
        folders = [f for f in self.stack if f]
        tags = list(dict.fromkeys(folders + _categories(attrs.get("category"))))
        self.feeds.append(OpmlFeed(url=url, title=label or None, tags=tuple(tags)))
        self.lines.append(self.getpos()[0])
        return None


def _is_http(url: str) -> bool:
    """An http(s) URL; not one that urlsplit refuses ("http://[::1/": bad IPv6 brackets)."""
    try:
        return urlsplit(url).scheme.lower() in ("http", "https")
    except ValueError:
        return False


def feed_key(url: str) -> str:
    """Two outlines are one feed when their keys are equal: scheme and host in any case,
    with or without a trailing slash. The path and query keep their case, as servers
    do: ``/Feed`` and ``/feed`` may be two feeds."""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.rstrip("/")
    return parts._replace(scheme=parts.scheme.lower(),
                          netloc=parts.netloc.lower()).geturl().rstrip("/")


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _categories(value: str | None) -> list[str]:
    """OPML 2.0 ``category="/News/World,/Tech"``: each path's last part, as a tag.

    A tag holding a comma or slash is written percent-encoded (``/EU%2C trade``, see
    write_opml): the two separators of the attribute cannot be in a part otherwise."""
    found = []
    for path in (value or "").split(","):
        last = _clean(_unescape_part(path.strip().strip("/").rsplit("/", 1)[-1]))
        if last:
            found.append(last)
    return found


def read_opml(data: bytes) -> OpmlDocument:
    """Every feed in an OPML document, leniently (never raises on bad markup)."""
    text = _STRAY_AMP.sub("&amp;", decode(data))
    reader = _Reader()
    reader.feed(text)
    reader.close()
    feeds = _recover(text, reader)
    return OpmlDocument(title=reader.title, feeds=tuple(feeds), skipped=tuple(reader.skipped))


def _recover(text: str, reader: _Reader) -> list[OpmlFeed]:
    """The parsed feeds plus any xmlUrl the tag parser could not see, in document order."""
    seen = {f.url for f in reader.feeds} | set(reader.skipped)
    found = list(zip(reader.lines, range(len(reader.feeds)), reader.feeds))
    for m in _XML_URL.finditer(text):
        url = html.unescape(m.group(2)).strip()
        if not url or url in seen or not _is_http(url):
            continue
        seen.add(url)
        line = text.count("\n", 0, m.start()) + 1
        tag_start = text.rfind("<outline", 0, m.start())
        label = _LABEL.search(text, max(tag_start, 0), m.start())
        before = [f for ln, _, f in found if ln <= line]
        title = _clean(html.unescape(label.group(2))) if label else ""
        feed = OpmlFeed(url=url, title=title or None, tags=before[-1].tags if before else ())
        found.append((line, len(found), feed))
    return [f for _, _, f in sorted(found, key=lambda t: (t[0], t[1]))]


@dataclass(frozen=True)
class ExportFeed:
    """A feed to write out: its URL, display name and tags."""

    url: str
    name: str | None = None
    tags: tuple[str, ...] = ()


def write_opml(feeds: Iterable[ExportFeed], title: str = "news-monitor feeds") -> str:
    """An OPML 2.0 document: feeds in a folder named after their first tag; every
    tag also in ``category`` so nothing is lost on a round trip through read_opml."""
    folders: dict[str | None, list[ExportFeed]] = {}
    for f in feeds:
        folders.setdefault(f.tags[0] if f.tags else None, []).append(f)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<opml version="2.0">',
             f"  <head><title>{_text(title)}</title></head>", "  <body>"]
    for folder, members in folders.items():
        indent = "    "
        if folder is not None:
            lines.append(f"    <outline text={quoteattr(folder)} title={quoteattr(folder)}>")
            indent = "      "
        lines.extend(indent + _feed_outline(f) for f in members)
        if folder is not None:
            lines.append("    </outline>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


def _feed_outline(f: ExportFeed) -> str:
    name = f.name or f.url
    attrs = [("type", "rss"), ("text", name), ("title", name), ("xmlUrl", f.url)]
    if len(f.tags) > 1:
        attrs.append(("category", ",".join("/" + _escape_part(t) for t in f.tags)))
    return "<outline " + " ".join(f"{k}={quoteattr(v)}" for k, v in attrs) + "/>"


#: What a category part cannot hold as is: its escape character and two separators.
_PART_ESCAPES = {"%": "%25", ",": "%2C", "/": "%2F"}
_PART_ESCAPED = re.compile(r"%(25|2C|2F)", re.IGNORECASE)


def _escape_part(tag: str) -> str:
    return "".join(_PART_ESCAPES.get(c, c) for c in tag)


def _unescape_part(part: str) -> str:
    return _PART_ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), part)


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
