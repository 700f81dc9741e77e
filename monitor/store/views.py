"""Read queries for the dashboard and the API (mixed into ``repo.Store``).

One method per resource, shared by the page and its JSON twin: a handler parses
its request into a filter, calls one of these, and renders the result. Lists are
newest first and paged by an opaque cursor (keyset on the row id, so a page
stays cheap however deep it is and rows arriving meanwhile shift nothing).
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    Connection,
    Select,
    exists,
    func,
    inspect,
    select,
    text,
    update,
)

from monitor.article import Hit
from monitor.errors import MonitorError
from monitor.store.search import article_matches
from monitor.store.stories import StoryRecord, story_records
from monitor.store.tables import alert, article, article_date, digest, feed, match, story

T = TypeVar("T")
#: The most rows one page may ask for.
MAX_PAGE = 200


class CursorError(MonitorError, ValueError):
    """The page cursor is not one this server gave out."""


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The row id a cursor continues after (None: the first page)."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = raw.partition(":")
        if kind == "id" and value.isdigit():
            return int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise CursorError(f"invalid cursor {cursor[:40]!r}: use the next_cursor of a response")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, newest first."""

    items: list[T]
    #: Pass as ``cursor`` to get the next page; None on the last one.
    next_cursor: str | None


@dataclass(frozen=True)
class MatchFilter:
    """Which matches to list (every field optional; all given must hold)."""

    rule: str | None = None
    #: Feed name (as configured) where the article was first seen.
    feed: str | None = None
    tag: str | None = None
    #: Matched at or after / before these times.
    since: datetime | None = None
    until: datetime | None = None
    #: Words that must all appear in the article (full-text search).
    search: str | None = None
    #: Only matches of articles in this story.
    story: int | None = None
    #: Only matches newer than this match id (live updates).
    after_id: int | None = None


@dataclass(frozen=True)
class MatchView:
    """A stored match with its article and evidence: the one match type of the
    dashboard, the API, the exports and ``news-monitor matches``."""

    id: int
    rule: str
    article_id: int
    title: str
    #: The article's link as the feed gave it (may be any scheme: check before linking).
    url: str | None
    #: Name of the feed the article was first seen in.
    feed: str
    #: The entry's published date, else its updated date (None: the feed gave neither).
    published: datetime | None
    matched_at: datetime
    terms: tuple[str, ...]
    snippet: str
    hits: tuple[Hit, ...]
    #: The story of the article (None: stored before stories existed, or stories off).
    story: int | None = None
    #: The article's language (ISO 639-1; None: unknown).
    language: str | None = None


@dataclass(frozen=True)
class ArticleView:
    """A stored article (text fields shortened to a summary for lists)."""

    id: int
    title: str
    url: str | None
    feed: str
    published: datetime | None
    fetched_at: datetime
    summary: str
    #: Rules that matched it.
    rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class AlertView:
    """An outbox row with the rule and article it is about."""

    id: int
    rule: str | None
    kind: str
    recipient: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None
    title: str | None


@dataclass(frozen=True)
class RuleStats:
    """How often a rule matched recently."""

    last_24h: int = 0
    last_7d: int = 0
    #: Matches per UTC day, oldest first, for the last 14 days.
    per_day: tuple[int, ...] = ()


@dataclass(frozen=True)
class OutboxSummary:
    """Alerts by status, and the age of the oldest one waiting."""

    by_status: dict[str, int] = field(default_factory=dict)
    oldest_pending_at: datetime | None = None


