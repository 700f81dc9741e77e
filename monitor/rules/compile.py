"""Syntax trees + entities -> evaluators, and all rules -> one RuleSet (pure).

Every literal (word, phrase, wildcard stem, entity alias) of every rule is
folded (see ``normalize``) and interned once; the keys go into ONE
pyahocorasick automaton. Each rule is indexed under a *trigger set*: literals
of which at least one must be present for the rule to match (for AND, the
literals of one child only, preferring long, rare-looking keys). A ``/regex/``
is indexed under the plain text every match of it contains (see
``regex.required_literals``), searched as a substring. A rule whose positive side
has no literal at all (such as ``/[0-9]{4}/``) has no trigger set and is evaluated
for every article.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import ahocorasick  # type: ignore[import-not-found]

from monitor.article import DEFAULT_FIELDS, FIELD_GROUPS, FIELDS, RuleSpec
from monitor.errors import ConfigError, QueryError
from monitor.rules import query as q
from monitor.rules.evaluate import (
    AllOf,
    AnyOf,
    Evaluator,
    LiteralLeaf,
    Nearby,
    NoneOf,
    RegexLeaf,
)
from monitor.rules.match import CompiledRule, RuleSet
from monitor.rules.normalize import case_key, fold_term
from monitor.rules.regex import compile_regex

__all__ = ["CompiledQuery", "LiteralRegistry", "LiteralSpec", "RuleSet", "compile_query",
           "compile_rules"]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiteralSpec:
    """One thing to look for in folded text."""

    #: The folded key given to the automaton.
    key: str
    #: A ``ban*`` wildcard: the hit extends to the end of the word.
    prefix: bool = False
    #: For capitalised entity aliases: the accepted spellings (case kept).
    forms: frozenset[str] | None = None
    #: Text a regex needs: found anywhere, inside a word too (no boundary check).
    substring: bool = False


@dataclass
class LiteralRegistry:
    """Interns literals across all rules so each key is searched once."""

    ids: dict[LiteralSpec, int] = field(default_factory=dict)
    specs: list[LiteralSpec] = field(default_factory=list)
    _aliases: dict[tuple[str, tuple[str, ...]], tuple[int, ...]] = field(default_factory=dict)
    #: One leaf object per distinct literal use, so rules share its per-article evidence.
    _leaves: dict[tuple[str, tuple[int, ...], frozenset[str]], LiteralLeaf] = field(
        default_factory=dict)

    def intern(self, spec: LiteralSpec) -> int:
        lid = self.ids.get(spec)
        if lid is None:
            lid = self.ids[spec] = len(self.specs)
            self.specs.append(spec)
        return lid

    def leaf(self, label: str, ids: tuple[int, ...], fields: frozenset[str]) -> LiteralLeaf:
        """The shared leaf for these literals in these fields."""
        key = (label, ids, fields)
        leaf = self._leaves.get(key)
        if leaf is None:
            leaf = self._leaves[key] = LiteralLeaf(label, ids, fields)
        return leaf

    def alias_ids(self, name: str, aliases: Sequence[str]) -> tuple[int, ...]:
        """Literal ids of an entity's aliases (cached per entity)."""
        key = (name, tuple(aliases))
        ids = self._aliases.get(key)
        if ids is None:
            found = {self.intern(_alias_spec(a)) for a in aliases if fold_term(a)}
            ids = self._aliases[key] = tuple(sorted(found))
        return ids


def _alias_spec(alias: str) -> LiteralSpec:
    """An alias with a capital letter matches as written or in all caps only."""
    key = fold_term(alias)
    if alias == alias.lower():
        return LiteralSpec(key)
    written = case_key(alias)
    return LiteralSpec(key, forms=frozenset({written, written.upper()}))


@dataclass(frozen=True)
class CompiledQuery:
    """One query, compiled: its syntax tree, evaluator and trigger literals."""

    text: str
    ast: q.Node
    #: The evaluator tree (see monitor.rules.match).
    root: Evaluator
    #: Literal ids one of which must be found for a match; None: evaluate always.
    triggers: frozenset[int] | None
    registry: LiteralRegistry

    @property
    def unindexed(self) -> bool:
        return self.triggers is None


def _resolve_entity(node: q.Entity, entities: Mapping[str, Sequence[str]]) -> str:
    if node.name in entities:
        return node.name
    folded = [n for n in entities if n.casefold() == node.name.casefold()]
    if len(folded) == 1:
        return folded[0]
    known = ", ".join(sorted(entities)) or "none declared"
    raise QueryError(f"unknown entity '@{node.name}' (entities: {known})", node.column)


