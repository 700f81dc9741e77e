"""Feed bytes -> Articles (feedparser), HTML -> plain text, canonical URLs. Pure.

JSON Feed documents (by content type or a body starting with ``{``) are handed to
``monitor.feeds.jsonfeed``. RSS and Atom are read by the fast path
(``monitor.feeds.fastxml``, lxml) when the document is well-formed and uses only what
it reads exactly; everything else goes to feedparser, the reference: either way an
entry becomes the same Article (tests/integration/test_parse_paths.py).

``parse_feed`` never raises: a document that is not a feed comes back as
``ParseResult.error``; a broken feed whose entries could still be read comes
back with articles and a ``warning``.

feedparser runs with ``sanitize_html=False`` and ``resolve_relative_uris=False``:
we keep only plain text (``html_to_text``) and sanitise at render time, so
rewriting the HTML is wasted work (measured over the 177 shared corpus feeds:
4.7 s with the defaults, 1.9 s without; same entries).
feedparser still applies xml:base to links; a link still relative after that is
resolved against the feed URL here.
"""

from __future__ import annotations

import calendar
import dataclasses
import hashlib
import io
import itertools
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import feedparser  # type: ignore[import-untyped]
from feedparser.encodings import convert_to_utf8  # type: ignore[import-untyped]

from monitor.article import Article, FeedSpec
from monitor.feeds import fastxml
from monitor.feeds.defuse import (
    CHARSET_PARAM,
    defuse,
    storable_articles,
    storable_text,
    usable_charset,
    without_extensions,
)
from monitor.feeds.mojibake import repair

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ParseResult:
    """What one feed document yielded."""

    #: The entries, normalised; duplicates (same key) and empty entries dropped.
    articles: tuple[Article, ...] = ()
    #: Set only when nothing usable was found ("not a feed: looks like an HTML page").
    error: str | None = None
    #: The document was broken but entries were recovered (feedparser's bozo).
    warning: str | None = None
    #: The feed's own title, if any.
    title: str | None = None
    #: RSS ``<ttl>``: how long the feed says it may be cached, in seconds (None: no hint).
    ttl_s: int | None = None
    #: The feed's declared language (``<language>``, ``xml:lang``), as written.
    language: str | None = None


# -- canonical URLs ------------------------------------------------------------------

#: Query parameters that only track the reader; dropped from canonical URLs.
# fmt: off
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
    "igshid", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id",
    "oly_enc_id", "vero_id", "vero_conv", "wickedid", "_ga", "_gl",
})
# fmt: on
TRACKING_PREFIXES = ("utm_",)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(pair: str) -> bool:
    name = pair.split("=", 1)[0].lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def canonical_url(url: str | None) -> str | None:
    """The URL that identifies an article across feeds.

    Drops tracking parameters (utm_*, fbclid, gclid, mc_cid, ...) and the
    fragment, lower-cases scheme and host, drops the default port; other query
    parameters are kept as written, in order. None for None or blank input.
    """
    if url is None or not url.strip():
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:  # e.g. a bad IPv6 literal or port: leave it alone
        return url
    scheme = parts.scheme.lower()
    netloc = parts.netloc
    if host:
        if ":" in host:  # IPv6 literal
            host = f"[{host}]"
        userinfo = netloc.rpartition("@")[0]
        netloc = (userinfo + "@" if userinfo else "") + host
        if port is not None and port != _DEFAULT_PORTS.get(scheme):
            netloc += f":{port}"
    path = parts.path or ("/" if netloc and scheme in _DEFAULT_PORTS else "")
    query = "&".join(p for p in parts.query.split("&") if p and not _is_tracking(p))
    return urlunsplit((scheme, netloc, path, query, ""))


# -- HTML -> text --------------------------------------------------------------------

_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "head", "title", "svg"})
# fmt: off
_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
    "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "thead",
    "tfoot", "tr", "ul", "caption", "details", "summary",
})
# fmt: on
_CELL_TAGS = frozenset({"td", "th"})
#: Whitespace that collapses to one space (and \x1e, so text never fakes _PARA).
_SPACES = re.compile(r"[ \t\r\n\f\v\x1e\u00a0\u2028\u2029]+")
#: Marks a paragraph break (<p>): a blank line, where other blocks give one line break.
_PARA = "\x1e"
_LINE_BREAKS = re.compile(r" *\n[ \n]*")
_PARA_BREAKS = re.compile(r"[ \n]*\x1e[ \n\x1e]*")


