"""Storage: SQLite/PostgreSQL through SQLAlchemy (``repo.Store``), migrations by Alembic.

This package module itself stays free of SQLAlchemy, so the CLI can name the
statuses without loading the database layer.
"""

from __future__ import annotations

#: Alert statuses. ``pending``/``failed`` are due for (re)delivery; ``sent``/``dead`` are final.
#: ``held`` waits for its rule's next digest; ``digested`` went out inside a digest row.
ALERT_STATUSES = ("pending", "failed", "sent", "dead", "held", "digested")
#: Alert kinds: one message per match, one digest message listing held matches, or
#: one message per spike episode (on the match that crossed the level).
ALERT_KINDS = ("match", "digest", "spike")
