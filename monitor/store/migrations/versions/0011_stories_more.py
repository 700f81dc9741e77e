"""Stories: each story's term document counts (the assignment's IDF); spike episodes.

Revision ID: 0011_stories_more
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_stories_more"
down_revision: str | None = "0007"  # the file 0007_search.py
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Stories opened before this revision count no terms: they weigh nothing in the
    # IDF and close within one window.
    with op.batch_alter_table("story") as batch:
        batch.add_column(sa.Column("terms", sa.JSON(), nullable=False, server_default="{}"))
    op.create_table(
        "spike_state",
        sa.Column("rule", sa.Text(), primary_key=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("spike_state")
    with op.batch_alter_table("story") as batch:
        batch.drop_column("terms")
