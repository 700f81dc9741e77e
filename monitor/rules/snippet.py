"""Snippets: a short window of text around the first hit, hits marked «like this»."""

from __future__ import annotations

from typing import Sequence

OPEN, CLOSE, ELLIPSIS = "«", "»", "…"


def _window(text: str, first: tuple[int, int], width: int) -> tuple[int, int]:
    """About ``width`` characters with the first hit in the first third."""
    f_start, f_end = first
    n = len(text)
    slack = width - (f_end - f_start)
    start = f_start - slack // 3 if slack > 0 else f_start
    end = start + width if start + width > f_end else f_end
    if end > n:
        end = n
    if end - width < start:
        start = end - width
    if start < 0:
        start = 0
    # Do not cut words in half at either edge (unless that would drop the hit).
    if start > 0:
        start = text.find(" ", start, f_start) + 1 or start
    if end < n:
        space = text.rfind(" ", f_end, end)
        end = space if space != -1 else end
    return start, end


def make_snippet(text: str, spans: Sequence[tuple[int, int]], width: int = 200) -> str:
    """Return ~``width`` chars of ``text`` around the first span, spans marked «».

    ``spans`` are [start, end) offsets into ``text``; overlapping spans are merged.
    Whitespace runs (line breaks included) become one space; "…" marks a cut.
    """
    if not text:
        return ""
    ordered = sorted((s, e) for s, e in spans if e > s and s < len(text) and e > 0)
    if not ordered:
        return " ".join(text[:width].split()) + (ELLIPSIS if width < len(text) else "")
    start, end = _window(text, ordered[0], width)
    parts: list[str] = [ELLIPSIS] if start > 0 else []
    pos = start
    for s, e in ordered:
        if e <= pos or s >= end:  # outside the window, or inside a merged hit
            continue
        s = max(s, pos)
        e = min(e, end)
        if s == pos and parts and parts[-1] == CLOSE:
            parts.pop()  # overlapping or touching hits become one mark
        else:
            parts.append(text[pos:s])
            parts.append(OPEN)
        parts.append(text[s:e])
        parts.append(CLOSE)
        pos = e
    parts.append(text[pos:end])
    if end < len(text):
        parts.append(ELLIPSIS)
    return " ".join("".join(parts).split())
