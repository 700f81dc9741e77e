"""Snippets: short windows of text around hits, hits marked «like this» (pure).

``make_snippet`` gives the one stored snippet of a match. Alerts show more: the
lead of a text (``lead_end``) and one or more windows around the hits of each
field (``hit_windows``), each cut into ``(text, is_hit)`` pieces (``mark_spans``)
so every output format can mark hits its own way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

OPEN, CLOSE, ELLIPSIS = "«", "»", "…"
#: One piece of marked text: the text and whether it is a hit.
Piece = tuple[str, bool]
#: Whitespace other than single spaces (what ``_tidy`` has to collapse).
_PLAIN_SPACING = re.compile(r"[^\S ]|  ")


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


def _ordered(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    return sorted((s, e) for s, e in spans if e > s and s < len(text) and e > 0)


def mark_spans(
    text: str, spans: Sequence[tuple[int, int]], start: int = 0, end: int | None = None
) -> tuple[Piece, ...]:
    """``text[start:end]`` cut into pieces, hits (the spans, clipped) flagged True.

    Overlapping or touching spans become one hit; whitespace runs (line breaks
    included) become one space; "…" pieces mark a cut at either edge.
    """
    end = len(text) if end is None else min(end, len(text))
    ordered = _ordered(text, spans)
    if plain_spacing(text[start:end]):
        return _mark_plain(text, ordered, start, end)
    return _mark_general(text, ordered, start, end)


def _mark_general(
    text: str, ordered: list[tuple[int, int]], start: int, end: int
) -> tuple[Piece, ...]:
    pieces: list[list[Any]] = [[ELLIPSIS, False]] if start > 0 else []
    pos = start
    for s, e in ordered:
        if e <= pos or s >= end:  # outside the window, or inside a merged hit
            continue
        s, e = max(s, pos), min(e, end)
        if s == pos and pieces and pieces[-1][1]:
            pieces[-1][0] += text[s:e]  # overlapping or touching hits become one mark
        else:
            pieces += [[text[pos:s], False], [text[s:e], True]]
        pos = e
    pieces.append([text[pos:end], False])
    if end < len(text):
        pieces.append([ELLIPSIS, False])
    return _tidy(pieces)


def _mark_plain(
    text: str, ordered: list[tuple[int, int]], start: int, end: int
) -> tuple[Piece, ...]:
    """``mark_spans`` for a window whose only whitespace is single spaces.

    Every piece is then a contiguous slice of the window, so collapsing whitespace
    inside or across pieces changes nothing: only the ends need stripping. This is
    the common case, and snippets are built for every match.
    """
    pieces: list[Piece] = [(ELLIPSIS, False)] if start > 0 else []
    pos = start
    for s, e in ordered:
        if e <= pos or s >= end:
            continue
        if s < pos:
            s = pos
        if e > end:
            e = end
        if s == pos and pieces and pieces[-1][1]:
            pieces[-1] = (pieces[-1][0] + text[s:e], True)
        else:
            if s > pos:
                pieces.append((text[pos:s], False))
            pieces.append((text[s:e], True))
        pos = e
    if end > pos:
        pieces.append((text[pos:end], False))
    if end < len(text):
        pieces.append((ELLIPSIS, False))
    out = [p for p in pieces if p[0]]
    if out:
        out[0] = (out[0][0].lstrip(), out[0][1])
        out[-1] = (out[-1][0].rstrip(), out[-1][1])
        if not (out[0][0] and out[-1][0]):
            return tuple(p for p in out if p[0])
    return tuple(out)


def _joined_plain(text: str, ordered: list[tuple[int, int]], start: int, end: int) -> str:
    """``joined(_mark_plain(text, ordered, start, end))``, built without piece tuples.

    Snippets are made for every match, so this is the hot path. Every piece of a
    plainly spaced window is a non-empty slice; only a text edge (not a "…") can need
    stripping, and a piece stripped to nothing disappears, its marks with it.
    """
    raw: list[str] = []
    hit: list[bool] = []
    pos = start
    for s, e in ordered:
        if e <= pos or s >= end:
            continue
        if s < pos:
            s = pos
        if e > end:
            e = end
        if s == pos and hit and hit[-1]:
            raw[-1] += text[s:e]
        else:
            if s > pos:
                raw.append(text[pos:s])
                hit.append(False)
            raw.append(text[s:e])
            hit.append(True)
        pos = e
    if end > pos:
        raw.append(text[pos:end])
        hit.append(False)
    if raw:
        if start == 0:
            raw[0] = raw[0].lstrip()
        if end >= len(text):
            raw[-1] = raw[-1].rstrip()
    out = [ELLIPSIS] if start > 0 else []
    for piece, is_hit in zip(raw, hit):
        if piece:
            out.append(f"{OPEN}{piece}{CLOSE}" if is_hit else piece)
    if end < len(text):
        out.append(ELLIPSIS)
    return "".join(out)


def _tidy(pieces: list[list[Any]]) -> tuple[Piece, ...]:
    """Whitespace collapsed inside and across pieces, the ends stripped, empties dropped."""
    out: list[Piece] = []
    for raw, hit in pieces:
        # Most pieces (the hits, "…", one side of the window) have nothing to collapse.
        piece = raw if plain_spacing(raw) else collapse_spaces(raw)
        if out and out[-1][0].endswith(" ") and piece.startswith(" "):
            piece = piece[1:]
        if piece:
            out.append((piece, hit))
    if out:
        out[0] = (out[0][0].lstrip(), out[0][1])
        out[-1] = (out[-1][0].rstrip(), out[-1][1])
    return tuple(p for p in out if p[0])


def joined(pieces: Sequence[Piece]) -> str:
    """Pieces as one string with hits marked «like this»."""
    return "".join(f"{OPEN}{t}{CLOSE}" if hit else t for t, hit in pieces)


def collapse_spaces(text: str) -> str:
    """``re.sub(r"\\s+", " ", text)``: every whitespace run made one space, edges included.

    ``str.split`` knows the same whitespace as ``\\s`` and runs in C without the
    regex engine's per-character steps (~50k instructions per article at 10,000 rules).
    """
    inner = " ".join(text.split())
    if not inner:
        return " " if text else ""
    if text[0].isspace():
        inner = " " + inner
    return inner + " " if text[-1].isspace() else inner


def plain_spacing(text: str) -> bool:
    """True when ``text`` has no whitespace but single spaces (nothing to collapse)."""
    if text.isascii():
        # Substring searches in C for the nine other ASCII whitespace characters, one
        # expression (a loop over them was ~45 bytecodes a call): cheaper than a
        # category lookup per character.
        return not ("  " in text or "\n" in text or "\r" in text or "\t" in text
                    or "\x0b" in text or "\x0c" in text or "\x1c" in text
                    or "\x1d" in text or "\x1e" in text or "\x1f" in text)
    # Every whitespace character but the space is unprintable (categories Z and C), so
    # this test in C decides the common case; the regex is slow on long texts.
    if text.isprintable():
        return "  " not in text
    return _PLAIN_SPACING.search(text) is None


def make_snippet(
    text: str, spans: Sequence[tuple[int, int]], width: int = 200, plain: bool = False
) -> str:
    """Return ~``width`` chars of ``text`` around the first span, spans marked «».

    ``spans`` are [start, end) offsets into ``text``; overlapping spans are merged.
    Whitespace runs (line breaks included) become one space; "…" marks a cut.
    ``plain``: the caller knows ``plain_spacing(text)`` (it then need not be checked).
    """
    if not text:
        return ""
    ordered = _ordered(text, spans)
    if not ordered:
        return " ".join(text[:width].split()) + (ELLIPSIS if width < len(text) else "")
    start, end = _window(text, ordered[0], width)
    if plain or plain_spacing(text[start:end]):
        return _joined_plain(text, ordered, start, end)
    return joined(_mark_general(text, ordered, start, end))


def snippet_one(text: str, s: int, e: int, width: int = 200, plain: bool = False) -> str:
    """``make_snippet(text, [(s, e)], width, plain)``: the one-hit case, 88% of matches.

    The window then holds at most three pieces (before, the hit, after), so a plainly
    spaced one is joined directly, with no span list to sort or walk.
    """
    n = len(text)
    if not 0 <= s < e <= n:
        return make_snippet(text, [(s, e)], width, plain)
    start, end = _window(text, (s, e), width)
    before, hit, after = text[start:s], text[s:e], text[e:end]
    if not (plain or plain_spacing(text[start:end])):
        return _one_tidied(before, hit, after, start == 0, end >= n)
    # As ``_joined_plain``: a text edge strips the outer raw piece, which is the hit
    # itself when nothing precedes (follows) it in the window.
    if start == 0:
        if before:
            before = before.lstrip()
        else:
            hit = hit.lstrip()
    if end >= n:
        if after:
            after = after.rstrip()
        else:
            hit = hit.rstrip()
    out = ELLIPSIS + before if start > 0 else before
    if hit:
        out += OPEN + hit + CLOSE
    return out + after + ELLIPSIS if end < n else out + after


def _one_tidied(before: str, hit: str, after: str, at_start: bool, at_end: bool) -> str:
    """``joined(_mark_general(...))`` for one hit, without the piece lists.

    As ``_tidy``: each piece's whitespace runs become one space, and a run that crosses
    a piece boundary stays with the piece before it; then at a text edge the outermost
    piece left is stripped; pieces left empty drop out (a "…" edge is never stripped).
    """
    parts = [p if plain_spacing(p) else collapse_spaces(p) for p in (before, hit, after)]
    if parts[1][:1] == " " and parts[0][-1:] == " ":
        parts[1] = parts[1][1:]
    if parts[2][:1] == " " and (parts[1] or parts[0])[-1:] == " ":
        parts[2] = parts[2][1:]
    kept = [i for i in (0, 1, 2) if parts[i]]
    if kept and at_start:
        parts[kept[0]] = parts[kept[0]].lstrip()
    if kept and at_end:
        parts[kept[-1]] = parts[kept[-1]].rstrip()
    out = parts[0] if at_start else ELLIPSIS + parts[0]
    if parts[1]:
        out += OPEN + parts[1] + CLOSE
    return out + parts[2] if at_end else out + parts[2] + ELLIPSIS


def lead_end(text: str, limit: int = 300) -> int:
    """Where the first ~``limit`` characters of ``text`` end, at a word boundary."""
    if len(text) <= limit:
        return len(text)
    space = max(text.rfind(" ", 0, limit + 1), text.rfind("\n", 0, limit + 1))
    # A first word longer than the limit (a URL, CJK text) is cut where it stands.
    return space if space > limit // 2 else limit


def hit_windows(
    text: str, spans: Sequence[tuple[int, int]], width: int = 200, limit: int = 3
) -> list[tuple[int, int]]:
    """Up to ``limit`` windows of ~``width`` characters that together show the hits.

    Each window starts around the first hit not shown by the windows before it,
    so hits far apart in a long text each get their own excerpt.
    """
    windows: list[tuple[int, int]] = []
    for span in _ordered(text, spans):
        if windows and span[0] < windows[-1][1]:
            continue  # starts inside the previous window (it is clipped there)
        if len(windows) == limit:
            break
        windows.append(_window(text, span, width))
    return windows
