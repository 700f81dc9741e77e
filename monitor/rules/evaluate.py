"""Evaluating one compiled query against one article (pure).

``ScanContext`` holds what is known about the article being matched (folded
fields, literals found by the automaton, lazily computed word positions);
the node classes below are what ``compile`` turns a syntax tree into. Each
node answers ``test`` (the verdict) and ``evidence`` (the hits behind it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from monitor.article import FIELDS, Article, Hit
from monitor.rules.normalize import Folded, fold, word_index, word_positions
from monitor.rules.snippet import plain_spacing

#: (field, start, end) in folded coordinates of that field.
Span = tuple[str, int, int]
#: One piece of evidence, ordered as hits are reported (field, start, longest first):
#: (field rank, start, -end, literal label, field), folded coordinates.
HitKey = tuple[int, int, int, str, str]
FIELD_RANK = {f: i for i, f in enumerate(FIELDS)}
#: Regex hits kept per field, so a pattern cannot flood the evidence.
MAX_REGEX_HITS = 50
#: A lone surrogate (not UTF-8): RE2 raised UnicodeEncodeError on text holding one.
_SURROGATE = re.compile("[\ud800-\udfff]")


class ScanContext:
    """Everything known about one article while rules are evaluated."""

    # One per article: slots spare it an instance dict.
    __slots__ = ("_regex", "_words", "article", "plain", "explained", "folded", "found",
                 "hits", "leaf_evidence", "scanned", "snippets", "texts")

    def __init__(self, article: Article) -> None:
        self.article = article
        self.texts: dict[str, str] = {}
        self.folded: dict[str, Folded] = {}
        #: literal id -> spans where it was found.
        self.found: dict[int, list[Span]] = {}
        #: Set once the automata have run (a second scan would repeat every span).
        self.scanned = False
        # Made on first use (NEAR rules, regexes): most articles need neither.
        self._words: dict[str, bytes | list[int]] | None = None
        self._regex: dict[int, list[Span]] | None = None
        #: Snippets by (field, spans), or (field, start, end) for a one-hit snippet.
        self.snippets: dict[tuple[Any, ...], str] = {}
        #: Hits shared by the rules that fire on the same words.
        self.hits: dict[tuple[int, int, int, str, str], Hit] = {}
        #: Evidence per leaf (leaves are shared by the rules that use them).
        self.leaf_evidence: dict[Evaluator, list[HitKey]] = {}
        #: (hits, snippet) per distinct evidence: rules firing on the same words share it.
        self.explained: dict[Any, tuple[tuple[Hit, ...], str]] = {}
        #: Per field: whether its text has no whitespace but single spaces.
        self.plain: dict[str, bool] = {}

    def text(self, name: str) -> str:
        t = self.texts.get(name)
        if t is None:
            t = self.texts[name] = self.article.field_text(name)
        return t

    def fold(self, name: str) -> Folded:
        f = self.folded.get(name)
        if f is None:
            t = self.texts.get(name)  # ``text``, inlined: four fields per article
            if t is None:
                t = self.texts[name] = self.article.field_text(name)
            f = self.folded[name] = fold(t)
        return f

    def plain_spacing(self, name: str) -> bool:
        """True when a field's text has no whitespace but single spaces (see snippet)."""
        p = self.plain.get(name)
        if p is None:
            p = self.plain[name] = plain_spacing(self.text(name))
        return p

    def word_positions(self, name: str) -> bytes | list[int]:
        if self._words is None:
            self._words = {}
        w = self._words.get(name)
        if w is None:
            w = self._words[name] = word_positions(self.fold(name).text)
        return w

    def regex_spans(self, key: int, pattern: Any, fields: Sequence[str]) -> list[Span]:
        """Hits of a compiled RE2 pattern in the folded fields (computed once per leaf)."""
        if self._regex is None:
            self._regex = {}
        spans = self._regex.get(key)
        if spans is None:
            spans = []
            for f in fields:
                text = self.fold(f).text
                if _SURROGATE.search(text):  # RE2 reads UTF-8: one U+FFFD each, same offsets
                    text = _SURROGATE.sub("\ufffd", text)
                for i, m in enumerate(pattern.finditer(text)):
                    if i >= MAX_REGEX_HITS:
                        break
                    if m.end() > m.start():
                        spans.append((f, m.start(), m.end()))
            self._regex[key] = spans
        return spans


class Evaluator(Protocol):
    """A compiled query node: a verdict, and the evidence behind a true verdict."""

    def test(self, ctx: ScanContext) -> bool: ...
    def evidence(self, ctx: ScanContext, out: list[HitKey]) -> None: ...


