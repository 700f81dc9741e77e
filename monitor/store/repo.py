"""The storage port: intent-named queries, one transaction each.

``Store`` is the only thing the rest of news-monitor knows about the database. Its
methods take and return the plain dataclasses of ``monitor.article`` (plus the
records below); ORM rows never leave ``monitor.store``. The clock is always an
argument (``now``: an aware UTC datetime), never read here.

Concurrency: feeds and alerts are claimed with a lease (``lease_owner``,
``lease_until``); on PostgreSQL the claim query uses ``FOR UPDATE SKIP LOCKED`` so
replicas never claim the same row. Articles, matches and alerts are inserted with
``ON CONFLICT DO NOTHING`` against unique keys, so a racing replica or a re-poll
adds nothing twice and never raises.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Row, bindparam, func, select, true, tuple_, update
from sqlalchemy.dialects import sqlite

from monitor.article import (
    AlertToSend,
    Article,
    FeedSpec,
    FeedState,
    Hit,
    Match,
    Route,
    StoryRef,
)
from monitor.errors import StoreError, StoreUnavailable
from monitor.redact import mask_url, redact
from monitor.store import db
from monitor.store.health import StoreHealth
from monitor.store.outbox import OutboxQueries
from monitor.store.pages import PageQueries, article_full_text, want_pages_in
from monitor.store.retention import RetentionQueries
from monitor.store.spikes import queue_spike_alerts, spike_ref, spike_story_ids
from monitor.store.stories import (
    StoryCache,
    StoryPolicy,
    StoryQueries,
    alerted_pairs,
    story_alert_status,
    story_refs,
)
from monitor.store.tables import (
    alert,
    article,
    article_source,
    digest,
    feed,
    lease_free,
    match,
)
from monitor.store.views import MatchFilter, MatchView, ViewQueries
from monitor.store.websub import WebSubQueries
from monitor.stories.assign import Prepared

log = logging.getLogger(__name__)

T = TypeVar("T")
#: Poll interval stored for a FeedSpec without one (the config's global default).
DEFAULT_INTERVAL_S = 900
#: Stored errors are capped: a 10 MB HTML error page must not land in the row.
MAX_ERROR_CHARS = 2000
#: Rows per IN (...) list, below every backend's bound-parameter limit.
_CHUNK = 500


@dataclass(frozen=True)
class SaveResult:
    """What ``save_articles`` stored."""

    #: Articles inserted for the first time (matched and alerted).
    new_articles: int
    #: Articles already stored (same key in this feed, or same canonical URL elsewhere).
    duplicate_articles: int
    new_matches: int
    new_alerts: int
    #: New matches of rules that notify, stored without an alert: their articles were
    #: older than ``poll.backlog`` on the feed's first poll.
    backlog_matches: int = 0
    #: New matches stored without an alert because their story had alerted the rule.
    story_matches: int = 0


@dataclass(frozen=True)
class FeedStatus:
    """A feed's health, for ``news-monitor status``."""

    url: str
    name: str
    active: bool
    last_status: int | None
    last_error: str | None
    error_count: int
    #: Articles stored from this feed (including ones first seen in another feed).
    articles: int
    last_polled_at: datetime | None
    next_poll_at: datetime | None
    #: Where the feed is fetched from after a permanent redirect (None: ``url``).
    fetch_url: str | None = None
    #: Why a configured feed is no longer polled (e.g. "HTTP 410 Gone"); None: polled.
    disabled_reason: str | None = None
    #: Observed new items per day (adaptive polling), None until known.
    items_per_day: float | None = None
    #: The poller holding the feed (lease_until may have passed: then nobody does).
    lease_owner: str | None = None
    lease_until: datetime | None = None
    #: The URL as written in the config, ``${VAR}`` parts masked (None: not known).
    shown_url: str | None = None

    @property
    def display_url(self) -> str:
        """The URL to show people: as written, what came from the environment and any
        credential masked. A row not configured since its shown form was kept: every
        secret known now masked."""
        return mask_url(self.shown_url) if self.shown_url else redact(self.url)


@dataclass(frozen=True)
class FeedLease:
    """A feed leased by a poller: who holds it, until when."""

    url: str
    owner: str
    until: datetime


@dataclass(frozen=True)
class FetchRecord:
    """The outcome of one poll, to store (see ``Store.record_fetch``)."""

    feed_id: int
    now: datetime
    next_poll_at: datetime
    status: int | None
    error: str | None
    etag: str | None = None
    last_modified: str | None = None
    new_url: str | None = None
    body_hash: str | None = None
    items_per_day: float | None = None
    disabled_reason: str | None = None


@dataclass(frozen=True)
class AlertRecord:
    """An outbox row, for ``news-monitor alerts list``."""

    id: int
    rule: str
    recipient: str
    target_key: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    #: "match" (one message per match) or "digest" (one message listing held matches).
    kind: str = "match"
    #: The matched article's title and link (None for a digest).
    title: str | None = None
    url: str | None = None


