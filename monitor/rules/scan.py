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

from monitor.rules.evaluate import ScanContext
from monitor.rules.normalize import boundary_ok, case_key, word_end

#: Automaton payload per key: (key length, first char is a word char, last char is a
#: word char, the literal id when the key is one plain whole-word literal (else -1),
#: ((literal id, is prefix, case forms), ...)).
Payload = tuple[int, bool, bool, int, tuple[tuple[int, bool, frozenset[str] | None], ...]]
#: Payload in the substring automaton (regex keys): (key length, (literal id, ...)).
SubstringPayload = tuple[int, tuple[int, ...]]


def scan_field(ctx: ScanContext, automaton: Any, name: str) -> None:
    """Find every literal in one field, checking word boundaries and case forms.

    The boundary test is inlined (this loop runs for every automaton hit), and a
    key that is one plain literal (most keys) takes a short path; CJK exemptions
    only apply when the text is not plain ASCII. Each (literal, span) is found once:
    one key per literal, reported once per end position.
    """
    folded = ctx.fold(name)
    text = folded.text
    if not text:
        return
    plain = text.isascii()
    last = len(text) - 1
    found = ctx.found
    for end, (klen, first_w, last_w, lid, entries) in automaton.iter(text):
        start = end - klen + 1
        if first_w and start and text[start - 1].isalnum():
            if plain or not boundary_ok(text, start - 1, start):
                continue
        whole = not (last_w and end < last and text[end + 1].isalnum()) or (
            not plain and boundary_ok(text, end, end + 1))
        if lid >= 0:
            if whole:
                occ = found.get(lid)
                if occ is None:
                    found[lid] = [(name, start, end + 1)]
                else:
                    occ.append((name, start, end + 1))
            continue
        for lid, prefix, forms in entries:
            if prefix:
                # A whole-word hit has no tail to extend over (word_end would stop there).
                span = (name, start, end + 1 if whole else word_end(text, end + 1))
            elif not whole:
                continue
            else:
                span = (name, start, end + 1)
                if forms is not None:
                    o_start, o_end = folded.span(start, end + 1)
                    if case_key(ctx.text(name)[o_start:o_end]) not in forms:
                        continue
            occ = found.get(lid)
            if occ is None:
                found[lid] = [span]
            else:
                occ.append(span)


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
