"""Retention: delete old rows in small batches (mixed into ``repo.Store``).

``retention: {articles: 90d, matches: 365d, alerts: 30d}`` keeps, at ``now``:

* outbox rows (``alert``) that are not final, whatever their age; final ones (sent,
  dead, or digested into a digest that went out) for ``alerts`` after they were
  queued; a ``digest`` row as long as an outbox row refers to it;
* a match for ``matches``, and longer while one of its alerts is unsent (pending,
  failed, held, or digested into a digest not yet sent);
* an article for ``articles`` after it was stored, and longer while it has a match:
  a matched article lives as long as its matches, so an article with an unsent
  alert is never deleted. With it go its feed sources, its page and (triggers) its
  search index entry; a story goes once its last article has.

Each batch of at most ``batch`` rows is one short transaction, children first, so
foreign keys hold at every commit, a concurrent poll or delivery waits for one
batch at most, and the freed space is reused (SQLite's free list; PostgreSQL's
autovacuum sees many small deletes rather than one huge one). Batches walk the
primary key upwards, so one prune reads each table once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, delete, exists, not_, or_, select
from sqlalchemy.sql.expression import Select

from monitor.errors import StoreError
from monitor.redact import redact
from monitor.store.tables import (
    alert,
    article,
    article_page,
    article_source,
    digest,
    match,
    story,
)

log = logging.getLogger(__name__)

#: Outbox statuses after which a row never changes again (``digested``: see _final).
_DONE = ("sent", "dead")


@dataclass(frozen=True)
class RetentionPolicy:
    """How long rows are kept, in seconds; None keeps them for ever."""

    articles_s: int | None = None
    matches_s: int | None = None
    alerts_s: int | None = None
    #: Rows deleted per transaction.
    batch: int = 500

    @property
    def enabled(self) -> bool:
        return any(v is not None for v in (self.articles_s, self.matches_s, self.alerts_s))


@dataclass
class PruneReport:
    """Rows deleted by one prune, by table."""

    alerts: int = 0
    digests: int = 0
    matches: int = 0
    articles: int = 0
    sources: int = 0
    pages: int = 0
    stories: int = 0

    @property
    def total(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self))


def _final(row: Any) -> ColumnElement[bool]:
    """The outbox row ``row`` (an alias of ``alert``) will never be sent again: sent or
    dead, or digested into a digest whose own message is sent or dead."""
    message = alert.alias("message")
    digest_pending = exists().where(message.c.kind == "digest",
                                    message.c.digest_id == row.c.digest_id,
                                    message.c.status.not_in(_DONE))
    return or_(row.c.status.in_(_DONE), and_(row.c.status == "digested", not_(digest_pending)))


def _unsent_alert_of_match() -> ColumnElement[bool]:
    row = alert.alias("unsent")
    return exists().where(row.c.match_id == match.c.id, not_(_final(row)))


class RetentionQueries:
    """Deletes old rows; needs ``_tx`` from the Store."""

    _tx: Callable[..., Any]
    _prune_stop: Callable[[], bool] = staticmethod(lambda: False)

    def prune(
        self, policy: RetentionPolicy, now: datetime, *, stop: Callable[[], bool] = lambda: False
    ) -> PruneReport:
        """Delete what ``policy`` no longer keeps at ``now``, batch by batch; once
        ``stop()``, after the batch under way (the next prune goes on from there)."""
        report = PruneReport()
        self._prune_stop = stop
        if policy.alerts_s is not None:
            cutoff = now - timedelta(seconds=policy.alerts_s)
            old = and_(alert.c.created_at < cutoff, _final(alert))
            report.alerts += self._batches(policy.batch, alert.c.id, old, _delete_alerts)
            unused = and_(digest.c.created_at < cutoff,
                          not_(exists().where(alert.c.digest_id == digest.c.id)))
            report.digests += self._batches(policy.batch, digest.c.id, unused, _delete_digests)
        if policy.matches_s is not None:
            cutoff = now - timedelta(seconds=policy.matches_s)
            old = and_(match.c.matched_at < cutoff, not_(_unsent_alert_of_match()))

            def matches(conn: Connection, ids: list[int]) -> int:
                report.alerts += conn.execute(delete(alert).where(alert.c.match_id.in_(ids))
                                              ).rowcount
                return int(conn.execute(delete(match).where(match.c.id.in_(ids))).rowcount)

            report.matches += self._batches(policy.batch, match.c.id, old, matches)
        if policy.articles_s is not None:
            cutoff = now - timedelta(seconds=policy.articles_s)
            old = and_(article.c.fetched_at < cutoff,
                       not_(exists().where(match.c.article_id == article.c.id)))

            def articles(conn: Connection, ids: list[int]) -> int:
                report.sources += conn.execute(
                    delete(article_source).where(article_source.c.article_id.in_(ids))).rowcount
                report.pages += conn.execute(
                    delete(article_page).where(article_page.c.article_id.in_(ids))).rowcount
                return int(conn.execute(delete(article).where(article.c.id.in_(ids))).rowcount)

            report.articles += self._batches(policy.batch, article.c.id, old, articles)
            empty = and_(story.c.last_seen < cutoff,
                         not_(exists().where(article.c.story_id == story.c.id)))
            report.stories += self._batches(policy.batch, story.c.id, empty, _delete_stories)
        if report.total:
            log.info("retention.pruned %s", " ".join(
                f"{f.name}={getattr(report, f.name)}" for f in fields(report)))
        return report

    def _batches(
        self, size: int, key: Any, where: ColumnElement[bool],
        remove: Callable[[Connection, list[int]], int],
    ) -> int:
        """Delete the rows of ``key``'s table matching ``where``, ``size`` per
        transaction, walking the key upwards; how many."""
        deleted, after = 0, 0
        while True:
            query: Select[Any] = (select(key).where(key > after, where)
                                  .order_by(key).limit(size))

            def work(conn: Connection, query: Select[Any] = query) -> tuple[int, int | None]:
                ids = list(conn.scalars(query))
                return (remove(conn, ids) if ids else 0), (ids[-1] if ids else None)

            count, last = self._tx("pruning old rows", work)
            deleted += count
            if last is None or self._prune_stop():
                return deleted
            after = last

    def vacuum(self) -> None:
        """Give freed space back to the file system (SQLite ``VACUUM``) or let
        PostgreSQL reuse it and refresh its statistics (``VACUUM ANALYZE``); outside
        a transaction, as both require."""
        engine = self._engine  # type: ignore[attr-defined]
        sqlite = engine.dialect.name == "sqlite"
        # The raw driver connection: the engine's "begin" hook would open a transaction.
        raw = engine.raw_connection()
        try:
            driver = raw.driver_connection
            if not sqlite:
                driver.autocommit = True  # psycopg: VACUUM refuses a transaction block
            driver.execute("VACUUM" if sqlite else "VACUUM ANALYZE")
        except Exception as e:  # the driver's own error types: sqlite3 or psycopg
            raise StoreError(redact(f"vacuum failed: {type(e).__name__}: {e}")) from e
        finally:
            if not sqlite:
                raw.driver_connection.autocommit = False
            raw.close()


def _delete_alerts(conn: Connection, ids: list[int]) -> int:
    return int(conn.execute(delete(alert).where(alert.c.id.in_(ids))).rowcount)


def _delete_digests(conn: Connection, ids: list[int]) -> int:
    return int(conn.execute(delete(digest).where(digest.c.id.in_(ids))).rowcount)


def _delete_stories(conn: Connection, ids: list[int]) -> int:
    return int(conn.execute(delete(story).where(story.c.id.in_(ids))).rowcount)
