"""A rule's verdict as set tests on the literals found, built once per RuleSet (pure).

After the scan, ``ScanContext.found`` maps each literal id found in the article to
its spans. Most rules are conjunctions of literals that may appear in any scanned
field (``a AND b``, ``(a OR b) AND c``, ``@Entity AND (a OR b)``, ``a AND NOT b``):
their verdict needs no walk over the evaluator tree, only a few set tests done in C
on the keys of ``found``. ``plan_of`` turns a rule's tree into such a ``Plan``; the
parts it cannot express (NEAR, a field-restricted leaf, a regex, a nested NOT of
anything else) stay evaluators, tested the usual way after the set tests pass.

A leaf counts as "any field" when its fields cover every scanned field: every span
in ``found`` then lies in one of its fields, so "has a span in my fields" is "is a
key of found". The plan's verdict is always the tree's (``Evaluator.test``).
"""

from __future__ import annotations

from collections.abc import KeysView

from monitor.rules.evaluate import AllOf, AnyOf, Evaluator, LiteralLeaf, NoneOf, ScanContext

__all__ = ["Plan", "Verdict", "plan_of"]


class Plan:
    """A conjunction: literals all required, groups each needing one, literals all
    absent, then evaluators for what sets cannot say."""

    __slots__ = ("absent", "groups", "required", "rest")

    def __init__(self, required: frozenset[int], groups: tuple[frozenset[int], ...],
                 absent: frozenset[int], rest: tuple[Evaluator, ...]) -> None:
        self.required = required
        self.groups = groups
        self.absent = absent
        self.rest = rest

    def passes(self, keys: KeysView[int], ctx: ScanContext) -> bool:
        if not keys >= self.required:
            return False
        for group in self.groups:
            if keys.isdisjoint(group):
                return False
        if self.absent and not keys.isdisjoint(self.absent):
            return False
        for ev in self.rest:
            if not ev.test(ctx):
                return False
        return True


#: None: the rule matches whenever it is a candidate (one literal, any field);
#: a frozenset: all these literals must be found (the usual ``a AND b``); else a Plan.
Verdict = frozenset[int] | Plan | None


_EMPTY: frozenset[int] = frozenset()


def _any_field_ids(ev: Evaluator, scanned: frozenset[str]) -> frozenset[int] | None:
    """Literal ids one of which makes ``ev`` true, when that is all it takes (else None)."""
    if isinstance(ev, LiteralLeaf):
        return frozenset(ev.lit_ids) if ev.lit_ids and ev.fields >= scanned else None
    if isinstance(ev, AnyOf):
        out: set[int] = set()
        for child in ev.children:
            ids = _any_field_ids(child, scanned)
            if ids is None:
                return None
            out |= ids
        return frozenset(out)
    return None


def _conjuncts(ev: Evaluator, out: list[Evaluator]) -> None:
    if isinstance(ev, AllOf):
        for child in ev.children:
            _conjuncts(child, out)
    else:
        out.append(ev)


def plan_of(root: Evaluator, scanned: frozenset[str],
            triggers: frozenset[int] | None) -> Verdict:
    """The set tests deciding ``root`` on an article whose scan found ``triggers``-side
    literals (``triggers``: the rule's presearch keys, None when it has none)."""
    parts: list[Evaluator] = []
    _conjuncts(root, parts)
    required: set[int] = set()
    groups: list[frozenset[int]] = []
    absent: set[int] = set()
    rest: list[Evaluator] = []
    for part in parts:
        ids = _any_field_ids(part, scanned)
        if ids is not None:
            if len(ids) == 1:
                required |= ids
            elif ids != triggers:  # a candidate has one of its triggers already
                groups.append(ids)
            continue
        if isinstance(part, NoneOf):
            ids = _any_field_ids(part.child, scanned)
            if ids is not None:
                absent |= ids
                continue
        rest.append(part)
    if triggers is not None and len(triggers) == 1:
        required -= triggers  # the key that made the rule a candidate
    if not groups and not absent and not rest:
        return frozenset(required) if required else None
    # Cheap set tests first, the evaluators (NEAR, regexes, ...) last.
    return Plan(frozenset(required) if required else _EMPTY, tuple(groups),
                frozenset(absent) if absent else _EMPTY, tuple(rest))
