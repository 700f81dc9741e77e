"""Digests list matches by the entry's own date (published, else updated), labelled so.

Real Store (SQLite and PostgreSQL), real webhook receiver, injected clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from receivers import WebhookReceiver

from monitor.alerts.deliver import Notifier, RuleDelivery, claim_digests, deliver_due
from monitor.alerts.digest import RulePolicy, Schedule
from monitor.article import Article, FeedSpec, Hit, Match
from monitor.store.repo import Store

T0 = datetime(2026, 11, 26, 10, 15, tzinfo=UTC)
FEED = FeedSpec(url="http://127.0.0.1/atom.xml", name="Atom Feed")
#: (title, published, updated): fetched and matched together at T0.
ENTRIES = [
    ("Zoom old, updated only", None, datetime(2026, 11, 25, 9, 0, tzinfo=UTC)),
    ("Zoom published", datetime(2026, 11, 26, 8, 0, tzinfo=UTC), None),
    ("Zoom new, updated only", None, datetime(2026, 11, 26, 9, 0, tzinfo=UTC)),
]


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store.open(db_url)
    yield s
    s.close()


def test_digest_sorts_and_labels_by_published_else_updated(store: Store) -> None:
    rules = RuleDelivery(policies={"zoom": RulePolicy(mode="digest",
                                                      schedule=Schedule.every(3600))})
    with WebhookReceiver() as hook:
        notifier = Notifier({"team": [hook.json_url()]})
        store.sync_feeds([FEED], T0)
        (feed,) = store.claim_due_feeds(T0, owner="setup", include_not_due=True)
        store.record_fetch(feed.id, now=T0, next_poll_at=T0, status=200, error=None)
        items = [(Article(feed_url=FEED.url, feed_name=FEED.name, feed_tags=(), key=f"k{i}",
                          guid=f"k{i}", link=f"https://atom.example/{i}", canonical_url=None,
                          title=title, published=published, updated=updated),
                  [Match("zoom", (Hit("Zoom", "title", 0, 4, "Zoom"),), "«Zoom»")])
                 for i, (title, published, updated) in enumerate(ENTRIES)]
        store.save_articles(feed.id, items, {"zoom": notifier.routes_for(["team"])}, T0)
        assert deliver_due(store, notifier, T0, owner="w", rules=rules).held == 3
        eleven = T0 + timedelta(minutes=45)
        assert claim_digests(store, rules, eleven) == 1
        assert deliver_due(store, notifier, eleven, owner="w", rules=rules).sent == 1
        (msg,) = hook.delivered
    body = msg.json["message"]
    order = [body.index(f"«Zoom»{title[4:]}") for title, _, _ in ENTRIES]
    assert order[2] < order[1] < order[0]  # newest entry date first, not fetch order
    assert "Atom Feed · updated 2026-11-26 09:00 UTC" in body
    assert "Atom Feed · published 2026-11-26 08:00 UTC" in body
    assert "Atom Feed · updated 2026-11-25 09:00 UTC" in body
    assert "10:15" not in body  # the fetch/match time is never shown as a date