class _TextExtractor(HTMLParser):
    """Collects text only: no attributes (alt, title, href) and no script/style."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skip_depth += 1
        elif tag == "br":
            self.pieces.append("\n")
        elif tag in _BLOCK_TAGS:
            self.pieces.append(_PARA if tag == "p" else "\n")
        elif tag in _CELL_TAGS:
            self.pieces.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" or tag == "hr":
            self.pieces.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.pieces.append(_PARA if tag == "p" else "\n")

    def handle_data(self, data: str) -> None:
        if not self.skip_depth:
            # In HTML, line breaks in the source are just spaces.
            self.pieces.append(_SPACES.sub(" ", data))


def html_to_text(html: str) -> str:
    """Plain text from an HTML fragment.

    Tags and attributes dropped (an ``<img alt="...">`` leaves nothing),
    entities decoded, script/style dropped, block elements and ``<br>`` become
    line breaks, runs of spaces collapse to one, at most one blank line.
    """
    if not html:
        return ""
    if "<" not in html and "&" not in html:
        return _tidy(_SPACES.sub(" ", html))
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # HTMLParser is lenient; this is a last resort, never a crash
        log.debug("parse.html_fallback", exc_info=True)
        return _tidy(_SPACES.sub(" ", re.sub(r"<[^>]*>", " ", html)))
    return _tidy("".join(parser.pieces))


def _tidy(text: str) -> str:
    # Nested blocks (<div><ul><li>) give one line break, not a stack of blank lines;
    # a paragraph gives exactly one blank line.
    if "\n" not in text and _PARA not in text:  # one line: nothing to collapse
        return text.strip(" \n")
    text = _LINE_BREAKS.sub("\n", text)
    return _PARA_BREAKS.sub("\n\n", text).strip(" \n")


def _plain_text(value: str, content_type: str | None) -> str:
    """Text of a feedparser value, by its declared type (text/plain is not HTML)."""
    if content_type == "text/plain":
        return _tidy(_SPACES.sub(" ", value))
    return html_to_text(value)


# -- entries -> Articles -------------------------------------------------------------


def _clean(value: Any) -> str | None:
    """A stripped string, or None for missing/blank/non-string values."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def _utc(parsed: Any) -> datetime | None:
    """feedparser's UTC struct_time -> an aware datetime (None when absent or absurd)."""
    if not isinstance(parsed, time.struct_time):
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _raw(entry: Mapping[str, Any], key: str) -> Any:
    # dict.get, not FeedParserDict's: that one answers "updated" with "published"
    # (and warns), which would invent an updated date the feed never gave.
    return dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)


def _absolute(link: str | None, base: str) -> str | None:
    """An entry link made absolute against the feed URL (xml:base is feedparser's job)."""
    if link is None:
        return None
    try:
        return link if urlsplit(link).scheme else urljoin(base, link)
    except ValueError:  # a malformed link stays as written
        return link


def _detail_text(entry: Mapping[str, Any], key: str) -> str:
    detail = _raw(entry, f"{key}_detail") or {}
    value = _raw(entry, key)
    if not isinstance(value, str):
        return ""
    return _plain_text(value, detail.get("type"))


def _content_text(entry: Mapping[str, Any]) -> str:
    texts = []
    for part in _raw(entry, "content") or ():
        value = part.get("value") if isinstance(part, Mapping) else None
        if isinstance(value, str) and value.strip():
            texts.append(_plain_text(value, part.get("type")))
    return "\n\n".join(dict.fromkeys(t for t in texts if t))


def _raw_markup(entry: Mapping[str, Any]) -> str:
    """Summary and content values as the feed wrote them."""
    parts = [_raw(entry, "summary")]
    parts += [p.get("value") for p in _raw(entry, "content") or () if isinstance(p, Mapping)]
    return "\n".join(p for p in parts if isinstance(p, str))


def _summary_text(entry: Mapping[str, Any], content: str) -> str:
    # feedparser copies an Atom entry's <content> into `summary` when the entry
    # has no <summary>; that copy has no summary_detail. Do not count it twice.
    if "summary_detail" not in entry and content:
        return ""
    return _detail_text(entry, "summary")


