"""Start-up guard: registering the CLI's commands loads no heavy library.

A correctness check, not a timing one: `--help`, `--version` and every command's
argument parsing must not pay for SQLAlchemy, apprise, aiohttp, feedparser, Jinja2 or
Alembic; the commands import what they need when they run (bench/startup.py times it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("sqlalchemy", "sqlmodel", "apprise", "aiohttp", "feedparser", "jinja2", "alembic")


def loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    return {name.split(".")[0] for name in json.loads(done.stdout.splitlines()[-1])}


def test_importing_the_cli_loads_no_heavy_library() -> None:
    assert loaded_after("import monitor.cli") & set(HEAVY) == set()


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["alerts", "--help"],
                                  ["matches", "--help"]])
def test_help_and_version_load_no_heavy_library(argv: list[str]) -> None:
    # -X importtime lists every module the real CLI process imported, on stderr.
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "monitor", *argv],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {line.split("|")[-1].strip().split(".")[0]
                for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "typer" in imported  # the probe works: it sees the CLI's own imports
    assert imported & set(HEAVY) == set()
    # Nor what only a command body needs: the event loop, the article records.
    assert "asyncio" not in imported
    assert not any(line.endswith("| monitor.article") for line in done.stderr.splitlines())


def imported_by(argv: list[str], cwd: Path, *, modules: bool = False,
                env: dict[str, str] | None = None) -> set[str]:
    """The top-level packages a real CLI process imported (from -X importtime), or
    with ``modules`` every module by its full name."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "monitor", *argv],
                          capture_output=True, text=True, check=False, cwd=cwd,
                          env={**{k: v for k, v in os.environ.items()
                                  if not k.startswith("MONITOR_")}, **(env or {})})
    assert done.returncode == 0, done.stderr[-2000:]
    names = {line.split("|")[-1].strip()
             for line in done.stderr.splitlines() if line.startswith("import time:")}
    return names if modules else {name.split(".")[0] for name in names}


def test_commands_load_only_what_they_use(tmp_path: Path) -> None:
    """On a migrated database with no feeds, no recipients and no templates: no
    Alembic (one query checks the schema), no aiohttp (nothing to fetch), no apprise,
    no Jinja2, no parse process pool."""
    config = tmp_path / "empty.yaml"
    config.write_text(f"database: sqlite:///{tmp_path / 'm.db'}\nfeeds: []\nrules: []\n")
    first = imported_by(["db", "upgrade", "-c", str(config)], tmp_path)
    assert "alembic" in first  # the probe sees a migration when there is one
    unused = {"alembic", "aiohttp", "apprise", "jinja2", "multiprocessing"}
    # Nothing to parse: no feed parser (feedparser, lxml); no opml: entry: no OPML reader.
    once = imported_by(["once", "-c", str(config)], tmp_path, modules=True)
    assert "monitor.service" in once  # the probe sees the command's own modules
    assert {m.split(".")[0] for m in once} & (unused | {"feedparser", "lxml"}) == set()
    assert once & {"monitor.feeds.parse", "monitor.opml"} == set()
    status = imported_by(["status", "-c", str(config)], tmp_path, modules=True)
    assert "sqlalchemy" in status
    assert {m.split(".")[0] for m in status} & (unused | {"feedparser", "lxml"}) == set()
    # It reads the database: the rule compiler is for `check` and the commands that match.
    assert status & {"monitor.rules.compile", "monitor.opml", "monitor.feeds.parse"} == set()
    # `check` validates the database URL without SQLAlchemy: it opens no database.
    assert "sqlalchemy" not in imported_by(["check", "-c", str(config)], tmp_path)


def test_a_once_whose_rules_compiled_before_loads_no_rule_compiler(tmp_path: Path) -> None:
    """A cron `once` that fetches nothing new matches nothing: once a start has compiled
    its rules (and recorded that they compile), later starts leave the compiler (its
    parser and tables) unloaded until an article arrives."""
    config = tmp_path / "rules.yaml"
    config.write_text(f"database: sqlite:///{tmp_path / 'm.db'}\nfeeds: []\n"
                      "rules:\n  - name: tiktok-ban\n    query: 'ban* NEAR/5 TikTok'\n")
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    first = imported_by(["db", "upgrade", "-c", str(config)], tmp_path, modules=True, env=cache)
    assert "monitor.rules.compile" in first  # the probe sees a compile when there is one
    again = imported_by(["once", "-c", str(config)], tmp_path, modules=True, env=cache)
    assert "monitor.service" in again
    assert again & {"monitor.rules.compile", "monitor.rules.query"} == set()
