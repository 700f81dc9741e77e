"""SQLite's search index is rewritten only when an article's indexed text changes.

The AFTER UPDATE trigger of 0007 fired on every update of an article row: giving an
article its story (``story_id``, ``story_sig``) re-tokenised its title, summary and
content into ``article_fts`` (a delete and an insert), which was a sixth of the cost
of story grouping on a first ingest. It now fires on updates of those three
columns only; a full-text page that replaces the content still re-indexes it.

Revision ID: 0012_fts_update_trigger
Revises: 0011_stories_more
Create Date: 2026-12-03
"""

from __future__ import annotations

from typing import Sequence

from alembic import op

revision: str = "0012_fts_update_trigger"
down_revision: str | None = "0011_stories_more"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REINDEX = (" BEGIN INSERT INTO article_fts(article_fts, rowid, title, summary, content)"
            " VALUES ('delete', old.id, old.title, old.summary, old.content);"
            " INSERT INTO article_fts(rowid, title, summary, content)"
            " VALUES (new.id, new.title, new.summary, new.content); END")


def _replace_trigger(columns: str) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL indexes an expression: nothing fires on update
    op.execute("DROP TRIGGER IF EXISTS article_fts_au")
    op.execute(f"CREATE TRIGGER article_fts_au AFTER UPDATE{columns} ON article" + _REINDEX)


def upgrade() -> None:
    _replace_trigger(" OF title, summary, content")


def downgrade() -> None:
    _replace_trigger("")
