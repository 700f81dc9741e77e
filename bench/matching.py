"""Matching benchmark: one automaton for all rules vs. a naive rule-by-rule baseline.

Articles: the 7,600 items of ag_news/test.csv (title + description), read in place
from ``$MONITOR_SHARED_DATA`` or ``../shared/data``. Rule sets of 100, 1,000 and
10,000 rules are generated (seeded) from the corpus vocabulary: single terms,
phrases, AND/OR/NOT, NEAR, wildcards and entities with 3-10 aliases.

The baseline evaluates every rule on every article with that rule's own regexes
(one per literal, word boundaries in the pattern) over the same folded text and
the same evaluator tree, so both must find identical matches; it runs on a
sample of articles because it is slow, and the matches are compared on it.

``--regex-rules N`` adds N regex rules (``/\\bword(s|ed|)\\b/``, a form both the old
backtracking guard and RE2 accept) to every rule set: with RE2 they are indexed by
their literal, before they ran on every article.

Run:  python bench/matching.py [--sizes 100,1000,10000] [--baseline-sample 300]
                               [--regex-rules 0]
"""

from __future__ import annotations

import argparse
import gc
import random
import re
import sys
import time
import tracemalloc
from typing import Any

from matchgen import load_articles, make_entities, make_rules, vocabulary

from monitor.article import Article, RuleSpec
from monitor.rules.compile import compile_rules
from monitor.rules.evidence import match_for
from monitor.rules.match import RuleSet, ScanContext
from monitor.rules.normalize import case_key


def run_engine(rules: RuleSet, articles: list[Article]) -> tuple[float, list[set[str]]]:
    found: list[set[str]] = []
    gc.collect()
    t0 = time.process_time()
    for a in articles:
        found.append({m.rule for m in rules.match(a)})
    return time.process_time() - t0, found


def run_verdicts(rules: RuleSet, articles: list[Article]) -> float:
    """Scan + presearch + verdicts only (no evidence): the part that must stay flat."""
    matching = getattr(rules, "matching", None)  # older engines: each candidate's tree
    gc.collect()
    t0 = time.process_time()
    for a in articles:
        ctx = ScanContext(a)
        if matching is not None:
            matching(ctx)
            continue
        for i in rules.candidates(ctx):
            rules._rules[i].root.test(ctx)
    return time.process_time() - t0


def _literal_regex(key: str, prefix: bool) -> re.Pattern[str]:
    body = re.escape(key) + (r"[^\W_]*" if prefix else r"(?![^\W_])")
    return re.compile(r"(?<![^\W_])" + body)


def run_naive(
    rules: RuleSet, registry: Any, articles: list[Article]
) -> tuple[float, list[set[str]]]:
    """Every rule, every article, each literal by its own regex; same evaluator trees."""
    patterns = [_literal_regex(s.key, s.prefix) for s in registry.specs]
    per_rule = [sorted(_rule_literals(r.root)) for r in rules._rules]
    fields = rules._scan_fields
    found_all: list[set[str]] = []
    t0 = time.process_time()
    for a in articles:
        ctx = ScanContext(a)
        matched: set[str] = set()
        for rule, lits in zip(rules._rules, per_rule):
            ctx.found = {}
            for lid in lits:
                spans = _naive_find(ctx, fields, patterns[lid], registry.specs[lid])
                if spans:
                    ctx.found[lid] = spans
            if rule.root.test(ctx):
                matched.add(match_for(ctx, rule.name, rule.root).rule)
        found_all.append(matched)
    return time.process_time() - t0, found_all


def _naive_find(ctx: ScanContext, fields: Any, pattern: re.Pattern[str], spec: Any) -> list:
    spans = []
    for f in fields:
        folded = ctx.fold(f)
        for m in pattern.finditer(folded.text):
            if spec.forms is not None:
                s, e = folded.span(m.start(), m.end())
                if case_key(ctx.text(f)[s:e]) not in spec.forms:
                    continue
            spans.append((f, m.start(), m.end()))
    return spans


