"""Full text for teaser feeds (article_page) and WebSub subscriptions (issue 10).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts() -> sa.DateTime:
    # Migrations stay frozen: plain types here, never the app's TypeDecorators.
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "article_page",
        sa.Column("article_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", _ts(), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("fetched_at", _ts(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["article.id"],
                                name="fk_article_page_article_id"),
        sa.PrimaryKeyConstraint("article_id"),
    )
    op.create_index("ix_article_page_due", "article_page", ["status", "due_at"])
    op.create_table(
        "websub_subscription",
        sa.Column("feed_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hub", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("lease_until", _ts(), nullable=True),
        sa.Column("requested_at", _ts(), nullable=True),
        sa.Column("last_push_at", _ts(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["feed_id"], ["feed.id"], name="fk_websub_subscription_feed_id"),
        sa.PrimaryKeyConstraint("feed_id"),
    )


def downgrade() -> None:
    op.drop_table("websub_subscription")
    op.drop_index("ix_article_page_due", table_name="article_page")
    op.drop_table("article_page")
