"""Story assignment (pure): does a new article join an open story or start one?

Two signals, cheapest first:

1. near-identical text: MinHash of the title+lede word shingles; an article
   whose estimated Jaccard with an open story's article reaches
   ``duplicate_threshold`` joins that story (syndicated and lightly rewritten copies);
2. same-event coverage: TF-IDF cosine of the article against each open story's
   centroid (the sum of its articles' unit vectors); the best story joins when
   the cosine reaches ``threshold``.

IDF comes from a general word-frequency list of the article's language
(``prior``): static, so every process decides the same from the first article on, and
a restart has nothing to rebuild for it. It measured +0.11 recall over the online IDF
below at the same threshold (bench/RESULTS.md). For a language without a list (or
unknown), IDF is the inverse document frequency over the open stories' articles of
such languages (each story keeps how many of them carry each term, and how many
there are under the key ``""``, which no token can be). Articles weighed by a list
are not counted there: their words would skew the weights of the other languages'
terms, and counting them was a fifth of the cost of placing an article. It is
computed from the open stories alone, so any process holding the same open stories
(a restart, another replica) makes the same decision: deterministic given the
arrival order.
An earlier version counted *stories* per term; with many small fragments that
flattens the weights of the words that name an event, and it measured far worse
(bench/RESULTS.md). A story stays open ``window_s`` after its first article.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import repeat
from operator import itemgetter, mul, neg, truediv

from monitor.stories import minhash, prior
from monitor.stories.text import StoryText

Vector = dict[str, float]
#: A centroid is pruned back to ``max_terms`` once it has this many more: sorting it
#: on every article would be the largest cost of an ``add``.
_PRUNE_SLACK = 32


@dataclass(frozen=True)
class StorySettings:
    """How stories are formed (``stories:`` in the config)."""

    #: A story accepts articles this long after its first one (``stories.window``).
    window_s: int = 48 * 3600
    #: Minimum cosine between an article and a story centroid to join it. Precision
    #: first: the lowest threshold whose precision on both halves of bench/stories.py's
    #: corpus is that of the online IDF's default (0.28) before; 0.27 would gain 0.06
    #: recall but merges two neighbouring stories of the odd half (bench/RESULTS.md).
    threshold: float = 0.30
    #: Minimum estimated Jaccard of title+lede shingles for a near-duplicate.
    duplicate_threshold: float = 0.5
    #: Centroid terms kept per story (the heaviest): bounds memory per open story.
    max_terms: int = 128
    #: Candidate stories are those sharing one of the article's ``probe_terms`` heaviest
    #: terms held by at most ``probe_stories`` open stories: a story that shares only
    #: common words with the article cannot reach the threshold anyway, and those long
    #: lists are what would make the cost grow with the number of open stories.
    probe_terms: int = 20
    probe_stories: int = 64
    #: Of those, the ``rerank`` with the largest partial cosine get a full one.
    rerank: int = 8
    #: A story joins only when it shares this many of the article's terms (fewer when
    #: the article has fewer): on real feeds, a headline of two or three words ("maj
    #: php", "Reading and Writing Files in Python") reached the cosine threshold
    #: through one shared word and pulled unrelated articles, years apart, into one story.
    min_shared_terms: int = 2


@dataclass(frozen=True)
class Prepared:
    """What placing an article needs that depends on its text alone: computed before
    the saving transaction, in a parse process when there is one (``prepare``)."""

    text: StoryText
    signature: minhash.Signature | None = field(repr=False)
    #: Its unit vector weighed by its language's word list; None when the language has
    #: none (the online IDF weighs it when it is placed: it depends on the open stories).
    vector: Vector | None = field(repr=False)


def prepare(text: StoryText) -> Prepared:
    """The MinHash signature and, for a language with a word list, the vector."""
    table = prior.idf_table(text.language)
    vector = None
    if table is not None:
        get, unlisted = table.get, prior.UNLISTED
        vector = _unit({t: c * get(t, unlisted) for t, c in text.term_counts().items()})
    return Prepared(text, minhash.signature(text.shingles()), vector)


def _unit(weights: Vector) -> Vector:
    norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
    return {t: w / norm for t, w in weights.items()}


@dataclass(frozen=True)
class Placement:
    """The decision for one article, with the features needed to record it."""

    #: The open story it joins, or None: it starts a new story.
    story: int | None
    #: "duplicate", "similar" or "new".
    reason: str
    #: The cosine or Jaccard estimate that decided (0.0 for a new story).
    score: float
    vector: Vector = field(repr=False)
    signature: minhash.Signature | None = field(repr=False)
    #: The vector was weighed by the online IDF (no word list for the language): the
    #: article then counts in that IDF's document frequencies.
    online: bool = False
    #: The article's date (published, else updated; None: the feed gave neither).
    published: datetime | None = None


@dataclass
class OpenStory:
    """An open story as the index holds it (also what the store persists)."""

    id: int
    first_seen: datetime
    #: Sum of its articles' unit vectors, pruned to the heaviest terms.
    centroid: Vector
    #: L2 norm of ``centroid``.
    norm: float
    articles: int = 0
    #: MinHash signatures of its articles (for the near-duplicate check).
    signatures: list[minhash.Signature] = field(default_factory=list)
    #: term -> how many of its articles weighed by the online IDF carry it (its share
    #: of that IDF's document frequency); ``""`` -> how many such articles it has.
    terms: dict[str, int] = field(default_factory=dict)
    #: The date of its first article that has one (None: none has, yet): an article
    #: dated more than the window away from it is other news (see ``StoryIndex``).
    published: datetime | None = None


def _heaviest_first(vector: Vector) -> list[tuple[str, float]]:
    """(term, weight) by weight descending, ties by term: the same order in every process.

    Two sorts in C (by term, then stably by weight) instead of one with a Python key.
    """
    return sorted(sorted(vector.items()), key=itemgetter(1), reverse=True)


class StoryIndex:
    """The open stories, and the decision for each arriving article.

    ``place`` decides (closing stories whose window has passed first); ``add``
    records the decision with the id the caller gave a new story. Between the
    two the caller stores the article; both run in arrival order.

    A story is open for the window after it was first seen, and an article dated
    (published, else updated) more than the window away from the story's date joins
    it by no signal: a feed's first poll brings items years old, which all arrive
    together, and on real feeds "PHP 5.3.0 released" (2009) and a 2016 PHP library
    announcement made one story. Undated articles and stories are not held apart.
    """

    def __init__(self, settings: StorySettings | None = None) -> None:
        self.settings = settings or StorySettings()
        self.stories: dict[int, OpenStory] = {}
        #: term -> {open story: its centroid weight}; the size is the story frequency.
        self._postings: dict[str, dict[int, float]] = {}
        #: LSH band key -> (story, signature) of the articles that produced it.
        self._buckets: dict[bytes, list[tuple[int, minhash.Signature]]] = {}
        #: (first_seen, id) of the open stories: the next to close on top.
        self._closing: list[tuple[datetime, int]] = []
        #: term -> articles of the open stories (weighed by the online IDF) carrying
        #: it, and how many such articles there are.
        self._df: dict[str, int] = {}
        self._articles = 0
        #: Open story -> the L2 norm of its centroid (``OpenStory.norm``, by id).
        self._norms: dict[int, float] = {}

    def __len__(self) -> int:
        return len(self.stories)

    def expire(self, now: datetime) -> list[int]:
        """Close the stories whose window has passed; returns their ids."""
        limit = now - timedelta(seconds=self.settings.window_s)
        closed = []
        while self._closing and self._closing[0][0] <= limit:
            _, story_id = heapq.heappop(self._closing)
            if story_id in self.stories:
                self._drop(story_id)
                closed.append(story_id)
        return closed

    def place(self, text: StoryText | Prepared, now: datetime,
              published: datetime | None = None) -> Placement:
        """Where an article with this text goes (``prepare``d already, or not);
        ``published``: its date (published, else updated), when the feed gave one."""
        self.expire(now)
        ready = text if isinstance(text, Prepared) else prepare(text)
        sig, vector, online = ready.signature, ready.vector, ready.vector is None
        if vector is None:
            vector = self._online_vector(ready.text)
        if sig is not None:
            story, jaccard = self._duplicate_of(sig, published)
            if story is not None:
                return Placement(story, "duplicate", jaccard, vector, sig, online, published)
        story, cosine = self._most_similar(vector, published)
        if story is not None and cosine >= self.settings.threshold:
            return Placement(story, "similar", cosine, vector, sig, online, published)
        return Placement(None, "new", 0.0, vector, sig, online, published)

    def _apart(self, story: OpenStory, published: datetime | None) -> bool:
        """The article's date is more than the window away from the story's."""
        if published is None or story.published is None:
            return False
        return abs((published - story.published).total_seconds()) > self.settings.window_s

    def add(self, story_id: int, placement: Placement, now: datetime) -> OpenStory:
        """Record an article in story ``story_id`` (opened now if new to the index)."""
        story = self.stories.get(story_id)
        if story is None:
            story = self.open(story_id, now, {})
        story.articles += 1
        if story.published is None:
            story.published = placement.published
        if placement.online:
            self._count_terms(story, {t: 1 for t in placement.vector}, 1)
        centroid = story.centroid
        square = story.norm * story.norm if centroid else 0.0
        for term, weight in placement.vector.items():
            old = centroid.get(term, 0.0)
            centroid[term] = w = old + weight
            square += w * w - old * old
            self._postings.setdefault(term, {})[story_id] = w
        # Kept up to date term by term: summing the whole centroid per article cost more.
        story.norm = self._norms[story_id] = math.sqrt(square) if square > 0 else 1.0
        if len(centroid) > self.settings.max_terms + _PRUNE_SLACK:
            self._set_centroid(story, centroid)
        if placement.signature is not None:
            self.add_signature(story_id, placement.signature)
        return story

    def open(self, story_id: int, first_seen: datetime, centroid: Vector,
             articles: int = 0, terms: dict[str, int] | None = None,
             published: datetime | None = None) -> OpenStory:
        """Put a story in the index (a new one, or one loaded from the store)."""
        story = OpenStory(story_id, first_seen, {}, 0.0, articles, published=published)
        self.stories[story_id] = story
        heapq.heappush(self._closing, (first_seen, story_id))
        self._set_centroid(story, dict(centroid))
        terms = dict(terms or {})
        # Stored before the count was kept: every article was counted.
        counted = terms.pop("", articles if terms else 0)
        self._count_terms(story, terms, counted)
        return story

    def _count_terms(self, story: OpenStory, terms: dict[str, int], articles: int) -> None:
        """Add (or with negative counts, take away) articles weighed by the online IDF
        to its document frequency."""
        df, own = self._df, story.terms
        for term, n in terms.items():
            own[term] = own.get(term, 0) + n
            df[term] = left = df.get(term, 0) + n
            if left <= 0:
                del df[term]
        if articles:
            own[""] = left = own.get("", 0) + articles
            if left <= 0:
                del own[""]
            self._articles += articles

    def close(self, story_id: int) -> None:
        """Take a story out (to reload it, or because it closed)."""
        if story_id in self.stories:
            self._drop(story_id)

    def add_signature(self, story_id: int, sig: minhash.Signature) -> None:
        self.stories[story_id].signatures.append(sig)
        for key in minhash.bands(sig):
            self._buckets.setdefault(key, []).append((story_id, sig))

    def _online_vector(self, text: StoryText) -> Vector:
        """The unit TF-IDF vector of an article whose language has no word list: a
        smoothed IDF counting the article itself among the open stories' articles."""
        df, n = self._df, self._articles + 2
        log = math.log
        return _unit({t: c * (log(n / (2 + df.get(t, 0))) + 1.0)
                      for t, c in text.term_counts().items()})

    def _duplicate_of(self, sig: minhash.Signature,
                      published: datetime | None = None) -> tuple[int | None, float]:
        best: tuple[float, int] | None = None
        seen: set[tuple[int, minhash.Signature]] = set()
        for key in minhash.bands(sig):
            for entry in self._buckets.get(key, ()):
                # An article sharing several bands is one candidate, scored once.
                if entry in seen:
                    continue
                seen.add(entry)
                story_id, other = entry
                if published is not None and self._apart(self.stories[story_id], published):
                    continue
                score = minhash.similarity(sig, other)
                # Ties go to the older story: the same answer in every process.
                if best is None or (score, -story_id) > (best[0], -best[1]):
                    best = (score, story_id)
        if best is None or best[0] < self.settings.duplicate_threshold:
            return None, 0.0
        return best[1], best[0]

    def _most_similar(self, vector: Vector,
                      published: datetime | None = None) -> tuple[int | None, float]:
        cfg = self.settings
        partial: dict[int, float] = {}
        common: list[tuple[str, float]] = []
        # Every term held by at most ``probe_stories`` open stories scores through its
        # postings; the common ones (in many stories, light by their IDF) are added for
        # the best ``rerank`` candidates only.
        get, postings = partial.get, self._postings
        for rank, (term, weight) in enumerate(_heaviest_first(vector)):
            holders = postings.get(term)
            if not holders:
                continue
            if rank >= cfg.probe_terms or len(holders) > cfg.probe_stories:
                common.append((term, weight))
                continue
            for story_id, c in holders.items():
                partial[story_id] = get(story_id, 0.0) + weight * c
        stories = self.stories
        terms, shared = vector.keys(), min(cfg.min_shared_terms, len(vector))
        common_terms = [t for t, _ in common]
        common_weights = [w for _, w in common]
        # (partial cosine, -id) of every candidate, the loop in C: there may be
        # hundreds of them, and this was a third of the cost of placing an article.
        ids = list(partial)
        scored = zip(map(truediv, partial.values(), map(self._norms.__getitem__, ids)),
                     map(neg, ids))
        best: tuple[float, int] | None = None
        for _, neg_id in heapq.nlargest(cfg.rerank, scored):
            story = stories[-neg_id]
            centroid = story.centroid
            if len(terms & centroid.keys()) < shared or self._apart(story, published):
                continue
            # The same products summed in the same order as a generator would, in C.
            dot = partial[-neg_id] + sum(map(mul, common_weights,
                                             map(centroid.get, common_terms, repeat(0.0))))
            cosine = dot / story.norm
            # Ties go to the older story: the same answer in every process.
            if best is None or (cosine, neg_id) > (best[0], -best[1]):
                best = (cosine, -neg_id)
        return (best[1], best[0]) if best else (None, 0.0)

    def _set_centroid(self, story: OpenStory, centroid: Vector) -> None:
        """Keep the heaviest ``max_terms`` terms, and the postings in step."""
        if len(centroid) > self.settings.max_terms + _PRUNE_SLACK:
            ranked = sorted(centroid.items(), key=lambda tw: (-tw[1], tw[0]))
            centroid = dict(ranked[: self.settings.max_terms])
        for term in [t for t in story.centroid if t not in centroid]:
            self._unpost(term, story.id)
        for term, weight in centroid.items():
            self._postings.setdefault(term, {})[story.id] = weight
        story.centroid = centroid
        story.norm = self._norms[story.id] = (
            math.sqrt(sum(w * w for w in centroid.values())) or 1.0)

    def _unpost(self, term: str, story_id: int) -> None:
        holders = self._postings.get(term)
        if holders is not None:
            holders.pop(story_id, None)
            if not holders:
                del self._postings[term]

    def _drop(self, story_id: int) -> None:
        story = self.stories.pop(story_id)
        del self._norms[story_id]
        counted = story.terms.get("", 0)
        self._count_terms(story, {t: -n for t, n in story.terms.items() if t}, -counted)
        for term in story.centroid:
            self._unpost(term, story_id)
        for sig in story.signatures:
            for key in minhash.bands(sig):
                rest = [e for e in self._buckets.get(key, ()) if e[0] != story_id]
                if rest:
                    self._buckets[key] = rest
                else:
                    self._buckets.pop(key, None)
