"""Stories keep their centroid and term counts packed (binary), not as JSON.

Encoding a story's centroid (up to ~160 term -> float) and term counts as JSON, for
every story a batch touched, was the largest single cost of writing stories. Rows are
now written to ``story.packed`` (little-endian doubles and int64 counts, then the
terms; floats exact); ``centroid`` and ``terms`` keep the rows written before (read
when ``packed`` is NULL) and hold {} in new ones. The downgrade writes the packed
rows back as JSON.

Revision ID: 0015_story_packed
Revises: 0014_article_backlog
Create Date: 2026-12-04
"""

from __future__ import annotations

import struct
from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_story_packed"
down_revision: str | None = "0014_article_backlog"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("story", sa.Column("packed", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    story = sa.table("story", sa.column("id", sa.Integer), sa.column("packed", sa.LargeBinary),
                     sa.column("centroid", sa.JSON), sa.column("terms", sa.JSON))
    conn = op.get_bind()
    rows = conn.execute(sa.select(story.c.id, story.c.packed)
                        .where(story.c.packed.is_not(None))).all()
    for story_id, packed in rows:
        centroid, terms = _unpack(bytes(packed))
        conn.execute(sa.update(story).where(story.c.id == story_id)
                     .values(centroid=centroid, terms=terms))
    with op.batch_alter_table("story") as batch:
        batch.drop_column("packed")


def _unpack(data: bytes) -> tuple[dict[str, float], dict[str, int]]:
    """The format of this revision (a copy: migrations do not follow the code)."""
    n_centroid, n_terms = struct.unpack_from("<II", data)
    values = struct.unpack_from(f"<{n_centroid}d{n_terms}q", data, 8)
    start = 8 + 8 * (n_centroid + n_terms)
    names = data[start:].decode().split("\0") if n_centroid + n_terms else []
    return (dict(zip(names[:n_centroid], values[:n_centroid])),
            dict(zip(names[n_centroid:], values[n_centroid:])))
