"""Stories: each story's term document counts (the assignment's IDF).

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


def downgrade() -> None:
    with op.batch_alter_table("story") as batch:
        batch.drop_column("terms")