@dataclass(frozen=True, eq=False, slots=True)
class LiteralLeaf:
    """A term, phrase, wildcard or entity: any of its literal ids in its fields."""

    label: str
    lit_ids: tuple[int, ...]
    fields: frozenset[str]

    def spans(self, ctx: ScanContext) -> list[Span]:
        out: list[Span] = []
        for lid in self.lit_ids:
            occ = ctx.found.get(lid)
            if occ:
                out.extend(s for s in occ if s[0] in self.fields)
        return out

    def test(self, ctx: ScanContext) -> bool:
        found, fields = ctx.found, self.fields
        for lid in self.lit_ids:
            occ = found.get(lid)
            if occ:
                for s in occ:
                    if s[0] in fields:
                        return True
        return False

    def evidence(self, ctx: ScanContext, out: list[HitKey]) -> None:
        out.extend(leaf_evidence(self, ctx))


@dataclass(frozen=True, eq=False, slots=True)
class RegexLeaf:
    """A ``/regex/`` (RE2) run over the folded text of its fields."""

    label: str
    #: A compiled ``re2`` pattern (the package has no type hints).
    pattern: Any
    fields: tuple[str, ...]
    #: Substring literals every match contains (the presearch keys); () if none.
    lit_ids: tuple[int, ...] = ()

    def spans(self, ctx: ScanContext) -> list[Span]:
        return ctx.regex_spans(id(self), self.pattern, self.fields)

    def test(self, ctx: ScanContext) -> bool:
        return bool(self.spans(ctx))

    def evidence(self, ctx: ScanContext, out: list[HitKey]) -> None:
        out.extend(leaf_evidence(self, ctx))


def leaf_evidence(leaf: LiteralLeaf | RegexLeaf, ctx: ScanContext) -> list[HitKey]:
    """The leaf's hit keys in this article (collected once: leaves are shared)."""
    keys = ctx.leaf_evidence.get(leaf)
    if keys is None:
        label, rank = leaf.label, FIELD_RANK.get
        if leaf.__class__ is LiteralLeaf:  # LiteralLeaf.spans, inlined: one list, no calls
            found, fields = ctx.found, leaf.fields
            keys = [(rank(f, 99), s, -e, label, f) for lid in leaf.lit_ids
                    for f, s, e in found.get(lid, ()) if f in fields]
        else:
            keys = [(rank(f, 99), s, -e, label, f) for f, s, e in leaf.spans(ctx)]
        ctx.leaf_evidence[leaf] = keys
    return keys


@dataclass(frozen=True, eq=False, slots=True)
class AnyOf:
    """OR (also a NEAR side, when every child is a leaf)."""

    children: tuple[Evaluator, ...]

    def test(self, ctx: ScanContext) -> bool:
        for c in self.children:
            if c.test(ctx):
                return True
        return False

    def evidence(self, ctx: ScanContext, out: list[HitKey]) -> None:
        for c in self.children:
            c.evidence(ctx, out)


@dataclass(frozen=True, eq=False, slots=True)
class AllOf:
    """AND."""

    children: tuple[Evaluator, ...]

    def test(self, ctx: ScanContext) -> bool:
        for c in self.children:
            if not c.test(ctx):
                return False
        return True

    def evidence(self, ctx: ScanContext, out: list[HitKey]) -> None:
        for c in self.children:
            c.evidence(ctx, out)


@dataclass(frozen=True, eq=False, slots=True)
class NoneOf:
    """NOT: contributes no evidence."""

    child: Evaluator

    def test(self, ctx: ScanContext) -> bool:
        return not self.child.test(ctx)

    def evidence(self, ctx: ScanContext, out: list[HitKey]) -> None:
        return None


def _evidence_of(side: Evaluator, ctx: ScanContext) -> list[HitKey]:
    out: list[HitKey] = []
    side.evidence(ctx, out)
    return out


@dataclass(frozen=True, eq=False, slots=True)
class Nearby:
    """NEAR/n: a left and a right hit in the same field, not overlapping, with at
    most ``distance`` words between them, in either order."""

    left: Evaluator
    right: Evaluator
    distance: int

    def pairs(self, ctx: ScanContext, first_only: bool) -> list[HitKey]:
        lefts, rights = _evidence_of(self.left, ctx), _evidence_of(self.right, ctx)
        if not lefts or not rights:
            return []
        out: list[HitKey] = []
        for left in lefts:
            _, ls, neg_le, _, lf = left
            words = ctx.word_positions(lf)
            a0, a1 = word_index(words, ls), word_index(words, -neg_le - 1)
            for right in rights:
                _, rs, neg_re, _, rf = right
                if rf != lf:
                    continue
                b0, b1 = word_index(words, rs), word_index(words, -neg_re - 1)
                gap = b0 - a1 - 1 if a1 < b0 else a0 - b1 - 1 if b1 < a0 else -1
                if 0 <= gap <= self.distance:
                    if first_only:
                        return [left]
                    out.extend((left, right))
        return out

    def test(self, ctx: ScanContext) -> bool:
        return bool(self.pairs(ctx, first_only=True))

    def evidence(self, ctx: ScanContext, out: list[HitKey]) -> None:
        out.extend(self.pairs(ctx, first_only=False))
