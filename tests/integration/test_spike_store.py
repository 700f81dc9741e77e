"""Spike rules in the store: detection on story arrivals with an injected clock, one
alert per episode (also across replicas on PostgreSQL), and what the alert lists."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, text

from monitor.alerts.render import render_alert
from monitor.article import Article, FeedSpec, Match, Route
from monitor.store.repo import Store
from monitor.store.stories import StoryPolicy
from monitor.stories.spike import SpikeSettings

T0 = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
ROUTES = {"surge": [Route("team", "hook-1"), Route("ops", "hook-2")]}
SPIKE = SpikeSettings(window=HOUR, baseline=timedelta(days=1), factor=3, min_stories=3)
POLICY = StoryPolicy(spikes={"surge": SPIKE})


def story(n: int) -> Article:
    """An article of its own story: a common word and words no other article has."""
    words = " ".join(f"w{n}x{k}" for k in range(8))
    return Article("a", "a", (), f"k{n}", None, f"https://a.test/{n}", f"https://a.test/{n}",
                   f"TikTok report {n} {words}", f"TikTok {words}", language="en")


def open_store(url: str) -> tuple[Store, int]:
    store = Store.open(url)
    store.sync_feeds([FeedSpec(url="a", name="Outlet A")], T0, default_interval_s=900)
    feed_id = store.claim_due_feeds(T0, owner="t", include_not_due=True, lease_s=0,
                                    limit=None)[0].id
    store.use_stories(POLICY)
    return store, feed_id


def spike_alerts(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM alert WHERE kind = 'spike'"))
                       .scalar_one())
    finally:
        engine.dispose()


def test_steady_traffic_stays_quiet_and_each_surge_alerts_once(db_url: str) -> None:
    store, feed_id = open_store(db_url)
    n = 0

    def arrive(at: datetime) -> int:
        nonlocal n
        n += 1
        return store.save_articles(feed_id, [(story(n), [Match("surge", (), "s")])],
                                   ROUTES, at).new_alerts

    try:
        # a day of one story every two hours: never a spike
        steady = [arrive(T0 + 2 * i * HOUR) for i in range(13)]
        surge_at = T0 + timedelta(days=1, hours=1)
        first = [arrive(surge_at + timedelta(minutes=5 * i)) for i in range(6)]
        # three quiet hours (the count falls back: re-armed), then a second surge
        again_at = surge_at + 4 * HOUR
        second = [arrive(again_at + timedelta(minutes=5 * i)) for i in range(4)]
        claimed = store.claim_due_alerts(again_at + HOUR, owner="t", limit=100)
    finally:
        store.close()
    assert sum(steady) == 0
    # the third story of the surge reaches min_stories: both targets, once
    assert first == [0, 0, 2, 0, 0, 0] and second == [0, 0, 2, 0]
    assert spike_alerts(db_url) == 4
    latest = [a for a in claimed if a.spike is not None and a.recipient == "team"][-1]
    assert latest.spike is not None and latest.spike.count == 3
    assert [s.title.split()[2] for s in latest.spike.stories] == ["22", "21", "20"]
    body = render_alert(latest).text
    assert "spike: 3 stories in 1h" in body and "TikTok report 20" in body
    assert "Outlet A" in body


def test_later_articles_of_a_counted_story_do_not_count_again(db_url: str) -> None:
    store, feed_id = open_store(db_url)
    try:
        for i in range(3):  # one story, three copies from the same outlet
            copy = story(1)
            copy = Article(**{**copy.__dict__, "key": f"c{i}", "link": f"https://a.test/c{i}",
                              "canonical_url": f"https://a.test/c{i}"})
            store.save_articles(feed_id, [(copy, [Match("surge", (), "s")])], ROUTES,
                                T0 + timedelta(minutes=i))
    finally:
        store.close()
    assert spike_alerts(db_url) == 0


def test_replicas_checking_at_once_send_one_alert_per_episode(pg_url: str) -> None:
    replicas = [open_store(pg_url) for _ in range(2)]
    barrier = threading.Barrier(2)

    def ingest(r: int) -> None:
        store, feed_id = replicas[r]
        for i in range(4):  # both replicas bring surge stories at the same instants
            barrier.wait()
            n = 100 * r + i
            store.save_articles(feed_id, [(story(n), [Match("surge", (), "s")])], ROUTES,
                                T0 + timedelta(minutes=i))

    threads = [threading.Thread(target=ingest, args=(r,)) for r in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for store, _ in replicas:
            store.close()
    assert spike_alerts(pg_url) == 2  # one episode, two targets


def test_saves_whose_clocks_run_out_of_lock_order_keep_one_episode(db_url: str) -> None:
    """Threads read the clock before they wait for the assignment lock, so a save can
    come in with an earlier time than one already stored (CI saw a `once` fire a spike
    twice, and list a story stored after the firing). Stories are stored in assignment
    order, never before the latest one, and the episode fires once."""
    store, feed_id = open_store(db_url)
    late_first = [T0 + timedelta(minutes=m) for m in (10, 9, 11, 8, 12, 7)]
    try:
        alerts = [store.save_articles(feed_id, [(story(n), [Match("surge", (), "s")])],
                                      ROUTES, at).new_alerts
                  for n, at in enumerate(late_first, 1)]
        claimed = store.claim_due_alerts(T0 + HOUR, owner="t", limit=100)
    finally:
        store.close()
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            seen = list(conn.execute(text("SELECT first_seen FROM story ORDER BY id")).scalars())
    finally:
        engine.dispose()
    assert seen == sorted(seen) and len(seen) == 6
    assert alerts == [0, 0, 2, 0, 0, 0] and spike_alerts(db_url) == 2
    (spike,) = {a.spike for a in claimed if a.spike is not None}
    assert spike.count == 3  # what had arrived when it fired, not what came after


def test_a_new_feeds_backlog_does_not_count_as_a_spike(db_url: str) -> None:
    """A first poll stores old items as backlog (no alerts): their stories are first
    seen now but are not news now, so the next new story is no spike of them all."""
    store, feed_id = open_store(db_url)
    try:
        backlog = [story(n) for n in range(1, 11)]
        # five matched at ingest, five only later by `rules apply` (a rule added after)
        first = store.save_articles(
            feed_id, [(a, [Match("surge", (), "s")] if n <= 5 else []) for n, a in
                      enumerate(backlog, 1)], ROUTES, T0, quiet={a.key for a in backlog})
        applied = [(aid, [Match("surge", (), "s")]) for aid, a in
                   store.stored_articles_with_ids() if a.key in {"k6", "k7", "k8", "k9", "k10"}]
        assert store.add_matches(applied, {}, T0 + timedelta(minutes=1)) == (5, 0)
        later = store.save_articles(feed_id, [(story(11), [Match("surge", (), "s")])], ROUTES,
                                    T0 + timedelta(minutes=5))
        # two more new stories reach min_stories (3) of real arrivals: that is a spike
        more = [store.save_articles(feed_id, [(story(n), [Match("surge", (), "s")])], ROUTES,
                                    T0 + timedelta(minutes=5 + n)).new_alerts
                for n in (12, 13)]
        claimed = store.claim_due_alerts(T0 + HOUR, owner="t", limit=100)
    finally:
        store.close()
    assert first.new_alerts == 0 and later.new_alerts == 0
    assert more == [0, 2]
    spike = next(a.spike for a in claimed if a.spike is not None)
    assert spike.count == 3  # the three new stories, not the backlog's ten
