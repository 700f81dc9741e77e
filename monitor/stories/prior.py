"""A static IDF for story grouping (pure): how common a word is in the language at large.

The cosine needs to know which words name an event ("kardashian", "adidas") and which
are everyday ("people", "time"). Counting that over the open stories' articles alone is
poor while few have been seen, and words that a big story repeats lose their weight
exactly while it is being told. A general word-frequency list does not depend on the
stream: it is the same in every process, and a restart has nothing to rebuild.

The list is ``wordfreq``'s "small" one for the article's language (words of frequency
>= 1e-6, ~30,000 per language; the data is frozen since 2021, which an IDF does not
mind). Its words go through the same ``tokens`` as the articles, so a plural and its
singular share one entry. Loaded on first use per language (~0.25 s, 4 MB). The file is
read directly, in wordfreq's documented "cBpack" format (gzipped msgpack: a header,
then lists of words, list i holding the words of frequency 10 ** (-i / 100)):
importing wordfreq itself costs ~1.2 s (ftfy, langcodes) for nothing used here, and
the version is pinned.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import math
from pathlib import Path

from monitor.stories.text import tokens

#: Words per article: turns a word's frequency in running text into the share of
#: articles that carry it (a title + lede is ~30 content words).
ARTICLE_WORDS = 30.0
#: The frequency of a word the list does not hold: rarer than its rarest (~1e-6).
FLOOR = 1e-6
#: wordfreq's lists for these are of words our tokenizer does not split text into.
_UNSEGMENTED = frozenset({"zh", "ja"})


def _list_path(language: str) -> Path | None:
    """wordfreq's small list for ``language`` (found without importing wordfreq)."""
    spec = importlib.util.find_spec("wordfreq")
    if spec is None or spec.origin is None or not language.isalpha():
        return None
    path = Path(spec.origin).parent / "data" / f"small_{language}.msgpack.gz"
    return path if path.is_file() else None


def _frequencies(path: Path) -> dict[str, float]:
    """word -> frequency in running text, from a cBpack file."""
    import msgpack  # type: ignore[import-untyped]  # wordfreq's own dependency

    with gzip.open(path, "rb") as fh:
        header, *buckets = msgpack.load(fh, raw=False)
    if header.get("format") != "cB" or header.get("version") != 1:
        raise ValueError(f"{path}: not a cBpack v1 word list")
    return {word: 10 ** (-i / 100) for i, words in enumerate(buckets) for word in words}


@functools.cache
def idf_table(language: str | None) -> dict[str, float] | None:
    """term -> IDF (plus 1, as the online IDF) for ``language``; None: no list for it."""
    if not language or language in _UNSEGMENTED:
        return None
    path = _list_path(language)
    if path is None:
        return None
    freq: dict[str, float] = {}
    for word, f in _frequencies(path).items():
        folded = tokens(word)
        if len(folded) == 1:  # stop words, digits and multi-part entries drop out
            freq[folded[0]] = freq.get(folded[0], 0.0) + f
    return {t: idf(f) for t, f in freq.items()}


def idf(frequency: float) -> float:
    """The IDF (plus 1) of a word of this frequency in running text."""
    return 1.0 - math.log(min(1.0, max(frequency, FLOOR) * ARTICLE_WORDS))


#: The IDF of a word missing from the list.
UNLISTED = idf(FLOOR)
