"""What an alert shows, before any format escapes it (pure).

An alert must say why it fired: the title with its hits marked, the lead of
the article (the first ~300 characters of its summary, else of its content)
with hits marked, and an excerpt around the hits of every other field, so
every hit that fired is visible. An excerpt that would only repeat the title or
the lead is left out. Dates: the entry's published time, else its updated time;
an undated entry shows when it was seen, labelled so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from monitor.article import Hit
from monitor.rules.snippet import Piece, hit_windows, lead_end, mark_spans

_WS_RE = re.compile(r"\s+")
_HIT_RE = re.compile(r"«([^«»]*)»")
_TITLE_MAX = 250
#: Characters of the summary every alert shows.
LEAD_CHARS = 300
#: Characters of a short field (author, category, url...) shown around its hits.
_SHORT_CHARS = 120
#: How each field's excerpt is introduced.
FIELD_LABELS = {
    "summary": "In the summary", "content": "In the article",
    "fulltext": "In the full article (from its page)", "author": "Author",
    "category": "Category", "url": "Link", "feed": "Feed", "tag": "Feed tag",
    "snippet": "Snippet",  # the stored snippet, for a match recorded without hits
}


@dataclass(frozen=True)
class Excerpt:
    """Text around the hits of one field."""

    #: The field (see monitor.article.FIELDS).
    field: str
    pieces: tuple[Piece, ...]

    @property
    def label(self) -> str:
        return FIELD_LABELS.get(self.field, self.field)


@dataclass(frozen=True)
class AlertView:
    """The plain values one alerted article shows."""

    rule: str
    #: The article title, hits marked.
    title: tuple[Piece, ...]
    link: str | None
    feed: str
    #: "published 2026-11-26 13:45 UTC", "updated …", or "seen …" for an undated entry.
    when: str
    terms: tuple[str, ...]
    #: The first ~300 characters of the summary (else the content), hits marked.
    lead: tuple[Piece, ...]
    #: One or more per field with hits not already shown in the title or the lead.
    excerpts: tuple[Excerpt, ...]

    @property
    def title_text(self) -> str:
        return "".join(t for t, _ in self.title)


def build_view(
    rule: str, texts: Mapping[str, str], hits: Sequence[Hit], *, link: str | None, feed: str,
    when: str, terms: Sequence[str], snippet: str = "",
) -> AlertView:
    """The view of one article; ``texts`` maps field names to the text hits point into.

    Excerpts are added field by field (summary, content, then the others) while they
    show a term not yet visible, so every term that fired appears marked once without
    repeating what the title or the lead already show. ``snippet`` (the stored one) is
    shown only when there are no hits at all.
    """
    by_field: dict[str, list[Hit]] = {}
    for h in hits:
        by_field.setdefault(h.field, []).append(h)
    title_hits = by_field.pop("title", [])
    title = mark_spans(texts.get("title", ""), _spans(title_hits), 0, _TITLE_MAX)
    lead_field = "summary" if texts.get("summary", "").strip() else "content"
    lead_text = texts.get(lead_field, "")
    cut = lead_end(lead_text, LEAD_CHARS)
    lead = mark_spans(lead_text, _spans(by_field.get(lead_field, [])), 0, cut)
    if _plain(lead) == _plain(title):
        lead = ()  # a summary that only repeats the title
    seen = {h.term for h in title_hits}
    seen |= {h.term for h in by_field.get(lead_field, []) if lead and h.start < cut}
    excerpts: list[Excerpt] = []
    for field in sorted(by_field, key=lambda f: _FIELD_ORDER.get(f, 99)):
        shown = cut if field == lead_field and lead else 0
        excerpts += _excerpts(field, texts.get(field), by_field[field], shown, seen)
    if not hits and snippet:
        excerpts = [Excerpt("snippet", split_snippet(one_line(snippet)))]
    return AlertView(rule=rule, title=title or (("(untitled)", False),), link=link,
                     feed=feed, when=when, terms=tuple(terms), lead=lead,
                     excerpts=tuple(excerpts))


_FIELD_ORDER = {f: i for i, f in enumerate(FIELD_LABELS)}


def _spans(hits: Sequence[Hit]) -> list[tuple[int, int]]:
    return [(h.start, h.end) for h in hits]


def _excerpts(
    field: str, text: str | None, hits: list[Hit], shown: int, seen: set[str]
) -> list[Excerpt]:
    """Excerpts of one field's hits past its first ``shown`` characters that show a new term.

    ``seen`` (the terms already visible) is updated.
    """
    hits = [h for h in hits if h.end > shown]
    if text is None:  # the field's text is not at hand (a page pruned): the hit words alone
        new = [h for h in hits if h.term not in seen]
        seen.update(h.term for h in new)
        words = dict.fromkeys(h.text for h in new)
        pieces: list[Piece] = []
        for word in words:
            pieces += [(", ", False), (word, True)] if pieces else [(word, True)]
        return [Excerpt(field, tuple(pieces))] if pieces else []
    width = 200 if field in ("summary", "content", "fulltext") else _SHORT_CHARS
    out = []
    for start, end in hit_windows(text, _spans(hits), width):
        inside = {h.term for h in hits if h.start < end and h.end > start}
        if inside <= seen:
            continue  # only repeats terms already shown
        seen |= inside
        out.append(Excerpt(field, mark_spans(text, _spans(hits), max(start, shown), end)))
    return out


def _plain(pieces: Sequence[Piece]) -> str:
    return "".join(t for t, _ in pieces)


def one_line(text: str) -> str:
    """Whitespace (newlines included) collapsed, capped to a subject-friendly length."""
    text = _WS_RE.sub(" ", text or "").strip()
    return text if len(text) <= _TITLE_MAX else text[: _TITLE_MAX - 1] + "…"


def format_time(when: datetime | None) -> str:
    """A readable UTC time ("2026-11-26 13:45 UTC"); naive datetimes are taken as UTC."""
    if when is None:
        return "unknown"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def date_label(published: datetime | None, updated: datetime | None) -> tuple[str, datetime | None]:
    """Which date an entry shows: ("published", t), else ("updated", t), else ("seen", None)."""
    if published is not None:
        return "published", published
    if updated is not None:
        return "updated", updated
    return "seen", None


def describe_when(published: datetime | None, updated: datetime | None, seen: datetime) -> str:
    """"published …", else "updated …", else "seen …": the fetch time is never "published"."""
    label, when = date_label(published, updated)
    return f"{label} {format_time(when or seen)}"


def split_snippet(snippet: str) -> tuple[Piece, ...]:
    """``"a «b» c"`` -> ``(("a ", False), ("b", True), (" c", False))``."""
    pieces: list[Piece] = []
    pos = 0
    for m in _HIT_RE.finditer(snippet or ""):
        if m.start() > pos:
            pieces.append((snippet[pos : m.start()], False))
        pieces.append((m.group(1), True))
        pos = m.end()
    if pos < len(snippet or ""):
        pieces.append((snippet[pos:], False))
    return tuple(pieces)