def _rule_literals(ev: Any) -> set[int]:
    out = set(getattr(ev, "lit_ids", ()))
    for c in getattr(ev, "children", ()):
        out |= _rule_literals(c)
    for attr in ("child", "left", "right"):
        if hasattr(ev, attr):
            out |= _rule_literals(getattr(ev, attr))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--baseline-sample", type=int, default=300)
    ap.add_argument("--regex-rules", type=int, default=0)
    args = ap.parse_args()
    articles = load_articles()
    rng = random.Random(7)
    words, phrases, names = vocabulary(articles)
    entities = make_entities(names, rng)
    sample = articles[: args.baseline_sample]
    print(f"articles: {len(articles)}   baseline sample: {len(sample)}   "
          f"python {sys.version.split()[0]}   times: CPU (process_time), one core")
    head = (f"{'rules':>6} {'compile s':>9} {'mem MB':>7} {'art/s':>8} {'us/art':>7} "
            f"{'verdict us':>10} {'matches':>8} | {'naive art/s':>11} {'naive us/art':>12} "
            f"{'ratio':>7} {'same':>5}")
    print(head)
    print("-" * len(head))
    base_us = base_verdict = None
    for n in [int(x) for x in args.sizes.split(",")]:
        specs = make_rules(n, words, phrases, entities, random.Random(n))
        regex_rng = random.Random(-n)
        specs += [RuleSpec(f"re{i}", rf"/\b{regex_rng.choice(words)}(s|ed|)\b/")
                  for i in range(args.regex_rules)]
        gc.collect()
        t0 = time.process_time()
        ruleset = compile_rules(specs, entities)
        compile_s = time.process_time() - t0
        mem_mb = _compiled_size_mb(specs, entities)
        elapsed, found = run_engine(ruleset, articles)
        us = elapsed / len(articles) * 1e6
        verdict_us = run_verdicts(ruleset, articles) / len(articles) * 1e6
        base_us = base_us or us
        base_verdict = base_verdict or verdict_us
        registry = _registry_of(ruleset, specs, entities)
        n_elapsed, n_found = run_naive(registry[0], registry[1], sample)
        n_us = n_elapsed / len(sample) * 1e6
        same = registry[0] is not None and _same(ruleset, registry[0], sample, n_found)
        print(f"{n:>6} {compile_s:>9.3f} {mem_mb:>7.1f} {len(articles) / elapsed:>8.0f} {us:>7.1f} "
              f"{verdict_us:>10.1f} {sum(map(len, found)):>8} | {len(sample) / n_elapsed:>11.0f} "
              f"{n_us:>12.0f} {n_us / us:>6.0f}x {str(same):>5}")
    print(f"per-article cost, largest vs smallest rule set: {us / base_us:.2f}x "
          f"(verdicts only, without building evidence: {verdict_us / base_verdict:.2f}x)")
    automata = [getattr(ruleset, a, None) for a in ("_automaton", "_ascii", "_ascii_rest")]
    print("automata memory (C heap, not traced above):",
          round(sum(a.get_stats()["total_size"] for a in automata if a is not None) / 1e6, 1),
          "MB")
    return 0


def _compiled_size_mb(specs: list[RuleSpec], entities: dict) -> float:
    """Python heap held by a compiled rule set (a second compile, under tracemalloc)."""
    import monitor.rules.compile as compile_module

    compile_module._last = None  # compile_rules keeps the last set: compile it anew
    gc.collect()
    tracemalloc.start()
    kept = compile_rules(specs, entities)
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del kept
    return size / 1e6


def _registry_of(ruleset: RuleSet, specs: list[RuleSpec], entities: dict) -> tuple[RuleSet, Any]:
    """Recompile to get at the literal registry the naive baseline needs."""
    from monitor.rules.compile import LiteralRegistry, compile_query
    from monitor.rules.match import CompiledRule

    reg = LiteralRegistry()
    rules = [CompiledRule(s.name, compile_query(s.query, entities, reg).root, frozenset(),
                          frozenset()) for s in specs]
    return RuleSet(rules, None, {}, [], ruleset._scan_fields), reg


def _same(engine: RuleSet, naive: RuleSet, sample: list[Article], n_found: list[set[str]]) -> bool:
    return all({m.rule for m in engine.match(a)} == nf for a, nf in zip(sample, n_found))


if __name__ == "__main__":
    raise SystemExit(main())