def _authors(entry: Mapping[str, Any]) -> tuple[str, ...]:
    names = [_clean(a.get("name")) for a in entry.get("authors") or () if isinstance(a, Mapping)]
    names.append(_clean(entry.get("author")))
    return tuple(dict.fromkeys(n for n in names if n))


def _categories(entry: Mapping[str, Any]) -> tuple[str, ...]:
    terms = []
    for tag in entry.get("tags") or ():
        if isinstance(tag, Mapping):
            terms.append(_clean(tag.get("term")) or _clean(tag.get("label")))
    return tuple(dict.fromkeys(t for t in terms if t))


def entry_key(guid: str | None, link: str | None, title: str, date: str, markup: str) -> str:
    """Identity within a feed: guid, else link, else a hash of title+date.

    When title and date are both empty the entry's markup (summary and content
    as written) joins the hash, so distinct untitled, undated entries do not
    collapse into one.
    """
    if guid:
        return guid
    if link:
        return link
    material = f"{title}\n{date}" if (title or date) else f"\n\n{markup}"
    return "sha256:" + hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()


def entry_to_article(entry: Mapping[str, Any], feed: FeedSpec) -> Article | None:
    """One feedparser entry -> Article; None for an entry with nothing in it."""
    guid = _clean(_raw(entry, "id"))
    raw_link = _clean(_raw(entry, "link"))
    link = _absolute(raw_link, feed.url)
    # Judged on the raw markup, not its text: an entry that is only an <img>
    # is still an entry (its text is empty, its markup tells it apart).
    markup = _raw_markup(entry)
    if not (guid or raw_link or _clean(_raw(entry, "title")) or markup.strip()):
        return None  # e.g. the empty shell feedparser leaves after a truncated <item>
    title = _detail_text(entry, "title")
    content = _content_text(entry)
    summary = _summary_text(entry, content)
    date = _clean(_raw(entry, "published")) or _clean(_raw(entry, "updated")) or ""
    return Article(
        feed_url=feed.url,
        feed_name=feed.name,
        feed_tags=feed.tags,
        # The link as written, not resolved: the key must not depend on the feed URL.
        key=entry_key(guid, raw_link, title, date, markup),
        guid=guid,
        link=link,
        canonical_url=canonical_url(link),
        # Double-encoded UTF-8 ("LehrstÃ¼ck") repaired in what is shown and matched;
        # the key above keeps the text as written, so no stored item comes back as new.
        title=repair(title),
        summary=repair(summary),
        content=repair(content),
        authors=tuple(repair(a) for a in _authors(entry)),
        categories=tuple(repair(c) for c in _categories(entry)),
        published=_utc(_raw(entry, "published_parsed")),
        updated=_utc(_raw(entry, "updated_parsed")),
    )


# -- documents -> ParseResult --------------------------------------------------------

_HTML_START = re.compile(
    rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.IGNORECASE | re.DOTALL
)


def _bozo_message(exc: Any) -> str:
    """A short description of feedparser's bozo_exception."""
    if exc is None:
        return "malformed document"
    get_line = getattr(exc, "getLineNumber", None)
    if callable(get_line):  # SAXParseException: say where
        msg = getattr(exc, "getMessage", lambda: str(exc))()
        # No column: feedparser rewrites the XML declaration before parsing.
        return f"XML parse error at line {get_line()}: {msg}"
    return f"{type(exc).__name__}: {exc}"[:300]


def _not_a_feed(body: bytes, headers: Mapping[str, str], parsed: Any) -> str:
    """Why a document that yielded no feed is not one."""
    head = body[:2048].lstrip(b"\xef\xbb\xbf")
    content_type = headers.get("content-type", "").lower()
    if not head.strip():
        return "not a feed: empty body"
    if _HTML_START.match(head) or (content_type.startswith("text/html") and b"<rss" not in head):
        return "not a feed: looks like an HTML page"
    if head.lstrip()[:1] in (b"{", b"["):
        return "not a feed: looks like JSON"
    if parsed.get("bozo"):
        return "not a feed: " + _bozo_message(parsed.get("bozo_exception"))
    return "not a feed: no RSS or Atom elements found"