class ViewQueries:
    """Read queries for the web; needs ``_tx`` from the Store."""

    _tx: Callable[..., Any]

    def _known_matches(self) -> KnownMatches:
        known = self.__dict__.get("_known")
        if known is None:
            known = self.__dict__.setdefault("_known", KnownMatches())
        return known  # type: ignore[no-any-return]

    def match_page(self, where: MatchFilter, cursor: str | None = None,
                   limit: int = 50) -> Page[MatchView]:
        """Matches passing ``where``, newest first (by id: the order they were stored)."""
        after = decode_cursor(cursor)
        size = _bounded(limit)

        def work(conn: Connection) -> Page[MatchView]:
            # The page's ids through the filters (narrow rows, indexes only), then only
            # those rows: one query sorting the joined wide rows of every searched
            # article was 5x slower on a common word. Both in one statement (a round
            # trip to a busy PostgreSQL costs more than the query); rows already read
            # come from KnownMatches, the rest from a second query.
            ids = _match_ids(conn, where)
            if ids is None:
                return Page([], None)
            if after is not None:
                ids = ids.where(match.c.id < after)
            ids = ids.order_by(match.c.id.desc()).limit(size + 1)
            return _page(_match_views(conn, ids, self._known_matches()), limit)

        return self._tx("listing matches", work, readonly=True)  # type: ignore[no-any-return]

    def match_views(self, where: MatchFilter, batch: int = MAX_PAGE) -> Iterator[MatchView]:
        """Every match passing ``where``, newest first, read a page at a time."""
        cursor: str | None = None
        while True:
            page = self.match_page(where, cursor, batch)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def match_view(self, match_id: int) -> MatchView | None:
        """One match with its evidence, or None."""

        def work(conn: Connection) -> MatchView | None:
            found = _match_views(conn, [match_id], self._known_matches())
            return found[0] if found else None

        return self._tx("reading a match", work, readonly=True)  # type: ignore[no-any-return]

    def story_page(self, *, since: datetime | None = None, rule: str | None = None,
                   cursor: str | None = None, limit: int = 50) -> Page[StoryRecord]:
        """Stories, newest first (seen since ``since``, with a match of ``rule``)."""
        after = decode_cursor(cursor)
        query = select(story)
        if since is not None:
            query = query.where(story.c.last_seen >= since)
        if rule:
            query = query.where(exists().where(article.c.story_id == story.c.id,
                                               match.c.article_id == article.c.id,
                                               match.c.rule == rule))
        if after is not None:
            query = query.where(story.c.id < after)
        query = query.order_by(story.c.id.desc()).limit(_bounded(limit) + 1)

        def work(conn: Connection) -> Page[StoryRecord]:
            return _page(story_records(conn, conn.execute(query).all()), limit)

        return self._tx("listing stories", work, readonly=True)  # type: ignore[no-any-return]

    def story_view(self, story_id: int) -> StoryRecord | None:
        """One story with its articles, or None."""

        def work(conn: Connection) -> StoryRecord | None:
            found = story_records(conn, conn.execute(select(story).where(
                story.c.id == story_id)).all())
            return found[0] if found else None

        return self._tx("reading a story", work, readonly=True)  # type: ignore[no-any-return]

    def article_page(self, search: str | None = None, feed_name: str | None = None,
                     cursor: str | None = None, limit: int = 50) -> Page[ArticleView]:
        """Stored articles, newest first, optionally searched and of one feed."""
        after = decode_cursor(cursor)

        def work(conn: Connection) -> Page[ArticleView]:
            rules = (select(func.count()).select_from(match)
                     .where(match.c.article_id == article.c.id).scalar_subquery())
            query = (select(article.c.id, article.c.title, article.c.link, article.c.published,
                            article.c.fetched_at, article.c.summary,
                            feed.c.name.label("feed_name"), rules.label("n_rules"))
                     .join(feed, feed.c.id == article.c.first_feed_id))
            condition = article_matches(conn, search) if search else None
            if condition is not None:
                query = query.where(condition)
            if feed_name:
                query = query.where(feed.c.name == feed_name)
            if after is not None:
                query = query.where(article.c.id < after)
            rows = conn.execute(query.order_by(article.c.id.desc())
                                .limit(_bounded(limit) + 1)).all()
            ids = [r.id for r in rows]
            by_article: dict[int, list[str]] = {}
            for aid, rule in conn.execute(select(match.c.article_id, match.c.rule)
                                          .where(match.c.article_id.in_(ids))):
                by_article.setdefault(aid, []).append(rule)
            items = [ArticleView(id=r.id, title=r.title, url=r.link, feed=r.feed_name,
                                 published=r.published, fetched_at=r.fetched_at,
                                 summary=r.summary[:500],
                                 rules=tuple(sorted(by_article.get(r.id, ()))))
                     for r in rows]
            return _page(items, limit)

        return self._tx("listing articles", work, readonly=True)  # type: ignore[no-any-return]

    def alert_page(self, status: str | None = None, cursor: str | None = None,
                   limit: int = 50) -> Page[AlertView]:
        """Outbox rows, newest first, optionally of one status."""
        after = decode_cursor(cursor)
        rule = func.coalesce(match.c.rule, digest.c.rule).label("rule")
        query = (select(alert, rule, article.c.title)
                 .outerjoin(match, match.c.id == alert.c.match_id)
                 .outerjoin(article, article.c.id == match.c.article_id)
                 .outerjoin(digest, (digest.c.id == alert.c.digest_id) & (alert.c.kind == "digest")))
        if status:
            query = query.where(alert.c.status == status)
        if after is not None:
            query = query.where(alert.c.id < after)
        query = query.order_by(alert.c.id.desc()).limit(_bounded(limit) + 1)

        def work(conn: Connection) -> Page[AlertView]:
            items = [AlertView(id=r.id, rule=r.rule, kind=r.kind, recipient=r.recipient,
                               status=r.status, attempts=r.attempts, last_error=r.last_error,
                               created_at=r.created_at, sent_at=r.sent_at,
                               next_attempt_at=r.next_attempt_at, title=r.title)
                     for r in conn.execute(query)]
            return _page(items, limit)

        return self._tx("listing alerts", work, readonly=True)  # type: ignore[no-any-return]

    def rule_stats(self, now: datetime, days: int = 14) -> dict[str, RuleStats]:
        """Per rule with stored matches: counts in the last 24 h and 7 d, and per day."""
        start = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0,
                                                         microsecond=0)
        query = select(match.c.rule, match.c.matched_at).where(match.c.matched_at >= start)

        def work(conn: Connection) -> dict[str, RuleStats]:
            counts: dict[str, list[int]] = {}
            for rule, at in conn.execute(query):
                c = counts.setdefault(rule, [0, 0] + [0] * days)
                c[0] += at >= now - timedelta(hours=24)
                c[1] += at >= now - timedelta(days=7)
                c[2 + min(days - 1, (at - start).days)] += 1
            return {r: RuleStats(c[0], c[1], tuple(c[2:])) for r, c in counts.items()}

        return self._tx("counting matches", work, readonly=True)  # type: ignore[no-any-return]

    def outbox_summary(self) -> OutboxSummary:
        """Alerts per status and the oldest pending/failed one's creation time."""

        def work(conn: Connection) -> OutboxSummary:
            by_status = dict(conn.execute(select(alert.c.status, func.count())
                                          .group_by(alert.c.status)).all())
            oldest = conn.scalar(select(func.min(alert.c.created_at))
                                 .where(alert.c.status.in_(("pending", "failed"))))
            return OutboxSummary(by_status, oldest)

        return self._tx("counting alerts", work, readonly=True)  # type: ignore[no-any-return]

    def last_poll_at(self) -> datetime | None:
        """When any feed was last polled (by any replica)."""
        return self._tx("reading poll times",  # type: ignore[no-any-return]
                        lambda c: c.scalar(select(func.max(feed.c.last_polled_at))),
                        readonly=True)

    def poll_failing_soon(self, now: datetime) -> int:
        """Make every failing (not disabled) feed due at ``now``; how many."""
        return self._tx("scheduling failing feeds",  # type: ignore[no-any-return]
                        lambda conn: _poll_failing(conn, now))

    def schema_revision(self) -> str | None:
        """The migration the database is at (None: not migrated); also proves it answers."""

        def work(conn: Connection) -> str | None:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.scalar(select(text("version_num")).select_from(text("alembic_version")))

        return self._tx("reading the schema version", work,  # type: ignore[no-any-return]
                        readonly=True)

    def poll_feed_soon(self, url: str, now: datetime) -> bool:
        """Make an active feed due at ``now`` (``poll now``); False when none has ``url``."""
        stmt = (update(feed).where(feed.c.url == url, feed.c.active.is_(True))
                .values(next_poll_at=now))
        return self._tx("scheduling a poll",  # type: ignore[no-any-return]
                        lambda conn: conn.execute(stmt).rowcount == 1)