class _Builder:
    def __init__(self, entities: Mapping[str, Sequence[str]], registry: LiteralRegistry) -> None:
        self.entities = entities
        self.registry = registry

    def build(self, node: q.Node, fields: tuple[str, ...]) -> Evaluator:
        if isinstance(node, q.Field):
            return self.build(node.child, FIELD_GROUPS.get(node.name, (node.name,)))
        if isinstance(node, q.Regex):
            compiled, literals = compile_regex(node.pattern, node.column)
            ids = {self.registry.intern(LiteralSpec(k, substring=True)) for k in literals or ()}
            return RegexLeaf(q.literal_label(node), compiled, fields, tuple(sorted(ids)))
        if isinstance(node, q.LEAF_TYPES):
            return self._literal_leaf(node, fields)
        if isinstance(node, q.Not):
            return NoneOf(self.build(node.child, fields))
        if isinstance(node, q.And):
            return AllOf(tuple(self.build(c, fields) for c in node.children))
        if isinstance(node, q.Or):
            return AnyOf(tuple(self.build(c, fields) for c in node.children))
        assert isinstance(node, q.Near)
        return Nearby(self.build(node.left, fields), self.build(node.right, fields),
                      node.distance)

    def _literal_leaf(self, node: q.Leaf, fields: tuple[str, ...]) -> LiteralLeaf:
        reg = self.registry
        if isinstance(node, q.Entity):
            name = _resolve_entity(node, self.entities)
            ids = reg.alias_ids(name, self.entities[name])
            if not ids:
                raise QueryError(f"entity '@{name}' has no usable alias", node.column)
        elif isinstance(node, q.Wildcard):
            ids = (reg.intern(LiteralSpec(fold_term(node.prefix), prefix=True)),)
        else:
            text = node.text if isinstance(node, (q.Term, q.Phrase)) else ""
            ids = (reg.intern(LiteralSpec(fold_term(text))),)
        return reg.leaf(q.literal_label(node), ids, frozenset(fields))

    def triggers(self, ev: Evaluator) -> frozenset[int] | None:
        """Literals at least one of which any match must contain (None: unknown)."""
        if isinstance(ev, (LiteralLeaf, RegexLeaf)):
            return frozenset(ev.lit_ids) or None
        if isinstance(ev, AnyOf):
            parts = [self.triggers(c) for c in ev.children]
            if any(p is None for p in parts):
                return None
            return frozenset().union(*[p for p in parts if p is not None])
        if isinstance(ev, AllOf):
            return self._best([self.triggers(c) for c in ev.children])
        if isinstance(ev, Nearby):
            return self._best([self.triggers(ev.left), self.triggers(ev.right)])
        return None  # NOT

    def _best(self, options: list[frozenset[int] | None]) -> frozenset[int] | None:
        usable = [o for o in options if o]
        if not usable:
            return None
        specs = self.registry.specs
        # Longer keys are rarer in text; fewer keys mean fewer spurious candidates.
        return max(usable, key=lambda o: (min(len(specs[i].key) for i in o), -len(o)))


def _without_positive(node: q.Node) -> q.Node | None:
    """The part of a query that can match with no positive hit (None: there is none)."""
    if isinstance(node, q.Not):
        return node
    if isinstance(node, q.Field):
        return _without_positive(node.child)
    if isinstance(node, q.Or):
        for c in node.children:
            bad = _without_positive(c)
            if bad is not None:
                return bad
        return None
    if isinstance(node, q.And):
        bad_parts = [_without_positive(c) for c in node.children]
        return bad_parts[0] if all(b is not None for b in bad_parts) else None
    return None


def compile_query(
    query: str,
    entities: Mapping[str, Sequence[str]],
    registry: LiteralRegistry | None = None,
) -> CompiledQuery:
    """Parse and compile one query; raises QueryError(reason, column).

    Refused: syntax errors, unknown @Entity or field, a rule with no positive
    term, an empty phrase, a wildcard with fewer than 3 leading letters, an
    invalid or unsafe regex. ``registry`` shares literals between rules.
    """
    ast = q.parse(query)
    bad = _without_positive(ast)
    if bad is not None:
        raise QueryError("the rule needs a positive term: NOT alone would match almost every"
                         " article (write: a AND NOT b)", bad.column)
    builder = _Builder(entities, registry if registry is not None else LiteralRegistry())
    root = builder.build(ast, DEFAULT_FIELDS)
    return CompiledQuery(query, ast, root, builder.triggers(root), builder.registry)


