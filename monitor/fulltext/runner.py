"""Full text beside the poll: claim pages, fetch, extract, match again, store.

The feed item is matched and alerted first (the poll never waits for a page).
Each claimed page then runs as a task of its own; when its text arrives the
article is matched again with it, and only rules that had not matched add a
match row and alerts (the store's unique (rule, article) key makes a second row
impossible), in the same transaction as the page's outcome.

    wanted_keys ─▶ save_articles (page rows stored with the articles, due at once)
        ─▶ claim (lease them) ─▶ submit ─▶ fetch + extract ─▶ match
        ─▶ record_pages (one writer: the outcomes of the pages fetched meanwhile, new
           matches and outbox rows, one transaction) ─▶ kick delivery

A crash between the save and the claim leaves the page due: ``resume`` (after
every poll pass, in any replica) claims it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from monitor.article import Article, Match, PageJob, Route
from monitor.errors import StoreUnavailable
from monitor.fulltext.extract import FullTextMode, wants_full_text
from monitor.store.pages import PageRecord

if TYPE_CHECKING:  # aiohttp and the store load only when a page is fetched
    from monitor.config import Settings
    from monitor.feeds.fetch import HostSlots
    from monitor.fulltext.pages import PageFetcher, PageResult
    from monitor.store.repo import Store

log = logging.getLogger(__name__)

#: Attempts at one page before it is given up (timeouts, 5xx, empty extractions).
MAX_ATTEMPTS = 3
#: The first retry waits this long, each later one four times longer.
RETRY_BASE_S = 120


def _import_extractor() -> None:
    import trafilatura  # noqa: F401


def page_record(job: PageJob, result: PageResult, now: datetime) -> PageRecord:
    """What to store after one attempt at a page (pure): done, failed, or a retry."""
    common = {"http_status": result.status, "etag": result.etag,
              "last_modified": result.last_modified}
    if result.not_modified:  # asked again after an empty extraction: nothing new
        return PageRecord(job.article_id, now, "failed", **common,  # type: ignore[arg-type]
                          error="extraction empty: the page has not changed since")
    if result.error is None:
        return PageRecord(job.article_id, now, "done", text=result.text,
                          **common)  # type: ignore[arg-type]
    if result.transient and job.attempts + 1 < MAX_ATTEMPTS:
        due = now + timedelta(seconds=RETRY_BASE_S * 4 ** job.attempts)
        return PageRecord(job.article_id, now, "wanted", error=result.error, due_at=due,
                          **common)  # type: ignore[arg-type]
    return PageRecord(job.article_id, now, "failed", error=result.error,
                      **common)  # type: ignore[arg-type]


class FullTextRunner:
    """Runs page fetches as tasks on the daemon's loop; owns the page fetcher."""

    def __init__(self, store: Store, settings: Settings, *,
                 match: Callable[[Article], list[Match]],
                 routes: Callable[[], Mapping[str, Sequence[Route]]],
                 clock: Callable[[], datetime],
                 on_alerts: Callable[[], None] | None = None,
                 hosts: HostSlots | None = None) -> None:
        self.store = store
        #: The per-host slots pages share with feed polls (None: pages have their own).
        self.hosts = hosts
        self._match, self._routes, self._clock = match, routes, clock
        #: Called (on the loop) when a page added alerts: the daemon delivers at once.
        self.on_alerts = on_alerts
        self._pages: PageFetcher | None = None
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._warming: asyncio.Future[None] | None = None
        #: Pages fetched, waiting for the writer (``_store``), and the writer's task.
        self._queue: list[tuple[PageJob, PageResult, asyncio.Future[None]]] = []
        self._writer: asyncio.Future[None] | None = None
        #: New matches the pages' texts added, since the start (a poll pass reports
        #: the ones found while it ran, so `once` counts them with the feed items').
        self.new_matches = 0
        #: Pages not read, by (``failed`` or ``wanted`` again for a retry, the error).
        self.unread: Counter[tuple[str, str]] = Counter()
        self.configure(settings)

    def configure(self, settings: Settings) -> None:
        """Take the (re)loaded settings: modes per feed, limits for the next fetcher."""
        poll = settings.poll
        self.default_mode: FullTextMode = poll.full_text
        self.modes: dict[str, FullTextMode] = {
            f.url: f.full_text for f in settings.feeds if f.full_text is not None}
        self._limits = {"timeout_s": poll.timeout_s, "max_bytes": poll.max_bytes,
                        "concurrency": poll.full_text_concurrency, "per_host": poll.per_host}
        self.lease_s = max(120, 3 * poll.timeout_s)

    def warm(self) -> None:
        """Import the extractor in the background (daemon start) when a feed may want
        pages: trafilatura takes about a second to import, which the first page's
        alert would otherwise wait for."""
        if self.default_mode != "false" or any(m != "false" for m in self.modes.values()):
            self._warming = asyncio.ensure_future(asyncio.to_thread(_import_extractor))

    def mode(self, feed_url: str) -> FullTextMode:
        return self.modes.get(feed_url, self.default_mode)

    def wanted_keys(self, feed_url: str, articles: Sequence[Article]) -> list[str]:
        """The keys of the articles whose page to fetch (``save_articles(pages=...)``
        stores their page jobs with them)."""
        mode = self.mode(feed_url)
        return [a.key for a in articles if wants_full_text(mode, a)]

    def claim(self, feed_id: int, keys: Sequence[str]) -> list[PageJob]:
        """Lease the pages just stored for these articles (blocking: call it in the
        worker thread that saved them). Pages another feed or replica claimed first
        are not returned, so no page is fetched twice."""
        if not keys:
            return []
        return self.store.claim_new_pages(feed_id, keys, self._clock(), lease_s=self.lease_s)

    def submit(self, jobs: Sequence[PageJob]) -> None:
        """Start one task per page (on the running loop); returns at once."""
        for job in jobs:
            if job.article_id not in self._tasks:
                task = asyncio.ensure_future(self._run(job))
                self._tasks[job.article_id] = task
                task.add_done_callback(lambda _t, i=job.article_id: self._tasks.pop(i, None))

    async def resume(self, limit: int = 50) -> int:
        """Claim pages whose retry is due or whose fetcher died, and start them."""
        jobs = await asyncio.to_thread(self.store.claim_due_pages, self._clock(),
                                       lease_s=self.lease_s, limit=limit)
        self.submit(jobs)
        return len(jobs)

    async def drain(self, timeout_s: float | None = None) -> None:
        """Wait for the running pages (a page may still be running after the timeout)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=timeout_s)

    async def aclose(self, timeout_s: float | None = None) -> None:
        """Finish the running pages, then close the HTTP session."""
        await self.drain(timeout_s)
        for task in list(self._tasks.values()):  # past the timeout: their leases expire
            task.cancel()
        if self._pages is not None:
            await self._pages.__aexit__(None, None, None)
            self._pages = None

    async def _fetcher(self) -> PageFetcher:
        if self._pages is None:
            from monitor.fulltext.pages import PageFetcher

            pages = PageFetcher(**self._limits, hosts=self.hosts)
            self._pages = await pages.__aenter__()
        return self._pages

    async def _run(self, job: PageJob) -> None:
        try:
            pages = await self._fetcher()
            result = await pages.get(job.url, job.etag, job.last_modified)
            await self._store(job, result)
        except StoreUnavailable:  # logged once by the store; the page's lease brings it back
            return
        except Exception:  # one page must not stop the others; its lease brings it back
            log.exception("page.crashed url=%s", job.url)

    async def _store(self, job: PageJob, result: PageResult) -> None:
        """Queue the page for the writer and wait until it is stored. One writer stores
        every page fetched meanwhile in one transaction: pages stored one by one from
        several threads contended for SQLite's write lock (bench/latency.py: 49 ms a
        page, holding the worker threads that delivery and ingest need too)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((job, result, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write())
        await done

    async def _write(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                new_alerts = await asyncio.to_thread(
                    self._finish, [(job, result) for job, result, _ in batch])
            except Exception as e:  # noqa: BLE001 (each page's task logs it: page.crashed)
                for _, _, done in batch:
                    if not done.done():
                        done.set_exception(e)
                continue
            for _, _, done in batch:
                if not done.done():
                    done.set_result(None)
            if new_alerts and self.on_alerts is not None:
                self.on_alerts()

    def _finish(self, batch: Sequence[tuple[PageJob, PageResult]]) -> int:
        """Match the articles with their full texts and store the pages' outcomes."""
        now, items = self._clock(), []
        for job, result in batch:
            record = page_record(job, result, now)
            matches: list[Match] = []
            if record.status == "done":
                matches = self._match(replace(job.article, full_text=record.text))
            items.append((record, matches))
            if record.status != "done":
                self.unread[record.status, record.error or "no text"] += 1
            log.info("page.fetched url=%s status=%s outcome=%s words=%d error=%s matches=%d",
                     job.url, result.status, record.status, len(record.text.split()),
                     record.error, len(matches))
        new_matches, new_alerts = self.store.record_pages(items, self._routes())
        self.new_matches += new_matches  # one writer at a time (_write): no race
        log.info("pages.stored pages=%d new_matches=%d new_alerts=%d", len(items),
                 new_matches, new_alerts)
        return new_alerts
