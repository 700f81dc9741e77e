"""The fast parse path's entries: one RSS item or Atom entry -> feedparser's mapping. Pure.

Follows feedparser's handlers (``feedparser/namespaces/_base.py``, ``dc.py``,
``itunes.py``, ``mediarss.py``) for the elements it reads; raises ``Unsupported`` for
the rest (see ``monitor.feeds.fastxml``).
"""

from __future__ import annotations

import re
from typing import Any

from feedparser.datetimes import _parse_date  # type: ignore[import-untyped]
from feedparser.mixin import _FeedParserMixin  # type: ignore[import-untyped]
from lxml import etree  # type: ignore[import-untyped]

from monitor.feeds.fastxml_base import (
    _HTML_TYPES,
    _TEXT_TYPES,
    Unsupported,
    _attrs,
    _content_type,
    _finish,
    _join,
    _leaf_text,
    _looks_like_html,
    _name,
    _own_text,
)

# -- entries -------------------------------------------------------------------------

_TITLES = frozenset({"title", "dc_title"})
_SUMMARIES = {  # element -> its default content type (all are stored as "summary")
    "description": "text/html", "dc_description": "text/html",
    "summary": "text/plain", "itunes_summary": "text/plain",
}
_CONTENTS = {"content_encoded": "text/html", "fullitem": "text/html", "content": "text/plain"}
_PUBLISHED = frozenset({"pubdate", "published", "issued", "dcterms_issued"})
_UPDATED = frozenset({"updated", "modified", "dc_date", "dcterms_modified", "lastbuilddate"})
_AUTHORS = frozenset({"author", "dc_creator", "dc_author", "itunes_author", "managingeditor"})
_CATEGORIES = frozenset({"category", "dc_subject", "keywords", "itunes_category",
                         "media_category"})
_KEYWORD_LISTS = {"itunes_keywords": "http://www.itunes.com/", "media_keywords": None}
#: Elements feedparser handles without touching any key an Article is built from.
# fmt: off
_HARMLESS = frozenset({
    "enclosure", "cloud", "media_content", "media_thumbnail", "media_player",
    "media_rating", "media_restriction", "media_license", "media_credit", "media_group",
    "itunes_image", "itunes_explicit", "itunes_block", "itunes_subtitle", "subtitle",
    "tagline", "dc_publisher", "webmaster", "dc_rights", "rights", "copyright",
    "dc_language", "language", "created", "dcterms_created", "expirationdate",
    "dcterms_valid", "generator", "info", "feedburner_browserfriendly", "width", "height",
    "georss_point", "georss_line", "georss_polygon", "georss_box", "georss_where",
})
# fmt: on
#: Every name feedparser has a handler for; one not handled here means Unsupported.
_HANDLED_BY_FEEDPARSER = frozenset(
    n.split("_", 2)[2] for n in dir(_FeedParserMixin) if n.startswith(("_start_", "_end_"))
)
#: Keys an Article is read from: an unknown element of that name would overwrite them.
_ENTRY_KEYS = frozenset({
    "id", "link", "title", "title_detail", "summary", "summary_detail", "content",
    "authors", "author", "author_detail", "tags", "published", "published_parsed",
    "updated", "updated_parsed", "guidislink", "links",
})


_ENTITY_LIKE = re.compile("&([A-Za-z0-9_]+);")


