"""Delivery: digest windows, alert kinds, digest messages in the outbox.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts() -> sa.DateTime:
    # Migrations stay frozen: plain types here, never the app's TypeDecorators.
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "digest",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("target_key", sa.Text(), nullable=False),
        sa.Column("window_end", _ts(), nullable=False),
        sa.Column("match_count", sa.Integer(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "rule", "recipient", "target_key", "window_end", name="uq_digest_window"
        ),
    )
    # SQLite rebuilds the table (batch mode, see env.py); PostgreSQL alters in place.
    with op.batch_alter_table("alert") as batch:
        batch.add_column(sa.Column("kind", sa.Text(), nullable=False, server_default="match"))
        batch.add_column(sa.Column("digest_id", sa.Integer(), nullable=True))
        batch.alter_column("match_id", existing_type=sa.Integer(), nullable=True)
        batch.create_foreign_key("fk_alert_digest_id", "digest", ["digest_id"], ["id"])
        batch.create_index("ix_alert_digest_id", ["digest_id"])
    with op.batch_alter_table("alert") as batch:
        # The default only filled existing rows; the application always sets the kind.
        batch.alter_column("kind", existing_type=sa.Text(), server_default=None)


def downgrade() -> None:
    op.execute("DELETE FROM alert WHERE kind = 'digest'")
    with op.batch_alter_table("alert") as batch:
        batch.drop_index("ix_alert_digest_id")
        batch.drop_constraint("fk_alert_digest_id", type_="foreignkey")
        batch.alter_column("match_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("digest_id")
        batch.drop_column("kind")
    op.drop_table("digest")
