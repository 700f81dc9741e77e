"""The real `news-monitor run` daemon as a subprocess, for end-to-end tests.

    proc = start_daemon(config, log, db_url=db_url, log_level="INFO")
    try:
        wait_until(lambda: len(hook.delivered) >= 3, "the first alerts")
    finally:
        code = stop_daemon(proc)
    assert code == 0, log.read_text()[-3000:]

The daemon runs in the config file's folder with this checkout's ``monitor`` package
first on its path and none of the caller's ``MONITOR_*`` variables. Its stdout and
stderr are appended to one log file (a file, not a pipe: a full pipe would stall it),
so a second start after a crash keeps the first one's lines. ``wait_until`` waits for
an event of another process; its guard is against a hang, never a timing assertion.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

#: How long a stopped daemon may take to exit before the test fails (a guard: the stop
#: budget itself is in docs/operations.md).
STOP_GUARD_S = 60


def daemon_env(db_url: str | None = None, extra: Mapping[str, str] | None = None,
               ) -> dict[str, str]:
    """This process's environment without MONITOR_* settings, with the database to use."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    if db_url:
        env["MONITOR_DATABASE_URL"] = db_url
    env.update(extra or {})
    return env


def start_daemon(config: Path, log: Path, *, db_url: str | None = None,
          log_level: str | None = None, env: Mapping[str, str] | None = None,
          wrapper: str | None = None) -> subprocess.Popen[bytes]:
    """Starts ``news-monitor [--log-level L] run -c CONFIG``, its output appended to log.

    ``wrapper`` is Python source run instead of ``-m monitor``: it gets the CLI's
    arguments in ``sys.argv[1:]`` (to patch the daemon before it starts, say)."""
    args = [*(["--log-level", log_level] if log_level else []), "run", "-c", str(config)]
    command = ([sys.executable, "-c", wrapper, *args] if wrapper
               else [sys.executable, "-m", "monitor", *args])
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=config.parent, env=daemon_env(db_url, env),
                                stdout=out, stderr=subprocess.STDOUT)


def stop_daemon(proc: subprocess.Popen[bytes], guard_s: float = STOP_GUARD_S) -> int:
    """SIGTERM, then its exit code (0 for a clean stop)."""
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=guard_s)


def kill_daemon(proc: subprocess.Popen[bytes], guard_s: float | None = None) -> int:
    """SIGKILL (a crash: nothing is finished or released), then its exit code; no guard
    by default, as a killed process cannot choose to linger."""
    proc.send_signal(signal.SIGKILL)
    return proc.wait(timeout=guard_s)


def wait_until(check: Callable[[], object], what: str, guard_s: float = 90,
               every_s: float = 0.05) -> None:
    """Returns once check() is true; fails naming ``what`` if it is not within guard_s."""
    deadline = time.monotonic() + guard_s  # a guard against hanging, not a timing assertion
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(every_s)
