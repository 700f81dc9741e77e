"""Stories in the store: each new article joins or starts one in the transaction that
stores it, and later matches of a story's rule are kept without a new alert.

The decision is the pure ``monitor.stories.StoryIndex``; this module keeps one per
process in step with the database and writes what it decides. Saving transactions
that assign stories are serialised: a thread lock in the process and, on PostgreSQL,
a transaction-scoped advisory lock taken first thing, before any row lock (so it
cannot deadlock). Each one reads the stories other replicas assigned since its last
look, then decides: two replicas storing two copies of one story at the same moment
end with one story, and the outcome is the one a single process would reach.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, text, update

from monitor.article import Article, StoryRef
from monitor.store.tables import article, article_date, match, story
from monitor.stories.assign import Prepared, StoryIndex, StorySettings
from monitor.stories.ingest import story_text
from monitor.stories.spike import SpikeSettings

#: The smallest step of time both databases keep.
_TICK = timedelta(microseconds=1)
#: pg_advisory_xact_lock key of story assignment ("story" in ASCII).
_LOCK_KEY = 0x73746F7279


@dataclass(frozen=True)
class StoryPolicy:
    """How rules alert on stories (from the config, built by the service)."""

    settings: StorySettings = field(default_factory=StorySettings)
    #: Rules with ``alert_per: story`` -> their ``story_updates`` ("none" / "digest").
    per_story: Mapping[str, str] = field(default_factory=dict)
    #: When a held alert of a rule goes out in its digest: (rule, now) -> release time.
    release_at: Callable[[str, datetime], datetime] | None = None
    #: Spike rules -> their settings: matches stored without alerts, one alert per
    #: episode (monitor.store.spikes).
    spikes: Mapping[str, SpikeSettings] = field(default_factory=dict)


class StoryCache:
    """This process's open stories, synchronised with the database under the lock."""

    def __init__(self, policy: StoryPolicy) -> None:
        self.policy = policy
        self.lock = threading.Lock()
        self.index = StoryIndex(self.policy.settings)
        self._last_article = -1  # -1: load everything on the next sync
        #: The latest first_seen of a story this process knows (see ``not_before``).
        self._latest: datetime | None = None

    def invalidate(self) -> None:
        """Forget the in-memory state (a transaction that changed it rolled back)."""
        self.index = StoryIndex(self.policy.settings)
        self._last_article = -1
        self._latest = None

    def not_before(self, now: datetime) -> datetime:
        """``now``, or just after the latest first_seen of a story already stored if
        ``now`` is earlier (a microsecond later: what both databases keep).

        Each saving thread reads the clock before it waits for the assignment lock, so
        the transactions can take the lock in another order than their clocks: stories
        would then be stored out of time order, and a spike episode's count (which
        assumes arrivals in time order) could end an episode and fire it again. Called
        under the lock after ``sync``, it keeps time in assignment order, also across
        replicas (what they stored is synced first)."""
        latest = self._latest
        return now if latest is None or now >= latest else latest + _TICK

    def _saw(self, first_seen: datetime) -> None:
        if self._latest is None or first_seen > self._latest:
            self._latest = first_seen

    def begin(self, conn: Connection) -> None:
        """Take the cross-replica lock (first statement of the transaction)."""
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})

    def sync(self, conn: Connection, now: datetime) -> None:
        """Load the stories assigned since the last look (by anyone)."""
        window = timedelta(seconds=self.policy.settings.window_s)
        if self._last_article < 0:
            self.index = StoryIndex(self.policy.settings)
            touched = set(conn.scalars(select(story.c.id).where(story.c.first_seen > now - window)))
        else:
            touched = set(conn.scalars(select(article.c.story_id).where(
                article.c.id > self._last_article, article.c.story_id.is_not(None))))
        self._last_article = conn.scalar(
            select(func.coalesce(func.max(article.c.id), 0))
            .where(article.c.story_id.is_not(None))) or 0
        if not touched:
            return
        rows = conn.execute(select(story).where(story.c.id.in_(touched),
                                                story.c.first_seen > now - window)).all()
        sigs = conn.execute(select(article.c.story_id, article.c.story_sig)
                            .where(article.c.story_id.in_(touched),
                                   article.c.story_sig.is_not(None))
                            .order_by(article.c.id)).all()
        # Each story's date: that of its first article with one (as StoryIndex.add keeps it).
        dates: dict[int, datetime] = {}
        for story_id, when in conn.execute(
                select(article.c.story_id, article_date)
                .where(article.c.story_id.in_(touched), article_date.is_not(None))
                .order_by(article.c.id)):
            dates.setdefault(story_id, when)
        for r in sorted(rows, key=lambda r: r.id):
            centroid, terms = (unpack_story_state(bytes(r.packed)) if r.packed is not None
                               else (r.centroid, r.terms))  # written before 0015
            self.index.close(r.id)
            self.index.open(r.id, r.first_seen, centroid, r.articles, terms, dates.get(r.id))
            self._saw(r.first_seen)
        open_ids = {r.id for r in rows}
        for story_id, sig in sigs:
            if story_id in open_ids:
                self.index.add_signature(story_id, bytes(sig))

    def assign(self, conn: Connection, items: Sequence[tuple[int, Article]],
               now: datetime, prepared: Mapping[str, Prepared] | None = None,
               ) -> dict[int, int]:
        """Put each new (article id, article) in a story, in order; article id -> story id.
        ``prepared``: what was worked out of their texts already, by article key.

        New stories get their ids here, the next after the largest stored: assignment
        is serialised (see the module docstring), so no other writer inserts a story
        meanwhile, and the batch needs no round trip per new story (most articles
        start one). New stories are then inserted, the articles' story ids and the
        older stories' new state written: one executemany each.
        """
        out: dict[int, int] = {}
        arts: list[dict[str, Any]] = []
        created: dict[int, str] = {}
        next_id: int | None = None
        ready = prepared or {}
        for article_id, art in sorted(items, key=lambda it: it[0]):
            placement = self.index.place(ready.get(art.key) or story_text(art), now, art.date)
            story_id = placement.story
            if story_id is None:
                if next_id is None:
                    next_id = (conn.scalar(select(func.max(story.c.id))) or 0) + 1
                story_id, next_id = next_id, next_id + 1
                created[story_id] = art.title[:500]
                self._saw(now)
            self.index.add(story_id, placement, now)
            arts.append({"b_id": article_id, "story_id": story_id,
                         "story_sig": placement.signature})
            out[article_id] = story_id
            self._last_article = max(self._last_article, article_id)
        if not arts:
            return out
        touched = [(sid, s) for sid in sorted(set(out.values()))
                   if (s := self.index.stories.get(sid)) is not None]
        if created:
            conn.execute(insert(story), [
                {"id": sid, "title": created[sid], "first_seen": now, "last_seen": now,
                 "articles": s.articles, "packed": pack_story_state(s.centroid, s.terms)}
                for sid, s in touched if sid in created])
        conn.execute(_ARTICLE_UPDATE, arts)
        older = [{"b_id": sid, "articles": s.articles, "last_seen": now,
                  "packed": pack_story_state(s.centroid, s.terms)}
                 for sid, s in touched if sid not in created]
        if older:
            conn.execute(_STORY_UPDATE, older)
        return out


