"""A feed keeps its URL as shown: as written in the config, ``${VAR}`` parts masked.

The feed's identity is its URL as fetched, with ``${FEED_TOKEN}`` expanded. Once that
token was replaced in the config, the old row (kept, not polled) was shown with the old
token in clear: nothing knew it was a secret any more. Each configured feed's row now
carries the form to show, written when the config is synced.

Revision ID: 0013_feed_shown_url
Revises: 0012_fts_update_trigger
Create Date: 2026-12-03
"""

from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_feed_shown_url"
down_revision: str | None = "0012_fts_update_trigger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("feed", sa.Column("shown_url", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feed") as batch:
        batch.drop_column("shown_url")
