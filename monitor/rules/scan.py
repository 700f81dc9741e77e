"""Finding every literal of every rule in an article's folded fields (pure).

``scan_field`` runs the Aho-Corasick automaton of all word keys (terms, phrases,
``ban*`` stems, entity aliases) with boundary and case checks after each hit;
``scan_substrings`` finds regex keys anywhere (inside words too). Both fill
``ScanContext.found`` (literal id -> spans). A key is found where it stands as a
whole word: no letter or digit just before or after it, except that CJK
characters never need a boundary (see ``normalize``).

(Tried for large rule sets: splitting the text into words in C and intersecting
with the set of one-word keys instead of running them through the automaton. It
was no faster on the matching bench: the words found still have to be located.)
"""

from __future__ import annotations

from typing import Any

from monitor.rules.evaluate import ScanContext, Span
from monitor.rules.normalize import ASCII_WORD_BYTES, boundary_ok, case_key, word_end

#: Automaton payload per key: (key length, the literal id when the key is one plain
#: literal whose first and last characters are word characters (else -1), first char
#: is a word char, last char is a word char, ((literal id, is prefix, case forms), ...)).
Payload = tuple[int, int, bool, bool, tuple[tuple[int, bool, frozenset[str] | None], ...]]
#: Payload in the substring automaton (regex keys): (key length, (literal id, ...)).
SubstringPayload = tuple[int, tuple[int, ...]]


def scan_field(ctx: ScanContext, automaton: Any, name: str) -> None:
    """Find every literal in one field, checking word boundaries and case forms.

    Each (literal, span) is found once: one key per literal, reported once per end
    position. A key that is one plain literal (most keys) takes a short path.
    """
    folded = ctx.fold(name)
    text = folded.text
    if not text:
        return
    if text.isascii():
        _scan_ascii(ctx, automaton, name, text)
    else:
        _scan_any(ctx, automaton, name, text)


def scan_fields(ctx: ScanContext, automaton: Any, names: tuple[str, ...]) -> None:
    """``scan_field`` for each of ``names``, in one call (empty fields cost a lookup)."""
    for name in names:
        text = ctx.fold(name).text
        if text:
            if text.isascii():
                _scan_ascii(ctx, automaton, name, text)
            else:
                _scan_any(ctx, automaton, name, text)


def _scan_ascii(ctx: ScanContext, automaton: Any, name: str, text: str) -> None:
    """``scan_field`` on ASCII text (most text), where no CJK exemption applies.

    This loop runs for every automaton hit (~27 per article at 10,000 rules), so the
    boundary tests are byte lookups: ``word[i]`` is 1 where ``text[i]`` is a letter or
    digit, and the trailing 0 stands both after the text and before it (index -1).
    """
    word = text.encode("ascii").translate(ASCII_WORD_BYTES) + b"\0"
    found = ctx.found  # ``_add``, inlined
    for end, (klen, lid, first_w, last_w, entries) in automaton.iter(text):
        if lid >= 0:
            # One plain literal with a word character at each end (most hits): whole
            # word or nothing, so one test covers both edges.
            before = end - klen
            if word[before] or word[end + 1]:
                continue
            occ = found.get(lid)
            if occ is None:
                found[lid] = [(name, before + 1, end + 1)]
            else:
                occ.append((name, before + 1, end + 1))
            continue
        start = end - klen + 1
        if first_w and word[start - 1]:
            continue
        # ``_add_entries``, inlined; a ``ban*`` hit ends at the next 0 of the word map
        # (``word_end``: the trailing 0 is there if the word runs to the end).
        whole = not (last_w and word[end + 1])
        for elid, prefix, forms in entries:
            if prefix:
                span = (name, start, end + 1 if whole else word.find(0, end + 1))
            elif not whole:
                continue
            else:
                span = (name, start, end + 1)
                if forms is not None and not _written_as(ctx, name, start, end + 1, forms):
                    continue
            occ = found.get(elid)
            if occ is None:
                found[elid] = [span]
            else:
                occ.append(span)


def _scan_any(ctx: ScanContext, automaton: Any, name: str, text: str) -> None:
    """``scan_field`` on any text: boundaries by ``boundary_ok`` (CJK needs none)."""
    last = len(text) - 1
    found = ctx.found
    for end, (klen, lid, first_w, last_w, entries) in automaton.iter(text):
        start = end - klen + 1
        if (first_w and start and text[start - 1].isalnum()
                and not boundary_ok(text, start - 1, start)):
            continue
        whole = not (last_w and end < last and text[end + 1].isalnum()) or boundary_ok(
            text, end, end + 1)
        if lid < 0:
            _add_entries(ctx, name, text, start, end, whole, entries)
        elif whole:
            _add(found, lid, (name, start, end + 1))


def _add(found: dict[int, list[Span]], lid: int, span: Span) -> None:
    occ = found.get(lid)
    if occ is None:
        found[lid] = [span]
    else:
        occ.append(span)


def _add_entries(ctx: ScanContext, name: str, text: str, start: int, end: int, whole: bool,
                 entries: tuple[tuple[int, bool, frozenset[str] | None], ...]) -> None:
    """The literals of a key that is not one plain literal: ``ban*`` prefixes (the hit
    runs to the end of the word) and capitalised aliases (checked on the original)."""
    found = ctx.found
    for lid, prefix, forms in entries:
        if prefix:
            # A whole-word hit has no tail to extend over (word_end would stop there).
            span = (name, start, end + 1 if whole else word_end(text, end + 1))
        elif not whole:
            continue
        else:
            span = (name, start, end + 1)
            if forms is not None and not _written_as(ctx, name, start, end + 1, forms):
                continue
        _add(found, lid, span)


def _written_as(ctx: ScanContext, name: str, start: int, end: int, forms: frozenset[str]
                ) -> bool:
    """Whether the original text of folded [start, end) is one of an alias's forms."""
    folded = ctx.folded[name]
    o_start, o_end = (start, end) if folded.offsets is None else folded.span(start, end)
    written = ctx.texts[name][o_start:o_end]
    # An ASCII form is its own case_key (no separators, spaced as folded), so text
    # written as a form needs no case_key (test_normalize_ascii).
    return (written in forms and written.isascii()) or case_key(written) in forms


def scan_substrings(ctx: ScanContext, automaton: Any, name: str) -> None:
    """Find the regex keys in one field: anywhere, inside words too.

    A separate automaton, so the word scan above stays as fast as without regexes.
    """
    text = ctx.fold(name).text
    found = ctx.found
    for end, (klen, lids) in automaton.iter(text):
        span = (name, end - klen + 1, end + 1)
        for lid in lids:
            occ = found.get(lid)
            if occ is None:
                found[lid] = [span]
            else:
                occ.append(span)
