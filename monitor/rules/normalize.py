"""Text folding shared by query literals and article text, with offsets back.

Matching runs over a *folded* copy of each field: NFKC, casefolded, combining
marks removed ("Zürich" -> "zurich"), typographic apostrophes made ASCII, and
every run of whitespace, hyphens and dashes collapsed to one space (so the
phrase "partner-only" is the key ``partner only`` and matches "Partner–Only").
Query literals go through the very same function, so both sides always agree.

``Folded.span`` maps a [start, end) range of the folded text back to the
original text, which is what evidence (``Hit.start``/``Hit.end``) reports.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass

#: Scripts written without spaces between words: matched by substring.
CJK_RANGES = (
    "\u0e00-\u0e7f"  # Thai
    "\u3040-\u30ff\u31f0-\u31ff"  # Hiragana, Katakana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs
    "\U00020000-\U0002ffff"
)
_CJK_RE = re.compile(f"[{CJK_RANGES}]")
#: A word: one CJK character, or a run of other Unicode letters/digits.
WORD_RE = re.compile(f"[{CJK_RANGES}]|(?:(?![{CJK_RANGES}])[^\\W_])+")
_WORD_TAIL_RE = re.compile(f"(?:(?![{CJK_RANGES}])[^\\W_])*")
#: The same for ASCII text, where no CJK character can occur: no lookahead per
#: character (the Unicode form cost ~20k instructions per article on NEAR rules).
_ASCII_WORD_TAIL_RE = re.compile("[a-zA-Z0-9]*")
#: Byte -> 1 for an ASCII letter or digit (``str.isalnum`` on ASCII), else 0.
ASCII_WORD_BYTES = bytes(1 if i < 128 and chr(i).isalnum() else 0 for i in range(256))

_DASHES = "-\u00ad\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_APOSTROPHES = "\u2019\u2018\u02bc\u02b9\u2032\uff07\u00b4"
#: Invisible characters that must not split or join words.
_DROP = "\u200c\u200d\u2060\ufeff"
_ASCII_SEP = str.maketrans({c: " " for c in "\t\n\r\f\v\x1c\x1d\x1e\x1f-"})
#: ``lower()`` then ``_ASCII_SEP`` as one byte table: ``str.translate`` looks every
#: character up in a dict (~35k instructions per article), ``bytes.translate`` indexes.
_ASCII_FOLD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ\t\n\r\f\v\x1c\x1d\x1e\x1f-",
                              b"abcdefghijklmnopqrstuvwxyz          ")
_SPACE_RUN = re.compile(" {2,}")
_FOLD_CACHE: dict[str, str] = {}
_CASE_CACHE: dict[str, str] = {}


def _strip_marks(s: str) -> str:
    """Remove combining marks, then recompose (keeps Hangul syllables whole)."""
    decomposed = unicodedata.normalize("NFD", s)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", kept)


def _fold_char(c: str, casefold: bool) -> str:
    if c in _DROP or c == "\u00ad":
        return ""
    if c.isspace() or c in _DASHES or c == "\u200b":
        return " "
    if c in _APOSTROPHES:
        return "'"
    n = unicodedata.normalize("NFKC", c)
    if casefold:
        n = n.casefold()
    n = _strip_marks(n)
    # NFKC can itself produce a dash or space (e.g. fullwidth forms).
    return "".join(" " if (x.isspace() or x in _DASHES) else x for x in n)


@dataclass(frozen=True)
class Folded:
    """A folded field text plus the map back to the original text."""

    #: The folded text that the automaton and regexes scan.
    text: str
    #: offsets[i] is the original index of folded char i; None means identity.
    offsets: list[int] | None
    #: Length of the original text.
    original_length: int

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a folded [start, end) range to the original text."""
        if self.offsets is None:
            return start, end
        offs = self.offsets
        if start >= len(offs):  # an empty range at the end (a text may fold to nothing)
            return self.original_length, self.original_length
        o_start = offs[start]
        # Take the start of the next folded char so dropped combining marks
        # after the hit stay inside it ("cafe" + U+0301).
        o_end = offs[end] if end < len(offs) else self.original_length
        return o_start, max(o_end, offs[end - 1] + 1 if end > start else o_start)


_EMPTY = Folded("", None, 0)
_new = object.__new__


def _folded(text: str, offsets: list[int] | None, original_length: int) -> Folded:
    """``Folded(text, offsets, original_length)`` without the frozen ``__init__`` (one
    ``object.__setattr__`` per field; two Folded per article): filled as
    ``evidence._hit_of`` fills a Hit, equal to the constructor's (test_normalize_ascii)."""
    folded: Folded = _new(Folded)
    attrs = folded.__dict__
    attrs["text"] = text
    attrs["offsets"] = offsets
    attrs["original_length"] = original_length
    return folded


