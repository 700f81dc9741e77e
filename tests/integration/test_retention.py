"""Retention on a real store (SQLite and PostgreSQL) with an injected clock: each row
is written at a chosen time, and ``prune`` runs at a chosen ``now``; nothing sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from monitor.alerts.backlog import backlog_keys
from monitor.article import Article, FeedSpec, Hit, Match, Route
from monitor.store.pages import want_pages_in
from monitor.store.repo import Store
from monitor.store.retention import RetentionPolicy
from monitor.store.tables import alert, article, article_page, article_source, match

NOW = datetime(2027, 6, 1, 12, tzinfo=UTC)
FEED = FeedSpec(url="http://127.0.0.1/feed.xml", name="Local Feed")
ROUTE = Route(recipient="team", target_key="t1")
DAY = timedelta(days=1)
POLICY = RetentionPolicy(articles_s=90 * 86400, matches_s=365 * 86400, alerts_s=30 * 86400,
                         batch=2)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store.open(db_url)
    s.sync_feeds([FEED], NOW - 500 * DAY)
    yield s
    s.close()


def add(store: Store, key: str, age: timedelta, *, matched: bool = False,
        sent: bool = False) -> None:
    """One article stored ``age`` before NOW (its match and alert then too)."""
    at = NOW - age
    (feed,) = store.claim_due_feeds(at, owner="t", include_not_due=True)
    art = Article(feed_url=FEED.url, feed_name=FEED.name, feed_tags=(), key=key, guid=key,
                  link=f"https://news.example/{key}", canonical_url=f"https://news.example/{key}",
                  title=f"Zoom story {key}", summary="Zoom news", published=at)
    matches = [Match("zoom", (Hit("Zoom", "title", 0, 4, "Zoom"),), "Zoom")] if matched else []
    store.save_articles(feed.id, [(art, matches)], {"zoom": (ROUTE,)}, at)
    store.release_leases("t")
    if sent:
        claimed = store.claim_due_alerts(at, owner="t")
        store.mark_alert_sent(next(a.id for a in claimed if a.article.key == key), at)
        store.release_leases("t")


def keys(store: Store) -> set[str]:
    return set(store._tx("t", lambda c: c.scalars(select(article.c.key)).all()))


def count(store: Store, table: object) -> int:
    return int(store._tx("t", lambda c: c.scalar(select(func.count()).select_from(table))))


def test_prune_keeps_what_the_policy_and_unsent_alerts_need(store: Store) -> None:
    add(store, "recent", 10 * DAY)
    add(store, "old-unmatched", 100 * DAY)
    add(store, "old-unmatched-2", 95 * DAY)
    add(store, "old-matched-sent", 100 * DAY, matched=True, sent=True)
    add(store, "ancient-matched-sent", 400 * DAY, matched=True, sent=True)
    add(store, "ancient-unsent", 400 * DAY, matched=True)  # its alert still pending
    add(store, "recent-sent", 10 * DAY, matched=True, sent=True)
    (feed,) = store.claim_due_feeds(NOW, owner="t", include_not_due=True)
    when = NOW - 100 * DAY  # the page row as ingest writes it, with its article
    store._tx("t", lambda c: want_pages_in(c, feed.id, ["old-unmatched"], when))
    assert store.claim_new_pages(feed.id, ["old-unmatched"], when, lease_s=60)
    before = count(store, article_source)

    report = store.prune(POLICY, NOW)

    # Unmatched past 90 days: gone with sources and page; a match keeps its article for
    # 365 days; an unsent alert keeps its match and article whatever their age.
    assert keys(store) == {"recent", "old-matched-sent", "ancient-unsent", "recent-sent"}
    assert (report.articles, report.matches, report.pages) == (3, 1, 1)
    assert count(store, article_source) == before - 3 == 4
    assert count(store, article_page) == 0
    # Sent alerts older than 30 days are gone (the 100- and 400-day ones); the pending
    # one and the recent one stay.
    statuses = sorted(store._tx("t", lambda c: c.scalars(select(alert.c.status)).all()))
    assert statuses == ["pending", "sent"]
    assert report.alerts == 2
    assert count(store, match) == 3
    # A second prune at the same time has nothing left to do.
    assert store.prune(POLICY, NOW).total == 0


def test_search_no_longer_finds_a_pruned_article(store: Store) -> None:
    add(store, "gone", 100 * DAY)
    add(store, "kept", 1 * DAY)
    store.prune(POLICY, NOW)
    found = [a.title for a in store.article_page(search="Zoom").items]
    assert found == ["Zoom story kept"]


def test_nothing_configured_deletes_nothing(store: Store) -> None:
    add(store, "old", 1000 * DAY)
    assert store.prune(RetentionPolicy(), NOW).total == 0
    assert keys(store) == {"old"}


def test_a_stopping_prune_ends_after_its_batch_and_the_next_goes_on(store: Store) -> None:
    for i in range(5):
        add(store, f"old{i}", 100 * DAY)
    first = store.prune(POLICY, NOW, stop=lambda: True)
    assert first.articles == 2  # one batch
    assert store.prune(POLICY, NOW).articles == 3


def test_an_old_item_seen_again_after_its_article_was_pruned_is_not_alerted() -> None:
    old = Article(feed_url=FEED.url, feed_name=FEED.name, feed_tags=(), key="k", guid="k",
                  link=None, canonical_url=None, title="t", published=NOW - 120 * DAY)
    new = Article(feed_url=FEED.url, feed_name=FEED.name, feed_tags=(), key="n", guid="n",
                  link=None, canonical_url=None, title="t", published=NOW - DAY)
    quiet = backlog_keys([old, new], first_poll=False, now=NOW, backlog_s=86400,
                         forgotten_s=90 * 86400)
    assert quiet == {"k"}
    assert backlog_keys([old, new], first_poll=False, now=NOW, backlog_s=86400) == set()