class _Entry:
    """One entry being built the way feedparser's handlers build it."""

    def __init__(self, version: str) -> None:
        self.atom = version.startswith("atom")
        self.data: dict[str, Any] = {}
        self.has_content = False
        #: feedparser's title_depth: a non-empty title locks out later ones...
        self.title_locked = False
        #: ...and a title stored at some depth is replaced only from that depth or above.
        self.title_depth: int | None = None

    def text(self, el: etree._Element, element: str, default_type: str | None) -> tuple[str, str]:
        """(value, type) of a text element, through feedparser's pop() steps; the type
        only for content elements (``default_type`` given)."""
        attrs = _attrs(el) if el.items() else {}
        if "mode" in attrs:
            raise Unsupported("content mode attribute (Atom 0.3)")
        ctype = "" if default_type is None else _content_type(attrs.get("type", default_type))
        if default_type is not None and ctype not in _TEXT_TYPES:
            raise Unsupported(f"content type {ctype}")
        output = _leaf_text(el)
        if element == "link" or (element == "id" and attrs.get("ispermalink", "true") == "true"):
            output = _join(output)
        if default_type is None:
            return _finish(output), ""
        if not self.atom and ctype == "text/plain" and _looks_like_html(output):
            ctype = "text/html"  # RSS "plain text" is often HTML: feedparser guesses
        return _finish(output), ctype

    def add(self, el: etree._Element, name: str, depth: int = 1) -> None:
        d = self.data
        if name in _TITLES:
            value, ctype = self.text(el, "title", "text/plain")
            self.title(value, ctype, depth)
            self.title_locked = self.title_locked or bool(value)
        elif name in _SUMMARIES:
            if "summary" in d and not self.has_content:
                raise Unsupported("a second summary (feedparser makes it content)")
            value, ctype = self.text(el, "summary", _SUMMARIES[name])
            d["summary"], d["summary_detail"] = value, {"type": ctype}
        elif name in _CONTENTS:
            if "src" in el.attrib:
                raise Unsupported("out-of-line content")
            self.has_content = True
            value, ctype = self.text(el, "content", _CONTENTS[name])
            d.setdefault("content", []).append({"type": ctype, "value": value})
            d.setdefault("summary", value)  # feedparser's copy (text and HTML types)
        elif name in ("guid", "id"):
            value, _ = self.text(el, "id", None)
            d["id"] = value
            if _attrs(el).get("ispermalink", "true") == "true":
                d.setdefault("link", value)
        elif name == "link":
            self.link(el)
        elif name in _PUBLISHED or name in _UPDATED:
            key = "published" if name in _PUBLISHED else "updated"
            value, _ = self.text(el, key, None)
            d[key], d[key + "_parsed"] = value, _parse_date(value)
        elif name in _AUTHORS:
            self.author(el)
        elif name in _CATEGORIES:
            self.category(el, name)
        elif name in _KEYWORD_LISTS:
            if el.attrib:
                raise Unsupported(f"<{name}> with attributes")
            value, _ = self.text(el, name, None)
            for term in value.split(","):
                if term.strip():
                    self.add_tag(term.strip(), _KEYWORD_LISTS[name], None)
        elif name == "source":
            if len(el):
                raise Unsupported("<source> with children")
            self.title_locked = False  # feedparser resets its title depth here
        elif name == "media_title":  # a title that does not lock out later ones
            value, ctype = self.text(el, "title", "text/plain")
            self.title(value, ctype, depth)
        elif name == "image":
            if len(el):
                raise Unsupported("<image> with children in an entry")
            self.title_locked = False  # as for <source>
        elif name in _ENTRY_KEYS or (name in _HANDLED_BY_FEEDPARSER and name not in _HARMLESS):
            raise Unsupported(f"<{name}> in an entry")

    def title(self, value: str, ctype: str, depth: int) -> None:
        if self.title_locked:
            return
        if self.title_depth is None or depth <= self.title_depth:
            self.data["title"] = value
            self.title_depth = depth
        # feedparser replaces the detail (the type) even when it keeps the value.
        self.data["title_detail"] = {"type": ctype}

    def link(self, el: etree._Element) -> None:
        attrs = _attrs(el)
        rel = attrs.setdefault("rel", "alternate")
        attrs.setdefault("type", "application/atom+xml" if rel == "self" else "text/html")
        href = attrs.get("url", attrs.get("uri", attrs.get("href")))
        if href:  # feedparser's _enforce_href
            attrs["href"] = href
        if "href" in attrs:
            if rel == "alternate" and _content_type(attrs["type"]) in _HTML_TYPES:
                self.data["link"] = _join(attrs["href"])
            return
        value, _ = self.text(el, "link", None)
        # feedparser's repair of "?a=1&amp;b=2" read as entity references.
        if "&" in value:
            value = _ENTITY_LIKE.sub(r"&\g<1>", value.replace("&amp;", "&"))
        self.data["link"] = value

    def author(self, el: etree._Element) -> None:
        d = self.data
        authors = d.setdefault("authors", [])
        authors.append({})
        for child in el:
            name = _name(child)
            if name in ("name", "email", "uri", "url", "homepage", "itunes_name",
                        "itunes_email"):
                key = {"uri": "href", "url": "href", "homepage": "href",
                       "itunes_name": "name", "itunes_email": "email"}.get(name, name)
                value = _leaf_text(child)
                if key == "href":  # pushed as text: resolved and repaired like one
                    value = _finish(_join(value))
                # name and email are not: feedparser returns them as written.
                # feedparser's _save_author: detail, sync, then the list entry.
                _sync_author(d)
                authors[-1][key] = value
            elif name in _ENTRY_KEYS or name in _HANDLED_BY_FEEDPARSER or any(
                _name(d) in _HANDLED_BY_FEEDPARSER for d in child.iterdescendants()
            ):  # a <name> deeper down would still be the author's, in feedparser
                raise Unsupported(f"<{name}> in an author")
            # Elements feedparser has no handler for (gd:image) are kept apart.
        d["author"] = _finish(_own_text(el))
        _sync_author(d)

    def category(self, el: etree._Element, name: str) -> None:
        attrs = _attrs(el)
        if name == "itunes_category":
            if len(el):
                raise Unsupported("nested itunes:category")
            self.add_tag(attrs.get("text"), "http://www.itunes.com/", None)
        else:
            if name == "media_category":
                attrs.setdefault("scheme", "http://search.yahoo.com/mrss/category_schema")
            scheme = attrs.get("scheme", attrs.get("domain"))
            self.add_tag(attrs.get("term"), scheme, attrs.get("label"))
        value, _ = self.text(el, "category", None)
        if not value:
            return
        tags = self.data["tags"]
        if tags and not tags[-1]["term"]:
            tags[-1]["term"] = value
        else:
            self.add_tag(value, None, None)

    def add_tag(self, term: str | None, scheme: str | None, label: str | None) -> None:
        tags = self.data.setdefault("tags", [])
        if not term and not scheme and not label:
            return
        tag = {"term": term, "scheme": scheme, "label": label}
        if tag not in tags:
            tags.append(tag)