def _collapse(text: str, offsets: list[int] | None, n_orig: int) -> Folded:
    if "  " not in text:
        return _folded(text, offsets, n_orig)
    base = offsets if offsets is not None else range(len(text))
    out: list[str] = []
    new_offs: list[int] = []
    prev = 0
    # Runs of spaces found by str.find: the regex ``" {2,}"`` tried a match at every
    # character (~15k instructions per article, a fifth of AG News summaries have one).
    i = text.find("  ")
    while i != -1:
        out.append(text[prev : i + 1])
        new_offs.extend(base[prev : i + 1])
        prev = i + 2
        while text[prev : prev + 1] == " ":
            prev += 1
        i = text.find("  ", prev)
    out.append(text[prev:])
    new_offs.extend(base[prev:])
    return _folded("".join(out), new_offs, n_orig)


def fold(text: str) -> Folded:
    """Fold a field text for matching, keeping the offset map to the original."""
    if not text:
        return _EMPTY  # half the fields of a typical item (content, full text)
    if text.isascii():
        # Fast path: ASCII lowercasing and separator mapping keep the length.
        folded = text.encode("ascii").translate(_ASCII_FOLD).decode("ascii")
        return _collapse(folded, None, len(text))
    return _fold_chars(text)


def _fold_chars(text: str) -> Folded:
    """``fold`` character by character (any text; the reference for ASCII too)."""
    out: list[str] = []
    offsets: list[int] = []
    cache = _FOLD_CACHE
    for i, c in enumerate(text):
        m = cache.get(c)
        if m is None:
            m = cache[c] = _fold_char(c, True)
        if m:
            out.append(m)
            offsets.extend([i] * len(m))
    return _collapse("".join(out), offsets, len(text))


def fold_term(text: str) -> str:
    """Fold a query literal exactly as article text is folded (edges trimmed)."""
    return fold(text).text.strip(" ")


def case_key(text: str) -> str:
    """Fold everything except letter case: used to check capitalised aliases."""
    if text.isascii():
        # What _fold_char does to ASCII: separators and hyphens become spaces.
        text = text.translate(_ASCII_SEP)
        return (_SPACE_RUN.sub(" ", text) if "  " in text else text).strip(" ")
    return _case_key_chars(text)


def _case_key_chars(text: str) -> str:
    """``case_key`` character by character (any text; the reference for ASCII too)."""
    parts = []
    for c in text:
        m = _CASE_CACHE.get(c)
        if m is None:
            m = _CASE_CACHE[c] = _fold_char(c, False)
        parts.append(m)
    return _SPACE_RUN.sub(" ", "".join(parts)).strip(" ")


def is_word_char(c: str) -> bool:
    """Unicode letters and digits are word characters; all else separates words."""
    return c.isalnum()


def is_cjk(c: str) -> bool:
    """True for characters of scripts written without spaces (matched by substring)."""
    return _CJK_RE.match(c) is not None


def boundary_ok(text: str, before: int, after: int) -> bool:
    """True when text[before] and text[after] are not two halves of one word.

    Out-of-range indices count as a boundary. CJK characters never need one.
    """
    if before < 0 or after >= len(text):
        return True
    a, b = text[before], text[after]
    if not (a.isalnum() and b.isalnum()):
        return True
    return is_cjk(a) or is_cjk(b)


def word_end(text: str, pos: int) -> int:
    """End of the word that continues at ``pos`` (used to extend ``ban*`` hits)."""
    m = (_ASCII_WORD_TAIL_RE if text.isascii() else _WORD_TAIL_RE).match(text, pos)
    return m.end() if m else pos


def word_positions(text: str) -> bytes | list[int]:
    """What ``word_index`` needs to number the words of a folded text (NEAR distances).

    ASCII text: a 0 then one byte per character, 1 for a letter or digit, so a word
    starts at each ``\\0\\1`` and ``bytes.count`` numbers them in C (a regex made a
    match object per word). Other text: the start offsets of its words.
    """
    if text.isascii():
        return b"\0" + text.encode("ascii").translate(ASCII_WORD_BYTES)
    return [m.start() for m in WORD_RE.finditer(text)]


def word_index(positions: bytes | list[int], pos: int) -> int:
    """Index of the word containing (or last starting before) ``pos``."""
    if isinstance(positions, bytes):
        return positions.count(b"\0\1", 0, pos + 2) - 1
    return bisect_right(positions, pos) - 1