def _feedparser_headers(headers: Mapping[str, str]) -> dict[str, str]:
    lowered = {k.lower(): v for k, v in headers.items()}
    # feedparser resolves guids against this base ("dup-1" -> "https://host/dup-1"):
    # an entry's key would then change whenever the server or the feed URL does.
    # We resolve links ourselves (entry_to_article) and keep guids as written.
    lowered.pop("content-location", None)
    # The fetcher has already decompressed the body.
    lowered.pop("content-encoding", None)
    content_type = lowered.get("content-type", "")
    charset = CHARSET_PARAM.search(content_type)
    if charset and not usable_charset(charset[1]):
        lowered["content-type"] = content_type.split(";", 1)[0]
    return lowered


#: feedparser bozo exceptions that say nothing is wrong with the entries.
_HARMLESS_BOZO = (feedparser.NonXMLContentType,)


def parse_feed(
    body: bytes, headers: Mapping[str, str], feed: FeedSpec, *, max_items: int | None = None
) -> ParseResult:
    """Parse one fetched document into Articles. Never raises.

    ``headers`` are the HTTP response headers (any case): their charset is
    honoured. Entries whose key repeats an earlier one are dropped (the feed
    listed the same item twice). At most ``max_items`` entries are turned into
    articles (the first ones: feeds list the newest first), with a warning, so a
    feed of 100,000 items costs bounded work per poll.
    """
    from monitor.feeds import jsonfeed  # imports this module: imported here, not on top

    try:
        if jsonfeed.looks_like_json_feed(body, headers):
            return storable(jsonfeed.parse_json_feed(body, headers, feed, max_items=max_items))
        return storable(_parse(body, headers, feed, max_items))
    except Exception as e:  # a parser bug must not stop the other feeds
        log.exception("feed.parse_crashed url=%s", feed.url)
        return ParseResult(error=f"parse failed: {type(e).__name__}: {e}"[:300])


def storable(result: ParseResult) -> ParseResult:
    """``result`` with every string safe to store (see ``defuse.storable_articles``)."""
    changed: dict[str, Any] = {
        name: new for name in ("title", "language", "warning", "error")
        if (new := storable_text(getattr(result, name))) is not getattr(result, name)}
    articles = storable_articles(result.articles)
    if articles is not result.articles:
        changed["articles"] = articles
    return dataclasses.replace(result, **changed) if changed else result


_ENTRY_END = re.compile(rb"</(?:[\w.-]+:)?(?:item|entry)\s*>")
_TAG = re.compile(rb"<(/?)([\w:.-]+)[^>]*?(/?)>")


def _truncate_entries(body: bytes, max_items: int) -> tuple[bytes, int] | None:
    """The document cut after its ``max_items``-th entry, closed again; and the count.

    feedparser builds every entry of a document (about 10 s for 100,000 small
    items), so a huge feed is cut before parsing: after the closing tag of the
    last entry kept, then the elements still open there (the envelope: rss and
    channel, feed, rdf:RDF) are closed, found by scanning the part before the
    first entry. None when the document has no more entries than that, or when
    the entries cannot be found as bytes (e.g. UTF-16): it is then parsed whole,
    still bounded by the size cap.
    """
    ends = [m.end() for m in itertools.islice(_ENTRY_END.finditer(body), max_items + 1)]
    if len(ends) <= max_items:
        return None
    total = max_items + 1 + sum(1 for _ in _ENTRY_END.finditer(body, ends[-1]))
    first = re.search(rb"<(?:[\w.-]+:)?(?:item|entry)[\s>]", body)
    head = body[: first.start()] if first else b""
    stack: list[bytes] = []
    for closing, name, empty in _TAG.findall(head):
        if empty:
            continue
        if not closing:
            stack.append(name)
        elif name in stack:
            del stack[len(stack) - 1 - stack[::-1].index(name) :]
    closers = b"".join(b"</" + name + b">" for name in reversed(stack))
    return body[: ends[max_items - 1]] + closers, total


def _feedparser(body: bytes, headers: dict[str, str]) -> Any:
    # A BytesIO, never the bytes themselves: feedparser would try to open a
    # body such as b"/etc/passwd" as a local file.
    def run(data: bytes, headers: dict[str, str]) -> Any:
        return feedparser.parse(io.BytesIO(data), response_headers=headers,
                                sanitize_html=False, resolve_relative_uris=False)

    try:
        return run(defuse(body), headers)
    except Exception:  # feedparser's lenient parser failed: one more try, below
        log.debug("feed.parse_retry", exc_info=True)
    # Once more, rather than lose every entry: converted to UTF-8 as feedparser does
    # (defuse cannot see a UTF-16 byte-order mark on ASCII bytes), defused, and without
    # the extension elements whose lenient handlers fail on a stray or orphaned end tag
    # (</media:player>, </creativeCommons:license>: KeyError).
    utf8 = convert_to_utf8(headers, body, {})
    media = headers.get("content-type", "application/xml").split(";", 1)[0]
    try:
        return run(without_extensions(defuse(utf8)),
                   {**headers, "content-type": f"{media}; charset=utf-8"})
    except Exception as e:  # its handlers on a broken document, e.g. int(None) in <width>
        raise _FeedparserFailed(f"{type(e).__name__}: {e}") from e


