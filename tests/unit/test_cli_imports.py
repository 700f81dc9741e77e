"""Start-up guard: registering the CLI's commands loads no heavy library.

A correctness check, not a timing one: `--help`, `--version` and every command's
argument parsing must not pay for SQLAlchemy, apprise, aiohttp, feedparser, Jinja2 or
Alembic; the commands import what they need when they run (bench/startup.py times it).
"""

from __future__ import annotations

import json
import subprocess
import sys

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
