"""Article page -> main text, and whether an item wants its page at all. Pure (no I/O).

The extractor is trafilatura (balanced mode: no comments, tables kept). Measured
against jusText, readability-lxml and whole-page text on the pages under
tests/data/pages (bench/extractors.py, results in bench/RESULTS.md): it keeps every
body paragraph and drops navigation, related-stories blocks, cookie banners,
comments and footers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from monitor.article import Article

#: ``full_text`` modes: always fetch the page, never, or only for teaser items.
FullTextMode = Literal["true", "false", "auto"]
#: ``auto`` fetches the page when the item's own text has fewer words than this.
AUTO_MIN_WORDS = 60
#: An extraction shorter than this is no article body (an error page, a gallery).
MIN_EXTRACTED_WORDS = 20
#: A page marked paywalled fails unless it still carries this many words: publishers
#: often serve the whole text (for search engines) with the paywall flag set.
PAYWALL_MIN_WORDS = 150
HTML_TYPES = ("text/html", "application/xhtml+xml")

_WORD = re.compile(r"\w+")
_HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b",
                         re.IGNORECASE | re.DOTALL)
_LD_JSON = re.compile(
    r"<script[^>]+type\s*=\s*[\"']application/ld\+json[\"'][^>]*>(.*?)</script>",
    re.IGNORECASE | re.DOTALL)


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def wants_full_text(mode: FullTextMode, article: Article) -> bool:
    """Whether to fetch the item's page: never without a link; ``auto`` only when the
    feed gave fewer than AUTO_MIN_WORDS words of text (a teaser)."""
    if mode == "false" or not article.link:
        return False
    if mode == "true":
        return True
    words = word_count(article.summary) + word_count(article.content)
    return words < AUTO_MIN_WORDS


@dataclass(frozen=True)
class Extraction:
    """The main text of a page, or why there is none."""

    text: str = ""
    error: str | None = None


def _charset(headers: Mapping[str, str]) -> str | None:
    m = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", headers.get("content-type", ""), re.IGNORECASE)
    return m.group(1) if m else None


def not_html_reason(body: bytes, headers: Mapping[str, str]) -> str | None:
    """Why a response is not an HTML page we should extract (None: it is one)."""
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in HTML_TYPES:
        return None
    if not content_type and _HTML_START.match(body[:2048]):
        return None
    return f"not HTML: content-type {content_type or 'missing'!r}"


def decode_html(body: bytes, headers: Mapping[str, str]) -> str:
    """The page as text: the HTTP charset, else a <meta charset>, else UTF-8 (bad bytes
    replaced, never an exception)."""
    declared = _charset(headers)
    if declared is None:
        meta = re.search(rb"<meta[^>]+charset\s*=\s*[\"']?([\w.:-]+)", body[:4096], re.IGNORECASE)
        declared = meta.group(1).decode("ascii", "replace") if meta else None
    for encoding in (declared, "utf-8"):
        if encoding:
            try:
                return body.decode(encoding)
            except (LookupError, UnicodeDecodeError):
                continue
    return body.decode("utf-8", errors="replace")


def is_paywalled(html: str) -> bool:
    """True when the page's JSON-LD says it is not free to read (schema.org's
    ``isAccessibleForFree: false``, the markup publishers use for paywalls)."""
    for m in _LD_JSON.finditer(html):
        try:
            data = json.loads(m.group(1))
        except ValueError:
            continue
        if _not_free(data):
            return True
    return False


def _not_free(node: object) -> bool:
    if isinstance(node, list):
        return any(_not_free(n) for n in node)
    if not isinstance(node, dict):
        return False
    flag = node.get("isAccessibleForFree")
    if flag is False or (isinstance(flag, str) and flag.strip().lower() == "false"):
        return True
    return any(_not_free(node[k]) for k in ("@graph", "mainEntity") if k in node)


def extract_main_text(body: bytes, headers: Mapping[str, str], url: str) -> Extraction:
    """The article text of one fetched page, or an error: not HTML, paywalled, or
    nothing that reads like an article body. Never raises."""
    reason = not_html_reason(body, headers)
    if reason:
        return Extraction(error=reason)
    html = decode_html(body, headers)
    try:
        text = _trafilatura(html, url)
    except Exception as e:  # the extractor's bug must not stop the others
        return Extraction(error=f"extraction failed: {type(e).__name__}: {e}"[:300])
    if word_count(text) < PAYWALL_MIN_WORDS and is_paywalled(html):
        return Extraction(error="paywall: the page is marked isAccessibleForFree=false"
                          " and shows only a teaser")
    if word_count(text) < MIN_EXTRACTED_WORDS:
        return Extraction(error=f"extraction empty: fewer than {MIN_EXTRACTED_WORDS} words found")
    return Extraction(text=text)


def _trafilatura(html: str, url: str) -> str:
    import trafilatura  # heavy: imported on first use

    text = trafilatura.extract(html, url=url, include_comments=False, include_tables=True,
                               include_images=False, deduplicate=False)
    return (text or "").strip()
