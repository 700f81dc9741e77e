"""Snippets: a short window of text around the first hit, hits marked «like this»."""

from __future__ import annotations

from typing import Sequence

OPEN, CLOSE, ELLIPSIS = "«", "»", "…"


def _merge(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def _window(text: str, first: tuple[int, int], width: int) -> tuple[int, int]:
    """About ``width`` characters with the first hit in the first third."""
    hit_len = first[1] - first[0]
    start = max(0, first[0] - max(0, width - hit_len) // 3)
    end = min(len(text), max(start + width, first[1]))
    start = max(0, min(start, end - width))
    # Do not cut words in half at either edge (unless that would drop the hit).
    if start > 0:
        space = text.find(" ", start, first[0])
        start = space + 1 if space != -1 else start
    if end < len(text):
        space = text.rfind(" ", first[1], end)
        end = space if space != -1 else end
    return start, end


def make_snippet(text: str, spans: Sequence[tuple[int, int]], width: int = 200) -> str:
    """Return ~``width`` chars of ``text`` around the first span, spans marked «».

    ``spans`` are [start, end) offsets into ``text``; overlapping spans are merged.
    Whitespace runs (line breaks included) become one space; "…" marks a cut.
    """
    if not text:
        return ""
    merged = _merge([(max(0, s), min(len(text), e)) for s, e in spans if e > s])
    if not merged:
        end = min(len(text), width)
        return " ".join(text[:end].split()) + (ELLIPSIS if end < len(text) else "")
    start, end = _window(text, merged[0], width)
    parts: list[str] = []
    pos = start
    for s, e in merged:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        parts.extend((text[pos:s], OPEN, text[s:e], CLOSE))
        pos = e
    parts.append(text[pos:end])
    body = " ".join("".join(parts).split())
    return (ELLIPSIS if start > 0 else "") + body + (ELLIPSIS if end < len(text) else "")
