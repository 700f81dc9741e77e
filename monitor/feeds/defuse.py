"""Feed bytes made safe for feedparser, and parse results made safe to store. Pure.

Each piece answers a crash or an explosion the fuzz tests (tests/fuzz) found in
feedparser or downstream, on documents real servers can send:

* ``defuse``: references to impossible characters, declared encodings whose decoder
  raises, and entity declarations that expand ("billion laughs"), before feedparser;
* ``usable_charset``: the same test for a Content-Type charset;
* ``without_extensions``: for a second try after feedparser's extension handlers fail;
* ``storable_articles``/``storable_text``: no NUL (PostgreSQL text refuses it) and no
  lone surrogate (not UTF-8) in anything a parse returns.
"""

from __future__ import annotations

import codecs
import dataclasses
import re
from typing import Any

from monitor.article import Article

#: The charset parameter of a Content-Type header.
CHARSET_PARAM = re.compile(r"""charset\s*=\s*["']?([^;"'\s]*)""", re.IGNORECASE)
#: Codecs whose decode raises a bare UnicodeError; feedparser catches only
#: UnicodeDecodeError and LookupError around the encodings it tries.
_UNUSABLE_CODECS = frozenset({"idna", "punycode", "undefined"})


def usable_charset(name: str) -> bool:
    """False for a charset name that crashes feedparser (``idna``, a NUL in the name)."""
    try:
        return codecs.lookup(name).name not in _UNUSABLE_CODECS
    except LookupError:
        return True  # unknown: feedparser skips it
    except ValueError:  # "embedded null character"
        return False


#: What no database column can hold: NUL (PostgreSQL text refuses it; a broken feed's
#: ``&#0;`` or raw zero byte reaches the text) and lone surrogates (not UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _storable_text(text: str) -> str:
    if not _UNSTORABLE.search(text):
        return text
    return _UNSTORABLE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", text)


def _storable_value(value: Any) -> Any:
    if isinstance(value, str):
        return _storable_text(value)
    if isinstance(value, tuple) and any(isinstance(v, str) and _UNSTORABLE.search(v)
                                        for v in value):
        return tuple(_storable_text(v) if isinstance(v, str) else v for v in value)
    return value


def storable_text(text: str | None) -> str | None:
    """``text`` with NUL dropped and lone surrogates as U+FFFD (the same object when clean)."""
    return None if text is None else _storable_text(text)


def storable_articles(articles: tuple[Article, ...]) -> tuple[Article, ...]:
    """``articles`` with every string safe to store (the same tuple when all are clean).

    One saved article with a NUL fails the whole batch on PostgreSQL, on every poll of
    the feed; so this is checked once, at the edge, for every parse path."""
    kept: dict[str, Article] = {}
    for a in articles:
        fields = {f.name: getattr(a, f.name) for f in dataclasses.fields(a)}
        fixed = {k: new for k, v in fields.items() if (new := _storable_value(v)) is not v}
        a = dataclasses.replace(a, **fixed) if fixed else a
        kept.setdefault(a.key, a)  # "a\x00" and "a" are now one key: keep the first
    if len(kept) == len(articles) and all(
            new is old for new, old in zip(kept.values(), articles)):
        return articles
    return tuple(kept.values())


#: A character reference (see ``_charref``).
_CHARREF = re.compile(r"&#([xX][0-9a-fA-F]+|[0-9]+);")
#: The encoding named by the XML declaration (as feedparser finds it).
_DECLARED_ENCODING = re.compile(
    r"""((?:\ufeff|\xef\xbb\xbf)?<\?[^\n]*encoding=['"])([^\n]*?)(?=['"][^\n]*\?>)""")
#: A DOCTYPE with its internal subset, quoted values and comments read as such (so a
#: "]>" inside a value does not end it early).
_DOCTYPE = re.compile(
    r"""<!DOCTYPE\b(?:[^\[>"']|"[^"]*"|'[^']*')*"""
    r"""(?:\[(?:[^\]"'<]|"[^"]*"|'[^']*'|<!--.*?-->|<(?:[^>"']|"[^"]*"|'[^']*')*>)*\])?\s*>""",
    re.DOTALL)
#: An entity defined by other entities (the "billion laughs" step), or any parameter
#: entity: no feed needs one, and expat would expand them. (``&#160;`` is fine.)
_NESTED_ENTITY = re.compile(
    r"""<!ENTITY\s+(?:%(?:[^>"']|"[^"]*"|'[^']*')*"""
    r"""|[^\s%>]+\s+(?:"[^"]*(?:&[^#"]|%)[^"]*"|'[^']*(?:&[^#']|%)[^']*'))\s*>""")
