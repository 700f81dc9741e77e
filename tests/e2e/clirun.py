"""Run the real `news-monitor` CLI in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def cli(*args: str, cwd: Path, db_url: str | None = None, env: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m monitor ARGS` with MONITOR_DATABASE_URL pointing at the test database."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    if db_url:
        full_env["MONITOR_DATABASE_URL"] = db_url
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], cwd=cwd, env=full_env, text=True,
        capture_output=True, timeout=timeout, check=False,
    )
