"""Story grouping benchmark: labelled Google News stories through the daemon's assignment.

Streams ``corpus/google_news_stories/dev.jsonl`` (6,365 articles, 76 labelled stories,
title + snippet) in file order through ``monitor.stories`` — the same
``StoryText.of`` + ``StoryIndex.place/add`` the ingest path calls — with every
article arriving at the same instant (the file has no times, so no window closes).
Prints pairwise precision/recall/F1, ARI, the number of stories and articles/s, then
the memory held by 10,000 open stories.

``--sweep`` prints the same metrics over a grid of thresholds on two halves of the
file (even / odd lines): the thresholds are chosen on one half and reported on
the other, so the headline numbers are not tuned to the stories they are measured on.

Run:  python bench/stories.py [--threshold 0.5] [--duplicate 0.6] [--sweep] [--language none]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import time
import tracemalloc
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from math import comb
from pathlib import Path

from monitor.stories.assign import StoryIndex, StorySettings
from monitor.stories.text import StoryText

NOW = datetime(2026, 1, 1, tzinfo=UTC)
#: The corpus is English news: the ingest path passes the detected language, which picks
#: the word-frequency IDF (``--language none``: the online IDF over the open stories).
LANGUAGE: str | None = "en"


def text_of(row: dict[str, object]) -> StoryText:
    return StoryText.of(str(row["title"]), str(row["snippet"]), LANGUAGE)


def load() -> list[dict[str, object]]:
    root = Path(os.environ.get("MONITOR_SHARED_DATA",
                               Path(__file__).resolve().parents[2] / "shared" / "data"))
    path = root / "corpus" / "google_news_stories" / "dev.jsonl"
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def assign(rows: list[dict[str, object]], settings: StorySettings) -> tuple[list[int], float]:
    """Story id per row, in file order, and the seconds it took."""
    index = StoryIndex(settings)
    out: list[int] = []
    next_id = 1
    start = time.perf_counter()
    for row in rows:
        placement = index.place(text_of(row), NOW)
        story = placement.story
        if story is None:
            story, next_id = next_id, next_id + 1
        index.add(story, placement, NOW)
        out.append(story)
    return out, time.perf_counter() - start


def rewrite(row: dict[str, object], rng: random.Random) -> StoryText:
    """A syndicated, lightly rewritten copy: a fifth of the snippet words dropped,
    a title word dropped, the rest in order."""
    title = str(row["title"]).split()
    if len(title) > 3:
        del title[rng.randrange(len(title))]
    words = [w for w in str(row["snippet"]).split() if rng.random() > 0.2]
    return StoryText.of(" ".join(title), " ".join(words), LANGUAGE)


def copies_joined(rows: list[dict[str, object]], settings: StorySettings, n: int = 500) -> float:
    """Share of rewritten copies of already-seen articles placed in their original's story."""
    index = StoryIndex(settings)
    story_of: list[int] = []
    for i, row in enumerate(rows, 1):
        placement = index.place(text_of(row), NOW)
        story = placement.story or i + len(rows)
        index.add(story, placement, NOW)
        story_of.append(story)
    rng = random.Random(11)
    picks = rng.sample(range(len(rows)), n)
    joined = sum(index.place(rewrite(rows[i], rng), NOW).story == story_of[i] for i in picks)
    return joined / n


def scores(truth: list[int], pred: list[int]) -> dict[str, float]:
    """Pairwise precision, recall, F1 and the adjusted Rand index."""
    pairs = lambda counts: sum(comb(n, 2) for n in counts.values())  # noqa: E731
    both = pairs(Counter(zip(truth, pred, strict=True)))
    true_pairs, pred_pairs = pairs(Counter(truth)), pairs(Counter(pred))
    p = both / pred_pairs if pred_pairs else 1.0
    r = both / true_pairs if true_pairs else 1.0
    total = comb(len(truth), 2)
    expected = true_pairs * pred_pairs / total
    top = (true_pairs + pred_pairs) / 2
    ari = (both - expected) / (top - expected) if top != expected else 1.0
    return {"P": p, "R": r, "F1": 2 * p * r / (p + r) if p + r else 0.0, "ARI": ari,
            "stories": len(set(pred))}


