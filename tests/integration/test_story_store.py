"""Stories in the store: assignment in the saving transaction, alert once per story,
replicas racing on PostgreSQL, and a restart that picks up the open stories."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from monitor.article import Article, FeedSpec, Match, Route
from monitor.store.repo import Store
from monitor.store.stories import StoryCache, StoryPolicy, unpack_story_state
from monitor.stories.assign import StorySettings

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
ROUTES = {"tiktok": [Route("team", "hook-1")], "every": [Route("team", "hook-1")]}
POLICY = StoryPolicy(per_story={"tiktok": "none"})
COPY_A = ("US moves to ban TikTok over data security fears",
          "The Commerce Department said on Monday it would ban the TikTok app from US app "
          "stores, citing national security risks from its Chinese owner ByteDance.")
COPY_B = ("US to ban TikTok over security fears",
          "The Commerce Department said Monday it would ban the TikTok app from app stores, "
          "citing national security risks from Chinese owner ByteDance.")
FLOODS = ("Floods in Valencia leave thousands without power",
          "Heavy rain caused rivers to overflow across the Valencia region.")


def art(feed: str, n: int, text_: tuple[str, str]) -> Article:
    return Article(feed, feed, (), f"k{n}", None, f"https://{feed}.test/{n}",
                   f"https://{feed}.test/{n}", text_[0], text_[1], language="en")


def matched(*rules: str) -> list[Match]:
    return [Match(r, (), "snippet") for r in rules]


def open_store(url: str, feeds: list[str], policy: StoryPolicy = POLICY) -> tuple[Store, dict]:
    store = Store.open(url)
    store.sync_feeds([FeedSpec(url=f, name=f) for f in feeds], T0, default_interval_s=900)
    ids = {f.url: f.id for f in store.claim_due_feeds(T0, owner="t", include_not_due=True,
                                                       lease_s=0, limit=None)}
    store.use_stories(policy)
    return store, ids


def count(url: str, sql: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar_one())
    finally:
        engine.dispose()


def test_copies_share_a_story_and_alert_once_per_rule(db_url: str) -> None:
    store, ids = open_store(db_url, ["a", "b", "c"])
    try:
        r1 = store.save_articles(ids["a"], [(art("a", 1, COPY_A), matched("tiktok", "every")),
                                            (art("a", 2, FLOODS), [])], ROUTES, T0)
        r2 = store.save_articles(ids["b"], [(art("b", 1, COPY_B), matched("tiktok", "every"))],
                                 ROUTES, T0 + timedelta(minutes=5))
        stories = store.list_stories()
    finally:
        store.close()
    # tiktok (per story): one alert; every (per article, not in the policy): two.
    assert (r1.new_alerts, r2.new_alerts, r2.new_matches) == (2, 1, 2)
    by_title = {s.title: s for s in stories}
    tiktok = by_title[COPY_A[0]]
    assert [a.feed for a in tiktok.articles] == ["a", "b"] and tiktok.rules == ["every", "tiktok"]
    assert len(by_title[FLOODS[0]].articles) == 1
    assert tiktok.last_seen == T0 + timedelta(minutes=5) and tiktok.first_seen == T0


def test_story_updates_digest_holds_later_matches(db_url: str) -> None:
    released = T0 + timedelta(hours=1)
    policy = StoryPolicy(per_story={"tiktok": "digest"}, release_at=lambda rule, now: released)
    store, ids = open_store(db_url, ["a", "b"], policy)
    try:
        store.save_articles(ids["a"], [(art("a", 1, COPY_A), matched("tiktok"))], ROUTES, T0)
        store.save_articles(ids["b"], [(art("b", 1, COPY_B), matched("tiktok"))], ROUTES, T0)
        statuses = sorted(a.status for a in store.list_alerts())
    finally:
        store.close()
    assert statuses == ["held", "pending"]


def test_a_window_closes_and_a_restart_keeps_the_open_stories(db_url: str) -> None:
    policy = StoryPolicy(settings=StorySettings(window_s=3600), per_story={"tiktok": "none"})
    store, ids = open_store(db_url, ["a", "b", "c"], policy)
    store.save_articles(ids["a"], [(art("a", 1, COPY_A), matched("tiktok"))], ROUTES, T0)
    store.close()
    # A new process: the open story is read back from the database.
    store, ids = open_store(db_url, ["a", "b", "c"], policy)
    try:
        inside = store.save_articles(ids["b"], [(art("b", 1, COPY_B), matched("tiktok"))],
                                     ROUTES, T0 + timedelta(minutes=30))
        later = store.save_articles(ids["c"], [(art("c", 1, COPY_B), matched("tiktok"))],
                                    ROUTES, T0 + timedelta(hours=2))
        stories = store.list_stories()
    finally:
        store.close()
    assert (inside.new_alerts, later.new_alerts) == (0, 1)  # later coverage: a new story
    assert sorted(len(s.articles) for s in stories) == [1, 2]


def test_a_copy_dated_years_later_is_other_news_also_after_a_restart(db_url: str) -> None:
    """A first poll brings items years old at once: a copy dated seven years after the
    story's first article is not that story, also in a process that reads the story
    back (its date is its first dated article's, undated articles before it)."""
    old = datetime(2009, 6, 30, 14, tzinfo=UTC)
    store, ids = open_store(db_url, ["a", "b", "c", "d"])
    store.save_articles(ids["a"], [(art("a", 1, COPY_A), matched("tiktok"))], ROUTES, T0)
    store.save_articles(ids["b"], [(replace(art("b", 1, COPY_B), published=old), [])],
                        ROUTES, T0)
    store.close()
    store, ids = open_store(db_url, ["a", "b", "c", "d"])
    try:
        years = store.save_articles(ids["c"], [(replace(art("c", 1, COPY_B),
                                                        updated=old + timedelta(days=2557)),
                                                matched("tiktok"))], ROUTES, T0)
        days = store.save_articles(ids["d"], [(replace(art("d", 1, COPY_A),
                                                       published=old + timedelta(hours=20)),
                                               matched("tiktok"))], ROUTES, T0)
        stories = store.list_stories()
    finally:
        store.close()
    assert (years.new_alerts, days.new_alerts) == (1, 0)  # a new story; the same story
    assert sorted(sorted(a.feed for a in s.articles) for s in stories) == [["a", "b", "d"],
                                                                          ["c"]]


def test_stories_written_before_0015_as_json_load_as_they_were(db_url: str) -> None:
    """A story row written as JSON (``packed`` NULL, before 0015) is read back into the
    same open story as its packed form, and the next copy joins it."""
    policy = StoryPolicy(settings=StorySettings(), per_story={"tiktok": "none"})
    store, ids = open_store(db_url, ["a", "b"], policy)
    store.save_articles(ids["a"], [(art("a", 1, COPY_A), matched("tiktok")),
                                   (art("a", 2, FLOODS), [])], ROUTES, T0)
    store.close()

    def loaded() -> dict[int, tuple]:
        cache = StoryCache(policy)
        with engine.connect() as conn:
            cache.sync(conn, T0)
        return {i: (list(s.centroid.items()), list(s.terms.items()), s.norm, s.articles)
                for i, s in cache.index.stories.items()}

    engine = create_engine(db_url)
    try:
        packed = loaded()
        with engine.begin() as conn:
            rows = conn.execute(text("SELECT id, packed FROM story")).all()
            for story_id, data in rows:
                centroid, terms = unpack_story_state(bytes(data))
                terms[""] = 1  # an article without a word list (counted in the IDF)
                conn.execute(text("UPDATE story SET centroid = :c, terms = :t, packed = NULL"
                                  " WHERE id = :i"), {"c": json.dumps(centroid),
                                                       "t": json.dumps(terms), "i": story_id})
        as_json = loaded()
    finally:
        engine.dispose()
    assert len(rows) == 2 and count(db_url, "SELECT count(*) FROM story WHERE packed IS NULL") == 2
    assert {i: (c, n, a) for i, (c, _, n, a) in as_json.items()} == {
        i: (c, n, a) for i, (c, _, n, a) in packed.items()}
    assert all(dict(t)[""] == 1 for _, t, _, _ in as_json.values())
    store, ids = open_store(db_url, ["a", "b"], policy)
    try:
        copy = store.save_articles(ids["b"], [(art("b", 1, COPY_B), matched("tiktok"))],
                                   ROUTES, T0 + timedelta(minutes=5))
        stories = store.list_stories()
    finally:
        store.close()
    assert copy.new_alerts == 0 and sorted(len(s.articles) for s in stories) == [1, 2]
    # Written again, the row is packed.
    assert count(db_url, "SELECT count(*) FROM story WHERE packed IS NULL") == 1


@pytest.mark.postgres
def test_replicas_storing_two_copies_at_once_end_with_one_story(pg_url: str) -> None:
    rounds = 5
    replicas = [open_store(pg_url, ["a", "b"]) for _ in range(2)]
    try:
        for n in range(rounds):
            barrier = threading.Barrier(2)
            errors: list[BaseException] = []

            def ingest(i: int, n: int = n, barrier: threading.Barrier = barrier) -> None:
                store, ids = replicas[i]
                feed = "ab"[i]
                item = art(feed, n, (COPY_A, COPY_B)[i])
                # A distinct story per round, so rounds do not join each other.
                item = Article(**{**item.__dict__, "title": f"{item.title} round{n}x",
                                  "summary": f"{item.summary} round{n}x marker{n}y"})
                barrier.wait()
                try:
                    store.save_articles(ids[feed], [(item, matched("tiktok"))], ROUTES,
                                        T0 + timedelta(days=3 * n))
                except BaseException as e:  # pragma: no cover - reported below
                    errors.append(e)

            threads = [threading.Thread(target=ingest, args=(i,)) for i in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert errors == []
    finally:
        for store, _ in replicas:
            store.close()
    assert count(pg_url, "SELECT count(*) FROM story") == rounds
    assert count(pg_url, "SELECT count(DISTINCT story_id) FROM article") == rounds
    assert count(pg_url, "SELECT count(*) FROM alert") == rounds  # one per story and target


def test_an_alert_carries_its_story_to_the_template(db_url: str) -> None:
    from monitor.alerts.render import alert_context, render_alert
    from monitor.alerts.templates import RuleTemplate

    store, ids = open_store(db_url, ["a", "b"], StoryPolicy())  # every rule per article
    try:
        store.save_articles(ids["a"], [(art("a", 1, COPY_A), matched("every"))], ROUTES, T0)
        store.save_articles(ids["b"], [(art("b", 1, COPY_B), matched("every"))], ROUTES, T0)
        alerts = store.claim_due_alerts(T0, owner="t")
    finally:
        store.close()
    assert [a.story.articles for a in alerts if a.story] == [2, 2]
    later = alerts[-1]
    assert later.story is not None and later.story.outlets == ("a", "b")
    template = RuleTemplate.compile("every", {
        "title": "{{ story.title }} ({{ story.articles }} articles: "
                 "{{ story.outlets | join(', ') }})"})
    rendered = template.render(alert_context(later), render_alert(later))
    assert rendered.title == f"{COPY_A[0]} (2 articles: a, b)"


def test_a_story_digest_names_the_other_outlets(db_url: str) -> None:
    released = T0 + timedelta(hours=1)
    policy = StoryPolicy(per_story={"tiktok": "digest"}, release_at=lambda rule, now: released)
    store, ids = open_store(db_url, ["a", "b", "c"], policy)
    try:
        store.save_articles(ids["a"], [(art("a", 1, COPY_A), matched("tiktok"))], ROUTES, T0)
        for n, feed in enumerate(("b", "c"), 2):  # later copies: held for the digest
            store.save_articles(ids[feed], [(art(feed, n, COPY_B), matched("tiktok"))],
                                ROUTES, T0 + timedelta(minutes=n))
        [group] = store.held_groups()
        assert store.claim_digest(group, released, released) is not None
        [sent] = store.claim_due_digests(released, owner="t")
    finally:
        store.close()
    # both held copies are of one story: listed once, with the story's other outlets
    assert sent.total == 2 and len(sent.items) == 1 and sent.more_count == 0
    assert sent.items[0].feed == "c" and sent.items[0].also_reported_by == ("a", "b")
    from monitor.alerts.render import render_digest

    # The title counts 2 matches and one item is listed: the item says where the other is.
    rendered = render_digest(sent)
    assert rendered.title == "[tiktok] 2 new matches"
    assert "also reported by a and b; 1 more match of this story" in rendered.text
    assert "also reported by a and b; 1 more match of this story" in rendered.html
