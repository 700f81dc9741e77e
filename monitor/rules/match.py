"""Matching an article against a compiled RuleSet, with evidence (pure).

One pass per field: the shared Aho-Corasick automaton finds every literal of
every rule in the folded text; whole-word and capitalisation checks follow each
automaton hit. The literals found select the candidate rules (a presearch, as in
Lucene Monitor); only candidates, plus rules with no literal to index, are
evaluated. Evaluation is a walk over small node objects built by ``compile``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

from monitor.article import Article, Match
from monitor.rules.evaluate import Evaluator, LiteralLeaf, ScanContext
from monitor.rules.evidence import matches_for, positive_leaves
from monitor.rules.scan import scan_fields, scan_substrings
from monitor.rules.verdict import Verdict, plan_of

log = logging.getLogger(__name__)
#: For ``map(triggers.get, found, _NOTHING)``: a literal no rule is indexed under.
_NOTHING = repeat(())


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """One rule ready to evaluate: its tree and its scope."""

    name: str
    root: Evaluator
    #: Feed names or URLs the rule is limited to (empty: all feeds).
    feeds: frozenset[str]
    #: Feed tags the rule is limited to (empty: all feeds).
    tags: frozenset[str]
    #: Languages the rule is limited to (empty: any). An article whose language is
    #: unknown (too short or unclear to tell, no feed language) is inside: a scope
    #: written to leave out foreign-language press must not drop it (docs/stories.md).
    languages: frozenset[str] = frozenset()

    def in_scope(self, article: Article) -> bool:
        feeds = self.feeds
        if feeds and article.feed_name not in feeds and article.feed_url not in feeds:
            return False
        language = article.language
        if self.languages and language is not None and language not in self.languages:
            return False
        return not self.tags or any(t in self.tags for t in article.feed_tags)


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
        self._unindexed_set = frozenset(self._unindexed)
        self._scan_fields = tuple(scan_fields)
        self._scoped = tuple(bool(r.feeds or r.tags or r.languages) for r in self._rules)
        self._any_scoped = any(self._scoped)
        # Verdicts as set tests on the literals found (see ``verdict``): a rule that is
        # one literal in every scanned field needs none (its literal made it a candidate).
        scanned = frozenset(self._scan_fields)
        keys_of: list[set[int]] = [set() for _ in self._rules]
        for lid, indices in triggers.items():
            for i in indices:
                keys_of[i].add(lid)
        unindexed_set = set(self._unindexed)
        self._verdicts: tuple[Verdict, ...] = tuple(
            plan_of(r.root, scanned, None if i in unindexed_set else frozenset(keys_of[i]))
            for i, r in enumerate(self._rules))
        # Where a match's evidence comes from (a one-leaf rule uses its leaf directly).
        self._leaves = tuple(None if isinstance(r.root, LiteralLeaf) else positive_leaves(r.root)
                             for r in self._rules)
        self._needs_language = "lang" in self._scan_fields or any(r.languages for r in self._rules)

    @staticmethod
    def deferred(build: Callable[[], RuleSet]) -> RuleSet:
        """A RuleSet that ``build`` compiles when it is first used (a run that matches
        nothing never compiles it); safe to first use from several threads."""
        return _DeferredRuleSet(build)

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
        return (f"rules.unindexed rules={','.join(names)}: these rules can match an article"
                " holding none of their words (only /[0-9]{4}/, or an OR branch or NOT"
                " without one), so they are evaluated on every article, which slows"
                " matching; a word every match needs (ban AND /.../) indexes them")

    def __len__(self) -> int:
        return len(self._rules)

    def _scan(self, ctx: ScanContext) -> None:
        if not ctx.scanned:
            ctx.scanned = True
            if self._automaton is not None:
                scan_fields(ctx, self._automaton, self._scan_fields)
            if self._substrings is not None:
                for name in self._scan_fields:
                    scan_substrings(ctx, self._substrings, name)

    def candidates(self, ctx: ScanContext) -> list[int]:
        """Scan the article once and return the indices of the rules worth evaluating."""
        self._scan(ctx)
        # The rules indexed under each literal found, united in C (a Python loop over
        # the ~16 literals found per article cost more at 10,000 rules).
        return sorted(self._unindexed_set.union(*map(self._triggers.get, ctx.found, _NOTHING)))

    def matching(self, ctx: ScanContext) -> list[int]:
        """Indices of the rules that match the article of ``ctx``, in rule order."""
        keys = ctx.found.keys()
        verdicts = self._verdicts
        out: list[int] = []
        if not self._any_scoped:
            for i in self.candidates(ctx):
                v = verdicts[i]
                if v is None:
                    out.append(i)
                elif v.__class__ is frozenset:
                    if keys >= v:
                        out.append(i)
                # Plan.passes, its set tests inlined (six Plans per article at 10,000 rules)
                elif keys >= v.required and not (  # type: ignore[union-attr]
                        v.absent and not keys.isdisjoint(v.absent)):  # type: ignore[union-attr]
                    for group in v.groups:  # type: ignore[union-attr]
                        if keys.isdisjoint(group):
                            break
                    else:
                        for ev in v.rest:  # type: ignore[union-attr]
                            if not ev.test(ctx):
                                break
                        else:
                            out.append(i)
            return out
        article = ctx.article
        rules, scoped = self._rules, self._scoped
        for i in self.candidates(ctx):
            if scoped[i] and not rules[i].in_scope(article):
                continue
            v = verdicts[i]
            if v is None or (keys >= v if v.__class__ is frozenset
                             else v.passes(keys, ctx)):  # type: ignore[union-attr]
                out.append(i)
        return out

    def match(self, article: Article) -> list[Match]:
        """Every rule that matches the article, in rule order, with its evidence."""
        ctx = ScanContext(article)
        return matches_for(ctx, self._rules, self._leaves, self.matching(ctx))


class _DeferredRuleSet(RuleSet):
    """See RuleSet.deferred: empty until an attribute of the compiled set is asked for."""

    def __init__(self, build: Callable[[], RuleSet]) -> None:  # the build fills in the rest
        self._build = build
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes not set yet, i.e. before the first use.
        if not name.startswith("_") or name.startswith("__") or name in ("_build", "_lock"):
            raise AttributeError(name)
        with self._lock:
            if "_rules" not in self.__dict__:
                self.__dict__.update(vars(self._build()))
        return object.__getattribute__(self, name)
