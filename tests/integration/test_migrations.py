"""The Alembic migrations build exactly the schema of monitor.store.tables, on both backends."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, inspect, text

from monitor.errors import StoreError
from monitor.store import db
from monitor.store.tables import feed, metadata, story

NOW = datetime(2026, 12, 3, 10, tzinfo=UTC)
TABLES = {"feed", "article", "article_source", "match", "alert", "digest", "story",
          "article_page", "websub_subscription", "spike_state"}


def _diffs(url: str) -> list[Any]:
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": db.include_object})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_migrations_yield_the_models_schema(db_url: str) -> None:
    # On an empty database the comparison sees every table missing: it is really looking.
    assert {d[1].name for d in _diffs(db_url) if d[0] == "add_table"} == TABLES
    db.upgrade(db_url)
    assert _diffs(db_url) == []


def test_upgrade_is_idempotent_and_stamps_head_in_the_same_schema(db_url: str) -> None:
    db.upgrade(db_url)
    db.upgrade(db_url)
    head = ScriptDirectory(str(db.MIGRATIONS_DIR)).get_current_head()
    engine = db.make_engine(db_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
            assert TABLES | {"alembic_version"} <= set(inspect(conn).get_table_names())
            if conn.dialect.name == "postgresql":  # the URL's search_path, not public
                schema = conn.execute(text("SELECT current_schema()")).scalar()
                found = conn.execute(text(
                    "SELECT table_schema FROM information_schema.tables"
                    " WHERE table_name = 'alembic_version' AND table_schema = :s"), {"s": schema})
                assert found.scalar() == schema and schema != "public"
    finally:
        engine.dispose()


def test_downgrade_to_base_and_back(db_url: str) -> None:
    db.upgrade(db_url)
    engine = db.make_engine(db_url)
    try:
        with engine.connect() as conn, conn.begin():
            command.downgrade(db.alembic_config(conn), "base")
        with engine.connect() as conn:
            assert not TABLES & set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
    db.upgrade(db_url)
    assert _diffs(db_url) == []


def test_one_linear_history() -> None:
    script = ScriptDirectory(str(db.MIGRATIONS_DIR))
    assert len(script.get_heads()) == 1
    assert [r.revision for r in script.walk_revisions()][-1] == "0001"


@pytest.mark.postgres
def test_replicas_migrating_at_once_take_turns(pg_url: str) -> None:
    """Replicas are processes: while one migrates (holds the lock) the others wait."""
    engine = create_engine(pg_url)
    code = "import sys; from monitor.store import db; db.upgrade(sys.argv[1])"
    try:
        with engine.connect() as holder, holder.begin():
            holder.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": db.MIGRATION_LOCK_ID})
            procs = [subprocess.Popen([sys.executable, "-c", code, pg_url], stderr=subprocess.PIPE,
                                      text=True) for _ in range(2)]
            _wait_for_lock_waiters(holder, 2, procs)
        outcomes = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    finally:
        engine.dispose()
    assert [rc for rc, _ in outcomes] == [0, 0], outcomes
    assert _diffs(pg_url) == []


def _wait_for_lock_waiters(conn: Connection, n: int, procs: list[subprocess.Popen[str]]) -> None:
    """Block until n sessions queue on the migration lock (fails if a process exits first)."""
    query = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                 " AND objid = :id")
    deadline = time.monotonic() + 60  # a guard against hanging, not a timing assertion
    while conn.execute(query, {"id": db.MIGRATION_LOCK_ID}).scalar() != n:
        exited = [p.returncode for p in procs if p.poll() is not None]
        assert not exited, f"a replica finished without waiting for the lock: {exited}"
        assert time.monotonic() < deadline, "replicas never queued on the migration lock"
        time.sleep(0.05)


def test_upgrade_from_threads_is_serialised(sqlite_url: str) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            db.upgrade(sqlite_url)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _diffs(sqlite_url) == []


def test_the_search_index_is_rewritten_only_when_the_indexed_text_changes(
    sqlite_url: str,
) -> None:
    """Giving an article its story must not re-tokenise its text (it did: a sixth of
    story grouping's cost); a new content (a full-text page) must still be indexed."""
    db.upgrade(sqlite_url)
    engine = db.make_engine(sqlite_url)

    def found(conn: Connection, word: str) -> list[int]:
        return list(conn.exec_driver_sql(
            "SELECT rowid FROM article_fts WHERE article_fts MATCH ?", (word,)).scalars())

    try:
        with engine.begin() as conn:
            conn.execute(feed.insert().values(id=1, url="http://x/f", name="f", created_at=NOW,
                                              next_poll_at=NOW, interval_s=60))
            conn.execute(story.insert().values(id=7, title="t", first_seen=NOW, last_seen=NOW))
            conn.exec_driver_sql(
                "INSERT INTO article (id, key, title, summary, content, authors, categories,"
                " first_feed_id, fetched_at) VALUES (1, 'k', 'Zoom outage', 'teaser', '',"
                " '[]', '[]', 1, '2026-12-03 10:00:00')")
            before = conn.exec_driver_sql("SELECT total_changes()").scalar_one()
            conn.exec_driver_sql("UPDATE article SET story_id = 7, story_sig = x'00' WHERE id = 1")
            after = conn.exec_driver_sql("SELECT total_changes()").scalar_one()
            assert after - before == 1  # the row only: no delete + insert in article_fts
            conn.exec_driver_sql("UPDATE article SET content = 'zurich datacenter' WHERE id = 1")
            assert found(conn, "zurich") == [1] and found(conn, "zoom") == [1]
            conn.exec_driver_sql("UPDATE article SET title = 'Other' WHERE id = 1")
            assert found(conn, "zoom") == [] and found(conn, "other") == [1]
    finally:
        engine.dispose()


def test_a_schema_from_a_newer_version_is_refused_in_words(db_url: str) -> None:
    """Rolled back to an older release: the database names a revision this code does not
    have. The command says so instead of an Alembic traceback."""
    db.upgrade(db_url)
    engine = db.make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
    finally:
        engine.dispose()
    with pytest.raises(StoreError) as caught:
        db.upgrade(db_url)
    assert str(caught.value) == (
        "the database schema is at revision 0099_from_the_future, which this version of "
        "news-monitor does not know (a newer version migrated it): run that version or a "
        "newer one")


def test_downgrading_0015_writes_packed_stories_back_as_json(db_url: str) -> None:
    from monitor.store.stories import pack_story_state

    db.upgrade(db_url)
    centroid, terms = {"valencia": 0.1 + 0.2, "flood": 1 / 3}, {"": 2, "valencia": 1}
    engine = db.make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(story.insert().values(id=7, title="t", first_seen=NOW, last_seen=NOW,
                                               packed=pack_story_state(centroid, terms)))
        with engine.connect() as conn, conn.begin():
            command.downgrade(db.alembic_config(conn), "0014_article_backlog")
        with engine.connect() as conn:
            row = conn.execute(text("SELECT centroid, terms FROM story")).one()
    finally:
        engine.dispose()
    as_json = [json.loads(v) if isinstance(v, str) else v for v in row]
    assert as_json == [centroid, terms] and list(as_json[0]) == list(centroid)
    db.upgrade(db_url)
    assert _diffs(db_url) == []
