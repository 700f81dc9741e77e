"""Polling: body hash (skip unchanged bodies), observed item rate, disabled feeds.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # SQLite rebuilds the table (batch mode, see env.py); PostgreSQL alters in place.
    with op.batch_alter_table("feed") as batch:
        batch.add_column(sa.Column("body_hash", sa.Text(), nullable=True))
        batch.add_column(sa.Column("items_per_day", sa.Float(), nullable=True))
        batch.add_column(sa.Column("disabled_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feed") as batch:
        batch.drop_column("disabled_reason")
        batch.drop_column("items_per_day")
        batch.drop_column("body_hash")