_EMAIL = re.compile(
    r"""(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"""
)


def _sync_author(d: dict[str, Any]) -> None:
    """feedparser's ``_sync_author_detail``: the author string from the last author's
    details, or the details (name, email) from the author string."""
    detail = d.get("authors", [{}])[-1]
    if detail:
        name, email = detail.get("name"), detail.get("email")
        if name and email:
            d["author"] = f"{name} ({email})"
        elif name:
            d["author"] = name
        elif email:
            d["author"] = email
        return
    author, email = d.get("author"), None
    if not author:
        return
    match = _EMAIL.search(author)
    if match:
        email = match.group(0)
        author = author.replace(email, "").replace("()", "").replace("<>", "")
        author = author.replace("&lt;&gt;", "").strip()
        if author and author[0] == "(":
            author = author[1:]
        if author and author[-1] == ")":
            author = author[:-1]
        author = author.strip()
    if author:
        detail["name"] = author
    if email:
        detail["email"] = email


def _walk(entry: _Entry, el: etree._Element, depth: int) -> None:
    for child in el:
        if not isinstance(child.tag, str):
            continue
        name = _name(child)
        if depth == 1 or name == "media_title":
            entry.add(child, name, depth)
            if name in _AUTHORS or name in _CATEGORIES or name in _SUMMARIES:
                continue  # children checked (or refused) by the handler
        elif name in _ENTRY_KEYS or (name in _HANDLED_BY_FEEDPARSER and name not in _HARMLESS):
            raise Unsupported(f"<{name}> nested in an entry")
        if len(child):
            _walk(entry, child, depth + 1)


def _read_entry(el: etree._Element, version: str) -> dict[str, Any]:
    attrs = _attrs(el)
    if "xml:base" in attrs or "lastmod" in attrs or "href" in attrs:
        raise Unsupported("item attributes feedparser reads")
    entry = _Entry(version)
    about = attrs.get("rdf:about")
    if about:
        entry.data["id"] = about
    _walk(entry, el, 1)
    return entry.data
