"""How far could another grouping method go on the labelled stories? (issue 9, §4)

``bench/stories.py`` measures the daemon's online grouping. This asks what the
target (pairwise precision >= 0.95 with recall >= 0.80 on
``corpus/google_news_stories/dev.jsonl``) would take, with methods the daemon
does not use:

* **offline** average-linkage clustering of TF-IDF vectors (the IDF fitted on the
  whole file, every article seeing every other: no online method does better with
  the same features), cut at several cosine distances;
* **a static embedding model shipped inside a PyPI package** (WordLlama's
  256-dimension ``l2_supercat``, whose weights and tokenizer are in the wheel: the
  issue allows such a model only), as an online centroid clusterer like the
  daemon's, alone and concatenated with the daemon's word-list TF-IDF vectors.

Each line prints pairwise P / R / F1 and the number of stories on the whole file
and on its even and odd halves (a threshold must hold on both).

Not a dependency of the project: ``pip install scipy wordllama`` first (numpy is
one already). Run: python bench/stories_ceiling.py
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stories import load, scores  # noqa: E402

from monitor.stories import prior  # noqa: E402
from monitor.stories.text import tokens  # noqa: E402


def fitted_tfidf(rows: list[dict[str, object]]) -> np.ndarray:
    """Unit TF-IDF rows, the IDF fitted on the whole file (smoothed, as scikit-learn's)."""
    docs = [Counter(f"{r['title']} {r['snippet']}".split()) for r in rows]
    df = Counter(t for d in docs for t in d)
    vocab = {t: i for i, t in enumerate(df)}
    n = len(docs)
    x = np.zeros((n, len(vocab)), np.float32)
    for i, d in enumerate(docs):
        for t, c in d.items():
            x[i, vocab[t]] = c * (math.log((1 + n) / (1 + df[t])) + 1)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def listed_tfidf(rows: list[dict[str, object]]) -> np.ndarray:
    """Unit TF-IDF rows weighed as the daemon weighs English (its tokens, its word list)."""
    table = prior.idf_table("en")
    assert table is not None
    docs = [Counter(tokens(f"{r['title']} {r['snippet']}")) for r in rows]
    vocab = {t: i for i, t in enumerate({t for d in docs for t in d})}
    x = np.zeros((len(docs), len(vocab)), np.float32)
    for i, d in enumerate(docs):
        for t, c in d.items():
            x[i, vocab[t]] = c * table.get(t, prior.UNLISTED)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)


def embedded(rows: list[dict[str, object]]) -> np.ndarray:
    """WordLlama embeddings from the files in its wheel (no download: its loader looks
    for the tokenizer in a folder name that the wheel does not use, so point it there)."""
    import wordllama
    from wordllama import WordLlama

    packaged = Path(wordllama.__file__).parent / "tokenizers"
    with tempfile.TemporaryDirectory() as cache:
        os.symlink(packaged, Path(cache) / "tokenizers")
        model = WordLlama.load(cache_dir=cache, disable_download=True)
        return np.asarray(model.embed([f"{r['title']}. {r['snippet']}" for r in rows],
                                      norm=True), np.float32)


def online(vectors: np.ndarray, threshold: float) -> list[int]:
    """The daemon's rule on dense vectors: join the story whose centroid (the sum of its
    articles' unit vectors) is most similar, if the cosine reaches ``threshold``."""
    sums = np.zeros_like(vectors)
    norms = np.ones(len(vectors), np.float32)
    count, out = 0, []
    for v in vectors:
        if count:
            sims = sums[:count] @ v / norms[:count]
            best = int(sims.argmax())
            if sims[best] >= threshold:
                sums[best] += v
                norms[best] = np.linalg.norm(sums[best])
                out.append(best)
                continue
        sums[count] = v
        norms[count] = np.linalg.norm(v) or 1.0
        out.append(count)
        count += 1
    return out


def halves(name: str, truth: np.ndarray, assign: object) -> str:
    cells = []
    for part in (slice(None), slice(0, None, 2), slice(1, None, 2)):
        s = scores(truth[part].tolist(), assign(part))  # type: ignore[operator]
        cells.append(f"{s['P']:.3f} / {s['R']:.3f} ({int(s['stories'])})")
    return f"{name:<48} " + "   ".join(cells)


def main() -> int:
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    rows = load()
    truth = np.array([int(str(r["story"])) for r in rows])
    print(f"{'method':<48} {'whole file: P / R (stories)':<26}   {'even half':<22}   odd half")
    fitted = fitted_tfidf(rows)
    trees = {}
    for part in ("all", "even", "odd"):
        sl = {"all": slice(None), "even": slice(0, None, 2), "odd": slice(1, None, 2)}[part]
        trees[sl.start, sl.step] = linkage(pdist(fitted[sl], "cosine"), "average")
    for cut in (0.8, 0.85, 0.9):
        print(halves(f"offline average linkage, fitted IDF, cut {cut}", truth,
                     lambda sl, cut=cut: fcluster(trees[sl.start, sl.step], cut,
                                                  "distance").tolist()))
    emb = embedded(rows)
    listed = listed_tfidf(rows)
    both = np.hstack([math.sqrt(0.5) * listed, math.sqrt(0.5) * emb])
    for name, vectors, cuts in (("online centroid, WordLlama", emb, (0.5, 0.55)),
                                ("online centroid, TF-IDF (list) + WordLlama", both,
                                 (0.4, 0.45))):
        for cut in cuts:
            print(halves(f"{name}, {cut}", truth,
                         lambda sl, v=vectors, c=cut: online(v[sl], c)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