class Store(OutboxQueries, StoryQueries, PageQueries, WebSubQueries, ViewQueries,
            RetentionQueries):
    """The database behind news-monitor (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine, url: str) -> None:
        self._engine = engine
        self._url = url
        #: Whether the database answers; logs an outage once, and its end (monitor.store.health).
        self.health = StoreHealth()
        #: Story assignment of new articles (None: stories off, e.g. tools that only read).
        self._stories: StoryCache | None = None

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return str(self._engine.dialect.name)

    def use_stories(self, policy: StoryPolicy | None) -> None:
        """Group new articles into stories from now on, alerting per ``policy``
        (None: stop grouping)."""
        if policy is None:
            self._stories = None
        elif self._stories is None or self._stories.policy.settings != policy.settings:
            self._stories = StoryCache(policy)
        else:
            self._stories.policy = policy

    @classmethod
    def open(cls, url: str, *, migrate: bool = True,
             busy_timeout_s: float = db.SQLITE_BUSY_TIMEOUT_S) -> Store:
        """Connect to ``url``; bring the schema up to date unless ``migrate`` is False.
        ``busy_timeout_s``: how long a SQLite write waits for another process's lock."""
        engine = db.make_engine(url, busy_timeout_s=busy_timeout_s)
        try:
            if migrate:
                db.upgrade_engine(engine, url)
            else:
                db.run_in_transaction(engine, url, "connecting",
                                      lambda c: c.exec_driver_sql("SELECT 1"))
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, url)

    @classmethod
    def open_when_available(
        cls, url: str, *, delay_s: Callable[[int], float],
        busy_timeout_s: float = db.SQLITE_BUSY_TIMEOUT_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Store:
        """``open``, waiting for a database that is unavailable (a daemon started with
        its database, or before it): one line when it is not there, one when it is;
        the n-th retry after ``delay_s(n)`` seconds. Other failures raise at once."""
        failures = 0
        while True:
            try:
                store = cls.open(url, busy_timeout_s=busy_timeout_s)
            except StoreUnavailable as e:
                failures += 1
                if failures == 1:
                    log.error("store.unavailable error=%s (waiting for it with back-off)", e)
                sleep(delay_s(failures))
                continue
            if failures:
                log.warning("store.recovered failures=%d", failures)
            return store

    def share_write_turns(self, between: db.ProcessTurns) -> None:
        """Take SQLite's write lock in turn with the processes ``between`` is shared with
        (a parent and its delivery process), short writes first. Nothing on PostgreSQL."""
        db.share_write_turns(self._engine, between)

    def close(self) -> None:
        """Release every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tx(self, action: str, work: Callable[[Connection], T], *, readonly: bool = False,
            bulk: bool = False) -> T:
        started = time.monotonic()
        try:
            result = db.run_in_transaction(self._engine, self._url, action, work,
                                           readonly=readonly, bulk=bulk,
                                           on_reconnect=self.health.reconnected)
        except StoreUnavailable as e:
            self.health.failed(str(e))
            raise
        self.health.succeeded(started)
        return result

    # -- feeds ---------------------------------------------------------------------------

    def sync_feeds(
        self, specs: Sequence[FeedSpec], now: datetime, *,
        default_interval_s: int = DEFAULT_INTERVAL_S,
    ) -> None:
        """Make the feed table follow the config: upsert by URL, deactivate the rest.

        New feeds are due at once; feeds that left the config keep their data but are
        never polled (and come back with it if re-added).
        """
        by_url = {s.url: s for s in specs}  # the last spec of a URL wins, as in a dict

        def work(conn: Connection) -> None:
            # Only feeds new or changed are written: a start with an unchanged config
            # (every cron `once`) reads the table and writes nothing.
            stored = {url: (name, list(tags), interval_s, shown_url, active)
                      for url, name, tags, interval_s, shown_url, active in conn.execute(select(
                          feed.c.url, feed.c.name, feed.c.tags, feed.c.interval_s,
                          feed.c.shown_url, feed.c.active))}
            rows = [row for row in (_feed_values(by_url[u], now, default_interval_s)
                                    for u in sorted(by_url))
                    if stored.get(row["url"]) != (row["name"], row["tags"], row["interval_s"],
                                                  row["shown_url"], True)]
            if rows:
                stmt = _insert(conn, feed)
                stmt = stmt.on_conflict_do_update(
                    index_elements=[feed.c.url],
                    set_={"name": stmt.excluded.name, "tags": stmt.excluded.tags,
                          "interval_s": stmt.excluded.interval_s,
                          "shown_url": stmt.excluded.shown_url, "active": True},
                )
                conn.execute(stmt, rows)
            stale = [url for url, (*_, active) in stored.items() if active and url not in by_url]
            for chunk in _chunks(stale):
                conn.execute(update(feed).where(feed.c.url.in_(chunk))
                             .values(active=False, lease_owner=None, lease_until=None))
            log.info("store.feeds_synced feeds=%d written=%d deactivated=%d", len(by_url),
                     len(rows), len(stale))

        self._tx("syncing feeds", work)

    def claim_due_feeds(
        self, now: datetime, *, owner: str, lease_s: int = 300, limit: int | None = None,
        include_not_due: bool = False,
    ) -> list[FeedState]:
        """Lease the active feeds due at ``now`` (all active ones if include_not_due)."""
        conds = [feed.c.active == true(), feed.c.disabled_reason.is_(None),
                 lease_free(feed, now)]
        if not include_not_due:
            conds.append(feed.c.next_poll_at <= now)
        due = select(feed.c.id).where(*conds).order_by(feed.c.next_poll_at, feed.c.id)
        if limit is not None:
            due = due.limit(limit)

        def work(conn: Connection) -> list[FeedState]:
            claimed = conn.execute(
                update(feed).where(feed.c.id.in_(due.with_for_update(skip_locked=True)))
                .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_s))
                .returning(*feed.c)
            ).all()
            return [_feed_state(r) for r in sorted(claimed, key=lambda r: (r.next_poll_at, r.id))]

        return self._tx("claiming feeds", work)

    def record_fetch(
        self, feed_id: int, *, now: datetime, next_poll_at: datetime, status: int | None,
        error: str | None, etag: str | None = None, last_modified: str | None = None,
        new_url: str | None = None, body_hash: str | None = None,
        items_per_day: float | None = None, disabled_reason: str | None = None,
    ) -> None:
        """Store the outcome of one poll and release the feed's lease.

        ``body_hash``/``items_per_day`` are stored when given (None keeps the old
        value); ``disabled_reason`` stops polling the feed (410 Gone) until
        ``enable_feed``.
        """
        record = FetchRecord(feed_id, now=now, next_poll_at=next_poll_at, status=status,
                             error=error, etag=etag, last_modified=last_modified,
                             new_url=new_url, body_hash=body_hash, items_per_day=items_per_day,
                             disabled_reason=disabled_reason)
        if self.record_fetches([record]) != 1:
            raise StoreError(f"record_fetch: no feed with id {feed_id}")

    def record_fetches(self, records: Sequence[FetchRecord]) -> int:
        """``record_fetch`` for many feeds in one transaction (a 304 cycle over
        thousands of feeds); feeds that no longer exist are skipped. How many were."""

        def work(conn: Connection) -> int:
            ids = [r.feed_id for r in records]
            present: set[int] = set()
            for chunk in _chunks(ids):
                present.update(conn.scalars(select(feed.c.id).where(feed.c.id.in_(chunk))))
            # One executemany per shape of values, not one statement built per feed:
            # building and caching a statement per feed was half of a 304 cycle.
            groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
            repeated = len(set(ids)) != len(ids)
            for r in records:
                if r.feed_id not in present:
                    log.warning("store.record_skipped feed_id=%d reason=no such feed", r.feed_id)
                    continue
                values = {f"v_{k}": v for k, v in _fetch_values(r).items() if k != "error_count"}
                values["b_id"] = r.feed_id
                shape: tuple[Any, ...] = (r.error is not None, tuple(sorted(values)))
                if repeated:  # a feed twice: keep the order of records
                    shape = (*shape, len(groups))
                groups.setdefault(shape, []).append(values)
            for (failed, keys, *_), rows in groups.items():
                conn.execute(_fetch_update(failed, keys), rows)
            for r in records:
                if r.new_url is not None and r.feed_id in present:  # redirected back home
                    conn.execute(update(feed).where(feed.c.id == r.feed_id, feed.c.url == r.new_url)
                                 .values(fetch_url=None))
            return sum(1 for r in records if r.feed_id in present)

        return self._tx("recording fetches", work) if records else 0

    def feed_statuses(self) -> list[FeedStatus]:
        """Every feed (active first, then by name) with its health and article count."""
        count = (select(func.count()).select_from(article_source)
                 .where(article_source.c.feed_id == feed.c.id).scalar_subquery())
        query = select(feed, count.label("articles")).order_by(
            feed.c.active.desc(), feed.c.name, feed.c.id)

        def work(conn: Connection) -> list[FeedStatus]:
            return [
                FeedStatus(url=r.url, name=r.name, active=bool(r.active), last_status=r.last_status,
                           last_error=r.last_error, error_count=r.error_count, articles=r.articles,
                           last_polled_at=r.last_polled_at, next_poll_at=r.next_poll_at,
                           fetch_url=r.fetch_url, disabled_reason=r.disabled_reason,
                           items_per_day=r.items_per_day, lease_owner=r.lease_owner,
                           lease_until=r.lease_until, shown_url=r.shown_url)
                for r in conn.execute(query)
            ]

        return self._tx("reading feed status", work, readonly=True)

    def enable_feed(self, url: str, now: datetime) -> bool:
        """Poll a disabled feed again (due at ``now``); False when no feed has that URL."""
        stmt = (update(feed).where(feed.c.url == url)
                .values(disabled_reason=None, error_count=0, next_poll_at=now))
        return self._tx("enabling a feed", lambda conn: conn.execute(stmt).rowcount == 1)

    # -- articles, matches, alerts -------------------------------------------------------

    def unseen_articles(self, feed_id: int, articles: Sequence[Article]) -> list[Article]:
        """The articles whose per-feed key this feed has not stored yet (first of each key)."""

        def work(conn: Connection) -> list[Article]:
            keys = list(dict.fromkeys(a.key for a in articles))
            seen: set[str] = set()
            for chunk in _chunks(keys):
                seen.update(conn.scalars(_stmt(conn, "seen_keys"),
                                         {"feed_id": feed_id, "keys": list(chunk)}))
            unseen = []
            for a in articles:
                if a.key not in seen:
                    seen.add(a.key)
                    unseen.append(a)
            return unseen

        return self._tx("reading seen articles", work, readonly=True)

    def save_articles(
        self, feed_id: int, items: Sequence[tuple[Article, Sequence[Match]]],
        routes: Mapping[str, Sequence[Route]], now: datetime,
        *, quiet: Collection[str] = (), pages: Collection[str] = (),
        prepared: Mapping[str, Prepared] | None = None,
    ) -> SaveResult:
        """Store new articles, their matches and the alert rows (outbox), atomically.

        An article whose canonical URL is already stored gains this feed as a source;
        only rules that had not matched the story yet (e.g. scoped to this feed) add a
        match, so each rule alerts a story once. Articles whose key is in ``quiet``
        (a new feed's backlog) are stored and matched without alerts. Articles whose
        key is in ``pages`` want their page (full text): its job is stored with them
        (``pages.want_pages_in``), so a crash right after the save cannot lose it.
        ``prepared``: story features worked out already, by article key (the others
        are worked out here).
        """
        # A fixed order makes concurrent writers take row locks in the same order.
        ordered = sorted(items, key=lambda it: (it[0].canonical_url or "", it[0].key))

        stories = self._stories

        def work(conn: Connection) -> SaveResult:
            at = now
            if stories is not None:  # before any row lock: see monitor.store.stories
                stories.begin(conn)
                stories.sync(conn, now)
                at = stories.not_before(now)  # time in the order stories are assigned
            # In batches: a few statements per batch instead of four per article
            # (about 5x faster on a first ingest, see bench/ingest.py).
            totals = [0] * 6
            for chunk in _chunks(ordered):
                counts = _save_batch(conn, feed_id, chunk, routes, at, quiet, stories,
                                     prepared or {})
                totals = [t + c for t, c in zip(totals, counts)]
            want_pages_in(conn, feed_id, pages, at)
            return SaveResult(*totals)

        if stories is None:
            result = self._tx("saving articles", work, bulk=True)
        else:
            with stories.lock:
                try:
                    result = self._tx("saving articles", work, bulk=True)
                except BaseException:
                    stories.invalidate()  # it may hold what the rollback undid
                    raise
        log.info("store.articles_saved feed_id=%d new=%d duplicate=%d matches=%d alerts=%d",
                 feed_id, result.new_articles, result.duplicate_articles, result.new_matches,
                 result.new_alerts)
        return result

    def stored_articles(self, *, since: datetime | None = None) -> Iterator[Article]:
        """Every stored article (fetched at or after ``since``), oldest first, in batches."""
        return (art for _, art in self.stored_articles_with_ids(since=since))

    def stored_articles_with_ids(
        self, *, since: datetime | None = None
    ) -> Iterator[tuple[int, Article]]:
        """Like stored_articles, with each article's id (for add_matches)."""
        last_id = 0
        while True:
            query = (select(article, feed.c.url.label("feed_url"), feed.c.name.label("feed_name"),
                            feed.c.tags.label("feed_tags"))
                     .join(feed, feed.c.id == article.c.first_feed_id)
                     .where(article.c.id > last_id).order_by(article.c.id).limit(_CHUNK))
            query = article_full_text(query)
            if since is not None:
                query = query.where(article.c.fetched_at >= since)
            rows = self._tx("reading articles", lambda c: c.execute(query).all(), readonly=True)
            if not rows:
                return
            yield from ((r.id, _article(r)) for r in rows)
            last_id = rows[-1].id

    def add_matches(
        self, items: Sequence[tuple[int, Sequence[Match]]],
        routes: Mapping[str, Sequence[Route]], now: datetime, *,
        per_story: Collection[str] = (),
    ) -> tuple[int, int]:
        """Record matches of already stored articles (a rule applied after the fact).

        Existing (rule, article) matches keep their evidence. With ``routes``, alert
        rows are written for every given match that never had any (new, a backlog
        item, or recorded by an earlier apply without alerts), once; without, the
        matches are stored silently. A rule in ``per_story`` (``alert_per: story``)
        alerts a story once, as at ingest: only its first match in a story never
        alerted for that rule.
        Returns (new_matches, new_alerts).
        """

        def work(conn: Connection) -> tuple[int, int]:
            new_matches, *_ = _insert_matches_bulk(
                conn, [(aid, ms, False) for aid, ms in items], {}, now)
            if not routes:
                return new_matches, 0
            pairs = [(m.rule, aid) for aid, ms in items for m in ms]
            return new_matches, _alert_unalerted(conn, pairs, routes, now, per_story)

        return self._tx("recording matches", work)

    def matched_rules(self) -> set[str]:
        """The names of every rule with a stored match (also rules no longer configured)."""
        query = select(match.c.rule).distinct()
        return self._tx("listing matched rules", lambda conn: {
            str(name) for name in conn.execute(query).scalars()}, readonly=True)

    def list_matches(
        self, *, rule: str | None = None, since: datetime | None = None
    ) -> list[MatchView]:
        """Stored matches, newest first, optionally of one rule and since a time."""
        return list(self.match_views(MatchFilter(rule=rule, since=since)))

    def claim_due_alerts(
        self, now: datetime, *, owner: str, lease_s: int = 120, limit: int = 100,
        skip_targets: Collection[str] = (),
    ) -> list[AlertToSend]:
        """Lease up to ``limit`` pending/failed alerts due at ``now``, oldest due first,
        except those of ``skip_targets`` (targets busy with, or stuck on, another send)."""
        due = (select(alert.c.id)
               .where(alert.c.kind.in_(("match", "spike")),  # digests: claim_due_digests
                      alert.c.status.in_(("pending", "failed")), alert.c.next_attempt_at <= now,
                      lease_free(alert, now))
               .order_by(alert.c.next_attempt_at, alert.c.id).limit(limit)
               .with_for_update(skip_locked=True))
        if skip_targets:
            due = due.where(alert.c.target_key.not_in(sorted(skip_targets)))

        def work(conn: Connection) -> list[AlertToSend]:
            ids = conn.scalars(
                update(alert).where(alert.c.id.in_(due))
                .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_s))
                .returning(alert.c.id)
            ).all()
            if not ids:
                return []
            rows = conn.execute(_alert_query().where(alert.c.id.in_(ids))
                                .order_by(alert.c.next_attempt_at, alert.c.id)).all()
            return self._alerts_to_send(conn, rows)

        return self._tx("claiming alerts", work)

    def _alerts_to_send(self, conn: Connection, rows: Sequence[Row[Any]]) -> list[AlertToSend]:
        """Claimed rows with their stories (and, for a spike alert, the episode's)."""
        spikes = self._stories.policy.spikes if self._stories is not None else {}
        fired = [r for r in rows if r.alert_kind == "spike" and r.rule in spikes]
        ids = {r.story_id for r in rows if r.story_id is not None}
        for r in fired:
            ids |= spike_story_ids(conn, r.rule, spikes[r.rule], r.alert_created_at)
        stories = story_refs(conn, ids)
        episodes = {r.alert_id: spike_ref(conn, r.rule, spikes[r.rule], r.alert_created_at,
                                          stories) for r in fired}
        return [replace(_alert_to_send(r, stories.get(r.story_id)), spike=episodes.get(r.alert_id))
                for r in rows]

    def mark_alert_sent(self, alert_id: int, now: datetime) -> None:
        self.mark_alerts_sent([alert_id], now)

    def mark_alerts_sent(self, alert_ids: Sequence[int], now: datetime, *,
                         joining: Callable[[], Sequence[int]] | None = None) -> None:
        """The alerts were delivered: final, leases released (the attempt is counted);
        the error of an earlier attempt is cleared (the log keeps the history). One
        transaction for all of them, and for those ``joining()`` returns once the
        transaction has begun (sends that ended while it waited for the database)."""
        values = {"status": "sent", "sent_at": now, "last_error": None,
                  "attempts": alert.c.attempts + 1, "lease_owner": None, "lease_until": None}
        joined: list[int] = []  # kept across a retry of the transaction

        def work(conn: Connection) -> None:
            if joining is not None:
                joined.extend(joining())
            for chunk in _chunks([*alert_ids, *joined]):
                stmt = update(alert).where(alert.c.id.in_(chunk)).values(values)
                if conn.execute(stmt).rowcount != len(set(chunk)):
                    raise StoreError(f"no alert with one of the ids {chunk}")

        self._tx("updating alerts", work)

    def release_alerts(self, alert_ids: Sequence[int], owner: str) -> None:
        """Give back claimed alerts not sent (still ``owner``'s): due again at once."""
        free = {"lease_owner": None, "lease_until": None}
        for chunk in _chunks(list(alert_ids)):
            stmt = (update(alert).where(alert.c.id.in_(chunk), alert.c.lease_owner == owner)
                    .values(free))
            self._tx("releasing alerts", lambda conn, stmt=stmt: conn.execute(stmt))

    def count_due_alerts(self, now: datetime) -> int:
        """Outbox rows (alerts and digest messages) due for delivery at ``now``."""
        query = (select(func.count()).select_from(alert)
                 .where(alert.c.status.in_(("pending", "failed")),
                        alert.c.next_attempt_at <= now))
        return int(self._tx("counting due alerts", lambda c: c.scalar(query), readonly=True))

    def release_leases(self, owner: str) -> tuple[int, int]:
        """Give up every feed and alert lease ``owner`` holds (a run that stops or is
        interrupted), so the next run need not wait for them to expire; how many of each."""

        def work(conn: Connection) -> tuple[int, int]:
            free = {"lease_owner": None, "lease_until": None}
            feeds = conn.execute(update(feed).where(feed.c.lease_owner == owner).values(free))
            alerts = conn.execute(update(alert).where(alert.c.lease_owner == owner).values(free))
            return int(feeds.rowcount), int(alerts.rowcount)

        released = self._tx("releasing leases", work)
        if any(released):
            log.info("store.leases_released owner=%s feeds=%d alerts=%d", owner, *released)
        return released

    def release_feeds(self, owner: str, feed_ids: Collection[int] | None = None) -> int:
        """Give up ``owner``'s leases on these feeds (None: on all its feeds) and change
        nothing else: a poll whose outcome could not be stored leaves the feed due, on
        its own schedule, as if it had not been polled. How many were released."""
        stmt = (update(feed).where(feed.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None))

        def work(conn: Connection) -> int:
            if feed_ids is None:
                return int(conn.execute(stmt).rowcount)
            return sum(int(conn.execute(stmt.where(feed.c.id.in_(chunk))).rowcount)
                       for chunk in _chunks(sorted(feed_ids)))

        return self._tx("releasing feeds", work)

    def feeds_leased_elsewhere(self, now: datetime, owner: str) -> list[FeedLease]:
        """Active feeds another process holds a lease on at ``now`` (it is polling them,
        or died and the lease has not expired yet)."""
        query = (select(feed.c.url, feed.c.lease_owner, feed.c.lease_until)
                 .where(feed.c.active == true(), feed.c.lease_until > now,
                        feed.c.lease_owner != owner)
                 .order_by(feed.c.url))

        def work(conn: Connection) -> list[FeedLease]:
            return [FeedLease(url=r.url, owner=r.lease_owner, until=r.lease_until)
                    for r in conn.execute(query)]

        return self._tx("reading feed leases", work, readonly=True)

    def has_unpolled_feeds(self) -> bool:
        """Whether an active feed was never polled (its first poll may alert on its items)."""
        return self._exists("reading feeds", select(feed.c.id).where(
            feed.c.active == true(), feed.c.last_polled_at.is_(None)))

    def polling_now(self, now: datetime) -> bool:
        """Whether some process is polling: it holds a lease on a feed at ``now``
        (claimed and not yet recorded; a dead poller's lease counts until it ends)."""
        return self._exists("reading feed leases",
                            select(feed.c.id).where(feed.c.lease_until > now))

    def _exists(self, action: str, query: Any) -> bool:
        """Whether ``query`` has a row (it reads one at most)."""
        return self._tx(action, lambda conn: conn.execute(query.limit(1)).first() is not None,
                        readonly=True)

    def mark_alert_failed(
        self, alert_id: int, error: str, now: datetime, next_attempt_at: datetime | None
    ) -> None:
        """Delivery failed: retry at ``next_attempt_at``, or give up (``dead``) when None."""
        status = "dead" if next_attempt_at is None else "failed"
        self._finish_alert(alert_id, {"status": status, "last_error": _cap(error),
                                      "next_attempt_at": next_attempt_at})
        log.info("store.alert_failed id=%d status=%s", alert_id, status)

    def _finish_alert(self, alert_id: int, values: dict[str, Any]) -> None:
        values = {**values, "attempts": alert.c.attempts + 1, "lease_owner": None,
                  "lease_until": None}

        def work(conn: Connection) -> None:
            stmt = update(alert).where(alert.c.id == alert_id).values(values)
            if conn.execute(stmt).rowcount != 1:
                raise StoreError(f"no alert with id {alert_id}")

        self._tx("updating an alert", work)

    def revive_alerts(
        self, now: datetime, *, alert_ids: Sequence[int] | None = None
    ) -> int:
        """Make dead alerts (or the given failed/dead ones) due again at ``now``; how many.

        The attempt count starts over, so a revived alert gets the full retry budget
        again instead of dying on its next failure; last_error is kept until then.
        """
        query = update(alert).values(status="pending", next_attempt_at=now, lease_owner=None,
                                     lease_until=None, attempts=0)
        if alert_ids is None:
            query = query.where(alert.c.status == "dead")
        else:
            query = query.where(alert.c.id.in_(list(alert_ids)),
                                alert.c.status.in_(("dead", "failed")))
        return self._tx("reviving alerts", lambda conn: int(conn.execute(query).rowcount))

    def alert_statuses(self, alert_ids: Sequence[int]) -> dict[int, str]:
        """The status of each of these alerts that exists (unknown ids are left out)."""
        query = select(alert.c.id, alert.c.status).where(alert.c.id.in_(list(alert_ids)))
        return self._tx("reading alert statuses", lambda conn: {
            int(r.id): str(r.status) for r in conn.execute(query)}, readonly=True)

    def list_alerts(self, *, status: str | None = None) -> list[AlertRecord]:
        """Outbox rows, newest first, optionally of one status."""
        rule = func.coalesce(match.c.rule, digest.c.rule).label("rule")
        query = (select(alert, rule, article.c.title.label("title"), article.c.link.label("url"))
                 .outerjoin(match, match.c.id == alert.c.match_id)
                 .outerjoin(article, article.c.id == match.c.article_id)
                 .outerjoin(digest, (digest.c.id == alert.c.digest_id) & (alert.c.kind == "digest"))
                 .order_by(alert.c.created_at.desc(), alert.c.id.desc()))
        if status is not None:
            query = query.where(alert.c.status == status)

        def work(conn: Connection) -> list[AlertRecord]:
            return [
                AlertRecord(id=r.id, rule=r.rule, recipient=r.recipient, target_key=r.target_key,
                            status=r.status, attempts=r.attempts, last_error=r.last_error,
                            created_at=r.created_at, sent_at=r.sent_at, kind=r.kind,
                            title=r.title, url=r.url)
                for r in conn.execute(query)
            ]

        return self._tx("listing alerts", work, readonly=True)


