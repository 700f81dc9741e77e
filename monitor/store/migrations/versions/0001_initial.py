"""Initial schema: feed, article, article_source, match, alert (with leases).

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts() -> sa.DateTime:
    # Migrations stay frozen: plain types here, never the app's TypeDecorators.
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "feed",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("fetch_url", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("interval_s", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("last_polled_at", _ts(), nullable=True),
        sa.Column("next_poll_at", _ts(), nullable=True),
        sa.Column("lease_owner", sa.Text(), nullable=True),
        sa.Column("lease_until", _ts(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("url", name="uq_feed_url"),
    )
    op.create_index("ix_feed_due", "feed", ["active", "next_poll_at"])
    op.create_table(
        "article",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("canonical_url", sa.Text(), nullable=True),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("guid", sa.Text(), nullable=True),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("authors", sa.JSON(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("published", _ts(), nullable=True),
        sa.Column("updated", _ts(), nullable=True),
        sa.Column("first_feed_id", sa.Integer(), nullable=False),
        sa.Column("fetched_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(["first_feed_id"], ["feed.id"], name="fk_article_first_feed_id"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("canonical_url", name="uq_article_canonical_url"),
    )
    op.create_index("ix_article_fetched_at", "article", ["fetched_at"])
    op.create_table(
        "article_source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"], ["article.id"], name="fk_article_source_article_id"
        ),
        sa.ForeignKeyConstraint(["feed_id"], ["feed.id"], name="fk_article_source_feed_id"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("feed_id", "key", name="uq_article_source_feed_key"),
    )
    op.create_index("ix_article_source_article_id", "article_source", ["article_id"])
    op.create_table(
        "match",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("hits", sa.JSON(), nullable=False),
        sa.Column("snippet", sa.Text(), nullable=False),
        sa.Column("matched_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["article.id"], name="fk_match_article_id"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rule", "article_id", name="uq_match_rule_article_id"),
    )
    op.create_index("ix_match_article_id", "match", ["article_id"])
    op.create_index("ix_match_matched_at", "match", ["matched_at"])
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("match_id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("target_key", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", _ts(), nullable=True),
        sa.Column("lease_owner", sa.Text(), nullable=True),
        sa.Column("lease_until", _ts(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("sent_at", _ts(), nullable=True),
        sa.ForeignKeyConstraint(["match_id"], ["match.id"], name="fk_alert_match_id"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "match_id", "recipient", "target_key", name="uq_alert_match_recipient_target"
        ),
    )
    op.create_index("ix_alert_due", "alert", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_alert_due", table_name="alert")
    op.drop_table("alert")
    op.drop_index("ix_match_matched_at", table_name="match")
    op.drop_index("ix_match_article_id", table_name="match")
    op.drop_table("match")
    op.drop_index("ix_article_source_article_id", table_name="article_source")
    op.drop_table("article_source")
    op.drop_index("ix_article_fetched_at", table_name="article")
    op.drop_table("article")
    op.drop_index("ix_feed_due", table_name="feed")
    op.drop_table("feed")
