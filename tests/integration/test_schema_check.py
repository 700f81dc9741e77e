"""Start-up: an up-to-date database is recognised by one query of `alembic_version`,
without loading Alembic; anything else still goes through Alembic."""

from __future__ import annotations

import subprocess
import sys

from alembic import command
from alembic.script import ScriptDirectory

from monitor.store import db
from monitor.store.repo import Store

OPEN_AND_REPORT = """
import sys
from monitor.store.repo import Store
Store.open(sys.argv[1]).close()
print("alembic loaded" if "alembic" in sys.modules else "alembic not loaded")
"""


def open_in_a_new_process(url: str) -> str:
    done = subprocess.run([sys.executable, "-c", OPEN_AND_REPORT, url], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_heads_read_from_the_files_are_alembics_heads() -> None:
    assert db.script_heads() == set(ScriptDirectory(str(db.MIGRATIONS_DIR)).get_heads())


def test_an_up_to_date_database_opens_without_alembic(db_url: str) -> None:
    # A new database is migrated (Alembic loaded); the next start only reads the stamp.
    assert open_in_a_new_process(db_url) == "alembic loaded"
    assert open_in_a_new_process(db_url) == "alembic not loaded"


def test_a_database_behind_head_is_still_migrated(db_url: str) -> None:
    db.upgrade(db_url)
    engine = db.make_engine(db_url)
    try:
        with engine.connect() as conn, conn.begin():
            command.downgrade(db.alembic_config(conn), "-1")
        assert not db.at_head(engine)
    finally:
        engine.dispose()
    assert open_in_a_new_process(db_url) == "alembic loaded"
    with Store.open(db_url, migrate=False) as store:
        assert db.at_head(store._engine)
