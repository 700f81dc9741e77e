"""Full-text search over articles: SQLite FTS5, PostgreSQL tsvector + GIN.

SQLite: an external-content FTS5 table over article(title, summary, content),
kept in step by triggers and filled from the existing rows. PostgreSQL: a GIN
index on the same text's tsvector (the 'simple' configuration: no stemming, so
a search finds the words written, in any language). ``monitor.store.search``
builds the queries that use them; ``db.include_object`` keeps them out of the
models comparison (SQLModel cannot declare either).

A later migration that rebuilds the ``article`` table on SQLite (batch mode: copy,
drop, rename) drops these triggers with the old table: it must create them again.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_UP = [
    ("CREATE VIRTUAL TABLE article_fts USING fts5(title, summary, content,"
     " content='article', content_rowid='id', tokenize='unicode61 remove_diacritics 2')"),
    ("CREATE TRIGGER article_fts_ai AFTER INSERT ON article BEGIN"
     " INSERT INTO article_fts(rowid, title, summary, content)"
     " VALUES (new.id, new.title, new.summary, new.content); END"),
    ("CREATE TRIGGER article_fts_ad AFTER DELETE ON article BEGIN"
     " INSERT INTO article_fts(article_fts, rowid, title, summary, content)"
     " VALUES ('delete', old.id, old.title, old.summary, old.content); END"),
    ("CREATE TRIGGER article_fts_au AFTER UPDATE ON article BEGIN"
     " INSERT INTO article_fts(article_fts, rowid, title, summary, content)"
     " VALUES ('delete', old.id, old.title, old.summary, old.content);"
     " INSERT INTO article_fts(rowid, title, summary, content)"
     " VALUES (new.id, new.title, new.summary, new.content); END"),
    "INSERT INTO article_fts(article_fts) VALUES ('rebuild')",
]
_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS article_fts_au",
    "DROP TRIGGER IF EXISTS article_fts_ad",
    "DROP TRIGGER IF EXISTS article_fts_ai",
    "DROP TABLE IF EXISTS article_fts",
]
#: Must equal ``monitor.store.search.PG_DOCUMENT`` for the planner to use the index.
_PG_UP = ("CREATE INDEX ix_article_search ON article USING gin "
          "(to_tsvector('simple'::regconfig, title || ' ' || summary || ' ' || content))")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in _SQLITE_UP:
            op.execute(statement)
    else:
        op.execute(_PG_UP)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in _SQLITE_DOWN:
            op.execute(statement)
    else:
        op.execute("DROP INDEX IF EXISTS ix_article_search")
