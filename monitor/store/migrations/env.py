"""Alembic environment for news-monitor, driven from ``monitor.store.db``.

There is no alembic.ini: ``db.upgrade_engine`` builds the config in code and hands
over an open connection in ``config.attributes["connection"]``, already inside a
transaction, so the migration and the version stamp commit together. With a
``search_path`` in the URL, ``alembic_version`` lands in that schema like the tables.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from monitor.store.db import MIGRATION_LOCK_ID, include_object
from monitor.store.tables import metadata


def run_migrations_online() -> None:
    connection: Connection | None = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through monitor.store.db.upgrade(url)")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