def _poll_failing(conn: Connection, now: datetime) -> int:
    stmt = (update(feed).where(feed.c.active.is_(True), feed.c.error_count > 0,
                               feed.c.disabled_reason.is_(None))
            .values(next_poll_at=now))
    return int(conn.execute(stmt).rowcount)


def _bounded(limit: int) -> int:
    return max(1, min(MAX_PAGE, limit))


def _page(rows: list[T], limit: int) -> Page[T]:
    limit = _bounded(limit)
    more = len(rows) > limit
    rows = rows[:limit]
    last = getattr(rows[-1], "id", None) if rows and more else None
    return Page(rows, encode_cursor(last) if last is not None else None)


def _match_ids(conn: Connection, where: MatchFilter) -> Select[Any] | None:
    """The ids of the matches passing ``where`` (None: none can, e.g. an unknown tag)."""
    query = select(match.c.id)
    if where.rule:
        query = query.where(match.c.rule == where.rule)
    if where.since is not None:
        query = query.where(match.c.matched_at >= where.since)
    if where.until is not None:
        query = query.where(match.c.matched_at < where.until)
    if where.after_id is not None:
        query = query.where(match.c.id > where.after_id)
    feeds = _feed_ids(conn, where)
    if feeds is not None:
        if not feeds:
            return None
        query = query.where(exists().where(article.c.id == match.c.article_id,
                                           article.c.first_feed_id.in_(feeds)))
    if where.story is not None:
        query = query.where(exists().where(article.c.id == match.c.article_id,
                                           article.c.story_id == where.story))
    if where.search:
        condition = article_matches(conn, where.search, match.c.article_id)
        if condition is not None:
            query = query.where(condition)
    return query


