"""Evidence for a rule known to match: Hits on the original text and a snippet (pure).

Verdicts come first (``evaluate``); this runs only for the rules that matched, and
everything in it is shared through the article's ``ScanContext``: a leaf's evidence
is collected once (leaves are shared between rules), each distinct set of hit keys
becomes Hits and a snippet once (rules firing on the same words share them), each
folded span is mapped back to the original text once, and a field's spacing is
checked once so snippets of plainly spaced text skip whitespace collapsing.
"""

from __future__ import annotations

from collections.abc import Iterable

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
from monitor.rules.snippet import make_snippet


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
    if isinstance(root, LiteralLeaf):
        # Most matches: one literal, so its evidence is the leaf's own, as shared.
        done = ctx.explained.get(root)
        if done is None:
            done = ctx.explained[root] = _explained(ctx, frozenset(leaf_evidence(root, ctx)))
        return Match(rule, done[0], done[1])
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
    done = _explained(ctx, frozenset(keys))
    return Match(rule, done[0], done[1])


def _explained(ctx: ScanContext, evidence: frozenset[HitKey]) -> tuple[tuple[Hit, ...], str]:
    explained = ctx.explained.get(evidence)
    if explained is not None:
        return explained
    hits = build_hits(ctx, evidence)
    snippet = ""
    if hits:
        f = hits[0].field
        spans = tuple((h.start, h.end) for h in hits if h.field == f)
        snippet = ctx.snippets.get((f, spans), "")
        if not snippet:
            snippet = ctx.snippets[(f, spans)] = make_snippet(
                ctx.texts[f], spans, plain=ctx.plain_spacing(f))
    explained = ctx.explained[evidence] = (hits, snippet)
    return explained


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
    hit = ctx.hits[key] = Hit(label, f, o_start, o_end, ctx.texts[f][o_start:o_end])
    return hit
