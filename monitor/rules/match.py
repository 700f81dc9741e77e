"""Matching an article against a compiled RuleSet, with evidence (pure).

One pass per field: the shared Aho-Corasick automaton finds every literal of
every rule in the folded text; whole-word and capitalisation checks follow each
automaton hit. The literals found select the candidate rules (a presearch, as in
Lucene Monitor); only candidates, plus rules with no literal to index, are
evaluated. Evaluation is a walk over small node objects built by ``compile``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from monitor.article import FIELDS, Article, Hit, Match
from monitor.rules.evaluate import Evaluator, ScanContext, Span
from monitor.rules.normalize import boundary_ok, case_key, word_end
from monitor.rules.snippet import make_snippet

log = logging.getLogger(__name__)
_FIELD_ORDER = {f: i for i, f in enumerate(FIELDS)}


@dataclass(frozen=True)
class CompiledRule:
    """One rule ready to evaluate: its tree and its scope."""

    name: str
    root: Evaluator
    #: Feed names or URLs the rule is limited to (empty: all feeds).
    feeds: frozenset[str]
    #: Feed tags the rule is limited to (empty: all feeds).
    tags: frozenset[str]
    #: Languages the rule is limited to (empty: any; an unknown language is outside).
    languages: frozenset[str] = frozenset()

    def in_scope(self, article: Article) -> bool:
        feeds = self.feeds
        if feeds and article.feed_name not in feeds and article.feed_url not in feeds:
            return False
        if self.languages and article.language not in self.languages:
            return False
        return not self.tags or any(t in self.tags for t in article.feed_tags)


#: Automaton payload per key: (key length, first char is a word char, last char is a
#: word char, ((literal id, is prefix, case forms), ...)).
Payload = tuple[int, bool, bool, tuple[tuple[int, bool, frozenset[str] | None], ...]]
#: Payload in the substring automaton (regex keys): (key length, (literal id, ...)).
SubstringPayload = tuple[int, tuple[int, ...]]


def scan_field(ctx: ScanContext, automaton: Any, name: str) -> None:
    """Find every literal in one field, checking word boundaries and case forms.

    The boundary test is inlined (this loop runs for every automaton hit); CJK
    exemptions only apply when the text is not plain ASCII.
    """
    folded = ctx.fold(name)
    text = folded.text
    if not text:
        return
    plain = text.isascii()
    last = len(text) - 1
    found = ctx.found
    for end, (klen, first_w, last_w, entries) in automaton.iter(text):
        start = end - klen + 1
        if first_w and start and text[start - 1].isalnum():
            if plain or not boundary_ok(text, start - 1, start):
                continue
        whole = not (last_w and end < last and text[end + 1].isalnum()) or (
            not plain and boundary_ok(text, end, end + 1))
        for lid, prefix, forms in entries:
            if prefix:
                span = (name, start, word_end(text, end + 1))
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
            elif span not in occ:
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


def build_hits(ctx: ScanContext, labelled: Iterable[tuple[str, Span]]) -> tuple[Hit, ...]:
    """Turn folded-coordinate evidence into Hits on the original text, in reading order.

    A hit covered by a longer hit of the same term is dropped ("China" inside
    "mainland China" for @China).
    """
    keyed = sorted({(_FIELD_ORDER.get(f, 99), s, -e, label, f) for label, (f, s, e) in labelled})
    reach: dict[tuple[str, str], int] = {}
    hits: list[Hit] = []
    cache = ctx.hits
    for key in keyed:
        _, s, neg_e, label, f = key
        if reach.get((label, f), -1) >= -neg_e:
            continue
        reach[(label, f)] = -neg_e
        hit = cache.get(key)
        if hit is None:
            o_start, o_end = ctx.folded[f].span(s, -neg_e)
            hit = cache[key] = Hit(label, f, o_start, o_end, ctx.texts[f][o_start:o_end])
        hits.append(hit)
    return tuple(hits)


def explain(ctx: ScanContext, rule: CompiledRule) -> Match:
    """The Match for a rule known to match: its hits and a snippet."""
    labelled: list[tuple[str, Span]] = []
    rule.root.evidence(ctx, labelled)
    evidence = frozenset(labelled)
    done = ctx.explained.get(evidence)
    if done is None:
        done = ctx.explained[evidence] = _hits_and_snippet(ctx, evidence)
    return Match(rule.name, done[0], done[1])


def _hits_and_snippet(
    ctx: ScanContext, labelled: Iterable[tuple[str, Span]]
) -> tuple[tuple[Hit, ...], str]:
    hits = build_hits(ctx, labelled)
    snippet = ""
    if hits:
        f = hits[0].field
        spans = tuple((h.start, h.end) for h in hits if h.field == f)
        # Rules firing on the same words share one snippet.
        snippet = ctx.snippets.get((f, spans), "")
        if not snippet:
            snippet = ctx.snippets[(f, spans)] = make_snippet(ctx.text(f), spans)
    return hits, snippet


class RuleSet:
    """All compiled rules behind one automaton. Immutable once built; rebuild to reload."""

    def __init__(
        self,
        rules: Sequence[CompiledRule],
        automaton: Any,
        triggers: dict[int, tuple[int, ...]],
        unindexed: Sequence[int],
        scan_fields: Sequence[str],
        substrings: Any = None,
    ) -> None:
        self._rules = tuple(rules)
        self._automaton = automaton
        #: Regex keys (see ``scan_substrings``); None when no regex has one.
        self._substrings = substrings
        self._triggers = triggers
        self._unindexed = tuple(unindexed)
        self._scan_fields = tuple(scan_fields)
        self._scoped = tuple(bool(r.feeds or r.tags or r.languages) for r in self._rules)
        self._needs_language = "lang" in self._scan_fields or any(r.languages for r in self._rules)

    @property
    def rule_names(self) -> tuple[str, ...]:
        """Names of all rules, in configuration order."""
        return tuple(r.name for r in self._rules)

    @property
    def needs_language(self) -> bool:
        """Whether a rule reads an article's language (``languages:`` or ``lang:``), so
        ingest must detect it even when story grouping is off."""
        return self._needs_language

    @property
    def unindexed_rules(self) -> tuple[str, ...]:
        """Rules evaluated for every article: their positive side has no literal term."""
        return tuple(self._rules[i].name for i in self._unindexed)

    def unindexed_warning(self) -> str | None:
        """For the operator, once at start: which rules cost time on every article."""
        names = self.unindexed_rules
        if not names:
            return None
        return (f"rules.unindexed rules={','.join(names)}: these rules have no plain text to"
                " look for (e.g. only /[0-9]{4}/), so they are evaluated on every article,"
                " which slows matching; add a word they need (ban AND /.../) to index them")

    def __len__(self) -> int:
        return len(self._rules)

    def candidates(self, ctx: ScanContext) -> list[int]:
        """Scan the article once and return the indices of the rules worth evaluating."""
        if self._automaton is not None:
            for name in self._scan_fields:
                scan_field(ctx, self._automaton, name)
        if self._substrings is not None:
            for name in self._scan_fields:
                scan_substrings(ctx, self._substrings, name)
        triggers = self._triggers
        chosen: set[int] = set(self._unindexed)
        for lid in ctx.found:
            rules = triggers.get(lid)
            if rules:
                chosen.update(rules)
        return sorted(chosen)

    def match(self, article: Article) -> list[Match]:
        """Every rule that matches the article, in rule order, with its evidence."""
        ctx = ScanContext(article)
        out: list[Match] = []
        rules, scoped = self._rules, self._scoped
        for i in self.candidates(ctx):
            rule = rules[i]
            if scoped[i] and not rule.in_scope(article):
                continue
            if rule.root.test(ctx):
                out.append(explain(ctx, rule))
        return out
