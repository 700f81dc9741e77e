"""monitor.store.repo.Store against real SQLite and real PostgreSQL (the db_url fixture)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Sequence

import pytest
from sqlalchemy import create_engine, text

from monitor.article import Article, FeedSpec, Hit, Match, Route
from monitor.errors import StoreError
from monitor.store.repo import Store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
FEED_A = FeedSpec(url="http://127.0.0.1/a.xml", name="Feed A", tags=("tech",), interval_s=300)
FEED_B = FeedSpec(url="http://127.0.0.1/b.xml", name="Feed B")
MAIL = Route(recipient="compliance", target_key="mailto:abc123")
CHAT = Route(recipient="policy-chat", target_key="slack:def456")


# -- factories -------------------------------------------------------------------------------


def art(key: str, *, canonical: str | None = "auto", title: str = "Zoom leaves China",
        feed: FeedSpec = FEED_A) -> Article:
    """An article; its canonical URL defaults to one derived from the key."""
    url = f"https://news.example/{key}"
    return Article(
        feed_url=feed.url, feed_name=feed.name, feed_tags=feed.tags, key=key, guid=key,
        link=url + "?utm_source=rss", canonical_url=url if canonical == "auto" else canonical,
        title=title, summary="Zoom moves to a partner-only model.", content="Body text",
        authors=("Ann Author",), categories=("Business", "Asia"),
        published=datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc),
    )


def hit_match(rule: str, term: str = "Zoom") -> Match:
    return Match(rule=rule, hits=(Hit(term=term, field="title", start=0, end=4, text="Zoom"),
                                  Hit(term='"partner-only"', field="summary", start=20,
                                      end=32, text="partner-only")),
                 snippet="«Zoom» leaves China")


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store.open(db_url)
    yield s
    s.close()


def feed_ids(store: Store, specs: Sequence[FeedSpec] = (FEED_A, FEED_B)) -> dict[str, int]:
    store.sync_feeds(specs, T0)
    claimed = store.claim_due_feeds(T0, owner="setup", include_not_due=True)
    for f in claimed:
        store.record_fetch(f.id, now=T0, next_poll_at=T0, status=200, error=None)
    return {f.url: f.id for f in claimed}


def seed_alerts(store: Store, n: int) -> int:
    """n articles from feed A, each with one match routed to MAIL: n pending alerts."""
    fid = feed_ids(store)[FEED_A.url]
    items = [(art(f"k{i}"), [hit_match("zoom")]) for i in range(n)]
    assert store.save_articles(fid, items, {"zoom": [MAIL]}, T0).new_alerts == n
    return fid


# -- opening --------------------------------------------------------------------------------


def test_open_sqlite_creates_folder_wal_and_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'dir' / 'm.db'}"
    with Store.open(url) as s:
        assert s.feed_statuses() == []
    assert (tmp_path / "nested" / "dir" / "m.db").is_file()
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()
    from monitor.store.db import make_engine
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_open_failure_is_store_error_without_password() -> None:
    # Port 1 on loopback refuses at once: a connection error that must not leak the password.
    url = "postgresql+psycopg://alice:s3cr3t-pw@127.0.0.1:1/nope"
    with pytest.raises(StoreError) as info:
        Store.open(url)
    assert "s3cr3t-pw" not in str(info.value)
    assert "alice:***@127.0.0.1" in str(info.value)


def test_unsupported_backend_is_store_error() -> None:
    with pytest.raises(StoreError, match="unsupported database backend"):
        Store.open("mysql://bob:hunter2@localhost/db")


def test_open_without_migrate_on_empty_db_then_use_fails_cleanly(sqlite_url: str) -> None:
    with Store.open(sqlite_url, migrate=False) as s:
        with pytest.raises(StoreError, match="no such table"):
            s.feed_statuses()


# -- feeds ----------------------------------------------------------------------------------


def test_sync_feeds_upserts_deactivates_and_new_feeds_are_due(store: Store) -> None:
    store.sync_feeds([FEED_A, FEED_B], T0, default_interval_s=600)
    claimed = {f.url: f for f in store.claim_due_feeds(T0, owner="w1")}
    assert set(claimed) == {FEED_A.url, FEED_B.url}
    assert claimed[FEED_A.url].interval_s == 300 and claimed[FEED_A.url].tags == ("tech",)
    assert claimed[FEED_B.url].interval_s == 600  # the global default
    assert claimed[FEED_B.url].next_poll_at == T0

    renamed_b = FeedSpec(url=FEED_B.url, name="B renamed", tags=("x", "y"), interval_s=60)
    feed_c = FeedSpec(url="http://127.0.0.1/c.xml", name="Feed C")
    store.sync_feeds([renamed_b, feed_c], T0 + timedelta(minutes=1))
    status = {s.url: s for s in store.feed_statuses()}
    assert status[FEED_A.url].active is False  # kept, never polled
    assert status[FEED_B.url].active and status[FEED_B.url].name == "B renamed"
    assert status[feed_c.url].active
    later = T0 + timedelta(hours=1)
    polled = {f.url: f for f in store.claim_due_feeds(later, owner="w2", include_not_due=True)}
    assert set(polled) == {FEED_B.url, feed_c.url}
    assert polled[FEED_B.url].tags == ("x", "y") and polled[FEED_B.url].interval_s == 60

    store.sync_feeds([FEED_A, renamed_b, feed_c], later)  # re-added: active again, same row
    active = {s.url for s in store.feed_statuses() if s.active}
    assert active == {FEED_A.url, FEED_B.url, feed_c.url}
    assert len(store.feed_statuses()) == 3


def test_an_unchanged_config_is_synced_without_a_write(store: Store) -> None:
    """Every cron `once` syncs its feeds: unchanged ones are read, not rewritten."""
    from sqlalchemy import event

    store.sync_feeds([FEED_A, FEED_B], T0)
    statements: list[str] = []
    event.listen(store._engine, "before_cursor_execute",
                 lambda _conn, _cur, sql, *_: statements.append(sql.split()[0].upper()))
    store.sync_feeds([FEED_A, FEED_B], T0 + timedelta(minutes=5))
    assert "SELECT" in statements and not {"INSERT", "UPDATE"} & set(statements)
    renamed = FeedSpec(url=FEED_B.url, name="B renamed", tags=FEED_B.tags)
    store.sync_feeds([FEED_A, renamed], T0 + timedelta(minutes=6))
    assert "INSERT" in statements  # the upsert, of the changed feed only
    assert {s.url: s.name for s in store.feed_statuses()}[FEED_B.url] == "B renamed"


def test_claim_due_feeds_leases_until_expiry_or_release(store: Store) -> None:
    store.sync_feeds([FEED_A, FEED_B], T0)
    first = store.claim_due_feeds(T0, owner="w1", lease_s=300, limit=1)
    assert len(first) == 1
    second = store.claim_due_feeds(T0, owner="w2", lease_s=300)
    assert [f.id for f in second] != [f.id for f in first] and len(second) == 1
    assert store.claim_due_feeds(T0 + timedelta(seconds=299), owner="w3") == []
    expired = store.claim_due_feeds(T0 + timedelta(seconds=300), owner="w3")  # w1, w2 died
    assert len(expired) == 2

    fid = first[0].id
    store.record_fetch(fid, now=T0 + timedelta(seconds=301), next_poll_at=T0 + timedelta(hours=1),
                       status=200, error=None)
    # lease released, but not due before next_poll_at unless include_not_due
    assert store.claim_due_feeds(T0 + timedelta(seconds=302), owner="w4", lease_s=1) == []
    forced = store.claim_due_feeds(T0 + timedelta(seconds=302), owner="w4", include_not_due=True)
    assert [f.id for f in forced] == [fid]
    # both leases lapsed; ordered by due time (the unpolled feed has been due since T0)
    later = store.claim_due_feeds(T0 + timedelta(hours=2), owner="w5")
    assert [f.id for f in later] == [second[0].id, fid]


def test_inactive_feeds_are_never_claimed(store: Store) -> None:
    store.sync_feeds([FEED_A, FEED_B], T0)
    store.sync_feeds([FEED_B], T0)
    claimed = store.claim_due_feeds(T0, owner="w", include_not_due=True)
    assert [f.url for f in claimed] == [FEED_B.url]


def test_record_fetch_counts_errors_and_keeps_validators(store: Store) -> None:
    fid = feed_ids(store, [FEED_A])[FEED_A.url]
    t = T0
    store.record_fetch(fid, now=t, next_poll_at=t, status=200, error=None, etag='"v1"',
                       last_modified="Sun, 01 Mar 2026 10:00:00 GMT")
    for n in (1, 2):  # consecutive failures count up, validators survive them
        store.record_fetch(fid, now=t, next_poll_at=t, status=500, error="HTTP 500")
        assert store.feed_statuses()[0].error_count == n
    state = store.claim_due_feeds(t, owner="w")[0]
    assert (state.etag, state.last_status, state.last_error, state.error_count) == (
        '"v1"', 500, "HTTP 500", 2)
    store.record_fetch(fid, now=t, next_poll_at=t, status=304, error=None)  # 304: keep old ones
    state = store.claim_due_feeds(t, owner="w")[0]
    assert (state.etag, state.last_modified, state.error_count, state.last_error) == (
        '"v1"', "Sun, 01 Mar 2026 10:00:00 GMT", 0, None)
    store.record_fetch(fid, now=t, next_poll_at=t, status=200, error=None, etag='"v2"')
    state = store.claim_due_feeds(t, owner="w")[0]
    assert (state.etag, state.last_modified) == ('"v2"', None)  # a 200 replaces both
    store.record_fetch(fid, now=t, next_poll_at=t, status=None, error="timeout after 20s")
    store.record_fetch(fid, now=t + timedelta(minutes=5), next_poll_at=t + timedelta(hours=1),
                       status=200, error=None, new_url="https://moved.example/a.xml")
    status = store.feed_statuses()[0]
    assert status.url == FEED_A.url  # identity stays the configured URL
    assert status.fetch_url == "https://moved.example/a.xml"
    assert status.last_polled_at == t + timedelta(minutes=5)
    assert status.next_poll_at == t + timedelta(hours=1)


def test_record_fetch_unknown_feed_is_store_error(store: Store) -> None:
    with pytest.raises(StoreError, match="no feed with id 4242"):
        store.record_fetch(4242, now=T0, next_poll_at=T0, status=200, error=None)


def test_long_errors_are_capped(store: Store) -> None:
    fid = feed_ids(store, [FEED_A])[FEED_A.url]
    store.record_fetch(fid, now=T0, next_poll_at=T0, status=500, error="x" * 50_000)
    assert len(store.feed_statuses()[0].last_error or "") == 2000


# -- articles, matches, outbox ---------------------------------------------------------------


def test_unseen_and_save_dedupe_within_a_feed(store: Store) -> None:
    fid = feed_ids(store)[FEED_A.url]
    batch = [art("k1"), art("k2"), art("k2")]  # a feed repeating an entry in one document
    unseen = store.unseen_articles(fid, batch)
    assert [a.key for a in unseen] == ["k1", "k2"]
    result = store.save_articles(fid, [(a, [hit_match("zoom")]) for a in unseen],
                                 {"zoom": [MAIL]}, T0)
    assert (result.new_articles, result.duplicate_articles, result.new_matches,
            result.new_alerts) == (2, 0, 2, 2)
    assert [a.key for a in store.unseen_articles(fid, [art("k1"), art("k3")])] == ["k3"]
    # Saving the same articles again (re-poll, restart) adds nothing and never raises.
    again = store.save_articles(fid, [(art("k1"), [hit_match("zoom")])], {"zoom": [MAIL]}, T0)
    assert (again.new_articles, again.duplicate_articles, again.new_matches,
            again.new_alerts) == (0, 1, 0, 0)
    assert len(store.list_alerts()) == 2 and len(store.list_matches()) == 2


def test_a_batch_of_articles_is_saved_in_a_few_statements(store: Store) -> None:
    """A first poll stores 50 items a feed: a few INSERTs for the batch, not one per
    article. (SQLite cannot return the rows of a multi-row INSERT in parameter order, so
    a RETURNING that asks for that order is sent one row at a time; rows are matched to
    their articles by key instead.) A copy of a story in the same batch (same canonical
    URL under another key) is still stored once, with both keys as its sources."""
    from sqlalchemy import event

    fid = feed_ids(store)[FEED_A.url]
    items = [(art(f"k{i}"), [hit_match("zoom")]) for i in range(40)]
    items.append((art("k-copy", canonical="https://news.example/k7"), [hit_match("zoom")]))
    inserts: list[str] = []
    event.listen(store._engine, "before_cursor_execute",
                 lambda _conn, _cur, sql, *_: inserts.append(sql) if sql.lstrip().upper()
                 .startswith("INSERT") else None)
    result = store.save_articles(fid, items, {"zoom": [MAIL]}, T0)
    assert (result.new_articles, result.duplicate_articles, result.new_matches,
            result.new_alerts) == (40, 1, 40, 40)
    assert len(inserts) <= 8, inserts[:3]  # article, source, match, alert (and retries)
    assert store.unseen_articles(fid, [art("k-copy"), art("k7"), art("k40")]) == [art("k40")]
    assert len(list(store.stored_articles())) == 40 and len(store.list_alerts()) == 40


def test_same_canonical_url_across_feeds_is_stored_and_alerted_once(store: Store) -> None:
    ids = feed_ids(store)
    shared = "https://news.example/story"
    first = store.save_articles(ids[FEED_A.url],
                                [(art("a-1", canonical=shared), [hit_match("zoom")])],
                                {"zoom": [MAIL]}, T0)
    syndicated = art("b-99", canonical=shared, feed=FEED_B, title="Zoom leaves China (wire)")
    second = store.save_articles(ids[FEED_B.url], [(syndicated, [hit_match("zoom")])],
                                 {"zoom": [MAIL]}, T0 + timedelta(minutes=1))
    assert (first.new_articles, first.new_alerts) == (1, 1)
    assert (second.new_articles, second.duplicate_articles, second.new_matches,
            second.new_alerts) == (0, 1, 0, 0)
    # both sources recorded: feed B will not see its key as unseen again
    assert store.unseen_articles(ids[FEED_B.url], [syndicated]) == []
    assert {s.name: s.articles for s in store.feed_statuses()} == {"Feed A": 1, "Feed B": 1}
    assert len(list(store.stored_articles())) == 1
    assert [m.feed for m in store.list_matches()] == ["Feed A"]


def test_a_syndicated_copy_adds_only_the_matches_the_story_lacked(store: Store) -> None:
    """A rule scoped to feed B must not miss a story that feed A carried first."""
    ids = feed_ids(store)
    shared = "https://news.example/story"
    store.save_articles(ids[FEED_A.url], [(art("a-1", canonical=shared), [hit_match("zoom")])],
                        {"zoom": [MAIL], "only-b": [MAIL]}, T0)
    copy = art("b-7", canonical=shared, feed=FEED_B)
    second = store.save_articles(ids[FEED_B.url],
                                 [(copy, [hit_match("zoom"), hit_match("only-b")])],
                                 {"zoom": [MAIL], "only-b": [MAIL]}, T0 + timedelta(minutes=1))
    # the story stays one article; "zoom" stays one match; "only-b" is new, alerted once
    assert (second.new_articles, second.duplicate_articles, second.new_matches,
            second.new_alerts) == (0, 1, 1, 1)
    assert sorted(m.rule for m in store.list_matches()) == ["only-b", "zoom"]
    assert len(list(store.stored_articles())) == 1


def test_articles_without_canonical_url_never_collide(store: Store) -> None:
    fid = feed_ids(store)[FEED_A.url]
    items = [(art("x1", canonical=None), []), (art("x2", canonical=None), [])]
    assert store.save_articles(fid, items, {}, T0).new_articles == 2


def test_matches_are_unique_and_alert_rows_follow_routes(store: Store) -> None:
    fid = feed_ids(store)[FEED_A.url]
    matches = [hit_match("zoom"), hit_match("zoom"), hit_match("china", term="@China"),
               hit_match("unrouted")]
    routes: dict[str, Sequence[Route]] = {"zoom": [MAIL, CHAT, MAIL], "china": [CHAT]}
    result = store.save_articles(fid, [(art("k1"), matches)], routes, T0)
    assert (result.new_matches, result.new_alerts) == (3, 3)  # zoom x2 targets, china x1
    alerts = store.list_alerts()
    assert sorted((a.rule, a.recipient, a.target_key) for a in alerts) == [
        ("china", "policy-chat", "slack:def456"),
        ("zoom", "compliance", "mailto:abc123"),
        ("zoom", "policy-chat", "slack:def456"),
    ]
    assert {(a.status, a.attempts, a.created_at, a.sent_at, a.last_error) for a in alerts} == {
        ("pending", 0, T0, None, None)}
    assert store.list_alerts(status="sent") == []
    recorded = {m.rule: m for m in store.list_matches()}
    assert set(recorded) == {"zoom", "china", "unrouted"}
    zoom = recorded["zoom"]
    assert zoom.terms == ("Zoom", '"partner-only"') and zoom.hits == hit_match("zoom").hits
    assert (zoom.title, zoom.url, zoom.feed, zoom.snippet) == (
        "Zoom leaves China", "https://news.example/k1?utm_source=rss", "Feed A",
        "«Zoom» leaves China")
    assert [m.rule for m in store.list_matches(rule="china")] == ["china"]


class _ExplodingRoutes(Mapping[str, Sequence[Route]]):
    """Routes that fail on the second lookup: the crash lands mid-transaction."""

    def __init__(self) -> None:
        self.calls = 0

    def __getitem__(self, rule: str) -> Sequence[Route]:
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("crash between two articles")
        return [MAIL]

    def __iter__(self) -> Iterator[str]:
        return iter(["zoom"])

    def __len__(self) -> int:
        return 1


def test_save_articles_is_one_transaction(store: Store) -> None:
    fid = feed_ids(store)[FEED_A.url]
    items = [(art("k1"), [hit_match("zoom")]), (art("k2"), [hit_match("zoom")])]
    with pytest.raises(RuntimeError, match="crash between two articles"):
        store.save_articles(fid, items, _ExplodingRoutes(), T0)
    # nothing of the first article survived: no article, no match, no alert (the outbox)
    assert store.list_matches() == [] and store.list_alerts() == []
    assert len(store.unseen_articles(fid, [a for a, _ in items])) == 2
    assert store.save_articles(fid, items, {"zoom": [MAIL]}, T0).new_alerts == 2


def test_claim_mark_sent_failed_and_dead(store: Store) -> None:
    seed_alerts(store, 3)
    claimed = store.claim_due_alerts(T0, owner="d1", lease_s=120)
    assert len(claimed) == 3
    first = claimed[0]
    assert (first.rule, first.recipient, first.target_key, first.attempts) == (
        "zoom", "compliance", "mailto:abc123", 0)
    assert first.article == art("k0")  # rebuilt field for field, feed name and tags included
    assert first.hits == hit_match("zoom").hits and first.terms == ("Zoom", '"partner-only"')
    assert first.matched_at == T0 and first.article.published == art("k0").published
    assert store.claim_due_alerts(T0, owner="d2") == []  # leased

    a, b, c = (x.id for x in claimed)
    store.mark_alert_sent(a, T0 + timedelta(seconds=1))
    retry_at = T0 + timedelta(seconds=30)
    t1 = T0 + timedelta(seconds=1)
    store.mark_alert_failed(b, "HTTP 500 from json://127.0.0.1", t1, retry_at)
    store.mark_alert_failed(c, "refused", T0 + timedelta(seconds=1), None)
    rows = {r.id: r for r in store.list_alerts()}
    assert (rows[a].status, rows[a].attempts, rows[a].sent_at) == ("sent", 1, t1)
    assert (rows[b].status, rows[b].attempts, rows[b].last_error) == (
        "failed", 1, "HTTP 500 from json://127.0.0.1")
    assert (rows[c].status, rows[c].last_error) == ("dead", "refused")
    assert [r.id for r in store.list_alerts(status="dead")] == [c]

    assert store.claim_due_alerts(retry_at - timedelta(seconds=1), owner="d3") == []
    again = store.claim_due_alerts(retry_at, owner="d3")
    assert [(x.id, x.attempts) for x in again] == [(b, 1)]  # sent and dead never come back
    assert store.revive_alerts(retry_at) == 1
    assert [x.id for x in store.claim_due_alerts(retry_at, owner="d4")] == [c]


def test_a_sent_alert_no_longer_shows_the_error_of_an_earlier_attempt(store: Store) -> None:
    seed_alerts(store, 1)
    (first,) = store.claim_due_alerts(T0, owner="d1")
    store.mark_alert_failed(first.id, "HTTP 500", T0, T0)
    (again,) = store.claim_due_alerts(T0, owner="d1")
    store.mark_alert_sent(again.id, T0 + timedelta(seconds=30))
    (row,) = store.list_alerts()
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)


def test_release_leases_frees_what_one_owner_holds_and_nothing_else(store: Store) -> None:
    seed_alerts(store, 2)
    store.sync_feeds([FEED_A, FEED_B], T0)
    assert len(store.claim_due_feeds(T0, owner="mine", include_not_due=True, limit=1)) == 1
    assert len(store.claim_due_feeds(T0, owner="other", include_not_due=True)) == 1
    assert len(store.claim_due_alerts(T0, owner="mine", limit=1)) == 1
    assert store.release_leases("mine") == (1, 1)
    (held,) = store.feeds_leased_elsewhere(T0, "mine")
    assert (held.owner, held.until) == ("other", T0 + timedelta(seconds=300))
    assert len(store.claim_due_feeds(T0, owner="next", include_not_due=True)) == 1
    assert len(store.claim_due_alerts(T0, owner="next")) == 2
    assert store.count_due_alerts(T0) == 2  # claimed, not sent: still due


def test_alert_lease_expires_when_deliverer_dies(store: Store) -> None:
    seed_alerts(store, 2)
    assert len(store.claim_due_alerts(T0, owner="dead-worker", lease_s=60, limit=5)) == 2
    assert store.claim_due_alerts(T0 + timedelta(seconds=59), owner="w") == []
    retaken = store.claim_due_alerts(T0 + timedelta(seconds=60), owner="w", limit=1)
    assert len(retaken) == 1  # limit honoured


def test_datetimes_round_trip_as_aware_utc(store: Store) -> None:
    plus2 = timezone(timedelta(hours=2))
    local_now = T0.astimezone(plus2)  # same instant, another offset
    store.sync_feeds([FEED_A], local_now)
    fid = store.claim_due_feeds(local_now, owner="w")[0].id
    store.record_fetch(fid, now=local_now, next_poll_at=local_now + timedelta(minutes=5),
                       status=200, error=None)
    status = store.feed_statuses()[0]
    for value in (status.last_polled_at, status.next_poll_at):
        assert value is not None and value.tzinfo is not None and value.utcoffset() == timedelta(0)
    assert status.last_polled_at == T0 and status.next_poll_at == T0 + timedelta(minutes=5)
    store.save_articles(fid, [(art("k1"), [hit_match("zoom")])], {"zoom": [MAIL]}, local_now)
    stored = next(store.stored_articles())
    assert stored.published is not None and stored.published.tzinfo == timezone.utc
    record = store.list_matches()[0]
    assert record.matched_at.tzinfo == timezone.utc and record.matched_at == T0
    alert = store.list_alerts()[0]
    assert alert.created_at.tzinfo == timezone.utc
    with pytest.raises(StoreError, match="naive datetime"):
        store.claim_due_feeds(datetime(2026, 3, 1, 12, 0), owner="w")


def test_stored_articles_rebuilds_articles_since(store: Store) -> None:
    fid = feed_ids(store)[FEED_A.url]
    store.save_articles(fid, [(art("old"), [])], {}, T0)
    store.save_articles(fid, [(art("new"), [])], {}, T0 + timedelta(days=1))
    assert [a.key for a in store.stored_articles()] == ["old", "new"]
    assert list(store.stored_articles(since=T0 + timedelta(hours=1))) == [art("new")]
    since = T0 + timedelta(hours=1)
    assert [m.rule for m in store.list_matches(since=since)] == []


# -- PostgreSQL: replicas sharing the work ---------------------------------------------------


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Store]:
    s = Store.open(pg_url)
    yield s
    s.close()


def _locking_url(pg_url: str) -> str:
    # Without SKIP LOCKED the claim would wait on the held row lock; fail fast instead of hang.
    return pg_url + "%20-clock_timeout%3D3000"


@pytest.mark.postgres
def test_claims_skip_rows_locked_by_another_replica(pg_url: str, pg_store: Store) -> None:
    seed_alerts(pg_store, 4)
    holder = create_engine(pg_url)
    other = Store.open(_locking_url(pg_url), migrate=False)
    try:
        with holder.connect() as conn, conn.begin():
            # another replica is mid-claim: it holds row locks on alert 1-2 and feed A
            conn.execute(text("SELECT id FROM alert WHERE id IN (1, 2) FOR UPDATE"))
            conn.execute(text("SELECT id FROM feed WHERE url = :u FOR UPDATE"), {"u": FEED_A.url})
            alerts = other.claim_due_alerts(T0, owner="replica-2")
            feeds = other.claim_due_feeds(T0 + timedelta(minutes=1), owner="replica-2",
                                          include_not_due=True)
        assert sorted(a.id for a in alerts) == [3, 4]
        assert [f.url for f in feeds] == [FEED_B.url]
    finally:
        other.close()
        holder.dispose()


def _race(stores: Sequence[Store], claim: Any) -> list[list[int]]:
    """Run claim(store) in one thread per store until each gets nothing; ids per thread."""
    barrier = threading.Barrier(len(stores))
    got: list[list[int]] = [[] for _ in stores]
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait()
            while batch := claim(stores[i], f"replica-{i}"):
                got[i].extend(batch)
        except BaseException as e:  # surfaced in the main thread below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return got


@pytest.mark.postgres
def test_concurrent_replicas_never_claim_the_same_alert_or_feed(
    pg_url: str, pg_store: Store
) -> None:
    seed_alerts(pg_store, 60)
    many = [FeedSpec(url=f"http://127.0.0.1/f{i}.xml", name=f"F{i}") for i in range(60)]
    pg_store.sync_feeds(many, T0)
    replicas = [Store.open(pg_url, migrate=False) for _ in range(3)]
    try:
        alerts = _race(replicas, lambda s, owner: [
            a.id for a in s.claim_due_alerts(T0, owner=owner, limit=3)])
        feeds = _race(replicas, lambda s, owner: [
            f.id for f in s.claim_due_feeds(T0, owner=owner, limit=3)])
    finally:
        for s in replicas:
            s.close()
    for per_thread, total in ((alerts, 60), (feeds, 60)):
        flat = [x for ids in per_thread for x in ids]
        assert len(flat) == len(set(flat)) == total  # each row claimed exactly once


@pytest.mark.postgres
def test_concurrent_saves_of_one_story_store_it_once(pg_url: str, pg_store: Store) -> None:
    ids = feed_ids(pg_store)
    replicas = [Store.open(pg_url, migrate=False) for _ in range(2)]
    feeds = [(ids[FEED_A.url], FEED_A), (ids[FEED_B.url], FEED_B)]
    results: list[Any] = []

    def save(s: Store, owner: str) -> list[int]:
        fid, spec = feeds[int(owner[-1])]
        items = [(art(f"{spec.name}-{i}", canonical=f"https://news.example/s{i}", feed=spec),
                  [hit_match("zoom")]) for i in range(20)]
        results.append(s.save_articles(fid, items, {"zoom": [MAIL, CHAT]}, T0))
        return []

    try:
        _race(replicas, save)
    finally:
        for s in replicas:
            s.close()
    assert sum(r.new_articles for r in results) == 20
    assert sum(r.duplicate_articles for r in results) == 20
    assert len(pg_store.list_matches()) == 20 and len(pg_store.list_alerts()) == 40


def test_sqlite_readers_do_not_wait_for_a_writer(sqlite_url: str) -> None:
    """`status` from the CLI must not block behind the daemon's open write transaction."""
    from monitor.store.db import make_engine

    with Store.open(sqlite_url) as daemon, Store.open(sqlite_url, migrate=False) as cli:
        daemon.sync_feeds([FEED_A], T0)
        writer = make_engine(sqlite_url)
        try:
            with writer.connect() as conn, conn.begin():  # BEGIN IMMEDIATE: holds the write lock
                conn.execute(text("UPDATE feed SET name = 'being renamed'"))
                assert [s.name for s in cli.feed_statuses()] == ["Feed A"]  # committed state
        finally:
            writer.dispose()