class _FeedparserFailed(Exception):
    """feedparser raised on a document twice: the document's error, recorded on the feed."""


def _ttl_s(channel: Mapping[str, Any]) -> int | None:
    """RSS <ttl> (minutes) in seconds; None when absent, unreadable or not positive."""
    raw = str(channel.get("ttl") or "").strip()
    return int(raw) * 60 if raw.isdigit() and 0 < int(raw) < 10**6 else None


def _parse(
    body: bytes, headers: Mapping[str, str], feed: FeedSpec, max_items: int | None
) -> ParseResult:
    total = None
    cut = _truncate_entries(body, max_items) if max_items is not None else None
    if cut is not None:
        body, total = cut
    try:
        parsed = _read_document(body, _feedparser_headers(headers))
    except _FeedparserFailed as e:
        log.warning("feed.unreadable url=%s error=%s", feed.url, e)
        return ParseResult(error=f"unreadable: the feed parser failed on it: {e}"[:300])
    channel = parsed.get("feed") or {}
    title = repair(_detail_text(channel, "title")) or None
    entries = parsed.get("entries") or []
    if not entries and not parsed.get("version"):
        return ParseResult(error=_not_a_feed(body, headers, parsed), title=title)
    articles: dict[str, Article] = {}
    if max_items is not None and len(entries) > max_items:
        total = len(entries)
        entries = entries[:max_items]
    for entry in entries:
        article = entry_to_article(entry, feed)
        if article is not None and article.key not in articles:
            articles[article.key] = article
    exc = parsed.get("bozo_exception")
    harmless = isinstance(exc, _HARMLESS_BOZO)
    warning = _bozo_message(exc) if parsed.get("bozo") and not harmless else None
    if total is not None:
        note = f"feed has {total} entries; only the first {max_items} were read"
        warning = f"{warning}; {note}" if warning else note
    if warning and not articles:
        # Broken and nothing recovered: as useless as a page that is not a feed.
        return ParseResult(error=f"no readable entries: {warning}", title=title)
    log.debug(
        "feed.parsed url=%s parser=%s entries=%s articles=%s warning=%s",
        feed.url,
        parsed.get("parser"),
        len(entries),
        len(articles),
        warning,
    )
    return ParseResult(
        articles=tuple(articles.values()),
        warning=warning,
        title=title,
        ttl_s=_ttl_s(channel),
        language=_clean(channel.get("language")) or None,
    )


def _read_document(body: bytes, headers: Mapping[str, str]) -> Mapping[str, Any]:
    """feedparser's result for the document, or the fast path's equivalent.

    The fast path (``fastxml``, lxml) is taken when it reads the document without
    doubt: it did not decline, found entries, and found no fewer entries than the
    document has closing item/entry tags. Anything else goes to feedparser.
    """
    try:
        fast = fastxml.parse_fast(body, headers)
    except fastxml.Unsupported as e:
        log.debug("parse.fast_declined reason=%s", e)
    except Exception:  # a fast-path bug must not cost the feed: feedparser reads it
        log.warning("parse.fast_crashed", exc_info=True)
    else:
        if fast.entries and len(fast.entries) >= _count_entry_ends(body):
            return {
                "parser": "fast",
                "version": fast.version,
                "feed": fast.feed,
                "entries": fast.entries,
                "bozo": fast.bozo_exception is not None,
                "bozo_exception": fast.bozo_exception,
            }
    parsed = _feedparser(body, dict(headers))  # defused, retried once (raises _FeedparserFailed)
    parsed["parser"] = "feedparser"
    return parsed  # type: ignore[no-any-return]


def _count_entry_ends(body: bytes) -> int:
    """How many closing item/entry tags the bytes hold (0 for UTF-16/32 documents)."""
    return sum(1 for _ in _ENTRY_END.finditer(body))
