"""Stories: the story table, each article's story, signature and language.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "story",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("articles", sa.Integer(), nullable=False),
        sa.Column("centroid", sa.JSON(), nullable=False),
    )
    op.create_index("ix_story_first_seen", "story", ["first_seen"])
    # SQLite rebuilds the table (batch mode, see env.py); PostgreSQL alters in place.
    with op.batch_alter_table("article") as batch:
        batch.add_column(sa.Column("story_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("story_sig", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("language", sa.Text(), nullable=True))
        batch.create_foreign_key("fk_article_story_id", "story", ["story_id"], ["id"])
        batch.create_index("ix_article_story_id", ["story_id"])


def downgrade() -> None:
    with op.batch_alter_table("article") as batch:
        batch.drop_index("ix_article_story_id")
        batch.drop_constraint("fk_article_story_id", type_="foreignkey")
        batch.drop_column("language")
        batch.drop_column("story_sig")
        batch.drop_column("story_id")
    op.drop_index("ix_story_first_seen", table_name="story")
    op.drop_table("story")
