"""The matching benchmarks' inputs: AG News articles and seeded rule sets from them.

Kept apart from the engine (it imports only ``monitor.article``), so that
``match_equivalence.py`` can generate the very same inputs for another revision.
"""

from __future__ import annotations

import csv
import os
import random
import re
from collections import Counter
from pathlib import Path

from monitor.article import Article, RuleSpec

_WORD = re.compile(r"[A-Za-z][A-Za-z']+")


def load_articles() -> list[Article]:
    root = Path(os.environ.get("MONITOR_SHARED_DATA",
                               Path(__file__).resolve().parents[2] / "shared" / "data"))
    path = root / "corpus" / "ag_news" / "test.csv"
    out = []
    with path.open(newline="", encoding="utf-8") as fh:
        for i, (_label, title, desc) in enumerate(csv.reader(fh)):
            out.append(Article("https://feed.example/ag", "AG", ("news",), str(i), None, None,
                               None, title=title, summary=desc.replace("\\", " ")))
    return out


def vocabulary(articles: list[Article]) -> tuple[list[str], list[str], list[str]]:
    """Mid-frequency words, frequent bigrams and capitalised names from the corpus."""
    words: Counter[str] = Counter()
    bigrams: Counter[str] = Counter()
    names: Counter[str] = Counter()
    for a in articles:
        toks = _WORD.findall(a.title + " " + a.summary)
        words.update(t.lower() for t in toks if len(t) >= 4 and "'" not in t)
        bigrams.update(f"{x.lower()} {y.lower()}" for x, y in zip(toks, toks[1:])
                       if len(x) > 3 and len(y) > 3)
        names.update(t for t in toks if t[0].isupper() and len(t) > 3 and "'" not in t)
    # Monitoring rules name specific things: skip the most frequent words (rank < 300),
    # which would make every rule fire on a large share of all articles.
    common = [w for w, _ in words.most_common(8000)[300:]]
    top_bigrams = [b for b, _ in bigrams.most_common(3000)[100:]]
    return common, top_bigrams, [n for n, _ in names.most_common(3000)[100:]]


def make_entities(names: list[str], rng: random.Random) -> dict[str, list[str]]:
    entities: dict[str, list[str]] = {}
    pool = names[:]
    rng.shuffle(pool)
    for i in range(60):
        k = rng.randint(3, 10)
        entities[f"E{i}"] = [pool.pop() for _ in range(k)]
    return entities


def make_rules(n: int, words: list[str], phrases: list[str], entities: dict[str, list[str]],
               rng: random.Random) -> list[RuleSpec]:
    ents = list(entities)
    w = lambda: rng.choice(words)  # noqa: E731
    kinds = [
        (25, lambda: w()),
        (15, lambda: f'"{rng.choice(phrases)}"'),
        (15, lambda: f"{w()} AND {w()}"),
        (5, lambda: f"{w()} {w()} {w()}"),
        (10, lambda: f"({w()} OR {w()}) AND {w()}"),
        (8, lambda: f"{w()} AND NOT {w()}"),
        (8, lambda: f"{w()} NEAR/{rng.randint(1, 8)} {w()}"),
        (7, lambda: f"{w()[:5]}* AND {w()}"),
        (7, lambda: f"@{rng.choice(ents)} AND ({w()} OR {w()})"),
    ]
    weights = [k for k, _ in kinds]
    return [RuleSpec(f"r{i}", rng.choices(kinds, weights)[0][1]()) for i in range(n)]
