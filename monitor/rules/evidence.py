"""Evidence for a rule known to match: Hits on the original text and a snippet (pure).

Verdicts come first (``evaluate``); this runs only for the rules that matched, and
everything in it is shared through the article's ``ScanContext``: a leaf's evidence
is collected once (leaves are shared between rules), each distinct set of hit keys
becomes Hits and a snippet once (rules firing on the same words share them), each
folded span is mapped back to the original text once, and a field's spacing is
checked once so snippets of plainly spaced text skip whitespace collapsing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from monitor.article import Hit, Match
from monitor.rules.evaluate import (
    AllOf,
    AnyOf,
    Evaluator,
    HitKey,
    LiteralLeaf,
    NoneOf,
    RegexLeaf,
    ScanContext,
    leaf_evidence,
)
from monitor.rules.snippet import make_snippet, snippet_one

if TYPE_CHECKING:
    from monitor.rules.match import CompiledRule


def positive_leaves(root: Evaluator) -> tuple[Evaluator, ...] | None:
    """The leaves whose evidence, put together, is ``root``'s (None: a NEAR decides it).

    AND and OR report the evidence of every child, NOT reports none; so for a tree of
    those, a match's evidence is the union of its positive leaves' (shared) evidence,
    gathered without walking the tree.
    """
    out: list[Evaluator] = []
    todo = [root]
    while todo:
        ev = todo.pop()
        if isinstance(ev, (LiteralLeaf, RegexLeaf)):
            out.append(ev)
        elif isinstance(ev, (AllOf, AnyOf)):
            todo.extend(reversed(ev.children))
        elif not isinstance(ev, NoneOf):
            return None
    return tuple(dict.fromkeys(out))


def match_for(ctx: ScanContext, rule: str, root: Evaluator,
              leaves: tuple[Evaluator, ...] | None = None) -> Match:
    """The Match of rule ``rule`` (evaluator ``root``), known to match: hits and snippet.

    ``leaves``: ``positive_leaves(root)``, when the caller has it at hand.
    """
    done = ctx.explained.get(root)
    if done is None:
        done = ctx.explained[root] = _root_explained(ctx, root, leaves)
    return _match(rule, done[0], done[1])


def matches_for(ctx: ScanContext, rules: Sequence[CompiledRule],
                leaves: Sequence[tuple[Evaluator, ...] | None], indices: Iterable[int]
                ) -> list[Match]:
    """``match_for`` of each rule in ``indices`` (all known to match), in one loop.

    A rule set calls this once per article: ~6 matches per article at 10,000 rules,
    where the calls and lookups of ``match_for`` per match were a fifth of its cost.
    Rules with the same root (a shared leaf) share its Hits and snippet.
    """
    explained, found = ctx.explained, ctx.found
    out: list[Match] = []
    for i in indices:
        rule = rules[i]
        root = rule.root
        done = explained.get(root)
        if done is None:
            if root.__class__ is LiteralLeaf:
                lids = root.lit_ids
                spans = found.get(lids[0], ()) if len(lids) == 1 else ()
                if len(spans) == 1 and spans[0][0] in root.fields:
                    # _leaf_explained's one-hit case, inlined
                    f, s, e = spans[0]
                    done = explained[root] = _one_hit(ctx, root.label, f, s, e)
                else:
                    done = explained[root] = _leaf_explained(ctx, root)
            else:
                done = explained[root] = _root_explained(ctx, root, leaves[i])
        match: Match = _new(Match)
        attrs = match.__dict__  # as Match.__init__ fills it (see _hit_of)
        attrs["rule"] = rule.name
        attrs["hits"] = done[0]
        attrs["snippet"] = done[1]
        out.append(match)
    return out


def _root_explained(ctx: ScanContext, root: Evaluator, leaves: tuple[Evaluator, ...] | None
                    ) -> tuple[tuple[Hit, ...], str]:
    if root.__class__ is LiteralLeaf:
        # Most matches: one literal, so its evidence is the leaf's own, as shared.
        return _leaf_explained(ctx, root)
    keys: list[HitKey] = []
    if leaves is not None:
        cached = ctx.leaf_evidence
        for leaf in leaves:
            part = cached.get(leaf)
            if part is None:
                part = leaf_evidence(leaf, ctx)  # type: ignore[arg-type]
            keys += part
    else:
        root.evidence(ctx, keys)
    return _explained(ctx, keys)


def _leaf_explained(ctx: ScanContext, leaf: LiteralLeaf) -> tuple[tuple[Hit, ...], str]:
    """Evidence of a one-literal rule. Its literal was found once in most matches: then
    the Hit comes straight from that span, with no hit keys to build and sort."""
    found, fields, lids = ctx.found, leaf.fields, leaf.lit_ids
    if len(lids) == 1:  # a word or phrase: its spans are found's list, unless none
        spans = found.get(lids[0], ())
        if len(spans) == 1 and spans[0][0] in fields:
            f, s, e = spans[0]
            return _one_hit(ctx, leaf.label, f, s, e)
    spans = [span for lid in lids for span in found.get(lid, ()) if span[0] in fields]
    if len(spans) != 1:
        return _explained(ctx, leaf_evidence(leaf, ctx))
    f, s, e = spans[0]
    return _one_hit(ctx, leaf.label, f, s, e)


def _explained(ctx: ScanContext, keys: list[HitKey]) -> tuple[tuple[Hit, ...], str]:
    """Hits and snippet of a match whose evidence is ``keys`` (shared by equal evidence)."""
    explained = ctx.explained
    if len(keys) == 1:
        key = keys[0]
        done = explained.get(key)
        if done is None:
            _, s, neg_e, label, f = key
            done = explained[key] = _one_hit(ctx, label, f, s, -neg_e)
        return done
    evidence = frozenset(keys)
    done = explained.get(evidence)
    if done is None:
        done = explained[evidence] = _explained_many(ctx, evidence)
    return done


def _one_hit(ctx: ScanContext, label: str, f: str, s: int, e: int
             ) -> tuple[tuple[Hit, ...], str]:
    """The Hit of literal ``label`` at folded [s, e) of field ``f``, and its snippet."""
    folded = ctx.folded[f]
    if folded.offsets is not None:
        s, e = folded.span(s, e)
    text = ctx.texts[f]
    hit: Hit = _new(Hit)  # _hit_of, inlined
    attrs = hit.__dict__
    attrs["term"] = label
    attrs["field"] = f
    attrs["start"] = s
    attrs["end"] = e
    attrs["text"] = text[s:e]
    snippets = ctx.snippets  # _snippet_one, inlined
    key = (f, s, e)
    snippet = snippets.get(key)
    if snippet is None:
        plain = ctx.plain.get(f)
        if plain is None:
            plain = ctx.plain_spacing(f)
        snippet = snippets[key] = snippet_one(text, s, e, plain=plain)
    return (hit,), snippet


def _snippet_one(ctx: ScanContext, f: str, s: int, e: int) -> str:
    """The snippet around one hit at original [s, e) of field ``f`` (shared by its rules)."""
    snippets = ctx.snippets
    snippet = snippets.get((f, s, e))
    if snippet is None:
        snippet = snippets[(f, s, e)] = snippet_one(ctx.texts[f], s, e,
                                                    plain=ctx.plain_spacing(f))
    return snippet


def _explained_many(ctx: ScanContext, evidence: frozenset[HitKey]
                    ) -> tuple[tuple[Hit, ...], str]:
    hits = build_hits(ctx, evidence)
    if not hits:
        return hits, ""
    if len(hits) == 1:
        return hits, _snippet_one(ctx, hits[0].field, hits[0].start, hits[0].end)
    f = hits[0].field
    spans = tuple((h.start, h.end) for h in hits if h.field == f)
    snippet = ctx.snippets.get((f, spans))
    if snippet is None:
        snippet = ctx.snippets[(f, spans)] = make_snippet(
            ctx.texts[f], spans, plain=ctx.plain_spacing(f))
    return hits, snippet


def build_hits(ctx: ScanContext, evidence: Iterable[HitKey]) -> tuple[Hit, ...]:
    """Turn folded-coordinate evidence into Hits on the original text, in reading order.

    A hit covered by a longer hit of the same term is dropped ("China" inside
    "mainland China" for @China).
    """
    keyed = sorted(evidence if isinstance(evidence, frozenset) else set(evidence))
    cache = ctx.hits
    if len(keyed) == 1:
        key = keyed[0]
        hit = cache.get(key)
        return (hit if hit is not None else _hit(ctx, key),)
    reach: dict[tuple[str, str], int] = {}
    hits: list[Hit] = []
    for key in keyed:
        _, _, neg_e, label, f = key
        if reach.get((label, f), -1) >= -neg_e:
            continue
        reach[(label, f)] = -neg_e
        hit = cache.get(key)
        hits.append(hit if hit is not None else _hit(ctx, key))
    return tuple(hits)


def _hit(ctx: ScanContext, key: HitKey) -> Hit:
    _, s, neg_e, label, f = key
    folded = ctx.folded[f]
    o_start, o_end = (s, -neg_e) if folded.offsets is None else folded.span(s, -neg_e)
    hit = ctx.hits[key] = _hit_of(label, f, o_start, o_end, ctx.texts[f][o_start:o_end])
    return hit


# Hits and Matches are frozen dataclasses, whose ``__init__`` sets each field through
# ``object.__setattr__``: ~10k instructions per object under callgrind, 12 objects per
# article at 10,000 rules. These fill the instance ``__dict__`` directly, in field
# order as ``__init__`` does, so the dict keeps sharing its keys with the class's other
# instances (96 bytes; ``__dict__.update(**fields)`` made a 184-byte one). The result
# is the same object: equal, hashable, frozen (test_match_cases checks them against
# the constructors).
_new = object.__new__


def _hit_of(term: str, field: str, start: int, end: int, text: str) -> Hit:
    hit: Hit = _new(Hit)
    attrs = hit.__dict__
    attrs["term"] = term
    attrs["field"] = field
    attrs["start"] = start
    attrs["end"] = end
    attrs["text"] = text
    return hit


def _match(rule: str, hits: tuple[Hit, ...], snippet: str) -> Match:
    match: Match = _new(Match)
    attrs = match.__dict__
    attrs["rule"] = rule
    attrs["hits"] = hits
    attrs["snippet"] = snippet
    return match
