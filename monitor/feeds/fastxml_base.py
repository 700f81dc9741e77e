"""What the fast parse path shares: feedparser's element names and text steps. Pure.

See ``monitor.feeds.fastxml``: these helpers follow feedparser's strict parser
(``feedparser/parsers/strict.py``) and its ``pop()`` (``feedparser/mixin.py``).
"""

from __future__ import annotations

from collections.abc import Callable

from feedparser.html import _cp1252  # type: ignore[import-untyped]
from feedparser.mixin import _FeedParserMixin  # type: ignore[import-untyped]
from feedparser.urls import _urljoin  # type: ignore[import-untyped]
from lxml import etree  # type: ignore[import-untyped]

#: Namespace URI (lower-cased) -> feedparser's prefix ("" for RSS and Atom).
_NAMESPACES: dict[str, str] = {k.lower(): v for k, v in _FeedParserMixin.namespaces.items()}
_ATOM10 = "http://www.w3.org/2005/Atom"
_RSS10 = "http://purl.org/rss/1.0/"
_RSS090 = "http://my.netscape.com/rdf/simple/0.9/"
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_TEXT_TYPES = ("text/plain", "text/html")
_looks_like_html: Callable[[str], bool] = _FeedParserMixin.looks_like_html


class Unsupported(Exception):
    """The document needs feedparser (the reason is the message)."""


# -- names, as feedparser's strict parser computes them ------------------------------


_name_cache: dict[tuple[str, str | None], str] = {}
#: Names of tags whose namespace feedparser knows (or that have none): no prefix needed.
_tag_names: dict[str, str] = {}


def _name(el: etree._Element) -> str:
    """feedparser's handler name for an element: ``dc_creator``, ``pubdate``, ``title``."""
    tag = el.tag
    name = _tag_names.get(tag)
    if name is not None:
        return name
    key = (tag, el.prefix)
    name = _name_cache.get(key)
    if name is None:
        if tag[0] == "{":
            uri, local = tag[1:].split("}", 1)
        else:
            uri, local = "", tag
        lower = uri.lower()
        if "backend.userland.com/rss" in lower:
            lower = "http://backend.userland.com/rss"
        known = lower in _NAMESPACES
        prefix = _NAMESPACES[lower] if known else el.prefix
        name = (prefix.lower() + "_" if prefix else "") + local.lower()
        if len(_name_cache) + len(_tag_names) < 8192:  # bounded: names come from feeds
            if known:  # the prefix the document chose does not matter then
                _tag_names[tag] = name
            else:
                _name_cache[key] = name
    return name


def _attrs(el: etree._Element) -> dict[str, str]:
    """Attributes as feedparser sees them: lower-case names, rel/type values lower-cased."""
    out: dict[str, str] = {}
    for key, value in el.items():
        if key[0] == "{":
            uri, local = key[1:].split("}", 1)
            prefix = _NAMESPACES.get(uri.lower(), "")
            key = f"{prefix}:{local}" if prefix else local
        key = key.lower()
        out[key] = value.lower() if key in ("rel", "type") else value
    return out


_SHORT_TYPES = {"text": "text/plain", "plain": "text/plain", "html": "text/html",
                "xhtml": "application/xhtml+xml"}


def _content_type(value: str) -> str:
    """feedparser's map_content_type."""
    value = value.lower()
    return _SHORT_TYPES.get(value, value)


def _join(uri: str) -> str:
    """feedparser's ``_urljoin("", uri)``: against an empty base only its repair of
    ``scheme:///path`` changes anything, so the common case skips the regex."""
    at = uri.find("://")
    if at < 0 or uri[at + 3 : at + 4] != "/":
        return uri
    return str(_urljoin("", uri))


# -- text values, as feedparser's pop() transforms them ------------------------------


def _finish(output: str) -> str:
    """feedparser's last steps on every text value: the double-encoded UTF-8 repair
    (the document is always UTF-8 by then) and the windows-1252 code points."""
    if output.isascii():  # neither step changes ASCII
        return output
    try:
        output = output.encode("iso-8859-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    return output.translate(_cp1252)


def _own_text(el: etree._Element) -> str:
    """The character data directly inside ``el`` (children's text belongs to them)."""
    parts = [el.text or ""]
    parts += [child.tail or "" for child in el]
    return "".join(parts).strip()


def _leaf_text(el: etree._Element) -> str:
    """The text of an element that must not contain markup (else: Unsupported)."""
    if len(el):
        raise Unsupported(f"markup inside <{el.tag}>")
    return (el.text or "").strip()