_Entry = tuple[int, bool, frozenset[str] | None]


def _keys(registry: LiteralRegistry, substring: bool) -> dict[str, list[_Entry]]:
    by_key: dict[str, list[_Entry]] = {}
    for lid, spec in enumerate(registry.specs):
        if spec.substring == substring:
            by_key.setdefault(spec.key, []).append((lid, spec.prefix, spec.forms))
    return by_key


def _build_automaton(by_key: dict[str, list[_Entry]], substring: bool) -> Any:
    """The word automaton, or the substring one for regex keys (``scan.*Payload``)."""
    if not by_key:
        return None
    automaton = ahocorasick.Automaton()
    for key, entries in by_key.items():
        if substring:
            payload: tuple[Any, ...] = (len(key), tuple(lid for lid, _, _ in entries))
        else:
            lid, prefix, forms = entries[0]
            first_w, last_w = key[0].isalnum(), key[-1].isalnum()
            # The short path of the scan: one plain literal, a word character at each end.
            simple = (lid if len(entries) == 1 and not prefix and forms is None
                      and first_w and last_w else -1)
            payload = (len(key), simple, first_w, last_w, tuple(entries))
        automaton.add_word(key, payload)
    automaton.make_automaton()
    return automaton


def _leaf_fields(ev: Evaluator, out: set[str]) -> None:
    if isinstance(ev, (LiteralLeaf, RegexLeaf)) and ev.lit_ids:
        out.update(ev.fields)
    for child in getattr(ev, "children", ()):
        _leaf_fields(child, out)
    for attr in ("child", "left", "right"):
        if hasattr(ev, attr):
            _leaf_fields(getattr(ev, attr), out)


#: The last compiled rule set and what it was compiled from: loading a config checks
#: its rules by compiling them, and the run then gets the same RuleSet (it is never
#: mutated) instead of compiling 1,000 rules twice.
_last: tuple[Any, RuleSet] | None = None


def compile_rules(rules: Sequence[RuleSpec], entities: Mapping[str, Sequence[str]]) -> RuleSet:
    """Compile all rules into one RuleSet; raises ConfigError listing every bad rule."""
    global _last
    key = (tuple(rules), tuple(sorted((k, tuple(v)) for k, v in entities.items())))
    last = _last
    if last is not None and last[0] == key:
        return last[1]
    ruleset = _compile_rules(rules, entities)
    _last = (key, ruleset)
    return ruleset


_EMPTY: frozenset[str] = frozenset()


def _set(items: Sequence[str]) -> frozenset[str]:
    """A rule's scope set; the empty one shared (CPython allocates each frozenset(()))."""
    return frozenset(items) if items else _EMPTY


def _compile_rules(rules: Sequence[RuleSpec], entities: Mapping[str, Sequence[str]]) -> RuleSet:
    registry = LiteralRegistry()
    compiled: list[CompiledRule] = []
    triggers: dict[int, list[int]] = {}
    unindexed: list[int] = []
    fields: set[str] = set()
    problems: list[str] = []
    seen: set[str] = set()
    for spec in rules:
        if spec.name in seen:
            problems.append(f"rule '{spec.name}': duplicate rule name")
            continue
        seen.add(spec.name)
        try:
            cq = compile_query(spec.query, entities, registry)
        except QueryError as e:
            problems.append(f"rule '{spec.name}': query column {e.column}: {e.reason}")
            continue
        index = len(compiled)
        compiled.append(CompiledRule(spec.name, cq.root, _set(spec.feeds), _set(spec.tags),
                                     _set(spec.languages)))
        _leaf_fields(cq.root, fields)
        if cq.triggers is None:
            unindexed.append(index)
        else:
            for lid in cq.triggers:
                triggers.setdefault(lid, []).append(index)
    if problems:
        raise ConfigError(problems=problems)
    scan = [f for f in FIELDS if f in fields]
    log.info("rules.compiled rules=%d literals=%d unindexed=%d", len(compiled),
             len(registry.specs), len(unindexed))
    if unindexed:
        # Compiling is not the place to warn: test-rule and `rules apply` compile too,
        # where the cost does not matter. `check` and the daemon's start say it once.
        log.debug("rules.unindexed rules=%s", ",".join(compiled[i].name for i in unindexed))
    return RuleSet(compiled, _build_automaton(_keys(registry, substring=False), substring=False),
                   {k: tuple(v) for k, v in triggers.items()}, unindexed, scan,
                   _build_automaton(_keys(registry, substring=True), substring=True))