# Built once: building a statement per article was most of the cost of assigning it.
_ARTICLE_UPDATE = (update(article).where(article.c.id == bindparam("b_id"))
                   .values(story_id=bindparam("story_id"), story_sig=bindparam("story_sig")))
_STORY_UPDATE = (update(story).where(story.c.id == bindparam("b_id"))
                 .values(articles=bindparam("articles"), last_seen=bindparam("last_seen"),
                         packed=bindparam("packed")))


def pack_story_state(centroid: Mapping[str, float], terms: Mapping[str, int]) -> bytes:
    """A story's centroid and term counts as ``story.packed``: their sizes (two
    little-endian uint32), the weights (float64: exact, so a restart or another replica
    decides the same) and the counts (int64), then the terms joined by NUL (words hold
    none), in the dicts' order (a centroid's norm is summed in it). Encoding it costs
    a tenth of JSON's float formatting."""
    names = "\0".join([*centroid, *terms])
    if names.count("\0") != max(len(centroid) + len(terms) - 1, 0):
        raise ValueError("a story term holds NUL")
    return struct.pack(f"<II{len(centroid)}d{len(terms)}q", len(centroid), len(terms),
                       *centroid.values(), *terms.values()) + names.encode()


def unpack_story_state(data: bytes) -> tuple[dict[str, float], dict[str, int]]:
    """``pack_story_state``'s centroid and term counts, in their order."""
    n_centroid, n_terms = struct.unpack_from("<II", data)
    values = struct.unpack_from(f"<{n_centroid}d{n_terms}q", data, 8)
    start = 8 + 8 * (n_centroid + n_terms)
    names = data[start:].decode().split("\0") if n_centroid + n_terms else []
    weights: tuple[float, ...] = values[:n_centroid]
    counts: tuple[int, ...] = values[n_centroid:]
    return dict(zip(names, weights)), dict(zip(names[n_centroid:], counts))


def alerted_pairs(conn: Connection, pairs: Sequence[tuple[int, str]],
                  new: Sequence[int]) -> set[tuple[int, str]]:
    """Of (story id, rule) pairs, those with an alerted match stored before the ``new`` ones."""
    stories = {s for s, _ in pairs}
    if not stories:
        return set()
    rows = conn.execute(select(article.c.story_id, match.c.rule).distinct()
                        .join(article, article.c.id == match.c.article_id)
                        .where(article.c.story_id.in_(stories), match.c.id.not_in(new),
                               match.c.alerted_at.is_not(None))).all()
    return {(r.story_id, r.rule) for r in rows} & set(pairs)


