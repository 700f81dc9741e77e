"""Ingest one fetched feed: parse, keep unseen, match, store (articles, matches, outbox).

    FetchResult ─▶ parse ─▶ unseen ─▶ match ─▶ save_articles ─▶ IngestOutcome

Whose failure is it? A feed that answers an error or does not parse is the feed's
(``IngestOutcome.error``: stored on the feed, counted in its error streak, backed
off). A database that is down, locked or full is ours (``IngestOutcome.deferred``):
nothing is recorded on the feed, its lease is given back, and it is polled again on
its own schedule once the database answers (its validators were not updated, so
nothing it served is lost). A bug on one feed's data is recorded on that feed, so
it backs off instead of crashing the pass.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from sys import intern
from typing import TYPE_CHECKING

from monitor.alerts.backlog import backlog_keys
from monitor.article import Article, FeedSpec, FeedState, FetchResult, PageJob, Route
from monitor.errors import StoreUnavailable
from monitor.stories.ingest import prepare_articles
from monitor.websub.discover import discover

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

    from monitor.config import Settings
    from monitor.feeds.parse import ParseResult
    from monitor.fulltext.runner import FullTextRunner
    from monitor.rules.compile import RuleSet
    from monitor.store.repo import Store
    from monitor.stories.assign import Prepared
    from monitor.websub.subscriber import WebSubscriber

log = logging.getLogger(__name__)

#: From this many unseen articles, their language and story features are worked
#: out in the parse process (one is a few hundred microseconds; a round trip to the
#: process about a tenth of that per article, plus a fixed cost).
_PREPARE_ELSEWHERE = 2
#: ... unless more feeds than this per parse process wait to be parsed and stories
#: are off: the parse processes are then the bottleneck, and an ingest thread would
#: only wait behind them. With stories on the storing process is (placing stays in
#: it), and working the features out here on a first ingest, where the queue is
#: full, cost it a tenth of its CPU (bench/RESULTS.md, "Stories, twelfth session").
_QUEUED_PER_WORKER = 4


def parse_feed(body: bytes, headers: Mapping[str, str], spec: FeedSpec, *,
               max_items: int | None = None) -> ParseResult:
    """``monitor.feeds.parse.parse_feed``, imported at the first feed to parse: feedparser
    and lxml are a tenth of a start-up that has nothing to parse (``once`` with no feeds,
    every feed 304). A name of this module, so bench/ingest.py can time it here."""
    from monitor.feeds import parse

    return parse.parse_feed(body, headers, spec, max_items=max_items)


@dataclass(frozen=True)
class IngestOutcome:
    """What ingesting one fetched feed did."""

    #: The feed's own failure (HTTP, parse): recorded on the feed.
    error: str | None = None
    #: The database was unavailable: nothing stored, nothing recorded on the feed.
    deferred: str | None = None
    #: 304, or a body byte-identical to the last one parsed.
    unchanged: bool = False
    #: Entries this feed had not seen before (stored now, or already via another feed).
    new_items: int = 0
    new_articles: int = 0
    new_matches: int = 0
    new_alerts: int = 0
    #: New matches not alerted: backlog on the feed's first poll, or an alerted story.
    backlog_matches: int = 0
    story_matches: int = 0
    #: The hash of the body parsed (None: nothing parsed).
    body_hash: str | None = None
    ttl_s: int | None = None
    #: The rule of each match found in the new articles (for metrics).
    rules: tuple[str, ...] = ()
    #: Article pages claimed for their full text, to fetch beside the poll.
    pages: tuple[PageJob, ...] = ()


class Ingesting:
    """The ingest half of ``Monitor`` (a mixin: the attributes are the Monitor's)."""

    settings: Settings
    store: Store
    rules: RuleSet
    clock: Callable[[], datetime]
    fulltext: FullTextRunner
    websub: WebSubscriber | None
    _routes: Mapping[str, tuple[Route, ...]]
    #: The parse processes (``poll.parse_workers``), once started, and their warm-up.
    _parse_pool: ProcessPoolExecutor | None
    _parse_warm: Future[ParseResult] | None
    _parse_queued: int
    _parse_workers: int

    def _ingest_safely(
        self, feed: FeedState, result: FetchResult, parsed: ParseResult | None = None,
    ) -> IngestOutcome:
        try:
            return self._ingest(feed, result, parsed)
        except StoreUnavailable as e:  # ours, not the feed's: StoreHealth logged it once
            log.debug("feed.deferred url=%s reason=%s", feed.url, e)
            return IngestOutcome(deferred=str(e))
        except Exception as e:  # a bug on one feed must not stop the others
            log.exception("feed.crashed url=%s", feed.url)
            return IngestOutcome(error=f"internal error: {type(e).__name__}: {e}")

    def _ingest(
        self, feed: FeedState, result: FetchResult, parsed: ParseResult | None = None,
    ) -> IngestOutcome:
        """Parse (unless ``parsed``), match and store one fetched feed (no scheduling,
        no fetch state)."""
        if result.not_modified:
            return IngestOutcome(unchanged=True)
        if result.error or result.body is None:
            return IngestOutcome(error=result.error or f"HTTP {result.status}: empty response")
        body_hash = hashlib.sha256(result.body).hexdigest()
        if body_hash == feed.body_hash:  # servers without validators: skip the parse
            return IngestOutcome(unchanged=True)
        if parsed is None:
            spec = FeedSpec(url=feed.url, name=feed.name, tags=feed.tags)
            parsed = parse_feed(result.body, result.headers, spec,
                                max_items=self.settings.poll.max_items)
        if parsed.error:
            return IngestOutcome(error=parsed.error)
        if self.websub is not None:
            self.websub.discovered(feed.id, discover(result.body, result.headers, feed.url))
        if parsed.warning:
            log.info("feed.parse_warning url=%s warning=%s", feed.url, parsed.warning)
        unseen = self.store.unseen_articles(feed.id, parsed.articles)
        prepared: dict[str, Prepared] = {}
        if self.settings.stories.enabled or self.rules.needs_language:
            unseen, prepared = self._prepare(unseen, parsed.language, parsed.articles)
        items = [(article, self.rules.match(article)) for article in unseen]
        now = self.clock()
        quiet = backlog_keys(unseen, first_poll=feed.body_hash is None, now=now,
                             backlog_s=self.settings.poll.backlog_s,
                             forgotten_s=self.settings.retention.articles_s)
        # Backlog items stay silent: their pages would alert the rules they missed.
        page_keys = self.fulltext.wanted_keys(feed.url, [a for a in unseen if a.key not in quiet])
        saved = self.store.save_articles(feed.id, items, self._routes, now, quiet=quiet,
                                         pages=page_keys, prepared=prepared)
        pages = self.fulltext.claim(feed.id, page_keys)
        return IngestOutcome(
            new_articles=saved.new_articles,
            new_items=len(unseen),
            new_matches=saved.new_matches,
            new_alerts=saved.new_alerts,
            backlog_matches=saved.backlog_matches,
            story_matches=saved.story_matches,
            body_hash=body_hash,
            ttl_s=parsed.ttl_s,
            rules=tuple(m.rule for _, ms in items for m in ms),
            pages=tuple(pages),
        )

    def _prepare(self, unseen: list[Article], declared: str | None,
                 document: Sequence[Article] = (),
                 ) -> tuple[list[Article], dict[str, Prepared]]:
        """The unseen articles with their language, and what stories need of each
        text (by key), worked out in a parse process when one is running (its core
        is otherwise idle once the feed is parsed), else here. ``document``: every
        item of the feed document (its boilerplate is read from all of them)."""
        stories = self.settings.stories.enabled
        keys = {a.key for a in unseen}
        # Only the items it does not have already travel to the parse process.
        doc = [a for a in document if a.key not in keys] if stories else []
        pool, warm = self._parse_pool, self._parse_warm
        done: tuple[list[Article], list[Prepared]] | None = None
        if pool is not None and len(unseen) >= _PREPARE_ELSEWHERE and (
                warm is None or warm.done()) and (
                stories or self._parse_queued <= _QUEUED_PER_WORKER * self._parse_workers):
            try:
                articles, ready = pool.submit(prepare_articles, unseen, declared, stories,
                                             doc).result()
                # Terms are interned here as they are in-process: an open story's
                # centroid then shares its strings with the others' (memory).
                done = articles, [p if p.vector is None else replace(
                    p, vector={intern(t): w for t, w in p.vector.items()}) for p in ready]
            except Exception as e:  # a broken pool: do it here instead
                log.warning("feed.prepare_pool_failed error=%s", e)
        if done is None:
            done = prepare_articles(unseen, declared, stories, doc)
        articles, ready = done
        return articles, {a.key: p for a, p in zip(articles, ready)}
