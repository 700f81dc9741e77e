"""An article remembers that it came from a feed's first-poll backlog.

Spike rules count the stories whose first match arrived in their window. The
backlog of a new feed (old items, stored and matched without alerts) was counted
as arriving at that poll, so the first new story after it fired a spike listing
the whole backlog. Existing articles are taken as news (false), as before.

Revision ID: 0014_article_backlog
Revises: 0013_feed_shown_url
Create Date: 2026-12-03
"""

from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_article_backlog"
down_revision: str | None = "0013_feed_shown_url"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("article", sa.Column("backlog", sa.Boolean(), nullable=False,
                                       server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("article") as batch:
        batch.drop_column("backlog")