def _feed_ids(conn: Connection, where: MatchFilter) -> list[int] | None:
    """The ids of the feeds ``where`` names by name or tag (None: any feed). Few
    feeds, and tags are a JSON list: picked in Python."""
    if not where.feed and not where.tag:
        return None
    return [fid for fid, name, tags in conn.execute(select(feed.c.id, feed.c.name, feed.c.tags))
            if (not where.feed or name == where.feed)
            and (not where.tag or where.tag in (tags or ()))]


_MATCH_COLUMNS = (match.c.id, match.c.rule, match.c.article_id, match.c.terms, match.c.hits,
                  match.c.snippet, match.c.matched_at, article.c.title, article.c.link,
                  article_date.label("published"),
                  article.c.story_id, article.c.language,
                  select(feed.c.name).where(feed.c.id == article.c.first_feed_id)
                  .scalar_subquery().label("feed_name"))


class KnownMatches:
    """Matches already read, by id. A stored match and its article never change (the
    story is set in the transaction that stores the article), so the newest matches,
    which every page view lists, are read and decoded once; decoding their evidence
    was most of a request's cost. Only the feed's name can change (a config edit):
    it is read with the page's ids each time."""

    def __init__(self, size: int = 5000) -> None:
        self._size = size
        self._known: OrderedDict[int, MatchView] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, ids: Sequence[int]) -> dict[int, MatchView]:
        with self._lock:
            return {i: self._known[i] for i in ids if i in self._known}

    def add(self, found: dict[int, MatchView]) -> None:
        with self._lock:
            self._known.update(found)
            while len(self._known) > self._size:
                self._known.popitem(last=False)


_PAGE_MATCH, _PAGE_ARTICLE, _PAGE_FEED = match.alias("pm"), article.alias("pa"), feed.alias("pf")


def _match_views(conn: Connection, ids: Sequence[int] | Select[Any],
                 known: KnownMatches | None = None) -> list[MatchView]:
    """The matches with these ids (a list, or a query of them), newest first."""
    if isinstance(ids, Sequence) and not ids:
        return []
    # Aliases: ``ids`` may be a query over match and article that must not correlate.
    m, a, f = _PAGE_MATCH, _PAGE_ARTICLE, _PAGE_FEED
    heads = conn.execute(select(m.c.id, f.c.name).join(a, a.c.id == m.c.article_id)
                         .join(f, f.c.id == a.c.first_feed_id)
                         .where(m.c.id.in_(ids)).order_by(m.c.id.desc())).all()
    found = known.get([i for i, _ in heads]) if known is not None else {}
    missing = [i for i, _ in heads if i not in found]
    if missing:
        new = {r.id: _match_view(r) for r in conn.execute(
            select(*_MATCH_COLUMNS).join(article, article.c.id == match.c.article_id)
            .where(match.c.id.in_(missing)))}
        if known is not None:
            known.add(new)
        found.update(new)
    return [view if view.feed == name else replace(view, feed=name)
            for i, name in heads if (view := found.get(i)) is not None]


def _match_view(r: Any) -> MatchView:
    return MatchView(id=r.id, rule=r.rule, article_id=r.article_id, title=r.title, url=r.link,
                     feed=r.feed_name, published=r.published, matched_at=r.matched_at,
                     terms=tuple(r.terms), snippet=r.snippet,
                     hits=tuple([Hit(**h) for h in r.hits]), story=r.story_id,
                     language=r.language)
