"""Equivalence check: this tree's rule engine against another revision's, whole corpus.

Every match of every article, with all its evidence (each hit's term, field, offsets
and text, and the snippet), must be identical. The rule sets are those of
``bench/matching.py`` (100, 1,000 and 10,000 generated rules, plus the 10,000 set
with 100 regex rules); the articles are the 7,600 AG News items as the matching
bench reads them, and the same 7,600 *mangled*: accents, typographic apostrophes
and dashes, runs of whitespace and line breaks, upper case, part of the text moved
to ``content``, so that offsets map back through a non-identity fold.

The reference revision is exported with ``git archive`` into a temporary directory
and run in a subprocess (``--dump``), so both engines see the same inputs but never
share a module. Prints one row per (corpus, rule set) and exits 1 on any difference.

Run:  python bench/match_equivalence.py [--ref d0092a3] [--sizes 100,1000,10000]
                                       [--keep ref.pickle]
"""

from __future__ import annotations

import argparse
import os
import pickle
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from matchgen import load_articles, make_entities, make_rules, vocabulary

from monitor.article import Article, RuleSpec
from monitor.rules.compile import compile_rules

#: Per article: the matches as plain tuples (rule, hits, snippet).
Output = list[list[tuple[str, tuple[tuple[str, str, int, int, str], ...], str]]]
_ACCENTS = {"e": "é", "a": "à", "o": "ö", "u": "ü", "c": "ç", "n": "ñ"}


def mangle(a: Article, i: int) -> Article:
    """A deterministic non-ASCII, messy-whitespace variant of one article."""
    rng = random.Random(i)

    def messy(text: str) -> str:
        words = text.split(" ")
        out = []
        for w in words:
            r = rng.random()
            if r < 0.08 and w:
                w = "".join(_ACCENTS.get(c, c) if rng.random() < 0.5 else c for c in w)
            elif r < 0.12:
                w = w.upper()
            elif r < 0.14:
                w = w.replace("ss", "ß")
            out.append(w.replace("'", "\u2019") if rng.random() < 0.5 else w)
        seps = [" ", " ", " ", " ", "  ", "\n", " \u2013 ", "\u00a0"]
        return "".join(w + (rng.choice(seps) if k < len(out) - 1 else "")
                       for k, w in enumerate(out)).replace(" - ", " \u2014 ")

    title, summary = messy(a.title), messy(a.summary)
    if i % 3 == 0:
        return replace(a, title=title, summary="", content=summary)
    return replace(a, title=title, summary=summary)


def rule_sets(sizes: list[int], articles: list[Article]) -> list[tuple[str, list[RuleSpec], Any]]:
    words, phrases, names = vocabulary(articles)
    entities = make_entities(names, random.Random(7))
    out = []
    for n in sizes:
        out.append((str(n), make_rules(n, words, phrases, entities, random.Random(n)), entities))
    n = max(sizes)
    rng = random.Random(-n)
    regexes = [RuleSpec(f"re{i}", rf"/\b{rng.choice(words)}(s|ed|)\b/") for i in range(100)]
    out.append((f"{n}+100re", out[-1][1] + regexes, entities))
    return out


def corpora() -> list[tuple[str, list[Article]]]:
    plain = load_articles()
    return [("ag", plain), ("ag-mangled", [mangle(a, i) for i, a in enumerate(plain)])]


def outputs(sizes: list[int]) -> dict[tuple[str, str], Output]:
    """Every match with its evidence, per (corpus, rule set)."""
    found: dict[tuple[str, str], Output] = {}
    cs = corpora()
    for set_name, specs, entities in rule_sets(sizes, cs[0][1]):
        ruleset = compile_rules(specs, entities)
        for corpus_name, articles in cs:
            found[(corpus_name, set_name)] = [
                [(m.rule, tuple((h.term, h.field, h.start, h.end, h.text) for h in m.hits),
                  m.snippet) for m in ruleset.match(a)]
                for a in articles]
    return found


def reference(ref: str, sizes: str) -> dict[tuple[str, str], Output]:
    """Outputs of revision ``ref``'s engine (a git archive run in a subprocess)."""
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(root), "archive", ref, "monitor"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        dump = Path(tmp) / "out.pickle"
        env = {**os.environ, "PYTHONPATH": tmp}
        subprocess.run([sys.executable, __file__, "--dump", str(dump), "--sizes", sizes],
                       check=True, env=env)
        with dump.open("rb") as fh:
            return pickle.load(fh)  # type: ignore[no-any-return]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref", default="d0092a3", help="revision whose engine is the reference")
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--keep", help="reuse (or save) the reference outputs in this file")
    ap.add_argument("--dump", help=argparse.SUPPRESS)
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    if args.dump:
        with open(args.dump, "wb") as fh:
            pickle.dump(outputs(sizes), fh)
        return 0
    t0 = time.monotonic()
    if args.keep and Path(args.keep).exists():
        with open(args.keep, "rb") as fh:
            old = pickle.load(fh)
    else:
        old = reference(args.ref, args.sizes)
        if args.keep:
            with open(args.keep, "wb") as fh:
                pickle.dump(old, fh)
    new = outputs(sizes)
    print(f"reference: {args.ref}   this tree: {Path(__file__).resolve().parents[1]}   "
          f"({time.monotonic() - t0:.0f} s)")
    print(f"{'corpus':<11} {'rules':>10} {'articles':>8} {'matches':>8} {'hits':>8} "
          f"{'differing articles':>18}")
    ok = True
    for key in sorted(old):
        a, b = old[key], new[key]
        diff = [i for i, (x, y) in enumerate(zip(a, b)) if x != y] + list(
            range(min(len(a), len(b)), max(len(a), len(b))))
        ok = ok and not diff
        print(f"{key[0]:<11} {key[1]:>10} {len(b):>8} {sum(map(len, b)):>8} "
              f"{sum(len(m[1]) for ms in b for m in ms):>8} {len(diff):>18}")
        for i in diff[:3]:
            print(f"  article {i}:\n    ref: {a[i] if i < len(a) else None}\n"
                  f"    new: {b[i] if i < len(b) else None}")
    print("identical" if ok else "DIFFERENT")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