# -- helpers (pure, or one statement each) ------------------------------------------------


def _insert(conn: Connection, table: Any) -> Any:
    """INSERT with the dialect's ON CONFLICT support (both backends have it)."""
    if conn.dialect.name == "postgresql":
        # Imported here: loading the PostgreSQL dialect costs SQLite users ~0.1 s.
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    return sqlite.insert(table)


#: The bulk-save statements, built once per dialect (building them was a tenth
#: of the storing time on a first ingest); SQLAlchemy statements are immutable.
_STATEMENTS: dict[tuple[str, str], Any] = {}


def _stmt(conn: Connection, name: str) -> Any:
    """A cached statement of ``_save_batch`` and ``_insert_matches_bulk``."""
    key = (conn.dialect.name, name)
    if key not in _STATEMENTS:
        _STATEMENTS[key] = _build_stmt(conn, name)
    return _STATEMENTS[key]


def _build_stmt(conn: Connection, name: str) -> Any:
    src = article_source.c
    if name == "seen_keys":
        return select(src.key).where(src.feed_id == bindparam("feed_id"),
                                     src.key.in_(bindparam("keys", expanding=True)))
    if name == "article":
        return (_insert(conn, article)
                .on_conflict_do_nothing(index_elements=[article.c.canonical_url])
                .returning(article.c.id, article.c.key))
    if name == "source":
        return (_insert(conn, article_source)
                .on_conflict_do_nothing(index_elements=[src.feed_id, src.key])
                .returning(src.key))
    if name == "match":
        return (_insert(conn, match)
                .on_conflict_do_nothing(index_elements=[match.c.rule, match.c.article_id])
                .returning(match.c.id, match.c.rule, match.c.alerted_at, match.c.article_id))
    assert name == "alert", name
    return (_insert(conn, alert)
            .on_conflict_do_nothing(index_elements=[alert.c.match_id, alert.c.recipient,
                                                    alert.c.target_key])
            .returning(alert.c.id))