#: Byte-order marks and first bytes of a ``<`` in encodings wider than ASCII, by codec.
_WIDE_STARTS = (
    (b"\xff\xfe\x00\x00", 4, "utf-32-le"), (b"\x00\x00\xfe\xff", 4, "utf-32-be"),
    (b"\xff\xfe", 2, "utf-16-le"), (b"\xfe\xff", 2, "utf-16-be"),
    (b"<\x00\x00\x00", 0, "utf-32-le"), (b"\x00\x00\x00<", 0, "utf-32-be"),
    (b"<\x00", 0, "utf-16-le"), (b"\x00<", 0, "utf-16-be"),
)


def _charref(m: re.Match[str]) -> str:
    """A character reference feedparser survives: impossible characters (NUL, a surrogate,
    past U+10FFFF) as U+FFFD, and no number longer than int() reads (4,300 digits)."""
    ref = m[1]
    hexa = ref[0] in "xX"
    digits = (ref[1:] if hexa else ref).lstrip("0")
    value = int(digits or "0", 16 if hexa else 10) if len(digits) <= 7 else -1
    if not 0 < value <= 0x10FFFF or 0xD800 <= value <= 0xDFFF:
        return "&#xFFFD;"
    return m[0] if len(ref) <= 8 else f"&#x{value:X};"


def _defuse_text(text: str) -> str:
    """See ``_defuse``; on the document as text."""
    declared = _DECLARED_ENCODING.match(text)
    if declared and not (declared[2].isascii() and usable_charset(declared[2])):
        text = declared[1] + text[declared.end(2):]
    if "&#" in text:
        text = _CHARREF.sub(_charref, text)
    if "<!DOCTYPE" in text:
        doctype = _DOCTYPE.search(text)
        if doctype and "<!ENTITY" in doctype[0]:
            kept = _NESTED_ENTITY.sub("", doctype[0])
            text = text[: doctype.start()] + kept + text[doctype.end() :]
    return text


def defuse(body: bytes) -> bytes:
    """The document with what breaks feedparser defused, before it sees it.

    * References to impossible characters (``&#xD800;``, ``&#0;``, ``&#99999999;``)
      become ``&#xFFFD;``: feedparser's lenient parser crashes on them (``chr()`` of a
      surrogate or past U+10FFFF), losing every entry of the feed.
    * An XML declaration naming an encoding whose decoder crashes feedparser
      (``idna``, ``undefined``, a name with a NUL or a non-ASCII byte) names none.
    * Entities defined by other entities ("billion laughs") and parameter entities
      are dropped from the DOCTYPE. feedparser drops them only from declarations at
      the start of a line before anything that looks like a tag: on one line, or after
      ``<!-- <a -->``, 909 bytes became 300 kB of titles in 5 s (expat's own limit
      stops bigger ones, after seconds and ~60 MB).
    A document in UTF-16 or UTF-32 is edited as text and written back in its encoding.
    """
    for start, bom, codec in _WIDE_STARTS:
        if body.startswith(start):
            width = 4 if "32" in codec else 2
            end = bom + (len(body) - bom) // width * width
            try:
                text = body[bom:end].decode(codec, "surrogatepass")
            except UnicodeDecodeError:
                return body
            fixed = _defuse_text(text)
            if fixed == text:
                return body
            return body[:bom] + fixed.encode(codec, "surrogatepass") + body[end:]
    if b"&#" not in body and b"<!" not in body and b"encoding=" not in body[:200]:
        return body
    # latin-1 maps bytes to characters one to one: an ASCII-compatible edit, losslessly.
    return _defuse_text(body.decode("latin-1")).encode("latin-1")


#: Namespace prefixes of the elements articles are read from (content:encoded, dc:date,
#: rdf:RDF, atom:link, xhtml:div, itunes:author ...); other prefixed tags are extensions.
_READ_PREFIXES = frozenset({"content", "dc", "dcterms", "atom", "atom10", "a10", "rdf", "rss",
                            "xhtml", "html", "itunes"})
_PREFIXED_TAG = re.compile(rb"</?([A-Za-z_][\w.-]*):[\w.-]+(?:\s[^>]*)?/?>")


def without_extensions(data: bytes) -> bytes:
    """``data`` without the start and end tags of extension elements (media:, cc:, ...)."""
    return _PREFIXED_TAG.sub(
        lambda m: m[0] if m[1].decode("ascii").lower() in _READ_PREFIXES else b"", data)