def line(name: str, truth: list[int], pred: list[int], seconds: float | None = None) -> str:
    s = scores(truth, pred)
    rate = f"{len(pred) / seconds:9.0f}" if seconds else " " * 9
    return (f"{name:<28} {s['P']:6.3f} {s['R']:6.3f} {s['F1']:6.3f} {s['ARI']:6.3f} "
            f"{int(s['stories']):7d} {rate}")


HEADER = f"{'run':<28} {'P':>6} {'R':>6} {'F1':>6} {'ARI':>6} {'stories':>7} {'art/s':>9}"


def memory_for(settings: StorySettings, rows: list[dict[str, object]], n: int) -> float:
    """MB held by an index with ``n`` open stories (each seeded from a distinct
    corpus article with its words shuffled, so the vocabulary stays realistic)."""
    rng = random.Random(7)
    texts = []
    for i in range(n):
        row = rows[i % len(rows)]
        words = str(row["snippet"]).split()
        rng.shuffle(words)
        texts.append(StoryText.of(f"{row['title']} s{i}", " ".join(words), LANGUAGE))
    gc.collect()
    tracemalloc.start()
    index = StoryIndex(replace(settings, threshold=2.0, duplicate_threshold=2.0))
    base = tracemalloc.get_traced_memory()[0]
    for i, text in enumerate(texts, 1):
        index.add(i, index.place(text, NOW + timedelta(seconds=i)), NOW + timedelta(seconds=i))
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert len(index) == n
    return used / 1e6


def sweep(rows: list[dict[str, object]], base: StorySettings) -> None:
    halves = {"even": rows[0::2], "odd": rows[1::2]}
    print(f"\nthreshold sweep (duplicate {base.duplicate_threshold}) per half")
    print(f"{'threshold':>9} | " + " | ".join(f"{h:^27}" for h in halves))
    print(f"{'':>9} | " + " | ".join(f"{'P':>6} {'R':>6} {'F1':>6} {'ARI':>6}" for _ in halves))
    for t in (0.22, 0.24, 0.25, 0.26, 0.27, 0.28, 0.29, 0.3, 0.32, 0.35):
        cells = []
        for part in halves.values():
            pred, _ = assign(part, replace(base, threshold=t))
            s = scores([int(str(r["story"])) for r in part], pred)
            cells.append(f"{s['P']:6.3f} {s['R']:6.3f} {s['F1']:6.3f} {s['ARI']:6.3f}")
        print(f"{t:>9} | " + " | ".join(cells))


def main() -> None:
    global LANGUAGE
    ap = argparse.ArgumentParser()
    defaults = StorySettings()
    ap.add_argument("--threshold", type=float, default=defaults.threshold)
    ap.add_argument("--duplicate", type=float, default=defaults.duplicate_threshold)
    ap.add_argument("--max-terms", type=int, default=defaults.max_terms)
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--memory-stories", type=int, default=10_000)
    ap.add_argument("--language", default=LANGUAGE, help='"none": the online IDF')
    args = ap.parse_args()
    LANGUAGE = None if args.language == "none" else args.language
    settings = StorySettings(threshold=args.threshold, duplicate_threshold=args.duplicate,
                             max_terms=args.max_terms)
    rows = load()
    truth = [int(str(r["story"])) for r in rows]
    print(f"articles: {len(rows)}  labelled stories: {len(set(truth))}  settings: {settings}")
    print(HEADER)
    pred, seconds = assign(rows, settings)
    print(line("stories (dup + cosine)", truth, pred, seconds))
    pred, seconds = assign(rows, replace(settings, duplicate_threshold=2.0))
    print(line("cosine only", truth, pred, seconds))
    pred, seconds = assign(rows, replace(settings, threshold=2.0))
    print(line("near-duplicates only", truth, pred, seconds))
    for name, cfg in (("dup + cosine", settings),
                      ("cosine only", replace(settings, duplicate_threshold=2.0))):
        print(f"rewritten copies joining their original's story, {name}: "
              f"{copies_joined(rows, cfg):.1%}")
    for h, part in (("even half", rows[0::2]), ("odd half", rows[1::2])):
        pred, seconds = assign(part, settings)
        print(line(h, [int(str(r["story"])) for r in part], pred, seconds))
    if args.sweep:
        sweep(rows, settings)
    if args.memory_stories:
        mb = memory_for(settings, rows, args.memory_stories)
        print(f"\nmemory for {args.memory_stories:,} open stories: {mb:.1f} MB (tracemalloc)")


if __name__ == "__main__":
    main()