def _chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i : i + _CHUNK]


def _cap(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_ERROR_CHARS:
        return text
    return text[: MAX_ERROR_CHARS - 1] + "…"


def _feed_values(spec: FeedSpec, now: datetime, default_interval_s: int) -> dict[str, Any]:
    interval = spec.interval_s if spec.interval_s is not None else default_interval_s
    return {"url": spec.url, "shown_url": spec.shown_url or spec.url, "name": spec.name,
            "tags": list(spec.tags), "interval_s": interval, "active": True, "error_count": 0, "next_poll_at": now, "created_at": now}


def _fetch_values(r: FetchRecord) -> dict[str, Any]:
    values: dict[str, Any] = {
        "last_status": r.status, "last_error": _cap(r.error), "last_polled_at": r.now,
        "next_poll_at": r.next_poll_at, "lease_owner": None, "lease_until": None,
        "error_count": 0 if r.error is None else feed.c.error_count + 1,
    }
    if r.error is None and r.status != 304:
        values.update(etag=r.etag, last_modified=r.last_modified)
    else:  # 304 or failure: keep the validators we have unless new ones came
        values.update({k: v for k, v in (("etag", r.etag), ("last_modified", r.last_modified))
                       if v is not None})
    if r.new_url is not None:
        values["fetch_url"] = r.new_url
    values.update({k: v for k, v in (("body_hash", r.body_hash),
                                     ("items_per_day", r.items_per_day),
                                     ("disabled_reason", _cap(r.disabled_reason)))
                   if v is not None})
    return values


def _fetch_update(failed: bool, keys: tuple[str, ...]) -> Any:
    """UPDATE feed by ``b_id``, each column ``c`` set from parameter ``v_c`` (executemany)."""
    values: dict[str, Any] = {k[2:]: bindparam(k) for k in keys if k != "b_id"}
    values["error_count"] = feed.c.error_count + 1 if failed else 0
    return update(feed).where(feed.c.id == bindparam("b_id")).values(values)


def _save_batch(
    conn: Connection, feed_id: int, items: Sequence[tuple[Article, Sequence[Match]]],
    routes: Mapping[str, Sequence[Route]], now: datetime, quiet: Collection[str] = (),
    stories: StoryCache | None = None, prepared: Mapping[str, Prepared] | None = None,
) -> tuple[int, ...]:
    """Store a batch of one feed's articles: the fields of SaveResult, in order."""
    seen = set(conn.scalars(_stmt(conn, "seen_keys"),
                            {"feed_id": feed_id, "keys": [a.key for a, _ in items]}))
    todo: list[tuple[Article, Sequence[Match]]] = []
    for art, matches in items:  # keys this feed has (or repeats in the batch): duplicates
        if art.key not in seen:
            seen.add(art.key)
            todo.append((art, matches))
    if not todo:
        return (0, len(items), 0, 0, 0, 0)
    rows = conn.execute(_stmt(conn, "article"),
                        [_article_values(feed_id, a, now, a.key in quiet) for a, _ in todo])
    new_ids = {r.key: r.id for r in rows}
    # Not inserted: the same story is stored already, via another link or feed.
    known = [a.canonical_url for a, _ in todo if a.key not in new_ids]
    by_url = dict(conn.execute(select(article.c.canonical_url, article.c.id)
                               .where(article.c.canonical_url.in_(known))).all()) if known else {}
    ids = {a.key: new_ids.get(a.key) or by_url[a.canonical_url] for a, _ in todo}
    sourced = set(conn.scalars(_stmt(conn, "source"), [{"feed_id": feed_id, "key": a.key, "article_id": ids[a.key]}
                                        for a, _ in todo]))
    lost = [new_ids[k] for k in new_ids if k not in sourced]  # a racing writer was first
    if lost:
        conn.execute(article.delete().where(article.c.id.in_(lost)))
    fresh = [(new_ids[a.key], ms, a.key not in quiet)
             for a, ms in todo if a.key in sourced and a.key in new_ids]
    # A syndicated copy adds the matches of rules that missed the first copy (a rule
    # scoped to this feed, say); a rule that already matched the story stays one match.
    copies = [(ids[a.key], ms, a.key not in quiet)
              for a, ms in todo if a.key in sourced and a.key not in new_ids]
    story_of: dict[int, int] = {}
    if stories is not None:
        story_of = stories.assign(conn, [(new_ids[a.key], a) for a, _ in todo
                                         if a.key in sourced and a.key in new_ids], now,
                                   prepared)
        if copies:
            story_of.update(conn.execute(select(article.c.id, article.c.story_id).where(
                article.c.id.in_([i for i, _, _ in copies]), article.c.story_id.is_not(None))
            ).all())
    new_matches, new_alerts, backlog, folded = _insert_matches_bulk(
        conn, fresh + copies, routes, now, stories.policy if stories else None, story_of)
    if stories is not None and stories.policy.spikes:
        new_alerts += queue_spike_alerts(conn, stories.policy.spikes, routes,
                                         [i for i, _, alert_it in fresh + copies if alert_it], now)
    return (len(fresh), len(items) - len(fresh), new_matches, new_alerts, backlog, folded)


def _insert_matches_bulk(
    conn: Connection, items: Sequence[tuple[int, Sequence[Match], bool]],
    routes: Mapping[str, Sequence[Route]], now: datetime,
    policy: StoryPolicy | None = None, story_of: Mapping[int, int] | None = None,
) -> tuple[int, int, int, int]:
    """Insert the matches of many (article_id, matches, alert?) at once, and the alert
    rows of the new ones to alert (those get ``alerted_at``): (new matches, new alert
    rows, new matches of notifying rules not alerted as backlog, and as story updates).

    With a story ``policy``, a rule alerting per story alerts on the first match in
    each story only; later ones are stored as matches (held for the digest with
    ``story_updates: digest``).
    """
    spikes = policy.spikes if policy is not None else {}  # alerted per episode instead
    silent = {(article_id, m.rule) for article_id, matches, alert_it in items if not alert_it
              for m in matches if routes.get(m.rule) and m.rule not in spikes}
    values = [{"rule": m.rule, "article_id": article_id, "terms": list(m.terms),
               "hits": [_hit_values(h) for h in m.hits], "snippet": m.snippet, "matched_at": now,
               "alerted_at": (now if alert_it and routes.get(m.rule) and m.rule not in spikes
                              else None)}
              for article_id, matches, alert_it in items
              for m in {m.rule: m for m in matches}.values()]
    if not values:
        return (0, 0, 0, 0)
    created = conn.execute(_stmt(conn, "match"), values).all()
    to_alert = [(match_id, rule, article_id)
                for match_id, rule, alerted, article_id in created if alerted is not None]
    backlog = sum(1 for _, rule, alerted, article_id in created
                  if alerted is None and (article_id, rule) in silent)
    if policy is not None and to_alert:
        statuses = story_alert_status(policy, conn, [
            (m, (story_of or {}).get(a), r) for m, r, a in to_alert],
            [m for m, *_ in created], now)
    else:
        statuses = [("pending", now)] * len(to_alert)
    folded = statuses.count(None)
    alerts = [{**_alert_values(match_id, route, now), "status": st[0], "next_attempt_at": st[1]}
              for (match_id, rule, _), st in zip(to_alert, statuses, strict=True)
              if st is not None for route in dict.fromkeys(routes.get(rule, ()))]
    if not alerts:
        return (len(created), 0, backlog, folded)
    return (len(created), len(conn.execute(_stmt(conn, "alert"), alerts).all()), backlog, folded)


def _hit_values(h: Hit) -> dict[str, Any]:
    # What dataclasses.asdict gives, without its deep copy (measured: a tenth of
    # the storing time on a first ingest).
    return {"term": h.term, "field": h.field, "start": h.start, "end": h.end, "text": h.text}


def _article_values(feed_id: int, art: Article, now: datetime,
                    backlog: bool = False) -> dict[str, Any]:
    return {
        "canonical_url": art.canonical_url, "key": art.key, "guid": art.guid, "link": art.link,
        "title": art.title, "summary": art.summary, "content": art.content,
        "authors": list(art.authors), "categories": list(art.categories),
        "published": art.published, "updated": art.updated, "first_feed_id": feed_id,
        "fetched_at": now, "language": art.language, "backlog": backlog,
    }


def _alert_values(match_id: int, route: Route, now: datetime) -> dict[str, Any]:
    return {"match_id": match_id, "recipient": route.recipient, "target_key": route.target_key,
            "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}


def _alert_unalerted(
    conn: Connection, pairs: Sequence[tuple[str, int]],
    routes: Mapping[str, Sequence[Route]], now: datetime, per_story: Collection[str] = (),
) -> int:
    """Queue alerts for the (rule, article_id) matches that never had any; how many rows.

    Each such match gets ``alerted_at``, so asking again queues nothing more. For a rule
    in ``per_story``, a match in a story the rule alerted already (before, or earlier in
    these rows) is left as it is: stored, not alerted."""
    wanted = [(rule, aid) for rule, aid in dict.fromkeys(pairs) if routes.get(rule)]
    found: list[Any] = []
    for chunk in _chunks(wanted):
        found += conn.execute(
            select(match.c.id, match.c.rule, article.c.story_id)
            .join(article, article.c.id == match.c.article_id)
            .where(tuple_(match.c.rule, match.c.article_id).in_(list(chunk)),
                   match.c.alerted_at.is_(None))
            .order_by(match.c.id)
            .with_for_update(of=match)).all()
    told = alerted_pairs(conn, [(r.story_id, r.rule) for r in found
                                if r.story_id is not None and r.rule in per_story], [])
    rows: list[tuple[int, str]] = []
    for r in found:
        if r.story_id is not None and r.rule in per_story:
            if (r.story_id, r.rule) in told:
                continue
            told.add((r.story_id, r.rule))
        rows.append((r.id, r.rule))
    if not rows:
        return 0
    for chunk in _chunks([mid for mid, _ in rows]):
        conn.execute(update(match).where(match.c.id.in_(chunk)).values(alerted_at=now))
    alerts = [_alert_values(mid, route, now)
              for mid, rule in rows for route in dict.fromkeys(routes[rule])]
    return len(conn.execute(_stmt(conn, "alert"), alerts).all())


def _feed_state(r: Row[Any]) -> FeedState:
    return FeedState(
        id=r.id, url=r.url, name=r.name, tags=tuple(r.tags), interval_s=r.interval_s,
        etag=r.etag, last_modified=r.last_modified, last_status=r.last_status,
        last_error=r.last_error, error_count=r.error_count, last_polled_at=r.last_polled_at,
        next_poll_at=r.next_poll_at, fetch_url=r.fetch_url, body_hash=r.body_hash,
        items_per_day=r.items_per_day,
    )


def _hits(raw: Sequence[Mapping[str, Any]]) -> tuple[Hit, ...]:
    return tuple(Hit(**h) for h in raw)


def _article(r: Row[Any]) -> Article:
    return Article(
        feed_url=r.feed_url, feed_name=r.feed_name, feed_tags=tuple(r.feed_tags), key=r.key,
        guid=r.guid, link=r.link, canonical_url=r.canonical_url, title=r.title,
        summary=r.summary, content=r.content, authors=tuple(r.authors),
        categories=tuple(r.categories), published=r.published, updated=r.updated,
        full_text=r._mapping.get("full_text") or "",
        language=getattr(r, "language", None),
    )


def _alert_query() -> Any:
    query = (select(alert.c.id.label("alert_id"), alert.c.kind.label("alert_kind"),
                    alert.c.created_at.label("alert_created_at"), alert.c.recipient, alert.c.target_key,
                    alert.c.attempts, match.c.rule, match.c.hits, match.c.snippet,
                    match.c.matched_at, article, feed.c.url.label("feed_url"),
                    feed.c.name.label("feed_name"), feed.c.tags.label("feed_tags"))
             .join(match, match.c.id == alert.c.match_id)
             .join(article, article.c.id == match.c.article_id)
             .join(feed, feed.c.id == article.c.first_feed_id))
    return article_full_text(query)  # an alert's evidence may point into the full text


def _alert_to_send(r: Row[Any], story: StoryRef | None = None) -> AlertToSend:
    return AlertToSend(
        id=r.alert_id, rule=r.rule, recipient=r.recipient, target_key=r.target_key,
        attempts=r.attempts, article=_article(r), hits=_hits(r.hits), snippet=r.snippet,
        matched_at=r.matched_at, story=story,
    )
