"""Matches know whether they were alerted (backlog matches are recorded silently).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("match") as batch:
        batch.add_column(sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=True))
    # A match with an outbox row was alerted when it was matched; the others never were.
    op.execute(
        "UPDATE match SET alerted_at = matched_at"
        " WHERE id IN (SELECT match_id FROM alert WHERE match_id IS NOT NULL)"
    )


def downgrade() -> None:
    with op.batch_alter_table("match") as batch:
        batch.drop_column("alerted_at")