def story_alert_status(
    policy: StoryPolicy, conn: Connection, matched: Sequence[tuple[int, int | None, str]],
    new: Sequence[int], now: datetime,
) -> list[tuple[str, datetime] | None]:
    """For each match to alert (match id, story id, rule), in order: the alert status
    and due time of its alert rows, or None (stored as a match only, no alert).
    ``new``: every match this transaction inserted."""
    known = alerted_pairs(conn, [(s, r) for _, s, r in matched
                                 if s is not None and r in policy.per_story], new)
    out: list[tuple[str, datetime] | None] = []
    for _, story_id, rule in matched:
        updates = policy.per_story.get(rule)
        if updates is None or story_id is None or (story_id, rule) not in known:
            out.append(("pending", now))
            if story_id is not None:
                known.add((story_id, rule))
        elif updates == "digest" and policy.release_at is not None:
            out.append(("held", policy.release_at(rule, now)))
        else:
            out.append(None)
    return out



def story_refs(conn: Connection, ids: set[int]) -> dict[int, StoryRef]:
    """The stories of alerted articles, with the feeds that carried them."""
    from monitor.store.tables import article_source, feed

    if not ids:
        return {}
    outlets: dict[int, list[str]] = {}
    for story_id, name in conn.execute(
            select(article.c.story_id, feed.c.name)
            .join(article_source, article_source.c.article_id == article.c.id)
            .join(feed, feed.c.id == article_source.c.feed_id)
            .where(article.c.story_id.in_(ids)).order_by(article_source.c.id)):
        if name not in outlets.setdefault(story_id, []):
            outlets[story_id].append(name)
    first = (select(article.c.story_id, func.min(article.c.id).label("first"))
             .where(article.c.story_id.in_(ids)).group_by(article.c.story_id).subquery())
    links: dict[int, str | None] = {story_id: link for story_id, link in conn.execute(
        select(article.c.story_id, func.coalesce(article.c.link, article.c.canonical_url))
        .join(first, first.c.first == article.c.id))}
    return {r.id: StoryRef(r.id, r.title, r.articles, tuple(outlets.get(r.id, ())),
                           links.get(r.id))
            for r in conn.execute(select(story).where(story.c.id.in_(ids)))}


# -- reading stories (the CLI) ----------------------------------------------------------


@dataclass(frozen=True)
class StoryArticle:
    """One article of a story, for ``stories show``."""

    id: int
    title: str
    url: str | None
    feed: str
    fetched_at: datetime
    language: str | None
    #: Rules that matched it.
    rules: tuple[str, ...]
    #: The entry's published date, else its updated date (None: the feed gave neither;
    #: ``fetched_at`` is when we saw it, never shown as a publication date).
    published: datetime | None = None


@dataclass(frozen=True)
class StoryRecord:
    """A story with its articles, for ``stories list/show``."""

    id: int
    title: str
    first_seen: datetime
    last_seen: datetime
    articles: tuple[StoryArticle, ...]

    @property
    def feeds(self) -> list[str]:
        return list(dict.fromkeys(a.feed for a in self.articles))

    @property
    def rules(self) -> list[str]:
        return sorted({r for a in self.articles for r in a.rules})


class StoryQueries:
    """Story reads of the Store (mixed in: uses its ``_tx``)."""

    _tx: Any

    def list_stories(self, *, since: datetime | None = None, rule: str | None = None,
                     story_id: int | None = None) -> list[StoryRecord]:
        """Stories last seen at or after ``since`` (with a match of ``rule``), newest first."""
        query = select(story).order_by(story.c.last_seen.desc(), story.c.id.desc())
        if since is not None:
            query = query.where(story.c.last_seen >= since)
        if story_id is not None:
            query = query.where(story.c.id == story_id)
        if rule is not None:
            query = query.where(story.c.id.in_(
                select(article.c.story_id).join(match, match.c.article_id == article.c.id)
                .where(match.c.rule == rule)))

        def work(conn: Connection) -> list[StoryRecord]:
            return story_records(conn, conn.execute(query).all())

        return self._tx("listing stories", work, readonly=True)  # type: ignore[no-any-return]


def story_records(conn: Connection, stories: Sequence[Any]) -> list[StoryRecord]:
    """``story`` rows as records, with their articles (feed, rules that matched them)."""
    from monitor.store.tables import feed

    ids = [s.id for s in stories]
    arts = conn.execute(
        select(article.c.id, article.c.story_id, article.c.title, article.c.link,
               article.c.fetched_at, article.c.language, feed.c.name.label("feed"),
               article_date.label("published"))
        .join(feed, feed.c.id == article.c.first_feed_id)
        .where(article.c.story_id.in_(ids)).order_by(article.c.id)).all() if ids else []
    rules: dict[int, list[str]] = {}
    for art_id, r in conn.execute(select(match.c.article_id, match.c.rule).where(
            match.c.article_id.in_([a.id for a in arts])).order_by(match.c.id)) if arts else []:
        rules.setdefault(art_id, []).append(r)
    by_story: dict[int, list[StoryArticle]] = {}
    for a in arts:
        by_story.setdefault(a.story_id, []).append(StoryArticle(
            a.id, a.title, a.link, a.feed, a.fetched_at, a.language,
            tuple(rules.get(a.id, ())), a.published))
    return [StoryRecord(s.id, s.title, s.first_seen, s.last_seen,
                        tuple(by_story.get(s.id, ()))) for s in stories]
