"""Article pages wanted for their full text (mixed into ``repo.Store``).

One ``article_page`` row per article, inserted in the transaction that saves the
article (``want_pages_in``, called by ``save_articles``), due at once: a crash right
after the save leaves a due row, which the next claim (any replica, or this one
restarted) picks up. The process that saved it then claims it (``claim_new_pages``);
when two feeds (or two replicas) carry the same story, one row is stored and one
claim wins. A row stays ``wanted`` while a fetch is due or running (``due_at`` is
then its lease: a replica that dies mid-fetch loses the page to the next claim),
and ends ``done`` (text kept) or ``failed`` (error kept, the article as it was).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, case, func, select, update

from monitor.article import Match, PageJob, Route
from monitor.store.tables import article, article_page, article_source, feed


@dataclass(frozen=True)
class PageRecord:
    """The outcome of one page fetch, to store (see ``record_page``)."""

    article_id: int
    now: datetime
    #: "done", "failed", or "wanted" again (a retry due at ``due_at``).
    status: str
    text: str = ""
    error: str | None = None
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    due_at: datetime | None = None


@dataclass(frozen=True)
class PageStats:
    """A feed's article pages by outcome, for ``status``."""

    done: int = 0
    failed: int = 0
    wanted: int = 0

    @property
    def failure_rate(self) -> float | None:
        finished = self.done + self.failed
        return self.failed / finished if finished else None


class PageQueries:
    """Full-text page queries; needs ``_tx`` from the Store."""

    _tx: Callable[..., Any]

    def claim_new_pages(self, feed_id: int, keys: Sequence[str], now: datetime, *,
                        lease_s: int) -> list[PageJob]:
        """Lease the pages just wanted for this feed's articles with these keys (see
        ``want_pages_in``). A page another feed or replica holds, or that is fetched
        or failed already, is not returned: no page is fetched twice."""
        if not keys:
            return []
        src, page = article_source.c, article_page.c
        mine = (select(page.article_id)
                .join(article_source, src.article_id == page.article_id)
                .where(src.feed_id == feed_id, src.key.in_(list(keys)),
                       page.status == "wanted", page.due_at <= now))
        return self._lease_pages(mine, now, lease_s, "claiming new pages")

    def claim_due_pages(self, now: datetime, *, lease_s: int, limit: int = 50) -> list[PageJob]:
        """Lease wanted pages whose (next) attempt is due: retries, pages whose fetcher
        died (their lease ran out), and pages whose saver died before its claim."""
        due = (select(article_page.c.article_id)
               .where(article_page.c.status == "wanted", article_page.c.due_at <= now)
               .order_by(article_page.c.due_at).limit(limit))
        return self._lease_pages(due, now, lease_s, "claiming due pages")

    def _lease_pages(self, ids: Any, now: datetime, lease_s: int, action: str) -> list[PageJob]:
        def work(conn: Connection) -> list[PageJob]:
            won = conn.execute(
                update(article_page)
                .where(article_page.c.article_id.in_(
                    ids.with_for_update(of=article_page, skip_locked=True)))
                .values(due_at=now + timedelta(seconds=lease_s))
                .returning(article_page.c.article_id)).scalars().all()
            return _jobs(conn, won)

        return self._tx(action, work)  # type: ignore[no-any-return]

    def record_page(self, record: PageRecord, matches: Sequence[Match],
                    routes: Mapping[str, Sequence[Route]]) -> tuple[int, int]:
        """``record_pages`` for one page."""
        return self.record_pages([(record, matches)], routes)

    def record_pages(self, items: Sequence[tuple[PageRecord, Sequence[Match]]],
                     routes: Mapping[str, Sequence[Route]]) -> tuple[int, int]:
        """Store pages' outcomes and the matches their texts added (rules that had not
        matched yet: one more match row each, never a second one), in one transaction:
        one write for a burst of pages, not one each contending for the write lock.
        Returns (new_matches, new_alerts)."""
        from monitor.store.repo import _insert_matches_bulk  # repo imports this module

        def work(conn: Connection) -> tuple[int, int]:
            for record, _ in items:
                conn.execute(update(article_page)
                             .where(article_page.c.article_id == record.article_id)
                             .values(_page_values(record)))
            found = [(r.article_id, ms, True) for r, ms in items if ms]
            if not found:
                return (0, 0)
            return _insert_matches_bulk(conn, found, routes, items[0][0].now)[:2]

        return self._tx("recording pages", work)  # type: ignore[no-any-return]

    def page_stats(self) -> dict[str, PageStats]:
        """Per feed URL: its articles' pages done, failed and wanted."""
        status = article_page.c.status
        query = (select(feed.c.url,
                        *(func.sum(case((status == s, 1), else_=0)).label(s)
                          for s in ("done", "failed", "wanted")))
                 .join(article, article.c.first_feed_id == feed.c.id)
                 .join(article_page, article_page.c.article_id == article.c.id)
                 .group_by(feed.c.url))

        def work(conn: Connection) -> dict[str, PageStats]:
            return {r.url: PageStats(int(r.done), int(r.failed), int(r.wanted))
                    for r in conn.execute(query)}

        return self._tx("reading page stats", work, readonly=True)  # type: ignore[no-any-return]


