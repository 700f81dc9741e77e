"""`news-monitor db prune` as a user runs it: the real CLI in a subprocess, on a
database seeded with rows dated in the past (the store takes the time as given)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from clirun import cli

from monitor.article import Article, FeedSpec, Route
from monitor.store.repo import Store

FEED = FeedSpec(url="http://127.0.0.1/feed.xml", name="Local Feed")


def seed(db_url: str, ages_days: list[int]) -> None:
    now = datetime.now(UTC)
    with Store.open(db_url) as store:
        store.sync_feeds([FEED], now - timedelta(days=1000))
        for n, age in enumerate(ages_days):
            at = now - timedelta(days=age)
            (feed,) = store.claim_due_feeds(at, owner="t", include_not_due=True)
            art = Article(feed_url=FEED.url, feed_name=FEED.name, feed_tags=(), key=f"k{n}",
                          guid=f"k{n}", link=None, canonical_url=None, title=f"Story {n}",
                          published=at)
            store.save_articles(feed.id, [(art, [])], {"r": (Route("team", "t"),)}, at)
            store.release_leases("t")


def test_db_prune_deletes_old_articles_and_says_how_many(tmp_path: Path, db_url: str) -> None:
    seed(db_url, [200, 120, 5])
    config = tmp_path / "monitor.yaml"
    config.write_text(f"database: {db_url}\nretention: {{articles: 90d}}\n")
    done = cli("db", "prune", "-c", str(config), "--vacuum", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "deleted: 0 alerts, 0 digests, 0 matches, 2 articles, 2 sources" in done.stdout
    assert "vacuumed" in done.stdout
    with Store.open(db_url) as store:
        assert [a.title for a in store.article_page().items] == ["Story 2"]


def test_db_prune_without_retention_deletes_nothing(tmp_path: Path, db_url: str) -> None:
    seed(db_url, [500])
    config = tmp_path / "monitor.yaml"
    config.write_text(f"database: {db_url}\npoll: {{}}\n")
    done = cli("db", "prune", "-c", str(config), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "not configured, nothing deleted" in done.stdout
