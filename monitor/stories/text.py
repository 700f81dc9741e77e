"""Text features for story grouping (pure): terms for the cosine, shingles for MinHash.

Both signals read the same token stream: the title, then the lede (the first
``LEDE_WORDS`` words of the summary or content). Tokens are folded (NFKC,
casefold, accents removed), stop words and one-letter tokens dropped, and a
plural "s" trimmed, so that "Bans" and "ban" count as one term.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

#: How much of the body a story signal reads: coverage of one event agrees
#: in its opening, and reading more only adds the outlets' boilerplate.
LEDE_WORDS = 60
#: A word in at least this share of the items of one feed document (and in at least
#: ``BOILERPLATE_MIN_ITEMS`` of them) is that feed's boilerplate: its template ("M 2.1 -
#: 27km SE of ...", "Time ... UTC ... at epicenter Location Depth"), a repeated summary
#: prefix or suffix, the topic every item carries. It is no evidence that two items are
#: one story, and story grouping does not read it (``without``). 0.6 rather than 0.5: a
#: search feed whose items are split between two events keeps those events' words
#: (bench/RESULTS.md).
BOILERPLATE_SHARE = 0.6
BOILERPLATE_MIN_ITEMS = 3
#: A title term weighs this many body terms. Titles name the event, but a title
#: term already counts again when the lede repeats it; 2.0 measured worse (bench/RESULTS.md).
TITLE_WEIGHT = 1.0

_WORD = re.compile(r"[^\W_]+")
# Common function words of the languages the feeds carry most; news text
# without them is what the labelled corpus ships, so both sides agree.
STOP_WORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    few for from further had has have having he her here hers herself him himself his how
    i if in into is it its itself just me more most my myself no nor not now of off on once
    only or other our ours out over own said same say says she should so some such than
    that the their theirs them then there these they this those through to too under until
    up very was we were what when where which while who whom why will with would you your
    new news its it's via one two get got us
    der die das und ist nicht ein eine einer den dem des mit von zu im auf für fur sich als
    auch es an bei nach wie aus wird sind le la les et des du un une est pour dans que qui
    sur par pas au aux ce il el los las por con para una del se lo al""".split()
)


def fold(text: str) -> str:
    """Casefolded text with accents removed (NFKC first)."""
    if text.isascii():  # most news text: skip the Unicode work
        return text.casefold()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _stem(word: str) -> str:
    # Plural/verb "s" only: a full stemmer costs more than it gains on titles.
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def tokens(text: str, limit: int | None = None) -> list[str]:
    """Content words of ``text`` in order (at most ``limit``), interned to share memory."""
    out: list[str] = []
    for word in _WORD.findall(fold(text)):
        if len(word) < 2 or word in STOP_WORDS or word.isdigit():
            continue
        out.append(sys.intern(_stem(word)))
        if limit is not None and len(out) >= limit:
            break
    return out


@dataclass(frozen=True)
class StoryText:
    """What story grouping reads of an article: its title and lede tokens."""

    title: tuple[str, ...]
    lede: tuple[str, ...]
    #: ISO 639-1 code (None: unknown): picks the word-frequency list of the IDF.
    language: str | None = None

    @classmethod
    def of(cls, title: str, body: str, language: str | None = None) -> StoryText:
        return cls(tuple(tokens(title)), tuple(tokens(body, LEDE_WORDS)), language)

    def without(self, words: frozenset[str]) -> StoryText:
        """This text with ``words`` (its feed's boilerplate) left out."""
        if not words:
            return self
        return StoryText(tuple(t for t in self.title if t not in words),
                         tuple(t for t in self.lede if t not in words), self.language)

    def term_counts(self) -> dict[str, float]:
        """Term frequencies, title terms weighted ``TITLE_WEIGHT``."""
        counts: dict[str, float] = {}
        for t in self.title:
            counts[t] = counts.get(t, 0.0) + TITLE_WEIGHT
        for t in self.lede:
            counts[t] = counts.get(t, 0.0) + 1.0
        return counts

    def shingles(self, size: int = 2) -> set[str]:
        """Word n-grams of title + lede: the near-duplicate signal."""
        words = self.title + self.lede
        if len(words) < size:
            return {" ".join(words)} if words else set()
        return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def feed_boilerplate(texts: Iterable[StoryText]) -> frozenset[str]:
    """The words that many items of one feed document carry (``BOILERPLATE_SHARE``).

    Read from the whole document, not only its unseen items: a feed polled once an hour
    brings one new item at a time, and its template is the same in every poll."""
    counts: Counter[str] = Counter()
    items = 0
    for text in texts:
        items += 1
        counts.update(set(text.title).union(text.lede))
    need = max(BOILERPLATE_MIN_ITEMS, BOILERPLATE_SHARE * items)
    return frozenset(w for w, n in counts.items() if n >= need)