def _page_values(r: PageRecord) -> dict[str, Any]:
    from monitor.store.repo import _cap  # repo imports this module

    values: dict[str, Any] = {"status": r.status, "error": _cap(r.error),
                              "http_status": r.http_status, "due_at": r.due_at,
                              "fetched_at": r.now, "attempts": article_page.c.attempts + 1}
    if r.status == "done":
        values["text"] = r.text
    if r.etag or r.last_modified:
        values.update(etag=r.etag, last_modified=r.last_modified)
    return values


def want_pages_in(conn: Connection, feed_id: int, keys: Collection[str], now: datetime) -> None:
    """Within the transaction that saved them: want the pages of this feed's articles
    with these keys, due at once. An article whose page is already wanted, fetched or
    failed (via another feed) keeps its row."""
    if not keys:
        return
    src = article_source.c
    rows = (select(article.c.id, article.c.link)
            .join(article_source, src.article_id == article.c.id)
            .where(src.feed_id == feed_id, src.key.in_(list(keys)),
                   article.c.link.is_not(None)))
    values = [{"article_id": r.id, "url": r.link, "status": "wanted", "text": "",
               "attempts": 0, "due_at": now, "created_at": now} for r in conn.execute(rows)]
    if values:
        conn.execute(_insert(conn).on_conflict_do_nothing(
            index_elements=[article_page.c.article_id]), values)


def _insert(conn: Connection) -> Any:
    from monitor.store.repo import _insert as insert

    return insert(conn, article_page)


def _jobs(conn: Connection, ids: Sequence[int]) -> list[PageJob]:
    """The claimed pages with their articles as stored (first feed's name and tags)."""
    if not ids:
        return []
    from monitor.store.repo import _article

    page = article_page.c
    query = (select(article, page.url.label("page_url"), page.attempts.label("page_attempts"),
                    page.etag.label("page_etag"), page.last_modified.label("page_lm"),
                    feed.c.url.label("feed_url"), feed.c.name.label("feed_name"),
                    feed.c.tags.label("feed_tags"))
             .join(article_page, page.article_id == article.c.id)
             .join(feed, feed.c.id == article.c.first_feed_id)
             .where(article.c.id.in_(list(ids))).order_by(article.c.id))
    return [PageJob(article_id=r.id, url=r.page_url, article=_article(r),
                    attempts=r.page_attempts, etag=r.page_etag, last_modified=r.page_lm)
            for r in conn.execute(query)]


def article_full_text(query: Any) -> Any:
    """``query`` (selecting from article) with the page text as ``full_text``."""
    return (query.add_columns(article_page.c.text.label("full_text"))
            .outerjoin(article_page, article_page.c.article_id == article.c.id))

